"""How far the photo drawings themselves go, for the tutorial's network and for a small CNN: each is trained
on the train part's drawings alone (no FashionMNIST, no teacher), then measured on the validation part and
the hold-out as the shipped weights are. The gap between the two says how much of what the photos hold
this MLP can take from a 28×28 drawing at all, whatever the recipe.

    python benchmarks/photo_ceiling.py                      # both networks, 20 epochs, seed 0
    python benchmarks/photo_ceiling.py --model mlp --epochs 40 --seed 1

One torch thread; the MLP takes about a minute, the CNN (teacher.Teacher, the distillation teacher's
architecture) about five. One JSON line per network and part goes to stdout. The probabilities are not
calibrated (temperature 1), so "not sure" and ECE figures are the raw network's; strict, balanced and
per-category accuracy do not depend on it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from fashionnet.recipe import Recipe  # noqa: E402

BATCH = 128


def train_on_drawings(model, drawings, epochs: int, seed: int):
    """`model` trained on the train part's drawings (each photo's own and its mask variants) with the loss
    training gives photos (losses.photo: one class, partial labels, or uniform for hat/shorts/skirt), the
    flips and 1-pixel shifts training gives them, and AdamW on a one-cycle schedule."""
    from fashionnet import batches, losses

    recipe = Recipe()
    images, allowed, _ = drawings.training_set()
    x_all = torch.from_numpy(np.ascontiguousarray(images))
    allowed_all = torch.from_numpy(np.ascontiguousarray(allowed))
    generator = torch.Generator().manual_seed(seed + 1000)  # the order, flips and shifts
    torch.manual_seed(seed + 4000)  # the CNN's dropout, as teacher.train_teacher seeds it
    steps_per_epoch = len(x_all) // BATCH
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=recipe.lr, total_steps=epochs * steps_per_epoch, pct_start=recipe.warmup_fraction
    )
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x_all), generator=generator)
        for step in range(steps_per_epoch):
            index = order[step * BATCH : (step + 1) * BATCH]
            x = batches.shift(batches.augment(x_all[index], generator), generator, 1)
            loss = losses.photo(model(batches.standardize(x, recipe)), allowed_all[index]).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    return model


class OnPixels(torch.nn.Module):
    """A network trained on standardised pixels, taking what predict feeds a checkpoint ([0, 1] pixels)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model, self.recipe = model, Recipe()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model((x.reshape(len(x), -1) - self.recipe.mean) / self.recipe.std)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["mlp", "cnn", "both"], default="both")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from benchmarks import photo_set
    from fashionnet import calibration, photos
    from fashionnet.model import build_model
    from fashionnet.teacher import build_teacher

    torch.set_num_threads(1)
    drawings = photos.load(photos.DRAWINGS)
    builders = {"mlp": lambda: build_model(seed=args.seed), "cnn": lambda: build_teacher(args.seed)}
    for name in ("mlp", "cnn") if args.model == "both" else (args.model,):
        start = time.perf_counter()
        model = OnPixels(train_on_drawings(builders[name](), drawings, args.epochs, args.seed))
        seconds = round(time.perf_counter() - start)
        for part, part_name in ((photos.VALIDATION, "validation"), (photos.HOLDOUT, "hold-out")):
            scores = photo_set.part_scores(
                drawings,
                part,
                lambda which, model=model: photo_set.from_drawings(
                    drawings, which, model, 1.0, calibration.DEFAULT_THRESHOLD
                ),
            )
            record = {"model": name, "epochs": args.epochs, "seed": args.seed, "part": part_name, "seconds": seconds}
            record.update({k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()})
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
