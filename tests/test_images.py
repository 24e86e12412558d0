"""images.py: every input becomes the (28, 28) uint8 light-on-black array; every bad input one clear line."""

from __future__ import annotations

import gzip
import io
import os
import struct
import subprocess
import sys
import warnings
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from fashionnet import images
from fashionnet.errors import ExitCode, ImageError
from fashionnet.images import (
    BYTES_PER_PIXEL,
    DRAFT_SIZE,
    MIN_SIDE,
    SIZE,
    BadImage,
    decode_bytes,
    is_dark_on_light,
    load_image,
    load_view,
    prepare,
)

FASHION_TEST = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")


def fashion_like(seed: int) -> np.ndarray:
    """A 28x28 FashionMNIST-looking array: a textured light garment on black, spanning the long axis."""
    rng = np.random.default_rng(seed)
    canvas = Image.new("L", (SIZE, SIZE), 0)
    draw = ImageDraw.Draw(canvas)
    half = 4 + seed % 7  # garments are narrower than the frame; the border stays mostly dark
    top = [(14 - half, 0), (14 + half, 0), (14 + half + int(rng.integers(0, 3)), 27), (14 - half - 1, 27)]
    draw.polygon(top, fill=int(rng.integers(90, 256)))
    if seed % 3 == 0:  # a bag-like block filling the frame, corners included (border mean stays < 128)
        draw.rectangle([0, 6, 27, 27], fill=int(rng.integers(60, 110)))
    a = np.asarray(canvas).astype(np.int16)
    texture = rng.integers(-40, 40, size=a.shape)
    return np.where(a > 0, np.clip(a + texture, 1, 255), 0).astype(np.uint8)


def save(array_or_image, path: Path, **kwargs) -> Path:
    image = array_or_image if isinstance(array_or_image, Image.Image) else Image.fromarray(array_or_image)
    image.save(path, **kwargs)
    return path


def product_photo(size=(300, 200), box=(100, 40, 160, 180), fill=60) -> Image.Image:
    """A dark garment on a white background, like the Zalando photos FashionMNIST was made from."""
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).rectangle(box, fill=(fill, fill, fill))
    return image


def bbox(a: np.ndarray, level: int = 32) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero((a > level).any(1)), np.flatnonzero((a > level).any(0))
    return rows[0], rows[-1], cols[0], cols[-1]


# ------------------------------------------------------------------------------------------ bit-exactness


@pytest.mark.parametrize("seed", range(8))
def test_fashion_like_28x28_png_round_trips_bit_exactly(tmp_path, seed):
    original = fashion_like(seed)
    assert not is_dark_on_light(original)
    out = load_image(save(original, tmp_path / "x.png"))
    assert out.dtype == np.uint8 and out.shape == (SIZE, SIZE)
    np.testing.assert_array_equal(out, original)


def test_dark_on_light_28x28_is_inverted_back_exactly(tmp_path):
    original = fashion_like(1)
    out = load_image(save(255 - original, tmp_path / "negated.png"))
    np.testing.assert_array_equal(out, original)


def test_invert_override_beats_auto_detection():
    original = fashion_like(2)
    np.testing.assert_array_equal(prepare(original, invert=True), 255 - original)
    np.testing.assert_array_equal(prepare(255 - original, invert=False), 255 - original)


@pytest.mark.realdata
@pytest.mark.skipif(not FASHION_TEST.exists(), reason="FashionMNIST test set not installed")
def test_real_fashion_mnist_test_images_round_trip_bit_exactly(tmp_path):
    with gzip.open(FASHION_TEST) as f:
        raw = f.read(16 + 200 * SIZE * SIZE)
    images = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, SIZE, SIZE)  # IDX: 16-byte header
    assert len(images) == 200
    for i, original in enumerate(images):
        out = load_image(save(original, tmp_path / f"{i}.png"))
        np.testing.assert_array_equal(out, original, err_msg=f"test image {i} changed")


# ------------------------------------------------------------------------------------------ the pipeline


def test_product_photo_is_trimmed_scaled_centred_and_negated(tmp_path):
    # garment: 61 wide x 141 tall, off-centre on white 300x200 -> light garment, 28 tall, centred, black bg
    out = load_image(save(product_photo(), tmp_path / "photo.jpg", quality=95))
    assert out[0, 0] == 0 and out[-1, -1] == 0  # background levelled to black
    top, bottom, left, right = bbox(out)
    assert (top, bottom) == (0, 27)  # longest edge scaled to 28
    assert 10 <= right - left + 1 <= 14  # 61/141 * 28 = 12
    assert abs(left - (27 - right)) <= 1  # centred on the short edge
    assert out[10:18, left + 2 : right - 1].min() > 150  # dark garment became light


