"""Inputs -> predictions: collect paths, decode them in worker processes, classify in batches.

The CLI's order matters for speed: `collect_inputs()`, then `start_decoding()` (forks decoder processes
while the parent is still small and torch-free), then `import torch` and load the model (~2 s that the
decoders overlap), then `predict_decoded()`. torch is only imported inside the functions that need it.
"""

from __future__ import annotations

import fnmatch
import multiprocessing
import os
import signal
import stat
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from fashionnet import CLASSES
from fashionnet.calibration import DEFAULT_THRESHOLD
from fashionnet.files import input_reason, kind_of
from fashionnet.images import IMAGE_SUFFIXES, SIZE, BadImage, View, load_view
from fashionnet.streams import raise_if_interrupted

if TYPE_CHECKING:
    import torch

STDIN = "-"
BATCH_SIZE = 512
# CPU inference runs on one torch thread: the decoder processes hold the other cores, and this small MLP
# gains little from more. Measured on 2 busy cores: 2 threads made 512-image batches 9x slower (spinning
# OpenMP threads fighting the decoders); 1 thread classifies 10,000 images in ~0.3 s. None = torch's default.
CPU_THREADS = 1
MAX_WORKERS = 4
PARALLEL_MIN_FILES = 256  # fewer small files decode inline faster than a pool starts...
# ...unless they add up to this much, e.g. two phone photos of 400 px: each costs ~40 ms of GrabCut, which
# then runs in the workers while torch is imported instead of after it (100 photos: 6.5 s -> 4.5 s).
PARALLEL_MIN_BYTES = 64 << 10
PHOTO_BYTES = 16 << 10  # files this big on average are photos: chunks of a few, not of 256
DECODE_MEMORY = 2 * 10**9  # image memory all decoders together may hold (MemoryBudget)
SMALL_DECODE = 32 << 20  # decodes below this are not counted against it
BUDGET_POLL = 0.02  # seconds between a waiting decoder's looks at the budget (a big decode takes far longer)
BUDGET_CHECK = 0.25  # seconds between its checks that the workers holding the budget died
STDIN_LIMIT = 64 << 20  # the most `predict -` reads for its one image (64 MiB, in docs/input-rules.md)


@dataclass(frozen=True)
class Input:
    """One thing to classify: a file path, stdin's bytes (path '-'), or a problem found while collecting."""

    path: str
    data: bytes | None = field(default=None, repr=False)
    error: str | None = None


@dataclass
class Prediction:
    """The result for one input: label/index/probability/top (best first) and the 28x28 image, or error."""

    path: str
    label: str | None = None
    index: int | None = None
    probability: float | None = None
    top: list[tuple[str, int, float]] = field(default_factory=list)  # (label, index, probability)
    image: np.ndarray | None = field(default=None, repr=False)  # (28, 28) uint8, what the model saw
    error: str | None = None
    sure: bool | None = None  # False: out of what the model knows, or no garment found ("not sure")
    score: float | None = None  # the out-of-distribution score (calibrated top probability); higher = surer
    found: bool | None = None  # whether a garment/object was found (False: classified from the whole frame)
    mask: np.ndarray | None = field(default=None, repr=False)  # a photo's garment mask, for --show

    @property
    def ok(self) -> bool:
        return self.error is None


# ---------------------------------------------------------------------------------------------- collecting


def _has_magic(arg: str) -> bool:
    return any(c in arg for c in "*?[")


def _is_image_name(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES)


def _stat(path: str) -> tuple[os.stat_result | None, str | None]:
    """os.stat (symbolic links followed) or the reason it failed, in words that name the real cause."""
    try:
        return os.stat(path), None
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) and os.path.islink(path):
            return None, "broken symbolic link (what it points to does not exist)"
        return None, input_reason(exc)


