"""Any image file -> the 28x28 uint8 array the model was trained on (light object on black).

`prepare()` is the one preprocessing function every input goes through. It follows how FashionMNIST was
made from Zalando's product photos (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747, section 2): grayscale,
trim the edges close to the corner colour, resize the longest edge to 28, sharpen, pad the short edge to
28 centred, negate. Two deliberate additions, both no-ops for FashionMNIST itself:

* an image that is already 28x28 is taken to be in the model's format and is only inverted if it is dark
  on light, so a FashionMNIST test image saved as PNG comes back bit-identical (predict == evaluate);
* after trimming, the background is levelled to black: the photos behind FashionMNIST had pure white
  backgrounds (black once negated), a phone photo's grey background would otherwise become a grey haze.

Inversion is automatic: an image whose border is mostly light (a product photo) is negated, one whose
border is dark (a FashionMNIST sample) is not. This module imports no torch (it runs in decoder processes).
"""

from __future__ import annotations

import io
import os
import stat
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from fashionnet import garment
from fashionnet.errors import ImageError
from fashionnet.files import input_reason, kind_of

SIZE = 28  # the model's input is (28, 28)
# Bump whenever what load_view draws of a photo changes (garment.py included): the shipped photo drawings
# record the version they were made with, and training refuses stale ones (tools/make_drawings.py remakes them).
PIPELINE_VERSION = 1
MIN_SIDE = 8  # below this an image carries no garment shape; such inputs are refused, not guessed at
FUZZ = round(0.05 * 255)  # "close to the corner colour": within 5% of full intensity, as in the paper
REDUCE_ABOVE = 2048  # longest side above which an image is box-reduced right after decoding (speed)
DRAFT_SIZE = (1024, 1024)  # JPEGs are decoded at 1/2, 1/4 or 1/8 scale while staying at least this big
BACKGROUND = 255  # transparent pixels become white, the background of a product photo
SHARPEN = ImageFilter.UnsharpMask(radius=1.0, percent=60, threshold=2)  # the paper's light Gaussian sharpen
# The only formats Pillow may open: a file is never handed to another plugin (EPS would run Ghostscript).
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")
FORMAT_NAMES = "PNG, JPEG, BMP, GIF, WebP and TIFF"
# Suffixes picked up when a directory is given; files named explicitly are sniffed by content instead.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".jfif", ".bmp", ".gif", ".webp", ".tif", ".tiff")


