"""A small convolutional teacher for knowledge distillation, used only while training.

The tutorial's MLP sees 784 pixels with no notion of neighbours; a CNN learns FashionMNIST and the photo
drawings better with far fewer weights. `fashionnet train` first trains this teacher on the same images
and photo drawings, then the MLP learns from the teacher's softened probabilities as well as from the
labels (Hinton, Vinyals & Dean 2015). The teacher is never a shipped model and never runs in predict or
evaluate: tools/make_teacher_targets.py trains it once and ships its answers (TARGETS: its logits for every
training image and photo drawing, as they are and mirrored, at float16), so that `fashionnet train`
distils from them without training it, and `--resume` continues with the same targets. Training reads
the answers for the training images only: since issue 22's fourth round the photo drawings are answered
on the fly by the photo teacher (photo_teacher.py); the photo answers stay in the file, which cannot be
made again bit for bit (docs/training.md), for `benchmarks/recipe_trial.py --teacher` comparisons.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fashionnet.batches import (
    PhotoBatches,
    PhotoSet,
    flip,
    photos_per_batch,
    random_flips,
    shift,
    standardize,
    train_step,
)
from fashionnet.epochs import EpochStats
from fashionnet.errors import printable
from fashionnet.recipe import WHOLE_PIXEL_PHOTOS
from fashionnet.streams import raise_if_interrupted

LR = 3e-3  # peak of the teacher's one-cycle schedule (AdamW)
WEIGHT_DECAY = 0.05
BATCH = 256
SHIFT = 1  # FashionMNIST images move by up to a pixel (a CNN gains from it; the MLP lost by it)


class Teacher(nn.Module):
    """Three 3x3 convolutions with batch normalisation, each on the full grid and then max-pooled
    (28 -> 14 -> 7), dropout and a linear read-out: 0.16 M weights against the MLP's 0.67 M. The CNN of
    issue 15 (a 2x2 patch embedding, 28 -> 14, then two 3x3 convolutions) reached 91.5% in six epochs and
    took longer per image; this one sees every pixel's neighbours from the first layer."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1),
            nn.BatchNorm2d(128),
            nn.ReLU(),
            nn.Flatten(),
            nn.Dropout(0.3),
        )
        self.classifier = nn.Linear(128 * 7 * 7, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 784) standardised pixels -> (B, 10) logits."""
        return self.classifier(self.features(x.reshape(-1, 1, 28, 28)))


def build_teacher(seed: int, device: torch.device | str = "cpu") -> Teacher:
    """Initial weights from `seed` alone (made on the CPU, then moved), like the MLP's."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 2000)
        model = Teacher()
    return model.to(device)


def train_teacher(
    recipe,
    images: torch.Tensor,
    labels: torch.Tensor,
    photos: PhotoSet | None,
    device: torch.device,
    seed: int,
    callbacks=None,
) -> Teacher:
    """Train the teacher for recipe.teacher_epochs on the training images (B, 28, 28) uint8 on `device`,
    with the same share of photo drawings in every batch and the same photo losses as the MLP. `callbacks`
    gets epoch_start / batch_end / epoch_end(stats) like the MLP's training."""
    model = build_teacher(seed, device)
    generator = torch.Generator().manual_seed(seed + 3000)
    # Dropout draws from the global generator, which torch seeds at random in every process: seed it too
    # (inside fork_rng, so the caller's stream is left as it was), or two runs of one seed differ.
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed + 4000)
        _train_epochs(model, generator, recipe, images, labels, photos, device, callbacks)
    return model.eval()


