"""Decoding Inputs into what the model sees: in worker processes for many or large files, under one memory budget.

Start it (`start_decoding()`) before torch is imported: the decoder processes fork while the parent is
still small and torch-free, and decode while the model loads.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress

import numpy as np

from fashionnet.images import SIZE, BadImage, View, load_view
from fashionnet.inputs import Input
from fashionnet.streams import raise_if_interrupted

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
        with suppress(OSError, ValueError, AttributeError):  # already gone or closed
            process.kill()


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
                min(workers - 1, len(self._jobs)),
                context,
                initializer=_init_worker,
                initargs=(os.getpid(), self.budget, self._claims),
            )
            try:
                self._futures = [
                    self._pool.submit(_decode_chunk, (j, self._paths(j), invert)) for j in range(len(self._jobs))
                ]
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
            with suppress(OSError):
                total += os.path.getsize(self.items[i].path)
            if total >= PARALLEL_MIN_BYTES:  # with the lower limit, a couple of photos decide it
                return True
        return False

    def _chunk_limit(self, files: list[int]) -> int:
        """Files per chunk: up to 256 small ones, but few photos (each a GrabCut), so no process is left
        with a long chunk at the end. Judged by a few files' sizes spread over the list."""
        sample = files[:: max(1, len(files) // 8)][:8]
        sizes = []
        for i in sample:
            with suppress(OSError):
                sizes.append(os.path.getsize(self.items[i].path))
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
        images = np.empty((0, SIZE, SIZE), np.uint8)
        errors: list[str | None] = []
        extras: list = []
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