class BadImage(ImageError):
    """ImageError that keeps the path and the reason apart (JSON/CSV output carries them separately)."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def is_dark_on_light(gray: np.ndarray) -> bool:
    """True when the border (the outermost ring of pixels) is mostly light, i.e. the image needs negating.

    On all 70,000 FashionMNIST images the border mean is at most 108, so none of them is ever inverted.
    """
    h, w = gray.shape
    if h <= 2 or w <= 2:
        return float(gray.mean()) >= 128  # all border
    ring = int(gray[0].sum()) + int(gray[-1].sum()) + int(gray[1:-1, 0].sum()) + int(gray[1:-1, -1].sum())
    return ring >= 128 * (2 * w + 2 * h - 4)


def prepare(gray: np.ndarray, invert: bool | None = None) -> np.ndarray:
    """(H, W) uint8 grayscale -> (28, 28) uint8, light object on black. invert=None decides by the border."""
    if invert is None:
        invert = is_dark_on_light(gray)
    a = 255 - gray if invert else gray  # from here on the object is light on a dark background
    if a.shape == (SIZE, SIZE):
        return np.array(a, dtype=np.uint8)  # already the model's format: keep it bit-exact (a writable copy)

    # Trim: the bounding box of pixels further than FUZZ from the corner colour; uniform -> keep it all.
    bg = int(np.median([a[0, 0], a[0, -1], a[-1, 0], a[-1, -1]]))
    mask = np.abs(a.astype(np.int16) - bg) > FUZZ
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size:
        a = a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    if 0 < bg < 128:  # level the background to black (a no-op for FashionMNIST-like inputs, bg == 0)
        a = np.clip((a.astype(np.float32) - bg) * (255.0 / (255 - bg)) + 0.5, 0, 255).astype(np.uint8)
        bg = 0

    h, w = a.shape
    scale = SIZE / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    img = Image.fromarray(np.ascontiguousarray(a)).resize((nw, nh), Image.Resampling.LANCZOS, reducing_gap=3.0)
    img = img.filter(SHARPEN)
    out = np.full((SIZE, SIZE), bg, dtype=np.uint8)
    top, left = (SIZE - nh) // 2, (SIZE - nw) // 2
    out[top : top + nh, left : left + nw] = np.asarray(img)
    return out


def to_grayscale(img: Image.Image) -> np.ndarray:
    """Any Pillow mode -> (H, W) uint8: transparency composited onto white, 16/32-bit scaled to 8 bits."""
    if img.mode.startswith("I") or img.mode == "F":
        return _scale_to_8bit(np.asarray(img))
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        la = np.asarray(img.convert("RGBA").convert("LA"), dtype=np.uint32)  # RGBA first applies tRNS keys
        gray, alpha = la[..., 0], la[..., 1]
        return ((gray * alpha + BACKGROUND * (255 - alpha) + 127) // 255).astype(np.uint8)
    if img.mode not in ("L", "1", "P", "RGB"):
        img = img.convert("RGB")  # CMYK, YCbCr, LAB, HSV: via RGB, whose luma weights L uses
    return np.asarray(img if img.mode == "L" else img.convert("L"))


def _scale_to_8bit(raw: np.ndarray) -> np.ndarray:
    # I;16 is 16-bit by definition; I (32-bit) and F carry no range, so it is guessed from the values.
    a = raw.astype(np.float64)
    lo, hi = float(a.min()), float(a.max())
    if raw.dtype.kind == "f" and lo >= 0 and hi <= 1.0:
        a *= 255
    elif raw.dtype.itemsize == 2 or (lo >= 0 and 255 < hi <= 65535):
        a *= 255 / 65535
    elif lo < 0 or hi > 255:
        a = (a - lo) * (255 / (hi - lo))
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


@dataclass
class View:
    """What the model sees of one picture, and how it was found (for `--show` and "not sure")."""

    image: np.ndarray  # (28, 28) uint8, light object on black
    found: bool = True  # False: blank/uniform, or a photo in which no garment stood out
    mask: np.ndarray | None = None  # a photo's garment mask (bool, at GrabCut's working size)
    # (k, 28, 28) uint8: the same garment drawn with its mask eroded and dilated; predict averages the
    # model's logits over image + variants. None for everything but found photos (so 28x28 PNGs stay exact).
    variants: np.ndarray | None = None

    def drawings(self) -> np.ndarray:
        """(k, 28, 28) uint8: the image and its variants, the drawings predict averages the logits over."""
        return self.image[None] if self.variants is None else np.concatenate([self.image[None], self.variants])


def view_of(gray: np.ndarray, invert: bool | None = None, colour: np.ndarray | None = None) -> View:
    """Decoded pixels -> View. A photo has its garment found first: `colour` is the RGB copy that `_decode`
    keeps only for photos (not 28x28, border not one plain colour). A picture with a clean background
    (product shot, FashionMNIST sample) comes without it and goes straight to `prepare`."""
    if int(gray.max()) - int(gray.min()) <= FUZZ:  # blank, uniform, fully transparent: nothing to see
        return View(prepare(gray, invert), found=False)
    if gray.shape != (SIZE, SIZE) and not garment.has_outline(gray):  # a wall, a sheet of paper
        return View(prepare(gray, invert), found=False)
    if colour is not None:
        found = garment.find_garment(colour, negate=invert is not False)
        if found.found:
            variants = np.stack([prepare(v, invert=False) for v in found.variants]) if found.variants else None
            return View(prepare(found.image, invert=False), mask=found.mask, variants=variants)
        return View(prepare(gray, invert), found=False)  # classified from the whole frame, marked not sure
    return View(prepare(gray, invert))


def _decode(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """(grayscale, RGB or None): the colour copy is kept only for photos, which GrabCut needs it for."""
    if img.format == "JPEG":
        img.draft("RGB", DRAFT_SIZE)  # huge photos: let libjpeg scale down while decoding
    img.load()
    if "exif" in img.info or "Raw profile type exif" in img.info or img.format == "TIFF":
        try:
            img = ImageOps.exif_transpose(img)  # phone photos store "rotate me" in EXIF
        except Exception:  # a broken EXIF block costs the orientation, not the image
            pass
    gray = to_grayscale(img)
    factor = max(gray.shape) // (REDUCE_ABOVE // 2) if max(gray.shape) > REDUCE_ABOVE else 1
    if factor > 1:
        gray = np.asarray(Image.fromarray(gray).reduce(factor))
    colour = None
    if gray.shape != (SIZE, SIZE) and not garment.has_clean_background(gray):
        rgb = img.convert("RGB") if img.mode != "RGB" else img
        colour = np.asarray(rgb.reduce(factor) if factor > 1 else rgb)
    return gray, colour


def _open_regular(name: str, path) -> io.BufferedReader:
    """Open `path` only if it is a regular file: O_NONBLOCK keeps a FIFO from blocking the open, and
    fstat then refuses it (and devices such as /dev/zero) before a byte is read."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise BadImage(name, input_reason(exc)) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise BadImage(name, "is a directory, not an image")
        raise BadImage(name, f"is {kind_of(mode)}, not a regular file; not reading it")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _format_of(head: bytes) -> str | None:
    """Which format a file is, from Pillow's own signature checks of its first bytes (no plugin runs)."""
    Image.init()
    for name, (_factory, accept) in Image.OPEN.items():
        try:
            if accept is not None and accept(head) is True:
                return name
        except Exception:  # a signature check on a few odd bytes; not worth a failure
            continue
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def load_image(path: str | os.PathLike, invert: bool | None = None, data: bytes | None = None) -> np.ndarray:
    """The (28, 28) uint8 array the model sees for one image file (see load_view)."""
    return load_view(path, invert, data).image


