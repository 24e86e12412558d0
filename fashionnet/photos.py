"""The real photos training learns from: 28x28 drawings of 3,467 labelled CC0 phone photos.

Each photo (clothing-dataset-small's train split, and six more kinds from the full clothing-dataset) is
drawn by `images.load_view`, the function `predict` runs on every input, so training sees exactly the 28x28
drawings that `predict` shows the model: the photo's own mask (which `--show` draws) and, for a found
garment, the up to four drawings of the mask eroded and dilated that `predict` averages its logits over
(garment.mask_variants). The shipped file holds all of them, so training learns from what predict
averages. The drawings ship in fashionnet/drawings/ (a compressed numpy file, about 8.5 MB) so that
`make weights` needs neither the photos nor the internet; `tools/make_drawings.py` remakes them from a
copy of the photos. They go stale when the drawing pipeline changes: the file records
`images.PIPELINE_VERSION`, and training refuses a file drawn by another version.

Every photo belongs to one fixed part, chosen by seed and stratified by category: 65% train (training
only ever sees these), 15% validation (for choosing settings) and 20% hold-out (reported once).
"""

from __future__ import annotations

import csv
import math
import os
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fashionnet import CLASSES
from fashionnet.errors import DataError, printable
from fashionnet.files import atomic_write, input_file_problem, npy_header

DRAWINGS = Path(__file__).resolve().parent / "drawings" / "photo-drawings.npz"
DATASET = (
    "clothing-dataset-small (train split) and six kinds of the full clothing-dataset, by Alexey Grigorev "
    "and contributors"
)
DATASET_URL = "https://github.com/alexeygrigorev/clothing-dataset-small"
LICENCE = "CC0 1.0 Universal (public domain dedication)"
PARTS = ("train", "validation", "hold-out")
TRAIN, VALIDATION, HOLDOUT = 0, 1, 2
HOLDOUT_SHARE = 0.20  # of each category, kept away from training and from choosing settings
VALIDATION_SHARE = 0.15  # of each category, for choosing settings; never trained on either
SPLIT_SEED = 0
# The categories of clothing-dataset-small, whose parts were fixed first (issue 15).
FIRST_CATEGORIES = ("dress", "hat", "longsleeve", "outwear", "pants", "shirt", "shoes", "shorts", "skirt", "t-shirt")
REMAKE = (
    "train with --no-photos, or remake them with tools/make_drawings.py (in fashionnet's source, not installed with it)"
)

# What every array of the file must be: (dtype kind, number of dimensions).
ARRAYS = {
    "drawings": ("u", 3),
    "owner": ("i", 1),
    "path": ("U", 1),
    "category": ("u", 1),
    "categories": ("U", 1),
    "named": ("b", 2),
    "acceptable": ("b", 2),
    "found": ("b", 1),
    "part": ("u", 1),
    "pipeline": ("i", 0),
    "split_seed": ("i", 0),
    "dataset": ("U", 0),
    "url": ("U", 0),
    "licence": ("U", 0),
}


@dataclass
class Photo:
    """One labelled photo of the data set, as labels.csv describes it."""

    path: str  # relative to the data set's folder: <category>/<file>.jpg
    category: str
    named: frozenset[int]  # the classes a person would name; empty: none of the ten (hat, shorts, skirt)
    acceptable: frozenset[int]  # every class a person would accept


@dataclass
class PhotoDrawings:
    """What the drawings file holds. N photos, M >= N drawings (each photo's own drawing first, then its
    variants; `owner` says which photo each drawing belongs to, as predict's averaging groups them)."""

    drawings: np.ndarray  # (M, 28, 28) uint8, light garment on black
    owner: np.ndarray  # (M,) int32, non-decreasing, every photo at least once
    path: np.ndarray  # (N,) str
    category: np.ndarray  # (N,) uint8, index into `categories`
    categories: np.ndarray  # (C,) str
    named: np.ndarray  # (N, 10) bool
    acceptable: np.ndarray  # (N, 10) bool
    found: np.ndarray  # (N,) bool: a garment was found (False: drawn from the whole frame, never "sure")
    part: np.ndarray  # (N,) uint8: TRAIN, VALIDATION or HOLDOUT
    pipeline: int  # images.PIPELINE_VERSION the drawings were made with
    split_seed: int = SPLIT_SEED

    def __len__(self) -> int:
        return len(self.path)

    def in_part(self, part: int) -> np.ndarray:
        """Indices of the photos in one part."""
        return np.flatnonzero(self.part == part)

    def first_drawing(self) -> np.ndarray:
        """(N,) the index of each photo's own drawing (the one `--show` draws)."""
        return np.searchsorted(self.owner, np.arange(len(self)))

    def training_set(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The train part's drawings of found garments (each photo's own drawing and its mask variants, when
        the file holds them), with the classes its photo allows and where each drawing is in the file:
        ((P, 28, 28) uint8, (P, 10) bool, all False for a garment that is none of the ten; (P,) int)."""
        keep = (self.part == TRAIN) & self.found
        rows = np.flatnonzero(keep[self.owner])
        return self.drawings[rows], self.named[self.owner[rows]], rows

    def calibration_set(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The validation part's found garments of the ten classes, for fitting the temperature: their
        drawings (R, 28, 28), which photo each drawing belongs to (R,) counted from 0, and the classes each
        photo allows (K, 10) bool."""
        which = np.flatnonzero((self.part == VALIDATION) & self.found & self.named.any(1))
        rows = np.flatnonzero(np.isin(self.owner, which))
        return self.drawings[rows], np.searchsorted(which, self.owner[rows]), self.named[which]


