"""`fashionnet explain`: one picture through the trained network; every figure it shows adds up."""

import copy
import json
import re
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import torch
from rich.cells import cell_len

from fashionnet import CLASSES, class_words
from fashionnet.explain import explain
from fashionnet.images import load_view
from fashionnet.predict import predict_paths
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
    for layer, out in zip(shirt.layers, (outs[1], outs[3]), strict=True):
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
    assert shirt.saliency_up + shirt.saliency_down + shirt.saliency_bias == pytest.approx(
        logits[shirt.top].item(), abs=1e-4
    )
    assert saliency[torch.from_numpy(load_view(SHIRT).image) == 0].abs().max() == 0, "black pixels push nothing"


def test_raw_and_calibrated_softmax_and_predicts_answer(shipped, shirt):
    model, info = shipped
    logits = torch.tensor([c.logit for c in shirt.classes], dtype=torch.float64)
    assert [c.softmax for c in shirt.classes] == pytest.approx(logits.softmax(0).tolist(), abs=1e-5)
    assert [c.calibrated for c in shirt.classes] == pytest.approx(
        (logits / info.temperature).softmax(0).tolist(), abs=1e-5
    )
    assert info.temperature < 1 and shirt.classes[shirt.top].calibrated > shirt.classes[shirt.top].softmax
    (predicted,) = predict_paths([str(SHIRT)], model, CPU, top_k=1, temperature=info.temperature)
    assert (shirt.answer.label, shirt.answer.drawings) == (predicted.label, 1)
    assert shirt.answer.probability == pytest.approx(predicted.probability, abs=1e-6)
    # both rounded to 6 places
    assert shirt.answer.probability == pytest.approx(shirt.classes[shirt.top].calibrated, abs=2e-6)
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


HAT = SAMPLES / "photos" / "hat.jpg"  # its drawings disagree: drawing #1 alone says Shirt, predict says Coat


@pytest.mark.parametrize("photo", [HAT, PHOTO])
def test_one_answer_per_photo_the_table_is_what_predict_decides(shipped, photo):
    """explain's table, saliency and answer are predict's decision over all the drawings it averages."""
    model, info = shipped
    view = load_view(photo)
    result = explain(str(photo), view, model, CPU, info)
    (predicted,) = predict_paths([str(photo)], model, CPU, top_k=10, temperature=info.temperature)
    drawings = view.drawings()
    assert len(result.drawings) == len(drawings) > 1
    with torch.no_grad():  # the oracle: the model on each drawing, the logits averaged
        each = model(torch.from_numpy(drawings).float().div(255)).double()
    mean = each.mean(0)
    assert [c.logit for c in result.classes] == pytest.approx(mean.tolist(), abs=1e-5)
    assert result.top == predicted.index == int(mean.argmax())
    assert result.classes[result.top].calibrated == pytest.approx(predicted.probability, abs=2e-6)
    assert [c.calibrated for c in result.classes] == pytest.approx(
        [p for _, _, p in sorted(predicted.top, key=lambda t: t[1])], abs=2e-6
    )
    assert (result.answer.index, result.answer.sure) == (predicted.index, predicted.sure)
    for drawing, logits in zip(result.drawings, each, strict=True):  # each caption: that drawing alone
        assert drawing.top == int(logits.argmax())
        assert drawing.probability == pytest.approx(float((logits / info.temperature).softmax(0).max()), abs=2e-6)
    saliency = _grid(result.saliency)
    assert float(saliency.sum()) + result.saliency_bias == pytest.approx(float(mean[result.top]), abs=1e-4)
    with torch.no_grad():
        assert result.black_logit == pytest.approx(float(model(torch.zeros(1, 28, 28))[0, result.top]), abs=1e-5)


def test_hat_shows_one_story_in_terminal_and_plot(invoke, shipped):
    from fashionnet.plots import layer_summary
    from fashionnet.render.explain import verdict

    model, info = shipped
    result = explain(str(HAT), load_view(HAT), model, CPU, info)
    said = verdict(result, "en")
    out = invoke("explain", str(HAT)).stdout
    flat = " ".join(out.split())
    assert flat.startswith(f"{HAT}: {said} ") and flat.count(said) == 2  # the header and the last line
    assert "mean logit" in out and f"{len(result.drawings)} drawings" in out
    assert re.search(
        rf"^{result.top}\s+{result.classes[result.top].label}\s+\S+\s+\S+\s+"
        rf"{re.escape(said.rsplit(' ', 1)[-1])}",
        out,
        re.M,
    ), "the table's top row is predict's figure"
    assert layer_summary(result).startswith(f"predict says {said} (mean of {len(result.drawings)} drawings)")


def test_plot_title_keeps_not_sure(tmp_path, shipped):
    from PIL import Image

    from fashionnet.plots import layer_summary

    blank = tmp_path / "blank.png"
    Image.new("L", (28, 28), 128).save(blank)
    model, info = shipped
    result = explain(str(blank), load_view(blank), model, CPU, info)
    assert not result.answer.sure and layer_summary(result).startswith("predict says not sure — looks most like ")


def test_baseline_is_a_black_picture(invoke):
    out = " ".join(invoke("explain", str(SHIRT)).stdout.split())
    found = re.search(r"Shirt logit is ([-+]\d+\.\d+), this picture adds ([-+]\d+\.\d+)", out)
    logit = re.search(r"together they make the logit, ([-+]\d+\.\d+)", out)
    assert found and logit and float(found[1]) + float(found[2]) == pytest.approx(float(logit[1]), abs=2e-3)


