"""Find the official FashionMNIST IDX files and load them as in-memory uint8 tensors.

The IDX reader is ours on purpose: torchvision's `read_image_file` does not read the gzip files that the
Debian package ships, checks its input with `assert`, and importing torchvision costs about as much as
importing torch again, which `evaluate` cannot afford. torchvision is still what `--download` uses.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fashionnet.errors import DataError
from fashionnet.files import input_file_problem

if TYPE_CHECKING:
    import torch  # imported where it is used: `data --help` and locating the files never load torch

ENV_VAR = "FASHIONNET_DATA"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
EXPECTED = {"train": 60_000, "test": 10_000}
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
HOW_TO_GET = (
    "get FashionMNIST in one of three ways: install the Debian/Ubuntu package "
    "(sudo apt-get install dataset-fashion-mnist); download it with "
    "`fashionnet data --download` (needs internet); or put the four official *-ubyte.gz files in a "
    f"folder and pass --data-dir DIR or set {ENV_VAR}=DIR"
)


def cache_dir() -> Path:
    """The per-user folder where `--download` puts the data: FashionMNIST in fashionnet's cache folder, by
    each system's rule (platformdirs): $XDG_CACHE_HOME/fashionnet or ~/.cache/fashionnet on Linux (a
    relative $XDG_CACHE_HOME is ignored, as the XDG rules say), ~/Library/Caches/fashionnet on macOS,
    %LOCALAPPDATA%\\fashionnet\\Cache on Windows."""
    from platformdirs import user_cache_path

    return user_cache_path("fashionnet", appauthor=False) / "FashionMNIST"


@dataclass
class Split:
    """One split in memory: images (N, 28, 28) uint8 and labels (N,) int64, as torch tensors."""

    name: str
    images: torch.Tensor
    labels: torch.Tensor


@dataclass
class DataLocation:
    folder: Path | None
    how: str  # "--data-dir", "$FASHIONNET_DATA", "cache", "debian package"
    searched: list[tuple[str, Path]] = field(default_factory=list)


def _file_in(folder: Path, stem: str) -> Path | None:
    # torchvision's download layout is <root>/FashionMNIST/raw/; accept it and plain folders, gz or not.
    for sub in (folder, folder / "raw", folder / "FashionMNIST" / "raw"):
        for name in (stem + ".gz", stem):
            if (sub / name).is_file():
                return sub / name
    return None


def _found_in(folder: Path, stem: str) -> Path:
    """The file `stem` in a folder that `locate` found complete (gone since: one line, not a crash)."""
    path = _file_in(folder, stem)
    if path is None:
        raise DataError(f"{folder}: {stem} is missing; {HOW_TO_GET}")
    return path


def _complete(folder: Path) -> bool:
    return all(_file_in(folder, stem) for pair in FILES.values() for stem in pair)


def candidates(data_dir: Path | None = None) -> list[tuple[str, Path]]:
    """Where we look, in order."""
    out = []
    if data_dir is not None:
        out.append(("--data-dir", Path(data_dir).expanduser()))
    env = os.environ.get(ENV_VAR)
    if env:
        out.append((f"${ENV_VAR}", Path(env).expanduser()))
    out += [("user cache", cache_dir()), ("Debian package dataset-fashion-mnist", DEBIAN_DIR)]
    return out


def locate(data_dir: Path | None = None) -> DataLocation:
    """The first folder holding all four files. An explicit --data-dir or $FASHIONNET_DATA must hold
    them; we do not silently fall back to other data than the user pointed at."""
    searched = candidates(data_dir)
    for how, folder in searched:
        if _complete(folder):
            return DataLocation(folder, how, searched)
        if how.startswith(("--", "$")):
            problem = input_file_problem(folder, "folder")  # names a FIFO or a device as what it is
            if folder.is_file():
                raise DataError(f"{folder}: is a file, not a folder (given by {how})")
            if not folder.is_dir():
                what = problem if problem and not problem.startswith("no such") else "no such folder"
                raise DataError(f"{folder}: {what} (given by {how})")
            for stem in (stem for pair in FILES.values() for stem in pair):  # a FIFO in a file's place says so
                for name in (stem + ".gz", stem):
                    odd = os.path.lexists(folder / name) and input_file_problem(folder / name, "FashionMNIST file")
                    if odd:
                        raise DataError(f"{folder / name}: {odd}")
            missing = [stem for pair in FILES.values() for stem in pair if not _file_in(folder, stem)]
            raise DataError(f"{folder}: FashionMNIST is incomplete (missing {', '.join(missing)}); {HOW_TO_GET}")
    return DataLocation(None, "not found", searched)


def require(data_dir: Path | None = None) -> Path:
    location = locate(data_dir)
    if location.folder is None:
        looked = "; ".join(str(p) for _, p in location.searched)
        raise DataError(f"FashionMNIST not found (looked in {looked}); {HOW_TO_GET}")
    return location.folder


# The most data one IDX file may declare: 1,000,000 images of 28x28 (FashionMNIST's largest file holds
# 60,000). A header is checked against this, and against the file's real size, before anything is read.
MAX_IDX_BYTES = 1_000_000 * 28 * 28


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _read_into(f, buffer: bytearray) -> int:
    """Fill `buffer` from `f`; returns how many bytes there were (fewer than asked: the file ended)."""
    view, got = memoryview(buffer), 0
    while got < len(buffer):
        n = f.readinto(view[got : got + (16 << 20)])
        if not n:
            break
        got += n
    return got


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Parse an IDX file of unsigned bytes (images: magic 2051, 3 dims; labels: 2049, 1 dim).

    The header is checked first, then the data is read into one buffer of exactly the size the header
    declares, plus one byte to find excess: a lying header (a sparse 20 GB file, a gzip bomb) costs no
    more memory or time than an honest one.
    """
    ndim = 3 if magic == IMAGE_MAGIC else 1
    kind = "image" if ndim == 3 else "label"
    header_size = 4 + 4 * ndim
    try:
        with _open(path) as f:
            header = f.read(header_size)
            if len(header) < header_size:
                raise DataError(f"{path}: truncated IDX file ({len(header)} bytes, header needs {header_size})")
            found = int.from_bytes(header[:4], "big")
            if found != magic:
                raise DataError(f"{path}: not an IDX {kind} file (magic {found}, expected {magic})")
            dims = [int.from_bytes(header[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
            needed = math.prod(dims)  # Python ints: a header of 4-billion dimensions must not overflow int64
            shape = " x ".join(f"{d:,}" for d in dims)
            if needed > MAX_IDX_BYTES:
                raise DataError(
                    f"{path}: header declares {shape} {kind}s ({needed:,} bytes), more than fashionnet "
                    f"reads from one file ({MAX_IDX_BYTES:,} bytes)"
                )
            if not isinstance(f, gzip.GzipFile):  # a plain file's size is known before reading it
                size = os.fstat(f.fileno()).st_size - header_size
                if size != needed:
                    raise DataError(
                        f"{path}: truncated or padded IDX file ({size:,} bytes of data, header says {needed:,})"
                    )
            buffer = bytearray(needed)
            got = _read_into(f, buffer)
            if got < needed:
                raise DataError(f"{path}: truncated IDX file ({got:,} bytes of data, header says {needed:,})")
            if f.read(1):
                raise DataError(f"{path}: padded IDX file (more data than the {needed:,} bytes its header says)")
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{path}: corrupt or truncated gzip file ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return np.frombuffer(buffer, dtype=np.uint8).reshape(dims)  # a bytearray: writable, no copy needed


def split_problems(name: str, image_path: Path, images: np.ndarray, label_path: Path, labels: np.ndarray) -> list[str]:
    """What makes a split unusable for training or testing; the one check `data`, `evaluate` and `train`
    share, so `data` never calls complete what the others refuse."""
    problems = []
    if images.shape[1:] != (28, 28):
        problems.append(f"{image_path}: images are {images.shape[1]}x{images.shape[2]}, expected 28x28")
    if len(images) != len(labels):
        problems.append(f"{label_path}: {len(labels):,} labels for {len(images):,} images in {image_path.name}")
    if labels.size and labels.max() > 9:
        problems.append(f"{label_path}: label {int(labels.max())} is out of range 0-9")
    if len(images) == 0 or len(labels) == 0:
        problems.append(f"{image_path}: the {name} split holds no images")
    return problems


def official_problem(name: str, counts: list[int]) -> str | None:
    """How a split's per-class counts differ from the official FashionMNIST split, or None."""
    if sum(counts) != EXPECTED[name]:
        return f"{name}: {sum(counts):,} samples, the official split has {EXPECTED[name]:,}"
    if len(set(counts)) != 1:
        return f"{name}: classes are not balanced ({counts})"
    return None


def load_split(name: str, data_dir: Path | None = None, limit: int | None = None, official: bool = False) -> Split:
    """Load 'train' or 'test' as torch tensors; `limit` keeps the first N samples (for smoke runs).

    official=True also refuses a split that `data` calls incomplete (fewer images than FashionMNIST's, or
    unbalanced classes): `evaluate` and `train` score on the test split, and a score on part of it (say
    "100.00% (1 of 1)") would not be comparable with any other.
    """
    import torch

    folder = require(data_dir)
    image_stem, label_stem = FILES[name]
    image_path, label_path = _found_in(folder, image_stem), _found_in(folder, label_stem)
    images = read_idx(image_path, IMAGE_MAGIC)
    labels = read_idx(label_path, LABEL_MAGIC)
    problems = split_problems(name, image_path, images, label_path, labels)
    if problems:
        raise DataError(problems[0])
    if official:
        problem = official_problem(name, np.bincount(labels, minlength=10).tolist())
        if problem:
            raise DataError(f"{folder}: FashionMNIST is incomplete ({problem}); see 'fashionnet data'")
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return Split(name, torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64)))


def download(root: Path | None = None) -> Path:
    """Fetch the official files with torchvision into the user cache (needs internet)."""
    root = Path(root) if root else cache_dir().parent
    try:
        from torchvision.datasets import FashionMNIST

        for train in (True, False):
            FashionMNIST(root=str(root), train=train, download=True)
    except Exception as exc:  # network errors come in many types; the user needs one line
        raise DataError(f"download into {root} failed ({type(exc).__name__}: {exc}); {HOW_TO_GET}") from None
    return root / "FashionMNIST"


@dataclass
class DataReport:
    folder: Path | None
    how: str
    searched: list[tuple[str, Path]]
    files: dict[str, str]  # stem -> path
    counts: dict[str, list[int]]  # split -> per-class counts
    problems: list[str]

    @property
    def complete(self) -> bool:
        return self.folder is not None and not self.problems

    def to_dict(self) -> dict:
        return {
            "folder": str(self.folder) if self.folder else None,
            "found_by": self.how,
            "searched": [{"where": how, "path": str(p)} for how, p in self.searched],
            "files": self.files,
            "counts": {k: {"total": sum(v), "per_class": v} for k, v in self.counts.items()},
            "complete": self.complete,
            "problems": self.problems,
        }


def inspect_data(data_dir: Path | None = None) -> DataReport:
    """Where the data is, how many samples per split and class, and whether that matches the official set."""
    location = locate(data_dir)
    report = DataReport(location.folder, location.how, location.searched, {}, {}, [])
    if location.folder is None:
        report.problems.append("FashionMNIST not found")
        return report
    for split, (image_stem, label_stem) in FILES.items():
        image_path, label_path = _found_in(location.folder, image_stem), _found_in(location.folder, label_stem)
        report.files[image_stem], report.files[label_stem] = str(image_path), str(label_path)
        labels = read_idx(label_path, LABEL_MAGIC)
        images = read_idx(image_path, IMAGE_MAGIC)
        counts = np.bincount(labels[labels <= 9], minlength=10).tolist()
        report.counts[split] = counts
        problems: list[str | None] = [*split_problems(split, image_path, images, label_path, labels)]
        report.problems += [p for p in problems or [official_problem(split, counts)] if p]
    return report
