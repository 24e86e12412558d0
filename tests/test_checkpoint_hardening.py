"""Issue 10, items 6, 7, 8 and 12: checkpoint metadata and optimizer tensors are validated like any input,
NaN never reaches the output, bad numbers are usage errors, and Ctrl-C reports what is really saved."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from fashionnet import data
from fashionnet.errors import ExitCode, TrainingInterrupted
from fashionnet.model import build_model
from fashionnet.recipe import Recipe
from fashionnet.train import fit
from tests.conftest import train_until_first_checkpoint

CPU = torch.device("cpu")
SAMPLE = os.path.join(os.path.dirname(__file__), "..", "fashionnet", "samples", "7-sneaker.png")


def _error_line(stderr: str) -> str:
    lines = [
        line for line in stderr.splitlines() if line and not line.startswith(("Using ", "Weights:", "Training on"))
    ]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def _rewrite(src, dst, metadata=None, tensors=None):
    """Copy a checkpoint, changing metadata fields (given as Python values) and tensors."""
    with safe_open(str(src), framework="pt") as f:
        meta = dict(f.metadata())
    meta.update({k: json.dumps(v) for k, v in (metadata or {}).items()})
    stored = load_file(str(src))
    stored.update(tensors or {})
    save_file(stored, str(dst), metadata=meta)
    return dst


@pytest.fixture
def trained_run(fake_data, trained):
    """The session's one-epoch training checkpoint (read-only) and its data."""
    return fake_data, trained


@pytest.mark.parametrize(
    "field, value",
    [
        ("classes", 5),
        ("classes", "T-shirt"),
        ("test_accuracy", [0.5]),
        ("test_accuracy", {"a": 1}),
        ("test_accuracy", "high"),
        ("test_accuracy", True),
        ("test_accuracy", 1e999),
        ("test_accuracy", 1.5),
        ("seed", 2**70),
        ("history", 3),
    ],
)
def test_bad_metadata_is_refused_by_every_command(invoke, trained_run, tmp_path, field, value):
    folder, good = trained_run
    bad = _rewrite(good, tmp_path / "bad.safetensors", {field: value})
    for args in (["summary"], ["predict", SAMPLE], ["evaluate", "--data-dir", str(folder)]):
        result = invoke(*args, "--weights", str(bad))
        assert result.exit_code == ExitCode.WEIGHTS, (args, result.stderr)
        line = _error_line(result.stderr)
        assert field in line and str(bad) in line


def test_unknown_metadata_fields_are_ignored(invoke, trained_run, tmp_path):
    _, good = trained_run
    newer = _rewrite(good, tmp_path / "newer.safetensors", {"temperature": 1.7, "calibration": {"bins": [1, 2]}})
    assert invoke("summary", "--weights", str(newer)).exit_code == 0


@pytest.mark.parametrize(
    "change, field",
    [
        ({"recipe": {"batch_size": 0}}, "recipe.batch_size"),
        ({"epochs": "1"}, "epochs"),
        ({"recipe": {"lr": -1}}, "recipe.lr"),
        ({"recipe": {"warmup_fraction": 2.0}}, "recipe.warmup_fraction"),
        ({"recipe": {"lr": float("inf")}}, "recipe"),
        ({"steps": 10**7}, "steps"),
        ({"seed": 2**70}, "seed"),
        (
            {"optimizer_param_groups": [{"params": [0, 1, 2], "lr": "fast"}, {"params": [3, 4, 5]}]},
            "optimizer_param_groups",
        ),
        ({"history": [{"epoch": 1, "train_loss": "low"}]}, "history"),
    ],
)
def test_tampered_resume_checkpoint_is_refused(invoke, trained_run, tmp_path, change, field):
    folder, good = trained_run
    with safe_open(str(good), framework="pt") as f:
        meta = {k: json.loads(v) for k, v in f.metadata().items() if k != "format"}
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(meta.get(key), dict):
            value = {**meta[key], **value}
        meta[key] = value
    bad = _rewrite(good, tmp_path / "bad.safetensors", {k: meta[k] for k in change})
    result = invoke("train", "--data-dir", str(folder), "--resume", str(bad), "--epochs", "3", "--quiet")
    assert result.exit_code == ExitCode.WEIGHTS, result.stderr
    assert field in _error_line(result.stderr)


