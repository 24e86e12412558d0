"""Collecting what to classify: paths, folders, quoted globs and stdin become Inputs, in order.

One rule for every way a path arrives (symbolic links followed, each folder listed once, only regular
files ever opened); a problem becomes an Input with an `error`, so one bad argument never stops the others.
"""

from __future__ import annotations

import fnmatch
import os
import stat
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from fashionnet.files import input_reason, kind_of
from fashionnet.images import IMAGE_SUFFIXES

STDIN = "-"
STDIN_LIMIT = 64 << 20  # the most `predict -` reads for its one image (64 MiB, in docs/input-rules.md)


@dataclass(frozen=True)
class Input:
    """One thing to classify: a file path, stdin's bytes (path '-'), or a problem found while collecting."""

    path: str
    data: bytes | None = field(default=None, repr=False)
    error: str | None = None


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
            stack += [
                join(folder, e.name)
                for e in reversed(listing(folder))
                if not e.name.startswith(".") and (e.is_symlink() or _is_folder(e))
            ]
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
                found += [
                    join(f, e.name)
                    for f in list(found)
                    for e in listing(f)
                    if not e.name.startswith(".") and not _is_folder(e) and not e.is_symlink()
                ]
        elif _has_magic(part):
            for folder in current:
                found += [
                    join(folder, e.name)
                    for e in listing(folder)
                    if fnmatch.fnmatchcase(e.name, part) and (part.startswith(".") or not e.name.startswith("."))
                ]
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
        return Input(
            STDIN,
            error=f"more than {STDIN_LIMIT >> 20} MiB on stdin; one image on stdin may be at most "
            f"{STDIN_LIMIT >> 20} MiB (give larger files by name)",
        )
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
