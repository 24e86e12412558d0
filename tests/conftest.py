"""Shared fixtures: the CLI runner, the installed command, and isolation from the user's files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fashionnet import data

# CI sets FASHIONNET_REQUIRE_DATA=1 after installing the data: there a missing data set fails, never skips.
REAL_DATA = os.environ.get("FASHIONNET_REQUIRE_DATA") == "1" or data.locate().folder is not None
needs_real_data = pytest.mark.skipif(not REAL_DATA, reason="FashionMNIST is not installed (make data)")


@pytest.fixture(autouse=True)
def _isolate(monkeypatch, tmp_path_factory):
    # Never read a developer's cache or device choice: every test starts from the same environment.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("FASHIONNET_DEVICE", raising=False)
    monkeypatch.delenv("FASHIONNET_DATA", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "80")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def invoke(runner):
    """Run the Typer app in-process: result has exit_code, stdout and stderr."""
    from fashionnet.cli import app

    def run(*args: str, input: str | bytes | None = None):
        return runner.invoke(app, list(args), input=input, catch_exceptions=False)

    return run


def installed_command() -> list[str]:
    exe = shutil.which("fashionnet", path=str(Path(sys.executable).parent)) or shutil.which("fashionnet")
    return [exe] if exe else [sys.executable, "-m", "fashionnet"]


def train_until_first_checkpoint(folder: Path, out: Path) -> subprocess.Popen:
    """The installed command on a 400-epoch run, returned once its first checkpoint exists (or it ended):
    the moment to send it Ctrl-C."""
    import time

    proc = subprocess.Popen([*installed_command(), "train", "--data-dir", str(folder), "--epochs", "400",
                             "--batch-size", "64", "--out", str(out), "--device", "cpu"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "NO_COLOR": "1"})
    deadline = time.monotonic() + 120
    while not out.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    return proc


@pytest.fixture
def cli():
    """Run the installed `fashionnet` console script in a subprocess, as a user would."""

    def run(*args: str, input: bytes | None = None, env: dict | None = None, timeout: float = 300):
        full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "80", **(env or {})}
        return subprocess.run(
            [*installed_command(), *args], input=input, capture_output=True, env=full_env, timeout=timeout
        )

    return run


def write_idx(path: Path, array, magic: int) -> Path:
    """Write an IDX file (gzip when the name ends in .gz), the format FashionMNIST ships in."""
    import gzip

    import numpy as np

    array = np.asarray(array, dtype=np.uint8)
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    payload = header + array.tobytes()
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)
    return path


def make_fake_fashion(folder: Path, train: int = 600, test: int = 200, seed: int = 0) -> Path:
    """A tiny FashionMNIST look-alike: each class is a bright left/right-symmetric pattern at its own
    height, plus noise, so a model learns it in seconds even with flips and shifts."""
    import numpy as np

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", train), ("t10k", test)):
        labels = np.arange(n) % 10
        rng.shuffle(labels)
        images = rng.integers(0, 60, size=(n, 28, 28))
        for i, label in enumerate(labels):
            band, edges = divmod(int(label), 2)
            rows = slice(2 + band * 5, 6 + band * 5)
            if edges:
                images[i, rows, 1:7] = images[i, rows, 21:27] = 230
            else:
                images[i, rows, 10:18] = 230
        write_idx(folder / f"{split}-images-idx3-ubyte.gz", images, 2051)
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz", labels, 2049)
    return folder


@pytest.fixture
def fake_data(tmp_path) -> Path:
    return make_fake_fashion(tmp_path / "fake-fashion")


@pytest.fixture
def no_system_data(monkeypatch, tmp_path):
    """Pretend the Debian package is not installed."""
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian-data")
