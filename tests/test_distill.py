"""Training with photo drawings and a distillation teacher (issues 15 and 22): mixed batches, the teacher's
shipped answers (read like hostile input), the temperature fitted on photos too, and exact resumption."""

import zipfile
from functools import partial

import numpy as np
import pytest
import torch

from fashionnet import data, teacher
from fashionnet.batches import PhotoBatches, PhotoSet, flip, random_flips, shift, warp
from fashionnet.calibration import fit_temperature
from fashionnet.errors import DataError, TrainingInterrupted, UsageError
from fashionnet.recipe import Recipe
from fashionnet.resume import load_resume
from fashionnet.train import fit, recipe_for, teacher_for
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
    batches = PhotoBatches(tiny_photos, 8, torch.Generator().manual_seed(0), Recipe())
    chosen = batches.epoch(10)  # 80 draws: two passes through 40 drawings
    assert chosen.shape == (10, 8)
    assert sorted(chosen[:5].flatten().tolist()) == list(range(40))
    assert sorted(chosen[5:].flatten().tolist()) == list(range(40))
    images, allowed, soft = batches.batch(chosen[0])
    assert images.shape == (8, 28, 28) and images.dtype == torch.uint8 and soft is None
    assert torch.equal(allowed, tiny_photos.allowed[chosen[0]])


def test_the_photo_teacher_answers_each_drawing_as_the_network_sees_it(tiny_photos):
    asked = []

    def photo_teacher(drawn):
        asked.append(drawn.clone())
        return drawn.float().mean((1, 2))[:, None].repeat(1, 10)

    taught = PhotoBatches(tiny_photos, 8, torch.Generator().manual_seed(1), Recipe(), photo_teacher)
    chosen = taught.epoch(5)
    images, _, soft = taught.batch(chosen[0])
    assert len(asked) == 1 and torch.equal(asked[0], images), "asked about the drawings as turned and shifted"
    assert torch.equal(soft, photo_teacher(images))
    assert not all(torch.equal(a, tiny_photos.images[i]) for a, i in zip(images, chosen[0], strict=True))


def test_warp_turns_scales_and_moves_each_picture_on_black():
    block = torch.zeros(64, 28, 28, dtype=torch.uint8)
    block[:, 10:18, 12:16] = 200
    assert torch.equal(warp(block, torch.Generator().manual_seed(0), 0.0, 0.0, 0.0), block), "no change asked"
    moved = warp(block, torch.Generator().manual_seed(0), 10.0, 0.1, 2.0)
    again = warp(block, torch.Generator().manual_seed(0), 10.0, 0.1, 2.0)
    assert torch.equal(moved, again) and moved.dtype == torch.uint8, "one seed, one draw"
    assert len({bytes(m.numpy()) for m in moved}) == 64, "each picture drawn its own way"
    assert (moved[:, :4].int().sum() == 0) and (moved[:, :, :4].int().sum() == 0), "black comes in from outside"
    area = (moved > 100).sum((1, 2)).float()
    assert 32 * 0.7 < area.mean() < 32 * 1.3, "the garment keeps about its size"
    turned = warp(block, torch.Generator().manual_seed(0), 90.0, 0.0, 0.0)
    rows, cols = (turned > 100).nonzero()[:, 1], (turned > 100).nonzero()[:, 2]
    assert rows.min() < 10 or cols.min() < 12 or cols.max() > 15 or rows.max() > 17


def test_a_recipe_without_turns_draws_the_photos_as_before(tiny_photos):
    """Checkpoints from before the photo teacher resume with whole-pixel shifts and nothing more."""
    old = Recipe(photo_rotation=0.0, photo_scale=0.0, photo_shift=1.0)
    batches = PhotoBatches(tiny_photos, 8, torch.Generator().manual_seed(3), old)
    index = torch.arange(8)
    images, _, _ = batches.batch(index)
    generator = torch.Generator().manual_seed(3)
    mirrored = random_flips(8, generator)
    assert torch.equal(images, shift(flip(tiny_photos.images[index], mirrored), generator, 1))


def fake_targets(train, drawings=None, epochs=3) -> teacher.Targets:
    """A teacher that knows the labels: its logits favour each image's label (as it is and mirrored)."""
    logits = np.full((len(train.labels), 2, 10), -1.0, np.float16)
    logits[np.arange(len(train.labels)), :, train.labels.numpy()] = 3.0
    photos = np.zeros((0 if drawings is None else len(drawings), 2, 10), np.float16)
    digest = teacher.drawings_digest(drawings if drawings is not None else np.zeros((0, 28, 28), np.uint8))
    return teacher.Targets(logits, photos, digest, epochs, 0.93, 12.5, 0, "targets.npz")


