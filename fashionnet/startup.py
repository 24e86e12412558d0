"""What torch costs a short command beyond its own work: the garbage collector, and the teardown at exit.

Importing torch creates about a million long-lived objects. While it runs, Python's cyclic collector keeps
scanning them (full collections are triggered by the growing heap), and after it every full collection
scans them again, although none of them will ever be garbage. Pausing the collector during the import and
then moving everything into the permanent generation (`gc.freeze`) saves about a fifth of `python -c
"import torch"` on the project's machines; nothing is leaked, as reference counting still frees every
object that is no longer used. At exit the interpreter frees those objects one by one; `exit_now` skips
that. This module imports no torch.
"""

from __future__ import annotations

import atexit
import gc
import os
import signal
import sys
import threading
from typing import NoReturn


def check_current_folder() -> None:
    """A current folder that was deleted (`cd /tmp/g && rmdir /tmp/g`): `import torch` dies there in
    native code (oneMKL cannot load libtorch_cpu.so) and every relative path fails naming no file. Checked
    once at start-up, for every command: one line, exit 2."""
    try:
        os.getcwd()
    except FileNotFoundError:
        sys.stderr.write(
            "error: the current folder no longer exists (it was deleted); cd to a folder that exists "
            "and run the command again\n"
        )
        sys.stderr.flush()
        sys.exit(2)
    except OSError:  # too deep to name (PATH_MAX) or not searchable: cli imports torch from / there
        pass


def matplotlib_dirs() -> None:
    """matplotlib keeps its config and font cache under ~/.config and ~/.cache, creating every missing
    folder on the way: with HOME unset, missing or unwritable (HOME=/nonexistent) it would create a home.
    There its folders go to a private temporary folder instead, removed at exit. Called once, before
    matplotlib is first imported (plots._pyplot, the only place that imports it)."""
    if os.environ.get("MPLCONFIGDIR"):
        return
    home = os.path.expanduser("~")
    places = [
        os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config"),
        os.environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache"),
    ]
    if (
        home != "~"
        and os.path.isdir(home)
        and os.access(home, os.W_OK)
        and all(os.path.isdir(p) or os.path.isdir(os.path.dirname(p.rstrip("/")) or "/") for p in places)
    ):
        return
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="fashionnet-matplotlib-")
    atexit.register(shutil.rmtree, folder, True)
    os.environ["MPLCONFIGDIR"] = folder


def import_torch():
    """Import torch (once) with the collector paused, then freeze what the import built."""
    if "torch" in sys.modules:
        return sys.modules["torch"]
    enabled = gc.isenabled()
    gc.disable()
    try:
        import torch
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
    return torch


def import_torch_from_a_short_path() -> None:
    """From a current folder deeper than PATH_MAX, `import torch` dies in native code (oneMKL: 'Cannot load
    libtorch_cpu.so'), which no Python handler can catch. There, torch is imported from / and the
    current folder restored; relative paths keep working, since the kernel resolves them."""
    try:
        cwd = os.getcwd()
    except OSError:
        return
    try:
        limit = os.pathconf("/", "PC_PATH_MAX")
    except (OSError, ValueError):
        limit = 4096
    if len(os.fsencode(cwd)) < limit - 512 or "torch" in sys.modules:
        return
    here = os.open(".", os.O_RDONLY)
    try:
        os.chdir("/")
        import_torch()
    finally:
        os.fchdir(here)
        os.close(here)


def exit_now(code: int | str | None = 0) -> NoReturn:
    """End the installed command without the interpreter's teardown, which frees torch's objects one by
    one (0.3-0.5 s of `python -c "import torch"` on 2 cores) for a process that is about to vanish anyway.

    What an orderly exit owes is still done, in the interpreter's order: threading's exit hooks (where
    concurrent.futures shuts down any pool left open, rather than in atexit), non-daemon threads joined,
    the atexit handlers (multiprocessing's tidying, among others), both standard streams flushed. Ctrl-C
    while waiting for them exits 130 at once, without a traceback (atexit would print one). Only
    `fashionnet.cli.main` calls this; tests that run the app in-process never do."""
    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("message"): printed, exit 1, as Python does
        print(code, file=sys.stderr)
        code = 1
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _interrupted)
    _finish_threads()
    atexit._run_exitfuncs()
    _leave(code)


def _interrupted(signum, frame) -> NoReturn:
    """Ctrl-C while exit_now waits: leave now, not through a KeyboardInterrupt that atexit would print."""
    _leave(130)


def _leave(code: int) -> NoReturn:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a reader that went away: nothing left to tell anyone
            pass
        except RuntimeError:  # Ctrl-C came in the middle of a write to it ("reentrant call")
            pass
    os._exit(code)


def _finish_threads() -> None:
    """What the interpreter does with threads at exit: threading._shutdown runs the hooks registered with
    threading._register_atexit, then joins the non-daemon threads (both private: done by hand without it)."""
    shutdown = getattr(threading, "_shutdown", None)
    if callable(shutdown):
        shutdown()
        return
    for hook in reversed(getattr(threading, "_threading_atexits", [])):
        hook()
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