def test_light_on_dark_photo_is_not_inverted(tmp_path):
    photo = Image.new("L", (200, 200), 0)
    ImageDraw.Draw(photo).ellipse([50, 20, 150, 180], fill=220)
    out = load_image(save(photo, tmp_path / "dark.png"))
    assert out[14, 14] > 180 and out[0, 0] == 0
    flipped = load_image(tmp_path / "dark.png", invert=True)
    assert flipped[14, 14] < 60  # forcing inversion turns the light ellipse dark


def test_grey_background_is_levelled_to_black():
    photo = np.full((100, 60), 200, np.uint8)  # light grey background, dark object
    photo[20:80, 20:40] = 30
    out = prepare(photo)
    assert out.max() > 200 and out[0, 0] == 0 and out[:, 0].max() == 0


@pytest.mark.parametrize("value", [0, 128, 255])
def test_uniform_image_is_not_trimmed_to_nothing(value):
    out = prepare(np.full((50, 80), value, np.uint8))
    assert out.shape == (SIZE, SIZE) and out.max() == 0


def test_near_uniform_noise_stays_dark():
    rng = np.random.default_rng(0)
    out = prepare(np.clip(200 + rng.integers(-3, 4, size=(64, 64)), 0, 255).astype(np.uint8))
    assert out.max() < 16


def test_tiny_object_and_minimum_size_image():
    a = np.full((MIN_SIDE, MIN_SIDE), 255, np.uint8)
    a[3, 4] = 0  # one dark pixel on white
    out = prepare(a)
    assert out.shape == (SIZE, SIZE) and out.max() > 200


def test_rgba_cutout_is_composited_onto_white(tmp_path):
    cutout = Image.new("RGBA", (300, 200), (0, 0, 0, 0))  # transparent black around the garment
    ImageDraw.Draw(cutout).rectangle((100, 40, 160, 180), fill=(60, 60, 60, 255))
    on_white = load_image(save(product_photo(), tmp_path / "white.png"))
    np.testing.assert_array_equal(load_image(save(cutout, tmp_path / "cutout.png")), on_white)


def _modes(base: Image.Image) -> dict[str, Image.Image]:
    """The same drawing (values 0 and 255 only, so every mode can hold it exactly) in many modes."""
    rgb = base.convert("RGB")
    a16 = np.asarray(base).astype(np.uint16) * 257
    return {
        "L": base,
        "RGB": rgb,
        "RGBA": base.convert("RGBA"),
        "LA": base.convert("LA"),
        "P": rgb.convert("P"),
        "1": base.convert("1"),
        "CMYK": rgb.convert("CMYK"),
        "I;16": Image.fromarray(a16),
        "I": Image.fromarray(a16.astype(np.int32) // 257),
    }


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "LA", "P", "1", "CMYK", "I;16", "I"])
def test_every_mode_gives_the_same_array(tmp_path, mode):
    base = Image.new("L", (90, 60), 255)
    ImageDraw.Draw(base).polygon([(30, 5), (60, 5), (70, 55), (20, 55)], fill=0)
    image = _modes(base)[mode]
    assert image.mode == mode
    expected = load_image(save(base, tmp_path / "L.png"))
    suffix = ".tiff" if mode in ("CMYK", "I", "LA") else ".png"
    np.testing.assert_array_equal(load_image(save(image, tmp_path / f"x{suffix}")), expected)


def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    a16 = fashion_like(4).astype(np.uint16) * 257
    path = save(Image.fromarray(a16), tmp_path / "16bit.png")
    assert Image.open(path).mode == "I;16"
    np.testing.assert_array_equal(load_image(path), fashion_like(4))


def test_palette_with_transparency_is_composited_onto_white(tmp_path):
    image = Image.new("P", (60, 60), 0)
    image.putpalette([0, 0, 0, 50, 50, 50] + [0] * 762)
    ImageDraw.Draw(image).rectangle((20, 10, 40, 50), fill=1)
    image.info["transparency"] = 0  # index 0 (black) is transparent -> white
    out = load_image(save(image, tmp_path / "p.png", transparency=0))
    assert out[0, 0] == 0 and out[14, 14] > 150  # white bg negated to black, dark garment light


