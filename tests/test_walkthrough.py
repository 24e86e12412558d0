"""The walkthrough: the tutorial's steps in order, real numbers, reproducible, readable at 80 columns."""

import io
import subprocess
import sys

import pytest
import torch
from rich.cells import cell_len
from rich.console import Console

from fashionnet import CLASSES
from fashionnet.errors import UsageError
from fashionnet.render.walkthrough import Paragraph, iter_steps, render_step, show_walkthrough
from fashionnet.walkthrough import (
    CLASSES_ZH,
    STEP_KEYS,
    TEXT,
    Facts,
    build_steps,
    check_step,
    cjk_free,
    format_tensor,
)
from fashionnet.weights import load_model

CPU = torch.device("cpu")
TUTORIAL_ORDER = [
    "device",
    "model",
    "forward",
    "predict",
    "minibatch",
    "flatten",
    "linear",
    "relu",
    "sequential",
    "softmax",
    "parameters",
]


def make_steps(lang="en", seed=0, **real):
    model, info = load_model("random", seed, CPU)
    return build_steps(model, CPU, info, lang=lang, seed=seed, **real)


def render(steps, width=80):
    console = Console(width=width, color_system=None, record=True)
    show_walkthrough(console, steps)
    return console.export_text()


def by_key(steps):
    return {step.key: step for step in steps}


@pytest.fixture(scope="module")
def en_steps():
    return make_steps("en")


@pytest.fixture(scope="module")
def real_data():
    # 6 small fake "test images" with distinct labels: enough to pick 1 + 3 by seed.
    g = torch.Generator().manual_seed(123)
    images = (torch.rand(6, 28, 28, generator=g) * 255).to(torch.uint8)
    labels = torch.tensor([0, 3, 5, 7, 8, 9])
    return images, labels


# --- Order and text tables ---------------------------------------------------------------------------


def test_step_keys_follow_the_tutorial_in_both_languages():
    assert list(STEP_KEYS) == TUTORIAL_ORDER
    for lang in ("en", "zh"):
        assert [step.key for step in make_steps(lang)] == TUTORIAL_ORDER


def test_both_languages_define_the_same_text_keys():
    assert set(TEXT["en"]) == set(TEXT["zh"])
    assert len(CLASSES_ZH) == len(CLASSES)


def test_titles_are_translated():
    en, zh = make_steps("en"), make_steps("zh")
    assert [s.title for s in en] != [s.title for s in zh]
    assert all(not cjk_free(s.title) for s in zh)


# --- The numbers -------------------------------------------------------------------------------------


def test_shapes_follow_the_tutorial(en_steps):
    steps = by_key(en_steps)
    assert tuple(steps["forward"].tensors["X"].shape) == (1, 28, 28)
    assert tuple(steps["forward"].tensors["logits"].shape) == (1, 10)
    assert tuple(steps["minibatch"].tensors["input_image"].shape) == (3, 28, 28)
    assert tuple(steps["flatten"].tensors["flat_image"].shape) == (3, 784)
    assert tuple(steps["linear"].tensors["hidden1"].shape) == (3, 20)
    assert tuple(steps["sequential"].tensors["logits"].shape) == (3, 10)
    assert tuple(steps["softmax"].tensors["pred_probab"].shape) == (3, 10)


def test_softmax_rows_sum_to_one(en_steps):
    steps = by_key(en_steps)
    for key in ("predict", "softmax"):
        probab = steps[key].tensors["pred_probab"]
        assert torch.allclose(probab.sum(dim=1), torch.ones(probab.shape[0]), atol=1e-6)
        assert probab.min() >= 0 and probab.max() <= 1


def test_prediction_is_the_argmax_and_named(en_steps):
    step = by_key(en_steps)["predict"]
    predicted = int(step.tensors["y_pred"][0])
    assert predicted == int(step.tensors["pred_probab"].argmax(1)[0])
    facts = dict(next(b for b in step.blocks if isinstance(b, Facts)).items)
    assert CLASSES[predicted] in facts["predicted"]


def test_relu_zeroes_exactly_the_negatives(en_steps):
    step = by_key(en_steps)["relu"]
    before, after = step.tensors["before"], step.tensors["after"]
    assert after.min() >= 0
    assert torch.equal(after, before.clamp(min=0))
    negatives = int((before < 0).sum())
    text = render([step])
    assert f"{negatives} of 60" in text


def test_flatten_keeps_pixels_in_row_order(en_steps):
    steps = by_key(en_steps)
    batch = steps["minibatch"].tensors["input_image"]
    assert torch.equal(steps["flatten"].tensors["flat_image"], batch.reshape(3, 784))


