"""`train --recipe ladder`: one change per rung, each rung's figures measured by the code that prints them."""

import json
from itertools import pairwise

import pytest
import torch

from fashionnet import data
from fashionnet.ladder import rungs
from fashionnet.tutorial_recipe import TutorialRecipe, fit_tutorial

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def climbed(fake_data):
    from typer.testing import CliRunner

    from fashionnet.cli import app

    result = CliRunner().invoke(
        app,
        ["train", "--recipe", "ladder", "--data-dir", str(fake_data), "--epochs", "1", "--limit", "256", "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_each_rung_changes_one_thing_of_the_shipped_recipe(climbed):
    ladder = climbed["rungs"]
    assert [r["name"] for r in ladder] == [r.name for r in rungs(1)]
    assert ladder[0]["settings"]["lr"] == TutorialRecipe().lr and ladder[1]["settings"]["lr"] == 0.1
    changed = []
    for above, rung in pairwise(ladder[2:]):
        changed.append(sorted(k for k in rung["settings"] if rung["settings"][k] != above["settings"][k]))
    assert changed == [["batch_size"], ["mean", "std"], ["label_smoothing"], ["clean_epochs", "flip"]] or changed == [
        ["batch_size"],
        ["mean", "std"],
        ["label_smoothing"],
        ["flip"],
    ]
    for a, b in pairwise(ladder):
        assert b["change"] == pytest.approx(b["test_accuracy"] - a["test_accuracy"])
    assert all(0 <= r["test_accuracy"] <= 1 and r["seconds"] > 0 and r["epochs"] == 1 for r in ladder)


def test_the_first_rung_is_the_tutorials_own_training(climbed, fake_data):
    train = data.load_split("train", fake_data, limit=256)
    test = data.load_split("test", fake_data, official=True)
    threads = torch.get_num_threads()
    history = fit_tutorial(TutorialRecipe(epochs=1), train, test, CPU, seed=0).history
    torch.set_num_threads(threads)
    assert climbed["rungs"][0]["test_accuracy"] == history[-1].test_accuracy


def test_the_view_prints_every_measured_figure_and_why(climbed):
    from rich.console import Console

    from fashionnet.ladder import Step
    from fashionnet.render.training import ladder_view

    steps = [Step(**{k: v for k, v in r.items()}) for r in climbed["rungs"]]
    console = Console(width=80, record=True, color_system=None)
    console.print(ladder_view(steps))
    text = console.export_text()
    for step in steps:
        assert f"{step.test_accuracy:.2%}" in text
    for step in steps[1:]:
        assert f"({step.change * 100:+.1f} points, {step.seconds:.0f} s here)" in " ".join(text.split())


def test_options_that_do_not_apply_are_refused(invoke, tmp_path):
    result = invoke("train", "--recipe", "ladder", "--out", str(tmp_path / "x.safetensors"))
    assert result.exit_code == 2 and "--out: not with --recipe ladder" in result.stderr
    assert not (tmp_path / "x.safetensors").exists()
