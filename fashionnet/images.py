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
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from typing import IO

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
# Pillow reads AVIF itself (its wheels carry libavif); HEIC, iPhones' default, needs pillow-heif (the
# optional `heic` extra), whose plugin is registered only when a file's first bytes say HEIF.
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF", "AVIF")
HEIF_FORMAT = "HEIF"  # pillow-heif's name for HEIC/HEIF in Pillow
HEIC_EXTRA = "pip install 'fashionnet[heic]'"
FORMAT_NAMES = "PNG, JPEG, BMP, GIF, WebP, TIFF, AVIF, and HEIC with the heic extra"
# Suffixes picked up when a directory is given; files named explicitly are sniffed by content instead.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".jfif", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".avif", ".heic", ".heif")
# Decompression bombs are decided by the memory a decode will take, not by the pixel count in the header:
# a 200 MP phone JPEG decodes at 1/8 scale in ~35 MB, a 9000x9000 RGBA PNG needs ~1.6 GB.
IMAGE_MEMORY_LIMIT = 2 * 10**9  # the most one image may take to decode (bytes)
# Peak bytes per pixel of decoding and preparing an image (Pillow's buffer, the grayscale array and the
# photo's colour copy, with the conversions between them), by the mode Pillow decodes to ("transparent":
# anything with an alpha channel or a transparent colour); measured with benchmarks/decode_memory.py on
# 2000 and 3000 pixel squares, plus about 10%. A mode not listed takes the largest.
BYTES_PER_PIXEL = {
    "1": 13,
    "L": 8,
    "P": 13,
    "RGB": 11,
    "YCbCr": 13,
    "CMYK": 13,
    "LAB": 13,
    "HSV": 13,
    "I;16": 20,
    "I;16B": 20,
    "I;16L": 20,
    "I;16N": 20,
    "I": 23,
    "F": 23,
    "transparent": 23,
}
# libwebp, libavif and libheif decode into buffers of their own first (an RGB AVIF measured 13.7 bytes per
# pixel in all, a HEIC 11.7, at 2000 pixels: benchmarks/decode_memory.py; HEIF keeps room for 10-bit photos).
FORMAT_BYTES_PER_PIXEL = {"WEBP": 8, "AVIF": 5, HEIF_FORMAT: 4}
# Pillow's own pixel-count check stays as an outer fence for what fashionnet's rule cannot see (a TIFF's
# tile, a GIF frame): while decoding it is raised to 2^31 pixels (it refuses at twice that, so any JPEG passes).
PILLOW_PIXEL_LIMIT = 1 << 31
# What a few formats fashionnet does not read look like (their first bytes), so the error can name them.
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1")


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
    corners = sorted((int(a[0, 0]), int(a[0, -1]), int(a[-1, 0]), int(a[-1, -1])))
    bg = (corners[1] + corners[2]) // 2  # their median, rounded down (np.median costs 100x more)
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


