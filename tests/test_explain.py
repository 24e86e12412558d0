"""`fashionnet explain`: one picture through the trained network; every figure it shows adds up."""

import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from rich.cells import cell_len

from fashionnet import CLASSES
from fashionnet.explain import explain
from fashionnet.images import load_view
from fashionnet.predict import predict_paths
from fashionnet import class_words
from fashionnet.weights import load_model

SAMPLES = Path(__file__).resolve().parents[1] / "fashionnet" / "samples"
SHIRT = SAMPLES / "6-shirt.png"  # the first Shirt of the test set, a 28x28 PNG
PHOTO = SAMPLES / "photos" / "t-shirt.jpg"  # a phone photo: garment found, drawn five ways
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def shipped():
    return load_model(None, 0, CPU)


@pytest.fixture(scope="module")
def shirt(shipped):
    model, info = shipped
    return explain(str(SHIRT), load_view(SHIRT), model, CPU, info, units=4)


def _grid(picture) -> torch.Tensor:
    return torch.tensor(picture, dtype=torch.float64)


def test_every_figure_is_the_networks_own_arithmetic(shipped, shirt):
    model, _info = shipped
    x = torch.from_numpy(load_view(SHIRT).image).double().div(255).reshape(-1)
    outs, h = [], x[None]
    with torch.no_grad():
        for module in copy.deepcopy(model).double().linear_relu_stack:  # the oracle: a plain forward pass
            h = module(h)
            outs.append(h[0])
    assert shirt.image == load_view(SHIRT).image.tolist()
    assert [layer.active for layer in shirt.layers] == [int((outs[1] > 0).sum()), int((outs[3] > 0).sum())]
    weight1 = model.linear_relu_stack[0].weight.detach().double()
    for unit in shirt.layers[0].strongest:  # first layer: weight × pixel, plus the unit's own bias
        assert torch.allclose(_grid(unit.weights).reshape(-1), weight1[unit.index], atol=1e-6)
        assert torch.allclose(_grid(unit.contribution).reshape(-1), weight1[unit.index] * x, atol=1e-6)
        assert unit.from_bias == pytest.approx(float(model.linear_relu_stack[0].bias[unit.index].detach()), abs=1e-5)
        assert unit.value == pytest.approx(float(outs[1][unit.index]), abs=1e-5)
    for layer, out in zip(shirt.layers, (outs[1], outs[3])):
        for unit in layer.strongest:  # the picture adds up to the pixel part; with the biases, the output
            assert float(_grid(unit.contribution).sum()) == pytest.approx(unit.from_pixels, abs=1e-4)
            assert unit.from_pixels + unit.from_bias == pytest.approx(unit.value, abs=1e-4)
            assert unit.value == pytest.approx(float(out[unit.index]), abs=1e-4) and unit.value > 0
        pixel_parts = [u.from_pixels for u in layer.strongest]
        assert pixel_parts == sorted(pixel_parts, reverse=True)
    logits = outs[-1]
    assert [c.logit for c in shirt.classes] == pytest.approx(logits.tolist(), abs=1e-5)
    assert shirt.top == int(logits.argmax()) == CLASSES.index("Shirt")
    saliency = _grid(shirt.saliency)
    assert float(saliency[saliency > 0].sum()) == pytest.approx(shirt.saliency_up, abs=1e-4)
    assert shirt.saliency_up + shirt.saliency_down + shirt.saliency_bias == pytest.approx(logits[shirt.top].item(), abs=1e-4)
    assert saliency[torch.from_numpy(load_view(SHIRT).image) == 0].abs().max() == 0, "black pixels push nothing"


def test_raw_and_calibrated_softmax_and_predicts_answer(shipped, shirt):
    model, info = shipped
    logits = torch.tensor([c.logit for c in shirt.classes], dtype=torch.float64)
    assert [c.softmax for c in shirt.classes] == pytest.approx(logits.softmax(0).tolist(), abs=1e-5)
    assert [c.calibrated for c in shirt.classes] == pytest.approx((logits / info.temperature).softmax(0).tolist(), abs=1e-5)
    assert info.temperature < 1 and shirt.classes[shirt.top].calibrated > shirt.classes[shirt.top].softmax
    (predicted,) = predict_paths([str(SHIRT)], model, CPU, top_k=1, temperature=info.temperature)
    assert (shirt.answer.label, shirt.answer.drawings) == (predicted.label, 1)
    assert shirt.answer.probability == pytest.approx(predicted.probability, abs=1e-6)
    assert shirt.answer.probability == pytest.approx(shirt.classes[shirt.top].calibrated, abs=2e-6)  # both rounded to 6 places
    assert shirt.label_smoothing == info.metadata["recipe"]["label_smoothing"]


def test_a_photo_answers_as_predict_does(shipped):
    model, info = shipped
    view = load_view(PHOTO)
    result = explain(str(PHOTO), view, model, CPU, info)
    (predicted,) = predict_paths([str(PHOTO)], model, CPU, top_k=1, temperature=info.temperature)
    assert result.answer.drawings == 1 + len(view.variants) > 1
    assert (result.answer.label, result.answer.sure) == (predicted.label, predicted.sure)
    assert result.answer.probability == pytest.approx(predicted.probability, abs=1e-6)
    assert result.mask is not None and result.to_dict()["mask"]["height"] == view.mask.shape[0]


