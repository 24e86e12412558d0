"""Issue 10, items 3, 4, 5, 10, 13 and 14: what `predict` opens, how it walks folders and globs, how much
of stdin it reads, which decoders it lets run, and that its worker processes die with it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashionnet.errors import ExitCode
from tests.conftest import default_sigint, installed_command

SAMPLES = Path(__file__).resolve().parents[1] / "fashionnet" / "samples"


def _rows(stdout) -> list[dict]:
    text = stdout.decode() if isinstance(stdout, bytes) else stdout
    return [json.loads(line) for line in text.splitlines()]


def _errors(stderr) -> list[str]:
    text = stderr.decode() if isinstance(stderr, bytes) else stderr
    assert "Traceback" not in text
    return [line for line in text.splitlines() if line and not line.startswith(("Using ", "Weights:"))]


@pytest.fixture
def folder(tmp_path) -> Path:
    good = tmp_path / "in"
    good.mkdir()
    for sample in sorted(SAMPLES.glob("*.png"))[:3]:
        shutil.copy(sample, good / sample.name)
    return good


def test_fifo_named_in_a_folder_or_globbed_never_blocks(cli, folder, fifo_watchdog):
    os.mkfifo(folder / "pipe.png")
    fifo_watchdog(folder / "pipe.png")  # in-process: a regression that opens it fails instead of hanging
    for args in (
        [str(folder / "pipe.png"), str(folder / "0-t-shirt-top.png")],
        [str(folder)],
        [str(folder), "-r"],
        [str(folder / "*.png")],
    ):
        proc = cli("predict", *args, "--json", "--weights", "random", timeout=120)
        assert proc.returncode == ExitCode.INPUT_FAILED, proc.stderr
        rows = {Path(r["path"]).name: r for r in _rows(proc.stdout)}
        assert "FIFO" in rows["pipe.png"]["error"]
        assert rows["0-t-shirt-top.png"]["label"], "the good images are still classified"
        assert len(_errors(proc.stderr)) == 1


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_devices_are_named_not_read(invoke, device):
    result = invoke("predict", device, str(SAMPLES / "1-trouser.png"), "--json", "--weights", "random")
    assert result.exit_code == ExitCode.INPUT_FAILED
    bad, good = _rows(result.stdout)
    assert "character device" in bad["error"] and good["label"]


def test_bad_entries_in_a_folder_are_their_own_lines(invoke, folder):
    (folder / "loop.png").symlink_to("loop.png")  # a link to itself
    (folder / "gone.png").symlink_to("nowhere.png")
    (folder / "sub").mkdir()
    (folder / "sub" / "ok.png").write_bytes((SAMPLES / "8-bag.png").read_bytes())
    for flags in ([], ["-r"]):
        result = invoke("predict", str(folder), *flags, "--json", "--weights", "random")
        assert result.exit_code == ExitCode.INPUT_FAILED
        rows = {Path(r["path"]).name: r for r in _rows(result.stdout)}
        assert "symlink loop" in rows["loop.png"]["error"]
        assert "broken symbolic link" in rows["gone.png"]["error"]
        assert sum("label" in r for r in rows.values()) == 3 + bool(flags)
        assert len(_errors(result.stderr)) == 2


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv (CI has both)")
def test_unreadable_sub_folder_is_one_line_as_an_unprivileged_user(folder):
    """Root reads everything, so this runs the installed command as nobody (setpriv); CI runs it as root."""
    base = Path(tempfile.mkdtemp(prefix="fashionnet-nobody-"))
    try:
        base.chmod(0o755)
        tree = base / "tree"
        shutil.copytree(folder, tree)
        (tree / "locked").mkdir()
        shutil.copy(SAMPLES / "8-bag.png", tree / "locked" / "bag.png")
        (tree / "open").mkdir()
        shutil.copy(SAMPLES / "9-ankle-boot.png", tree / "open" / "boot.png")
        for path in [tree, *tree.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        (tree / "locked").chmod(0o700)
        env = {**os.environ, "NO_COLOR": "1", "HOME": str(base), "XDG_CACHE_HOME": str(base / "cache")}
        proc = subprocess.run(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                *installed_command(),
                "predict",
                str(tree),
                "-r",
                "--json",
                "--weights",
                "random",
            ],
            capture_output=True,
            env=env,
            timeout=120,
        )
        assert proc.returncode == ExitCode.INPUT_FAILED, proc.stderr
        rows = _rows(proc.stdout)
        bad = [r for r in rows if "error" in r]
        assert len(bad) == 1 and bad[0]["path"] == str(tree / "locked") and "permission denied" in bad[0]["error"]
        assert len([r for r in rows if "label" in r]) == 4
        assert len(_errors(proc.stderr)) == 1
    finally:
        shutil.rmtree(base)


def test_path_over_the_system_limit(invoke, tmp_path):
    long = str(tmp_path / ("x" * 300 + ".png"))
    result = invoke("predict", long, "--json", "--weights", "random")
    assert "file name too long" in _rows(result.stdout)[0]["error"]


def test_symlinked_folders_follow_one_rule_and_nothing_is_classified_twice(invoke, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    shutil.copy(SAMPLES / "3-dress.png", real / "dress.png")
    holder = tmp_path / "holder"
    holder.mkdir()
    (holder / "linked").symlink_to(real, target_is_directory=True)
    (real / "back").symlink_to(holder, target_is_directory=True)  # a loop through both folders
    recursive = invoke("predict", str(holder), "-r", "--json", "--weights", "random")
    assert recursive.exit_code == 0, recursive.stderr
    assert [Path(r["path"]).name for r in _rows(recursive.stdout)] == ["dress.png"]
    globbed = invoke("predict", str(holder / "**" / "*.png"), "--json", "--weights", "random")
    assert globbed.exit_code == 0
    assert [Path(r["path"]).name for r in _rows(globbed.stdout)] == ["dress.png"], "classified once, not ~40 times"
    plain = invoke("predict", str(holder), "--json", "--weights", "random")
    assert "add --recursive" in _rows(plain.stdout)[0]["error"], "and --recursive does follow it"


def test_stdin_is_capped(cli):
    from fashionnet.inputs import STDIN_LIMIT

    proc = cli("predict", "-", "--weights", "random", input=bytes(STDIN_LIMIT + 4096))  # like `< /dev/zero`
    assert proc.returncode == ExitCode.INPUT_FAILED
    (line,) = _errors(proc.stderr)
    assert "64 MiB" in line and line.startswith("-:")


def test_only_documented_formats_reach_pillow(invoke, tmp_path, monkeypatch):
    from PIL import EpsImagePlugin

    def never(*args, **kwargs):
        raise AssertionError("the EPS plugin must never run")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", never)
    (tmp_path / "shirt.png").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\nshowpage\n")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "photo.jpg", format="PPM")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "ok.tif")
    result = invoke(
        "predict",
        str(tmp_path / "shirt.png"),
        str(tmp_path / "photo.jpg"),
        str(tmp_path / "ok.tif"),
        "--json",
        "--weights",
        "random",
    )
    eps, ppm, tif = _rows(result.stdout)
    assert eps["error"].startswith("not a supported image (format EPS)")
    assert ppm["error"].startswith("not a supported image (format PPM)")
    assert tif["label"]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def noise_photos(tmp_path_factory) -> Path:
    """1,000 small noise pictures: each is a "photo" (GrabCut, ~30 ms), so the folder takes predict ~15 s
    of decoding on 2 cores, long after any signal the tests send."""
    photos = tmp_path_factory.mktemp("noise")
    rng = np.random.default_rng(0)
    for i in range(1000):
        Image.fromarray(rng.integers(0, 255, (128, 128), dtype=np.uint8)).save(photos / f"{i:04}.png")
    return photos


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_decoder_workers_die_with_their_parent(noise_photos, tmp_path, how):
    # SIGINT goes to the whole process group, as a terminal's Ctrl-C does, once torch is loaded (stderr
    # says which device): predict must exit 130 at once, not after the workers' queue (issue 17, item 3).
    stderr = tmp_path / "stderr"
    with open(stderr, "wb") as err:
        proc = subprocess.Popen(
            [*installed_command(), "predict", str(noise_photos), "--json", "--weights", "random", "--device", "cpu"],
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
            preexec_fn=default_sigint,
        )  # a runner's worker may ignore SIGINT; children inherit it
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and proc.poll() is None and not (workers and _ready(stderr, how)):
        workers = workers or _children(proc.pid)
        time.sleep(0.02)
    assert workers and proc.poll() is None, "the decoder pool did not start"
    sent = time.monotonic()
    os.killpg(proc.pid, how) if how == signal.SIGINT else proc.send_signal(how)
    proc.wait(timeout=30)
    if how == signal.SIGINT:
        assert proc.returncode == ExitCode.INTERRUPTED, (proc.returncode, stderr.read_bytes()[-3000:])
        assert time.monotonic() - sent < 8, "predict waited for its workers"  # they had ~15 s of work left
        assert _errors(stderr.read_bytes()) == ["Interrupted."], stderr.read_bytes()[-3000:]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.05)
    left = [w for w in workers if _alive(w)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "decoder processes outlived predict"


def _ready(stderr: Path, how: int) -> bool:
    return how != signal.SIGINT or b"Using cpu device" in stderr.read_bytes()