def load_view(path: str | os.PathLike, invert: bool | None = None, data: bytes | None = None) -> View:
    """Read one image (from `data` when given, e.g. stdin bytes; `path` then only names it) and prepare it.

    Every way an input can be wrong becomes one BadImage("path: what is wrong"); nothing else escapes.
    """
    name = str(path)
    source = None
    try:
        if data is not None and not data:
            raise BadImage(name, "no data on stdin")
        source = io.BytesIO(data) if data is not None else _open_regular(name, path)
        if data is None and os.fstat(source.fileno()).st_size == 0:
            raise BadImage(name, "file is empty (0 bytes)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Corrupt EXIF data": the image is fine, stderr stays clean
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # refuse, don't just warn
            with Image.open(source, formats=FORMATS) as img:
                w, h = img.size
                if min(w, h) < MIN_SIDE:
                    minimum = f"{MIN_SIDE}x{MIN_SIDE}"
                    raise BadImage(name, f"image is {w}x{h} pixels, too small to classify (minimum {minimum})")
                gray, colour = _decode(img)
        return view_of(gray, invert, colour)
    except BadImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        limit = f"{Image.MAX_IMAGE_PIXELS:,}" if Image.MAX_IMAGE_PIXELS else "?"
        reason = f"image is over Pillow's decompression-bomb limit of {limit} pixels; not decoding it"
        raise BadImage(name, reason) from None
    except UnidentifiedImageError:
        source.seek(0)
        found = _format_of(source.read(64))
        if found is not None and found not in FORMATS:
            raise BadImage(name, f"not a supported image (format {found}); fashionnet reads {FORMAT_NAMES}") from None
        raise BadImage(name, f"not an image, or in a format fashionnet does not read ({FORMAT_NAMES})") from None
    except (OSError, SyntaxError, EOFError, ValueError) as exc:
        raise BadImage(name, f"image data is truncated or corrupt ({_first_line(exc)})") from None
    except Exception as exc:  # a decoder bug or MemoryError must still be one line, not a traceback
        raise BadImage(name, f"cannot decode image ({type(exc).__name__}: {_first_line(exc)})") from None
    finally:
        if source is not None:
            source.close()