def test_photos_and_teacher_targets_train_and_resume_exactly(splits, tiny_photos, tmp_path):
    train, test = splits
    targets = fake_targets(train)
    recipe = Recipe(epochs=2, batch_size=64, teacher_epochs=3, photo_share=0.25)
    asked = teacher.build_teacher(1).eval()  # a photo teacher: answers each drawing as turned and shifted
    run = partial(fit, recipe, train, test, CPU, seed=5, targets=targets)
    straight = run(out=tmp_path / "straight.safetensors", photos=tiny_photos, photo_teacher=asked)
    assert straight.teacher["epochs"] == 3 and straight.teacher["test_accuracy"] == 0.93
    out = tmp_path / "run.safetensors"
    with pytest.raises(TrainingInterrupted):
        run(out=out, callbacks=StopAtSecondEpoch(), photos=tiny_photos, photo_teacher=asked)
    saved = read_checkpoint(out)
    assert saved.metadata["recipe"]["photo_distill"] == 1.0 and saved.metadata["recipe"]["photo_rotation"] == 10.0
    assert saved.metadata["photo_samples"] == 40 and saved.metadata["teacher"]["epochs"] == 3
    assert not any(k.startswith("teacher.") for k in saved.training), "the teacher's answers ship; no teacher travels"
    resumed = run(out=out, resume=load_resume(out), photos=tiny_photos, photo_teacher=asked)
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a), "resume continues with the same targets and photo batches"
    with pytest.raises(UsageError, match="photo drawings"):
        run(out=out, resume=load_resume(out), photos=PhotoSet(tiny_photos.images[:30], tiny_photos.allowed[:30]))
    assert fit(Recipe(epochs=1, batch_size=64), train, None, CPU).teacher is None, "no answers given: no teacher"
    with pytest.raises(UsageError, match="teacher of 3 epochs"):  # resumed with another teacher's answers
        teacher.save_targets(fake_targets(train, epochs=4), tmp_path / "other.npz")
        teacher_for(recipe_for(load_resume(out)), load_resume(out), tmp_path / "other.npz", train.labels)


def test_the_teacher_and_the_photos_change_what_is_learnt(splits, tiny_photos):
    train, test = splits
    plain = fit(Recipe(epochs=1, batch_size=64, teacher_epochs=0), train, test, CPU, seed=0).model.state_dict()
    taught = fit(
        Recipe(epochs=1, batch_size=64, teacher_epochs=1), train, test, CPU, seed=0, targets=fake_targets(train)
    ).model.state_dict()
    mixed = fit(Recipe(epochs=1, batch_size=64, teacher_epochs=0), train, test, CPU, seed=0, photos=tiny_photos)
    key = "linear_relu_stack.4.weight"
    assert not torch.equal(plain[key], taught[key]) and not torch.equal(plain[key], mixed.model.state_dict()[key])
    assert set(plain) == set(mixed.model.state_dict()), "the shipped model is the tutorial's, teacher or not"


def test_targets_for_other_images_are_refused(splits):
    train, _ = splits
    wrong = fake_targets(train)
    wrong.images = np.roll(wrong.images, 1, axis=2)  # every answer one class off: made for other images
    with pytest.raises(DataError, match=r"^targets.npz: the teacher's targets agree with only 0%"):
        fit(Recipe(epochs=1, batch_size=64, teacher_epochs=1), train, None, CPU, targets=wrong)
    short = fake_targets(train)
    short.images = short.images[:100]
    with pytest.raises(DataError, match="answer 100 training images, this run has 600"):
        fit(Recipe(epochs=1, batch_size=64, teacher_epochs=1), train, None, CPU, targets=short)


def test_resume_keeps_photos_and_teacher(splits, tiny_photos, tmp_path):
    out = tmp_path / "m.safetensors"
    fit(
        Recipe(epochs=1, batch_size=64, teacher_epochs=1),
        splits[0],
        None,
        CPU,
        out=out,
        photos=tiny_photos,
        targets=fake_targets(splits[0]),
    )
    resume = load_resume(out)
    with pytest.raises(UsageError, match="--no-photos"):
        recipe_for(resume, photo_share=0.0)
    with pytest.raises(UsageError, match="leave out --no-teacher"):
        recipe_for(resume, teacher_epochs=0)
    assert recipe_for(resume, epochs=3).teacher_epochs == 1


def test_the_targets_file_round_trips_and_its_teacher_trains(splits, tiny_photos, tmp_path):
    train, test = splits
    recipe = Recipe(teacher_epochs=1, batch_size=64)
    model = teacher.train_teacher(recipe, train.images, train.labels, tiny_photos, CPU, 0)
    made = teacher.Targets(
        teacher.soft_targets(model, train.images, recipe).numpy(),
        teacher.soft_targets(model, tiny_photos.images, recipe).numpy(),
        teacher.drawings_digest(tiny_photos.images.numpy()),
        1,
        0.5,
        3.0,
        0,
    )
    teacher.save_targets(made, tmp_path / "t.npz")
    back = teacher.load_targets(tmp_path / "t.npz")
    assert back.images.dtype == np.float16 and back.images.shape == (600, 2, 10) and back.photos.shape == (40, 2, 10)
    assert np.allclose(back.images, made.images, atol=0.02, rtol=0.01) and back.epochs == 1
    assert back.source.endswith("t.npz") and back.report()["epochs"] == 1


