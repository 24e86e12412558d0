import json

import pytest
import torch
from rich.console import Console

from fashionnet.introspect import parameter_facts, summarize
from fashionnet.model import build_model
from fashionnet.render.summary import layer_rows, params_view, summary_view
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
        401_920,
        0,
        262_656,
        0,
        5_130,
    ]
    assert [layer.params for layer in facts.layers if not layer.name.startswith("linear_relu_stack.")] == [0, 0, 0]
    assert facts.layers[0].params_total == 669_706


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
        "linear_relu_stack.0.bias",
        "linear_relu_stack.2.bias",
        "linear_relu_stack.4.bias",
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
        "name": "linear_relu_stack.4",
        "type": "Linear",
        "depth": 2,
        "output_shape": [4, 10],
        "params": 5130,
        "trainable": 5130,
        "params_total": 5130,
        "mult_adds": 4 * 5130,
        "output_bytes": 4 * 10 * 4,
        "leaf": True,
    }
    assert data["weights"]["source"] == "random" and data["structure"] == TUTORIAL_STRUCTURE
    # Each layer counts only its own parameters: no container repeats its children's.
    assert sum(layer["params"] for layer in data["layers"]) == 669_706
    assert sum(layer["params"] for layer in data["layers"] if layer["leaf"]) == 669_706
    assert data["total_mult_adds"] == 4 * 669_706


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


# --- torchinfo's figures -----------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [1, 64, 7])
def test_summary_figures_equal_torchinfo(batch):
    torchinfo = pytest.importorskip("torchinfo")  # in the dev extra
    model = build_model()
    ours = summarize(model, torch.device("cpu"), batch_size=batch)
    theirs = torchinfo.summary(model, input_size=(batch, 28, 28), device="cpu", verbose=0, depth=10)
    assert ours.total_params == theirs.total_params
    assert ours.trainable_params == theirs.trainable_params
    assert ours.total_mult_adds == theirs.total_mult_adds
    assert ours.forward_backward_bytes == theirs.total_output_bytes
    assert ours.param_bytes == theirs.total_param_bytes
    # torchinfo measures the input with sys.getsizeof (64 bytes of Python object on top of the data):
    # the printed MB figures, two decimals, are the same.
    mb = ours.sizes_mb()
    to_mb = theirs.to_megabytes
    assert f"{mb['input_mb']:.2f}" == f"{to_mb(theirs.total_input):.2f}"
    assert f"{mb['forward_backward_mb']:.2f}" == f"{to_mb(theirs.total_output_bytes):.2f}"
    assert f"{mb['params_mb']:.2f}" == f"{to_mb(theirs.total_param_bytes):.2f}"
    total = theirs.total_input + theirs.total_output_bytes + theirs.total_param_bytes
    assert f"{mb['total_mb']:.2f}" == f"{to_mb(total):.2f}"
    # Per layer: the leaves' params and mult-adds, in torchinfo's order.
    their_leaves = [
        (info.num_params, info.macs, list(info.output_size)) for info in theirs.summary_list if info.is_leaf_layer
    ]
    our_leaves = [(layer.params, layer.mult_adds, layer.output_shape) for layer in ours.layers if layer.leaf]
    assert our_leaves == their_leaves


def test_summary_view_shows_torchinfo_figures_for_batch_64():
    text = render(summary_view(summarize(build_model(), torch.device("cpu"), 64), "cpu", "random"))
    for figure in ("25,722,880", "16,809,984", "328,320", "42.86 M", "0.20 MB", "0.53 MB", "2.68 MB", "3.41 MB"):
        assert figure in text
    one = render(summary_view(summarize(build_model(), torch.device("cpu"), 1), "cpu", "random"))
    for figure in ("0.67 M", "0.00 MB", "0.01 MB", "2.69 MB"):
        assert figure in one


def test_depth_folds_containers_like_torchinfo():
    facts = summarize(build_model(), torch.device("cpu"), 2)
    rows = layer_rows(facts, depth=1)
    assert [r[0] for r in rows] == ["NeuralNetwork", "└─flatten (Flatten)", "└─linear_relu_stack (Sequential)"]
    assert rows[2][2:] == ("669,706", f"{2 * 669_706:,}")
    assert [r[0] for r in layer_rows(facts, depth=0)] == ["NeuralNetwork"]
    assert len(layer_rows(facts)) == 8


def test_summary_json_leaves_history_out_unless_asked(invoke):
    plain = json.loads(invoke("summary", "--json").stdout)
    assert "history" not in plain["weights"]["metadata"]
    full = json.loads(invoke("summary", "--json", "--history").stdout)
    assert len(full["weights"]["metadata"]["history"]) == full["weights"]["metadata"]["epochs"]
    assert len(json.dumps(plain)) < len(json.dumps(full)) / 2


def _structure_lines_whole(out: str) -> None:
    lines = out.splitlines()
    for line in TUTORIAL_STRUCTURE.splitlines():
        assert line in lines, line


@pytest.mark.parametrize("columns", ["80", "60", "40"])
def test_summary_at_narrow_widths_keeps_lines_and_figures_whole(cli, columns):
    result = cli("summary", "--weights", "random", "--batch-size", "64", env={"COLUMNS": columns})
    assert result.returncode == 0
    out = result.stdout.decode()
    _structure_lines_whole(out)  # module lines are never broken, even where they are wider
    for figure in ("401,920", "25,722,880", "42,861,184", "669,706", "3.41 MB", "[64, 28, 28]"):
        assert figure in out
    assert "…" not in out
    assert not [line for line in out.splitlines() if line != line.rstrip()]  # no trailing spaces
    longest_table_line = max(len(line) for line in out.splitlines() if line not in TUTORIAL_STRUCTURE)
    assert longest_table_line <= int(columns)


