"""`fashionnet predict` end to end: in-process through Typer's runner and as the installed command."""

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashionnet import CLASSES

SAMPLES = Path(__file__).resolve().parents[1] / "fashionnet" / "samples"


@pytest.fixture
def images(tmp_path, monkeypatch) -> dict[str, Path]:
    """One good image of each kind a user might have, and one of each kind of bad input; named by short
    relative paths, so tables show them whole whatever the temporary folder is called."""
    monkeypatch.chdir(tmp_path)
    folder = Path("in")
    folder.mkdir()
    rng = np.random.default_rng(0)
    shirt = np.full((300, 240, 3), 250, np.uint8)
    shirt[40:260, 50:190] = (30, 60, 120)  # a dark garment on a white table
    Image.fromarray(shirt).save(folder / "photo.jpg", quality=90)
    Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8), mode="L").save(folder / "small.png")
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[16:48, 16:48] = (200, 30, 30, 255)
    Image.fromarray(rgba, mode="RGBA").save(folder / "cutout.png")
    bad = {
        "empty.png": b"",
        "text.png": b"this is not an image\n",
        "truncated.jpg": (folder / "photo.jpg").read_bytes()[:200],
    }
    for name, content in bad.items():
        (folder / name).write_bytes(content)
    Image.new("L", (1, 1)).save(folder / "dot.png")
    return {p.name: p for p in folder.iterdir()}


GOOD = ["cutout.png", "photo.jpg", "small.png"]
BAD = {
    "empty.png": "empty",
    "text.png": "not",
    "truncated.jpg": "",
    "dot.png": "too small",
}


def test_bad_inputs_do_not_stop_the_good_ones(invoke, images):
    paths = [str(images[name]) for name in sorted(images)] + [str(images["photo.jpg"].parent / "missing.png")]
    result = invoke("predict", *paths, "--json", "--weights", "random")
    assert result.exit_code == 1
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(r["path"]).name for r in rows] == [Path(p).name for p in paths], "one row per input, in order"
    by_name = {Path(r["path"]).name: r for r in rows}
    for name in GOOD:
        assert by_name[name]["label"] in CLASSES and 0 < by_name[name]["probability"] <= 1
        assert [t["index"] for t in by_name[name]["top"]][0] == by_name[name]["index"]
    for name, fragment in BAD.items():
        assert fragment in by_name[name]["error"]
    assert "no such file" in by_name["missing.png"]["error"]
    err_lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("Using ")]
    assert len(err_lines) == len(BAD) + 1, "one stderr line per bad input"
    assert all(": " in line and "Traceback" not in line for line in err_lines)


def test_all_good_is_exit_0_and_table_for_people(invoke, images):
    result = invoke("predict", *(str(images[n]) for n in GOOD), "--weights", "random", "--top-k", "2")
    assert result.exit_code == 0
    assert "photo.jpg" in result.stdout and "%" in result.stdout
    assert "random init" in result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_csv_has_the_same_rows(invoke, images):
    result = invoke("predict", str(images["small.png"]), str(images["empty.png"]), "--csv", "--weights", "random")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [Path(r["path"]).name for r in rows] == ["small.png", "empty.png"]
    assert rows[0]["label"] in CLASSES and rows[0]["error"] == ""
    assert rows[1]["label"] == "" and rows[1]["error"]
    assert result.exit_code == 1


def test_json_and_csv_together_is_a_usage_error(invoke, images):
    result = invoke("predict", str(images["small.png"]), "--json", "--csv")
    assert result.exit_code == 2 and "choose one" in result.stderr


def test_no_path_and_empty_directory(invoke, tmp_path):
    assert invoke("predict").exit_code == 2
    (tmp_path / "empty").mkdir()
    result = invoke("predict", str(tmp_path / "empty"), "--weights", "random")
    assert result.exit_code == 1 and "empty" in result.stderr


def test_directory_recursive_and_glob(invoke, images, tmp_path):
    sub = tmp_path / "in" / "nested"
    sub.mkdir()
    Image.new("L", (40, 40), 0).save(sub / "deep.png")
    flat = [
        json.loads(x)
        for x in invoke("predict", str(tmp_path / "in"), "--json", "--weights", "random").stdout.splitlines()
    ]
    deep = [
        json.loads(x)
        for x in invoke("predict", str(tmp_path / "in"), "-r", "--json", "--weights", "random").stdout.splitlines()
    ]
    assert "deep.png" not in {Path(r["path"]).name for r in flat}
    assert "deep.png" in {Path(r["path"]).name for r in deep}
    globbed = invoke("predict", str(tmp_path / "in" / "*.jpg"), "--json", "--weights", "random").stdout.splitlines()
    assert {Path(json.loads(x)["path"]).name for x in globbed} == {"photo.jpg", "truncated.jpg"}


def test_the_command_reads_stdin(cli, images):
    proc = cli("predict", "-", "--json", "--weights", "random", input=images["photo.jpg"].read_bytes())
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)
    assert row["path"] == "-" and row["label"] in CLASSES


def test_bad_inputs_exit_1_without_traceback(cli, images):
    proc = cli("predict", str(images["text.png"]), str(images["small.png"]), "--weights", "random")
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert "text.png: " in err and "Traceback" not in err
    assert "small.png" in proc.stdout.decode()


def test_help_lists_exit_codes(cli):
    out = cli("predict", "--help").stdout.decode()
    assert "1 some inputs failed" in out and "--top-k" in out


