"""Shared fixtures, and the rules that keep this suite fast: `make test` must stay under 3.5 minutes on
2 cores, with room for everyone's new tests. Follow them when you add a test.

1. In-process first. Run commands with `invoke` (Typer's CliRunner, stdout and stderr apart) or `cli`
   (the same, answering like subprocess.run: returncode and bytes). Both go through the error handling
   of the installed command (one line, documented exit codes); `cli` applies its `env=` for that call only.
2. A subprocess only for what needs a real process: signals (SIGINT, SIGKILL), closed, full or
   ASCII-only standard streams, a pipe whose reader leaves, another user (setpriv), interpreter start-up
   (what `--help` imports), or a native crash that would take pytest down. Each one pays ~3 s of
   `import torch`: check several things in one process, never start one per parametrised case, and use
   `python -c` without torch where the check allows.
3. One installed-command smoke per command, all in tests/test_smoke.py (`installed` fixture). Add an
   assertion to the smoke rather than a new subprocess.
4. Data and checkpoints are made once per session: `fake_data` (600 training images, the official
   10,000 test images) and `trained` (a one-epoch checkpoint with optimizer state) are shared and
   read-only: copy them (`copy_tree`, shutil.copy) before changing a file. Train only in tests about
   training, with the fewest images and epochs that show the behaviour.
5. The suite runs in parallel (pytest-xdist, `-n auto` in pyproject.toml): no test may depend on another's
   files or order, write outside its tmp_path, or chdir/setenv without monkeypatch.
6. No timed assertions (speed lives in benchmarks/). A possible hang is caught by a subprocess timeout or
   a watchdog (see `fifo_watchdog`), or by counting the work done, never by measuring seconds.
7. Check `pytest --durations=20` after adding tests: a new entry above ~2 s needs a reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fashionnet import data

# CI sets FASHIONNET_REQUIRE_DATA=1 after installing the data: there a missing data set fails, never skips.
REAL_DATA = os.environ.get("FASHIONNET_REQUIRE_DATA") == "1" or data.locate().folder is not None
needs_real_data = pytest.mark.skipif(not REAL_DATA, reason="FashionMNIST is not installed (make data)")
ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "fashionnet" / "samples"


def pytest_configure(config):
    # Parallel workers each get one torch thread: two workers on two cores must not fight over four.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import torch

        torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolate(monkeypatch, tmp_path_factory):
    # Never read a developer's cache or device choice: every test starts from the same environment.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("FASHIONNET_DEVICE", raising=False)
    monkeypatch.delenv("FASHIONNET_DATA", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "80")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def invoke(runner):
    """Run the Typer app in-process: result has exit_code, stdout and stderr."""
    from fashionnet.cli import app

    def run(*args: str, input: str | bytes | None = None):
        return runner.invoke(app, list(args), input=input, catch_exceptions=False)

    return run


@pytest.fixture
def cli(runner, monkeypatch):
    """The command in-process, answering like subprocess.run (returncode, stdout and stderr as bytes);
    `env` applies to this call only. For a real process, see `installed`."""
    from fashionnet.cli import app

    def run(*args: str, input: bytes | None = None, env: dict | None = None, timeout: float | None = None):
        with monkeypatch.context() as patch:
            for key, value in (env or {}).items():
                patch.setenv(key, value)
            result = runner.invoke(app, list(args), input=input, prog_name="fashionnet", catch_exceptions=False)
        return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout_bytes, result.stderr_bytes)

    return run


def installed_command() -> list[str]:
    exe = shutil.which("fashionnet", path=str(Path(sys.executable).parent)) or shutil.which("fashionnet")
    return [exe] if exe else [sys.executable, "-m", "fashionnet"]


def installed_env(**extra: str) -> dict:
    return {**os.environ, "NO_COLOR": "1", "COLUMNS": "80", "OMP_NUM_THREADS": "1", **extra}


@pytest.fixture
def installed():
    """Run the installed `fashionnet` console script in a subprocess, as a user would (~3 s each: see
    the rules above)."""

    def run(*args: str, input: bytes | None = None, env: dict | None = None, timeout: float = 300, cwd=None):
        return subprocess.run(
            [*installed_command(), *args],
            input=input,
            capture_output=True,
            env=installed_env(**(env or {})),
            timeout=timeout,
            cwd=cwd,
        )

    return run


def default_sigint() -> None:
    """preexec_fn for a child that must see Ctrl-C: a test runner started in the background (`cmd &`)
    or a parallel worker may ignore SIGINT, and children inherit that."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def train_until_first_checkpoint(folder: Path, out: Path) -> subprocess.Popen:
    """The installed command on a 400-epoch run, returned once its first checkpoint exists (or it ended):
    the moment to send it Ctrl-C."""
    import time

    proc = subprocess.Popen(
        [
            *installed_command(),
            "train",
            "--data-dir",
            str(folder),
            "--epochs",
            "400",
            "--batch-size",
            "64",
            "--out",
            str(out),
            "--device",
            "cpu",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=installed_env(),
        preexec_fn=default_sigint,
    )
    deadline = time.monotonic() + 120
    while not out.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    return proc


def write_idx(path: Path, array, magic: int) -> Path:
    """Write an IDX file (gzip when the name ends in .gz), the format FashionMNIST ships in."""
    import gzip

    import numpy as np

    array = np.asarray(array, dtype=np.uint8)
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    payload = header + array.tobytes()
    if path.suffix == ".gz":
        with gzip.open(path, "wb", compresslevel=1) as f:
            f.write(payload)
    else:
        path.write_bytes(payload)
    return path


def fake_images(labels, rng):
    """Images of a tiny FashionMNIST look-alike: each class is a bright left/right-symmetric pattern at its
    own height, plus noise, so a model learns it in seconds even with flips and shifts."""
    import numpy as np

    images = rng.integers(0, 60, size=(len(labels), 28, 28), dtype=np.uint8)
    band, edges = np.divmod(np.asarray(labels), 2)
    rows = np.arange(28)[None, :] - (2 + band * 5)[:, None]
    in_band = (rows >= 0) & (rows < 4)  # (n, 28): the class's four rows
    cols = np.zeros((2, 28), bool)
    cols[0, 10:18] = True  # a centred bar...
    cols[1, 1:7] = cols[1, 21:27] = True  # ...or two bars at the edges
    mask = in_band[:, :, None] & cols[edges][:, None, :]
    images[mask] = 230
    return images


def make_fake_fashion(
    folder: Path, train: int = 600, test: int = 200, seed: int = 0, gz: tuple[str, ...] = ("train", "t10k")
) -> Path:
    """The four IDX files of a FashionMNIST look-alike (see fake_images), balanced classes; the splits
    named in `gz` are gzip files, the others plain."""
    import numpy as np

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", train), ("t10k", test)):
        labels = np.arange(n) % 10
        rng.shuffle(labels)
        suffix = ".gz" if split in gz else ""
        write_idx(folder / f"{split}-images-idx3-ubyte{suffix}", fake_images(labels, rng), 2051)
        write_idx(folder / f"{split}-labels-idx1-ubyte{suffix}", labels, 2049)
    return folder


def copy_tree(src: Path, dst: Path) -> Path:
    """A writable copy of a shared folder (hard links would let a test change the original)."""
    shutil.copytree(src, dst)
    return dst


@pytest.fixture(scope="session")
def fake_data(tmp_path_factory) -> Path:
    """Shared, read-only: 600 training images (gzip) and a test split of the official size and balance
    (10,000, plain IDX), which evaluate and train require."""
    return make_fake_fashion(tmp_path_factory.mktemp("fake") / "fake-fashion", 600, 10_000, gz=("train",))


@pytest.fixture(scope="session")
def trained(fake_data, tmp_path_factory) -> Path:
    """Shared, read-only: a one-epoch checkpoint of `fake_data` with optimizer state (resumable)."""
    import torch

    from fashionnet.recipe import Recipe
    from fashionnet.train import fit

    out = tmp_path_factory.mktemp("trained") / "run.safetensors"
    fit(
        Recipe(epochs=1, batch_size=100),
        data.load_split("train", fake_data),
        data.load_split("test", fake_data),
        torch.device("cpu"),
        out=out,
    )
    out.chmod(0o444)
    return out


@pytest.fixture
def no_system_data(monkeypatch, tmp_path):
    """Pretend the Debian package is not installed."""
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian-data")


@pytest.fixture
def fifo_watchdog():
    """fifo_watchdog(path): if anything opens the FIFO for reading (and so blocks forever), a writer
    appears after a while and unblocks it, and the test fails instead of hanging the suite."""
    opened: list[Path] = []
    stop = threading.Event()

    def watch(path: Path) -> None:
        def unblock():
            if not stop.wait(30):
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)  # succeeds only if a reader is waiting
                except OSError:
                    return
                opened.append(path)
                os.close(fd)

        threading.Thread(target=unblock, daemon=True).start()

    yield watch
    stop.set()
    assert not opened, f"{opened} was opened for reading"