def test_params_output_has_no_trailing_spaces_and_narrowed_previews_keep_their_column(cli):
    result = cli("params", "--weights", "random", "--name", "*.0.weight", "--values", "20", env={"COLUMNS": "60"})
    out = result.stdout.decode()
    lines = out.splitlines()
    assert not [line for line in lines if line != line.rstrip()]
    start = next(i for i, line in enumerate(lines) if line.startswith("values[:2]"))
    column = lines[start].index("[", len("values[:2]"))
    preview = lines[start:]
    preview = preview[: next(i for i, line in enumerate(preview) if not line.strip())]
    assert len(preview) == 2  # 20 values do not fit 60 columns: each row shows fewer, one line per row ...
    assert all("..." in line and line.endswith("]") for line in preview)
    assert all(line[:column].strip() in ("", "values[:2]") for line in preview)  # ... in their column
    assert max(len(line) for line in lines) <= 60


# --- What the first layer learned ---------------------------------------------------------------------


def test_first_layer_neurons_are_the_weight_rows_as_images():
    from fashionnet.introspect import first_layer_neurons

    model = build_model(seed=2)
    neurons = first_layer_neurons(model, 3)
    weight = model.linear_relu_stack[0].weight.detach()
    assert [n.index for n in neurons] == [0, 1, 2]
    assert torch.equal(torch.tensor(neurons[1].weights), weight[1].reshape(28, 28))
    assert neurons[1].scale == pytest.approx(weight[1].abs().max().item())
    assert len(first_layer_neurons(model, 10_000)) == 512


def test_params_show_draws_the_chosen_number_of_neurons(cli):
    result = cli("params", "--show", "--units", "3", env={"COLUMNS": "100"})
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert "unit 0" in out and "unit 2" in out and "unit 3" not in out and "neuron" not in out
    picture_rows = [line for line in out.splitlines() if len(line) >= 28 and set(line[:28]) <= set(" .:-=+*#%@")]
    assert len(picture_rows) == 14  # 28 pixel rows, two per line; three pictures side by side at 100 columns
    assert not [line for line in out.splitlines() if line != line.rstrip()]
    narrow = cli("params", "--show", "--neurons", "3", env={"COLUMNS": "40"}).stdout.decode()
    assert max(len(line) for line in narrow.splitlines() if line.startswith(tuple(" .:-=+*#%@"))) <= 40


def test_params_plot_writes_a_png_and_refuses_to_overwrite(invoke, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "neurons.png"
    result = invoke("params", "--weights", "random", "--neurons", "4", "--plot", str(path))
    assert result.exit_code == 0, result.stderr
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = invoke("params", "--weights", "random", "--plot", str(path))
    assert again.exit_code == 2 and "refusing to overwrite" in again.stderr
    assert invoke("params", "--weights", "random", "--plot", str(path), "--force").exit_code == 0
    bad = invoke("params", "--plot", str(tmp_path / "neurons.jpg"))
    assert bad.exit_code == 2 and ".png" in bad.stderr


def test_params_show_json_gives_the_neuron_weights(invoke):
    data = json.loads(invoke("params", "--weights", "random", "--show", "--json", "--neurons", "2").stdout)
    assert [n["index"] for n in data["neurons"]] == [0, 1]
    weight = build_model().linear_relu_stack[0].weight.detach()
    assert torch.allclose(torch.tensor(data["neurons"][1]["weights"]), weight[1].reshape(28, 28))


def test_summary_json_follows_depth_and_is_the_same_bytes_every_time(invoke):
    full = invoke("summary", "--json")
    assert invoke("summary", "--json").stdout == full.stdout
    folded = json.loads(invoke("summary", "--json", "--depth", "1").stdout)
    assert folded["depth"] == 1
    assert [layer["name"] for layer in folded["layers"]] == ["", "flatten", "linear_relu_stack"]
    assert folded["layers"][-1]["params_total"] == 669_706 == folded["total_params"]
    assert json.loads(full.stdout)["depth"] is None and len(json.loads(full.stdout)["layers"]) == 8


def test_checkpoint_metadata_comes_back_in_key_order():
    # safetensors hands metadata over as a hash map, in an order that changes from process to process
    from fashionnet.weights import decode_metadata

    raw = {"seed": "0", "classes": "[]", "epochs": "3", "format": "x", "history": "[]"}
    assert list(decode_metadata(raw)) == ["classes", "epochs", "history", "seed"]
    assert list(decode_metadata(dict(reversed(list(raw.items()))))) == ["classes", "epochs", "history", "seed"]


@pytest.mark.parametrize("width", [40, 60])
def test_params_preview_keeps_one_line_per_tensor_row(invoke, monkeypatch, width):
    monkeypatch.setenv("COLUMNS", str(width))
    out = invoke("params", "--name", "linear_relu_stack.0.weight", "--rows", "3").stdout
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("values[:3]"))
    rows = lines[start : start + 4]
    assert all(line.rstrip().endswith("]") for line in rows[:3]) and "[" in rows[0] and not rows[3].strip()
    assert max(len(line) for line in lines) <= width and "..." in rows[0]


def test_params_says_why_the_first_biases_are_large(invoke):
    shipped = invoke("params", "--name", "linear_relu_stack.0.bias").stdout
    assert "folded in" in shipped and "standardised the pixels" in shipped
    assert "folded in" not in invoke("params", "--name", "linear_relu_stack.0.bias", "--weights", "random").stdout


def test_summary_explains_mult_adds_with_bias_adds(invoke):
    out = " ".join(invoke("summary").stdout.split())
    assert "linear_relu_stack.0 makes 784 × 512 multiply-adds and 512 bias adds per image, 401,920." in out
