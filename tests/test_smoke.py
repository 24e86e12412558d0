"""One installed-command smoke per command: the console script in a real process, as a user runs it.

Everything else runs in-process (see tests/conftest.py); add an assertion here rather than a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fashionnet import CLASSES, export
from fashionnet.weights import read_checkpoint
from tests.conftest import REAL_DATA, SAMPLES, installed_command, installed_env

PHOTOS = SAMPLES / "photos"


def _ok(proc) -> str:
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    return proc.stdout.decode()


def test_version_help_and_completion_without_torch():
    """`python -m fashionnet`, --help and Tab: all answered without importing torch (cheap processes)."""
    proc = subprocess.run([sys.executable, "-m", "fashionnet", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("fashionnet ")
    proc = subprocess.run(
        [*installed_command()],
        capture_output=True,
        env=installed_env(
            _FASHIONNET_COMPLETE="complete_bash", COMP_WORDS="fashionnet predict --device cu", COMP_CWORD="3"
        ),
    )
    assert proc.returncode == 0 and proc.stdout.decode().split() == ["cuda", "cuda:0"]


def test_summary(installed):
    out = _ok(installed("summary", "--device", "cpu", "--weights", "random"))
    assert "669,706" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_params(installed):
    out = _ok(installed("params", "--weights", "random", "--name", "*.4.bias"))
    assert "linear_relu_stack.4.bias" in out and "linear_relu_stack.0.weight" not in out


def test_walkthrough(installed):
    text = _ok(installed("walkthrough", "--seed", "3", "--device", "cpu"))
    assert "Step 1/13" in text and "Step 13/13" in text and "torch.Size([3, 784])" in text
    # Only lines the tutorial's own prints make wider (a long prefix before a tensor) pass 80 columns.
    wide = [line for line in text.splitlines() if len(line) > 80]
    assert wide and all(line.startswith(("Layer: ", "Before ReLU: ", "After ReLU: ")) for line in wide)


def test_data(installed, fake_data):
    if REAL_DATA:
        proc = installed("data", "--json")
        report = json.loads(_ok(proc))
        assert report["complete"]
        assert report["counts"]["train"]["per_class"] == [6000] * 10
        assert report["counts"]["test"]["per_class"] == [1000] * 10
    else:
        proc = installed("data", "--data-dir", str(fake_data), "--json")
        assert proc.returncode == 3 and not json.loads(proc.stdout)["complete"]


def test_train(installed, tmp_path, fake_data):
    out = tmp_path / "real.safetensors"
    where = [] if REAL_DATA else ["--data-dir", str(fake_data)]
    summary = json.loads(
        _ok(
            installed(
                "train", *where, "--limit", "3000", "--epochs", "1", "--out", str(out), "--json", "--device", "cpu"
            )
        )
    )
    assert summary["test_accuracy"] > (0.45 if REAL_DATA else 0)  # 3,000 real images, one epoch: far above chance
    assert read_checkpoint(out).metadata["train_samples"] == (3000 if REAL_DATA else 600)


def test_evaluate(installed, fake_data):
    if not REAL_DATA:
        proc = installed("evaluate", "--data-dir", str(fake_data), "--json", "--weights", "random")
        assert json.loads(_ok(proc))["samples"] == 10_000
        return
    report = json.loads(_ok(installed("evaluate", "--json", "--device", "cpu")))
    assert report["samples"] == 10_000
    assert report["accuracy"] >= 0.905, report["accuracy"]
    assert report["weights"]["source"] == "shipped"
    assert report["accuracy"] == pytest.approx(report["weights"]["test_accuracy"])


def test_predict(installed, tmp_path):
    """`make run`'s demo as an installed user runs it (`--samples`, from another folder): the shipped
    samples and photos with the shipped weights."""
    proc = installed("predict", "--samples", "--json", cwd=tmp_path)
    rows = [json.loads(x) for x in _ok(proc).splitlines()]
    assert [r["path"] for r in rows] == [str(p) for p in sorted(SAMPLES.glob("*.png")) + sorted(PHOTOS.glob("*.jpg"))]
    samples, photos = rows[:10], rows[10:]
    truth = {s["file"]: s["label"] for s in json.loads((SAMPLES / "samples.json").read_text())}
    assert sum(truth[Path(r["path"]).name] == r["label"] for r in samples) >= 9, samples
    assert len(photos) == len(list(PHOTOS.glob("*.jpg"))) == 6
    assert all(r["label"] in CLASSES and isinstance(r["sure"], bool) for r in photos)
    assert all(r["found"] for r in photos), "a garment is found in every shipped photo"


def test_explain(installed):
    """A photo (decoded in a worker while torch is imported) at 60 columns, where the view stacks."""
    out = _ok(installed("explain", str(PHOTOS / "t-shirt.jpg"), "--units", "1", env={"COLUMNS": "60"}))
    lines = out.splitlines()
    assert lines[0].startswith(str(PHOTOS / "t-shirt.jpg")) and "T-shirt/top" in out
    assert max(len(line) for line in lines) <= 60 and "of 512 units fire" in out and "calibrated" in out


def test_export(installed, invoke, tmp_path):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "m.onnx"
    assert json.loads(_ok(installed("export", "--out", str(out), "--json")))["max_abs_diff"] <= export.TOLERANCE
    plain = invoke("predict", str(SAMPLES), "--json")
    onnx = invoke("predict", str(SAMPLES), "--json", "--weights", str(out))
    from tests.test_export import assert_same_predictions

    assert_same_predictions(onnx.stdout, plain.stdout)
