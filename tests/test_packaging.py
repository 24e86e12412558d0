"""The package's own description (pyproject.toml, MANIFEST.in): what an archive built from this tree
would carry, checked without building one (building takes seconds; docs/development.md says how)."""

import tomllib
from glob import glob
from pathlib import Path

import fashionnet

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_licence_version_and_metadata_are_written_once():
    project = PROJECT["project"]
    assert project["license"] == "MIT" and "version" in project["dynamic"] and "version" not in project
    assert PROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "fashionnet.__version__"}
    assert fashionnet.__version__.count(".") == 2
    for name in project["license-files"]:
        assert (ROOT / name).is_file(), name
    assert "Zalando SE" in (ROOT / "fashionnet" / "samples" / "LICENSE").read_text()
    assert not any(c.startswith("License ::") for c in project["classifiers"]), "SPDX licence, no classifier"
    assert all(url.startswith("https://") for url in project["urls"].values())


def test_every_package_data_pattern_ships_a_file():
    """A pattern that matches nothing means a file moved and the wheel silently lost it."""
    for pattern in PROJECT["tool"]["setuptools"]["package-data"]["fashionnet"]:
        assert glob(str(ROOT / "fashionnet" / pattern)), pattern
    shipped = {
        Path(p).relative_to(ROOT / "fashionnet").as_posix()
        for pattern in PROJECT["tool"]["setuptools"]["package-data"]["fashionnet"]
        for p in glob(str(ROOT / "fashionnet" / pattern))
    }
    assert {"weights/fashionnet.safetensors", "samples/LICENSE", "samples/README.md"} <= shipped
    training = {"drawings/photo-drawings.npz", "drawings/teacher-targets.npz", "drawings/photo-teacher.safetensors"}
    assert training <= shipped, "an installed `fashionnet train` needs the drawings and both teachers"
    assert len([p for p in shipped if p.startswith("samples/") and p.endswith(".png")]) == 10


def test_the_source_archive_carries_what_its_tests_need():
    manifest = (ROOT / "MANIFEST.in").read_text().split()
    for folder in ("tests", "docs", "benchmarks", "tools"):
        assert folder in manifest, folder
    for name in ("LICENSE", "Makefile", "constraints.txt"):
        assert name in manifest and (ROOT / name).is_file(), name
    assert PROJECT["dependency-groups"]["dev"] and "dev" not in PROJECT["project"]["optional-dependencies"]
