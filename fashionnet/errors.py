"""User-facing errors: core code raises these, the CLI turns each into one line and an exit code."""

from enum import IntEnum

# C0 and C1 control characters and Unicode's line/paragraph separators: anything that could end a line
# or drive the terminal (escape sequences) when a path or file content is printed.
_CONTROL = {c: f"\\x{c:02x}" for c in [*range(32), 127, *range(0x80, 0xA0)]} | {
    c: f"\\u{c:04x}" for c in (0x2028, 0x2029)
}


class ExitCode(IntEnum):
    """Exit codes, documented in `fashionnet --help` and docs/input-rules.md."""

    OK = 0
    INPUT_FAILED = 1  # some inputs could not be processed (the others were)
    USAGE = 2  # bad option, unknown or unavailable device, refused overwrite, unwritable output
    DATA = 3  # FashionMNIST or the photo drawings missing, incomplete or corrupt
    WEIGHTS = 4  # checkpoint missing, corrupt or of the wrong shape
    EXPORT_FAILED = 5  # an exported file failed its own check (nothing was written)
    INTERRUPTED = 130  # Ctrl-C
    BROKEN_PIPE = 141  # the reader of stdout went away (`... | head`): 128 + SIGPIPE, as a shell reports it


def printable(text: str) -> str:
    """User text (paths, file contents) as one printable line: control characters (newlines, terminal
    escapes) and undecodable bytes (surrogates) become visible escapes. Every error message goes through it."""
    return str(text).encode("utf-8", "backslashreplace").decode("utf-8").translate(_CONTROL)


class FashionNetError(Exception):
    """An error whose message is written for the user, never shown with a traceback."""

    exit_code: ExitCode = ExitCode.USAGE


class UsageError(FashionNetError):
    exit_code = ExitCode.USAGE


class OutputError(UsageError):
    """An output file (checkpoint, plot) cannot be written where the user asked."""


class DeviceError(UsageError):
    """The requested device is unknown or not available on this machine."""


class DataError(FashionNetError):
    exit_code = ExitCode.DATA


class WeightsError(FashionNetError):
    exit_code = ExitCode.WEIGHTS


class TrainingInterrupted(FashionNetError):
    """Ctrl-C during training: the checkpoint of the last finished epoch is kept."""

    exit_code = ExitCode.INTERRUPTED


class ImageError(FashionNetError):
    """One input image could not be read; other inputs carry on."""

    exit_code = ExitCode.INPUT_FAILED
