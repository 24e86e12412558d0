"""`evaluate --mistakes`: the confusion matrix's off-diagonal cells as pictures."""

import json
import re

import pytest
import torch

from fashionnet import CLASSES, class_index, data
from fashionnet.evaluate import find_mistakes
from tests.conftest import needs_real_data


def test_class_names_by_name_start_or_index():
    assert class_index("Shirt") == 6 and class_index("shirt") == 6 and class_index(" 6 ") == 6
    assert class_index("t-shirt") == 0 and class_index("ankle") == 9 and class_index("Ankle boot") == 9
    assert class_index("s") is None  # Sandal, Shirt, Sneaker: not one class
    assert class_index("10") is None and class_index("hat") is None and class_index("") is None


def test_mistakes_are_the_wrong_answers_surest_first():
    logits = torch.tensor([[3.0, 0, 0], [0, 2.0, 0], [0, 0, 5.0], [4.0, 0, 0], [0, 1.0, 0]])
    labels = torch.tensor([0, 2, 1, 1, 1])
    images = torch.arange(5 * 28 * 28, dtype=torch.int64).reshape(5, 28, 28) % 256
    total, found = find_mistakes(logits, labels, images)
    assert total == 3 and [m.index for m in found] == [2, 3, 1]
    assert [(m.true, m.predicted) for m in found] == [(1, 2), (1, 0), (2, 1)]
    assert found[0].probability == pytest.approx(torch.tensor([0, 0, 5.0]).softmax(0)[2].item())
    assert found[0].image == images[2].tolist()
    assert find_mistakes(logits, labels, images, true_class=2)[0] == 1
    assert [m.index for m in find_mistakes(logits, labels, images, limit=1)[1]] == [2]
    assert find_mistakes(logits / 2, labels, images, temperature=0.5)[1][0].probability == pytest.approx(
        found[0].probability
    )


@needs_real_data
def test_shirt_mistakes_match_the_confusion_matrix(invoke):
    evaluation = json.loads(invoke("evaluate", "--json").stdout)
    shirt = CLASSES.index("Shirt")
    result = invoke("evaluate", "--mistakes", "--class", "Shirt", "--limit", "5", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    row = evaluation["confusion"][shirt]
    assert report["misclassified"] == sum(row) - row[shirt] and report["samples"] == sum(row)
    assert report["shown"] == len(report["mistakes"]) == 5 and report["class"] == "Shirt"
    test = data.load_split("test")
    for m in report["mistakes"]:
        assert m["true"] == "Shirt" != m["predicted"] and m["image"] == test.images[m["index"]].tolist()
    probabilities = [m["probability"] for m in report["mistakes"]]
    assert probabilities == sorted(probabilities, reverse=True)
    assert report["accuracy"] == evaluation["accuracy"]


@needs_real_data
@pytest.mark.parametrize("width", [40, 120])
def test_the_grid_follows_the_width(invoke, monkeypatch, width):
    monkeypatch.setenv("COLUMNS", str(width))
    result = invoke("evaluate", "--mistakes", "--class", "shirt", "--limit", "4")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    heading = " ".join(" ".join(lines[:4]).split())  # the heading wraps at 40 columns
    assert re.match(r"\d+ of the 1,000 Shirt test images are misclassified; the 4 the model was surest", heading)
    assert max(len(line) for line in lines) <= width
    per_row = max(line.count("Shirt →") for line in lines)
    assert per_row == {40: 1, 120: 3}[width]
    assert sum(line.count("Shirt →") for line in lines) == 4


def test_options_go_together(invoke, fake_data):
    assert invoke("evaluate", "--class", "Shirt", "--data-dir", str(fake_data)).exit_code == 2
    assert invoke("evaluate", "--limit", "3", "--data-dir", str(fake_data)).exit_code == 2
    bad = invoke("evaluate", "--mistakes", "--class", "hat", "--data-dir", str(fake_data))
    assert bad.exit_code == 2 and "choose one of 0 T-shirt/top" in bad.stderr


def test_mistakes_with_random_weights_and_a_png(invoke, fake_data, tmp_path):
    plot = tmp_path / "mistakes.png"
    result = invoke(
        "evaluate",
        "--mistakes",
        "--limit",
        "7",
        "--weights",
        "random",
        "--data-dir",
        str(fake_data),
        "--plot",
        str(plot),
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("→") == 7 and plot.read_bytes()[:4] == b"\x89PNG"
    assert f"Wrote {plot}" in result.stderr


def test_one_confusion_cell_with_the_true_class_and_runner_up():
    logits = torch.tensor([[3.0, 1, 0], [0, 2.0, 1], [1, 0, 5.0], [4.0, 2, 0], [0, 1.0, 0]])
    labels = torch.tensor([0, 2, 1, 1, 1])
    images = torch.zeros(5, 28, 28, dtype=torch.int64)
    total, found = find_mistakes(logits, labels, images, true_class=1, predicted_class=0)
    assert total == 1 and [m.index for m in found] == [3]
    (m,) = found
    probabilities = logits[3].softmax(0)
    assert m.true_probability == pytest.approx(probabilities[1].item()) and (m.runner_up, m.true) == (1, 1)
    assert m.to_dict()["explain"] == "fashionnet explain --test-index 3"


def test_each_mistake_names_the_command_that_explains_it(invoke, fake_data):
    result = invoke("evaluate", "--mistakes", "--limit", "2", "--data-dir", str(fake_data), "--predicted", "Bag")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "taken for Bag" in out and "label is itself wrong" in out
    report = json.loads(
        invoke(
            "evaluate", "--mistakes", "--limit", "2", "--data-dir", str(fake_data), "--predicted", "Bag", "--json"
        ).stdout
    )
    assert report["predicted"] == "Bag" and report["mistakes"]
    for m in report["mistakes"]:
        assert m["predicted"] == "Bag" != m["true"] and m["explain"] in out
        index = m["explain"].rsplit(" ", 1)[1]
        explained = invoke("explain", "--test-index", index, "--data-dir", str(fake_data), "--json")
        answer = json.loads(explained.stdout)
        assert answer["path"] == f"test image #{index}, labelled {m['true']}"
        said = (answer["answer"]["label"], answer["answer"]["probability"])
        assert said == ("Bag", pytest.approx(m["probability"], abs=1e-5))
    assert invoke("explain", "--test-index", "10000", "--data-dir", str(fake_data)).exit_code == 2
    assert invoke("explain").exit_code == 2 and invoke("explain", "x.png", "--test-index", "1").exit_code == 2
    assert invoke("evaluate", "--predicted", "Bag", "--data-dir", str(fake_data)).exit_code == 2