def test_the_command_shows_each_stage(invoke):
    result = invoke("explain", str(SHIRT))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"{SHIRT}: Shirt ")
    assert "Weights: shipped" in result.stderr
    for heading in (
        "1 · What the model sees",
        "2 · linear_relu_stack.0 + .1: Linear(784 → 512), then ReLU",
        "3 · linear_relu_stack.2 + .3: Linear(512 → 512), then ReLU",
        "4 · linear_relu_stack.4: Linear(512 → 10), one logit per class",
        "5 · Which pixels pushed Shirt up or down",
    ):
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
    assert list(data) == [
        "path",
        "image",
        "found",
        "lit_pixels",
        "mask",
        "layers",
        "output_layer",
        "classes",
        "top",
        "temperature",
        "label_smoothing",
        "saliency",
        "contrast",
        "occlusion",
        "answer",
        "drawings",
        "device",
        "weights",
    ]
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
    return [
        name
        for a, b in pairwise(lines)
        for name in names
        for k in range(1, len(name))
        if a.endswith(name[:k]) and b.startswith(name[k:])
    ]


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
    assert zh.exit_code == 1 and zh.stderr.splitlines()[-1].startswith(f"错误：{bad}")


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


def test_chinese_reviewers_wording_and_full_width_colons(invoke):
    from fashionnet.language import locale

    zh = locale("zh")
    batch = "第一个维度是批量维度，每个下标对应一张图像"
    assert all(batch in zh[key] for key in ("explain.minibatch", "explain.minibatch.real", "explain.minibatch.image"))
    assert "它沿用上面那三张图像（你的图片及其两个翻转副本），不再随机生成" in zh["explain.sequential.image"]
    opening = zh["explain.sequential"].split("这里")[0]  # one wording for nn.Sequential in all three variants
    assert all(zh[key].startswith(opening) for key in ("explain.sequential.real", "explain.sequential.image"))
    smoothing = "训练目标只给正确类别 {target} 的概率，而不是 100%；网络因此学会了从不给出完全确定的答案"
    assert smoothing in zh["inside.why.smoothing"]
    held = "在训练时预留、未参与学习的那部分训练图像上拟合的"
    assert all(held in zh[k] for k in ("inside.why.sharpen", "inside.why.soften"))
    assert (zh["ui.negatives"], zh["ui.zeros"]) == ("ReLU 之前为负的值", "ReLU 之后为 0 的值")
    assert "标有“# fashionnet 补充”的几行" in zh["explain.imports"]
    result = invoke("explain", str(SHIRT), "--lang", "zh")
    assert "6-shirt.png：衬衫（Shirt）" in result.stdout
    assert "哪些像素抬高或压低了“衬衫（Shirt）”的 logit" in result.stdout
    assert "权重：随附的已训练权重（测试准确率" in result.stderr and "Weights:" not in result.stderr
    assert "： " not in result.stdout + result.stderr, "no space after a full-width colon"


def test_activation_strips_and_the_contrastive_map(shipped, shirt, invoke):
    model, _info = shipped
    x = torch.from_numpy(load_view(SHIRT).image).float().div(255).reshape(1, -1)
    with torch.no_grad():
        first = model.linear_relu_stack[1](model.linear_relu_stack[0](x))[0]
        second = model.linear_relu_stack[3](model.linear_relu_stack[2](first[None]))[0]
    for layer, out in zip(shirt.layers, (first, second), strict=True):  # every output, 16 rows of 32
        assert len(layer.activations) == 16 and {len(row) for row in layer.activations} == {32}
        assert _grid(layer.activations).reshape(-1).tolist() == pytest.approx(out.double().tolist(), abs=1e-5)
        assert sum(v > 0 for row in layer.activations for v in row) == layer.active
    logits = {c.index: c.logit for c in shirt.classes}
    order = sorted(logits, key=logits.get, reverse=True)
    assert (shirt.top, shirt.runner_up) == tuple(order[:2])
    contrast = _grid(shirt.contrast)
    difference = logits[shirt.top] - logits[shirt.runner_up]
    assert float(contrast.sum()) + shirt.contrast_bias == pytest.approx(difference, abs=1e-4)
    out = invoke("explain", str(SHIRT)).stdout
    assert out.count("all 512 outputs · 16×32") == 2 and "Why Shirt and not T-shirt/top" in out


def test_greyed_squares_measure_what_covering_does(shipped, shirt):
    from fashionnet.explain import FILL, PATCH

    model, _info = shipped
    x = torch.from_numpy(load_view(SHIRT).image).float().div(255)
    covered = x.clone()
    covered[:PATCH, :PATCH] = FILL  # the corner pixel lies under one square only
    with torch.no_grad():
        drop = float(model(x[None])[0, shirt.top] - model(covered[None])[0, shirt.top])
    assert shirt.occlusion[0][0] == pytest.approx(drop, abs=1e-5)
    background = np.asarray(shirt.image) == 0
    assert np.abs(np.asarray(shirt.occlusion))[background].max() > 0, "a black pixel can count"


def test_a_photos_table_keeps_every_figure_at_40_columns(invoke, monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    out = invoke("explain", str(PHOTO), "--units", "1").stdout
    assert "…" not in out and max(cell_len(line) for line in out.splitlines()) <= 40
