"""Pictures that are not phone photos, before and after a change of weights or of the product-shot rule
(issue 15): each set's accuracy and its distance from the clean 28x28 PNGs (target: within 2 points).

    python benchmarks/photo_inputs.py                       # the shipped weights
    python benchmarks/photo_inputs.py --weights a.safetensors,b.safetensors --count 1000

Sets, all made from the same FashionMNIST test images (seeded) except the drawings:
- clean: the 28x28 images as PNG (what `evaluate` sees);
- formats: the same as JPEG (quality 90), WebP (lossless), BMP and TIFF, in turn;
- 16-bit: 16-bit grayscale PNGs;
- tinted: light garment on black multiplied by a colour, as RGB;
- product shot: dark garment on white, 3-10x larger, with a margin, JPEG;
- product shot, tight: the same cropped so the garment touches two to four sides of the frame, JPEG
  (these went through GrabCut before the flatness rule);
- drawn: simple drawings of seven garments (flat colour, dark outline, on white), made from outlines
  with random proportions and colours: no FashionMNIST image behind them.
Every picture goes through images.load_view and predict.classify_scored, as `predict` runs them.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageOps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.predict_sets import _test_arrays  # noqa: E402
from fashionnet import images  # noqa: E402


def _encoded(img: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def _tight(pixels: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A dark-on-white product shot cropped so that the garment touches 2-4 sides."""
    side = int(rng.integers(150, 400))
    a = np.asarray(ImageOps.invert(Image.fromarray(pixels)).resize((side, side), Image.Resampling.LANCZOS))
    mask = a < 245
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    a = a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    touching = rng.permutation(4)[: int(rng.integers(2, 5))]
    pad = [
        [0 if 0 in touching else 30, 0 if 1 in touching else 30],
        [0 if 2 in touching else 30, 0 if 3 in touching else 30],
    ]
    return Image.fromarray(np.pad(a, pad, constant_values=255)).convert("RGB")


def _margin(pixels: np.ndarray, rng: np.random.Generator) -> Image.Image:
    side = int(rng.integers(100, 300))
    garment = ImageOps.invert(Image.fromarray(pixels)).resize((side, side), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (side + int(rng.integers(40, 200)), side + int(rng.integers(40, 200))), (255, 255, 255))
    canvas.paste(
        garment.convert("RGB"), (int(rng.integers(0, canvas.width - side)), int(rng.integers(0, canvas.height - side)))
    )
    return canvas


# Outlines of garments in a unit square (x right, y down), FashionMNIST class -> polygons.
OUTLINES = {
    0: [
        [
            (0.3, 0.1),
            (0.42, 0.1),
            (0.5, 0.18),
            (0.58, 0.1),
            (0.7, 0.1),
            (0.95, 0.3),
            (0.85, 0.42),
            (0.75, 0.35),
            (0.75, 0.95),
            (0.25, 0.95),
            (0.25, 0.35),
            (0.15, 0.42),
            (0.05, 0.3),
        ]
    ],
    1: [[(0.3, 0.05), (0.7, 0.05), (0.74, 0.95), (0.56, 0.95), (0.5, 0.3), (0.44, 0.95), (0.26, 0.95)]],
    2: [
        [
            (0.32, 0.08),
            (0.68, 0.08),
            (0.9, 0.2),
            (0.97, 0.9),
            (0.85, 0.9),
            (0.77, 0.35),
            (0.77, 0.95),
            (0.23, 0.95),
            (0.23, 0.35),
            (0.15, 0.9),
            (0.03, 0.9),
            (0.1, 0.2),
        ]
    ],
    3: [[(0.38, 0.05), (0.62, 0.05), (0.64, 0.4), (0.85, 0.95), (0.15, 0.95), (0.36, 0.4)]],
    7: [[(0.05, 0.55), (0.35, 0.45), (0.55, 0.35), (0.7, 0.4), (0.8, 0.55), (0.95, 0.62), (0.95, 0.75), (0.05, 0.75)]],
    8: [
        [(0.1, 0.35), (0.9, 0.35), (0.9, 0.95), (0.1, 0.95)],
        [(0.3, 0.35), (0.35, 0.1), (0.65, 0.1), (0.7, 0.35), (0.6, 0.35), (0.57, 0.2), (0.43, 0.2), (0.4, 0.35)],
    ],
    9: [[(0.25, 0.05), (0.6, 0.05), (0.62, 0.55), (0.95, 0.7), (0.95, 0.9), (0.2, 0.9), (0.22, 0.5)]],
}


