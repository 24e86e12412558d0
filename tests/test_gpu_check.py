"""`make gpu-check` (tools/gpu_check.py): the no-GPU path, and the comparison that decides its exit status."""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("gpu_check", None)


def test_without_a_gpu_it_says_so_and_exits_0(gpu_check, monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # hide any GPU, so this path runs everywhere
    assert gpu_check.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("No GPU here: cuda is not available on this machine")


def test_make_target_exists():
    makefile = (SCRIPT.parents[1] / "Makefile").read_text()
    assert "gpu-check:" in makefile and "tools/gpu_check.py" in makefile


def results(train=0.8700, evaluate=0.9057, labels=("Trouser",) * 10, diff=2e-6, passed=True) -> dict:
    export = {"passed": passed, "max_abs_diff": diff, "tolerance": 1e-4}
    return {
        "train": {"test_accuracy": train},
        "evaluate": {"accuracy": evaluate},
        "predict": [{"label": label} for label in labels],
        "export onnx": export,
        "export torchscript": export,
    }


def test_agreeing_runs_pass(gpu_check):
    rows = gpu_check.compare(results(), results(train=0.8740, evaluate=0.90574, diff=3e-6))
    assert [r.ok for r in rows] == [True] * 5
    table = gpu_check.table(rows, "cuda")
    assert "87.00%" in table and "87.40%" in table and "MISMATCH" not in table


@pytest.mark.parametrize(
    ("gpu", "failing"),
    [
        (results(train=0.8760), "train 2 epochs: test accuracy"),  # 0.6 points apart
        (results(evaluate=0.9051), "evaluate shipped weights"),  # 0.06 points
        (results(labels=("Trouser",) * 9 + ("Bag",)), "predict samples: same top-1"),
        (results(labels=("Trouser",) * 9), "predict samples: same top-1"),  # one image missing
        (
            {**results(), "export onnx": {"passed": True, "max_abs_diff": 2e-4, "tolerance": 1e-4}},
            "export onnx: max |logit diff|",
        ),
        ({**results(), "evaluate": {"error": "fashionnet evaluate exited 2: CUDA error"}}, "evaluate shipped weights"),
        ({k: v for k, v in results().items() if k != "export torchscript"}, "export torchscript: max |logit diff|"),
    ],
)
def test_each_mismatch_fails_its_row(gpu_check, gpu, failing):
    rows = gpu_check.compare(results(), gpu)
    assert [r.check for r in rows if not r.ok] == [failing]
    assert "MISMATCH" in gpu_check.table(rows, "cuda")
