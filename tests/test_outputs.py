"""Issue 10, items 1, 2 and 16 (temp files): outputs only ever replace regular files, follow one overwrite
rule, survive a full disk in one line, and leave no temporary files behind, even after SIGKILL."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from fashionnet.errors import ExitCode, OutputError
from fashionnet.files import atomic_write, remove_stale_temps
from fashionnet.model import build_model
from fashionnet.weights import Checkpoint, save_checkpoint


def _one_error_line(stderr: bytes | str) -> str:
    text = stderr.decode() if isinstance(stderr, bytes) else stderr
    lines = [line for line in text.splitlines() if line and not line.startswith(("Using ", "Training on"))]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root (CI runs as root)")
def test_train_force_never_replaces_a_device_or_fifo(cli, fake_data, tmp_path):
    fifo, device = tmp_path / "pipe", tmp_path / "null"
    os.mkfifo(fifo)
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a second /dev/null
    for target, kind in ((fifo, "FIFO"), (device, "character device"), ("/dev/null", "character device")):
        proc = cli("train", "--data-dir", str(fake_data), "--epochs", "1", "--force", "--out", str(target), "--quiet")
        assert proc.returncode == ExitCode.USAGE, proc.stderr
        assert kind in _one_error_line(proc.stderr)
    assert stat.S_ISFIFO(fifo.stat().st_mode) and stat.S_ISCHR(device.stat().st_mode)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_plots_follow_the_overwrite_rule(invoke, fake_data, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "confusion.png"
    png.write_bytes(b"keep me")
    refused = invoke("evaluate", "--data-dir", str(fake_data), "--weights", "random", "--plot", str(png))
    assert refused.exit_code == ExitCode.USAGE and "--force" in _one_error_line(refused.stderr)
    assert png.read_bytes() == b"keep me"
    forced = invoke("evaluate", "--data-dir", str(fake_data), "--weights", "random", "--plot", str(png), "--force")
    assert forced.exit_code == 0 and png.read_bytes()[:4] == b"\x89PNG"
    curves = tmp_path / "curves.png"
    curves.write_bytes(b"keep me too")
    train = invoke(
        "train",
        "--data-dir",
        str(fake_data),
        "--epochs",
        "1",
        "--out",
        str(tmp_path / "m.safetensors"),
        "--plot",
        str(curves),
        "--quiet",
    )
    assert train.exit_code == ExitCode.USAGE and curves.read_bytes() == b"keep me too"
    assert not (tmp_path / "m.safetensors").exists(), "refused before training"
    os.mkfifo(tmp_path / "fifo.png")
    fifo = invoke(
        "evaluate", "--data-dir", str(fake_data), "--weights", "random", "--plot", str(tmp_path / "fifo.png"), "--force"
    )
    assert fifo.exit_code == ExitCode.USAGE and "FIFO" in fifo.stderr


def test_a_symlink_to_a_checkpoint_stays_a_symlink(tmp_path):
    real = tmp_path / "real.safetensors"
    real.write_bytes(b"old")
    link = tmp_path / "latest.safetensors"
    link.symlink_to(real)
    atomic_write(link, lambda tmp: Path(tmp).write_bytes(b"new"))
    assert link.is_symlink() and real.read_bytes() == b"new"


def test_full_disk_is_one_line_and_nothing_half_written(tmp_path, monkeypatch, invoke, fake_data):
    """A mocked ENOSPC in the middle of safetensors' write, exactly as safetensors reports it."""
    from safetensors import SafetensorError

    import fashionnet.weights as weights

    def full_disk(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"half a checkpoint")
        raise SafetensorError(
            'Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })'
        )

    out = tmp_path / "m.safetensors"
    out.write_bytes(b"the previous checkpoint")
    monkeypatch.setattr(weights, "save_file", full_disk)
    with pytest.raises(OutputError, match="no space left on device"):
        save_checkpoint(out, Checkpoint(build_model().state_dict()))
    result = invoke("train", "--data-dir", str(fake_data), "--epochs", "1", "--force", "--out", str(out), "--quiet")
    assert result.exit_code == ExitCode.USAGE
    assert "no space left on device" in _one_error_line(result.stderr)
    assert out.read_bytes() == b"the previous checkpoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"], "no temporary file left"


def test_full_tmpfs_during_training(cli, fake_data, tmpfs):
    small_tmpfs = tmpfs("4m")
    old = small_tmpfs / "m.safetensors"
    save_checkpoint(old, Checkpoint(build_model().state_dict(), metadata={"epochs": 1}))
    before = old.read_bytes()
    # The new checkpoint with optimizer state (~11 MB) cannot fit in 4 MB.
    proc = cli("train", "--data-dir", str(fake_data), "--epochs", "1", "--force", "--out", str(old), "--quiet")
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert "no space left on device" in _one_error_line(proc.stderr)
    assert old.read_bytes() == before
    assert [p.name for p in small_tmpfs.iterdir()] == ["m.safetensors"]


def test_temp_files_of_killed_runs_are_cleaned_up(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no longer runs, like a run killed with SIGKILL mid-save
    stale = tmp_path / f".m.safetensors.{dead.pid}.abc123_x.tmp"
    stale.write_bytes(b"x" * 1000)
    alive = tmp_path / f".m.safetensors.{os.getppid()}.zzz.tmp"  # a run still going on keeps its file
    alive.write_bytes(b"y")
    other = tmp_path / f".other.safetensors.{dead.pid}.abc.tmp"  # another output's: not ours to judge here
    other.write_bytes(b"z")
    save_checkpoint(tmp_path / "m.safetensors", Checkpoint(build_model().state_dict()))
    assert not stale.exists() and alive.exists() and other.exists()
    remove_stale_temps(tmp_path, "other.safetensors")
    assert not other.exists()


def test_sigkill_during_a_save_then_the_next_run_cleans_up(cli, fake_data, tmp_path):
    """SIGKILL after the temporary file is written and before it is renamed: the next run removes it."""
    out = tmp_path / "m.safetensors"
    code = (
        "import os, signal, time\n"
        "import fashionnet.weights as w\n"
        "from fashionnet.model import build_model\n"
        "real = w.save_file\n"
        "def slow(tensors, filename, metadata=None):\n"
        "    real(tensors, filename, metadata=metadata)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "w.save_file = slow\n"
        f"w.save_checkpoint({str(out)!r}, w.Checkpoint(build_model().state_dict()))\n"
    )
    killed = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert killed.returncode == -9
    assert [p.name.endswith(".tmp") for p in tmp_path.iterdir() if p.name.startswith(".m.")] == [True]
    proc = cli("train", "--data-dir", str(fake_data), "--epochs", "1", "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_without_fcntl_the_save_lock_is_filelocks(tmp_path, monkeypatch):
    """Where fcntl is missing (Windows) a save still locks its folder, with filelock's lock file."""
    from filelock import FileLock, Timeout

    from fashionnet.files import LOCK_NAME, _folder_lock, atomic_write

    monkeypatch.setitem(sys.modules, "fcntl", None)  # `import fcntl` fails, as on Windows
    other = FileLock(tmp_path / LOCK_NAME, timeout=0)  # another run's attempt, that must not get in
    with _folder_lock(tmp_path), pytest.raises(Timeout):
        other.acquire()
    other.acquire()
    other.release()
    atomic_write(tmp_path / "out.txt", lambda name: Path(name).write_text("saved"))
    assert (tmp_path / "out.txt").read_text() == "saved"