def test_parameters_step_lists_every_parameter():
    model, info = load_model("random", 0, CPU)
    step = by_key(build_steps(model, CPU, info, "en", 0))["parameters"]
    text = render([step])
    for name, param in model.named_parameters():
        assert name in text
        assert str(param.size()) in text
    assert f"{sum(p.numel() for p in model.parameters()):,}" in text


# --- Reproducibility ---------------------------------------------------------------------------------


def test_same_seed_same_output_and_different_seed_different_numbers():
    first, again, other = make_steps(seed=7), make_steps(seed=7), make_steps(seed=8)
    assert render(first) == render(again)
    assert render(first) != render(other)
    x7, x8 = by_key(first)["forward"].tensors["X"], by_key(other)["forward"].tensors["X"]
    assert not torch.equal(x7, x8)


def test_global_rng_and_print_options_are_left_alone():
    state = torch.get_rng_state()
    torch.set_printoptions(precision=6, linewidth=123)
    try:
        make_steps(seed=3)
        assert torch.equal(torch.get_rng_state(), state)
        assert torch._tensor_str.PRINT_OPTS.precision == 6
        assert torch._tensor_str.PRINT_OPTS.linewidth == 123
    finally:
        torch.set_printoptions(profile="default")


def test_demo_layer_is_not_a_copy_of_the_model():
    # Seeding layer1 with the model's seed would make it equal the model's first 20 rows.
    model, info = load_model("random", 0, CPU)
    steps = by_key(build_steps(model, CPU, info, "en", 0))
    flat = steps["flatten"].tensors["flat_image"]
    first = model.linear_relu_stack[0]
    copy = flat @ first.weight[:20].T + first.bias[:20]
    assert not torch.allclose(steps["linear"].tensors["hidden1"], copy.detach())


# --- Rendering ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("real", [False, True])
def test_fits_80_columns_and_shows_titles(lang, real, real_data):
    images, labels = real_data
    steps = make_steps(lang, **({"images": images, "labels": labels} if real else {}))
    text = render(steps)
    too_long = [line for line in text.splitlines() if cell_len(line) > 80]
    assert not too_long
    for number, step in enumerate(steps, start=1):
        assert step.title in text
    assert ("Step 1/11" if lang == "en" else "第 1/11 步") in text


def test_narrow_terminal_still_renders(en_steps):
    text = render(en_steps, width=60)
    assert "Step 11/11" in text


def test_english_has_no_cjk_and_chinese_has(real_data):
    images, labels = real_data
    for real in ({}, {"images": images, "labels": labels}):
        assert cjk_free(render(make_steps("en", **real)))
        zh = render(make_steps("zh", **real))
        assert not cjk_free(zh)
        assert "nn.Linear" in zh  # code identifiers stay as they are


def test_explanations_are_our_own_words():
    # No sentence of the translated tutorial is reused verbatim.
    tutorial = [
        "神经网络由对数据执行操作的层/模块组成",
        "如果当前加速器可用,我们将使用它",
        "不要直接调用model.forward()",
        "nn.Sequential 是一个有序的模块容器",
        "线性层 是一个模块",
    ]
    zh = "".join(TEXT["zh"].values())
    assert not any(sentence in zh for sentence in tutorial)
    en = " ".join(TEXT["en"].values())
    assert "Do not call model.forward() directly" not in en
    assert "is an ordered container of modules" not in en


def test_step_panel_title():
    steps = make_steps("en")
    console = Console(width=80, color_system=None, record=True)
    console.print(render_step(steps[2], 3, len(steps)))
    assert "Step 3/11 · One image through the model" in console.export_text()


def test_chinese_paragraph_breaks_between_characters():
    lines = Paragraph("这是一段没有空格的中文" * 6).lines(20)
    assert len(lines) > 1
    assert all(cell_len(line) <= 20 for line in lines)
    assert all(cell_len(line) >= 18 for line in lines[:-1])  # filled, not ragged
    assert not any(line.startswith((",", "。")) for line in Paragraph("甲乙丙丁," * 10).lines(9))


def test_format_tensor_wraps_to_76_columns():
    out = format_tensor(torch.arange(2 * 784, dtype=torch.float32).reshape(2, 784) / 7)
    assert all(len(line) <= 76 for line in out.splitlines())
    assert "..." in out  # long rows are summarised like torch does


# --- Real data ---------------------------------------------------------------------------------------


