"""Peak memory of decoding one image, per pixel, by the mode Pillow decodes it to: where
images.BYTES_PER_PIXEL comes from (fashionnet refuses an image whose decode would take more than
images.IMAGE_MEMORY_LIMIT, and predict's decoders share images.MemoryBudget by these estimates).

Each image is written here and decoded by `load_view` in a fresh process; the growth of that process's peak
resident memory (VmHWM), divided by the pixels Pillow decodes (a JPEG's after draft), is printed beside the
table's figure. Pictures of 2000 pixels are prepared at full size, those of 3000 are box-reduced first
(over 2048), so both paths are measured.

    python benchmarks/decode_memory.py            # 2000 and 3000 pixel squares, about a minute
    python benchmarks/decode_memory.py --side 4000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = [
    ("L", "PNG"),
    ("RGB", "PNG"),
    ("RGBA", "PNG"),
    ("P", "PNG"),
    ("LA", "PNG"),
    ("1", "PNG"),
    ("I;16", "PNG"),
    ("I", "TIFF"),
    ("F", "TIFF"),
    ("CMYK", "TIFF"),
    ("RGB", "TIFF"),
    ("RGBA", "TIFF"),
    ("RGB", "JPEG"),
    ("L", "JPEG"),
    ("CMYK", "JPEG"),
    ("RGB", "BMP"),
    ("RGBA", "WEBP"),
    ("RGB", "AVIF"),
    ("RGB", "HEIF"),
]  # HEIF needs pillow-heif (the heic extra); skipped without it

# Runs in a fresh process: decodes a small photo first (imports, OpenCV), then the picture, and prints the
# growth of the peak resident memory per pixel that Pillow decodes (a JPEG's after draft).
MEASURE = r"""
import json, sys
from PIL import Image
from fashionnet.images import DRAFT_SIZE, decode_bytes, load_view
def peak():  # VmHWM: this process image's peak (ru_maxrss would include the parent's at fork)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
path, warm = sys.argv[1], sys.argv[2]
if path.endswith(".heif"):
    import pillow_heif
    pillow_heif.register_heif_opener()
load_view(warm)
before = peak()
with Image.open(path) as img:
    if img.format == "JPEG":
        img.draft("RGB", DRAFT_SIZE)
    estimate, (w, h) = decode_bytes(img), img.size
load_view(path)
grown = peak() - before
print(json.dumps({"measured": grown / (w * h), "table": estimate / (w * h)}))
"""


def picture(mode: str, side: int):
    """A dark garment on a mottled background (a photo: the colour copy and GrabCut run too), or noise
    for the integer and float modes."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    if mode in ("I", "F", "I;16"):
        values = rng.integers(0, 60000, (side, side))
        return Image.fromarray(values.astype({"I": np.int32, "F": np.float32, "I;16": np.uint16}[mode]))
    base = Image.new("RGB", (side, side), "white")
    ImageDraw.Draw(base).rectangle((side // 4, side // 4, 3 * side // 4, 3 * side // 4), fill=(90, 40, 20))
    noise = Image.fromarray(rng.integers(0, 30, (side // 8, side // 8, 3), dtype=np.uint8)).resize((side, side))
    image = Image.blend(base, noise, 0.3).convert("RGBA" if mode == "LA" else mode)
    if mode in ("RGBA", "LA"):
        alpha = np.full((side, side), 255, np.uint8)
        alpha[: side // 3] = 0
        image.putalpha(Image.fromarray(alpha))
        image = image.convert(mode)
    return image


def _heif_plugin() -> bool:
    """pillow-heif's HEIF plugin registered in this process, so HEIF pictures can be written."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, action="append", help="square side in pixels (repeatable)")
    parser.add_argument("--format", action="append", help="only this format, e.g. AVIF (repeatable)")
    args = parser.parse_args()
    sides = args.side or [2000, 3000]
    print(f"{'mode':<6} {'format':<6} " + " ".join(f"{f'{s} px':>10}" for s in sides) + "   table (bytes/pixel)")
    with tempfile.TemporaryDirectory() as tmp:
        warm = str(Path(tmp) / "warm.jpg")  # small, so its own peak stays below what is measured
        picture("RGB", 200).save(warm)
        for mode, fmt in [(m, f) for m, f in CASES if not args.format or f in args.format]:
            if fmt == "HEIF" and not _heif_plugin():
                print(f"{mode:<6} {fmt:<6} skipped: pillow-heif is not installed (pip install 'fashionnet[heic]')")
                continue
            cells, table = [], 0.0
            for side in sides:
                path = str(Path(tmp) / f"picture.{fmt.lower()}")
                picture(mode, side).save(path, fmt)
                out = subprocess.run(
                    [sys.executable, "-c", MEASURE, path, warm], capture_output=True, text=True, cwd=ROOT
                )
                if out.returncode != 0:
                    raise SystemExit(out.stderr[-2000:])
                result = json.loads(out.stdout)
                cells.append(f"{result['measured']:>10.1f}")
                table = result["table"]
            print(f"{mode:<6} {fmt:<6} " + " ".join(cells) + f"   {table:.0f}")


if __name__ == "__main__":
    main()