@pytest.mark.parametrize(
    "suffix, kwargs, exact",
    [
        (".png", {}, True),
        (".bmp", {}, True),
        (".gif", {}, True),
        (".tiff", {}, True),
        (".webp", {"lossless": True}, True),
        (".jpg", {"quality": 95}, False),
    ],
)
def test_formats(tmp_path, suffix, kwargs, exact):
    original = fashion_like(5)
    out = load_image(save(original, tmp_path / f"x{suffix}", **kwargs))
    if exact:
        np.testing.assert_array_equal(out, original)
    else:
        assert np.abs(out.astype(int) - original).mean() < 6


def test_animated_gif_uses_the_first_frame(tmp_path):
    first, second = fashion_like(6), fashion_like(7)
    frames = [Image.fromarray(first), Image.fromarray(second)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(path).n_frames == 2
    np.testing.assert_array_equal(load_image(path), first)


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp"])
def test_exif_orientation_is_applied(tmp_path, suffix):
    photo = Image.new("L", (300, 200), 255)  # an L-shaped dark garment: rotations give different arrays
    ImageDraw.Draw(photo).polygon([(40, 20), (90, 20), (90, 120), (200, 120), (200, 170), (40, 170)], fill=40)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display", as phones write it
    tagged = load_image(save(photo, tmp_path / f"tagged{suffix}", exif=exif, quality=95))
    upright = load_image(save(photo.transpose(Image.Transpose.ROTATE_270), tmp_path / f"upright{suffix}", quality=95))
    ignored = load_image(save(photo, tmp_path / f"untagged{suffix}", quality=95))
    assert np.abs(tagged.astype(int) - upright).mean() < 3
    assert np.abs(tagged.astype(int) - ignored).mean() > 20


def test_corrupt_exif_costs_nothing_and_prints_no_warning():
    buf = io.BytesIO()
    product_photo().save(buf, "JPEG", exif=b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff")  # IFD cut short
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = load_image("photo.jpg", data=buf.getvalue())
    assert caught == [] and out.shape == (SIZE, SIZE) and out.max() > 150


def test_huge_images_are_reduced_while_decoding(tmp_path):
    big = product_photo(size=(6000, 4000), box=(2000, 800, 3200, 3600))
    for name in ("big.jpg", "big.png"):
        out = load_image(save(big, tmp_path / name))
        top, bottom, left, right = bbox(out)
        assert (top, bottom) == (0, 27) and 10 <= right - left + 1 <= 14


def test_stdin_bytes_decode_like_the_file(tmp_path):
    path = save(fashion_like(3), tmp_path / "x.png")
    np.testing.assert_array_equal(load_image("-", data=path.read_bytes()), fashion_like(3))


# ------------------------------------------------------------------------------------------ bad input


def _error(path, **kwargs) -> str:
    with pytest.raises(BadImage) as info:
        load_image(path, **kwargs)
    err = info.value
    assert isinstance(err, ImageError) and err.exit_code == ExitCode.INPUT_FAILED
    assert str(err) == f"{path}: {err.reason}" and "\n" not in str(err)
    return err.reason


def _png_bytes(image: Image.Image, fmt="PNG") -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt)
    return buf.getvalue()


def test_missing_file(tmp_path):
    assert _error(tmp_path / "nope.png") == "no such file or directory"


def test_directory(tmp_path):
    assert "is a directory" in _error(tmp_path)


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.png").touch()
    assert _error(tmp_path / "empty.png") == "file is empty (0 bytes)"


def test_empty_stdin():
    assert _error("-", data=b"") == "no data on stdin"


def test_text_file_named_png(tmp_path):
    (tmp_path / "notes.png").write_text("these are not pixels\n")
    assert "not an image" in _error(tmp_path / "notes.png")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_file(tmp_path, fmt):
    data = _png_bytes(product_photo(), fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[: len(data) // 2])
    assert "truncated" in _error(path)


@pytest.mark.parametrize("size", [(1, 1), (MIN_SIDE - 1, 100), (100, 3)])
def test_too_small(tmp_path, size):
    path = save(Image.new("L", size, 255), tmp_path / "small.png")
    w, h = size
    assert _error(path) == f"image is {w}x{h} pixels, too small to classify (minimum {MIN_SIDE}x{MIN_SIDE})"


def test_minimum_size_is_accepted(tmp_path):
    assert load_image(save(Image.new("L", (MIN_SIDE, MIN_SIDE), 0), tmp_path / "ok.png")).shape == (SIZE, SIZE)


# ------------------------------------------------------------- decompression bombs, by decode memory (issue 17.8)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_claiming(width: int, height: int, colour_type: int = 0) -> bytes:
    """A tiny PNG whose (valid, checksummed) header claims width x height pixels of 8-bit `colour_type`."""
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _chunk(b"IEND", b"")
    )


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header is rewritten to claim width x height pixels."""
    data = bytearray(_png_bytes(product_photo(), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def test_a_header_claiming_more_memory_than_allowed_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_claiming(40_000, 40_000))  # 1.6 GP of gray: 12.8 GB to decode
    reason = _error(path)
    assert reason.startswith(
        "image is 40,000x40,000 pixels: decoding it would take 12.8 GB of memory, over the 2.0 GB limit for one image"
    ), reason


def test_pillow_still_refuses_headers_past_its_own_fence(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_claiming(100_000, 100_000))  # 10 GP: Pillow's check, raised to 2^32 pixels
    assert "a decompression bomb" in _error(path)


@pytest.mark.parametrize("width, height", [(12_000, 9_000), (16_320, 12_240)])  # 108 MP and 200 MP phone photos
def test_huge_phone_jpegs_are_not_bombs(tmp_path, monkeypatch, width, height):
    # Decoded at 1/8 scale (JPEG draft) they take ~20-30 MB, so they are decoded (this file's data is only
    # a small photo's; libjpeg fills the rest), where Pillow's pixel count refused them.
    path = tmp_path / "phone.jpg"
    path.write_bytes(_jpeg_claiming(width, height))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # Pillow alone refuses them; here it only reads the size
    with Image.open(path) as img:
        img.draft("RGB", DRAFT_SIZE)
        assert img.size == (width // 8, height // 8)
    assert load_view(path).image.shape == (SIZE, SIZE)


def test_jpeg_is_judged_by_its_draft_size_and_png_by_its_full_size(tmp_path, monkeypatch):
    picture = Image.new("L", (4096, 4096), 255)
    ImageDraw.Draw(picture).rectangle((1200, 600, 2900, 3500), fill=40)
    jpeg, png = save(picture, tmp_path / "big.jpg", quality=60), save(picture, tmp_path / "big.png")
    with Image.open(jpeg) as img:
        img.draft("RGB", DRAFT_SIZE)
        assert img.size == (1024, 1024) and decode_bytes(img) == 1024 * 1024 * BYTES_PER_PIXEL["L"]
    with Image.open(png) as img:
        assert decode_bytes(img) == 4096 * 4096 * BYTES_PER_PIXEL["L"]
    monkeypatch.setattr(images, "IMAGE_MEMORY_LIMIT", 20 * 10**6)  # between the two
    assert bbox(load_image(jpeg)) == bbox(load_image(save(picture.resize((1024, 1024)), tmp_path / "small.png")))
    assert _error(png).startswith(
        "image is 4,096x4,096 pixels: decoding it would take 134 MB of memory, over the "
        "20 MB limit for one image (a decompression bomb?)"
    )


def test_transparency_and_wide_pixels_count_more_memory():
    rgba, gray, floats = Image.new("RGBA", (100, 100)), Image.new("L", (100, 100)), Image.new("F", (100, 100))
    palette_with_key = Image.new("P", (100, 100))
    palette_with_key.info["transparency"] = 0
    assert decode_bytes(gray) < decode_bytes(rgba) == decode_bytes(palette_with_key)
    assert decode_bytes(gray) < decode_bytes(floats) == 100 * 100 * BYTES_PER_PIXEL["F"]
    assert decode_bytes(Image.new("HSV", (100, 100))) == 100 * 100 * BYTES_PER_PIXEL["HSV"]


class _Recorder:
    def __init__(self):
        self.asked = []

    @contextmanager
    def reserve(self, nbytes):
        self.asked.append(nbytes)
        yield


def test_the_decode_reserves_its_memory_from_the_budget(tmp_path):
    budget = _Recorder()
    path = save(product_photo(size=(300, 200)).convert("RGBA"), tmp_path / "cutout.png")
    load_view(path, budget=budget)
    assert budget.asked == [300 * 200 * BYTES_PER_PIXEL["transparent"]]


def test_the_budget_is_held_until_the_photo_is_prepared(tmp_path, monkeypatch):
    # BYTES_PER_PIXEL counts preparing too (GrabCut on the full-size arrays): the reservation must last
    # until view_of has drawn the small view.
    held = []

    class Budget:
        @contextmanager
        def reserve(self, nbytes):
            held.append(True)
            yield
            held.append(False)

    seen = []
    real = images.view_of
    monkeypatch.setattr(images, "view_of", lambda *a: seen.append((held[-1:], a[2] is not None)) or real(*a))
    rng = np.random.default_rng(0)
    floor = rng.integers(90, 200, (60, 80, 3), dtype=np.uint8).repeat(5, 0).repeat(5, 1)  # not flat: a photo
    floor[80:240, 150:250] = (40, 30, 120)
    load_view(save(floor, tmp_path / "floor.png"), budget=Budget())
    assert seen == [([True], True)] and held == [True, False]


# ------------------------------------------------------------------ 32-bit TIFFs, messages (issue 17.12, 17.22)


@pytest.mark.parametrize(
    "mode, value", [("I", 70_000), ("I", -3), ("F", -5.0), ("F", 1e30), ("F", float("nan")), ("F", float("inf"))]
)
def test_uniform_32_bit_tiff_is_blank_not_an_error(tmp_path, mode, value):
    array = np.full((40, 60), value, dtype=np.int32 if mode == "I" else np.float32)
    view = load_view(save(Image.fromarray(array, mode), tmp_path / "flat.tiff"))
    assert view.found is False and view.image.max() - view.image.min() == 0


def test_float_tiff_with_nan_pixels_keeps_its_picture(tmp_path):
    array = np.full((60, 60), -2.0, np.float32)
    array[10:50, 20:40] = 3.0
    array[0, 0] = array[59, 59] = np.nan
    out = load_image(save(Image.fromarray(array, "F"), tmp_path / "nan.tiff"))
    assert out[14, 14] > 200 and out[14, 0] == 0  # NaN became the background, not a light corner


def test_heic_photo_without_the_extra_names_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # the heic extra is not installed
    monkeypatch.delitem(Image.OPEN, "HEIF", raising=False)
    path = tmp_path / "IMG_0001.png"  # a phone's HEIC, renamed or not
    path.write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(200))
    assert _error(path) == (
        "a HEIC/HEIF photo, which fashionnet reads only with the heic extra "
        "(pip install 'fashionnet[heic]'); or save it as JPEG first"
    )


def test_heic_and_avif_photos_are_read_like_jpeg(tmp_path):
    """AVIF through Pillow itself, HEIC through pillow-heif (the heic extra, which `make install` adds):
    the same photo in each comes out as nearly the same drawing, and a damaged HEIC is one line."""
    pillow_heif = pytest.importorskip("pillow_heif")
    photo = product_photo().convert("RGB")
    jpeg = load_image(save(photo, tmp_path / "photo.jpg", quality=95)).astype(int)
    avif = tmp_path / "photo.avif"
    photo.save(avif, quality=90)
    heic = tmp_path / "IMG_0001.HEIC"
    pillow_heif.from_pillow(photo).save(heic, quality=90)
    for path in (avif, heic):
        assert np.abs(load_image(path).astype(int) - jpeg).mean() < 8, path
    damaged = tmp_path / "damaged.heic"
    damaged.write_bytes(heic.read_bytes()[:200])
    assert _error(damaged) == "a HEIC/HEIF file, but damaged or of a kind pillow-heif does not read"


def test_png_with_a_bad_header_checksum_is_named_damaged(tmp_path):
    data = bytearray(_png_bytes(product_photo()))
    data[29] ^= 0xFF  # the last byte of IHDR's CRC
    path = tmp_path / "crc.png"
    path.write_bytes(bytes(data))
    assert _error(path) == "a PNG file, but damaged: broken PNG file (bad header checksum in b'IHDR')"


def test_permission_denied_simulated(tmp_path, monkeypatch):
    path = save(fashion_like(0), tmp_path / "secret.png")
    real_open = os.open

    def guarded_open(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)
    assert _error(path) == "permission denied"


def test_permission_denied_real(tmp_path):
    """Root reads mode-000 files, so the check runs as an unprivileged user (setpriv) when we are root."""
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="fashionnet-perm-"))
    try:
        base.chmod(0o755)
        path = save(fashion_like(0), base / "secret.png")
        path.chmod(0)
        code = (
            "from fashionnet.images import BadImage, load_image\n"
            f"try:\n    load_image({str(path)!r})\nexcept BadImage as exc:\n    print(exc.reason)\n"
        )
        drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
        proc = subprocess.run([*drop, sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert proc.stdout.strip() == "permission denied", proc.stderr
    finally:
        shutil.rmtree(base)
