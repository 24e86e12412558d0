"""How far the photo drawings themselves go, for the tutorial's network and for a small CNN: each is trained
on the train part's drawings alone (no FashionMNIST, no teacher), then measured on the validation part and
the hold-out as the shipped weights are. The gap between the two says how much of what the photos hold
this MLP can take from a 28×28 drawing at all, whatever the recipe.

    python benchmarks/photo_ceiling.py                      # both networks, 20 epochs, seed 0
    python benchmarks/photo_ceiling.py --model mlp --epochs 40 --seed 1

One torch thread; the MLP takes about 20 s, the CNN (teacher.Teacher, the teachers' architecture) about
four minutes. Both are trained as the photo teacher is (photo_teacher.train_on_drawings): with seed 0 the
CNN is the shipped photo teacher. One JSON line per network and part goes to stdout. The probabilities are not
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

import torch  # noqa: E402

from fashionnet.recipe import Recipe  # noqa: E402


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
    from fashionnet.photo_teacher import train_on_drawings
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
