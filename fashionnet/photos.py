"""The real photos training learns from: 28x28 drawings of 3,068 labelled CC0 phone photos.

Each photo of clothing-dataset-small's train split is drawn by `images.load_view`, the function `predict`
runs on every input, so training sees exactly the 28x28 picture `predict` shows the model (and `--show`
draws). The drawings ship in fashionnet/drawings/ (a compressed numpy file, about 1.5 MB) so that
`make weights` needs neither the photos nor the internet; `tools/make_drawings.py` remakes them from a
copy of the photos. They go stale when the drawing pipeline changes: the file records
`images.PIPELINE_VERSION`, and training refuses a file drawn by another version.

Every photo belongs to one fixed part, chosen by seed and stratified by category: 65% train (training
only ever sees these), 15% validation (for choosing settings) and 20% hold-out (reported once).
"""

from __future__ import annotations

import csv
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fashionnet import CLASSES
from fashionnet.errors import DataError, printable
from fashionnet.files import atomic_write, input_file_problem

DRAWINGS = Path(__file__).resolve().parent / "drawings" / "photo-drawings.npz"
DATASET = "clothing-dataset-small (train split), by Alexey Grigorev and contributors"
DATASET_URL = "https://github.com/alexeygrigorev/clothing-dataset-small"
LICENCE = "CC0 1.0 Universal (public domain dedication)"
PARTS = ("train", "validation", "hold-out")
TRAIN, VALIDATION, HOLDOUT = 0, 1, 2
HOLDOUT_SHARE = 0.20  # of each category, kept away from training and from choosing settings
VALIDATION_SHARE = 0.15  # of each category, for choosing settings; never trained on either
SPLIT_SEED = 0
REMAKE = "remake them with tools/make_drawings.py, or train with --no-photos"