def test_fashion_mnist_png_predicts_like_evaluate(invoke, tmp_path):
    """An oracle: a 28x28 FashionMNIST PNG must give exactly the model's answer on the tensor."""
    import torch

    from fashionnet.model import pixels_to_input
    from fashionnet.weights import load_model

    pixels = np.array(Image.open(SAMPLES / "7-sneaker.png"))
    model, _ = load_model("random", seed=5, device=torch.device("cpu"))
    with torch.inference_mode():
        expected = model(pixels_to_input(torch.from_numpy(pixels)[None])).softmax(1)[0]
    row = json.loads(
        invoke("predict", str(SAMPLES / "7-sneaker.png"), "--json", "--weights", "random", "--seed", "5").stdout
    )
    assert row["index"] == int(expected.argmax())
    assert row["probability"] == pytest.approx(float(expected.max()), abs=1e-6)


def test_show_captions_the_pictures_and_says_when_there_is_no_mask(invoke):
    photo = invoke("predict", str(SAMPLES / "photos" / "dress.jpg"), "--show")
    assert photo.exit_code == 0, photo.stderr
    assert "garment mask" in photo.stdout and "model input 28x28" in photo.stdout
    assert "no garment mask" not in photo.stdout
    plain = invoke("predict", str(SAMPLES / "0-t-shirt-top.png"), "--show")
    assert "model input 28x28" in plain.stdout
    assert "no garment mask: a clean background" in plain.stdout


def test_show_says_when_no_garment_was_found(invoke, tmp_path):
    from PIL import Image

    wall = np.full((200, 300, 3), 128, np.uint8)
    wall += np.random.default_rng(1).integers(0, 3, wall.shape, dtype=np.uint8)  # a plain wall: nothing stands out
    Image.fromarray(wall).save(tmp_path / "wall.jpg")
    result = invoke("predict", str(tmp_path / "wall.jpg"), "--show")
    assert result.exit_code == 0, result.stderr
    assert "no garment mask: no garment stood out" in result.stdout


def test_shipped_samples_are_classified_with_shipped_weights(cli):
    proc = cli("predict", str(SAMPLES), "--json")
    assert proc.returncode == 0, proc.stderr
    truth = {s["file"]: s["label"] for s in json.loads((SAMPLES / "samples.json").read_text())}
    rows = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    assert len(rows) == 10
    correct = sum(truth[Path(r["path"]).name] == r["label"] for r in rows)
    assert correct >= 9, rows


def test_uniform_32_bit_tiffs_are_blank_and_not_sure(invoke, tmp_path):
    # Issue 17, item 12: no range to scale (70000 everywhere, -5 everywhere) was a ZeroDivisionError.
    Image.fromarray(np.full((40, 40), 70_000, np.int32)).save(tmp_path / "i32.tiff")
    Image.fromarray(np.full((40, 40), -5.0, np.float32)).save(tmp_path / "f32.tiff")
    result = invoke("predict", str(tmp_path), "--json", "--weights", "random")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 0 and len(rows) == 2, result.stderr
    assert all(row["found"] is False and row["sure"] is False for row in rows)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_the_table_shows_the_top_k_asked_for(invoke, monkeypatch, k):
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    samples = Path("fashionnet") / "samples"
    result = invoke("predict", str(samples), "--top-k", str(k))
    assert result.exit_code == 0, result.stderr
    header = result.stdout.splitlines()[0].split()
    assert header[3:] == {1: [], 2: ["runner-up"], 4: ["next", "3"]}[k]
    lines = invoke("predict", str(samples), "--json", "--top-k", str(k)).stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    shirt = next(r for r in rows if r["path"].endswith("6-shirt.png"))
    block = result.stdout.split("6-shirt.png", 1)[1].split("7-sneaker.png", 1)[0]
    for other in shirt["top"][1:]:  # every class after the first, in the table
        assert other["label"] in block
    assert len(shirt["top"]) == k


def test_percentages_never_round_to_certain_or_to_nothing():
    from fashionnet.render.predict import percent, significant

    assert [percent(p) for p in (0.0, 3.7e-7, 0.0004999, 0.0005, 0.5, 0.9994, 0.9995, 0.99999994, 1.0)] == [
        "0.0%",
        "<0.1%",
        "<0.1%",
        "0.1%",
        "50.0%",
        "99.9%",
        ">99.9%",
        ">99.9%",
        "100.0%",
    ]
    assert significant(3.7e-7) == 3.7e-7 and significant(0.123456789) == 0.123457


def test_the_shipped_pictures_are_found_without_a_path(invoke):
    """An installed copy has no fashionnet/samples beside the user: `data --samples` prints where they are,
    `predict --samples` classifies them (tests/test_smoke.py runs it), and no PATH at all is a usage error."""
    result = invoke("data", "--samples")
    assert result.exit_code == 0 and result.stdout == f"{SAMPLES}\n"
    assert len(list(Path(result.stdout.strip()).glob("*.png"))) == 10
    assert json.loads(invoke("data", "--samples", "--json").stdout)["photos"] == str(SAMPLES / "photos")
    result = invoke("data", "--samples", "--download")
    assert result.exit_code == 2 and "--download" in result.stderr and result.stdout == ""
    result = invoke("predict")
    assert result.exit_code == 2 and "--samples" in result.stderr and result.stderr.count("\n") == 1
