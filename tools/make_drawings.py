"""Remake fashionnet/drawings/photo-drawings.npz: every labelled photo drawn
as `predict` draws it, with its labels and its part (train / validation / hold-out).

    python tools/make_drawings.py PHOTOS_FOLDER [--out FILE] [--workers N]

PHOTOS_FOLDER is a copy of the photos with their labels.csv (path, category, fashionmnist, acceptable),
as in ../shared/data/clothing-photos; without it, $FASHIONNET_PHOTOS or that folder is used. Run it
whenever the drawing pipeline changes (images.PIPELINE_VERSION), then `make weights`. About a minute
per core for the 3,467 photos (GrabCut).
"""

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from fashionnet import photos  # noqa: E402
from fashionnet.errors import FashionNetError  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, help="the photos, with labels.csv")
    parser.add_argument("--out", type=Path, default=photos.DRAWINGS, help="where to write (default: the shipped file)")
    parser.add_argument("--workers", type=int, default=2, help="decoder processes (default 2)")
    parser.add_argument(
        "--no-variants",
        dest="variants",
        action="store_false",
        help="store only each photo's own "
        "drawing, not also those of its eroded and dilated masks that predict averages over (and "
        "training learns from)",
    )
    args = parser.parse_args()
    folder = args.folder or photos.locate_photos()
    if folder is None or not (folder / "labels.csv").is_file():
        raise SystemExit("make_drawings: give the folder of the photos (it must hold labels.csv)")
    start = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if done % 250 == 0 or done == total:
            print(f"  {done:,} of {total:,} photos drawn", file=sys.stderr, flush=True)

    try:
        drawn = photos.draw_folder(folder, args.workers, progress, args.variants)
        photos.save(drawn, args.out)
    except FashionNetError as exc:
        raise SystemExit(f"make_drawings: {exc}") from None
    parts = ", ".join(f"{(drawn.part == i).sum():,} {name}" for i, name in enumerate(photos.PARTS))
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): {len(drawn):,} photos ({parts}), "
        f"{len(drawn.drawings):,} drawings, {int((~drawn.found).sum())} without a garment found, "
        f"pipeline version {drawn.pipeline}, {time.perf_counter() - start:.0f} s"
    )


if __name__ == "__main__":
    main()
