"""Training with photo drawings and a distillation teacher (issue 15): mixed batches, the teacher's place in
checkpoints, and exact resumption."""

import pytest
import torch

from fashionnet import data
from fashionnet.batches import PhotoBatches, PhotoSet, shift
from fashionnet.errors import TrainingInterrupted, UsageError, WeightsError
from fashionnet.teacher import build_teacher, restore_teacher, teacher_state
from fashionnet.train import Recipe, fit, load_resume, recipe_for
from fashionnet.weights import read_checkpoint
from tests.test_train import StopAtSecondEpoch

CPU = torch.device("cpu")


@pytest.fixture
def splits(fake_data):
    return data.load_split("train", fake_data), data.load_split("test", fake_data)


@pytest.fixture
def tiny_photos():
    """40 drawings: a bright block, labelled like real photos (one class, shoes' three, or none)."""
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 40, (40, 28, 28), generator=gen, dtype=torch.uint8)
    images[:, 8:20, 10:18] = 200
    allowed = torch.zeros(40, 10, dtype=torch.bool)
    allowed[:20, 0] = True
    allowed[20:30, [5, 7, 9]] = True  # shoes; the last ten are none of the ten
    return PhotoSet(images, allowed)


def test_shift_moves_each_image_by_at_most_a_pixel_and_fills_black():
    batch = torch.zeros(200, 28, 28, dtype=torch.uint8)
    batch[:, 13, 13] = 255
    batch[:, 0, :] = 9  # the top row: shifted down it leaves black above it
    out = shift(batch, torch.Generator().manual_seed(0), 1)
    dots = (out == 255).nonzero()
    rows, cols = dots[:, 1], dots[:, 2]
    assert len(rows) == 200 and set(rows.tolist()) == {12, 13, 14} and set(cols.tolist()) == {12, 13, 14}
    down, up, level = rows == 14, rows == 12, rows == 13
    assert (out[down][:, 0, 5] == 0).all() and (out[down][:, 1, 5] == 9).all(), "moved down: black above"
    assert (out[up] != 9).all(), "moved up: the top row left the picture"
    assert (out[level][:, 0, 5] == 9).all()


def test_every_photo_drawing_once_per_pass(tiny_photos):
    batches = PhotoBatches(tiny_photos, 8, torch.Generator().manual_seed(0))
    chosen = batches.epoch(10)  # 80 draws: two passes through 40 drawings
    assert chosen.shape == (10, 8)
    assert sorted(chosen[:5].flatten().tolist()) == list(range(40))
    assert sorted(chosen[5:].flatten().tolist()) == list(range(40))
    images, allowed = batches.batch(chosen[0])
    assert images.shape == (8, 28, 28) and images.dtype == torch.uint8
    assert torch.equal(allowed, tiny_photos.allowed[chosen[0]])


def test_photos_and_teacher_train_and_resume_exactly(splits, tiny_photos, tmp_path):
    train, test = splits
    recipe = Recipe(epochs=2, batch_size=64, teacher_epochs=1, photo_share=0.25)
    straight = fit(recipe, train, test, CPU, seed=5, out=tmp_path / "straight.safetensors", photos=tiny_photos)
    assert straight.teacher["epochs"] == 1 and 0 <= straight.teacher["test_accuracy"] <= 1
    out = tmp_path / "run.safetensors"
    with pytest.raises(TrainingInterrupted):
        fit(recipe, train, test, CPU, seed=5, out=out, callbacks=StopAtSecondEpoch(), photos=tiny_photos)
    saved = read_checkpoint(out)
    assert saved.metadata["photo_samples"] == 40 and saved.metadata["teacher"]["epochs"] == 1
    assert any(k.startswith("teacher.") for k in saved.training)
    resumed = fit(recipe, train, test, CPU, seed=5, out=out, resume=load_resume(out), photos=tiny_photos)
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a), "resume continues with the same teacher and photo batches"
    with pytest.raises(UsageError, match="photo drawings"):
        fit(recipe, train, test, CPU, seed=5, out=out, resume=load_resume(out), photos=PhotoSet(
            tiny_photos.images[:30], tiny_photos.allowed[:30]))


