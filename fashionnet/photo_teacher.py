"""The photo teacher: the distillation teacher's CNN (teacher.Teacher) trained on the photo drawings alone,
used only while training.

On the same 28×28 drawings this CNN gets about 83% of the validation photos right where the tutorial's MLP,
trained the same way, gets about 75% (benchmarks/photo_ceiling.py): it knows which pixels are neighbours.
While the MLP trains, the photo teacher answers every photo drawing *as the MLP sees it that step* (turned,
scaled and shifted at random, batches.warp), and the MLP learns to give the same answer. Matching a
patient teacher on ever new views of the same pictures passes on more than fixed labels or fixed answers
do (Beyer et al. 2022, "Knowledge distillation: a good teacher is patient and consistent").
tools/make_photo_teacher.py trains it once; its weights ship (PHOTO_TEACHER, 0.6 MB), so `make weights`
needs neither the photos nor this training.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from fashionnet import batches, losses
from fashionnet.errors import WeightsError
from fashionnet.recipe import Recipe
from fashionnet.streams import raise_if_interrupted
from fashionnet.teacher import Teacher, build_teacher

PHOTO_TEACHER = Path(__file__).resolve().parent / "drawings" / "photo-teacher.safetensors"
REMAKE = "remake it with: python tools/make_photo_teacher.py"
EPOCHS = 20
BATCH = 128


def train_on_drawings(model: torch.nn.Module, drawings, epochs: int, seed: int) -> torch.nn.Module:
    """`model` trained on the train part's drawings of a photos.PhotoDrawings (each photo's own drawing and
    its mask variants) and nothing else, with the loss training gives photos (losses.photo: one class,
    partial labels, or uniform for hat/shorts/skirt), random flips and 1-pixel shifts, and AdamW on a
    one-cycle schedule. Returned in eval mode. Dropout draws from a seeded generator (fork_rng), so a seed
    gives one model."""
    recipe = Recipe()
    images, allowed, _ = drawings.training_set()
    x_all = torch.from_numpy(np.ascontiguousarray(images))
    allowed_all = torch.from_numpy(np.ascontiguousarray(allowed))
    generator = torch.Generator().manual_seed(seed + 1000)  # the order, flips and shifts
    steps = len(x_all) // BATCH
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=recipe.lr, total_steps=epochs * steps, pct_start=recipe.warmup_fraction
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 4000)
        model.train()
        for _ in range(epochs):
            order = torch.randperm(len(x_all), generator=generator)
            for step in range(steps):
                raise_if_interrupted()
                index = order[step * BATCH : (step + 1) * BATCH]
                x = batches.shift(batches.augment(x_all[index], generator), generator, 1)
                loss = losses.photo(model(batches.standardize(x, recipe)), allowed_all[index]).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
    return model.eval()


def train_photo_teacher(drawings, epochs: int = EPOCHS, seed: int = 0) -> tuple[Teacher, dict]:
    """A photo teacher trained on `drawings`, and the metadata its file records."""
    start = time.perf_counter()
    model = train_on_drawings(build_teacher(seed), drawings, epochs, seed)
    assert isinstance(model, Teacher)
    about = {"epochs": epochs, "seed": seed, "seconds": round(time.perf_counter() - start, 1)}
    return model, about


def save_photo_teacher(model: Teacher, about: dict, path: Path = PHOTO_TEACHER) -> None:
    """Written atomically, as a checkpoint: safetensors, with its metadata."""
    from fashionnet.weights import Checkpoint, save_checkpoint

    state = {k: v.detach().float() for k, v in model.state_dict().items()}
    save_checkpoint(path, Checkpoint(model=state, training={}, metadata=about))


def load_photo_teacher(path: Path | None = None, device: torch.device | str = "cpu") -> tuple[Teacher, dict]:
    """Read and check a photo teacher file (the shipped one unless `path` names another) as any checkpoint
    is read (no pickle, sizes from the header first, metadata validated), then its tensors against the
    CNN: one WeightsError line for each way it can be wrong. Returns the CNN and what identifies it (its
    epochs and seed, and the file's sha256), which a checkpoint records so that --resume keeps the same one."""
    import hashlib

    from fashionnet.weights import check_state_dict, read_checkpoint

    path = PHOTO_TEACHER if path is None else path
    model = Teacher()
    try:
        checkpoint = read_checkpoint(Path(path), training=False)
        check_state_dict(Path(path), checkpoint.model, model, "photo teacher")
    except WeightsError as exc:
        raise WeightsError(f"{exc}; {REMAKE}") from None
    model.load_state_dict({k: v.float() for k, v in checkpoint.model.items()})
    about = {k: checkpoint.metadata[k] for k in ("epochs", "seed") if k in checkpoint.metadata}
    with open(path, "rb") as f:  # read once more, in chunks: what identifies the file
        about["sha256"] = hashlib.file_digest(f, "sha256").hexdigest()[:16]
    return model.to(device).eval(), about


@torch.no_grad()
def answers(model: torch.nn.Module, images: torch.Tensor, recipe) -> torch.Tensor:
    """(B, 28, 28) uint8 drawings -> (B, 10) the photo teacher's logits for them, as drawn. Not
    teacher.teacher_logits: its inference-mode tensors cannot be saved for the distillation loss's backward."""
    return model(batches.standardize(images, recipe))
