"""The walkthrough: the page's every code block, in order; what it shows is what its code prints."""

import base64
import io
import json
import re
import shutil
import string
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from rich.cells import cell_len
from rich.console import Console

from fashionnet.errors import UsageError
from fashionnet.language import languages, locale
from fashionnet.notebook import markdown_text
from fashionnet.render.walkthrough import iter_steps, render_step, show_walkthrough
from fashionnet.render.widgets import Paragraph
from fashionnet.tutorial_code import is_added, page_lines
from fashionnet.walkthrough import (
    STEP_KEYS,
    Facts,
    Note,
    build_steps,
    check_step,
)
from fashionnet.weights import load_model
from tests.conftest import make_fake_fashion

CPU = torch.device("cpu")
TUTORIAL_ORDER = [
    "imports",
    "device",
    "class",
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

# Every code block of the tutorial page (reference/build-the-neural-network.zh.txt), in the page's order.
# The device line is the English page's form, split over lines inside parentheses.
PAGE_BLOCKS = [
    """import os
import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms""",
    """device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
print(f"Using {device} device")""",
    """class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28*28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits""",
    """model = NeuralNetwork().to(device)
print(model)""",
    """X = torch.rand(1, 28, 28, device=device)
logits = model(X)
pred_probab = nn.Softmax(dim=1)(logits)
y_pred = pred_probab.argmax(1)
print(f"Predicted class: {y_pred}")""",
    """input_image = torch.rand(3,28,28)
print(input_image.size())""",
    """flatten = nn.Flatten()
flat_image = flatten(input_image)
print(flat_image.size())""",
    """layer1 = nn.Linear(in_features=28*28, out_features=20)
hidden1 = layer1(flat_image)
print(hidden1.size())""",
    """print(f"Before ReLU: {hidden1}\\n\\n")
hidden1 = nn.ReLU()(hidden1)
print(f"After ReLU: {hidden1}")""",
    """seq_modules = nn.Sequential(
    flatten,
    layer1,
    nn.ReLU(),
    nn.Linear(20, 10)
)
input_image = torch.rand(3,28,28)
logits = seq_modules(input_image)""",
    """softmax = nn.Softmax(dim=1)
pred_probab = softmax(logits)""",
    """print(f"Model structure: {model}\\n\\n")

for name, param in model.named_parameters():
    print(f"Layer: {name} | Size: {param.size()} | Values : {param[:2]}\\n")""",
]


def make_steps(lang="en", seed=0, real=False, data_dir=None, width=None, weights="random", image=None):
    _model, info = load_model(weights, seed, CPU)
    size = 200 if real else 0
    return build_steps(
        CPU, info, lang=lang, seed=seed, real=real, data_dir=data_dir, width=width, test_size=size, image=image
    )


def render(steps, width=80):
    console = Console(width=width, color_system=None, record=True, file=io.StringIO())
    show_walkthrough(console, steps)
    return console.export_text()


def by_key(steps):
    return {step.key: step for step in steps}


@pytest.fixture(scope="module")
def fake_dir(tmp_path_factory):
    return make_fake_fashion(tmp_path_factory.mktemp("fake") / "fashion")


@pytest.fixture(scope="module")
def en_steps():
    return make_steps("en")


def _squash(code: str) -> str:
    return re.sub(r"[\s()]", "", code)


# --- The page, block by block --------------------------------------------------------------------------


def test_step_keys_follow_the_page_in_both_languages():
    assert list(STEP_KEYS) == TUTORIAL_ORDER
    for lang in ("en", "zh"):
        assert [step.key for step in make_steps(lang)] == TUTORIAL_ORDER


def test_every_code_block_of_the_page_maps_to_its_steps_in_order(en_steps):
    """Each block is the page's lines of one step, or of consecutive steps (the page's forward pass and
    prediction are one block); whitespace and the device line's parentheses aside, nothing differs."""
    steps = list(en_steps)
    position = 0
    for block in PAGE_BLOCKS:
        target, shown = _squash(block), ""
        start = position
        while position < len(steps) and len(_squash(shown)) < len(target):
            shown += "\n".join(page_lines(steps[position].code)) + "\n"
            position += 1
        assert _squash(shown) == target, f"page block starting {block[:40]!r} != steps {start + 1}..{position}"
    assert position == len(steps)


def test_the_class_is_shown_from_fashionnets_source(en_steps):
    import inspect

    from fashionnet.model import NeuralNetwork

    assert by_key(en_steps)["class"].code == inspect.getsource(NeuralNetwork).rstrip()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_lines_fashionnet_adds_are_marked_in_the_steps_language(lang, fake_dir):
    marker = locale(lang)["code.added"]
    for step in make_steps(lang, real=True, data_dir=fake_dir, width=60, weights=None):
        for line in step.code.splitlines():
            if is_added(line):
                assert line.endswith(marker)
    real = by_key(make_steps(lang, real=True, data_dir=fake_dir, weights=None))
    assert "test = load_split" in real["forward"].code and marker in real["forward"].code
    assert "load_state_dict" in real["model"].code
    shown = by_key(make_steps(lang))
    assert f"print(logits)  {marker}" in shown["sequential"].code
    assert f"print(pred_probab)  {marker}" in shown["softmax"].code


# --- Code shown => output shown -------------------------------------------------------------------------

RUNNER = """
import ast, contextlib, io, json, os, sys, traceback
import torch
results = []
for job in json.load(sys.stdin):
    os.chdir(job["cwd"])
    torch.set_printoptions(profile="default")  # each job starts as a fresh Python would
    namespace = {"__name__": "__main__"}
    outputs = []
    try:
        for code in job["cells"]:
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                if job["repl"]:  # statement by statement, as a REPL or Jupyter runs them: expressions are echoed
                    for statement in ast.parse(code).body:
                        exec(compile(ast.Interactive(body=[statement]), "<cell>", "single"), namespace)
                else:
                    exec(code, namespace)
            outputs.append(buffer.getvalue())
        results.append({"outputs": outputs})
    except BaseException:
        results.append({"error": traceback.format_exc()})
json.dump(results, sys.stdout)
"""


def run_fresh_jobs(jobs: list[tuple]) -> list[dict]:
    """Run several lists of code cells, each from its folder and in a namespace of its own, in ONE new
    Python process (torch's own defaults, nothing of ours loaded): one `import torch` for them all. A job
    is (cells, folder) or (cells, folder, repl): with repl, statement by statement as a pasted REPL runs."""
    payload = json.dumps([{"cells": job[0], "cwd": str(job[1]), "repl": bool(job[2:] and job[2])} for job in jobs])
    proc = subprocess.run([sys.executable, "-c", RUNNER], input=payload, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


FRESH_CASES = [(lang, real) for lang in ("en", "zh") for real in (False, True)]
PHOTO = "fashionnet/samples/photos/t-shirt.jpg"  # relative to the repository, as a user would type it
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def image_steps():
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        return make_steps("en", seed=2, weights=None, image=PHOTO)


@pytest.fixture(scope="module")
def fresh_runs(fake_dir, fake_data, tmp_path_factory, image_steps):
    """Everything this module runs in a fresh interpreter, run once: the shown code of the walk in both
    languages (random and real; the real runs statement by statement, as a pasted REPL or Jupyter would,
    so nothing may be echoed that the walk does not show), the walk on a picture (--image), and the
    notebooks `--notebook` writes, each from its own folder as Jupyter runs it."""
    from typer.testing import CliRunner

    from fashionnet.cli import app
    from fashionnet.weights import SHIPPED_WEIGHTS

    jobs, keys = [], []
    for lang, real in FRESH_CASES:  # real mode with the shipped weights, at 60 columns (adds a print width)
        steps = make_steps(
            lang,
            seed=4,
            real=real,
            data_dir=fake_dir if real else None,
            width=60 if real else None,
            weights=None if real else "random",
        )
        jobs.append(([step.code for step in steps], Path.cwd(), real))
        keys.append((("steps", lang, real), steps))
    jobs.append(([step.code for step in image_steps], ROOT))
    keys.append((("image",), image_steps))
    runner = CliRunner()
    for lang in ("en", "zh"):
        folder = tmp_path_factory.mktemp(f"notebook-{lang}")
        result = runner.invoke(
            app,
            ["walkthrough", "--lang", lang, "--seed", "5", "--notebook", str(folder / "walk.ipynb"), "--step", "1"],
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.stderr
        notebook = json.loads((folder / "walk.ipynb").read_text(encoding="utf-8"))
        jobs.append((["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"], folder))
        keys.append((("notebook", lang), notebook))
    # Issue 17: relative --weights, --data-dir and --notebook, run from the notebook's own folder.
    work = tmp_path_factory.mktemp("relative")
    shutil.copy(SHIPPED_WEIGHTS, work / "mine.safetensors")
    (work / "data").symlink_to(fake_data)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(work)
        result = runner.invoke(
            app,
            [
                "walkthrough",
                "--real",
                "--weights",
                "mine.safetensors",
                "--data-dir",
                "data",
                "--notebook",
                "sub/w.ipynb",
                "--step",
                "1",
            ],
            catch_exceptions=False,
        )
    assert result.exit_code == 0, result.stderr
    notebook = json.loads((work / "sub" / "w.ipynb").read_text(encoding="utf-8"))
    jobs.append((["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"], work / "sub"))
    keys.append((("relative",), notebook))
    return {key: (made, result) for (key, made), result in zip(keys, run_fresh_jobs(jobs), strict=True)}


@pytest.mark.xdist_group("fresh-python")  # one worker runs fresh_runs once
@pytest.mark.parametrize("lang, real", FRESH_CASES)
def test_running_the_shown_code_prints_exactly_the_shown_output(lang, real, fresh_runs):
    steps, result = fresh_runs[("steps", lang, real)]
    assert "error" not in result, result.get("error")
    assert any(line.startswith("_ = torch.manual_seed(4)") for line in steps[0].code.splitlines())
    for step, output in zip(steps, result["outputs"], strict=True):
        assert output == step.output, f"step {step.key}"
    shown = by_key(steps)
    assert "grad_fn=<AddmmBackward0>" in shown["forward"].output
    assert "grad_fn=<ReluBackward0>" in shown["relu"].output
    assert shown["parameters"].output.count("grad_fn=<SliceBackward0>") == 6
    assert (
        "Layer: linear_relu_stack.0.weight | Size: torch.Size([512, 784]) | Values : tensor("
        in shown["parameters"].output
    )


def test_output_blocks_show_the_output_whole(en_steps):
    text = render(en_steps)
    lines = text.splitlines()
    for step in en_steps:
        for line in step.output.splitlines():
            if line:
                assert line in lines, (step.key, line)


def test_real_mode_runs_the_shipped_weights(fake_dir):
    steps = by_key(make_steps("en", seed=2, real=True, data_dir=fake_dir, weights=None))
    model, _info = load_model(None, 0, CPU)
    X = steps["forward"].tensors["X"]
    with torch.no_grad():
        expected = model(X)
    assert torch.allclose(steps["forward"].tensors["logits"], expected)
    assert "trained" in steps["model"].explanation and "untrained" not in steps["model"].explanation
    for key in ("linear", "sequential", "softmax"):  # the steps that build fresh layers say so
        assert any(isinstance(b, Note) and "random weights" in b.text for b in steps[key].blocks)
    assert not any(isinstance(b, Note) for b in by_key(make_steps("en"))["linear"].blocks)


def test_narrow_terminal_sets_torchs_print_width_in_the_shown_code():
    narrow = by_key(make_steps(width=60))
    assert "torch.set_printoptions(linewidth=47)" in narrow["imports"].code  # 60 less "Before ReLU: "
    assert "set_printoptions" not in by_key(make_steps(width=120))["imports"].code
    rows = narrow["relu"].output.splitlines()
    assert max(len(line) for line in rows) <= 60, "the lines that start 'Before ReLU: ' too"


def test_device_other_than_the_tutorials_choice_is_a_marked_line(monkeypatch):
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: False)
    code = by_key(make_steps())["device"].code
    assert "device = 'cpu'" not in code  # the tutorial's own choice needs no extra line


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


def test_prediction_is_the_argmax_and_named(en_steps):
    step = by_key(en_steps)["predict"]
    predicted = int(step.tensors["y_pred"][0])
    assert predicted == int(step.tensors["pred_probab"].argmax(1)[0])
    facts = dict(next(b for b in step.blocks if isinstance(b, Facts)).items)
    assert locale("en")["classes"][predicted] in facts["predicted"]
    assert f"Predicted class: tensor([{predicted}])" in step.output


def test_relu_zeroes_exactly_the_negatives(en_steps):
    step = by_key(en_steps)["relu"]
    before, after = step.tensors["before"], step.tensors["after"]
    assert torch.equal(after, before.clamp(min=0))
    assert f"{int((before < 0).sum())} of 60" in render([step])


def test_flatten_keeps_pixels_in_row_order(en_steps):
    steps = by_key(en_steps)
    batch = steps["minibatch"].tensors["input_image"]
    assert torch.equal(steps["flatten"].tensors["flat_image"], batch.reshape(3, 784))


def test_the_shown_model_is_the_one_fashionnet_loads(en_steps):
    model, _ = load_model("random", 0, CPU)
    text = by_key(en_steps)["parameters"].output
    first = model.linear_relu_stack[0].bias[:2]
    assert f"{first[0].item():.4f}" in text


def test_same_seed_same_output_and_different_seed_different_numbers():
    first, again, other = make_steps(seed=7), make_steps(seed=7), make_steps(seed=8)
    assert render(first) == render(again)
    assert render(first) != render(other)


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
    model, _ = load_model("random", 0, CPU)
    steps = by_key(make_steps())
    flat = steps["flatten"].tensors["flat_image"]
    first = model.linear_relu_stack[0]
    copy = flat @ first.weight[:20].T + first.bias[:20]
    assert not torch.allclose(steps["linear"].tensors["hidden1"], copy.detach())


# --- Languages ---------------------------------------------------------------------------------------


def _placeholders(value) -> set:
    if isinstance(value, list):
        return {len(value)}
    return {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}


def test_every_language_file_has_the_same_keys_and_placeholders():
    langs = languages()
    assert {"en", "zh"} <= set(langs)
    reference = locale("en")
    for lang in langs:
        data = locale(lang)
        assert set(data) == set(reference), lang
        for key, value in reference.items():
            assert _placeholders(data[key]) == _placeholders(value), (lang, key)


def test_language_files_ship_with_the_package():
    import tomllib

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert "locales/*.json" in project["tool"]["setuptools"]["package-data"]["fashionnet"]


PROSE_KEYS = ("title.", "explain.", "note.", "ui.", "weights.", "notebook.", "inside.", "cli.")


def _zh_prose() -> dict[str, str]:
    return {k: v for k, v in locale("zh").items() if k.startswith(PROSE_KEYS) and isinstance(v, str)}


def test_chinese_prose_uses_full_width_punctuation():
    cjk = r"[\u4e00-\u9fff]"
    for key, value in _zh_prose().items():
        assert not re.search(rf"{cjk}[,:;()]|[,:;()]{cjk}", value), (key, value)
        assert not re.search(rf"{cjk}, |, {cjk}", value), (key, value)  # lists of Chinese words take 、


def test_chinese_uses_the_pages_terms():
    zh = "".join(_zh_prose().values())
    for term in (
        "展平",
        "注册",
        "跟踪",
        "大小",
        "调用",
        "后台操作",
        "非线性映射",
        "未经归一化的原始分数",
        "已训练权重",
    ):
        assert term in zh, term
    for avoided in ("摊成", "登记", "尺寸", "弯曲"):
        assert avoided not in zh, avoided
    assert locale("zh")["ui.accelerator"] + locale("zh")["ui.colon"] == "加速器可用："


def test_explanations_are_our_own_words():
    tutorial = [
        "神经网络由对数据执行操作的层/模块组成",
        "如果当前加速器可用，我们将使用它",
        "不要直接调用model.forward()",
        "nn.Sequential 是一个有序的模块容器",
        "线性层 是一个模块",
        "非线性激活函数在模型的输入和输出之间创建复杂的映射关系",
    ]
    zh = "".join(_zh_prose().values())
    assert not any(sentence in zh for sentence in tutorial)
    en = " ".join(v for v in locale("en").values() if isinstance(v, str))
    assert "Do not call model.forward() directly" not in en
    assert "is an ordered container of modules" not in en


def test_english_has_no_cjk_and_chinese_has(fake_dir):
    for real in (False, True):
        kwargs = {"real": True, "data_dir": fake_dir, "weights": None} if real else {}
        assert cjk_free(render(make_steps("en", **kwargs)))
        zh = render(make_steps("zh", **kwargs))
        assert not cjk_free(zh) and "nn.Linear" in zh
        assert re.search(r"加速器可用：\s*[否是]", zh)


# --- Layout ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("width", [80, 60])
def test_layout_follows_the_width_and_never_breaks_output_lines(lang, width, fake_dir):
    steps = make_steps(lang, real=True, data_dir=fake_dir, width=width, weights=None)
    text = render(steps, width=width)
    lines = text.splitlines()
    whole = set()
    for step in steps:
        whole |= set(step.output.splitlines()) | set(step.code.splitlines())
        for line in step.output.splitlines() + step.code.splitlines():
            if line.strip():
                assert line in lines, (step.key, line)  # printed whole, never folded
    too_long = [line for line in lines if cell_len(line) > width and line not in whole]
    assert not too_long
    assert not [line for line in lines if line != line.rstrip()]
    assert "…" not in text


def test_below_60_columns_still_renders(en_steps):
    assert "Step 13/13" in render(en_steps, width=40)


def test_walkthrough_at_60_columns(cli):
    proc = cli("walkthrough", "--weights", "random", env={"COLUMNS": "60"})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "torch.set_printoptions(linewidth=47)  # added by fashionnet" in out
    from tests.test_model import TUTORIAL_STRUCTURE

    lines = out.splitlines()
    for line in TUTORIAL_STRUCTURE.splitlines()[1:]:
        assert line in lines
    tensor_rows = [line for line in lines if re.match(r"^\s+\[?\[?\s*-?\d\.\d{4},", line)]
    assert tensor_rows and all(len(line) <= 60 for line in tensor_rows)
    assert not [line for line in lines if line != line.rstrip()]


def test_step_title():
    steps = make_steps("en")
    console = Console(width=80, color_system=None, record=True)
    console.print(render_step(steps[4], 5, len(steps)))
    assert "Step 5/13 · One image through the model" in console.export_text()


def test_chinese_paragraph_breaks_between_characters():
    lines = Paragraph("这是一段没有空格的中文" * 6).lines(20)
    assert len(lines) > 1
    assert all(cell_len(line) <= 20 for line in lines)
    assert all(cell_len(line) >= 18 for line in lines[:-1])
    assert not any(line.startswith(("，", "。")) for line in Paragraph("甲乙丙丁，" * 10).lines(9))


# --- Real data ---------------------------------------------------------------------------------------


def test_real_mode_shows_true_labels_and_picks_by_seed(fake_dir):
    from fashionnet.data import load_split

    test = load_split("test", fake_dir)
    steps = by_key(make_steps("en", seed=1, real=True, data_dir=fake_dir))
    index = int(re.search(r"^i = (\d+)", steps["forward"].code, re.M).group(1))
    assert torch.equal(steps["forward"].tensors["X"][0], test.images[index].float() / 255)
    names = locale("en")["classes"]
    text = render([steps["forward"], steps["minibatch"]])
    assert f"true label: {names[int(test.labels[index])]}" in text and f"test image #{index}" in text
    other = by_key(make_steps("en", seed=2, real=True, data_dir=fake_dir))
    assert other["forward"].code != steps["forward"].code
    zh = render(make_steps("zh", seed=1, real=True, data_dir=fake_dir))
    assert "真实标签：" in zh


# --- --step and --interactive ------------------------------------------------------------------------


@pytest.mark.parametrize("step", [0, 14, -1])
def test_step_out_of_range_lists_the_valid_range(step):
    with pytest.raises(UsageError, match="1 to 13"):
        check_step(step)
    with pytest.raises(UsageError, match="1 到 13"):
        check_step(step, "zh")


def test_one_step_only(en_steps):
    panels = list(iter_steps(en_steps, only=4))
    assert len(panels) == 1
    console = Console(width=80, color_system=None, record=True)
    console.print(panels[0])
    text = console.export_text()
    assert "Step 4/13" in text and "Step 3/13" not in text


def _never(prompt):
    raise AssertionError("waited for Enter without a terminal")


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_interactive_never_blocks_without_a_terminal(en_steps):
    console = Console(width=80, color_system=None, record=True, file=io.StringIO())
    show_walkthrough(console, en_steps, interactive=True, stdin=io.StringIO(), wait=_never)
    assert "Step 13/13" in console.export_text()
    console = Console(width=80, color_system=None, file=io.StringIO())
    show_walkthrough(console, en_steps, interactive=True, stdin=FakeTTY(), wait=_never)


def test_interactive_waits_between_steps_on_a_terminal(en_steps):
    prompts = []
    console = Console(width=80, color_system=None, force_terminal=True, file=io.StringIO())
    show_walkthrough(console, en_steps, interactive=True, stdin=FakeTTY(), wait=prompts.append)
    assert len(prompts) == len(en_steps) - 1 and "Enter" in prompts[0]


def test_end_of_input_stops_quietly(en_steps):
    def eof(prompt):
        raise EOFError

    console = Console(width=80, color_system=None, force_terminal=True, record=True, file=io.StringIO())
    show_walkthrough(console, en_steps, interactive=True, stdin=FakeTTY(), wait=eof)
    text = console.export_text()
    assert "Step 1/13" in text and "Step 2/13" not in text


# --- The notebook ------------------------------------------------------------------------------------


@pytest.mark.xdist_group("fresh-python")  # one worker runs fresh_runs once
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_notebook_runs_top_to_bottom_and_prints_what_the_walk_showed(fresh_runs, lang):
    notebook, result = fresh_runs[("notebook", lang)]
    assert notebook["nbformat"] == 4
    code_cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    markdown = "".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown")
    steps = make_steps(lang, seed=5, width=80)
    from fashionnet.tutorial_code import figure_code

    drawing = {figure_code(step.key, lang) for step in steps} - {None}
    pictures = [cell for cell in code_cells if "".join(cell["source"]) in drawing]
    assert ["".join(cell["source"]) for cell in code_cells if cell not in pictures] == [step.code for step in steps]
    assert len(pictures) == len(drawing) >= 4, "X, the probabilities, the minibatch and the first layer's weights"
    for cell in pictures:  # each drawn here, its figure attached as Jupyter shows it
        (shown,) = cell["outputs"]
        assert shown["output_type"] == "display_data"
        assert base64.b64decode(shown["data"]["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert all(markdown_text(step.explanation) in markdown for step in steps)
    assert "`__init__`" in markdown and not re.search(r"(?<!`)__init__", markdown), "dunders render as code"
    assert "error" not in result, result.get("error")
    for cell, output in zip(code_cells, result["outputs"], strict=True):
        stored = "".join(cell["outputs"][0]["text"]) if cell["outputs"] and cell not in pictures else ""
        assert output == stored


@pytest.mark.xdist_group("fresh-python")  # one worker runs fresh_runs once
def test_notebook_with_relative_paths_runs_from_its_own_folder(fresh_runs):
    """Issue 17: `--real --weights mine.safetensors --data-dir data --notebook sub/w.ipynb` run from its
    own folder, as Jupyter runs it (it failed at the weights cell, then at the data cell)."""
    notebook, result = fresh_runs[("relative",)]
    assert "error" not in result, result.get("error")
    code = "".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code")
    assert "mine.safetensors" in code and "'/" in code, "absolute paths in the notebook"
    stored = [
        "".join(c["outputs"][0].get("text", "")) if c["outputs"] else ""
        for c in notebook["cells"]
        if c["cell_type"] == "code"
    ]
    assert result["outputs"] == stored


def test_notebook_is_not_overwritten_without_force(invoke, tmp_path):
    path = tmp_path / "walk.ipynb"
    path.write_text("mine")
    result = invoke("walkthrough", "--notebook", str(path), "--step", "1")
    assert result.exit_code == 2 and "refusing to overwrite" in result.stderr
    assert path.read_text() == "mine"
    assert invoke("walkthrough", "--notebook", str(path), "--step", "1", "--force").exit_code == 0
    assert json.loads(path.read_text())["nbformat"] == 4
    bad = invoke("walkthrough", "--notebook", str(tmp_path / "walk.txt"))
    assert bad.exit_code == 2 and ".ipynb" in bad.stderr
    dangling = tmp_path / "link.ipynb"
    dangling.symlink_to(tmp_path / "nowhere" / "target.ipynb")
    result = invoke("walkthrough", "--notebook", str(dangling), "--step", "1")
    assert result.exit_code == 2 and "refusing to overwrite" in result.stderr, "a link counts as a file"


# CJK radicals, punctuation, kana, ideographs, hangul and full-width forms.
_CJK = re.compile(r"[\u2e80-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


def cjk_free(value: str) -> bool:
    """True when `value` has no Chinese/Japanese/Korean characters or full-width punctuation."""
    return _CJK.search(value) is None


def test_every_locale_file_is_a_lang_choice():
    from fashionnet.cli import Lang
    from fashionnet.language import languages

    assert [lang.value for lang in Lang] == list(languages())


# --- Mends: no Generator echoed, the calibrated line, thumbnails, names kept whole -------------------


def test_real_step_6_shows_the_calibrated_answer_predict_gives(fake_dir):
    from fashionnet.predict import classify

    steps = by_key(make_steps("en", seed=4, real=True, data_dir=fake_dir, weights=None))
    facts = dict(next(b for b in steps["predict"].blocks if isinstance(b, Facts)).items)
    model, info = load_model(None, 0, CPU)
    pixels = (steps["forward"].tensors["X"] * 255).round().byte().numpy()
    probs, indices = classify(pixels, model, CPU, top_k=1, temperature=info.temperature)
    name = locale("en")["classes"][int(indices[0, 0])]
    from fashionnet.render.predict import percent

    expected = f"{name} {percent(probs[0, 0])} (logits / {info.temperature:g}, as predict reports it)"
    assert facts["calibrated"] == expected
    notes = [b.text for b in steps["predict"].blocks if isinstance(b, Note)]
    assert notes and "temperature" in notes[0] and "label smoothing" in notes[0]
    raw = float(steps["predict"].tensors["pred_probab"].max())
    assert probs[0, 0] > raw, "the calibrated answer is surer than the tutorial's raw softmax"
    facts = next(b for b in by_key(make_steps("en"))["predict"].blocks if isinstance(b, Facts))
    assert "calibrated" not in dict(facts.items)


def test_minibatch_pictures_are_full_size_where_three_fit():
    steps = make_steps("en")
    minibatch = render([by_key(steps)["minibatch"]], width=100)
    narrow = render([by_key(steps)["minibatch"]], width=80)
    picture_rows = lambda text: [line for line in text.splitlines() if re.fullmatch(r"[ .:=+*#%@-]{20,}", line)]  # noqa: E731
    assert len(picture_rows(minibatch)) == 14 and len(picture_rows(narrow)) == 7  # 28 pixel rows, or halved


@pytest.mark.parametrize("width", [60, 40])
def test_chinese_class_names_are_never_broken(fake_dir, width):
    from fashionnet import class_words
    from tests.test_explain import broken_names

    text = render(make_steps("zh", seed=4, real=True, data_dir=fake_dir, weights=None, width=width), width=width)
    assert not broken_names(text, class_words("zh")), width
    assert "…" not in text


# --- --image: the steps on the user's picture -------------------------------------------------------


@pytest.mark.xdist_group("fresh-python")  # one worker runs fresh_runs once
def test_image_steps_print_what_they_show_and_classify_the_picture(image_steps, fresh_runs):
    steps = by_key(image_steps)
    assert f"picture = torch.from_numpy(load_image({PHOTO!r}))  # added by fashionnet" in steps["forward"].code
    _steps, result = fresh_runs[("image",)]
    assert "error" not in result, result.get("error")
    assert result["outputs"] == [step.output for step in image_steps]
    from fashionnet.images import load_view

    view = load_view(ROOT / PHOTO)
    assert torch.equal(steps["forward"].tensors["X"][0], torch.from_numpy(view.image).float() / 255)
    assert steps["predict"].output == "Predicted class: tensor([0])\n"  # the photo is a T-shirt
    facts = dict(next(b for b in steps["predict"].blocks if isinstance(b, Facts)).items)
    model, info = load_model(None, 0, CPU)
    from fashionnet.predict import predict_paths

    (answer,) = predict_paths([str(ROOT / PHOTO)], model, CPU, top_k=1, temperature=info.temperature)
    drawings = len(view.drawings())
    said = facts["predict says"]  # predict's own answer, every drawing it averages, labelled as such
    assert said.endswith(f"(the mean logits of {drawings} drawings / {info.temperature:g})") and drawings > 1
    from fashionnet.render.predict import percent

    assert said.startswith(
        f"{answer.label} {percent(answer.probability)} "
        if answer.sure
        else f"not sure — looks most like {answer.label} {percent(answer.probability)} "
    )
    own = (steps["forward"].tensors["logits"][0].double() / info.temperature).softmax(0)  # drawing #1 alone
    assert facts["calibrated, drawing #1"].startswith(f"T-shirt/top {percent(float(own.max()))} (these logits / ")
    batch = steps["minibatch"].tensors["input_image"]
    assert torch.equal(batch[1], batch[0].flip(1)) and torch.equal(batch[2], batch[0].flip(0))
    assert "# input_image = torch.rand(3,28,28)  # added by fashionnet" in steps["sequential"].code
    text = render(image_steps)
    assert "your picture" in text and "mirrored" in text and "upside down" in text


def test_image_option_through_the_cli(invoke, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = invoke("walkthrough", "--image", PHOTO, "--step", "6")
    assert result.exit_code == 0, result.stderr
    assert "calibrated, drawing #1:  T-shirt/top" in result.stdout and "predict says:" in result.stdout
    notebook = tmp_path / "walk.ipynb"
    assert invoke("walkthrough", "--image", PHOTO, "--step", "1", "--notebook", str(notebook)).exit_code == 0
    assert f"load_image({str(ROOT / PHOTO)!r})" in notebook.read_text(), "absolute: Jupyter runs it from its folder"
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    failed = invoke("walkthrough", "--image", str(bad))
    assert failed.exit_code == 1 and failed.stderr.startswith(f"error: {bad}: not an image")
    assert "Using" not in failed.stderr, "the picture is checked before the model is loaded"
    both = invoke("walkthrough", "--image", PHOTO, "--real")
    assert both.exit_code == 2 and "choose one of --real and --image" in both.stderr
    assert invoke("walkthrough", "--image", "-").exit_code == 2


def test_chinese_words_of_the_cli(invoke, tmp_path, monkeypatch):
    result = invoke("walkthrough", "--lang", "zh", "--step", "99")
    assert result.exit_code == 2 and result.stderr.startswith("错误：") and not result.stderr.startswith("错误： ")
    parse = invoke("walkthrough", "--lang", "zh", "--seed", "x")
    assert parse.exit_code == 2 and " walkthrough: 错误：Invalid value for '--seed'" in parse.stderr
    notebook = tmp_path / "walk.ipynb"
    wrote = invoke("walkthrough", "--lang", "zh", "--step", "1", "--notebook", str(notebook))
    assert f"已写入 {notebook}" in wrote.stderr
    import fashionnet.walkthrough

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(fashionnet.walkthrough, "build_steps", interrupted)
    stopped = invoke("walkthrough", "--lang", "zh")
    assert stopped.exit_code == 130 and stopped.stderr.splitlines()[-1] == "已中断。"
    assert invoke("walkthrough").stderr.splitlines()[-1] == "Interrupted."


def test_print_options_come_back_even_where_torch_hides_them(monkeypatch):
    """tutorial_session reads torch's private PRINT_OPTS (torch has no public getter): the caller's options
    come back, and a torch without that attribute gets the default profile back instead of failing."""
    import torch

    from fashionnet.tutorial_code import tutorial_session

    with torch._tensor_str.printoptions(precision=2):
        with tutorial_session():
            assert torch._tensor_str.PRINT_OPTS.precision == 4
        assert torch._tensor_str.PRINT_OPTS.precision == 2
        real = torch._tensor_str
        monkeypatch.setattr(torch, "_tensor_str", object())  # a torch that keeps its options elsewhere
        with tutorial_session():
            pass
        monkeypatch.undo()
        assert real.PRINT_OPTS.precision == 4
