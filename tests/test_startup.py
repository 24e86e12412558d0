"""startup.py: torch imported with the collector paused then frozen, and an exit that skips the teardown
but still runs what an orderly exit owes (threading and atexit hooks, flushed streams, the exit code)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from tests.conftest import default_sigint


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


def test_exit_now_stops_a_process_pool_left_open():
    # concurrent.futures shuts its pools down in a threading exit hook, not in atexit: exit_now must run
    # those hooks before it joins the pool's (non-daemon) manager thread, or it waits forever.
    code = (
        "import atexit, threading\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "from fashionnet.startup import exit_now\n"
        "pool = ProcessPoolExecutor(1)\n"
        "assert pool.submit(abs, -3).result() == 3\n"
        "threading._register_atexit(print, 'threading hook ran')\n"
        "atexit.register(print, 'atexit ran')\n"
        "exit_now(3)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout, out.stderr) == (3, "threading hook ran\natexit ran\n", "")


def test_ctrl_c_while_exit_now_waits_exits_130_at_once():
    code = (
        "import atexit, threading, time\n"
        "from fashionnet.startup import exit_now\n"
        "threading.Thread(target=time.sleep, args=(60,)).start()  # a non-daemon thread exit_now waits for\n"
        "atexit.register(print, 'atexit ran')\n"
        "print('waiting', flush=True)\n"
        "exit_now(0)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    try:
        assert child.stdout.readline() == "waiting\n"
        time.sleep(0.5)  # now in exit_now, joining the thread
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=10)
    finally:
        child.kill()
    assert (child.returncode, out, err) == (130, "", "")
