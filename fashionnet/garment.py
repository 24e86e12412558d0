"""Find the garment in a real photo and render it the way FashionMNIST was made.

A phone photo of clothes on a bed, a floor or a hanger is not a product shot: trimming by the corner
colour keeps the whole floor, and negating it turns its texture into grey noise. Here OpenCV's GrabCut
(started from a rectangle just inside the frame) separates the garment from the background, the largest
connected piece is kept (one shoe, when the two of a pair do not touch), and the garment is drawn as
FashionMNIST drew Zalando's photos: its brightness negated inside the mask, black outside. The caller
then runs FashionMNIST's own steps (fit 28, sharpen, centre) on the result.

OpenCV is imported only when a photo needs it, so --help and FashionMNIST PNGs never pay for it.
This module imports no torch (it runs in decoder processes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

WORK_SIDE = 112  # GrabCut runs on the photo scaled to this longest side: a 28x28 result needs no more (~30 ms)
MARGIN = 0.04  # the starting rectangle leaves this share of each side as sure background
ITERATIONS = 2  # a third pass cost 10% more time and gained nothing on the development photos
# Product shot or photo: the background is the level with the most border pixels within BORDER_FUZZ of
# it, and a picture is a product shot when those border pixels are flat: their median absolute deviation is at
# most FLAT_SPREAD levels. How much of the border the background covers does not matter (a garment cropped
# tight touches the frame), as long as it is at least MIN_BACKGROUND of it. Measured on the training and
# validation photos and on 600 generated product shots touching two or more sides: white and black
# product backgrounds spread 0-1 level (JPEG noise included), floors, beds and walls in phone photos 3-17
# (14 of 2,454 photos spread 2 or less: blown-out white walls, which then take the product-shot path).
BORDER_FUZZ = 20
FLAT_SPREAD = 2
MIN_BACKGROUND = 0.25
EDGE_SIDE = 64  # has_outline looks at the picture at this longest side...
EDGE_MIN = 8  # ...for steps of at least this many levels between neighbouring pixels
MIN_AREA = 0.02  # a mask below this share of the frame is not a garment...
MAX_AREA = 0.97  # ...nor one that covers practically all of it
FLOOR = 0.25  # the faintest garment pixel keeps this share of full brightness, so a white shirt keeps its shape
PORTRAIT = 0.77  # FashionMNIST tops are about 0.77 wide per 1 high...
# ...so a photo's square-ish or wide garment (width/height in this range) is framed like them: tops laid
# flat spread their sleeves (1.25 to 1.5 wide per 1 high is common), shoes and bags are wider still. An upper
# end of 1.5 gained 1.5 and 2.1 points on the two halves of the development photos over 1.25 (plateau to 1.75).
SQUARE = (0.77, 1.5)
VARIANT_KERNELS = (3, 5)  # test-time averaging: the mask also eroded and dilated with these square kernels


@dataclass
class Garment:
    """What segmentation found: the light-on-black crop for FashionMNIST's steps, and the mask for --show."""

    image: np.ndarray  # (h, w) uint8, garment light on black, cropped to the garment
    mask: np.ndarray | None  # (H, W) bool at working size, None when no garment was found
    found: bool
    variants: list[np.ndarray] = field(default_factory=list)  # drawn with the mask 1 and 2 pixels tighter/looser


def has_clean_background(gray: np.ndarray) -> bool:
    """True for product shots and drawings: the background seen along the border is flat, so trimming by
    its colour works, however much of the border the garment covers. A photo's floor or bed is not flat."""
    h, w = gray.shape
    if h <= 4 or w <= 4:
        return True
    ring = np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]])
    near = np.convolve(np.bincount(ring, minlength=256), np.ones(2 * BORDER_FUZZ + 1, np.int64), "same")
    level = int(np.argmax(near))  # the level with the most border pixels within BORDER_FUZZ of it
    background = ring[np.abs(ring.astype(np.int16) - level) <= BORDER_FUZZ]
    if len(background) < MIN_BACKGROUND * len(ring):
        return False
    centre = np.median(background)
    return float(np.median(np.abs(background - centre))) <= FLAT_SPREAD


def has_outline(gray: np.ndarray) -> bool:
    """False for a picture with no sharp edge anywhere (a blank page, a wall under soft light): at 64
    pixels a garment's outline still changes by EDGE_MIN levels from one pixel to the next, light
    fall-off and sensor noise do not."""
    from PIL import Image

    h, w = gray.shape
    scale = min(1.0, EDGE_SIDE / max(h, w))
    small = Image.fromarray(gray).resize((max(2, round(w * scale)), max(2, round(h * scale))), Image.Resampling.BOX)
    a = np.asarray(small, dtype=np.int16)
    steps = np.concatenate([np.abs(np.diff(a, axis=0)).ravel(), np.abs(np.diff(a, axis=1)).ravel()])
    return float(np.percentile(steps, 99.5)) >= EDGE_MIN


