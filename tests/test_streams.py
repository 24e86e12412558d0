"""Issue 10, items 11 and 16: every error is one printable line, and the output streams' edges (full,
closed, ASCII-only, a reader that goes away) end in one line and a documented exit code, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from safetensors.torch import save_file

from fashionnet import CLASSES
from fashionnet.errors import ExitCode, printable
from fashionnet.model import build_model
from tests.conftest import installed_command, run_many

SAMPLE = Path(__file__).resolve().parents[1] / "fashionnet" / "samples" / "7-sneaker.png"
NASTY = "bad\nname\x1b[2J\x1b]0;owned\x07"


def _run(args, **kwargs):
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "80", **kwargs.pop("env", {})}
    return subprocess.run([*installed_command(), *args], capture_output=True, env=env, timeout=120, **kwargs)


def _one_clean_line(stderr: bytes | str) -> str:
    text = stderr.decode() if isinstance(stderr, bytes) else stderr
    assert "Traceback" not in text and "\x1b" not in text and "\x07" not in text
    lines = [line for line in text.splitlines() if line.startswith(("error:", "fashionnet"))]
    assert len(lines) == 1, text
    return lines[0]


def test_printable_escapes_control_characters():
    assert printable(NASTY) == "bad\\x0aname\\x1b[2J\\x1b]0;owned\\x07"
    assert printable("caf\udce9 \u2028") == "caf\\udce9 \\u2028"


def test_paths_in_errors_are_escaped(invoke, tmp_path, monkeypatch):
    missing = str(tmp_path / NASTY)
    for args in (
        ["summary", "--weights", missing],
        ["evaluate", "--data-dir", missing],
        ["data", "--data-dir", missing],
    ):
        result = invoke(*args)
        assert result.exit_code in (ExitCode.DATA, ExitCode.WEIGHTS)
        assert "bad\\x0aname\\x1b[2J" in _one_clean_line(result.stderr)
    monkeypatch.setenv("FASHIONNET_DATA", missing)
    result = invoke("data")
    assert result.exit_code == ExitCode.DATA and "\\x1b" in _one_clean_line(result.stderr)
    assert "\x1b" not in result.stdout


def test_checkpoint_class_names_are_escaped(invoke, tmp_path):
    classes = list(CLASSES[:9]) + ["Boot\n\x1b[2Jgotcha"]
    save_file(build_model().state_dict(), str(tmp_path / "m.safetensors"), metadata={"classes": json.dumps(classes)})
    result = invoke("summary", "--weights", str(tmp_path / "m.safetensors"))
    assert result.exit_code == ExitCode.WEIGHTS
    assert "Boot\\x0a\\x1b[2Jgotcha" in _one_clean_line(result.stderr)


def test_usage_errors_are_escaped(cli):
    proc = cli("predict", SAMPLE.as_posix(), "--invert", NASTY)
    assert proc.returncode == ExitCode.USAGE
    assert "\\x1b" in _one_clean_line(proc.stderr)


@pytest.mark.parametrize(
    "args",
    [["--help"], ["--version"], ["predict", "--help"], ["predict", str(SAMPLE), "--weights", "random", "--json"]],
)
def test_full_stdout_is_one_line_exit_2(args):
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [*installed_command(), *args],
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=120,
            env={**os.environ, "NO_COLOR": "1"},
        )
    assert proc.returncode == ExitCode.USAGE
    assert "no space left on device" in _one_clean_line(proc.stderr).lower()


def test_closed_stdout_is_one_line_exit_2():
    proc = subprocess.run(
        [*installed_command(), "predict", str(SAMPLE), "--json", "--weights", "random"],
        stderr=subprocess.PIPE,
        timeout=120,
        close_fds=True,
        preexec_fn=lambda: os.close(1),
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode == ExitCode.USAGE
    assert "standard output is closed" in _one_clean_line(proc.stderr)


def test_ascii_only_output_with_non_ascii_paths(tmp_path):
    """An ASCII-only locale (set when the interpreter starts, so a real process): every view of non-ASCII
    paths is printable. The runs share one process (one `import torch`)."""
    folder = tmp_path / "衣服 café"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "鞋.png")
    shutil.copy(SAMPLE, folder / "zweite Größe.png")
    runs = [
        ["predict", *args, "--weights", "random"]
        for args in (
            [str(folder)],
            [str(folder / "鞋.png")],
            [str(folder), "--csv"],
            [str(folder), "--json"],
            [str(folder / "nope.png")],
        )
    ]
    runs.append(["walkthrough", "--lang", "zh", "--step", "1"])
    codes, out, err = run_many(runs, env={"PYTHONIOENCODING": "ascii", "LC_ALL": "C"})
    assert "Traceback" not in err, err
    assert codes == [0, 0, 0, 0, ExitCode.INPUT_FAILED, 0], err
    out.encode("ascii")  # nothing the terminal cannot show
    assert "\\u8863\\u670d" in out, "non-ASCII shown as escapes, not dropped"


def _read_one_line_then_hang_up(args) -> subprocess.CompletedProcess:
    proc = subprocess.Popen(
        [*installed_command(), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.stdout is not None and proc.stderr is not None  # both PIPE
    first = proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read()
    proc.wait(timeout=120)
    assert first
    return subprocess.CompletedProcess(args, proc.returncode, first, err)


@pytest.fixture
def many(tmp_path) -> Path:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(400):  # copies, not links: each is its own input; long names: a table over 64 KiB
        shutil.copy(SAMPLE, folder / f"{i:03}-{'x' * 120}.png")
    return folder


@pytest.mark.parametrize("fmt", ["--json", "--csv", "--top-k=3"])  # the last: the table, written at once
def test_broken_pipe_exits_141_quietly(many, fmt):
    proc = _read_one_line_then_hang_up(["predict", str(many), fmt, "--weights", "random"])
    assert proc.returncode == ExitCode.BROKEN_PIPE == 141
    assert b"Traceback" not in proc.stderr and b"error" not in proc.stderr


def test_broken_pipe_in_walkthrough_exits_141():
    proc = _read_one_line_then_hang_up(["walkthrough"])
    assert proc.returncode == 141 and b"Traceback" not in proc.stderr


@pytest.mark.parametrize("args", [["predict", "fashionnet/samples", "--json"], ["summary"]])
def test_a_ctrl_c_python_dropped_still_stops_the_command(invoke, monkeypatch, args):
    """Python runs the Ctrl-C handler wherever the main thread is; in a weakref callback (an import lock's)
    the KeyboardInterrupt is printed as "Exception ignored" and lost, and the second Ctrl-C is already
    ignored: predict then ran to the end and exited 0. The flag the handler sets stops the loop, or at
    the latest the command, with 130."""
    from fashionnet import streams

    monkeypatch.setattr(streams, "_interrupted", True)
    result = invoke(*args, "--weights", "random")
    assert result.exit_code == ExitCode.INTERRUPTED
    assert result.stderr.strip().splitlines()[-1] == "Interrupted."
    if args[0] == "predict":  # stopped before the first image, not after the last
        assert result.stdout == ""