class _Collector:
    """One rule for every way a path arrives (named, inside a folder, matched by a glob): symbolic links
    are followed, each folder is listed once (so a link loop ends), each file is classified once, and
    only regular files are ever opened; a FIFO, device or socket is named instead of read."""

    def __init__(self, recursive: bool):
        self.recursive = recursive
        self.out: list[Input] = []
        self._files: set[tuple[int, int]] = set()
        self._dirs: set[tuple[int, int]] = set()

    def add(self, path: str, st: os.stat_result) -> None:
        if stat.S_ISDIR(st.st_mode):
            self.add_dir(path, st, top=True)
        else:
            key = (st.st_dev, st.st_ino)
            if key in self._files:  # the same file by a second name (a link, a glob through a loop)
                return
            self._files.add(key)
            if stat.S_ISREG(st.st_mode):
                self.out.append(Input(path))
            else:  # a FIFO, device or socket: named once, never opened
                self.out.append(Input(path, error=f"is {kind_of(st.st_mode)}, not a regular file; not reading it"))

    def add_dir(self, path: str, st: os.stat_result, top: bool) -> bool:
        """Add a folder's images (sub-folders with `recursive`); True when anything was added."""
        key = (st.st_dev, st.st_ino)
        if key in self._dirs:
            return False
        self._dirs.add(key)
        before = len(self.out)
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            self.out.append(Input(path, error=f"cannot list folder ({input_reason(exc)})"))
            return True
        subdirs = False
        for entry in entries:
            if entry.name.startswith("."):
                continue
            child = os.path.join(path, entry.name)
            child_stat, why = _stat(child)
            if child_stat is None:  # a loop, a broken link, a path too long: its own line, the rest goes on
                if _is_image_name(entry.name) or (self.recursive and (entry.is_symlink() or _is_folder(entry))):
                    self.out.append(Input(child, error=why))
                continue
            if stat.S_ISDIR(child_stat.st_mode):
                subdirs = True
                if self.recursive:
                    self.add_dir(child, child_stat, top=False)
            elif _is_image_name(entry.name):
                self.add(child, child_stat)
        if len(self.out) > before or not top:
            return len(self.out) > before
        if not entries:
            self.out.append(Input(path, error="directory is empty"))
        elif subdirs and not self.recursive:
            self.out.append(Input(path, error="no images in directory (it has subdirectories: add --recursive)"))
        else:
            kinds = ", ".join(s.lstrip(".") for s in IMAGE_SUFFIXES)
            self.out.append(Input(path, error=f"no images in directory (looked for {kinds})"))
        return False


def _is_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)  # from the listing itself: no stat of a too-long path
    except OSError:
        return False


def expand_pattern(pattern: str) -> tuple[list[str], list[Input]]:
    """The paths a quoted shell pattern matches (`*`, `?`, `[...]`, and `**` for any depth of folders), as
    glob.glob(recursive=True) finds them, sorted; plus the folders it could not look into.

    Unlike glob, each folder is listed at most once, whatever names lead to it: symbolic links that loop
    (two `..` links inside a tree made glob run for minutes and name one FIFO dozens of times) cost one
    listing each. Names starting with '.' match only a pattern part that starts with '.', as in glob."""
    absolute = pattern.startswith(os.sep)
    parts = [part for part in pattern.split(os.sep) if part]
    listings: dict[tuple[int, int], list[os.DirEntry]] = {}
    problems: list[Input] = []

    def listing(folder: str) -> list[os.DirEntry]:
        try:
            st = os.stat(folder or ".")
        except OSError:
            return []
        key = (st.st_dev, st.st_ino)
        if key not in listings:
            try:
                with os.scandir(folder or ".") as it:
                    listings[key] = sorted(it, key=lambda e: e.name)
            except OSError:
                listings[key] = []
        return listings[key]

    def join(folder: str, name: str) -> str:
        return os.path.join(folder, name) if folder else name

    def below(top: str, seen: set) -> list[str]:
        """`top` and every folder under it (links followed), each physical folder once, in sorted order."""
        out, stack = [], [top]
        while stack:
            folder = stack.pop()
            try:
                st = os.stat(folder or ".")
            except OSError as exc:
                if folder:
                    problems.append(Input(folder, error=input_reason(exc)))
                continue
            if (st.st_dev, st.st_ino) in seen or not stat.S_ISDIR(st.st_mode):
                continue
            seen.add((st.st_dev, st.st_ino))
            out.append(folder)
            stack += [join(folder, e.name) for e in reversed(listing(folder))
                      if not e.name.startswith(".") and (e.is_symlink() or _is_folder(e))]
        return out

    current = [os.sep if absolute else ""]
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        found: list[str] = []
        if part == "**":
            seen: set = set()
            for folder in current:
                found += below(folder, seen)
            if last:  # `DIR/**` matches the files inside too, as glob's does
                found += [join(f, e.name) for f in list(found) for e in listing(f)
                          if not e.name.startswith(".") and not _is_folder(e) and not e.is_symlink()]
        elif _has_magic(part):
            for folder in current:
                found += [join(folder, e.name) for e in listing(folder) if fnmatch.fnmatchcase(e.name, part)
                          and (part.startswith(".") or not e.name.startswith("."))]
        else:
            found = [join(folder, part) for folder in current if os.path.lexists(join(folder, part))]
        if not last:  # a folder reached by two names is walked once
            unique, keys = [], set()
            for path in found:
                try:
                    st = os.stat(path or ".")
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode) and (st.st_dev, st.st_ino) not in keys:
                    keys.add((st.st_dev, st.st_ino))
                    unique.append(path)
            found = unique
        current = found
    return sorted(set(p for p in current if p)), problems


