"""Writing output files whole or not at all, only ever in place of a regular file, and finding out early
when a file cannot be written."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from fashionnet.errors import FashionNetError, OutputError, UsageError

if TYPE_CHECKING:
    import numpy as np

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words ('a FIFO (named pipe)', 'a character device', ...)."""
    for test, words in _KINDS:
        if test(mode):
            return words
    return "not a regular file"


def input_reason(exc: OSError) -> str:
    """Why an input could not be opened, in words that name the real cause."""
    reasons = {
        errno.ENOENT: "no such file or directory",
        errno.ELOOP: "too many levels of symbolic links (a symlink loop?)",
        errno.ENAMETOOLONG: "file name too long for this system",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENOTDIR: "a part of the path is not a folder",
    }
    if exc.errno == errno.ENAMETOOLONG and exc.filename is not None:
        path = os.fsencode(exc.filename)
        longest = max((len(part) for part in path.split(b"/")), default=0)
        if longest <= 255 and len(path) >= 1024:  # every name fits: it is the whole path that does not
            return f"path too long for this system ({len(path):,} bytes; move it closer to /)"
    return reasons.get(exc.errno, exc.strerror or str(exc)) if exc.errno is not None else exc.strerror or str(exc)


def input_file_problem(path: Path, noun: str) -> str | None:
    """Why `path` cannot be read as a `noun` ('checkpoint file', 'ONNX file'): missing, unreadable, or not
    a regular file (a FIFO would block the reader, a device would be read forever). None when it can."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return f"no such {noun}" if isinstance(exc, FileNotFoundError) else input_reason(exc)
    if not stat.S_ISREG(mode):
        article = "an" if noun[:1].lower() in "aeiou" else "a"
        return f"is {kind_of(mode)}, not {article} {noun}"
    return None


class TooLarge(ValueError):
    """A file or header larger than what it may hold, refused before it is read."""


def read_bounded(path: Path, noun: str, limit: int) -> bytes:
    """The whole of a small file fashionnet reads (a benchmark baseline or record), its kind and size
    checked before a byte is read: a FIFO never blocks, a huge file is never loaded. Raises OSError for
    what the system refuses and TooLarge (a ValueError) for what it declares."""
    problem = input_file_problem(path, noun)
    if problem:
        raise TooLarge(problem)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise TooLarge(f"is {size:,} bytes, more than a {noun} holds (at most {limit:,})")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"grew past {limit:,} bytes while it was read")
    return data


NPY_HEADER_MAX = 64 * 1024  # numpy writes headers of a few hundred bytes; its own reader allows 10,000


def npy_header(stream) -> tuple[tuple, bool, np.dtype]:
    """(shape, fortran_order, dtype) of the .npy array at the start of `stream`, the header's declared
    length checked before it is read: a version 2 header may declare up to 4 GiB, which numpy's own
    reader would read whole before refusing it. Raises ValueError for a header that is not a .npy one."""
    import struct

    import numpy as np

    magic = stream.read(8)
    if len(magic) != 8 or magic[:6] != b"\x93NUMPY":
        raise ValueError("not a .npy array (no NUMPY magic)")
    major = magic[6]
    if major not in (1, 2, 3):
        raise ValueError(f"a .npy array in format version {major}.{magic[7]}")
    field = 2 if major == 1 else 4
    raw = stream.read(field)
    if len(raw) != field:
        raise ValueError("a .npy header cut short")
    length = struct.unpack("<H" if field == 2 else "<I", raw)[0]
    if length > NPY_HEADER_MAX:
        raise TooLarge(f"a .npy header declares {length:,} bytes (at most {NPY_HEADER_MAX:,})")
    text = stream.read(length)
    if len(text) != length:
        raise ValueError("a .npy header cut short")
    import ast

    try:
        header = ast.literal_eval(text.decode("utf-8" if major == 3 else "latin1"))
        dtype = np.lib.format.descr_to_dtype(header["descr"])
        shape, fortran = tuple(header["shape"]), bool(header["fortran_order"])
    except (SyntaxError, ValueError, TypeError, KeyError, MemoryError, RecursionError):
        raise ValueError("a .npy header that cannot be read") from None
    if not all(isinstance(side, int) for side in shape):
        raise ValueError("a .npy header with a shape that is not whole numbers")
    return shape, fortran, dtype


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _reason(exc: BaseException) -> str:
    """The system's words for a failed write; a full disk is named as such whatever library raised it
    (safetensors reports ENOSPC as 'IoError(Os { code: 28, ... })')."""
    if getattr(exc, "errno", None) == errno.ENOSPC or "No space left on device" in str(exc):
        return "no space left on device"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _refuse_non_regular(path: Path) -> None:
    """Only a regular file (or a symbolic link to one) is ever replaced: never a device, FIFO or socket."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(f"{path}: cannot write there ({_reason(exc)})") from None
    if stat.S_ISDIR(mode):
        raise OutputError(f"{path}: is a directory; give a file name")
    if not stat.S_ISREG(mode):
        raise OutputError(f"{path}: is {kind_of(mode)}, not a regular file; fashionnet only replaces regular files")


