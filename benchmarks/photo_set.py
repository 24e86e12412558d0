"""Real clothing photos (issues 7 and 15): the fixed parts of the photo set and the scores measured on them.

The 3,068 photos of clothing-dataset-small's train split are split once, by seed and within each category
(fashionnet/photos.py): train (65%, the only photos training sees), validation (15%, for choosing
settings) and hold-out (20%, reported once). The figures come from `fashionnet predict` run on the photo
files when a copy of them is on this machine (../shared/data/clothing-photos or $FASHIONNET_PHOTOS), and
otherwise from the shipped drawings (fashionnet/drawings/), which hold each photo's own drawing and the
mask variants predict averages over: the same answers as predict's (issue 22).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Answers:
    """What the model answered for some photos: class, calibrated top probability (the score the
    threshold is compared with), and "sure" (a garment was found and the score reaches the threshold)."""

    predicted: np.ndarray  # (n,) int
    score: np.ndarray  # (n,) float
    sure: np.ndarray  # (n,) bool


def auroc(in_scores: np.ndarray, out_scores: np.ndarray) -> float:
    """Probability that an in-distribution photo scores higher than an out-of-distribution one (ties 1/2)."""
    a, b = np.asarray(in_scores, float)[:, None], np.asarray(out_scores, float)[None, :]
    if not a.size or not b.size:
        return float("nan")
    return float((a > b).mean() + 0.5 * (a == b).mean())


def from_drawings(drawings, which: np.ndarray, model, temperature: float, threshold: float) -> Answers:
    """The answers for photos `which` of a PhotoDrawings, computed as predict computes them: logits averaged
    over each photo's drawings in the file (predict.classify_scored), softmax at the checkpoint's temperature."""
    import torch

    from fashionnet.predict import classify_scored

    rows = np.flatnonzero(np.isin(drawings.owner, which))
    members = np.searchsorted(which, drawings.owner[rows])  # which must be sorted
    probs, indices, scores = classify_scored(
        drawings.drawings[rows], model, torch.device("cpu"), top_k=1, temperature=temperature, members=members
    )
    return Answers(indices[:, 0], scores, drawings.found[which] & (scores >= threshold))


def scores(named: np.ndarray, acceptable: np.ndarray, category: list[str], answers: Answers) -> dict:
    """Strict, class-balanced and acceptable accuracy over the photos with a FashionMNIST class, accuracy
    per category, the AUROC of the score for known against unknown garments (hat, shorts, skirt: no class
    allowed), and the not-sure rates at the threshold the answers were made with."""
    known = named.any(1)
    unknown = ~known
    answered = answers.predicted >= 0  # -1: predict failed on the photo, which is never a right answer
    chosen = np.where(answered, answers.predicted, 0)
    hit = named[np.arange(len(named)), chosen] & answered
    per_category = {
        c: float(hit[known & (np.asarray(category) == c)].mean())
        for c in sorted(set(np.asarray(category)[known].tolist()))
    }
    correct = known & hit
    return {
        "photos": int(len(named)),
        "strict_accuracy": float(hit[known].mean()) if known.any() else float("nan"),
        "balanced_accuracy": float(np.mean(list(per_category.values()))) if per_category else float("nan"),
        "acceptable_accuracy": (
            float((acceptable[np.arange(len(named)), chosen] & answered)[known].mean()) if known.any() else float("nan")
        ),
        "per_category": per_category,
        "auroc": auroc(answers.score[known], answers.score[unknown]),
        "unknown_not_sure": float((~answers.sure[unknown]).mean()) if unknown.any() else float("nan"),
        "correct_sure": float(answers.sure[correct].mean()) if correct.any() else float("nan"),
        "photo_ece": photo_ece(answers.score[known], hit[known]),
        "shoes_wrong_sure": float((answers.sure & ~hit)[known & (np.asarray(category) == "shoes")].mean())
        if (known & (np.asarray(category) == "shoes")).any()
        else float("nan"),
    }


def photo_ece(score: np.ndarray, right: np.ndarray) -> float:
    """Calibration error on photos: the calibrated top probability against whether the answer was the
    class a person would name (15 equal-width bins, as for the test set)."""
    import torch

    from fashionnet.calibration import confidence_error

    if not len(score):
        return float("nan")
    return confidence_error(torch.from_numpy(np.asarray(score, float)), torch.from_numpy(np.asarray(right, bool)))


def part_scores(drawings, part: int, answers_for) -> dict:
    """scores() for one part (photos.TRAIN, VALIDATION or HOLDOUT); `answers_for(which)` gives Answers."""
    which = drawings.in_part(part)
    names = [str(drawings.categories[c]) for c in drawings.category[which]]
    return scores(drawings.named[which], drawings.acceptable[which], names, answers_for(which))
