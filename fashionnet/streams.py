"""The edges of the standard streams for the installed command: a closed or full stdout, an ASCII-only
terminal, a reader that went away (`fashionnet predict ... --json | head -1`), and a second Ctrl-C.

Tests that run the Typer app in-process never come here; `fashionnet.cli.run` does, once per command line.
"""

from __future__ import annotations

import errno
import os
import signal
import sys

from fashionnet.errors import ExitCode, FashionNetError, OutputError


class BrokenPipe(FashionNetError):
    """The reader of stdout is gone: nothing to say (the reader cannot see it), exit 141."""

    exit_code = ExitCode.BROKEN_PIPE


def discard_output(fd: int) -> None:
    """Point `fd` at /dev/null, so what is still buffered for it is flushed somewhere harmless at exit."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
    except OSError:
        pass


PIECE = 1024  # characters per write: at most 4 KiB of UTF-8, within any stream buffer


class GuardedStream:
    """A text stream whose write failures become errors fashionnet reports: a broken pipe becomes
    BrokenPipe (exit 141); any other failure (a full disk, /dev/full, EIO) one line and exit 2.
    On stderr a failure is dropped: there is nowhere left to report it."""

    def __init__(self, stream, name: str, quiet: bool = False):
        self._stream = stream
        self._name = name
        self._quiet = quiet
        self.error: FashionNetError | None = None  # the first failure, raised again on every later write
        self.raised = False

    def _guard(self, call, *args):
        if self.error is None:
            try:
                return call(*args)
            except OSError as exc:
                try:
                    discard_output(self._stream.fileno())
                except (OSError, ValueError):
                    pass
                if exc.errno == errno.EPIPE:
                    self.error = BrokenPipe("the reader of standard output went away")
                else:
                    self.error = OutputError(f"cannot write to {self._name} ({exc.strerror or exc})")
        if self._quiet:
            return None
        self.raised = True
        raise self.error

    def write(self, text: str) -> int:
        if isinstance(text, str) and not text:  # click probes streams with empty writes, swallowing errors
            return 0
        if isinstance(text, str) and len(text) > PIECE:
            # One large write to a pipe whose reader leaves (`| head -1`) is cut short without an error
            # reaching Python: written in pieces, every failure surfaces (exit 141, not 0).
            for start in range(0, len(text), PIECE):
                self._guard(self._stream.write, text[start : start + PIECE])
            return len(text)
        return self._guard(self._stream.write, text) or 0

    def flush(self) -> None:
        if self.error is not None and self.raised:
            return  # already reported; flushing again at exit must stay quiet
        self._guard(self._stream.flush)

    def __getattr__(self, name: str):
        if name == "buffer":  # writers must come through here (click looks for a binary buffer)
            raise AttributeError(name)
        return getattr(self._stream, name)


_interrupted = False  # a Ctrl-C came (set by the handler below, for raise_if_interrupted)


def _first_interrupt_only(signum, frame) -> None:
    """Ctrl-C stops the run once; a second Ctrl-C while it shuts down is ignored (no half-printed
    traceback from torch's exit handlers)."""
    global _interrupted
    _interrupted = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def raise_if_interrupted() -> None:
    """Raise the Ctrl-C again if its KeyboardInterrupt was lost: Python runs the handler wherever the main
    thread is, and where that is a weakref callback or a __del__ (an import lock's, say), the exception is
    printed as "Exception ignored" and dropped, while the second Ctrl-C is already ignored. Long loops call
    this between steps; it costs one global lookup."""
    if _interrupted:
        raise KeyboardInterrupt


class ClosedInput:
    """Standard input when the process has none (`<&-`): reading '-' says stdin is closed (its `buffer`
    is None, as predict's and explain's readers expect), and nothing crashes on an attribute."""

    buffer = None
    closed = True
    encoding = "utf-8"

    def read(self, *args) -> str:
        return ""

    readline = read

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError(errno.EBADF, "standard input is closed")


def prepare_streams() -> None:
    """Call once before the command runs. Exits 2 with one line if stdout is closed; a closed stdin
    becomes ClosedInput for every command."""
    if sys.stdin is None:  # `<&-`
        sys.stdin = ClosedInput()  # type: ignore[assignment]
    if sys.stderr is None:  # `2>&-`: errors have nowhere to go, but must not crash the run
        sys.stderr = open(os.devnull, "w")
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and hasattr(stream, "reconfigure"):
            # An ASCII-only locale or PYTHONIOENCODING=ascii: show what it cannot encode as \u escapes.
            stream.reconfigure(errors="backslashreplace")
    if sys.stdout is None:  # `>&-`
        sys.stderr.write("error: standard output is closed; redirect it to a file or /dev/null\n")
        sys.stderr.flush()
        sys.exit(int(OutputError.exit_code))
    sys.stdout = GuardedStream(sys.stdout, "standard output")
    sys.stderr = GuardedStream(sys.stderr, "standard error", quiet=True)
    global _interrupted
    _interrupted = False
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _first_interrupt_only)


def finish_streams() -> None:
    """Flush stdout now, where a failure can still be reported, not in the interpreter's shutdown, and
    hand the plain streams back (their descriptors point at /dev/null if they failed)."""
    stdout, stderr = sys.stdout, sys.stderr
    if not isinstance(stdout, GuardedStream):
        return
    already = stdout.raised  # reported (or deliberately silent) where it happened
    try:
        stdout.flush()
    except BrokenPipe:
        sys.exit(int(BrokenPipe.exit_code))
    except OutputError as exc:
        if not already:
            stderr.write(f"error: {exc}\n")
        sys.exit(int(OutputError.exit_code))
    finally:
        sys.stdout = stdout._stream
        if isinstance(stderr, GuardedStream):
            stderr.flush()
            sys.stderr = stderr._stream
