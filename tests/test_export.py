"""`fashionnet export`: every format written, reloaded by its own runtime, equal to PyTorch, metadata inside;
and `predict --weights model.onnx` giving what `predict` gives."""

import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from fashionnet import CLASSES, export
from fashionnet.weights import SHIPPED_WEIGHTS, load_model, read_checkpoint
from tests.conftest import needs_real_data

SAMPLES = Path(__file__).resolve().parents[1] / "fashionnet" / "samples"
EXPECTED_KEYS = {"classes", "input", "input_normalisation", "test_accuracy", "fashionnet_version", "dtype"}


def pytorch_logits(x: np.ndarray) -> np.ndarray:
    model, _ = load_model(None, seed=0, device=torch.device("cpu"))
    with torch.inference_mode():
        return model(torch.from_numpy(x)).numpy()


def check_inputs() -> np.ndarray:
    _, samples = export.sample_inputs()
    return np.concatenate([samples, export.random_inputs(32, seed=7)])


def reload_onnx(path: Path):
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    onnx.checker.check_model(onnx.load(str(path)))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta = {k: json.loads(v) for k, v in session.get_modelmeta().custom_metadata_map.items()}
    return (lambda x: session.run(None, {"pixels": x})[0]), meta


def reload_torchscript(path: Path):
    extra = {"fashionnet.json": ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation notice
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    return (lambda x: module(torch.from_numpy(x)).detach().numpy()), json.loads(extra["fashionnet.json"])


def reload_safetensors(path: Path):
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = {k: json.loads(v) for k, v in f.metadata().items() if k != "format"}
        expected = sorted(n for n, _ in load_model(None, 0, torch.device("cpu"))[0].state_dict().items())
        assert sorted(f.keys()) == expected
    model, _ = load_model(path, seed=0, device=torch.device("cpu"))
    return (lambda x: model(torch.from_numpy(x)).detach().numpy()), meta


RELOAD = {"onnx": reload_onnx, "torchscript": reload_torchscript, "safetensors": reload_safetensors}


@pytest.mark.parametrize("fmt", ["onnx", "torchscript", "safetensors"])
@pytest.mark.parametrize("half", [False, True], ids=["fp32", "fp16"])
def test_round_trip(invoke, tmp_path, fmt, half):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    out = tmp_path / f"model{export.SUFFIXES[fmt]}"
    result = invoke("export", "--format", fmt, "--out", str(out), "--json", *(["--half"] if half else []))
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["passed"] and report["format"] == fmt and Path(report["out"]) == out
    assert report["dtype"] == ("float16" if half else "float32")
    assert report["bytes"] == out.stat().st_size
    tolerance = export.HALF_TOLERANCE if half else export.TOLERANCE
    assert report["max_abs_diff"] <= tolerance and report["tolerance"] == tolerance
    assert [c["count"] for c in report["checks"]] == [10, export.RANDOM_INPUTS]
    assert list(tmp_path.iterdir()) == [out], "no temporary file is left beside the export"

    run, meta = RELOAD[fmt](out)  # reloaded by its own runtime, not by fashionnet's export code
    x = check_inputs()
    diff = np.abs(run(x) - pytorch_logits(x)).max()
    assert diff <= tolerance
    assert (run(x).argmax(1) == pytorch_logits(x).argmax(1)).all(), "the same answers as PyTorch"
    assert set(meta) >= EXPECTED_KEYS
    assert meta["classes"] == list(CLASSES)
    shipped = read_checkpoint(SHIPPED_WEIGHTS, training=False).metadata
    assert meta["test_accuracy"] == shipped["test_accuracy"]
    assert meta["temperature"] == shipped["temperature"], "the export keeps the calibration"
    assert meta["dtype"] == report["dtype"]
    if fmt == "safetensors":  # a checkpoint: the training facts of the source weights come along
        assert meta["epochs"] == shipped["epochs"] and meta["recipe"] == shipped["recipe"]
    assert report["metadata"]["classes"] == list(CLASSES)


def test_fixed_batch_onnx_takes_any_number_of_images(invoke, tmp_path):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "b4.onnx"
    result = invoke("export", "--out", str(out), "--batch-size", "4", "--opset", "13", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["batch_size"] == 4 and report["opset"] == 13
    run, meta = reload_onnx(out)
    assert meta["batch_size"] == 4
    with pytest.raises(Exception, match="(?i)dimension|shape"):  # onnxruntime InvalidArgument
        run(np.zeros((3, 28, 28), np.float32))  # the graph itself only takes batches of 4
    # ...but predict feeds it in batches of 4 (10 samples: 4 + 4 + 2 padded)
    plain = invoke("predict", str(SAMPLES), "--json")
    onnx = invoke("predict", str(SAMPLES), "--json", "--weights", str(out))
    assert onnx.exit_code == 0, onnx.stderr
    assert_same_predictions(onnx.stdout, plain.stdout)


def rows(jsonl: str | bytes) -> np.ndarray:
    """predict --json rows as numbers: index, probability, then the top-k probabilities and indices."""
    out = []
    for line in jsonl.splitlines():
        r = json.loads(line)
        out.append(
            [r["index"], r["probability"], *[t["probability"] for t in r["top"]], *[t["index"] for t in r["top"]]]
        )
    return np.array(out)


def assert_same_predictions(got: str | bytes, expected: str | bytes) -> None:
    got_rows, expected_rows = rows(got), rows(expected)
    assert got_rows.shape == expected_rows.shape == (10, 8)
    np.testing.assert_allclose(got_rows, expected_rows, rtol=0, atol=1e-4)


def test_failed_check_leaves_no_file(invoke, tmp_path, monkeypatch):
    out = tmp_path / "model.pt"
    real = export.RUNNERS["torchscript"]

    def off_by_a_little(path):
        run, meta, runtime = real(path)
        return (lambda x: run(x) + 1e-3), meta, runtime

    monkeypatch.setitem(export.RUNNERS, "torchscript", off_by_a_little)
    result = invoke("export", "--format", "torchscript", "--out", str(out))
    assert result.exit_code == 5
    assert "differs from the PyTorch model by up to 0.001" in result.stderr
    assert "nothing was written" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == [], "neither the export nor its temporary file is left"


def test_an_exporter_that_fails_is_exit_5_not_a_disk_error(invoke, tmp_path, monkeypatch):
    def broken(module, tmp, meta, batch_size, opset):
        raise RuntimeError("unsupported operator\nsecond line")

    monkeypatch.setitem(export.WRITERS, "torchscript", broken)
    result = invoke("export", "--format", "torchscript", "--out", str(tmp_path / "m.pt"))
    assert result.exit_code == 5, result.stderr
    assert "the torchscript exporter failed (unsupported operator second line)" in result.stderr
    assert "cannot write" not in result.stderr and list(tmp_path.iterdir()) == []


def test_failed_check_keeps_the_old_file(invoke, tmp_path, monkeypatch):
    out = tmp_path / "model.safetensors"
    out.write_bytes(b"the user's old file")
    real = export.RUNNERS["safetensors"]
    monkeypatch.setitem(export.RUNNERS, "safetensors", lambda p: (lambda x: real(p)[0](x) * 2, *real(p)[1:]))
    result = invoke("export", "--out", str(out), "--force")
    assert result.exit_code == 5
    assert out.read_bytes() == b"the user's old file"
    assert list(tmp_path.iterdir()) == [out]


def test_failed_check_of_a_real_export(invoke, tmp_path, monkeypatch):
    # The command as it runs for a user, with only the allowed difference tightened below what float16
    # gives: the real check fails, exit 5 with one line, and no file is left.
    out = tmp_path / "half.pt"
    monkeypatch.setattr(export, "HALF_TOLERANCE", 1e-6)
    monkeypatch.setenv("COLUMNS", "200")
    result = invoke("export", "--half", "--out", str(out))
    assert result.exit_code == 5, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: the torchscript export differs from the PyTorch model by up to 0.00")
    assert lines[-1].endswith("(allowed 1e-06); nothing was written") and len(lines) == 2  # device line + error
    assert list(tmp_path.iterdir()) == []


def test_lost_metadata_fails_the_check(invoke, tmp_path, monkeypatch):
    real = export.RUNNERS["torchscript"]
    monkeypatch.setitem(export.RUNNERS, "torchscript", lambda p: (real(p)[0], {}, real(p)[2]))
    result = invoke("export", "--out", str(tmp_path / "m.pt"))
    assert result.exit_code == 5 and "lost its metadata" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_existing_file_needs_force(invoke, tmp_path):
    out = tmp_path / "model.pt"
    out.write_bytes(b"keep me")
    result = invoke("export", "--out", str(out))
    assert result.exit_code == 2 and "refusing to overwrite (it exists); pass --force" in result.stderr
    assert out.read_bytes() == b"keep me"
    result = invoke("export", "--out", str(out), "--force")
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes()[:2] == b"PK", "a TorchScript archive (zip) replaced it"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "torchscript", "--opset", "13"], "--opset is for --format onnx only"),
        (["--format", "safetensors", "--batch-size", "8"], "takes any batch"),
        (["--format", "onnx", "--opset", "30"], "--opset 30 is not supported"),
        (["--format", "tflite"], "tflite"),
    ],
)
def test_bad_options_are_usage_errors(invoke, tmp_path, args, message):
    result = invoke("export", *args, "--out", str(tmp_path / "x"))
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_format_follows_the_suffix(invoke, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("export", "--out", "m.safetensors", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["format"] == "safetensors"
    result = invoke("export", "--format", "torchscript", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["out"] == "fashionnet.pt"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fashionnet.pt", "m.safetensors"]


def test_without_the_export_extra_onnx_says_what_to_install(invoke, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    result = invoke("export", "--format", "onnx", "--out", str(tmp_path / "m.onnx"))
    assert result.exit_code == 2
    assert "pip install 'fashionnet[export]'" in result.stderr
    other = tmp_path / "m.onnx"
    other.write_bytes(b"x")
    result = invoke("predict", str(SAMPLES), "--weights", str(other))
    assert result.exit_code == 2 and "pip install 'fashionnet[export]'" in result.stderr


def test_human_output(invoke, tmp_path):
    result = invoke("export", "--out", str(tmp_path / "m.pt"))
    assert result.exit_code == 0, result.stderr
    for text in ("torch.jit.load", "10 sample images", "256 random inputs", "10/10", "Check passed", "test_accuracy"):
        assert text in result.stdout


# ---- predict --weights model.onnx ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory) -> Path:
    pytest.importorskip("onnxruntime")
    model, info = load_model(None, seed=0, device=torch.device("cpu"))
    out = tmp_path_factory.mktemp("onnx") / "model.onnx"
    export.export_model(model, info, "onnx", out, torch.device("cpu"))
    return out


def test_predict_with_onnx_equals_predict(invoke, onnx_file):
    plain = invoke("predict", str(SAMPLES), "--json")
    onnx = invoke("predict", str(SAMPLES), "--json", "--weights", str(onnx_file))
    assert onnx.exit_code == 0, onnx.stderr
    assert "onnxruntime" in onnx.stderr
    assert_same_predictions(onnx.stdout, plain.stdout)
    view = invoke("predict", str(SAMPLES / "1-trouser.png"), "--weights", str(onnx_file))
    accuracy = read_checkpoint(SHIPPED_WEIGHTS, training=False).metadata["test_accuracy"]
    assert "Trouser" in view.stdout and f"{onnx_file} (test accuracy {accuracy:.2%})" in view.stderr


def foreign_onnx(path: Path) -> Path:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "other", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_corrupt_or_foreign_onnx_is_one_line_exit_4(invoke, cli, tmp_path, onnx_file):
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(onnx_file.read_bytes()[:1000])
    cases = {
        truncated: "not a readable ONNX model",
        foreign_onnx(tmp_path / "other.onnx"): "a fashionnet export takes float32 [N, 28, 28]",
        tmp_path / "missing.onnx": "no such ONNX file",
    }
    for path, message in cases.items():
        result = invoke("predict", str(SAMPLES), "--weights", str(path))
        assert result.exit_code == 4, (path, result.stderr)
        assert message in result.stderr and str(path) in result.stderr
        assert len(result.stderr.strip().splitlines()) <= 2  # the device line and the error
    installed = cli("predict", str(SAMPLES), "--weights", str(truncated))
    assert installed.returncode == 4
    assert installed.stderr.decode().strip().splitlines()[-1].startswith(f"error: {truncated}: not a readable ONNX")
    assert "Traceback" not in installed.stderr.decode()


def test_onnx_input_rules_match_checkpoints(invoke, tmp_path, onnx_file):
    """A FIFO is never opened (it would block), deeply nested or out-of-range metadata is one line, and an
    unknown --device is refused as with PyTorch weights."""
    onnx = pytest.importorskip("onnx")

    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)
    result = invoke("predict", str(SAMPLES), "--weights", str(fifo))
    assert result.exit_code == 4 and "is a FIFO" in result.stderr, result.stderr

    for key, value, message in [
        ("classes", "[" * 100_000 + "]" * 100_000, "metadata field 'classes'"),
        ("temperature", "1e-300", "metadata field 'temperature'"),
    ]:
        model = onnx.load(str(onnx_file))
        kept = [(p.key, p.value) for p in model.metadata_props if p.key != key]
        del model.metadata_props[:]
        for k, v in [*kept, (key, value)]:
            model.metadata_props.add(key=k, value=v)
        path = tmp_path / f"{key}.onnx"
        onnx.save(model, str(path))
        result = invoke("predict", str(SAMPLES), "--weights", str(path))
        assert result.exit_code == 4 and message in result.stderr and "Traceback" not in result.stderr, result.stderr

    result = invoke("predict", str(SAMPLES), "--weights", str(onnx_file), "--device", "gpu")
    assert result.exit_code == 2 and "unknown device 'gpu'" in result.stderr


def test_other_commands_say_onnx_is_for_predict_and_evaluate(invoke, onnx_file):
    for command in ("summary", "params", "export"):
        result = invoke(command, "--weights", str(onnx_file))
        assert result.exit_code == 2
        assert f"{onnx_file}: ONNX files run with predict and evaluate" in result.stderr


@needs_real_data
def test_evaluate_with_onnx_equals_evaluate(invoke, onnx_file):
    plain = json.loads(invoke("evaluate", "--json").stdout)
    onnx = invoke("evaluate", "--json", "--weights", str(onnx_file))
    assert onnx.exit_code == 0, onnx.stderr
    assert json.loads(onnx.stdout)["accuracy"] == pytest.approx(plain["accuracy"], abs=1e-4)