def _drawn(label: int, rng: np.random.Generator) -> Image.Image:
    """One drawn garment: its outline stretched at random, filled with a colour, outlined in a darker one."""
    side = int(rng.integers(120, 300))
    sx, sy = rng.uniform(0.8, 1.2), rng.uniform(0.8, 1.2)
    colour = tuple(int(c) for c in rng.integers(30, 230, 3))
    line = tuple(max(0, c - 80) for c in colour)
    img = Image.new("RGB", (round(side * sx) + 40, round(side * sy) + 40), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    for polygon in OUTLINES[label]:
        points = [(20 + x * side * sx, 20 + y * side * sy) for x, y in polygon]
        draw.polygon(points, fill=colour, outline=line, width=max(2, side // 40))
    return img


def sets(count: int, seed: int = 0) -> dict[str, list[tuple[bytes, int]]]:
    """Each set as (encoded file, true class) pairs."""
    rng = np.random.default_rng(seed)
    pictures, labels = _test_arrays()
    chosen = rng.choice(len(pictures), size=count, replace=False)
    kinds = ("clean", "formats", "16-bit", "tinted", "product shot", "product shot, tight")
    out: dict[str, list[tuple[bytes, int]]] = {name: [] for name in kinds}
    formats: list[tuple[str, dict[str, Any]]] = [
        ("JPEG", {"quality": 90}),
        ("WEBP", {"lossless": True}),
        ("BMP", {}),
        ("TIFF", {}),
    ]
    for n, i in enumerate(chosen):
        pixels, label = pictures[i], int(labels[i])
        gray = Image.fromarray(pixels)
        out["clean"].append((_encoded(gray, "PNG"), label))
        fmt, options = formats[n % len(formats)]
        out["formats"].append((_encoded(gray, fmt, **options), label))
        out["16-bit"].append((_encoded(Image.fromarray(pixels.astype(np.uint16) * 257), "PNG"), label))
        tint = rng.uniform(0.5, 1.0, 3)
        tint /= tint.max()
        out["tinted"].append((_encoded(Image.fromarray((pixels[..., None] * tint).astype(np.uint8)), "PNG"), label))
        out["product shot"].append((_encoded(_margin(pixels, rng), "JPEG", quality=85), label))
        out["product shot, tight"].append((_encoded(_tight(pixels, rng), "JPEG", quality=85), label))
    out["drawn"] = [
        (_encoded(_drawn(label, rng), "PNG"), label) for label in OUTLINES for _ in range(max(1, count // 25))
    ]
    return out


def accuracy(weights: str | None, pictures: list[tuple[bytes, int]]) -> tuple[float, float]:
    """(accuracy, share that took the photo path) of one set, as predict answers."""
    import torch

    from fashionnet.predict import classify_scored
    from fashionnet.weights import load_model

    model, info = load_model(weights, 0, torch.device("cpu"))
    drawings, members, segmented = [], [], 0
    for n, (data, _) in enumerate(pictures):
        view = images.load_view(f"picture-{n}", data=data)
        drawings += list(view.drawings())
        members += [n] * len(view.drawings())
        segmented += view.mask is not None
    _, top, _ = classify_scored(
        np.stack(drawings), model, torch.device("cpu"), top_k=1, temperature=info.temperature, members=np.array(members)
    )
    truth = np.array([label for _, label in pictures])
    return float((top[:, 0] == truth).mean()), segmented / len(pictures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="", help="comma-separated checkpoints (default: the shipped weights)")
    parser.add_argument("--count", type=int, default=1000, help="test images per set (default 1000)")
    args = parser.parse_args()
    chosen = sets(args.count)
    for weights in args.weights.split(",") if args.weights else [None]:
        print(f"weights: {weights or 'shipped'}")
        clean, _ = accuracy(weights, chosen["clean"])
        for name, pictures in chosen.items():
            value, segmented = accuracy(weights, pictures) if name != "clean" else (clean, 0.0)
            gap = "" if name in ("clean", "drawn") else f"  {100 * (clean - value):+5.2f} points below clean"
            print(f"  {name:<20} {value:7.2%} of {len(pictures):>5}{gap}  ({segmented:.0%} through GrabCut)")


if __name__ == "__main__":
    main()
