"""One training trial of the default recipe with some settings changed, measured as docs/photos.md's
"Choosing the settings" tables are: FashionMNIST test accuracy and ECE, then the photo figures of the
validation part (the part settings are chosen on) and of the hold-out (reported, never chosen on).

    python benchmarks/recipe_trial.py                                   # the shipped recipe, seed 0
    python benchmarks/recipe_trial.py --set photo_weight=0.3 --seed 1
    python benchmarks/recipe_trial.py --teacher teacher15.npz           # answers of another teacher

One torch thread, as `make weights`; about five minutes on a quiet core. The trained checkpoint goes to
a temporary folder; one JSON line goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import fields, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setting(text: str) -> tuple[str, object]:
    """'name=value' of a recipe.Recipe field, the value read as JSON (0.3, true, 64)."""
    from fashionnet.recipe import Recipe

    name, _, value = text.partition("=")
    if name not in {f.name for f in fields(Recipe)}:
        raise argparse.ArgumentTypeError(f"{name!r} is not a field of recipe.Recipe")
    return name, json.loads(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=setting, action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--teacher", type=Path, default=None, help="a teacher's answers (default: the shipped)")
    args = parser.parse_args()

    import torch

    from benchmarks import photo_set
    from fashionnet import calibration, data, photos
    from fashionnet.evaluate import evaluate
    from fashionnet.train import prepare_training
    from fashionnet.weights import load_model

    torch.set_num_threads(1)
    cpu = torch.device("cpu")
    changes = dict(args.set)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "trial.safetensors"
        # Through train's own checks and loading: photo_share 0, teacher_epochs 0 are --no-photos and
        # --no-teacher (what is loaded depends on them); the fields train sets itself are set again after.
        own = ("photo_share", "teacher_epochs", "photo_distill")
        checked = {k: v for k, v in changes.items() if k not in own}
        no_photos, no_teacher = changes.get("photo_share") == 0, changes.get("teacher_epochs") == 0
        run = prepare_training(
            None, None, no_photos, args.seed, "cpu", None, None, out, True, args.teacher, no_teacher, **checked
        )
        run.recipe = replace(run.recipe, **changes)
        run.fit(None, save_optimizer=False)
        model, info = load_model(str(out), 0, cpu)
    seconds = time.perf_counter() - start
    test = data.load_split("test", official=True)
    measured = evaluate(model, test.images, test.labels, cpu, info.temperature)  # what `evaluate` reports
    record: dict = {
        "set": changes,
        "seed": args.seed,
        "teacher": str(args.teacher or "shipped"),
        "seconds": round(seconds),
        "temperature": info.temperature,
        "test_accuracy": round(measured.accuracy * 100, 2),
        "test_ece": round(measured.calibration_error * 100, 2),
    }
    drawings = photos.load(photos.DRAWINGS)
    for part, name in ((photos.VALIDATION, "validation"), (photos.HOLDOUT, "hold-out")):
        scores = photo_set.part_scores(
            drawings,
            part,
            lambda which: photo_set.from_drawings(
                drawings, which, model, info.temperature, calibration.DEFAULT_THRESHOLD
            ),
        )
        record[name] = {k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()}
    print(json.dumps(record))


if __name__ == "__main__":
    main()
