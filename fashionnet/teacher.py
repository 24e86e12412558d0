"""A small convolutional teacher for knowledge distillation, used only while training.

The tutorial's MLP sees 784 pixels with no notion of neighbours; a CNN learns FashionMNIST and the photo
drawings better with far fewer weights. `fashionnet train` first trains this teacher on the same images
and photo drawings, then the MLP learns from the teacher's softened probabilities as well as from the
labels (Hinton, Vinyals & Dean 2015). The teacher is never a shipped model and never runs in predict or
evaluate: its weights live only in a checkpoint's training state, so that `--resume` continues with the
same soft targets (a checkpoint saved with --no-optimizer-state has none).
"""

from __future__ import annotations

import math
import time

import torch
from torch import nn

from fashionnet.batches import PhotoBatches, PhotoSet, flip, photos_per_batch, random_flips, shift, standardize, train_step
from fashionnet.epochs import EpochStats
from fashionnet.errors import WeightsError, printable
from fashionnet.streams import raise_if_interrupted

LR = 3e-3  # peak of the teacher's one-cycle schedule (AdamW)
WEIGHT_DECAY = 0.05
BATCH = 256
SHIFT = 1  # FashionMNIST images move by up to a pixel (a CNN gains from it; the MLP lost by it)
PREFIX = "teacher."  # its tensors in a checkpoint's training state


class Teacher(nn.Module):
    """A 2x2 patch embedding (28 -> 14 pixels), two 3x3 convolutions with batch normalisation around a
    max-pool (14 -> 7) and a linear read-out: 0.16 M weights against the MLP's 0.67 M. After six epochs
    with the photo drawings it reaches 91.7% on FashionMNIST's test set, about six times the MLP's CPU
    time per image. 3x3 convolutions on the full 28x28 (16, 32, 64 channels, batch normalisation after
    each) cost as much and reached 90.0% (docs/training.md)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 2, stride=2), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(), nn.Flatten(),
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


def train_teacher(recipe, images: torch.Tensor, labels: torch.Tensor, photos: PhotoSet | None, device: torch.device,
                  seed: int, callbacks=None) -> Teacher:
    """Train the teacher for recipe.teacher_epochs on the training images (B, 28, 28) uint8 on `device`,
    with the same share of photo drawings in every batch and the same photo losses as the MLP. `callbacks`
    gets epoch_start / batch_end / epoch_end(stats) like the MLP's training."""
    model = build_teacher(seed, device)
    generator = torch.Generator().manual_seed(seed + 3000)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    n = len(images)
    batches = math.ceil(n / BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=LR, total_steps=batches * recipe.teacher_epochs,
                                                   pct_start=0.2, cycle_momentum=False)
    per_batch = round(photos_per_batch(recipe, photos) * BATCH / recipe.batch_size) if photos is not None else 0
    mixing = PhotoBatches(photos, max(1, per_batch), generator) if per_batch else None
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
            if mixing is not None:
                extra, allowed = mixing.batch(chosen[batch])
                x = torch.cat([x, extra])
            loss, right = train_step(model, optimizer, schedule, x, y, allowed, recipe, smoothing=0.0)
            loss_sum += loss * len(y)
            correct += right
            if callbacks is not None and (batch % 20 == 19 or batch == batches - 1):
                callbacks.batch_end(batch + 1, min(n, (batch + 1) * BATCH), loss.item())
        seconds = time.perf_counter() - tick
        if callbacks is not None:
            callbacks.epoch_end(EpochStats(epoch + 1, loss_sum.item() / n, correct.item() / n, None, None, seconds,
                                           n / seconds if seconds > 0 else 0.0, optimizer.param_groups[0]["lr"]))
    return model.eval()


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


def teacher_state(model: Teacher) -> dict[str, torch.Tensor]:
    """The teacher's tensors for a checkpoint's training state."""
    return {PREFIX + k: v.detach().clone() for k, v in model.state_dict().items()}


def restore_teacher(path, training: dict[str, torch.Tensor], seed: int, device: torch.device) -> Teacher:
    """The teacher saved in a checkpoint's training state, checked like any other input."""
    model = build_teacher(seed)
    saved = {k[len(PREFIX):]: v for k, v in training.items() if k.startswith(PREFIX)}
    if not saved:
        raise WeightsError(f"{path}: holds no distillation teacher, so it cannot be resumed (it was saved "
                           "with --no-optimizer-state, or by an older fashionnet)")
    expected = model.state_dict()
    for name, value in expected.items():
        if name not in saved:
            raise WeightsError(f"{path}: the teacher lacks tensor {printable(name)}; cannot resume it")
        got = saved[name]
        if tuple(got.shape) != tuple(value.shape) or got.dtype != value.dtype:
            raise WeightsError(f"{path}: teacher tensor {printable(name)} is {got.dtype} {list(got.shape)}, "
                               f"expected {value.dtype} {list(value.shape)}")
        if got.is_floating_point() and not bool(torch.isfinite(got).all()):
            raise WeightsError(f"{path}: teacher tensor {printable(name)} holds NaN or infinite values")
        # A variance below 0 makes batch normalisation's square root NaN, and every soft target with it.
        if name.endswith((".running_var", ".num_batches_tracked")) and bool((got < 0).any()):
            raise WeightsError(f"{path}: teacher tensor {printable(name)} holds negative values; cannot resume it")
    extra = sorted(set(saved) - set(expected))
    if extra:
        raise WeightsError(f"{path}: unexpected teacher tensor(s) {printable(', '.join(extra))}; cannot resume it")
    model.load_state_dict(saved)
    return model.to(device).eval()
