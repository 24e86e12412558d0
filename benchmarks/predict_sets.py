"""Image sets for the predict benchmarks, built from the official test set.

- clean: the 10,000 test images as 28x28 grayscale PNGs, exactly as in the data set.
- photo-like: the same garments as a phone or shop photo would show them: dark-on-white (inverted),
  upscaled to a few hundred pixels, placed off-centre on a larger white canvas, saved as JPEG.
File names are <index>_<label>, so accuracy can be computed from the predictions alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from fashionnet import data


def _test_arrays(limit: int | None = None):
    folder = data.require()
    images = data.read_idx(data._found_in(folder, data.FILES["test"][0]), data.IMAGE_MAGIC)
    labels = data.read_idx(data._found_in(folder, data.FILES["test"][1]), data.LABEL_MAGIC)
    return images[:limit], labels[:limit]


def export_test_pngs(folder: Path, limit: int | None = None) -> tuple[Path, dict[str, int]]:
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = _test_arrays(limit)
    names = {}
    for i, (pixels, label) in enumerate(zip(images, labels, strict=True)):
        name = f"{i:05d}_{label}"
        Image.fromarray(pixels, mode="L").save(folder / f"{name}.png")
        names[name] = int(label)
    return folder, names


def export_photo_like(folder: Path, count: int = 2000, seed: int = 0) -> tuple[Path, dict[str, int]]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images, labels = _test_arrays()
    chosen = rng.choice(len(images), size=count, replace=False)
    names = {}
    for i in chosen:
        garment = ImageOps.invert(Image.fromarray(images[i], mode="L"))  # dark garment on white
        size = int(rng.integers(180, 400))
        garment = garment.resize((size, size), Image.Resampling.LANCZOS)
        canvas_w, canvas_h = size + int(rng.integers(60, 300)), size + int(rng.integers(60, 300))
        canvas = Image.new("RGB", (canvas_w, canvas_h), (255, 255, 255))
        canvas.paste(
            garment.convert("RGB"), (int(rng.integers(0, canvas_w - size)), int(rng.integers(0, canvas_h - size)))
        )
        name = f"{i:05d}_{labels[i]}"
        canvas.save(folder / f"{name}.jpg", quality=85)
        names[name] = int(labels[i])
    return folder, names
