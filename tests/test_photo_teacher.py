"""The photo teacher (issue 22, fourth round): a CNN trained on the photo drawings alone, whose weights
ship and are read like any hostile checkpoint; training asks it about each drawing as drawn."""

import pytest
import torch
from safetensors.torch import save_file

from fashionnet import photo_teacher
from fashionnet.errors import ExitCode, WeightsError
from fashionnet.model import NeuralNetwork
from fashionnet.recipe import Recipe
from fashionnet.teacher import build_teacher
from fashionnet.weights import read_checkpoint


def test_the_shipped_photo_teacher_loads_and_tells_garments_apart():
    model, about = photo_teacher.load_photo_teacher()
    assert photo_teacher.PHOTO_TEACHER.stat().st_size < 1_000_000
    assert about["epochs"] == photo_teacher.EPOCHS and about["seed"] == 0 and len(about["sha256"]) == 16
    from fashionnet import photos

    drawings = photos.load()
    which = drawings.in_part(photos.VALIDATION)
    first = drawings.first_drawing()[which]
    known = drawings.found[which] & drawings.named[which].any(1)
    logits = photo_teacher.answers(model, torch.from_numpy(drawings.drawings[first[known]]), Recipe())
    right = drawings.named[which][known][range(int(known.sum())), logits.argmax(1).numpy()]
    assert right.mean() > 0.75, "it knows the validation photos better than the MLP can"


def test_a_saved_photo_teacher_answers_as_it_did(tmp_path):
    model = build_teacher(3).eval()
    path = tmp_path / "pt.safetensors"
    photo_teacher.save_photo_teacher(model, {"epochs": 2, "seed": 3}, path)
    back, about = photo_teacher.load_photo_teacher(path)
    assert about["epochs"] == 2 and about["seed"] == 3
    drawings = torch.randint(0, 255, (6, 28, 28), dtype=torch.uint8)
    recipe = Recipe()
    assert torch.equal(photo_teacher.answers(back, drawings, recipe), photo_teacher.answers(model, drawings, recipe))


def _write(path, case):
    state = {k: v.float() for k, v in build_teacher(0).state_dict().items()}
    if case == "mlp":
        state = NeuralNetwork().state_dict()
    elif case == "nan":
        state["classifier.bias"][0] = float("nan")
    elif case == "shape":
        state["classifier.weight"] = torch.zeros(10, 7)
    elif case == "pickle":
        torch.save(state, path)
        return
    elif case == "text":
        path.write_text("weights\n")
        return
    save_file(state, str(path))


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "no such checkpoint file"),
        ("mlp", "not a photo teacher checkpoint"),
        ("nan", "holds NaN"),
        ("shape", "tensor classifier.weight has shape [10, 7]"),
        ("pickle", "not a safetensors file"),
        ("text", "not a readable safetensors checkpoint"),
    ],
)
def test_a_bad_photo_teacher_is_one_line_that_says_how_to_remake_it(tmp_path, case, message):
    path = tmp_path / "pt.safetensors"
    if case != "missing":
        _write(path, case)
    with pytest.raises(WeightsError) as caught:
        photo_teacher.load_photo_teacher(path)
    line = str(caught.value)
    assert line.startswith(str(path)) and message in line and "tools/make_photo_teacher.py" in line, line
    assert "\n" not in line


def test_train_reads_the_photo_teacher_as_input_and_resumes_with_the_same_one(invoke, fake_data, tmp_path, monkeypatch):
    broken = tmp_path / "photo-teacher.safetensors"
    _write(broken, "nan")
    monkeypatch.setattr(photo_teacher, "PHOTO_TEACHER", broken)
    out = tmp_path / "never.safetensors"
    result = invoke("train", "--data-dir", str(fake_data), "--epochs", "1", "--out", str(out))
    assert result.exit_code == ExitCode.WEIGHTS, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and str(broken) in lines[0] and "Traceback" not in result.stderr, result.stderr
    assert not out.exists()
    plain = invoke("train", "--data-dir", str(fake_data), "--epochs", "1", "--no-teacher", "--out", str(out))
    assert plain.exit_code == 0, "without teachers the photo teacher is not read"
    assert "photo teacher" not in plain.stderr and read_checkpoint(out).metadata["recipe"]["photo_distill"] == 0.0
    monkeypatch.undo()
    taught = tmp_path / "taught.safetensors"
    result = invoke("train", "--data-dir", str(fake_data), "--epochs", "1", "--out", str(taught))
    assert result.exit_code == 0, result.stderr
    assert "in every batch, each turned, scaled and shifted at random" in result.stderr
    assert "A small CNN trained on the photos alone (the photo teacher) answers each as drawn" in result.stderr
    recipe = read_checkpoint(taught).metadata["recipe"]
    assert recipe["photo_distill"] == 1.0 and recipe["photo_rotation"] == 10.0, "the run says what it did"
    assert recipe["teacher_epochs"] == 0, "other images than FashionMNIST's: the shipped answers do not fit them"
    more = invoke("train", "--resume", str(taught), "--epochs", "2", "--data-dir", str(fake_data))
    assert more.exit_code == 0, more.stderr
    assert "the photo teacher" in more.stderr and read_checkpoint(taught).metadata["recipe"]["photo_distill"] == 1.0
    refused = invoke("train", "--resume", str(taught), "--epochs", "3", "--data-dir", str(fake_data), "--no-teacher")
    assert refused.exit_code == 2 and "was taught by the photo teacher" in refused.stderr, refused.stderr
    shipped_id = photo_teacher.load_photo_teacher()[1]
    assert read_checkpoint(taught).metadata["photo_teacher"] == shipped_id, "the checkpoint names its photo teacher"
    other = tmp_path / "other-teacher.safetensors"
    photo_teacher.save_photo_teacher(build_teacher(7), {"epochs": 1, "seed": 7}, other)
    monkeypatch.setattr(photo_teacher, "PHOTO_TEACHER", other)
    switched = invoke("train", "--resume", str(taught), "--epochs", "3", "--data-dir", str(fake_data))
    assert switched.exit_code == 2 and "was taught by another photo teacher" in switched.stderr, switched.stderr