def test_real_mode_uses_the_given_images_and_shows_true_labels(real_data):
    images, labels = real_data
    steps = by_key(make_steps("en", seed=1, images=images, labels=labels))
    X = steps["forward"].tensors["X"][0]
    matches = [i for i in range(len(images)) if torch.equal(images[i].float() / 255, X)]
    assert len(matches) == 1
    index = matches[0]
    text = render([steps["forward"], steps["predict"]])
    assert f"true label: {CLASSES[int(labels[index])]}" in text
    assert f"test image #{index}" in text
    batch = steps["minibatch"].tensors["input_image"]
    batch_text = render([steps["minibatch"]])
    for image in batch:
        i = next(i for i in range(len(images)) if torch.equal(images[i].float() / 255, image))
        assert f"true: {CLASSES[int(labels[i])]}" in batch_text


def test_real_mode_in_chinese_names_the_class(real_data):
    images, labels = real_data
    text = render(make_steps("zh", seed=1, images=images, labels=labels))
    assert "真实标签:" in text


def test_real_mode_picks_by_seed(real_data):
    images, labels = real_data
    picks = {
        seed: by_key(make_steps(seed=seed, images=images, labels=labels))["forward"].tensors["X"] for seed in range(6)
    }
    assert torch.equal(picks[0], by_key(make_steps(seed=0, images=images, labels=labels))["forward"].tensors["X"])
    assert len({tuple(x.flatten().tolist()) for x in picks.values()}) > 1


def test_real_mode_with_fewer_than_four_images():
    images = torch.zeros(2, 28, 28, dtype=torch.uint8)
    steps = make_steps(images=images, labels=[1, 2])
    assert tuple(by_key(steps)["minibatch"].tensors["input_image"].shape) == (3, 28, 28)


@pytest.mark.parametrize(
    "images, labels",
    [
        (torch.rand(4, 28, 28), [0, 1, 2, 3]),  # floats, not uint8
        (torch.zeros(4, 28, 27, dtype=torch.uint8), [0, 1, 2, 3]),
        (torch.zeros(4, 28, 28, dtype=torch.uint8), [0, 1]),
        (torch.zeros(4, 28, 28, dtype=torch.uint8), [0, 1, 2, 10]),
        (torch.zeros(4, 28, 28, dtype=torch.uint8), None),
    ],
)
def test_bad_real_data_is_a_usage_error(images, labels):
    with pytest.raises(UsageError):
        make_steps(images=images, labels=labels)


# --- --step and --interactive ------------------------------------------------------------------------


@pytest.mark.parametrize("step", [0, 12, -1])
def test_step_out_of_range_lists_the_valid_range(step):
    with pytest.raises(UsageError, match="1 to 11"):
        check_step(step)
    with pytest.raises(UsageError, match="1 到 11"):
        check_step(step, "zh")


def test_one_step_only(en_steps):
    panels = list(iter_steps(en_steps, only=4))
    assert len(panels) == 1
    console = Console(width=80, color_system=None, record=True)
    console.print(panels[0])
    text = console.export_text()
    assert "Step 4/11" in text and "Step 3/11" not in text
    with pytest.raises(UsageError):
        list(iter_steps(en_steps, only=12))


def _never(prompt):
    raise AssertionError("waited for Enter without a terminal")


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_interactive_never_blocks_without_a_terminal(en_steps):
    console = Console(width=80, color_system=None, record=True, file=io.StringIO())
    show_walkthrough(console, en_steps, interactive=True, stdin=io.StringIO(), wait=_never)
    assert "Step 11/11" in console.export_text()
    # stdin a terminal but stdout piped: still no waiting.
    console = Console(width=80, color_system=None, file=io.StringIO())
    show_walkthrough(console, en_steps, interactive=True, stdin=FakeTTY(), wait=_never)


def test_interactive_waits_between_steps_on_a_terminal(en_steps):
    prompts = []
    console = Console(width=80, color_system=None, force_terminal=True, file=io.StringIO())
    show_walkthrough(console, en_steps, interactive=True, stdin=FakeTTY(), wait=prompts.append)
    assert len(prompts) == len(en_steps) - 1
    assert "Enter" in prompts[0]


def test_end_of_input_stops_quietly(en_steps):
    def eof(prompt):
        raise EOFError

    console = Console(width=80, color_system=None, force_terminal=True, record=True, file=io.StringIO())
    show_walkthrough(console, en_steps, interactive=True, stdin=FakeTTY(), wait=eof)
    text = console.export_text()
    assert "Step 1/11" in text and "Step 2/11" not in text


def test_modules_import_without_torch():
    code = (
        "import sys, fashionnet.walkthrough, fashionnet.render.walkthrough;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
