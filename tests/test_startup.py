"""startup.py: torch imported with the collector paused then frozen, and an exit that skips the teardown
but still runs what an orderly exit owes (atexit handlers, flushed streams, the exit code)."""

from __future__ import annotations

import subprocess
import sys


def test_import_torch_then_exit_now():
    code = (
        "import atexit, gc\n"
        "from fashionnet.startup import exit_now, import_torch\n"
        "torch = import_torch()\n"
        "assert gc.isenabled() and gc.get_freeze_count() > 100_000, gc.get_freeze_count()\n"
        "assert import_torch() is torch and torch.ones(2).sum().item() == 2\n"
        "atexit.register(print, 'atexit ran')\n"
        "print('buffered', end=' ')  # a pipe: block-buffered until exit_now flushes it\n"
        "exit_now(7)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (out.returncode, out.stdout, out.stderr) == (7, "buffered atexit ran\n", "")