def _limit(folder: Path, name: str, default: int) -> int:
    try:
        return os.pathconf(folder, name)
    except (OSError, ValueError):
        return default


def check_writable(path: Path) -> None:
    """Fail before the long work, not after it: the name is not a folder or a device, it is not too long
    for the file system, and the nearest existing folder above it takes new files. Creates nothing:
    missing folders are made when the file is written."""
    path = Path(path)
    existing = Path(os.path.abspath(path)).parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    name_max = _limit(existing, "PC_NAME_MAX", 255)
    for part in path.parts:
        if len(os.fsencode(part)) > name_max:
            raise OutputError(
                f"{path}: file name too long ({len(os.fsencode(part))} bytes; this file system "
                f"allows {name_max}); choose a shorter name"
            )
    path_max = _limit(existing, "PC_PATH_MAX", 4096)
    if len(os.fsencode(os.path.abspath(path))) >= path_max:
        raise OutputError(f"{path}: path too long (over {path_max - 1} bytes); choose a shorter one")
    _refuse_non_regular(path)
    parent = Path(os.path.realpath(path)).parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{path}: cannot write there ({parent} is a file, not a folder)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot write there (no permission to write in {parent})")


def check_output(path: Path, force: bool, option: str = "--force") -> OutputClaim:
    """The overwrite rule every output follows: an existing file is replaced only with --force. Returns the
    claim to hand to atomic_write, so a file another process writes meanwhile is not replaced."""
    path = Path(path)
    check_writable(path)
    if os.path.lexists(path) and not force:
        raise UsageError(f"{path}: refusing to overwrite (it exists); pass {option}, or choose another name")
    return OutputClaim(path)


def _identity(path: Path) -> tuple | None:
    """Which file `path` names now (links followed), or None when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


class OutputClaim:
    """What an output file was when a run checked it. A save replaces only that, or the run's own last
    save: when two runs write one file (`train --out same.safetensors` twice), the second to save finds
    the first one's file there and stops instead of mixing the two."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.identity = _identity(self.path)


LOCK_NAME = ".fashionnet-save.lock"  # the lock file where the folder itself cannot be locked (no fcntl)


@contextlib.contextmanager
def _folder_lock(folder: Path):
    """An exclusive lock on the folder while a save checks its claim and renames: two runs of ours cannot
    both pass the check. POSIX: flock on the folder itself, which leaves no file behind. Without fcntl
    (Windows): filelock's lock file in the folder (LOCK_NAME; filelock removes it there on release).
    Where a folder cannot be locked (not opened, no locks on that file system) the check still runs."""
    try:
        import fcntl
    except ImportError:
        with _lock_file(folder / LOCK_NAME):
            yield
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def _lock_file(path: Path):
    from filelock import FileLock

    lock = FileLock(path)
    try:
        lock.acquire()
    except OSError:
        yield
        return
    try:
        yield
    finally:
        lock.release()


