"""How a training batch is made and scored: FashionMNIST images (flipped at random), photo drawings mixed
in as a share of every batch (flipped, turned, scaled and shifted at random), and the one loss both the
network and its distillation teacher learn from.

Random numbers always come from a CPU generator, so a seed draws the same batches on any device (the
resampling of a turned drawing may round a pixel differently on a GPU).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from fashionnet import losses


@dataclass
class PhotoSet:
    """The photo drawings training mixes in: (P, 28, 28) uint8 drawings and (P, 10) bool, the classes each
    allows (one class; shoes: sandal, sneaker or ankle boot; none at all: hat, shorts or skirt)."""

    images: torch.Tensor
    allowed: torch.Tensor

    def __len__(self) -> int:
        return len(self.images)

    def to(self, device: torch.device) -> PhotoSet:
        return PhotoSet(self.images.to(device), self.allowed.to(device))


def random_flips(count: int, generator: torch.Generator, device: torch.device | str = "cpu") -> torch.Tensor:
    """(count,) bool: which images of a batch to mirror, about half of them."""
    return (torch.rand(count, generator=generator) < 0.5).to(device)


def flip(batch: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
    """Mirror the images (B, 28, 28) where `which` (B,) is True."""
    return torch.where(which[:, None, None], batch.flip(-1), batch)


def augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flips of a uint8 batch (B, 28, 28), half of the images, all at once."""
    return flip(batch, random_flips(len(batch), generator, batch.device))


def shift(batch: torch.Tensor, generator: torch.Generator, pixels: int = 1) -> torch.Tensor:
    """Move each image (B, 28, 28) by its own random offset of up to `pixels` rows and columns, filling
    the uncovered edge with black (the background)."""
    count, h, w = batch.shape
    if count == 0 or pixels <= 0:
        return batch
    offsets = torch.randint(-pixels, pixels + 1, (2, count), generator=generator).to(batch.device)
    padded = F.pad(batch, (pixels, pixels, pixels, pixels))
    rows = torch.arange(h, device=batch.device)[None, :] + pixels + offsets[0][:, None]  # (B, h)
    cols = torch.arange(w, device=batch.device)[None, :] + pixels + offsets[1][:, None]  # (B, w)
    which = torch.arange(count, device=batch.device)[:, None, None]
    return padded[which, rows[:, :, None], cols[:, None, :]]


