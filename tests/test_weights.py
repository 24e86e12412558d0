import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from fashionnet import CLASSES
from fashionnet.errors import ExitCode, WeightsError
from fashionnet.model import build_model
from fashionnet.weights import SHIPPED_WEIGHTS, Checkpoint, load_model, read_checkpoint, save_checkpoint

CPU = torch.device("cpu")


def test_round_trip_keeps_tensors_and_metadata(tmp_path):
    model = build_model(seed=4)
    path = tmp_path / "m.safetensors"
    save_checkpoint(
        path,
        Checkpoint(
            model.state_dict(), {"rng": torch.arange(3)}, {"epochs": 2, "classes": list(CLASSES), "test_accuracy": 0.5}
        ),
    )
    loaded = read_checkpoint(path)
    assert set(loaded.model) == set(model.state_dict())
    assert torch.equal(loaded.model["linear_relu_stack.0.weight"], model.linear_relu_stack[0].weight)
    assert torch.equal(loaded.training["rng"], torch.arange(3))
    assert loaded.metadata["epochs"] == 2 and loaded.metadata["test_accuracy"] == 0.5
    reloaded, info = load_model(path, seed=0, device=CPU)
    assert torch.equal(reloaded.linear_relu_stack[4].bias, model.linear_relu_stack[4].bias)
    assert info.test_accuracy == 0.5 and str(path) in info.describe()
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"], "no temporary file left behind"


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    import fashionnet.weights as w

    def boom(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(w, "save_file", boom)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "m.safetensors", Checkpoint(build_model().state_dict()))
    assert list(tmp_path.iterdir()) == []


def _expect(path, fragment):
    with pytest.raises(WeightsError) as info:
        load_model(path, seed=0, device=CPU)
    assert fragment in str(info.value) and str(path) in str(info.value)
    assert info.value.exit_code == ExitCode.WEIGHTS
    assert "\n" not in str(info.value)


def test_bad_checkpoints_are_one_line_errors(tmp_path):
    good = build_model().state_dict()
    _expect(tmp_path / "missing.safetensors", "no such checkpoint file")
    (tmp_path / "text.safetensors").write_text("hello, I am not a checkpoint")
    _expect(tmp_path / "text.safetensors", "not a readable safetensors checkpoint")
    save_file(good, tmp_path / "full.safetensors")
    data = (tmp_path / "full.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    _expect(tmp_path / "cut.safetensors", "not a readable safetensors checkpoint")
    save_file({k: v for k, v in good.items() if k != "linear_relu_stack.4.bias"}, tmp_path / "less.safetensors")
    _expect(tmp_path / "less.safetensors", "missing tensor(s) linear_relu_stack.4.bias")
    save_file({**good, "extra.weight": torch.zeros(2)}, tmp_path / "more.safetensors")
    _expect(tmp_path / "more.safetensors", "unexpected tensor(s) extra.weight")
    save_file({**good, "linear_relu_stack.0.weight": torch.zeros(512, 100)}, tmp_path / "shape.safetensors")
    _expect(tmp_path / "shape.safetensors", "has shape [512, 100], the model needs [512, 784]")
    _expect(tmp_path, "is a directory")


def test_pickle_checkpoints_are_never_unpickled(tmp_path):
    class Evil:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pickle was loaded')",))

    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps(Evil()))
    _expect(path, "not a safetensors file: a Python pickle (an old torch.save checkpoint); convert it with")
    torch.save(build_model().state_dict(), tmp_path / "torch.pt")  # zip, as torch.save writes today
    _expect(tmp_path / "torch.pt", "not a safetensors file: a zip archive, as torch.save and TorchScript write")
    _expect(tmp_path / "torch.pt", "save_file(torch.load('IN.pt', weights_only=True), 'OUT.safetensors')")


def test_other_classes_are_refused(tmp_path):
    path = tmp_path / "digits.safetensors"
    save_checkpoint(path, Checkpoint(build_model().state_dict(), metadata={"classes": [str(i) for i in range(10)]}))
    _expect(path, "trained for other classes")


def test_random_weights_are_labelled(tmp_path):
    _model, info = load_model("random", seed=3, device=CPU)
    assert info.source == "random" and "random init, seed 3" in info.describe()


def test_bad_weights_through_the_cli(invoke, cli, tmp_path):
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 100)
    result = invoke("summary", "--weights", str(tmp_path / "bad.safetensors"))
    assert result.exit_code == 4 and "bad.safetensors" in result.stderr
    proc = cli("params", "--weights", str(tmp_path / "nope.safetensors"))
    assert proc.returncode == 4
    assert proc.stderr.decode().strip().endswith("nope.safetensors: no such checkpoint file")


def test_shipped_weights_are_small_and_described():
    checkpoint = read_checkpoint(SHIPPED_WEIGHTS)
    assert checkpoint.training == {}, "shipped weights carry no optimizer state"
    assert SHIPPED_WEIGHTS.stat().st_size < 2_800_000
    for key in ("classes", "normalization", "epochs", "test_accuracy", "seed", "torch_version", "recipe"):
        assert key in checkpoint.metadata
    assert checkpoint.metadata["classes"] == list(CLASSES)
    assert checkpoint.metadata["test_accuracy"] >= 0.905