TEMP_NAME_MAX = 200  # bytes of the target's name kept in a temporary name (the rest is a short hash)


def _temp_stem(name: str) -> str:
    """The target's name as it appears in its temporary files: whole when short, else cut and hashed, so
    the temporary name fits the file system even when the target's name is 255 bytes long."""
    raw = os.fsencode(name)
    if len(raw) <= TEMP_NAME_MAX:
        return name
    cut = raw[: TEMP_NAME_MAX - 9].decode("utf-8", "ignore") or "out"
    return f"{cut}~{hashlib.sha1(raw).hexdigest()[:8]}"


def _temp_pattern(name: str) -> re.Pattern:
    return re.compile(rf"^\.{re.escape(_temp_stem(name))}\.(\d+)\.[A-Za-z0-9_]+\.tmp$")


def remove_stale_temps(folder: Path, name: str) -> None:
    """Delete `.NAME.PID.*.tmp` files that a killed run of ours left behind (SIGKILL, power loss): their
    process is gone. Files of a run still going on are left alone."""
    pattern = _temp_pattern(name)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        match = pattern.match(entry.name)
        if not match or not entry.is_file(follow_symlinks=False):
            continue
        pid = int(match.group(1))
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            continue  # still running (or not ours to signal): keep its file
        except ProcessLookupError:
            pass
        except OSError:
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)


def _keep_mode_and_owner(tmp: str, target: Path) -> None:
    """The new file gets the old one's permissions and, where the system lets us, its owner and group
    (--force replacing a 0600 file must not make it world-readable); a new file gets the usual ones."""
    try:
        old = os.stat(target)
    except OSError:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        return
    os.chmod(tmp, stat.S_IMODE(old.st_mode))
    for uid in (old.st_uid, -1):  # only root may give a file away; anyone may keep one of their groups
        try:
            os.chown(tmp, uid, old.st_gid)
            return
        except OSError:
            continue


def atomic_write(path: Path, write: Callable[[str], None], claim: OutputClaim | None = None) -> None:
    """Call write(temporary_name) in the target's folder, flush it to disk, then rename it over `path`:
    a crash, a full disk or Ctrl-C leaves the old file or the new one, never half of one. A symbolic link
    to a regular file is kept: the file it points to is replaced, keeping its permissions and owner.
    With a `claim` (from check_output), a file another process wrote meanwhile is not replaced."""
    path = Path(path)
    check_writable(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(target.parent, target.name)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{_temp_stem(target.name)}.{os.getpid()}.", suffix=".tmp", dir=target.parent
        )
    except OSError as exc:
        raise OutputError(f"{path}: cannot write there ({_reason(exc)})") from None
    os.close(fd)
    try:
        write(tmp)
        _keep_mode_and_owner(tmp, target)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        with _folder_lock(target.parent):
            if claim is not None and _identity(target) != claim.identity:
                raise OutputError(
                    f"{path}: another process wrote it while this run was going; not replacing it (nothing was saved)"
                )
            _refuse_non_regular(target)  # checked again: a FIFO or device may have appeared meanwhile
            os.replace(tmp, target)
            if claim is not None:
                claim.identity = _identity(target)
    except Exception as exc:  # OSError, or a library's own error type (SafetensorError on a full disk)
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, FashionNetError):  # the writer's own verdict (e.g. an export that failed its check)
            raise
        raise OutputError(f"{path}: cannot write ({_reason(exc)}); nothing was changed") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable; not every file system lets a folder be opened
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def write_bytes_atomically(path: Path, data: bytes, claim: OutputClaim | None = None) -> None:
    """atomic_write for content already in memory: only Python writes the file, so a full disk is an
    OSError here (one line, exit 2) and never a native library's abort."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    atomic_write(path, write, claim)