def warp(batch: torch.Tensor, generator: torch.Generator, degrees: float, scale: float, pixels: float) -> torch.Tensor:
    """Turn each image (B, 28, 28) uint8 by up to `degrees` either way, scale it by up to `scale` (a share)
    either way and move it by up to `pixels` in each direction, all drawn at random per image and
    resampled bilinearly; what comes in from outside the frame is black (the background)."""
    count = len(batch)
    if count == 0:
        return batch

    def spread(limit: float) -> torch.Tensor:
        return (torch.rand(count, generator=generator) * 2 - 1) * limit

    angle, zoom = spread(math.radians(degrees)), 1 + spread(scale)
    dx, dy = spread(pixels * 2 / batch.shape[-1]), spread(pixels * 2 / batch.shape[-2])
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, dx], 1), torch.stack([sin, cos, dy], 1)], 1).to(batch.device)
    grid = F.affine_grid(theta, [count, 1, *batch.shape[-2:]], align_corners=False)
    moved = F.grid_sample(batch[:, None].float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return moved[:, 0].round().clamp(0, 255).to(torch.uint8)


def standardize(batch: torch.Tensor, recipe) -> torch.Tensor:
    """uint8 (B, 28, 28) -> float (B, 784), standardised with the recipe's mean and std."""
    return batch.reshape(len(batch), -1).float() * (1 / (255 * recipe.std)) - recipe.mean / recipe.std


class PhotoBatches:
    """Which photo drawings join each batch of an epoch: `per_batch` of them, every drawing once per pass
    through the set, in a new order each pass; how each is drawn that step (recipe.photo_rotation,
    photo_scale and photo_shift); and, with a photo teacher (`teacher`: drawings -> logits), its answers
    for them as drawn."""

    def __init__(self, photos: PhotoSet, per_batch: int, generator: torch.Generator, recipe, teacher=None):
        self.photos, self.per_batch, self.generator = photos, per_batch, generator
        self.recipe, self.teacher = recipe, teacher

    def epoch(self, batches: int) -> torch.Tensor:
        """(batches, per_batch) indices into the photo set (on the photos' device)."""
        need = batches * self.per_batch
        passes = math.ceil(need / len(self.photos)) if need else 0
        order = torch.cat(
            [torch.randperm(len(self.photos), generator=self.generator) for _ in range(passes)]
            or [torch.zeros(0, dtype=torch.long)]
        )
        return order[:need].reshape(batches, self.per_batch).to(self.photos.images.device)

    def batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The drawings at `indices`, flipped and moved at random, with the classes they allow and the
        photo teacher's logits for each as drawn (None without a teacher)."""
        recipe = self.recipe
        mirrored = random_flips(len(indices), self.generator, self.photos.images.device)
        images = flip(self.photos.images[indices], mirrored)
        if recipe.photo_rotation > 0 or recipe.photo_scale > 0:
            images = warp(images, self.generator, recipe.photo_rotation, recipe.photo_scale, recipe.photo_shift)
        else:  # whole pixels (the recipe before issue 22's fourth round)
            images = shift(images, self.generator, round(recipe.photo_shift))
        soft = self.teacher(images) if self.teacher is not None else None
        return images, self.photos.allowed[indices], soft


def photos_per_batch(recipe, photos: PhotoSet | None) -> int:
    """How many photo drawings each batch takes: the recipe's share of the batch size, none without photos."""
    if photos is None or len(photos) == 0 or recipe.photo_share <= 0:
        return 0
    return max(1, round(recipe.photo_share * recipe.batch_size))


def train_step(
    model,
    optimizer,
    schedule,
    x: torch.Tensor,
    labels: torch.Tensor,
    allowed: torch.Tensor | None,
    recipe,
    smoothing: float,
    soft: torch.Tensor | None = None,
    photo_soft: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step on a mixed batch (x: FashionMNIST images first, then photo drawings; uint8),
    the same for the network and its teacher: (the loss, detached; how many FashionMNIST images were right)."""
    logits = model(standardize(x, recipe))
    loss = mixed_loss(logits, labels, allowed, recipe, smoothing, soft, photo_soft)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    schedule.step()
    return loss.detach(), (logits[: len(labels)].detach().argmax(1) == labels).sum()


def mixed_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    allowed: torch.Tensor | None,
    recipe,
    smoothing: float,
    soft: torch.Tensor | None = None,
    photo_soft: torch.Tensor | None = None,
) -> torch.Tensor:
    """The loss of a mixed batch: `logits` holds the FashionMNIST images first (len(labels) of them), then
    the photo drawings. FashionMNIST: cross-entropy (label smoothing `smoothing`), blended with matching
    the teacher's logits `soft` when given (recipe.distill_weight of it). Photos: the partial-label or
    uniform loss (losses.photo), blended with matching the photo teacher's logits `photo_soft` when given
    (recipe.photo_distill of it), weighted by recipe.photo_weight."""
    n = len(labels)
    loss = F.cross_entropy(logits[:n], labels, label_smoothing=smoothing)
    if soft is not None:
        taught = losses.distillation(logits[:n], soft, recipe.distill_temperature).mean()
        loss = (1 - recipe.distill_weight) * loss + recipe.distill_weight * taught
    if allowed is not None and len(allowed):
        own = losses.photo(logits[n:], allowed)
        if photo_soft is not None:
            taught = losses.distillation(logits[n:], photo_soft, recipe.distill_temperature)
            own = (1 - recipe.photo_distill) * own + recipe.photo_distill * taught
        loss = loss + recipe.photo_weight * own.mean()
    return loss