def has_transparency(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info


def to_grayscale(img: Image.Image) -> np.ndarray:
    """Any Pillow mode -> (H, W) uint8: transparency composited onto white, 16/32-bit scaled to 8 bits."""
    if img.mode.startswith("I") or img.mode == "F":
        return _scale_to_8bit(np.asarray(img))
    if has_transparency(img):
        if img.mode != "LA":
            img = (img if img.mode == "RGBA" else img.convert("RGBA")).convert("LA")  # RGBA applies tRNS keys
        la = np.asarray(img)
        # (gray * alpha + BACKGROUND * (255 - alpha) + 127) // 255, in place: at most 255 * 255 + 127 fits
        # 16 bits, so a huge cut-out costs 2 bytes per pixel per array here instead of 4.
        gray = la[..., 0].astype(np.uint16)
        gray *= la[..., 1]
        back = (255 - la[..., 1]).astype(np.uint16)
        back *= BACKGROUND
        gray += back
        gray += 127
        gray //= 255
        return gray.astype(np.uint8)
    if img.mode not in ("L", "1", "P", "RGB"):
        img = img.convert("RGB")  # CMYK, YCbCr, LAB, HSV: via RGB, whose luma weights L uses
    return np.asarray(img if img.mode == "L" else img.convert("L"))


def _scale_to_8bit(raw: np.ndarray) -> np.ndarray:
    # I;16 is 16-bit by definition; I (32-bit) and F carry no range, so it is guessed from the values.
    # A uniform picture has no range at all: its value is clipped to 0..255 (blank either way).
    a = raw.astype(np.float64)
    finite = np.isfinite(a)
    if not finite.all():  # NaN and infinities in a float TIFF: the lowest and highest real values
        lo, hi = (float(a[finite].min()), float(a[finite].max())) if finite.any() else (0.0, 0.0)
        np.nan_to_num(a, copy=False, nan=lo, posinf=hi, neginf=lo)
    lo, hi = float(a.min()), float(a.max())
    if raw.dtype.kind == "f" and lo >= 0 and hi <= 1.0:
        a *= 255
    elif raw.dtype.itemsize == 2 or (lo >= 0 and 255 < hi <= 65535):
        a *= 255 / 65535
    elif (lo < 0 or hi > 255) and hi > lo:
        a -= lo
        a *= 255 / (hi - lo)
    np.rint(a, out=a)
    return np.clip(a, 0, 255, out=a).astype(np.uint8)


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
    keeps only for photos (not 28x28, and the background seen along the border is not flat: see
    garment.has_clean_background). A picture with a clean background (product shot, FashionMNIST sample)
    comes without it and goes straight to `prepare`."""
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


def decode_bytes(img: Image.Image) -> int:
    """The memory decoding and preparing `img` will take at its peak, in bytes, from its header alone
    (a JPEG's after `draft`, which makes libjpeg decode at 1/2, 1/4 or 1/8 scale)."""
    w, h = img.size
    mode = "transparent" if has_transparency(img) else img.mode
    per_pixel = BYTES_PER_PIXEL.get(mode, max(BYTES_PER_PIXEL.values())) + FORMAT_BYTES_PER_PIXEL.get(
        img.format or "", 0
    )
    return w * h * per_pixel


def _decode(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """(grayscale, RGB or None): the colour copy is kept only for photos, which GrabCut needs it for.
    A JPEG's `draft` has been applied by the caller (it decides the memory the decode takes)."""
    img.load()
    if "exif" in img.info or "Raw profile type exif" in img.info or img.format == "TIFF":
        # Phone photos store "rotate me" in EXIF; in place, so a huge photo is not held twice. A broken EXIF
        # block costs the orientation, not the image.
        with suppress(Exception):
            ImageOps.exif_transpose(img, in_place=True)
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
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        return HEIF_FORMAT  # iPhones' HEIC photos: Pillow knows it only through pillow-heif
    if head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return "AVIF"
    Image.init()
    for name, (_factory, accept) in Image.OPEN.items():
        try:
            if accept is not None and accept(head) is True:
                return name
        except Exception:  # a signature check on a few odd bytes; not worth a failure
            continue
    return None


def _heif_plugin() -> bool:
    """Whether Pillow can open HEIC/HEIF: pillow-heif (the heic extra) installed, its plugin registered."""
    if HEIF_FORMAT in Image.OPEN:
        return True
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return HEIF_FORMAT in Image.OPEN


def _formats_for(source: io.BufferedIOBase) -> tuple[str, ...]:
    """The formats Pillow may try on this file: FORMATS, and HEIF when its first bytes say HEIF and the
    heic extra is installed (so pillow-heif is imported only for such files)."""
    head = source.read(16)
    source.seek(0)
    return (*FORMATS, HEIF_FORMAT) if _format_of(head) == HEIF_FORMAT and _heif_plugin() else FORMATS


def _unreadable(name: str, source: IO[bytes]) -> BadImage:
    """Pillow could not identify the file: say what it is when its first bytes tell (a HEIC photo, a PNG
    whose header is damaged), else that it is not an image fashionnet reads."""
    source.seek(0)
    head = source.read(64)
    found = _format_of(head)
    if found == HEIF_FORMAT and _heif_plugin():  # pillow-heif is there and it still could not read it
        return BadImage(name, "a HEIC/HEIF file, but damaged or of a kind pillow-heif does not read")
    if found == HEIF_FORMAT:
        return BadImage(
            name,
            f"a HEIC/HEIF photo, which fashionnet reads only with the heic extra ({HEIC_EXTRA}); "
            "or save it as JPEG first",
        )
    if found is not None and found not in FORMATS:
        return BadImage(name, f"not a supported image (format {found}); fashionnet reads {FORMAT_NAMES}")
    if found is not None:  # a PNG, JPEG... by its signature that no decoder would open: say why
        source.seek(0)
        factory = Image.OPEN[found][0]
        try:
            factory(source, name)
        except Exception as exc:
            return BadImage(name, f"a {found} file, but damaged: {_first_line(exc)}")
        return BadImage(name, f"a {found} file, but damaged")
    return BadImage(name, f"not an image, or in a format fashionnet does not read ({FORMAT_NAMES})")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@contextmanager
def _pillow_pixel_limit():
    """Pillow's pixel-count check at PILLOW_PIXEL_LIMIT while fashionnet decodes (Image reads the global)."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = PILLOW_PIXEL_LIMIT
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _bytes(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 10**9 else f"{n / 1e6:.0f} MB"


def load_image(path: str | os.PathLike, invert: bool | None = None, data: bytes | None = None) -> np.ndarray:
    """The (28, 28) uint8 array the model sees for one image file (see load_view)."""
    return load_view(path, invert, data).image


def load_view(path: str | os.PathLike, invert: bool | None = None, data: bytes | None = None, budget=None) -> View:
    """Read one image (from `data` when given, e.g. stdin bytes; `path` then only names it) and prepare it.

    An image whose decode would take more than IMAGE_MEMORY_LIMIT is refused before decoding. `budget`
    (predict's decoder processes share one) is asked for that memory first: `budget.reserve(nbytes)`
    waits until the other decoders' images leave room. Every way an input can be wrong becomes one
    BadImage("path: what is wrong"); nothing else escapes.
    """
    name = str(path)
    source = None
    try:
        if data is not None and not data:
            raise BadImage(name, "no data on stdin")
        source = io.BytesIO(data) if data is not None else _open_regular(name, path)
        if data is None and os.fstat(source.fileno()).st_size == 0:
            raise BadImage(name, "file is empty (0 bytes)")
        # The budget is held until the big arrays are gone: BYTES_PER_PIXEL counts preparing them too.
        with ExitStack() as reserved:
            with warnings.catch_warnings(), _pillow_pixel_limit():
                warnings.simplefilter("ignore")  # e.g. "Corrupt EXIF data": the image is fine, stderr stays clean
                with Image.open(source, formats=_formats_for(source)) as img:
                    w, h = img.size
                    if min(w, h) < MIN_SIDE:
                        minimum = f"{MIN_SIDE}x{MIN_SIDE}"
                        raise BadImage(name, f"image is {w}x{h} pixels, too small to classify (minimum {minimum})")
                    if img.format == "JPEG":
                        img.draft("RGB", DRAFT_SIZE)  # huge photos: libjpeg scales down while decoding
                    need = decode_bytes(img)
                    if need > IMAGE_MEMORY_LIMIT:
                        raise BadImage(
                            name,
                            f"image is {w:,}x{h:,} pixels: decoding it would take {_bytes(need)} "
                            f"of memory, over the {_bytes(IMAGE_MEMORY_LIMIT)} limit for one image "
                            "(a decompression bomb?); not decoding it",
                        )
                    if budget is not None:
                        reserved.enter_context(budget.reserve(need))
                    gray, colour = _decode(img)
            try:
                return view_of(gray, invert, colour)
            finally:
                del gray, colour  # freed before the budget is given back
    except BadImage:
        raise
    except Image.DecompressionBombError:
        reason = (
            f"image is over {2 * PILLOW_PIXEL_LIMIT:,} pixels (in its header or a part of it), "
            "a decompression bomb; not decoding it"
        )
        raise BadImage(name, reason) from None
    except UnidentifiedImageError:
        assert source is not None  # only Image.open raises it, on the opened file
        raise _unreadable(name, source) from None
    except (OSError, SyntaxError, EOFError, ValueError) as exc:
        raise BadImage(name, f"image data is truncated or corrupt ({_first_line(exc)})") from None
    except Exception as exc:  # a decoder bug or MemoryError must still be one line, not a traceback
        raise BadImage(name, f"cannot decode image ({type(exc).__name__}: {_first_line(exc)})") from None
    finally:
        if source is not None:
            source.close()
