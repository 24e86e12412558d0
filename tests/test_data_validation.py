"""Issue 10, items 8 and 9: one validator for `data`, `evaluate` and `train`; hostile IDX headers and empty
splits are data errors (exit 3), never tracebacks, and `data` never calls complete what the others refuse."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from fashionnet.errors import ExitCode
from tests.conftest import make_fake_fashion, write_idx


def _error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture(scope="module")
def official_sized(tmp_path_factory):
    """Balanced labels of the official sizes (60,000 / 10,000), uncompressed so it is quick to write."""
    folder = tmp_path_factory.mktemp("official")
    for split, n in (("train", 60_000), ("t10k", 10_000)):
        labels = np.arange(n) % 10
        write_idx(folder / f"{split}-labels-idx1-ubyte", labels, 2049)
        write_idx(folder / f"{split}-images-idx3-ubyte", np.zeros((n, 28, 28), np.uint8), 2051)
    return folder


def _variant(official_sized, tmp_path, images=None, labels=None):
    folder = tmp_path / "variant"
    shutil.copytree(official_sized, folder)
    if images is not None:
        write_idx(folder / "t10k-images-idx3-ubyte", images, 2051)
    if labels is not None:
        write_idx(folder / "t10k-labels-idx1-ubyte", labels, 2049)
    return folder


def test_official_sizes_are_complete(invoke, official_sized):
    result = invoke("data", "--data-dir", str(official_sized))
    assert result.exit_code == 0 and "Complete" in result.stdout


@pytest.mark.parametrize(
    "images, labels, words",
    [
        (np.zeros((10_000, 14, 56), np.uint8), None, "images are 14x56, expected 28x28"),
        (np.zeros((5_000, 28, 28), np.uint8), None, "10,000 labels for 5,000 images"),
        (None, np.where(np.arange(10_000) == 0, 200, np.arange(10_000) % 10), "label 200 is out of range 0-9"),
    ],
)
def test_data_agrees_with_evaluate(invoke, official_sized, tmp_path, images, labels, words):
    folder = _variant(official_sized, tmp_path, images, labels)
    report = invoke("data", "--data-dir", str(folder))
    assert report.exit_code == ExitCode.DATA and "Complete" not in report.stdout
    assert words in report.stdout and words in _error_line(report.stderr)
    assert "not balanced" not in report.stdout
    evaluated = invoke("evaluate", "--data-dir", str(folder), "--weights", "random")
    assert evaluated.exit_code == ExitCode.DATA and words in _error_line(evaluated.stderr)


@pytest.mark.parametrize("dims", [(2**32 - 1, 2**32 - 1, 2**32 - 1), (2**31, 2**31, 4), (0, 28, 28)])
@pytest.mark.parametrize("command", ["data", "evaluate", "train"])
def test_hostile_idx_headers_are_one_line(invoke, tmp_path, dims, command, monkeypatch):
    folder = make_fake_fashion(tmp_path / "d", 50, 20)
    header = (2051).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    for split in ("train", "t10k"):
        (folder / f"{split}-images-idx3-ubyte.gz").unlink()
        (folder / f"{split}-images-idx3-ubyte").write_bytes(header)  # 2**31 * 2**31 * 4 wraps to 0 in int64
    monkeypatch.chdir(tmp_path)
    args = {"data": ["data"], "evaluate": ["evaluate", "--weights", "random"], "train": ["train", "--epochs", "1"]}
    result = invoke(*args[command], "--data-dir", str(folder))
    assert result.exit_code == ExitCode.DATA
    assert "images-idx3-ubyte" in _error_line(result.stderr)


def test_overflowing_header_is_one_line(cli, tmp_path):
    folder = make_fake_fashion(tmp_path / "d", 50, 20)
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    (folder / "t10k-images-idx3-ubyte").write_bytes((2051).to_bytes(4, "big") + b"\xff" * 12 + b"\0" * 10)
    proc = cli("evaluate", "--data-dir", str(folder), "--weights", "random")
    assert proc.returncode == ExitCode.DATA and "t10k-images" in _error_line(proc.stderr.decode())


def test_empty_splits_are_data_errors(invoke, tmp_path, monkeypatch):
    folder = make_fake_fashion(tmp_path / "d", 50, 20)
    for split in ("train", "t10k"):
        write_idx(folder / f"{split}-images-idx3-ubyte.gz", np.zeros((0, 28, 28)), 2051)
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz", np.zeros((0,)), 2049)
    evaluated = invoke("evaluate", "--data-dir", str(folder), "--weights", "random")
    assert evaluated.exit_code == ExitCode.DATA and "holds no images" in _error_line(evaluated.stderr)
    assert "nan" not in evaluated.stdout
    monkeypatch.chdir(tmp_path)
    trained = invoke("train", "--data-dir", str(folder), "--epochs", "1")
    assert trained.exit_code == ExitCode.DATA and "holds no images" in _error_line(trained.stderr)