@pytest.mark.parametrize(
    "name, tensor",
    [
        ("training.optim.0.exp_avg", torch.zeros(3, 3)),
        ("training.optim.1.exp_avg_sq", torch.full((512, 512), float("nan"))),
        ("training.optim.9.exp_avg", torch.zeros(2)),
        ("training.rng", torch.zeros(3, dtype=torch.uint8)),
    ],
)
def test_tampered_optimizer_tensors_are_refused(invoke, trained_run, tmp_path, name, tensor):
    folder, good = trained_run
    bad = _rewrite(good, tmp_path / "bad.safetensors", tensors={name: tensor})
    result = invoke("train", "--data-dir", str(folder), "--resume", str(bad), "--epochs", "3", "--quiet")
    assert result.exit_code == ExitCode.WEIGHTS, result.stderr
    assert name.split(".", 1)[1] in _error_line(result.stderr)


def test_non_finite_weights_are_refused(invoke, tmp_path):
    state = build_model().state_dict()
    state["linear_relu_stack.2.weight"][0, 0] = float("nan")
    save_file(state, str(tmp_path / "nan.safetensors"))
    for args in (["predict", SAMPLE, "--json"], ["params", "--json"], ["summary"]):
        result = invoke(*args, "--weights", str(tmp_path / "nan.safetensors"))
        assert result.exit_code == ExitCode.WEIGHTS and result.stdout == ""
        assert "linear_relu_stack.2.weight" in _error_line(result.stderr) and "NaN" in result.stderr


def test_json_output_stays_json_when_finite_weights_overflow(invoke, tmp_path):
    state = {k: torch.full_like(v, 3e38) for k, v in build_model().state_dict().items()}
    save_file(state, str(tmp_path / "huge.safetensors"))

    def strict(text):
        return json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))

    params = invoke("params", "--json", "--weights", str(tmp_path / "huge.safetensors"))
    assert params.exit_code == 0 and strict(params.stdout)["parameters"]
    predicted = invoke("predict", SAMPLE, "--json", "--weights", str(tmp_path / "huge.safetensors"))
    assert predicted.exit_code == ExitCode.WEIGHTS  # the model-output door (finite_outputs), as in every command
    assert "not a number" in predicted.stderr and predicted.stdout == ""


@pytest.mark.parametrize("lr", ["inf", "nan", "-inf", "1e309"])
def test_non_finite_learning_rate_is_a_usage_error(invoke, fake_data, tmp_path, lr):
    result = invoke("train", "--data-dir", str(fake_data), "--lr", lr, "--out", str(tmp_path / "m.safetensors"))
    assert result.exit_code == ExitCode.USAGE and "--lr" in _error_line(result.stderr)
    assert not (tmp_path / "m.safetensors").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--epochs", "1"],
        ["walkthrough"],
        ["summary", "--weights", "random"],
        ["predict", SAMPLE],
    ],
)
@pytest.mark.parametrize("seed", [str(2**70), str(2**63), "-1"])
def test_seed_out_of_range_is_a_usage_error(invoke, args, seed, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(*args, "--seed", seed)
    assert result.exit_code == ExitCode.USAGE
    assert "--seed" in _error_line(result.stderr)


def test_largest_seed_works(invoke):
    assert invoke("summary", "--weights", "random", "--seed", str(2**63 - 1)).exit_code == 0


def test_ctrl_c_as_the_checkpoint_lands_reports_it(splits_for_signal, tmp_path, monkeypatch):
    """A real SIGINT delivered the instant the rename is done (the window that said 'nothing was saved')."""
    import fashionnet.files as files

    train, test = splits_for_signal
    real_replace = files.os.replace

    def replace_then_interrupt(src, dst):
        real_replace(src, dst)
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(files.os, "replace", replace_then_interrupt)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # a worker may have it ignored
    out = tmp_path / "run.safetensors"
    try:
        with pytest.raises(TrainingInterrupted) as info:
            fit(Recipe(epochs=3, batch_size=100), train, test, CPU, out=out)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert f"epoch 1 is saved in {out}; continue with --resume {out}" in str(info.value)


@pytest.fixture
def splits_for_signal(fake_data):
    return data.load_split("train", fake_data), data.load_split("test", fake_data)


def test_second_ctrl_c_during_shutdown_gives_no_traceback(fake_data, tmp_path):
    # Two timings of the second Ctrl-C (a single one is tests/test_train.py's Ctrl-C test).
    for attempt, delay in enumerate((0.0, 0.004)):
        out = tmp_path / f"run{attempt}.safetensors"
        proc = train_until_first_checkpoint(fake_data, out)
        proc.send_signal(signal.SIGINT)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        err = err.decode()
        assert proc.returncode == ExitCode.INTERRUPTED, err
        assert "Traceback" not in err and "KeyboardInterrupt" not in err
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and f"--resume {out}" in errors[0], err