def _train_epochs(model, generator, recipe, images, labels, photos, device, callbacks) -> None:
    """train_teacher's loop, run where the global generator (dropout's) is seeded."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    n = len(images)
    batches = math.ceil(n / BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=LR, total_steps=batches * recipe.teacher_epochs, pct_start=0.2, cycle_momentum=False
    )
    per_batch = round(photos_per_batch(recipe, photos) * BATCH / recipe.batch_size) if photos is not None else 0
    drawn = replace(recipe, **WHOLE_PIXEL_PHOTOS)  # the photo drawings as the shipped answers were made
    mixing = PhotoBatches(photos, max(1, per_batch), generator, drawn) if photos is not None and per_batch else None
    for epoch in range(recipe.teacher_epochs):
        if callbacks is not None:
            callbacks.epoch_start(epoch + 1, recipe.teacher_epochs, batches)
        tick = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=generator).to(device)
        chosen = mixing.epoch(batches) if mixing else None
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        for batch in range(batches):
            raise_if_interrupted()
            index = order[batch * BATCH : (batch + 1) * BATCH]
            x = shift(flip(images[index], random_flips(len(index), generator, device)), generator, SHIFT)
            y, allowed = labels[index], None
            if mixing is not None and chosen is not None:
                extra, allowed, _ = mixing.batch(chosen[batch])
                x = torch.cat([x, extra])
            loss, right = train_step(model, optimizer, schedule, x, y, allowed, recipe, smoothing=0.0)
            loss_sum += loss * len(y)
            correct += right
            if callbacks is not None and (batch % 20 == 19 or batch == batches - 1):
                callbacks.batch_end(batch + 1, min(n, (batch + 1) * BATCH), loss.item())
        seconds = time.perf_counter() - tick
        if callbacks is not None:
            callbacks.epoch_end(
                EpochStats(
                    epoch + 1,
                    loss_sum.item() / n,
                    correct.item() / n,
                    None,
                    None,
                    seconds,
                    n / seconds if seconds > 0 else 0.0,
                    optimizer.param_groups[0]["lr"],
                )
            )


@torch.inference_mode()
def teacher_logits(model: Teacher, images: torch.Tensor, recipe, batch_size: int = 2048) -> torch.Tensor:
    """(N, 28, 28) uint8 -> (N, 10) float32 logits of the teacher, in batches."""
    model.eval()
    out = [model(standardize(images[s : s + batch_size], recipe)) for s in range(0, len(images), batch_size)]
    return torch.cat(out) if out else torch.zeros(0, 10, device=images.device)


def soft_targets(model: Teacher, images: torch.Tensor, recipe) -> torch.Tensor:
    """(N, 2, 10): the teacher's logits for each training image as it is and mirrored, so that the MLP's
    flipped images get the teacher's answer for exactly what the MLP sees."""
    return torch.stack([teacher_logits(model, images, recipe), teacher_logits(model, images.flip(-1), recipe)], dim=1)


# ---- the teacher's answers, shipped ------------------------------------------------------------------

TARGETS = Path(__file__).resolve().parent / "drawings" / "teacher-targets.npz"
REMAKE_TARGETS = "remake it with tools/make_teacher_targets.py, or train with --no-teacher"
MAX_IMAGES = 100_000  # FashionMNIST's training split has 60,000
TARGET_ARRAYS = {
    "images": ("f", 3),
    "photos": ("f", 3),
    "drawings_sha256": ("U", 0),
    "epochs": ("i", 0),
    "test_accuracy": ("f", 0),
    "seconds": ("f", 0),
    "seed": ("i", 0),
}
TARGET_LIMITS = {"images": MAX_IMAGES * 2 * 10, "photos": 250_000 * 2 * 10}


@dataclass
class Targets:
    """The teacher's logits for every FashionMNIST training image and every drawing of one photo drawings
    file, each as it is and mirrored: (N, 2, 10) and (M, 2, 10), float16. Made once by
    tools/make_teacher_targets.py, so that training distils from them without training the teacher."""

    images: np.ndarray
    photos: np.ndarray
    drawings_sha256: str  # of the drawings array the photo targets answer
    epochs: int
    test_accuracy: float
    seconds: float
    seed: int
    source: str = ""  # the file they were read from, for messages

    def report(self) -> dict:
        """What a checkpoint's metadata says about its teacher."""
        return {
            "epochs": self.epochs,
            "test_accuracy": self.test_accuracy,
            "seconds": self.seconds,
            "targets_sha256": self.drawings_sha256[:16],
        }