def test_the_teacher_and_the_photos_change_what_is_learnt(splits, tiny_photos):
    train, test = splits
    plain = fit(Recipe(epochs=1, batch_size=64, teacher_epochs=0), train, test, CPU, seed=0).model.state_dict()
    taught = fit(Recipe(epochs=1, batch_size=64, teacher_epochs=1), train, test, CPU, seed=0).model.state_dict()
    mixed = fit(Recipe(epochs=1, batch_size=64, teacher_epochs=0), train, test, CPU, seed=0, photos=tiny_photos)
    key = "linear_relu_stack.4.weight"
    assert not torch.equal(plain[key], taught[key]) and not torch.equal(plain[key], mixed.model.state_dict()[key])
    assert set(plain) == set(mixed.model.state_dict()), "the shipped model is the tutorial's, teacher or not"


def test_resume_keeps_photos_and_teacher(splits, tiny_photos, tmp_path):
    out = tmp_path / "m.safetensors"
    fit(Recipe(epochs=1, batch_size=64, teacher_epochs=1), splits[0], None, CPU, out=out, photos=tiny_photos)
    resume = load_resume(out)
    with pytest.raises(UsageError, match="--no-photos"):
        recipe_for(resume, photo_share=0.0)
    with pytest.raises(UsageError, match="--teacher-epochs 1"):
        recipe_for(resume, teacher_epochs=3)
    assert recipe_for(resume, epochs=3).teacher_epochs == 1


def test_ctrl_c_while_the_teacher_trains_says_nothing_was_saved(splits, tmp_path):
    class StopAtOnce(StopAtSecondEpoch):
        def epoch_start(self, epoch, epochs, batches):
            raise KeyboardInterrupt

    class StopInTheTeacher(StopAtSecondEpoch):
        def teacher(self):
            return StopAtOnce()  # the teacher trains first, in a fresh run only: the MLP has saved nothing yet

    out = tmp_path / "never.safetensors"
    with pytest.raises(TrainingInterrupted, match=r"^interrupted during the teacher's epoch 1: nothing was saved$"):
        fit(Recipe(epochs=1, batch_size=64, teacher_epochs=2), splits[0], None, CPU, out=out,
            callbacks=StopInTheTeacher())
    assert not out.exists()


@pytest.mark.parametrize("damage", ["missing", "shape", "nan", "extra", "negative-variance", "negative-count"])
def test_a_damaged_teacher_in_a_checkpoint_is_refused(damage):
    state = {k[len("teacher."):]: v for k, v in teacher_state(build_teacher(0)).items()}
    if damage == "missing":
        state = {}
    elif damage == "shape":
        state["classifier.weight"] = torch.zeros(3, 3)
    elif damage == "nan":
        state["classifier.bias"] = torch.full((10,), float("nan"))
    elif damage == "negative-variance":  # finite, but batch normalisation's square root would make it NaN
        state["features.3.running_var"][5] = -1.0
    elif damage == "negative-count":
        state["features.7.num_batches_tracked"] = torch.tensor(-3)
    else:
        state["intruder"] = torch.zeros(1)
    with pytest.raises(WeightsError, match="ck.safetensors"):
        restore_teacher("ck.safetensors", {"teacher." + k: v for k, v in state.items()}, 0, CPU)
    if damage == "negative-variance":
        with pytest.raises(WeightsError, match="features.3.running_var holds negative values"):
            restore_teacher("ck.safetensors", {"teacher." + k: v for k, v in state.items()}, 0, CPU)
    restore_teacher("ck.safetensors", teacher_state(build_teacher(0)), 0, CPU)  # the undamaged teacher is taken


def test_the_train_loss_note_says_what_the_mix_is():
    from fashionnet.render.training import loss_parts, losses_note

    assert loss_parts(Recipe()) == (0.1, 0.5, 0.15)
    assert loss_parts({"label_smoothing": 0.2}) == (0.2, 0.0, 0.0), "an older checkpoint's recipe: smoothing alone"
    assert loss_parts({**Recipe().to_dict(), "teacher_epochs": 0, "photo_share": 0.0}) == (0.1, 0.0, 0.0)
    note = losses_note(*loss_parts(Recipe()))
    assert "0.5 x distance to the teacher" in note and "0.15 x the photos' loss" in note and "cannot fall" not in note
    assert "cannot fall below 0.500" in losses_note(0.1)