def read_stdin(stream: BinaryIO | None) -> Input:
    """One image from stdin, at most STDIN_LIMIT bytes of it (a pipe from /dev/zero must not fill memory)."""
    if stream is None:  # `<&-`: there is no standard input at all
        return Input(STDIN, error="stdin is closed: pipe an image in (e.g. `< shirt.png`)")
    if stream.isatty():
        return Input(STDIN, error="stdin is a terminal: pipe an image in (e.g. `< shirt.png`)")
    try:
        data = stream.read(STDIN_LIMIT + 1)
    except MemoryError:
        return Input(STDIN, error="not enough memory to read the image on stdin")
    except OSError as exc:
        return Input(STDIN, error=f"cannot read stdin ({exc.strerror or exc})")
    if len(data) > STDIN_LIMIT:
        return Input(STDIN, error=f"more than {STDIN_LIMIT >> 20} MiB on stdin; one image on stdin may be at most "
                     f"{STDIN_LIMIT >> 20} MiB (give larger files by name)")
    return Input(STDIN, data=data)


def collect_inputs(args: Sequence[str], recursive: bool = False, stdin: BinaryIO | None = None) -> list[Input]:
    """Expand files, directories (sorted; subfolders with `recursive`), globs and '-' into Inputs, in order.

    Problems (missing path, empty directory, glob without matches, a FIFO, stdin a terminal) become
    Inputs with an `error`, so one bad argument or folder entry never stops the others. stdin is read only
    when '-' is given.
    """
    collector = _Collector(recursive)
    out = collector.out
    stdin_used = False
    for arg in args:
        if arg == STDIN:
            if stdin_used:
                out.append(Input(STDIN, error="stdin was already read (give '-' only once)"))
                continue
            stdin_used = True
            out.append(read_stdin(stdin if stdin is not None else getattr(sys.stdin, "buffer", None)))
            continue
        path = os.path.expanduser(arg)
        st, why = _stat(path)
        if st is not None:
            collector.add(path, st)
        elif _has_magic(path) and not os.path.lexists(path):  # a pattern the shell left alone (quoted)
            matches, problems = expand_pattern(path)
            out.extend(problems)
            if not matches and not problems:
                out.append(Input(arg, error="no files match this pattern"))
            for match in matches:
                match_stat, match_why = _stat(match)
                if match_stat is None:
                    out.append(Input(match, error=match_why))
                else:
                    collector.add(match, match_stat)
        else:
            out.append(Input(arg if why == "no such file or directory" else path, error=why))
    return out


# ------------------------------------------------------------------------------------------------ decoding

Decoded = tuple[Input, "View | None", "str | None"]  # (input, what the model sees, error)


def decode_one(item: Input, invert: bool | None = None, budget: MemoryBudget | None = None) -> Decoded:
    """Decode one Input in this process; a problem becomes the error string, never an exception."""
    if item.error is not None:
        return item, None, item.error
    try:
        return item, load_view(item.path, invert, item.data, budget), None
    except BadImage as exc:
        return item, None, exc.reason


Chunk = tuple[np.ndarray, list["str | None"], list]


