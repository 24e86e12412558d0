"""Remake fashionnet/drawings/teacher-targets.npz: train the distillation teacher once and store its answers.

    python tools/make_teacher_targets.py [--epochs N] [--photos FILE] [--out FILE] [--seed N]

The teacher (fashionnet/teacher.py, a small CNN) trains on FashionMNIST's training images, less the 2%
that `fashionnet train` holds out to calibrate, with the photo drawings of the train part mixed into every
batch, like the network. Its logits for every training image and every drawing of the drawings file, each
as it is and mirrored, are written at float16; `fashionnet train` (and so `make weights`) distils from
them without training a teacher. Run it after remaking the photo drawings, then `make weights`. The
shipped answers are its default, 6 epochs (about 9 minutes on one thread of two quiet cores; 15 epochs
made a stronger teacher that taught the network no better, docs/photos.md).
"""

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6, help="the teacher's epochs (default 6, as shipped)")
    parser.add_argument("--photos", type=Path, default=None, help="photo drawings (default: the shipped file)")
    parser.add_argument("--out", type=Path, default=None, help="where to write (default: the shipped file)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-teacher", type=Path, default=None, help="also keep the teacher's weights here")
    args = parser.parse_args()

    import numpy as np
    import torch
    from safetensors.torch import save_file

    from fashionnet import data, photos, teacher as teaching
    from fashionnet.errors import FashionNetError
    from fashionnet.recipe import Recipe
    from fashionnet.render.console import stderr_console
    from fashionnet.render.training import ProgressReporter
    from fashionnet.train import photo_set

    try:
        drawn = photos.load(args.photos or photos.DRAWINGS)
        train, test = data.load_split("train"), data.load_split("test", official=True)
    except FashionNetError as exc:
        raise SystemExit(f"make_teacher_targets: {exc}") from None
    recipe = Recipe(teacher_epochs=args.epochs)
    device = torch.device("cpu")
    # One thread: the same answers from run to run (train_teacher seeds dropout too), and on a busy machine
    # two OpenMP workers spent most of their time waiting for each other (an epoch took 829 s on two
    # threads, about a fifth of that on one).
    torch.set_num_threads(1)
    held = int(len(train.images) * recipe.holdout)  # the calibration images, as train holds them out
    n = len(train.images) - held
    start = time.perf_counter()
    with ProgressReporter(stderr_console(), smoothed=False) as reporter:
        shown = reporter.teacher()
        model = teaching.train_teacher(
            recipe, train.images[:n], train.labels[:n], photo_set(drawn), device, args.seed, shown
        )
        seconds = time.perf_counter() - start
        test_logits = teaching.teacher_logits(model, test.images, recipe)
        accuracy = (test_logits.argmax(1) == test.labels).float().mean().item()
        shown.finished({"test_accuracy": accuracy, "seconds": seconds})
    if args.save_teacher:
        save_file(model.state_dict(), str(args.save_teacher))
    pictures = torch.from_numpy(np.ascontiguousarray(drawn.drawings))
    targets = teaching.Targets(
        images=teaching.soft_targets(model, train.images, recipe).numpy(),
        photos=teaching.soft_targets(model, pictures, recipe).numpy(),
        drawings_sha256=teaching.drawings_digest(drawn.drawings),
        epochs=args.epochs,
        test_accuracy=accuracy,
        seconds=round(seconds, 1),
        seed=args.seed,
    )
    out = args.out or teaching.TARGETS
    teaching.save_targets(targets, out)
    print(
        f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB): teacher of {args.epochs} epochs, "
        f"{accuracy:.2%} on the test set, {seconds:.0f} s; {len(targets.images):,} images and "
        f"{len(targets.photos):,} photo drawings"
    )


if __name__ == "__main__":
    main()
