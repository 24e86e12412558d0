"""Remake fashionnet/drawings/photo-teacher.safetensors: train the photo teacher once and ship its weights.

    python tools/make_photo_teacher.py [--epochs N] [--seed N] [--out FILE]

The photo teacher (fashionnet/photo_teacher.py: the distillation teacher's small CNN) trains on the train
part's photo drawings alone, then prints its figures on the validation part. `fashionnet train` (and so
`make weights`) asks it about every photo drawing as the network sees it. Run it after remaking the photo
drawings (tools/make_drawings.py), then `make weights`. The shipped file is its default: 20 epochs, seed 0,
about four minutes on one thread of two quiet cores.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from fashionnet import photo_teacher

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=photo_teacher.EPOCHS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=photo_teacher.PHOTO_TEACHER)
    args = parser.parse_args()

    import torch

    from benchmarks import photo_set
    from benchmarks.photo_ceiling import OnPixels
    from fashionnet import calibration, photos
    from fashionnet.errors import FashionNetError

    torch.set_num_threads(1)  # one thread: the same weights from run to run
    try:
        drawings = photos.load(photos.DRAWINGS)
    except FashionNetError as exc:
        raise SystemExit(f"make_photo_teacher: {exc}") from None
    model, about = photo_teacher.train_photo_teacher(drawings, args.epochs, args.seed)
    on_pixels = OnPixels(model)  # what predict feeds a checkpoint: [0, 1] pixels
    scores = photo_set.part_scores(
        drawings,
        photos.VALIDATION,
        lambda which: photo_set.from_drawings(drawings, which, on_pixels, 1.0, calibration.DEFAULT_THRESHOLD),
    )
    photo_teacher.save_photo_teacher(model, about, args.out)
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): {args.epochs} epochs, {about['seconds']:.0f} s; "
        f"validation photos: strict {scores['strict_accuracy']:.1%}, balanced {scores['balanced_accuracy']:.1%}, "
        f"AUROC {scores['auroc']:.3f}, shoes {scores['per_category']['shoes']:.1%}"
    )


if __name__ == "__main__":
    main()