def test_the_command_shows_each_stage(invoke):
    result = invoke("explain", str(SHIRT))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"{SHIRT}: Shirt ")
    assert "Weights: shipped" in result.stderr
    for heading in ("1 · What the model sees", "2 · linear_relu_stack.0 + .1: Linear(784 → 512), then ReLU",
                    "3 · linear_relu_stack.2 + .3: Linear(512 → 512), then ReLU",
                    "4 · linear_relu_stack.4: Linear(512 → 10), one logit per class",
                    "5 · Which pixels pushed Shirt up or down"):
        assert heading in out
    assert re.search(r"\d+ of 512 units fire", out)
    assert "unit " in out and "· weight × pixel" in out and "· gradient × pixel" in out
    assert re.search(r"label smoothing 0\.\d+, so each target gives its", out) and "T is below 1" in out
    assert re.search(r"^6\s+Shirt\s+\+\d\.\d{3}\s+\d+\.\d%\s+\d+\.\d%", out, re.M)


def test_json_gives_the_same_figures_in_a_fixed_order_byte_for_byte(invoke, shirt):
    first = invoke("explain", str(SHIRT), "--json", "--units", "4")
    assert first.exit_code == 0, first.stderr
    assert invoke("explain", str(SHIRT), "--json", "--units", "4").stdout == first.stdout
    data = json.loads(first.stdout)
    assert list(data) == ["path", "image", "found", "lit_pixels", "mask", "layers", "output_layer", "classes", "top",
                          "temperature", "label_smoothing", "saliency", "answer", "device", "weights"]
    expected = json.loads(json.dumps(shirt.to_dict()))
    assert {k: data[k] for k in expected} == expected
    assert len(data["image"]) == 28 and all(len(row) == 28 for row in data["image"])
    assert "history" not in data["weights"]["metadata"]
    assert len(first.stdout.splitlines()) < 800, "picture rows stay on one line each"


@pytest.mark.parametrize("width", [40, 60, 120])
def test_layout_follows_the_width(invoke, monkeypatch, width):
    monkeypatch.setenv("COLUMNS", str(width))
    out = invoke("explain", str(SHIRT), "--units", "2").stdout
    lines = out.splitlines()
    assert max(cell_len(line) for line in lines) <= width
    assert "…" not in out and not [line for line in lines if line != line.rstrip()]
    # 28-column pictures, two columns apart: one per row at 40, a unit's pair at 60, two pairs at 120
    side_by_side = max(line.count("unit ") for line in lines if "· weight" in line)
    assert side_by_side == {40: 1, 60: 2, 120: 4}[width]


def broken_names(text: str, names) -> list[str]:
    """Class names split over two lines: the end of one line and the start of the next spell one."""
    lines = [line.strip() for line in text.splitlines()]
    return [name for a, b in zip(lines, lines[1:]) for name in names
            for k in range(1, len(name)) if a.endswith(name[:k]) and b.startswith(name[k:])]


@pytest.mark.parametrize("width", [40, 60])
def test_chinese_at_narrow_widths_never_breaks_a_class_name(invoke, monkeypatch, width):
    monkeypatch.setenv("COLUMNS", str(width))
    narrow = invoke("explain", str(SHIRT), "--lang", "zh").stdout
    assert "模型看到的图像" in narrow and "单元" in narrow and "校准后" in narrow
    assert max(cell_len(line) for line in narrow.splitlines()) <= width
    assert "衬衫（Shirt）" in narrow and not broken_names(narrow, class_words("zh") + CLASSES)
    assert broken_names("looks like T-shirt/\ntop here", CLASSES) == ["T-shirt/top"]  # the check works


def test_show_draws_a_photos_mask_and_says_when_there_is_none(invoke):
    photo = invoke("explain", str(PHOTO), "--show")
    assert photo.exit_code == 0 and "garment mask" in photo.stdout and "5 drawings" in photo.stdout
    plain = invoke("explain", str(SHIRT), "--show")
    assert "No garment mask: the picture has a clean background" in plain.stdout
    assert "garment mask\n" not in invoke("explain", str(PHOTO)).stdout


def test_bad_input_is_one_line_with_its_exit_code(invoke, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    result = invoke("explain", str(bad))
    assert result.exit_code == 1 and result.stderr.splitlines()[-1].startswith(f"error: {bad}: not an image")
    missing = invoke("explain", str(tmp_path / "missing.jpg"))
    assert missing.exit_code == 1 and "no such file" in missing.stderr
    folder = invoke("explain", str(SAMPLES))
    assert folder.exit_code == 2 and "explain takes one picture" in folder.stderr
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"\x08\x07")
    assert invoke("explain", str(SHIRT), "--weights", str(onnx)).exit_code == 2
    assert invoke("explain", str(SHIRT), "--units", "0").exit_code == 2
    zh = invoke("explain", str(bad), "--lang", "zh")
    assert zh.exit_code == 1 and zh.stderr.splitlines()[-1].startswith(f"错误： {bad}")


def test_stdin_is_read_as_predict_reads_it(invoke):
    result = invoke("explain", "-", "--json", input=SHIRT.read_bytes())
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["answer"]["label"] == "Shirt"


def test_plot_writes_one_png_and_keeps_the_overwrite_rule(invoke, tmp_path):
    path = tmp_path / "explain.png"
    result = invoke("explain", str(PHOTO), "--plot", str(path), "--units", "1")
    assert result.exit_code == 0, result.stderr
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"Wrote {path}" in result.stderr
    again = invoke("explain", str(PHOTO), "--plot", str(path))
    assert again.exit_code == 2 and "--force" in again.stderr and "Using" not in again.stderr
    assert invoke("explain", str(PHOTO), "--plot", str(tmp_path / "x.jpg")).exit_code == 2


def test_random_weights_have_no_temperature(invoke):
    out = invoke("explain", str(SHIRT), "--weights", "random").stdout
    assert "These weights carry no temperature (T = 1), so both columns are the same." in out