def _decode_paths(paths: list[str], invert: bool | None, budget: MemoryBudget | None) -> Chunk:
    """One chunk of files -> one stacked (n, 28, 28) uint8 array (cheap to pickle), each file's error,
    and each view's (found, mask, variants): masks and variants exist only for photos."""
    images = np.zeros((len(paths), SIZE, SIZE), dtype=np.uint8)
    errors: list[str | None] = []
    extras: list = []
    for i, path in enumerate(paths):
        _, view, error = decode_one(Input(path), invert, budget)
        if view is not None:
            images[i] = view.image
        errors.append(error)
        extras.append((view.found, view.mask, view.variants) if view is not None else (False, None, None))
    return images, errors, extras


_worker_budget: MemoryBudget | None = None  # in a decoder process: the budget the pool shares...
_worker_claims = None  # ...and one flag per chunk: set by whichever process decodes it (see Decoding)


def _claim(claims, job: int) -> bool:
    """True for the first process to ask for chunk `job` (a worker, or predict's own process)."""
    with claims.get_lock():
        if claims[job]:
            return False
        claims[job] = 1
        return True


def _decode_chunk(job: tuple[int, list[str], bool | None]) -> Chunk | None:
    """What a decoder process runs for each chunk: None when predict's own process has taken it."""
    number, paths, invert = job
    if not _claim(_worker_claims, number):
        return None
    return _decode_paths(paths, invert, _worker_budget)


class MemoryBudget:
    """Image memory shared by all of predict's decoders (worker processes and this one): an image whose
    decode needs `nbytes` waits until the others' images leave room for it, so four huge PNGs decode one
    or two at a time instead of all at once. One image alone always runs (load_view has already refused
    any that needs more than IMAGE_MEMORY_LIMIT); decodes under SMALL_DECODE are not counted, so a
    folder of small files never takes the lock, and the total stays under `total` + one SMALL_DECODE
    per decoder.

    A shared count under a lock, and waiters that look again every BUDGET_POLL seconds: no notify, so
    a decoder killed at any moment (the pool kills them all when one is OOM-killed) cannot leave the
    others blocked, as a multiprocessing Condition's waiter killed in wait() does to the next notify."""

    def __init__(self, total: int, context=multiprocessing):
        self.total = total
        self._used = context.Value("q", 0, lock=False)
        self._lock = context.Lock()  # held only to read and change _used
        # In predict's own process: a check that the workers died (their memory is then free, though
        # never given back here), so this process does not wait for them forever.
        self.holders_gone: Callable[[], bool] | None = None

    def __getstate__(self) -> dict:  # what a spawned worker gets: the shared parts
        return {**self.__dict__, "holders_gone": None}

    @contextmanager
    def reserve(self, nbytes: int) -> Iterator[None]:
        if nbytes < SMALL_DECODE:
            yield
            return
        check = time.monotonic() + BUDGET_CHECK
        while not self._add(nbytes):
            if time.monotonic() >= check:
                if self.holders_gone is not None and self.holders_gone():
                    self._add(nbytes, force=True)
                    break
                check = time.monotonic() + BUDGET_CHECK
            time.sleep(BUDGET_POLL)
        try:
            yield
        finally:
            self._add(-nbytes, force=True)

    def _add(self, nbytes: int, force: bool = False) -> bool:
        """Add `nbytes` to the count if they fit or nothing else is counted (always with `force`)."""
        locked = self._take_lock()
        try:
            used = self._used.value
            if not force and locked and used and used + nbytes > self.total:
                return False
            self._used.value = used + nbytes
            return True
        finally:
            if locked:
                self._lock.release()

    def _take_lock(self) -> bool:
        """False when a decoder was killed holding the lock: the workers are then all gone, and this
        process, the only one left, counts without it. A worker keeps trying until the pool kills it."""
        while not self._lock.acquire(timeout=BUDGET_CHECK):
            if self.holders_gone is not None and self.holders_gone():
                return False
        return True

    @property
    def used(self) -> int:
        return self._used.value


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this worker when its parent dies (SIGTERM, SIGKILL, a crash), so decoder
    processes are never left behind; elsewhere the pool's pipes closing ends them."""
    if sys.platform != "linux":
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _init_worker(parent: int, budget: MemoryBudget, claims) -> None:
    global _worker_budget, _worker_claims
    _die_with_parent(parent)
    # Ctrl-C reaches the whole process group: only the parent should react (exit 130, no worker tracebacks).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_budget, _worker_claims = budget, claims


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel what no worker has started and kill the workers now: interrupted, predict must not wait for
    them to finish their chunks (Ctrl-C on 3,000 photos: 51 s)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # 3.11 has no kill_workers()
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        try:
            process.kill()
        except (OSError, ValueError, AttributeError):  # already gone or closed
            pass