def read_labels(folder: Path) -> list[Photo]:
    """labels.csv of the data set: path, category, fashionmnist (classes a person would name, space
    separated; empty for none of the ten), acceptable."""
    photos = []
    with open(Path(folder) / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            photos.append(
                Photo(
                    row["path"],
                    row["category"],
                    frozenset(int(x) for x in row["fashionmnist"].split()),
                    frozenset(int(x) for x in row["acceptable"].split()),
                )
            )
    return photos


def assign_parts(categories: list[str], seed: int = SPLIT_SEED) -> np.ndarray:
    """(N,) uint8 part of each photo: within each category (in sorted order, photos in file order), a
    permutation drawn from `seed` puts the first 20% in the hold-out, the next 15% in validation, the rest
    in train. The same file always gives the same parts."""
    names = np.asarray(categories)
    part = np.full(len(names), TRAIN, np.uint8)
    rng = np.random.default_rng(seed)
    present = set(names.tolist())
    # The first ten categories draw from one stream in sorted order, as they always did, so adding kinds
    # never moves an old photo between parts; each later kind draws from its own stream.
    first = sorted(present & set(FIRST_CATEGORIES))
    for name in first + sorted(present - set(first)):
        if name not in FIRST_CATEGORIES:
            rng = np.random.default_rng([seed, *name.encode()])
        members = np.flatnonzero(names == name)
        shuffled = members[rng.permutation(len(members))]
        held, checked = round(HOLDOUT_SHARE * len(members)), round(VALIDATION_SHARE * len(members))
        part[shuffled[:held]] = HOLDOUT
        part[shuffled[held : held + checked]] = VALIDATION
    return part


def _draw(job: tuple[str, bool]) -> tuple[np.ndarray, bool]:
    from fashionnet.images import load_view

    path, variants = job
    view = load_view(path)
    return view.drawings() if variants else view.image[None], view.found


def draw_folder(folder: Path, workers: int = 2, progress=None, variants: bool = False) -> PhotoDrawings:
    """Draw every photo listed in `folder`/labels.csv as `predict` draws it (images.load_view): its own
    drawing, and with `variants` also the drawings of its eroded and dilated masks (5x the size)."""
    from multiprocessing import Pool

    from fashionnet.images import PIPELINE_VERSION

    photos = read_labels(folder)
    jobs = [(str(Path(folder) / p.path), variants) for p in photos]
    with Pool(max(1, workers)) as pool:
        views = []
        for view in pool.imap(_draw, jobs, chunksize=8):
            views.append(view)
            if progress is not None:
                progress(len(views), len(jobs))
    categories = sorted({p.category for p in photos})
    masks = [
        np.array([[c in p.named for c in range(len(CLASSES))] for p in photos], bool).reshape(-1, len(CLASSES)),
        np.array([[c in p.acceptable for c in range(len(CLASSES))] for p in photos], bool).reshape(-1, len(CLASSES)),
    ]
    return PhotoDrawings(
        drawings=np.concatenate([d for d, _ in views]).astype(np.uint8),
        owner=np.concatenate([np.full(len(d), i, np.int32) for i, (d, _) in enumerate(views)]),
        path=np.array([p.path for p in photos]),
        category=np.array([categories.index(p.category) for p in photos], np.uint8),
        categories=np.array(categories),
        named=masks[0],
        acceptable=masks[1],
        found=np.array([f for _, f in views], bool),
        part=assign_parts([p.category for p in photos]),
        pipeline=PIPELINE_VERSION,
    )


def save(drawings: PhotoDrawings, path: Path = DRAWINGS) -> None:
    """Write the drawings file atomically (a compressed .npz of plain arrays: no pickle)."""
    arrays = {name: getattr(drawings, name) for name in ARRAYS if hasattr(drawings, name)}
    arrays.update(
        pipeline=np.int64(drawings.pipeline),
        split_seed=np.int64(drawings.split_seed),
        dataset=np.str_(DATASET),
        url=np.str_(DATASET_URL),
        licence=np.str_(LICENCE),
    )

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    atomic_write(Path(path), write)


def load(path: Path = DRAWINGS) -> PhotoDrawings:
    """Read and check a drawings file. Every way it can be wrong (missing, truncated, too large, not this
    format, arrays of the wrong type or shape, no train drawings, drawn by another pipeline) is one
    DataError naming the file. The file is hostile input: each array's size is checked in its header
    before a byte of it is inflated, so neither a forged shape nor a zip bomb can exhaust memory."""
    from fashionnet.images import PIPELINE_VERSION, SIZE

    path = Path(path)
    name = printable(str(path))
    problem = input_file_problem(path, "file")
    if problem:
        if problem == "no such file":
            problem = "photo drawings not found"
        raise DataError(f"{name}: {problem}; {REMAKE}")
    with read_problem(name, "photo drawings file", REMAKE):
        arrays = read_npz(path, name, FORMAT)
    images, owner, n = arrays["drawings"], arrays["owner"], len(arrays["path"])
    if n == 0:
        raise DataError(f"{name}: holds no photos; {REMAKE}")
    if len(arrays["categories"]) == 0:
        raise DataError(f"{name}: array 'categories' is empty (the photos' categories have no names); {REMAKE}")
    shapes = {
        "drawings": images.shape[1:] == (SIZE, SIZE),
        "owner": len(owner) == len(images) and len(images) >= n,
        "category": arrays["category"].shape == (n,),
        "named": arrays["named"].shape == (n, len(CLASSES)),
        "acceptable": arrays["acceptable"].shape == (n, len(CLASSES)),
        "found": arrays["found"].shape == (n,),
        "part": arrays["part"].shape == (n,),
    }
    for key, ok in shapes.items():
        if not ok:
            raise DataError(
                f"{name}: array '{key}' has shape {list(arrays[key].shape)}, which does not fit "
                f"{n:,} photos of {SIZE}x{SIZE}; {REMAKE}"
            )
    highest = int(arrays["category"].max())
    if highest >= len(arrays["categories"]):
        raise DataError(
            f"{name}: array 'category' holds index {highest}, but 'categories' names only "
            f"{len(arrays['categories'])}; {REMAKE}"
        )
    highest = int(arrays["part"].max())
    if highest >= len(PARTS):
        raise DataError(
            f"{name}: array 'part' holds {highest}, expected 0 (train), 1 (validation) or 2 (hold-out); {REMAKE}"
        )
    if owner[0] != 0 or owner[-1] != n - 1 or np.any(np.diff(owner) < 0) or np.any(np.diff(owner) > 1):
        raise DataError(f"{name}: array 'owner' does not list every photo's drawings in order; {REMAKE}")
    pipeline = int(arrays["pipeline"])
    if pipeline != PIPELINE_VERSION:
        raise DataError(
            f"{name}: drawn by pipeline version {pipeline}, but this fashionnet draws photos with "
            f"version {PIPELINE_VERSION} (the drawings are stale); {REMAKE}"
        )
    if not np.any((arrays["part"] == TRAIN) & arrays["found"]):  # training would get no photo at all
        raise DataError(f"{name}: no usable train drawings (no photo of the train part has a garment found); {REMAKE}")
    return PhotoDrawings(
        images,
        owner.astype(np.int32),
        arrays["path"],
        arrays["category"],
        arrays["categories"],
        arrays["named"],
        arrays["acceptable"],
        arrays["found"],
        arrays["part"],
        pipeline,
        int(arrays["split_seed"]),
    )


MAX_FILE_BYTES = 64 * 2**20  # the shipped file, with the mask variants, is 8.5 MB
MAX_PHOTOS = 50_000  # the shipped file has 3,467
MAX_DRAWINGS = 5 * MAX_PHOTOS  # each photo's own drawing and at most four mask variants
MAX_TEXT = 1024  # characters of one path or name
# The most elements each array may declare: a file of MAX_PHOTOS photos, drawn with variants.
LIMITS = {
    "drawings": MAX_DRAWINGS * 28 * 28,
    "owner": MAX_DRAWINGS,
    "path": MAX_PHOTOS,
    "category": MAX_PHOTOS,
    "categories": MAX_PHOTOS,
    "named": MAX_PHOTOS * len(CLASSES),
    "acceptable": MAX_PHOTOS * len(CLASSES),
    "found": MAX_PHOTOS,
    "part": MAX_PHOTOS,
}


@dataclass(frozen=True)
class NpzFormat:
    """What one kind of .npz file shipped beside the package must hold, for `read_npz`: each array's
    (dtype kind, dimensions) and most elements, the file's largest size, its name in messages and how
    to remake it."""

    arrays: dict[str, tuple[str, int]]
    limits: dict[str, int]
    max_bytes: int
    what: str  # "photo drawings file"
    remake: str
    exact: dict[str, np.dtype]  # arrays whose dtype must be exactly this one


@contextmanager
def read_problem(name: str, what: str, remake: str):
    """Whatever reading a shipped .npz raises becomes one DataError naming the file."""
    try:
        yield
    except DataError:
        raise
    except (
        OSError,
        ValueError,
        EOFError,
        zlib.error,
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        KeyError,
        NotImplementedError,
        RuntimeError,
    ) as exc:  # zipfile: an unknown compression, an encrypted member
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{name}: not a readable {what} ({printable(detail)}); {remake}") from None


def read_npz(path: Path, name: str, form: NpzFormat) -> dict[str, np.ndarray]:
    """The file's arrays, each read straight from its zip member (np.savez's layout) after its .npy header
    passed `_check_header`: pickles are never loaded, members the format does not name never read. The
    one reader of every .npz fashionnet ships (the photo drawings, the teacher's targets)."""
    what, remake = form.what, form.remake
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > form.max_bytes:
            raise DataError(
                f"{name}: is {size / 2**20:,.0f} MiB, larger than any {what} "
                f"(at most {form.max_bytes // 2**20} MiB); {remake}"
            )
        if f.read(6) == b"\x93NUMPY":
            raise DataError(f"{name}: holds a single numpy array (.npy), not a {what} (.npz); {remake}")
        f.seek(0)
        with zipfile.ZipFile(f) as archive:
            members = set(archive.namelist())
            missing = [key for key in form.arrays if key + ".npy" not in members]
            if missing:
                raise DataError(f"{name}: not a {what} (no {', '.join(missing)}); {remake}")
            arrays = {}
            for key in form.arrays:
                with archive.open(key + ".npy") as member:
                    try:
                        shape, _, dtype = npy_header(member)  # its length checked before it is read
                    except ValueError as exc:
                        raise ValueError(f"array '{key}': {exc}") from None
                _check_header(name, key, shape, dtype, form)
                with archive.open(key + ".npy") as member:
                    arrays[key] = np.lib.format.read_array(member, allow_pickle=False)
                    if member.read(1):  # also reads to the end, where zipfile checks the CRC
                        raise ValueError(f"array '{key}' has data past its end")
    return arrays


def _check_header(name: str, key: str, shape: tuple, dtype: np.dtype, form: NpzFormat) -> None:
    """Refuse an array by what its header declares (type, dimensions, size), before it is read."""
    kind, ndim = form.arrays[key]
    remake = form.remake
    exact = form.exact.get(key)
    if dtype.kind != kind or (exact is not None and dtype != exact):
        expected = EXACT_NAMES.get(str(exact), str(exact)) if exact is not None else _KINDS[kind]
        raise DataError(f"{name}: array '{key}' holds {printable(str(dtype))} values, expected {expected}; {remake}")
    if len(shape) != ndim:
        raise DataError(f"{name}: array '{key}' has {len(shape)} dimensions, expected {ndim}; {remake}")
    if any(side < 0 for side in shape):
        raise DataError(f"{name}: array '{key}' declares the impossible shape {list(shape)}; {remake}")
    if kind == "U" and dtype.itemsize > 4 * MAX_TEXT:
        raise DataError(
            f"{name}: array '{key}' holds text of {dtype.itemsize // 4:,} characters, more than {MAX_TEXT:,}; {remake}"
        )
    if math.prod(shape) > form.limits.get(key, 1):
        raise DataError(f"{name}: array '{key}' declares shape {list(shape)}, more than a {form.what} holds; {remake}")


EXACT_NAMES = {"uint8": "uint8 (pixels from 0 to 255)", "float16": "float16"}
_KINDS = {"u": "unsigned integers", "i": "integers", "U": "text", "b": "booleans", "f": "floating-point numbers"}

FORMAT = NpzFormat(ARRAYS, LIMITS, MAX_FILE_BYTES, "photo drawings file", REMAKE, {"drawings": np.dtype(np.uint8)})


def locate_photos() -> Path | None:
    """A copy of the photos (labels.csv beside the photos), if this machine has one:
    $FASHIONNET_PHOTOS, else, in a source checkout (pyproject.toml at its root), ../shared/data/clothing-photos
    beside it; an installed copy has no checkout around it, so only $FASHIONNET_PHOTOS counts there."""
    root = Path(__file__).resolve().parents[1]
    beside = root.parent / "shared" / "data" / "clothing-photos" if (root / "pyproject.toml").is_file() else None
    for candidate in (os.environ.get("FASHIONNET_PHOTOS"), beside):
        if candidate and (Path(candidate) / "labels.csv").is_file():
            return Path(candidate)
    return None
