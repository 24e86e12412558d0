"""Writing output files whole or not at all, only ever in place of a regular file, and finding out early
when a file cannot be written."""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from fashionnet.errors import FashionNetError, OutputError, UsageError

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
    return reasons.get(exc.errno, exc.strerror or str(exc))


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


def check_writable(path: Path) -> None:
    """Fail before the long work, not after it: the name is not a folder or a device, and the nearest
    existing folder above it takes new files. Creates nothing: missing folders are made when the file is
    written."""
    path = Path(path)
    _refuse_non_regular(path)
    parent = Path(os.path.realpath(path)).parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{path}: cannot write there ({parent} is a file, not a folder)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot write there (no permission to write in {parent})")


def check_output(path: Path, force: bool, option: str = "--force") -> None:
    """The overwrite rule every output follows: an existing file is replaced only with --force."""
    path = Path(path)
    check_writable(path)
    if os.path.lexists(path) and not force:
        raise UsageError(f"{path}: refusing to overwrite (it exists); pass {option}, or choose another name")


def _temp_pattern(name: str) -> re.Pattern:
    return re.compile(rf"^\.{re.escape(name)}\.(\d+)\.[A-Za-z0-9_]+\.tmp$")


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
        try:
            os.unlink(entry.path)
        except OSError:
            pass


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call write(temporary_name) in the target's folder, flush it to disk, then rename it over `path`:
    a crash, a full disk or Ctrl-C leaves the old file or the new one, never half of one. A symbolic link
    to a regular file is kept: the file it points to is replaced."""
    path = Path(path)
    check_writable(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(target.parent, target.name)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write there ({_reason(exc)})") from None
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        _refuse_non_regular(target)  # checked again: a FIFO or device may have appeared meanwhile
        os.replace(tmp, target)
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