def _work_size(shape: tuple[int, int]) -> tuple[int, int]:
    h, w = shape
    scale = min(1.0, WORK_SIDE / max(h, w))
    return max(8, round(w * scale)), max(8, round(h * scale))


def segment(rgb: np.ndarray) -> np.ndarray | None:
    """(H, W, 3) uint8 at working size -> bool mask of the largest foreground object, or None."""
    import cv2

    h, w = rgb.shape[:2]
    mx, my = max(1, round(w * MARGIN)), max(1, round(h * MARGIN))
    mask = np.zeros((h, w), np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut's k-means starts from random centres: same photo, same mask
    try:
        cv2.grabCut(
            np.ascontiguousarray(rgb[..., ::-1]),
            mask,
            (mx, my, w - 2 * mx, h - 2 * my),
            bgd,
            fgd,
            ITERATIONS,
            cv2.GC_INIT_WITH_RECT,
        )
    except cv2.error:  # e.g. a frame with a single colour: nothing to separate
        return None
    fg = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    return largest_object(cv2.morphologyEx(fg, cv2.MORPH_OPEN, kernel))


def largest_object(fg: np.ndarray) -> np.ndarray | None:
    """(H, W) uint8 foreground -> bool mask of its largest connected piece with holes filled, or None when
    there is none or it is too small or too large to be a garment."""
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    if count <= 1:
        return None
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    keep = labels == largest
    # Fill holes (a print the colour of the floor, a hanger's loop): they belong to the garment.
    filled = keep.astype(np.uint8)
    contours, _ = cv2.findContours(filled, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    area = float(filled.mean())
    if not MIN_AREA <= area <= MAX_AREA:
        return None
    return filled.astype(bool)


def render(gray: np.ndarray, mask: np.ndarray, negate: bool = True) -> np.ndarray:
    """Negated brightness inside the mask, stretched to use the full range above FLOOR; black outside;
    cropped to the mask and, for square-ish garments, squeezed to FashionMNIST's portrait framing."""
    import cv2

    neg = 255.0 - gray.astype(np.float32) if negate else gray.astype(np.float32)
    inside = neg[mask]
    lo, hi = np.percentile(inside, (2, 98))  # one sort for both
    scaled = (neg - lo) / max(hi - lo, 1.0)
    out = np.where(mask, 255.0 * (FLOOR + (1 - FLOOR) * np.clip(scaled, 0, 1)), 0.0)
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    crop = out[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    if SQUARE[0] < w / h < SQUARE[1]:
        crop = cv2.resize(crop, (max(1, round(h * PORTRAIT)), h), interpolation=cv2.INTER_AREA)
    return np.clip(crop + 0.5, 0, 255).astype(np.uint8)


def find_garment(rgb: np.ndarray, negate: bool = True) -> Garment:
    """A photo (H, W, 3) uint8 -> the garment rendered light on black (`negate=False` keeps its brightness,
    for `--invert no`), or the whole frame when no garment stands out (then `found` is False)."""
    import cv2

    size = _work_size(rgb.shape[:2])
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if size != rgb.shape[1::-1] else rgb
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    return drawn(gray, segment(small), negate)


def drawn(gray: np.ndarray, mask: np.ndarray | None, negate: bool = True) -> Garment:
    """The garment `mask` picks out of `gray` (both at working size), with its variants; the whole frame,
    not found, when the mask is None."""
    if mask is None:
        return Garment(image=(255 - gray).astype(np.uint8), mask=None, found=False)
    return Garment(
        image=render(gray, mask, negate),
        mask=mask,
        found=True,
        variants=[render(gray, m, negate) for m in mask_variants(mask)],
    )


def mask_variants(mask: np.ndarray) -> list[np.ndarray]:
    """The mask eroded and dilated by one and by two working pixels. Where GrabCut puts the garment's edge
    is uncertain by about that much; averaging the model's logits over the five drawings (test-time
    averaging) gained 1.8 and 0.6 points of strict accuracy on the two halves of the development photos
    (docs/photos.md). An erosion that would leave less than half of a thin garment is skipped."""
    import cv2

    m = mask.astype(np.uint8)
    out = []
    for side in VARIANT_KERNELS:
        kernel = np.ones((side, side), np.uint8)
        out += [cv2.erode(m, kernel).astype(bool), cv2.dilate(m, kernel).astype(bool)]
    return [v for v in out if v.sum() >= mask.sum() / 2]