def image_targets(targets: Targets, labels: torch.Tensor, n: int) -> torch.Tensor:
    """(n, 2, 10) float32: the targets of the first n training images, after checking that they answer
    these images (as many images at least, and the teacher's answer mostly the label: another data set's
    targets would agree with about a tenth)."""
    from fashionnet.errors import DataError

    if len(targets.images) < len(labels):
        raise DataError(
            f"{targets.source}: the teacher's targets answer {len(targets.images):,} training images, "
            f"this run has {len(labels):,}; {REMAKE_TARGETS}"
        )
    answers = torch.from_numpy(np.ascontiguousarray(targets.images[: len(labels)], np.float32))
    agree = (answers[:, 0].argmax(1) == labels.cpu()).float().mean().item() if len(labels) else 1.0
    if agree < 0.8:
        raise DataError(
            f"{targets.source}: the teacher's targets agree with only {agree:.0%} of these training "
            f"images' labels: they were made for other images; {REMAKE_TARGETS}"
        )
    return answers[:n]


def drawings_digest(drawings: np.ndarray) -> str:
    """sha256 of a drawings array, which records which drawings a targets file's photo answers answer."""
    return hashlib.sha256(np.ascontiguousarray(drawings, np.uint8).tobytes()).hexdigest()


def save_targets(targets: Targets, path: Path = TARGETS) -> None:
    """Write the targets file atomically (a compressed .npz of plain arrays: no pickle)."""
    from fashionnet.files import atomic_write

    arrays: dict[str, Any] = {
        "images": targets.images.astype(np.float16),
        "photos": targets.photos.astype(np.float16),
        "drawings_sha256": np.str_(targets.drawings_sha256),
        "epochs": np.int64(targets.epochs),
        "test_accuracy": np.float64(targets.test_accuracy),
        "seconds": np.float64(targets.seconds),
        "seed": np.int64(targets.seed),
    }

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    atomic_write(Path(path), write)


def load_targets(path: Path = TARGETS) -> Targets:
    """Read and check a targets file, as hostile as the drawings file and through the same reader
    (photos.read_npz: sizes checked in each header before anything is inflated). Every way it can be
    wrong is one DataError naming the file."""
    from fashionnet.errors import DataError
    from fashionnet.files import input_file_problem
    from fashionnet.photos import NpzFormat, read_npz, read_problem

    name = printable(str(path))
    problem = input_file_problem(Path(path), "file")
    if problem:
        if problem == "no such file":
            problem = "teacher targets not found"
        raise DataError(f"{name}: {problem}; {REMAKE_TARGETS}")
    form = NpzFormat(
        TARGET_ARRAYS,
        TARGET_LIMITS,
        64 * 2**20,
        "teacher targets file",
        REMAKE_TARGETS,
        {"images": np.dtype(np.float16), "photos": np.dtype(np.float16)},
    )
    with read_problem(name, "teacher targets file", REMAKE_TARGETS):
        arrays = read_npz(Path(path), name, form)
    for key in ("images", "photos"):
        value = arrays[key]
        if value.shape[1:] != (2, 10):
            raise DataError(
                f"{name}: array '{key}' has shape {list(value.shape)}, expected [N, 2, 10] (the "
                f"teacher's 10 logits for each image as it is and mirrored); {REMAKE_TARGETS}"
            )
        if not np.isfinite(value).all():
            raise DataError(f"{name}: array '{key}' holds NaN or infinite values; {REMAKE_TARGETS}")
    epochs, accuracy = int(arrays["epochs"]), float(arrays["test_accuracy"])
    if not 1 <= epochs <= 1000 or not 0 <= accuracy <= 1:
        raise DataError(f"{name}: its teacher's epochs or test accuracy are out of range; {REMAKE_TARGETS}")
    return Targets(
        arrays["images"],
        arrays["photos"],
        str(arrays["drawings_sha256"]),
        epochs,
        accuracy,
        float(arrays["seconds"]),
        int(arrays["seed"]),
        name,
    )