class Decoding:
    """Decoded inputs in input order. Iterate once; close() (or a with-block) stops the worker processes.

    Files are decoded in chunks by `workers - 1` processes, started before torch is imported; once the
    model is loaded this process iterates, and while the next chunk is still in a worker it decodes the
    last chunks no worker has started, so every core works until the end. Who decodes a chunk is settled
    by a shared flag per chunk, not by cancelling futures (Python 3.11's pool then fails on a dead worker)."""

    def __init__(self, items: Sequence[Input], invert: bool | None = None, workers: int | None = None):
        self.items = list(items)
        self.invert = invert
        self.budget: MemoryBudget | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._jobs: list[list[int]] = []  # item indices of each chunk
        self._futures: list[Future] = []
        self._done: dict[int, Chunk] = {}  # chunks this process decoded ahead of their turn
        self._claims = None
        self.decoded_here = 0  # chunks this process decoded itself (the rest came from workers)
        self._back = 0  # chunks from here on may still be taken from the back of the queue
        files = [i for i, item in enumerate(self.items) if item.error is None and item.data is None]
        workers = min(MAX_WORKERS, _cpu_count()) if workers is None else workers
        if workers > 1 and files and self._worth_a_pool(files):
            size = max(1, min(self._chunk_limit(files), len(files) // (workers * 16)))
            self._jobs = [files[s : s + size] for s in range(0, len(files), size)]
            self._back = len(self._jobs) - 1
            # fork while torch is not loaded: instant, and the children inherit Pillow already imported.
            # Once torch (and its thread pools) is in this process, start clean interpreters instead.
            method = "fork" if sys.platform == "linux" and "torch" not in sys.modules else "spawn"
            context = multiprocessing.get_context(method)
            self.budget = MemoryBudget(DECODE_MEMORY, context)
            self._claims = context.Array("b", len(self._jobs))
            # ProcessPoolExecutor, not multiprocessing.Pool: a worker that dies (OOM-killed on a huge
            # image) raises BrokenProcessPool instead of leaving the parent waiting forever.
            self._pool = ProcessPoolExecutor(
                min(workers - 1, len(self._jobs)), context, initializer=_init_worker,
                initargs=(os.getpid(), self.budget, self._claims),
            )
            try:
                self._futures = [self._pool.submit(_decode_chunk, (j, self._paths(j), invert))
                                 for j in range(len(self._jobs))]
                self.budget.holders_gone = self._broken
            except BaseException:  # a failed fork, Ctrl-C: no caller gets a pool to close, so stop it here
                pool, self._pool = self._pool, None
                _stop_workers(pool)
                raise

    def _worth_a_pool(self, files: list[int]) -> bool:
        if len(files) >= PARALLEL_MIN_FILES:
            return True
        total = 0
        for i in files:
            try:
                total += os.path.getsize(self.items[i].path)
            except OSError:
                pass
            if total >= PARALLEL_MIN_BYTES:  # with the lower limit, a couple of photos decide it
                return True
        return False

    def _chunk_limit(self, files: list[int]) -> int:
        """Files per chunk: up to 256 small ones, but few photos (each a GrabCut), so no process is left
        with a long chunk at the end. Judged by a few files' sizes spread over the list."""
        sample = files[:: max(1, len(files) // 8)][:8]
        sizes = []
        for i in sample:
            try:
                sizes.append(os.path.getsize(self.items[i].path))
            except OSError:
                pass
        return 256 if not sizes or sum(sizes) / len(sizes) < PHOTO_BYTES else 4

    def _paths(self, job: int) -> list[str]:
        return [self.items[i].path for i in self._jobs[job]]

    def _here(self, job: int) -> Chunk:
        self.decoded_here += 1
        return _decode_paths(self._paths(job), self.invert, self.budget if self._pool is not None else None)

    def _broken(self) -> bool:
        """A worker died (the pool then fails every unfinished chunk)."""
        return any(f.done() and not f.cancelled() and f.exception() is not None for f in self._futures)

    def _chunk(self, job: int) -> Chunk:
        """Chunk `job`'s results, decoding in this process whatever no worker has started."""
        while True:
            if job in self._done:
                return self._done.pop(job)
            future = self._futures[job]
            if future.done() and not future.cancelled() and future.exception() is None and future.result():
                return future.result()
            if self._pool is None or _claim(self._claims, job):  # no worker has it (or the pool broke)
                return self._here(job)
            if self._back <= job:
                return future.result()  # waits; a dead worker raises BrokenProcessPool
            back, self._back = self._back, self._back - 1
            if _claim(self._claims, back):  # busy workers: take the last chunk none of them has started
                self._done[back] = self._here(back)

    def __iter__(self) -> Iterator[Decoded]:
        where = {i: (job, pos) for job, indices in enumerate(self._jobs) for pos, i in enumerate(indices)}
        images, errors, extras = np.empty((0, SIZE, SIZE), np.uint8), [], []
        try:
            for index, item in enumerate(self.items):
                raise_if_interrupted()
                if index not in where:  # no pool, stdin's bytes, or a problem found while collecting
                    yield decode_one(item, self.invert, self.budget if self._pool is not None else None)
                    continue
                job, pos = where[index]
                if pos == 0:
                    try:
                        images, errors, extras = self._chunk(job)
                    except BrokenProcessPool:  # a worker died (OOM-killed): the rest is decoded here
                        self.close()
                        images, errors, extras = self._chunk(job)
                image, error, (found, mask, variants) = images[pos], errors[pos], extras[pos]
                yield item, (None if error is not None else View(image, found, mask, variants)), error
        finally:
            self.close()

    def close(self) -> None:
        """Stop the workers: at once, killing them, when chunks are still unfinished (Ctrl-C, an error)."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            if all(f.done() for f in self._futures):
                pool.shutdown(wait=False)
            else:
                _stop_workers(pool)

    def __enter__(self) -> Decoding:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def start_decoding(items: Sequence[Input], invert: bool | None = None, workers: int | None = None) -> Decoding:
    """Start decoding now (worker processes for many or large files); call before importing torch."""
    return Decoding(items, invert, workers)


# ------------------------------------------------------------------------------------------------ inference


def classify(
    images: np.ndarray,
    model: torch.nn.Module,
    device: torch.device,
    top_k: int = 3,
    cpu_threads: int | None = None,
    temperature: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) uint8 -> (probabilities, indices), each (N, k) numpy, best first."""
    probs, indices, _ = classify_scored(images, model, device, top_k, cpu_threads, temperature)
    return probs, indices


def average_drawings(logits: torch.Tensor, members: np.ndarray) -> torch.Tensor:
    """(N, K) logits of N drawings, (N,) which answer each belongs to -> (M, K): each answer's logits
    averaged over its drawings (a photo's mask and its eroded and dilated variants). Training fits the
    temperature on photos through this same averaging."""
    import torch

    index = torch.from_numpy(np.asarray(members, dtype=np.int64))
    count = torch.bincount(index).clamp(min=1).to(logits.dtype)
    return torch.zeros(len(count), logits.shape[1], dtype=logits.dtype).index_add_(0, index, logits) / count[:, None]


def classify_scored(
    images: np.ndarray,
    model: torch.nn.Module,
    device: torch.device,
    top_k: int = 3,
    cpu_threads: int | None = None,
    temperature: float = 1.0,
    members: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, 28, 28) uint8 -> (probabilities, indices, sureness scores): (M, k), (M, k), (M,) numpy.

    The tensor is built exactly as ToTensor builds it (uint8 / 255 in float32), so a FashionMNIST image
    gets the same input here as in `evaluate`. Probabilities are softmax(logits / temperature), the
    checkpoint's calibration. `members` (N,) says which answer each image belongs to (several drawings
    of one photo): their logits are averaged. None: one image per answer (M = N), logits untouched.
    `cpu_threads` caps torch's threads for this call on the CPU.
    """
    import torch

    from fashionnet.calibration import sureness
    from fashionnet.evaluate import predict_logits

    k = max(1, min(top_k, len(CLASSES)))
    saved = torch.get_num_threads()
    if cpu_threads and device.type == "cpu":
        torch.set_num_threads(cpu_threads)
    try:
        # The same batched inference `evaluate` runs, over this one batch; logits come back on the CPU.
        logits = predict_logits(model, torch.from_numpy(images), device, batch_size=max(1, len(images)))
        if members is not None:
            logits = average_drawings(logits, members)
        top_p, top_i = (logits / temperature).softmax(dim=1).topk(k, dim=1)  # (N, k)
        return top_p.numpy(), top_i.numpy(), sureness(logits, temperature).numpy()
    finally:
        torch.set_num_threads(saved)


def _flush(pending: list[Decoded], model, device, top_k: int, cpu_threads: int | None,
           temperature: float, threshold: float) -> Iterator[Prediction]:
    good: list[np.ndarray] = []  # each view's image and its variants (a photo's other drawings)...
    members: list[int] = []  # ...and which answer each belongs to
    answers = 0
    for _, view, error in pending:
        if error is None:
            # A found photo's own drawing and those of its eroded and dilated masks: averaging their logits
            # steadies the answer. (Training saw only each photo's own drawing: the shipped ones hold no variants.)
            drawings = view.drawings()
            good += list(drawings)
            members += [answers] * len(drawings)
            answers += 1
    if good:
        grouped = np.array(members) if len(good) > answers else None  # None: no averaging, logits exact
        probs, indices, scores = classify_scored(np.stack(good), model, device, top_k, cpu_threads, temperature, grouped)
        # Python numbers once per batch, not numpy scalars per row (10,000 PNGs: 0.1 s less)
        finite = np.isfinite(probs).all(axis=1).tolist()
        probs, indices, scores = probs.tolist(), indices.tolist(), scores.tolist()
    row = 0
    for item, view, error in pending:
        if error is not None:
            yield Prediction(path=item.path, error=error)
            continue
        row_probs, row_indices, score = probs[row], indices[row], scores[row]
        row += 1
        if not finite[row - 1]:  # finite weights can still overflow to inf logits
            yield Prediction(path=item.path, error="the model's output is not a number (its weights overflow)")
            continue
        top = [(CLASSES[c], c, q) for q, c in zip(row_probs, row_indices)]
        label, index, probability = top[0]
        sure = view.found and score >= threshold
        yield Prediction(item.path, label, index, probability, top, view.image, sure=sure, score=score,
                         found=view.found, mask=view.mask)


def predict_decoded(
    decoded: Iterable[Decoded],
    model,
    device,
    top_k: int = 3,
    batch_size: int = BATCH_SIZE,
    cpu_threads: int | None = CPU_THREADS,
    temperature: float = 1.0,
    threshold: float = DEFAULT_THRESHOLD,
) -> Iterator[Prediction]:
    """Classify decoded inputs in batches; yields one Prediction per input, in input order.

    An answer is "sure" when a garment was found and its score reaches `threshold`."""
    pending: list[Decoded] = []
    ready = 0
    for entry in decoded:
        pending.append(entry)
        ready += entry[2] is None
        if ready >= batch_size:
            yield from _flush(pending, model, device, top_k, cpu_threads, temperature, threshold)
            pending, ready = [], 0
    yield from _flush(pending, model, device, top_k, cpu_threads, temperature, threshold)


def predict_paths(
    items: Iterable[Input | str],
    model,
    device,
    top_k: int = 3,
    batch_size: int = BATCH_SIZE,
    invert: bool | None = None,
    workers: int | None = None,
    cpu_threads: int | None = CPU_THREADS,
    temperature: float = 1.0,
    threshold: float = DEFAULT_THRESHOLD,
) -> Iterator[Prediction]:
    """All in one: decode (in parallel when worth it) and classify. Strings are taken as file paths."""
    inputs = [item if isinstance(item, Input) else Input(str(item)) for item in items]
    with start_decoding(inputs, invert, workers) as decoding:
        yield from predict_decoded(decoding, model, device, top_k, batch_size, cpu_threads, temperature, threshold)