@pytest.fixture
def tmpfs(tmp_path):
    """tmpfs(size): a small tmpfs mounted in tmp_path, to fill a disk for real (needs root; skips
    elsewhere, where the mocked ENOSPC tests still run)."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        where = tmp_path / f"tmpfs-{len(mounted)}"
        where.mkdir()
        if subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
        ).returncode:
            pytest.skip("cannot mount a tmpfs here (needs root; CI runs as root)")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", str(where)], check=True)


MANY_RUNS = """
import json, os, sys
from fashionnet.cli import run
codes = []
for argv in json.loads(sys.argv[1]):
    sys.argv = ["fashionnet", *argv]
    codes.append(run() or 0)
sys.stderr.write("CODES " + json.dumps(codes) + "\\n")
"""


def run_many(runs: list[list[str]], env: dict | None = None, **popen) -> tuple[list, str, str]:
    """Several command lines through fashionnet.cli.run in ONE real process (one `import torch`), for
    what needs a real process but not one each: (exit codes, stdout, stderr without the codes line)."""
    import json

    popen.setdefault("preexec_fn", default_sigint)
    proc = subprocess.run(
        [sys.executable, "-c", MANY_RUNS, json.dumps(runs)],
        capture_output=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "80", **(env or {})},
        **popen,
    )
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0 and "CODES " in err, (proc.returncode, err)
    head, codes = err.rsplit("CODES ", 1)
    return json.loads(codes), proc.stdout.decode(errors="replace"), head
