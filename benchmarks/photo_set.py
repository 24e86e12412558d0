"""The development set of real clothing photos (issue 7) and the scores measured on it.

The photos live outside the repository (../shared/data/clothing-photos, or $FASHIONNET_PHOTOS); the
benchmark skips with a message when they are absent. Rows are split into two fixed halves (alternate rows
of each category) so preprocessing and thresholds can be tuned on one half and confirmed on the other.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = [os.environ.get("FASHIONNET_PHOTOS"), ROOT.parent / "shared" / "data" / "clothing-photos",
              Path("/work/shared/data/clothing-photos")]


@dataclass
class Photo:
    path: Path
    category: str
    named: set[int]  # classes a person would name (empty: none of the ten)
    acceptable: set[int]
    half: int  # 0: tuning half, 1: confirming half


def locate() -> Path | None:
    for c in CANDIDATES:
        if c and (Path(c) / "labels.csv").is_file():
            return Path(c)
    return None


def load(folder: Path) -> list[Photo]:
    photos, seen = [], {}
    with open(folder / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            n = seen[row["category"]] = seen.get(row["category"], -1) + 1
            photos.append(Photo(folder / row["path"], row["category"],
                                {int(x) for x in row["fashionmnist"].split()},
                                {int(x) for x in row["acceptable"].split()}, n % 2))
    return photos


def auroc(in_scores: np.ndarray, out_scores: np.ndarray) -> float:
    """Probability that an in-distribution photo scores higher than an out-of-distribution one (ties 1/2)."""
    a, b = np.asarray(in_scores, float)[:, None], np.asarray(out_scores, float)[None, :]
    if not a.size or not b.size:
        return float("nan")
    return float((a > b).mean() + 0.5 * (a == b).mean())


def scores(photos: list[Photo], predicted: list[int], sure: list[bool], score: list[float]) -> dict:
    """Strict, class-balanced and acceptable accuracy over the seven known categories, the AUROC of the
    score for known vs unknown (hat/shorts/skirt), and the not-sure rates."""
    known = [i for i, p in enumerate(photos) if p.named]
    unknown = [i for i, p in enumerate(photos) if not p.named]
    strict = [predicted[i] in photos[i].named for i in known]
    per_cat: dict[str, list[bool]] = {}
    for i, ok in zip(known, strict):
        per_cat.setdefault(photos[i].category, []).append(ok)
    correct = [i for i, ok in zip(known, strict) if ok]
    return {
        "photos": len(photos),
        "strict_accuracy": float(np.mean(strict)) if strict else float("nan"),
        "balanced_accuracy": float(np.mean([np.mean(v) for v in per_cat.values()])) if per_cat else float("nan"),
        "acceptable_accuracy": float(np.mean([predicted[i] in photos[i].acceptable for i in known])) if known else float("nan"),
        "per_category": {k: float(np.mean(v)) for k, v in sorted(per_cat.items())},
        "auroc": auroc(np.array([score[i] for i in known]), np.array([score[i] for i in unknown])),
        "unknown_not_sure": float(np.mean([not sure[i] for i in unknown])) if unknown else float("nan"),
        "correct_sure": float(np.mean([sure[i] for i in correct])) if correct else float("nan"),
    }
