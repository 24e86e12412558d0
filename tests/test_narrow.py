"""Issue 10, item 15 (predict and evaluate; `summary` is another branch's): at 40 columns every figure is
still there, in stacked rows or blocks, and nothing is cut to an ellipsis."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest

from fashionnet.render.training import SHORT

SAMPLES = Path(__file__).resolve().parents[1] / "fashionnet" / "samples"


@pytest.fixture(params=[40, 30])
def narrow(monkeypatch, request) -> int:
    monkeypatch.setenv("COLUMNS", str(request.param))
    return request.param


def _check_no_loss(text: str, width: int) -> None:
    assert "…" not in text and "..." not in text
    assert max(len(line) for line in text.splitlines()) <= width


def test_predict_table_keeps_paths_and_figures(invoke, narrow, tmp_path):
    folder = tmp_path / "a-rather-long-folder-name-for-a-narrow-terminal"
    shutil.copytree(SAMPLES, folder)
    rows = [
        json.loads(line) for line in invoke("predict", str(folder), "--json", "--weights", "random").stdout.splitlines()
    ]
    text = invoke("predict", str(folder), "--weights", "random").stdout
    _check_no_loss(text, narrow)
    joined = text.replace("\n", "")
    for row in rows:
        assert row["path"] in joined, "the path survives (folded, never dropped)"
        assert f"{row['probability']:.1%}" in text and row["label"] in text


def test_predict_bars_and_picture_fit(invoke, narrow):
    text = invoke("predict", str(SAMPLES / "8-bag.png"), "--weights", "random", "--show").stdout
    _check_no_loss(text, narrow)
    row = json.loads(invoke("predict", str(SAMPLES / "8-bag.png"), "--weights", "random", "--json").stdout)
    for top in row["top"]:
        assert top["label"] in text and f"{top['probability']:.1%}" in text


def test_confusion_matrix_and_class_table_keep_every_figure(invoke, narrow, fake_data):
    report = json.loads(invoke("evaluate", "--data-dir", str(fake_data), "--weights", "random", "--json").stdout)
    text = invoke("evaluate", "--data-dir", str(fake_data), "--weights", "random").stdout
    _check_no_loss(text, narrow)
    assert all(short in text for short in SHORT), "every column heading, Boot included"
    seen: dict[int, list[int]] = {i: [] for i in range(10)}
    for line in text.splitlines():
        match = re.match(r"^(\d) (\S+)\s+([\d ]+)$", line)
        if match and match.group(2) in SHORT:
            seen[int(match.group(1))] += [int(v) for v in match.group(3).split()]
    assert [seen[i] for i in range(10)] == report["confusion"]
    for m in report["per_class"]:
        assert f"{m['index']} {m['label']}" in text and f"{m['f1']:.3f}" in text and f"{m['support']:,}" in text


def test_wide_terminals_keep_the_tables(invoke, fake_data):
    text = invoke("evaluate", "--data-dir", str(fake_data), "--weights", "random").stdout
    header = next(line for line in text.splitlines() if line.startswith("true\\pred"))
    assert "Precision" in text and header.split()[1:] == list(SHORT), "one matrix of ten columns at 80"


def test_photo_mask_and_picture_fit(invoke, narrow):
    """A photo's --show draws two pictures (mask, then what the model saw): stacked when they do not fit."""
    photo = SAMPLES / "photos" / "shoes.jpg"
    text = invoke("predict", str(photo), "--show").stdout
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= narrow  # pictures draw with '.'
    row = json.loads(invoke("predict", str(photo), "--json").stdout)
    assert f"{row['probability']:.1%}" in text
    from rich.console import Console

    from fashionnet.images import load_view
    from fashionnet.render.console import Picture
    from fashionnet.render.widgets import mask_picture

    shown = [line.rstrip() for line in text.splitlines()]
    view = load_view(photo)
    for picture in (mask_picture(view.mask), Picture(view.image.tolist())):
        console = Console(width=200, color_system=None, record=True, file=io.StringIO())
        console.print(picture)
        lines = [line.rstrip() for line in console.export_text().splitlines()]
        assert all(line in shown for line in lines), "each picture is drawn whole, never cropped"