def test_one_seed_trains_one_teacher_and_leaves_the_callers_generator_alone(splits, tiny_photos):
    train = splits[0]
    recipe = Recipe(teacher_epochs=1, batch_size=64)
    weights = []
    for draw in (1, 5):
        torch.rand(draw)  # the global stream (dropout's unless seeded) is somewhere else each time
        before = torch.random.get_rng_state()
        model = teacher.train_teacher(recipe, train.images[:256], train.labels[:256], tiny_photos, CPU, 0)
        assert torch.equal(torch.random.get_rng_state(), before)
        weights.append(model.state_dict())
    assert all(torch.equal(weights[0][name], weights[1][name]) for name in weights[0])


def _targets_file(path, **change):
    arrays = {
        "images": np.zeros((600, 2, 10), np.float16),
        "photos": np.zeros((4, 2, 10), np.float16),
        "drawings_sha256": np.str_("0" * 64),
        "epochs": np.int64(10),
        "test_accuracy": np.float64(0.93),
        "seconds": np.float64(1.0),
        "seed": np.int64(0),
    }
    arrays.update(change)
    np.savez_compressed(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


@pytest.mark.parametrize(
    ("damage", "change", "message"),
    [
        (
            "missing",
            None,
            "teacher targets not found; remake it with tools/make_teacher_targets.py, or train with --no-teacher",
        ),
        (
            "float32",
            {"images": np.zeros((600, 2, 10), np.float32)},
            "array 'images' holds float32 values, expected float16",
        ),
        ("huge", {"photos": np.lib.format.open_memmap}, "declares shape"),
        ("shape", {"images": np.zeros((600, 10), np.float16)}, "array 'images' has 2 dimensions, expected 3"),
        (
            "classes",
            {"images": np.zeros((600, 2, 9), np.float16)},
            "array 'images' has shape [600, 2, 9], expected [N, 2, 10]",
        ),
        ("nan", {"photos": np.full((4, 2, 10), np.nan, np.float16)}, "array 'photos' holds NaN or infinite values"),
        ("epochs", {"epochs": np.int64(0)}, "epochs or test accuracy are out of range"),
        ("no-images", {"images": None}, "not a teacher targets file (no images)"),
        ("not-zip", b"hello", "not a readable teacher targets file"),
    ],
)
def test_a_damaged_targets_file_is_one_line_naming_it(tmp_path, damage, change, message):
    path = tmp_path / "targets.npz"
    if damage == "huge":  # a forged header declaring a billion rows: refused before a byte is inflated
        with zipfile.ZipFile(path, "w") as archive:
            _targets_file(tmp_path / "ok.npz")
            with zipfile.ZipFile(tmp_path / "ok.npz") as ok:
                for member in ok.namelist():
                    data_ = ok.read(member)
                    if member == "photos.npy":
                        header = "{'descr': '<f2', 'fortran_order': False, 'shape': (1000000000, 2, 10), }"
                        data_ = (
                            b"\x93NUMPY\x01\x00"
                            + len(header.ljust(117) + "\n").to_bytes(2, "little")
                            + (header.ljust(117) + "\n").encode()
                        )
                    archive.writestr(member, data_)
    elif isinstance(change, bytes):
        path.write_bytes(change)
    elif damage != "missing":
        _targets_file(path, **change)
    with pytest.raises(DataError) as caught:
        teacher.load_targets(path)
    assert str(caught.value).startswith(str(path)) and message in str(caught.value) and "\n" not in str(caught.value)


def test_the_temperature_counts_a_photos_allowed_classes_together():
    """Shoes answered as a sandal, a sneaker or an ankle boot are all right: fitted as such, the temperature
    sharpens (right answers), where counted against one class it softens (wrong ones)."""
    logits = torch.zeros(5, 10)
    logits[0, 5] = logits[1, 7] = logits[2, 9] = logits[3, 0] = logits[4, 0] = 2.0
    labels = torch.tensor([5, 5, 5, 0, 1])
    allowed = torch.nn.functional.one_hot(labels, 10).bool()
    assert fit_temperature(logits, labels) == fit_temperature(logits, allowed) == pytest.approx(1.116, abs=1e-3)
    allowed[:3, [5, 7, 9]] = True
    assert fit_temperature(logits, allowed) == pytest.approx(0.596, abs=1e-3)


def test_the_train_loss_note_says_what_the_mix_is():
    from fashionnet.render.training import loss_parts, losses_note

    assert loss_parts(Recipe()) == (0.1, 0.5, 0.3)
    assert loss_parts({"label_smoothing": 0.2}) == (0.2, 0.0, 0.0), "an older checkpoint's recipe: smoothing alone"
    assert loss_parts({**Recipe().to_dict(), "teacher_epochs": 0, "photo_share": 0.0}) == (0.1, 0.0, 0.0)
    note = losses_note(*loss_parts(Recipe()))
    assert "0.5 x distance to the teacher" in note and "0.3 x the photos' loss" in note and "cannot fall" not in note
    assert "cannot fall below 0.500" in losses_note(0.1)