# What every array of the file must be: (dtype kind, number of dimensions).
ARRAYS = {
    "drawings": ("u", 3), "owner": ("i", 1), "path": ("U", 1), "category": ("u", 1), "categories": ("U", 1),
    "named": ("b", 2), "acceptable": ("b", 2), "found": ("b", 1), "part": ("u", 1), "pipeline": ("i", 0),
    "split_seed": ("i", 0), "dataset": ("U", 0), "url": ("U", 0), "licence": ("U", 0),
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

    def training_set(self) -> tuple[np.ndarray, np.ndarray]:
        """The train part's drawings of found garments, each with the classes its photo allows:
        ((P, 28, 28) uint8, (P, 10) bool, all False for a garment that is none of the ten)."""
        keep = (self.part == TRAIN) & self.found
        chosen = keep[self.owner]
        return self.drawings[chosen], self.named[self.owner[chosen]]


def read_labels(folder: Path) -> list[Photo]:
    """labels.csv of the data set: path, category, fashionmnist (classes a person would name, space
    separated; empty for none of the ten), acceptable."""
    photos = []
    with open(Path(folder) / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            photos.append(Photo(row["path"], row["category"], frozenset(int(x) for x in row["fashionmnist"].split()),
                                frozenset(int(x) for x in row["acceptable"].split())))
    return photos


def assign_parts(categories: list[str], seed: int = SPLIT_SEED) -> np.ndarray:
    """(N,) uint8 part of each photo: within each category (in sorted order, photos in file order), a
    permutation drawn from `seed` puts the first 20% in the hold-out, the next 15% in validation, the rest
    in train. The same file always gives the same parts."""
    categories = np.asarray(categories)
    part = np.full(len(categories), TRAIN, np.uint8)
    rng = np.random.default_rng(seed)
    for name in sorted(set(categories.tolist())):
        members = np.flatnonzero(categories == name)
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
    masks = [np.array([[c in p.named for c in range(len(CLASSES))] for p in photos], bool).reshape(-1, len(CLASSES)),
             np.array([[c in p.acceptable for c in range(len(CLASSES))] for p in photos], bool).reshape(-1, len(CLASSES))]
    return PhotoDrawings(
        drawings=np.concatenate([d for d, _ in views]).astype(np.uint8),
        owner=np.concatenate([np.full(len(d), i, np.int32) for i, (d, _) in enumerate(views)]),
        path=np.array([p.path for p in photos]),
        category=np.array([categories.index(p.category) for p in photos], np.uint8),
        categories=np.array(categories),
        named=masks[0], acceptable=masks[1],
        found=np.array([f for _, f in views], bool),
        part=assign_parts([p.category for p in photos]),
        pipeline=PIPELINE_VERSION,
    )


def save(drawings: PhotoDrawings, path: Path = DRAWINGS) -> None:
    """Write the drawings file atomically (a compressed .npz of plain arrays: no pickle)."""
    arrays = {name: getattr(drawings, name) for name in ARRAYS if hasattr(drawings, name)}
    arrays.update(pipeline=np.int64(drawings.pipeline), split_seed=np.int64(drawings.split_seed),
                  dataset=np.str_(DATASET), url=np.str_(DATASET_URL), licence=np.str_(LICENCE))

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    atomic_write(Path(path), write)


def load(path: Path = DRAWINGS) -> PhotoDrawings:
    """Read and check a drawings file. Every way it can be wrong (missing, truncated, not this format,
    arrays of the wrong type or shape, drawn by another pipeline) is one DataError naming the file."""
    from fashionnet.images import PIPELINE_VERSION, SIZE

    path = Path(path)
    name = printable(str(path))
    problem = input_file_problem(path, "file")
    if problem:
        if problem == "no such file":
            problem = "photo drawings not found"
        raise DataError(f"{name}: {problem}; {REMAKE}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in ARRAYS if key not in npz.files]
            if missing:
                raise DataError(f"{name}: not a photo drawings file (no {', '.join(missing)}); {REMAKE}")
            arrays = {key: npz[key] for key in ARRAYS}
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, KeyError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{name}: not a readable photo drawings file ({printable(detail)}); {REMAKE}") from None
    for key, (kind, ndim) in ARRAYS.items():
        a = arrays[key]
        if a.dtype.kind != kind or a.ndim != ndim:
            raise DataError(f"{name}: array '{key}' is {a.dtype} with {a.ndim} dimensions, expected "
                            f"{_KINDS[kind]} with {ndim}; {REMAKE}")
    images, owner, n = arrays["drawings"], arrays["owner"], len(arrays["path"])
    shapes = {"drawings": images.shape[1:] == (SIZE, SIZE) and images.dtype == np.uint8,
              "owner": len(owner) == len(images) and n > 0 and len(images) >= n,
              "category": arrays["category"].shape == (n,) and int(arrays["category"].max(initial=0)) < len(arrays["categories"]),
              "named": arrays["named"].shape == (n, len(CLASSES)),
              "acceptable": arrays["acceptable"].shape == (n, len(CLASSES)),
              "found": arrays["found"].shape == (n,),
              "part": arrays["part"].shape == (n,) and int(arrays["part"].max(initial=0)) < len(PARTS)}
    for key, ok in shapes.items():
        if not ok:
            raise DataError(f"{name}: array '{key}' has shape {list(arrays[key].shape)}, which does not fit "
                            f"{n:,} photos of {SIZE}x{SIZE}; {REMAKE}")
    if len(owner) and (owner[0] != 0 or owner[-1] != n - 1 or np.any(np.diff(owner) < 0) or np.any(np.diff(owner) > 1)):
        raise DataError(f"{name}: array 'owner' does not list every photo's drawings in order; {REMAKE}")
    pipeline = int(arrays["pipeline"])
    if pipeline != PIPELINE_VERSION:
        raise DataError(f"{name}: drawn by pipeline version {pipeline}, but this fashionnet draws photos with "
                        f"version {PIPELINE_VERSION} (the drawings are stale); {REMAKE}")
    return PhotoDrawings(images, owner.astype(np.int32), arrays["path"], arrays["category"], arrays["categories"],
                         arrays["named"], arrays["acceptable"], arrays["found"], arrays["part"], pipeline,
                         int(arrays["split_seed"]))


_KINDS = {"u": "unsigned integers", "i": "integers", "U": "text", "b": "booleans"}


def locate_photos() -> Path | None:
    """A copy of the data set's train split (labels.csv beside the photos), if this machine has one:
    $FASHIONNET_PHOTOS, else ../shared/data/clothing-photos beside the checkout."""
    root = Path(__file__).resolve().parents[1]
    for candidate in (os.environ.get("FASHIONNET_PHOTOS"), root.parent / "shared" / "data" / "clothing-photos",
                      Path("/work/shared/data/clothing-photos")):
        if candidate and (Path(candidate) / "labels.csv").is_file():
            return Path(candidate)
    return None
