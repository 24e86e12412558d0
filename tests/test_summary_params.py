import json

import torch
from rich.console import Console

from fashionnet.introspect import parameter_facts, summarize
from fashionnet.model import build_model
from fashionnet.render.summary import params_view, summary_view
from tests.test_model import TUTORIAL_PARAMS, TUTORIAL_STRUCTURE


def render(renderable) -> str:
    console = Console(width=80, color_system=None, record=True)
    console.print(renderable)
    return console.export_text()


def test_summary_counts_match_the_parameters():
    model = build_model()
    facts = summarize(model, torch.device("cpu"), batch_size=5)
    assert facts.total_params == sum(p.numel() for p in model.parameters()) == 669_706
    assert facts.trainable_params == 669_706 and facts.non_trainable_params == 0
    assert facts.param_bytes == 669_706 * 4
    shapes = {layer.name: layer.output_shape for layer in facts.layers}
    assert shapes == {
        "": [5, 10],
        "flatten": [5, 784],
        "linear_relu_stack": [5, 10],
        "linear_relu_stack.0": [5, 512],
        "linear_relu_stack.1": [5, 512],
        "linear_relu_stack.2": [5, 512],
        "linear_relu_stack.3": [5, 512],
        "linear_relu_stack.4": [5, 10],
    }
    assert [layer.params for layer in facts.layers if layer.name.startswith("linear_relu_stack.")] == [
        401_920, 0, 262_656, 0, 5_130
    ]


def test_summary_view_fits_80_columns_and_shows_the_structure():
    facts = summarize(build_model(), torch.device("cpu"))
    text = render(summary_view(facts, "Using cpu device", "random init, seed 0"))
    assert TUTORIAL_STRUCTURE in text
    assert "669,706" in text and "2.68 MB" in text and "401,920" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_parameter_facts_match_the_tensors():
    model = build_model(seed=3)
    facts = parameter_facts(model, rows=2, values=4)
    assert [(f.name, tuple(f.shape)) for f in facts] == TUTORIAL_PARAMS
    first = facts[0]
    weight = model.linear_relu_stack[0].weight.detach()
    assert first.size == "torch.Size([512, 784])"
    assert first.numel == 512 * 784 and first.dtype == "float32" and first.requires_grad
    assert abs(first.mean - weight.mean().item()) < 1e-7
    assert abs(first.max - weight.max().item()) < 1e-7
    # preview = param[:2], each row cut to 2 first and 2 last values with a gap marker
    assert len(first.preview) == 2
    assert first.preview[0][:2] == [round(v, 4) for v in weight[0, :2].tolist()]
    assert first.preview[0][2] is None
    assert first.preview[1][-1] == round(weight[1, -1].item(), 4)


def test_parameter_pattern_selects_by_glob_or_substring():
    model = build_model()
    assert [f.name for f in parameter_facts(model, "*.bias")] == [
        "linear_relu_stack.0.bias", "linear_relu_stack.2.bias", "linear_relu_stack.4.bias"
    ]
    assert [f.name for f in parameter_facts(model, "4.weight")] == ["linear_relu_stack.4.weight"]
    assert parameter_facts(model, "nothing-like-this") == []


def test_params_view_fits_80_columns():
    text = render(params_view(parameter_facts(build_model()), rows=2))
    assert "torch.Size([512, 784])" in text and "6 parameter tensor(s), 669,706 values" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_summary_command(invoke):
    result = invoke("summary", "--device", "cpu", "--weights", "random", "--seed", "1")
    assert result.exit_code == 0
    assert TUTORIAL_STRUCTURE in result.stdout
    assert "669,706" in result.stdout and "random init, seed 1" in result.stdout
    assert "Using cpu device" in result.stderr


def test_summary_json(invoke):
    result = invoke("summary", "--device", "cpu", "--json", "--batch-size", "4", "--weights", "random")
    data = json.loads(result.stdout)
    assert data["total_params"] == 669_706 and data["device"] == "cpu"
    assert data["input_shape"] == [4, 28, 28]
    assert data["layers"][-1] == {
        "name": "linear_relu_stack.4", "type": "Linear", "depth": 2, "output_shape": [4, 10],
        "params": 5130, "trainable": 5130,
    }
    assert data["weights"]["source"] == "random" and data["structure"] == TUTORIAL_STRUCTURE


def test_params_command_and_json(invoke):
    result = invoke("params", "--weights", "random", "--name", "*.0.*", "--rows", "1", "--values", "2")
    assert result.exit_code == 0
    assert "linear_relu_stack.0.weight" in result.stdout and "linear_relu_stack.2" not in result.stdout
    data = json.loads(invoke("params", "--weights", "random", "--json").stdout)
    assert [p["name"] for p in data["parameters"]] == [name for name, _ in TUTORIAL_PARAMS]
    assert data["parameters"][0]["size"] == "torch.Size([512, 784])"


def test_params_unknown_pattern_is_a_usage_error(invoke):
    result = invoke("params", "--weights", "random", "--name", "conv*")
    assert result.exit_code == 2
    assert "no parameter matches 'conv*'" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_same_seed_same_numbers(invoke):
    a = invoke("params", "--weights", "random", "--seed", "5", "--json").stdout
    b = invoke("params", "--weights", "random", "--seed", "5", "--json").stdout
    c = invoke("params", "--weights", "random", "--seed", "6", "--json").stdout
    assert a == b and a != c
