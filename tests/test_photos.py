"""Real photos (issue 7): finding the garment, calibration, "not sure", and what --show draws."""

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from fashionnet import CLASSES, calibration, garment
from fashionnet.errors import WeightsError
from fashionnet.images import load_view
from fashionnet.model import build_model
from fashionnet.weights import Checkpoint, load_model, save_checkpoint

PHOTOS = Path(__file__).resolve().parents[1] / "fashionnet" / "samples" / "photos"
CPU = torch.device("cpu")


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A wooden-floor-like background: brown planks with grain and noise, (h, w, 3) uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    grain = 0.5 + 0.5 * np.sin(x / 3.0 + 4 * np.sin(y / 25.0)) * (0.6 + 0.4 * np.sin(y / 7.0))
    planks = ((y // 60) % 2) * 0.15
    level = 0.55 + 0.25 * grain - planks + rng.normal(0, 0.05, (h, w))
    rgb = np.stack([level * 200, level * 140, level * 90], -1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def shirt_on_floor(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A striped blue T-shirt shape on a wooden floor: (photo, true mask)."""
    h, w = 400, 300
    photo = texture(h, w, seed)
    mask = np.zeros((h, w), bool)
    mask[110:330, 95:205] = True  # body
    mask[110:170, 45:255] = True  # sleeves
    y, _ = np.mgrid[0:h, 0:w]
    stripes = np.where((y // 12) % 2 == 0, 1.0, 0.7)[..., None]
    colour = np.array([40, 70, 170]) * stripes
    photo[mask] = colour[mask].astype(np.uint8)
    return photo, mask


def save(array: np.ndarray, path: Path, **kwargs) -> Path:
    Image.fromarray(array).save(path, **kwargs)
    return path


def test_garment_is_found_on_a_textured_floor(tmp_path):
    photo, truth = shirt_on_floor()
    view = load_view(save(photo, tmp_path / "shirt.jpg", quality=90))
    assert view.found and view.mask is not None
    small = np.asarray(Image.fromarray(truth).resize(view.mask.shape[::-1], Image.Resampling.NEAREST))
    iou = (view.mask & small).sum() / (view.mask | small).sum()
    assert iou > 0.8, iou
    # Rendered as FashionMNIST was made: black outside the garment, the garment bright (it was dark).
    assert view.image.shape == (28, 28)
    assert view.image[:, 0].max() == 0 and view.image[:, -1].max() == 0  # portrait framing: sides black
    assert view.image[8:20, 10:18].mean() > 100


def test_largest_object_is_kept(tmp_path):
    """A pair of shoes apart from each other: one shoe (the larger) is what the model sees."""
    photo = texture(300, 400, seed=1)
    photo[120:200, 40:170] = (20, 20, 20)  # bigger shoe
    photo[130:190, 240:340] = (20, 20, 20)  # smaller shoe
    view = load_view(save(photo, tmp_path / "shoes.png"))
    assert view.found
    cols = np.flatnonzero(view.mask.any(0)) / view.mask.shape[1]
    assert cols.max() < 0.5, "only the left, larger shoe is kept"


def test_product_shots_and_fashion_mnist_skip_segmentation(tmp_path):
    on_white = np.full((300, 240, 3), 250, np.uint8)
    on_white[40:260, 50:190] = (30, 60, 120)
    assert garment.has_clean_background(np.asarray(Image.fromarray(on_white).convert("L")))
    view = load_view(save(on_white, tmp_path / "white.jpg", quality=90))
    assert view.found and view.mask is None
    pixels = np.array(Image.open(Path(__file__).resolve().parents[1] / "fashionnet" / "samples" / "7-sneaker.png"))
    view = load_view(save(pixels, tmp_path / "sneaker.png"))
    assert view.found and view.mask is None and np.array_equal(view.image, pixels)


SAMPLES = PHOTOS.parent


def product_shot(name: str, side: int, touch: str, on_black: bool = False) -> np.ndarray:
    """A FashionMNIST sample as a large product shot cropped tight: dark garment on white (or, `on_black`,
    light on black, as an upscaled FashionMNIST picture), touching the sides named in `touch` (t, b, l, r)."""
    pixels = Image.open(SAMPLES / name).resize((side, side), Image.Resampling.LANCZOS)
    a = np.asarray(pixels if on_black else ImageOps.invert(pixels))
    mask = (a > 10) if on_black else (a < 245)
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    a = a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    pad = [
        [0 if "t" in touch else 30, 0 if "b" in touch else 30],
        [0 if "l" in touch else 30, 0 if "r" in touch else 30],
    ]
    a = np.pad(a, pad, constant_values=0 if on_black else 255)
    return np.stack([a] * 3, -1)


@pytest.mark.parametrize(
    "name, touch, on_black",
    [
        ("0-t-shirt-top.png", "tl", False),
        ("1-trouser.png", "tb", False),
        ("3-dress.png", "tbl", False),
        ("7-sneaker.png", "lr", False),
        ("8-bag.png", "tblr", False),
        ("9-ankle-boot.png", "br", False),
        ("4-coat.png", "tb", True),
        ("5-sandal.png", "lr", True),
    ],
)
def test_product_shots_touching_the_frame_are_not_segmented(tmp_path, name, touch, on_black):
    """Issue 15: the background that is visible is flat, however much of the border the garment covers, so
    the picture is trimmed like a product shot; GrabCut would cut the garment where it meets the frame."""
    shot = product_shot(name, 320, touch, on_black)
    gray = np.asarray(Image.fromarray(shot).convert("L"))
    garment_pixels = np.abs(gray.astype(int) - (0 if on_black else 255)) > 10
    sides = {"t": garment_pixels[0], "b": garment_pixels[-1], "l": garment_pixels[:, 0], "r": garment_pixels[:, -1]}
    assert all(sides[s].any() == (s in touch) for s in "tblr"), "the garment touches the frame where named"
    assert garment.has_clean_background(gray)
    view = load_view(save(shot, tmp_path / "shot.jpg", quality=85))
    assert view.found and view.mask is None and view.variants is None
    expected = np.array(Image.open(SAMPLES / name), dtype=float)
    assert np.abs(view.image.astype(float) - expected).mean() < 25, "drawn close to the FashionMNIST original"


@pytest.mark.parametrize("crop", [(0, 400, 0, 300), (100, 400, 40, 300), (60, 300, 30, 230), (110, 330, 30, 270)])
def test_photos_are_segmented_whatever_the_garment_covers(tmp_path, crop):
    """A garment on a textured floor, framed loosely or touching two, three or four sides: the floor seen
    along the border is not flat, so the picture is a photo and GrabCut finds the garment."""
    photo, _ = shirt_on_floor()
    top, bottom, left, right = crop
    photo = np.ascontiguousarray(photo[top:bottom, left:right])
    assert not garment.has_clean_background(np.asarray(Image.fromarray(photo).convert("L")))
    view = load_view(save(photo, tmp_path / "photo.jpg", quality=90))
    assert view.mask is not None


def test_flatness_not_coverage_decides():
    """The rule on plain arrays: a flat white border beside a printed garment covering 60% of it is a
    product shot; a floor within 20 levels of its colour on all of the border is a photo: those levels spread."""
    rng = np.random.default_rng(0)
    covered = np.full((100, 100), 255, np.uint8)
    covered[:, 40:] = rng.integers(20, 90, (100, 60))  # a printed garment across the right of the frame
    assert garment.has_clean_background(covered)
    floor = np.clip(rng.normal(150, 8, (100, 100)), 0, 255).astype(np.uint8)
    floor[30:70, 30:70] = 20
    assert not garment.has_clean_background(floor)
    blank = np.full((50, 60), 200, np.uint8)
    assert garment.has_clean_background(blank)
    speck = rng.integers(0, 256, (100, 100)).astype(np.uint8)
    speck[0, :30] = 255  # a flat patch on less than a quarter of the border is no background
    assert not garment.has_clean_background(speck)


@pytest.mark.parametrize("kind", ["blank", "uniform-grey", "transparent", "wall"])
def test_nothing_to_see_is_not_found(tmp_path, kind):
    rng = np.random.default_rng(0)
    if kind == "blank":
        path = save(np.full((200, 200), 255, np.uint8), tmp_path / "blank.png")
    elif kind == "uniform-grey":
        path = save(np.full((120, 160, 3), 128, np.uint8), tmp_path / "grey.jpg")
    elif kind == "transparent":
        path = save(np.zeros((64, 64, 4), np.uint8), tmp_path / "clear.png")
    else:  # a painted wall photographed with a phone: soft light fall-off and sensor noise
        y, x = np.mgrid[0:300, 0:400]
        level = 180 + 30 * np.exp(-((x - 150) ** 2 + (y - 120) ** 2) / 40000) + rng.normal(0, 3, (300, 400))
        path = save(
            np.clip(np.stack([level, level * 0.97, level * 0.9], -1), 0, 255).astype(np.uint8),
            tmp_path / "wall.jpg",
            quality=90,
        )
    view = load_view(path)
    assert not view.found
    assert view.image.shape == (28, 28)


def test_predict_marks_blank_and_wall_not_sure(invoke, tmp_path):
    rng = np.random.default_rng(1)
    blank = save(np.full((200, 200), 255, np.uint8), tmp_path / "blank.png")
    y, x = np.mgrid[0:300, 0:400]
    level = 170 + 40 * np.exp(-((x - 250) ** 2 + (y - 100) ** 2) / 50000) + rng.normal(0, 3, (300, 400))
    wall = save(np.clip(np.stack([level] * 3, -1), 0, 255).astype(np.uint8), tmp_path / "wall.jpg")
    clear = save(np.zeros((64, 64, 4), np.uint8), tmp_path / "clear.png")
    result = invoke("predict", str(blank), str(wall), str(clear), "--json", "--threshold", "0")
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["sure"] for r in rows] == [False, False, False], "no garment: never sure, whatever the threshold"
    assert [r["found"] for r in rows] == [False, False, False], "and scripts can tell why"
    assert all(r["label"] in CLASSES and 0 <= r["score"] <= 1 for r in rows)
    text = " ".join(invoke("predict", str(blank)).stdout.split())  # long tmp paths wrap at 80 columns
    assert "not sure — looks most like" in text and "no garment found" in text


def test_threshold_decides_sure(invoke, tmp_path):
    photo, _ = shirt_on_floor()
    path = save(photo, tmp_path / "shirt.jpg", quality=90)
    low = json.loads(invoke("predict", str(path), "--json", "--threshold", "0").stdout)
    high = json.loads(invoke("predict", str(path), "--json", "--threshold", "1").stdout)
    assert low["sure"] is True and high["sure"] is False
    assert low["score"] == high["score"] and 0.1 <= low["score"] <= 1
    rows = list(csv.DictReader(io.StringIO(invoke("predict", str(path), "--csv", "--threshold", "1").stdout)))
    assert rows[0]["sure"] == "false" and float(rows[0]["score"]) == pytest.approx(low["score"], abs=1e-6)
    assert low["found"] is True and rows[0]["found"] == "true"
    bad = invoke("predict", str(path), "--threshold", "1.5")
    assert bad.exit_code == 2


def test_show_draws_mask_and_what_the_model_saw(invoke, tmp_path):
    photo, _ = shirt_on_floor()
    path = save(photo, tmp_path / "shirt.jpg", quality=90)
    out = invoke("predict", str(path), "--show", "--threshold", "0").stdout
    lines = out.splitlines()
    assert len(lines) >= 14  # 28 pixel rows in 14 lines of half blocks
    # Two pictures side by side: the mask (white '@' garment) and the 28x28 (drawn with the ramp).
    assert sum("@" in line for line in lines) >= 5
    assert max(len(line) for line in lines) <= 100


def test_temperature_recovered_and_ece():
    gen = torch.Generator().manual_seed(0)
    true_logits = torch.randn(20000, 10, generator=gen) * 3
    labels = torch.multinomial(true_logits.softmax(1), 1, generator=gen)[:, 0]
    t = calibration.fit_temperature(true_logits * 2.5, labels)  # over-confident by 2.5x
    assert t == pytest.approx(2.5, rel=0.05)
    calibrated = calibration.expected_calibration_error(true_logits.softmax(1), labels)
    overconfident = calibration.expected_calibration_error((true_logits * 2.5).softmax(1), labels)
    assert calibrated < 0.02 < overconfident


@pytest.mark.parametrize("value", ['"warm"', "-1", "0", "1e-300", "1e300", "NaN", "Infinity", "true", "[1]"])
def test_bad_temperature_metadata_is_refused(tmp_path, invoke, value):
    path = tmp_path / "bad.safetensors"
    save_checkpoint(path, Checkpoint(build_model().state_dict()))
    from safetensors.torch import load_file, save_file

    save_file(load_file(path), path, metadata={"format": "fashionnet-checkpoint/1", "temperature": value})
    with pytest.raises(WeightsError, match="bad.safetensors: metadata field 'temperature'"):
        load_model(path, 0, CPU)
    result = invoke("predict", str(PHOTOS), "--weights", str(path))
    assert result.exit_code == 4 and "temperature" in result.stderr and "Traceback" not in result.stderr


def test_temperature_is_used_and_reported(invoke, fake_data, tmp_path):
    path = tmp_path / "t.safetensors"
    save_checkpoint(path, Checkpoint(build_model(seed=1).state_dict(), metadata={"temperature": 2.0}))
    model, info = load_model(path, 0, CPU)
    assert info.temperature == 2.0
    report = json.loads(invoke("evaluate", "--data-dir", str(fake_data), "--weights", str(path), "--json").stdout)
    assert report["temperature"] == 2.0 and 0 <= report["calibration_error"] <= 1
    text = invoke("evaluate", "--data-dir", str(fake_data), "--weights", str(path)).stdout
    assert "Calibration error" in text
    sample = Path(__file__).resolve().parents[1] / "fashionnet" / "samples" / "7-sneaker.png"
    row = json.loads(invoke("predict", str(sample), "--json", "--weights", str(path)).stdout)
    pixels = torch.from_numpy(np.array(Image.open(sample)))[None].float() / 255
    with torch.inference_mode():
        expected = (model(pixels) / 2.0).softmax(1).max().item()
    assert row["probability"] == pytest.approx(expected, abs=1e-6) and row["score"] == pytest.approx(expected, abs=1e-6)


def test_shipped_weights_are_calibrated():
    _model, info = load_model(None, 0, CPU)
    assert 0 < info.temperature < 10 and info.temperature != 1.0


def test_training_holds_out_images_and_stores_the_temperature(fake_data, tmp_path):
    from dataclasses import asdict

    from fashionnet import data
    from fashionnet.recipe import Recipe
    from fashionnet.train import fit, recipe_for
    from fashionnet.weights import read_checkpoint

    out = tmp_path / "t.safetensors"
    result = fit(Recipe(epochs=2, batch_size=50, holdout=0.1), data.load_split("train", fake_data), None, CPU, out=out)
    saved = read_checkpoint(out).metadata
    assert saved["temperature"] == result.temperature and 0 < result.temperature < 10
    assert saved["steps"] == 2 * math.ceil(540 / 50), "600 images, 60 held out"
    # A checkpoint from before the hold-out existed resumes on every image, as it was trained.
    old = {k: v for k, v in asdict(Recipe()).items() if k != "holdout"}
    assert recipe_for((out, Checkpoint({}, metadata={"recipe": old}))).holdout == 0.0


@pytest.mark.parametrize("width, squeezed", [(60, False), (100, True), (140, True), (200, False)])
def test_render_frames_square_and_spread_garments_as_portrait(width, squeezed):
    # A top laid flat with its sleeves spread is up to 1.5 wide per 1 high: it is drawn 0.77 wide per 1
    # high, as FashionMNIST's tops are; a tall garment (a dress) and a long, low one (a shoe) keep their shape.
    gray = np.full((120, 240), 90, np.uint8)
    mask = np.zeros((120, 240), bool)
    mask[10:110, 20 : 20 + width] = True
    out = garment.render(gray, mask)
    expected = round(100 * garment.PORTRAIT) if squeezed else width
    assert out.shape == (100, expected)


def test_photo_answer_averages_logits_over_mask_variants(invoke, tmp_path):
    photo, _ = shirt_on_floor()
    path = save(photo, tmp_path / "shirt.jpg", quality=90)
    view = load_view(path)
    assert view.variants is not None and view.variants.shape == (4, 28, 28)
    assert len({v.tobytes() for v in view.variants} | {view.image.tobytes()}) == 5, "each mask draws differently"
    model, info = load_model(None, 0, CPU)
    drawings = torch.from_numpy(np.concatenate([view.image[None], view.variants])).float() / 255
    with torch.inference_mode():
        logits = model(drawings)
    averaged = (logits.mean(0) / info.temperature).softmax(0)
    alone = (logits[0] / info.temperature).softmax(0)
    assert averaged.max().item() != pytest.approx(alone.max().item(), abs=1e-4), "averaging changes the answer"
    row = json.loads(invoke("predict", str(path), "--json").stdout)
    assert row["index"] == averaged.argmax().item()
    assert row["probability"] == pytest.approx(averaged.max().item(), abs=1e-5)
    assert row["score"] == pytest.approx(averaged.max().item(), abs=1e-5)


def test_averaging_groups_drawings_and_leaves_single_images_exact():
    from fashionnet.predict import classify_scored

    model, _ = load_model(None, 0, CPU)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    plain, _, plain_scores = classify_scored(images, model, CPU, top_k=10, temperature=0.5)
    probs, indices, scores = classify_scored(
        images, model, CPU, top_k=10, temperature=0.5, members=np.array([0, 1, 1, 1, 2])
    )
    assert probs.shape == (3, 10) and scores.shape == (3,)
    assert np.array_equal(probs[0], plain[0]) and np.array_equal(probs[2], plain[4])  # alone: bit-exact
    with torch.inference_mode():
        logits = model(torch.from_numpy(images[1:4]).float() / 255).mean(0)
    expected = (logits / 0.5).softmax(0).sort(descending=True).values.numpy()
    assert np.allclose(probs[1], expected, atol=1e-6) and scores[1] == pytest.approx(expected[0], abs=1e-6)
