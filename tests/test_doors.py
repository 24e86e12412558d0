"""Issue 23: one door per class of defence, and a hostile matrix over EVERY command of the Typer app.

The commands are enumerated from `fashionnet.cli.app`, never named in a list of tests: a command added
next month fails `test_every_command_is_in_the_hostile_matrix` until MATRIX says how to run it with
hostile inputs, and from then on every test below runs it. Each case asserts one error line at most, a
documented exit code and no traceback. In-process (Typer's runner) wherever a real process is not needed.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from fashionnet.cli import app
from fashionnet.errors import ExitCode
from tests.conftest import ROOT, SAMPLES, run_many

DOCUMENTED = {int(code) for code in ExitCode}
CHATTER = (
    "Using ",
    "Weights:",
    "Wrote ",
    "The plot draws",
    "Training on",
    "Without photo",
    "With ",
    "A small CNN",
    "Test loss",
    "The train loss",
    "Downloading",
)
SHIPPED = ROOT / "fashionnet" / "weights" / "fashionnet.safetensors"
PICTURE = SAMPLES / "4-coat.png"
HOSTILE_NAME = "h\x1b[2J[bold red]x $\\frac$ \udcff"  # ESC, rich markup, mathtext, a byte that is not UTF-8


def commands() -> list[str]:
    """Every command of the app, as Typer registered them."""
    names = []
    for info in app.registered_commands:
        assert info.callback is not None, f"{info.name}: a command without its function"
        names.append(info.name or info.callback.__name__)
    return sorted(names)


@dataclass
class Case:
    """How to run one command against hostile inputs: {W} a checkpoint, {P} a picture, {D} the data
    folder, {O} an output file (its suffix given by `out`). None: the command takes no such input."""

    base: list[str]  # a quick run that succeeds
    weights: list[str] | None = None  # reads a checkpoint ({W})
    picture: list[str] | None = None  # reads a picture ({P})
    out: str | None = None  # suffix of the file `base` writes at {O}, if it writes one
    base_code: int = 0  # what `base` exits with on the test data
    runs_model: bool = True  # computes model outputs from the checkpoint (the finite-output door)
    extra: dict = field(default_factory=dict)


TRAIN = [
    "--data-dir",
    "{D}",
    "--epochs",
    "1",
    "--limit",
    "100",
    "--batch-size",
    "50",
    "--no-teacher",
    "--no-photos",
    "--out",
    "{O}",
    "--quiet",
]
MATRIX: dict[str, Case] = {
    # summary runs the model on a batch of zeros for its shapes, and shows none of its outputs
    "summary": Case([], weights=["--weights", "{W}"], runs_model=False),
    "params": Case(
        ["--plot", "{O}", "--name", "linear_relu_stack.4.bias"],
        weights=["--weights", "{W}"],
        out=".png",
        runs_model=False,
    ),
    "walkthrough": Case(
        ["--step", "1", "--notebook", "{O}"],
        weights=["--weights", "{W}", "--step", "6"],
        picture=["--image", "{P}", "--step", "6"],
        out=".ipynb",
    ),
    "data": Case(["--data-dir", "{D}"], runs_model=False, base_code=ExitCode.DATA),  # 600 training images
    "train": Case(
        TRAIN,
        weights=["--resume", "{W}", "--data-dir", "{D}", "--epochs", "2", "--out", "{O}", "--quiet"],
        out=".safetensors",
    ),
    "evaluate": Case(
        ["--data-dir", "{D}", "--plot", "{O}"], weights=["--weights", "{W}", "--data-dir", "{D}"], out=".png"
    ),
    "predict": Case(["{P}", "--json"], weights=["{P}", "--weights", "{W}"], picture=["{P}"]),
    "explain": Case(["{P}", "--plot", "{O}"], weights=["{P}", "--weights", "{W}"], picture=["{P}"], out=".png"),
    "export": Case(["--out", "{O}", "--json"], weights=["--weights", "{W}", "--out", "{O}"], out=".safetensors"),
}


def fill(args: list[str], **values: str | Path) -> list[str]:
    out = []
    for arg in args:
        for key, value in values.items():
            arg = arg.replace("{" + key + "}", str(value))
        out.append(arg)
    return out


def one_line_at_most(result) -> None:
    """A documented code, no traceback, and at most one line that is not the usual chatter."""
    assert result.returncode in DOCUMENTED, (result.args, result.returncode, result.stderr)
    err = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err and "Error:" not in err.replace("error:", ""), (result.args, err)
    lines = [line for line in err.splitlines() if line.strip() and not line.lstrip().startswith(CHATTER)]
    assert len(lines) <= (0 if result.returncode == 0 else 1), (result.args, err)


def test_every_command_is_in_the_hostile_matrix():
    """A new command fails here until MATRIX says how to run it with hostile inputs."""
    assert commands() == sorted(MATRIX), "add the new command to MATRIX in tests/test_doors.py"


def _scaled(source: Path, dest: Path, factor: float = 1e18) -> Path:
    """A copy whose every weight (and resumable raw weight) is multiplied: finite numbers whose outputs
    overflow float32. Metadata kept."""
    with safe_open(str(source), "pt") as f:
        meta = f.metadata()
    tensors = {k: v * factor if k.endswith("weight") else v for k, v in load_file(source).items()}
    save_file(tensors, dest, metadata=meta)
    return dest


@pytest.fixture(scope="module")
def overflow(tmp_path_factory, trained) -> dict[str, Path]:
    where = tmp_path_factory.mktemp("overflow")
    return {
        "shipped": _scaled(SHIPPED, where / "overflow.safetensors"),
        "resumable": _scaled(trained, where / "resumable.safetensors"),
    }


@pytest.mark.parametrize("command", commands())
def test_outputs_that_are_not_numbers_are_exit_4_in_every_command(cli, tmp_path, fake_data, overflow, command):
    """The model-output door (finite_outputs): wherever a command runs the model, weights whose outputs
    overflow are one line naming the file and exit 4."""
    case = MATRIX[command]
    if case.weights is None:
        return
    weights = overflow["resumable" if command == "train" else "shipped"]
    result = cli(command, *fill(case.weights, W=weights, P=PICTURE, D=fake_data, O=tmp_path / f"o{case.out or ''}"))
    one_line_at_most(result)
    if not case.runs_model:
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode == ExitCode.WEIGHTS, (command, result.stderr)
    assert b"number" in result.stderr and weights.name.encode() in result.stderr, result.stderr
    assert not (tmp_path / f"o{case.out or ''}").exists()  # nothing written


def _hostile_copy(folder: Path, source: Path, suffix: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (HOSTILE_NAME + suffix)
    shutil.copy(source, target)
    return target


@pytest.mark.parametrize("command", commands())
def test_hostile_names_reach_no_terminal_markup_plot_or_json_raw(cli, tmp_path, fake_data, trained, command):
    """The outside-text door (outside_text): a picture, checkpoint, data folder and output named with
    ESC, rich markup, mathtext and a byte that is not UTF-8 - every command answers normally, no ESC
    and no undecodable byte reaches stdout or stderr, and JSON carries path_bytes for the real name.
    On a terminal of 24 columns (narrow terminals, console.unclipped): nothing is cut with '…'."""
    case = MATRIX[command]
    picture = _hostile_copy(tmp_path / "in", PICTURE, ".png")
    weights = _hostile_copy(tmp_path / "w", trained if command == "train" else SHIPPED, ".safetensors")
    data = tmp_path / ("d" + HOSTILE_NAME)
    shutil.copytree(fake_data, data)
    out = tmp_path / "out" / (HOSTILE_NAME + (case.out or ""))
    out.parent.mkdir()
    values = {"W": weights, "P": picture, "D": data, "O": out}
    runs = [case.base] + ([case.weights] if case.weights and command in ("summary", "walkthrough", "train") else [])
    for args in runs:
        result = cli(command, *fill(args, **values), env={"COLUMNS": "24"})
        one_line_at_most(result)
        assert "…".encode() not in result.stdout, (command, result.stdout.decode()[-600:])
        if command == "walkthrough" and args is case.weights:  # its code names the file: UTF-8 names only
            assert result.returncode == ExitCode.USAGE and b"not UTF-8" in result.stderr, result.stderr
            continue
        assert result.returncode == (case.base_code if args is case.base else 0), (command, args, result.stderr)
        for stream in (result.stdout, result.stderr):
            assert b"\x1b" not in stream, (command, stream[-300:])
            stream.decode("utf-8")  # strict: no undecodable bytes written
        if "--json" in args and command != "predict":
            json.loads(result.stdout)  # one strict JSON document
        if "--json" in args and command in ("predict", "export"):
            assert b"_bytes" in result.stdout, result.stdout[:400]
        if case.out and "{O}" in args:
            assert out.exists(), (command, args)
            out.unlink()
    if command == "train":  # the tool reads back what it wrote under such a name
        result = cli("train", *fill(case.weights, **values))
        assert result.returncode == 0, result.stderr


def _hostile_checkpoints(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    made = {
        "empty": b"",
        "truncated": SHIPPED.read_bytes()[:5000],
        "a zip (torch.save)": b"PK\x03\x04" + bytes(60),
        "a huge header": struct.pack("<Q", 2**62) + b"{}",
    }
    files: dict[str, Path] = {}
    for name, content in made.items():
        (folder / f"{len(files)}.safetensors").write_bytes(content)
        files[name] = folder / f"{len(files)}.safetensors"
    (folder / "dir.safetensors").mkdir()
    files["a folder"] = folder / "dir.safetensors"
    os.mkfifo(folder / "fifo.safetensors")
    files["a FIFO"] = folder / "fifo.safetensors"
    return files


@pytest.mark.parametrize("command", commands())
def test_hostile_checkpoints_and_pictures_in_every_command(cli, tmp_path, fake_data, fifo_watchdog, command):
    """Every command that reads a checkpoint refuses each hostile one in one line (exit 4), and every
    command that reads a picture each hostile picture (exit 1): nothing hangs on a FIFO."""
    case = MATRIX[command]
    checkpoints = _hostile_checkpoints(tmp_path / "w")
    fifo_watchdog(checkpoints["a FIFO"])
    for what, weights in checkpoints.items() if case.weights else ():
        result = cli(command, *fill(case.weights, W=weights, P=PICTURE, D=fake_data, O=tmp_path / f"o{case.out or ''}"))
        one_line_at_most(result)
        assert result.returncode == ExitCode.WEIGHTS, (command, what, result.stderr)
    pictures = tmp_path / "p"
    pictures.mkdir()
    (pictures / "empty.png").write_bytes(b"")
    (pictures / "cut.png").write_bytes(PICTURE.read_bytes()[:200])
    (pictures / "text.png").write_bytes(b"not a picture\n")
    os.mkfifo(pictures / "fifo.png")
    fifo_watchdog(pictures / "fifo.png")
    for picture in sorted(pictures.iterdir()) if case.picture else ():
        result = cli(command, *fill(case.picture, P=picture))
        one_line_at_most(result)
        assert result.returncode == ExitCode.INPUT_FAILED, (command, picture.name, result.stderr)


def test_the_resumed_checkpoint_under_a_non_utf8_name(cli, tmp_path, fake_data):
    out = tmp_path / "o\udcff.safetensors"
    first = cli("train", *fill(TRAIN, D=fake_data, O=out))
    assert first.returncode == 0, first.stderr
    again = cli(
        "train",
        "--resume",
        str(out),
        "--data-dir",
        str(fake_data),
        "--limit",
        "100",
        "--epochs",
        "2",
        "--quiet",
        "--json",
    )
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    from fashionnet.outside_text import from_path_bytes

    assert from_path_bytes(report["out_bytes"]) == str(out) and "\\udcff" in report["out"]


def test_matplotlib_titles_never_read_mathtext():
    from fashionnet.outside_text import for_title

    assert for_title("a$\\frac$b\x1b.png") == "a\\$\\frac\\$b\\x1b.png"
    assert for_title("b\udcff.png") == "b\\udcff.png"


# ---- standard streams and the current folder: once, at start-up, for every command ------------------


def test_a_deleted_current_folder_is_one_line_for_every_command(tmp_path):
    """`cd /tmp/g && rmdir /tmp/g && fashionnet predict x.png` died in oneMKL for every torch command:
    start-up refuses it once for all (one real process, every command: the cwd must really be gone)."""
    gone = tmp_path / "gone"

    def leave_a_deleted_folder():
        os.makedirs(gone)
        os.chdir(gone)
        os.rmdir(gone)

    codes, out, err = run_many(
        [[name, *fill(MATRIX[name].base, P="x.png", D="d", O="o")] for name in commands()],
        cwd=tmp_path,
        preexec_fn=leave_a_deleted_folder,
    )
    assert codes == [ExitCode.USAGE] * len(commands()), err
    lines = err.strip().splitlines()
    assert len(lines) == len(commands()) and all("current folder no longer exists" in line for line in lines), err
    assert "oneMKL" not in err and "Traceback" not in err


def test_closed_stdin_is_one_door_for_every_command(monkeypatch, capsys, tmp_path, fake_data):
    """`<&-`: start-up gives every command a stdin that reads as closed (explain - crashed on it)."""
    import signal

    from fashionnet.cli import run

    monkeypatch.chdir(tmp_path)
    handler = signal.getsignal(signal.SIGINT)  # run() installs its own Ctrl-C handler: put this one back
    for name in commands():
        if MATRIX[name].picture is None:
            continue
        monkeypatch.setattr(sys, "stdin", None)
        monkeypatch.setattr(sys, "argv", ["fashionnet", name, *fill(MATRIX[name].picture, P="-")])
        code = run()
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip() and not line.startswith(CHATTER)]
        assert code in (ExitCode.INPUT_FAILED, ExitCode.USAGE) and len(lines) == 1, (name, err)
        assert "Traceback" not in err and ("stdin is closed" in err or code == ExitCode.USAGE), (name, err)
        signal.signal(signal.SIGINT, handler)


def test_closed_stdout_is_one_line_for_every_command(monkeypatch, capsys):
    """`>&-`: every command, one line and exit 2, before any work."""
    from fashionnet.cli import run

    for name in commands():
        monkeypatch.setattr(sys, "stdout", None)
        monkeypatch.setattr(sys, "argv", ["fashionnet", name, *fill(MATRIX[name].base, P="x.png", D="d", O="o")])
        code = run()
        monkeypatch.undo()
        err = capsys.readouterr().err
        assert (
            code == ExitCode.USAGE
            and err.strip() == "error: standard output is closed; redirect it to a file or /dev/null"
        ), (name, err)


def test_matplotlib_never_creates_a_missing_home(monkeypatch, tmp_path):
    from fashionnet.startup import matplotlib_dirs

    for home in (tmp_path / "nohome", Path("/nonexistent-fashionnet-home")):
        monkeypatch.delenv("MPLCONFIGDIR", raising=False)
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
        monkeypatch.setenv("HOME", str(home))
        matplotlib_dirs()
        chosen = Path(os.environ["MPLCONFIGDIR"])
        assert chosen.is_dir() and not home.exists() and not chosen.is_relative_to(home)
    monkeypatch.setenv("HOME", str(tmp_path))  # a real home: matplotlib's own folders under it
    monkeypatch.delenv("MPLCONFIGDIR")
    matplotlib_dirs()
    assert "MPLCONFIGDIR" not in os.environ


def test_matplotlib_is_imported_through_one_door():
    """Only plots._pyplot imports matplotlib: its folders are set there, before the import. (The notebook's
    cells are strings that say `import matplotlib.pyplot`; they run after plots._pyplot, so only real import
    statements count.)"""
    import ast

    def imports_matplotlib(path: Path) -> bool:
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name.split(".")[0] == "matplotlib" for name in names):
                return True
        return False

    importers = [p.relative_to(ROOT) for p in sorted((ROOT / "fashionnet").rglob("*.py")) if imports_matplotlib(p)]
    assert importers == [Path("fashionnet/plots.py")]


# ---- files read: size and header before any allocation ----------------------------------------------


def _npz_with_header(tmp_path: Path, header: bytes) -> Path:
    src = ROOT / "fashionnet" / "drawings" / "photo-drawings.npz"
    out = tmp_path / "hdrbomb.npz"
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(out, "w") as b:
        for name in a.namelist():
            b.writestr(name, header if name == "drawings.npy" else a.read(name))
    return out


def test_a_npy_header_declaring_gigabytes_is_refused_before_it_is_read(tmp_path, invoke, fake_data):
    """Issue 23 item 1: drawings.npy's v2 header declaring 1.5 GiB took 3.9 GB before numpy refused it."""
    import tracemalloc

    bomb = _npz_with_header(tmp_path, b"\x93NUMPY\x02\x00" + struct.pack("<I", 3 << 29) + b" " * 4096)
    tracemalloc.start()
    try:
        result = invoke(
            "train",
            "--photos",
            str(bomb),
            "--epochs",
            "1",
            "--limit",
            "100",
            "--no-teacher",
            "--data-dir",
            str(fake_data),
            "--out",
            str(tmp_path / "o.safetensors"),
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.exit_code == ExitCode.DATA, result.stderr
    assert "header declares 1,610,612,736 bytes" in result.stderr
    assert peak < 64 * 2**20, peak


def test_npy_headers_of_every_version_are_read_by_the_bounded_reader(tmp_path):
    import io

    import numpy as np

    from fashionnet.files import npy_header

    for version in ((1, 0), (2, 0), (3, 0)):
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, np.zeros((3, 28, 28), np.uint8), version=version)
        buffer.seek(0)
        shape, fortran, dtype = npy_header(buffer)
        assert (shape, fortran, dtype) == ((3, 28, 28), False, np.dtype(np.uint8))
    with pytest.raises(ValueError, match="cannot be read"):
        npy_header(io.BytesIO(b"\x93NUMPY\x01\x00" + struct.pack("<H", 8) + b"{'a': 1}"))


# ---- the groups of issue 23 that are not a whole class ------------------------------------------------


def _with_metadata(source: Path, dest: Path, **fields) -> Path:
    with safe_open(str(source), "pt") as f:
        meta = f.metadata()
    meta.update({k: json.dumps(v) for k, v in fields.items()})
    save_file(load_file(source), dest, metadata=meta)
    return dest


def test_markup_and_escapes_in_the_recipe_metadata_are_shown_as_text():
    """Item 2: a shipped recipe's `note` with ESC and rich markup crashed train --recipe tutorial's table."""
    from rich.console import Console

    from fashionnet.render.training import comparison_view
    from fashionnet.tutorial_recipe import RecipeFigures, compare

    note = "\x1b[2J[bold red]x[/bold red] [/]"
    shipped = RecipeFigures("shipped", {"lr": 0.002, "note": note}, [], None, 0.9, 0.3)
    tutorial = RecipeFigures("tutorial", {"lr": 0.001, "batch_size": 64, "epochs": 1}, [], 1.0, 0.5, 0.5)
    console = Console(width=100, record=True, color_system=None)
    console.print(comparison_view(compare(tutorial, shipped)))
    text = console.export_text()
    assert "\x1b" not in text and "[bold red]x[/bold red] [/]" in text


@pytest.mark.parametrize("bad", [{"test_accuracy": "x"}, {"test_accuracy": 1e308}, {"epoch": "three"}])
def test_history_rows_are_checked_like_any_metadata(invoke, tmp_path, bad):
    """Item 12: history values drew a categorical axis or inf%."""
    with safe_open(str(SHIPPED), "pt") as f:
        history = json.loads(f.metadata()["history"])
    history[0].update(bad)
    weights = _with_metadata(SHIPPED, tmp_path / "w.safetensors", history=history)
    result = invoke("summary", "--history", "--weights", str(weights))
    assert result.exit_code == ExitCode.WEIGHTS and "metadata field 'history'" in result.stderr


def test_resume_refusals_come_before_the_data(invoke, tmp_path, trained):
    """Items 10 and 13: a tutorial checkpoint is exit 2 saying so; one without optimizer state and an
    ONNX file are refused by name before any data loads (no --data-dir given: loading would fail)."""
    with safe_open(str(trained), "pt") as f:
        recipe = json.loads(f.metadata()["recipe"])
    tutorial = _with_metadata(trained, tmp_path / "t.safetensors", recipe={**recipe, "name": "tutorial"})
    result = invoke("train", "--resume", str(tutorial), "--data-dir", str(tmp_path / "none"))
    assert result.exit_code == ExitCode.USAGE and "--recipe tutorial" in result.stderr, result.stderr
    result = invoke("train", "--resume", str(SHIPPED), "--epochs", "31", "--data-dir", str(tmp_path / "none"))
    assert result.exit_code == ExitCode.WEIGHTS and "no optimizer state" in result.stderr, result.stderr
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"\x08\x07" + bytes(100))
    result = invoke("train", "--resume", str(onnx), "--data-dir", str(tmp_path / "none"))
    assert result.exit_code == ExitCode.WEIGHTS and "an ONNX model" in result.stderr, result.stderr


def test_explain_refuses_options_json_ignores(invoke):
    """Item 9: as predict refuses --show with --json."""
    for option in (["--show"], ["--lang", "zh"]):
        result = invoke("explain", str(PICTURE), "--json", *option)
        assert result.exit_code == ExitCode.USAGE and "does nothing with --json" in result.stderr


def test_one_mistakes_plot_draws_a_bounded_page(monkeypatch, tmp_path):
    """Item 3: --limit 2000 drew 947 pictures into a 1381x41773 PNG (1.7 GB)."""
    import numpy as np
    from PIL import Image

    from fashionnet import plots
    from fashionnet.evaluate import Mistake

    monkeypatch.setattr(plots, "MISTAKES_PLOT_MAX", 3)  # one row of three, whatever the count
    picture = np.zeros((28, 28), np.uint8).tolist()
    plots.plot_mistakes([Mistake(i, 0, 1, 0.9, picture) for i in range(30)], "mistakes", tmp_path / "m.png")
    width, height = Image.open(tmp_path / "m.png").size
    assert height < 500, (width, height)  # 30 pictures would be five rows


def test_a_full_disk_mid_training_says_which_epoch_is_kept(monkeypatch, invoke, tmp_path, fake_data):
    """Item 10: the second epoch's save fails: the message says epoch 1 is saved and how to go on."""
    from fashionnet import weights
    from fashionnet.errors import OutputError

    real, calls = weights.atomic_write, []

    def full_on_the_second(path, write, claim=None):
        calls.append(path)
        if len(calls) == 2:
            raise OutputError(f"{path}: cannot write (no space left on device); nothing was changed")
        return real(path, write, claim)

    monkeypatch.setattr(weights, "atomic_write", full_on_the_second)
    out = tmp_path / "o.safetensors"
    result = invoke("train", *fill(TRAIN, D=fake_data, O=out)[:-1], "--epochs", "2")
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "epoch 1 is saved in" in result.stderr and f"--resume {out}" in result.stderr, result.stderr
    calls.clear()
    tutorial = invoke(
        "train",
        "--recipe",
        "tutorial",
        "--data-dir",
        str(fake_data),
        "--limit",
        "100",
        "--epochs",
        "2",
        "--out",
        str(tmp_path / "t.safetensors"),
        "--quiet",
    )
    assert tutorial.exit_code == ExitCode.USAGE and "epoch 1 is saved in" in tutorial.stderr, tutorial.stderr


def test_walkthrough_guards_the_model_its_code_builds(cli, fake_data, overflow):
    """The walkthrough's model is built by the tutorial's own code; the door guards it all the same."""
    result = cli(
        "walkthrough", "--real", "--step", "6", "--weights", str(overflow["shipped"]), "--data-dir", str(fake_data)
    )
    assert result.returncode == ExitCode.WEIGHTS and b"not a number" in result.stderr, result.stderr


def test_training_that_diverges_stops_at_the_evaluation(monkeypatch, tmp_path, fake_data):
    """Train's evaluation goes through the door: outputs that stop being numbers end the run, exit 4."""
    import torch

    from fashionnet import data
    from fashionnet.errors import WeightsError
    from fashionnet.recipe import Recipe
    from fashionnet.train import fit

    with pytest.raises(WeightsError, match="training diverged"):
        fit(
            Recipe(epochs=1, batch_size=100, lr=1e30, teacher_epochs=0, photo_share=0.0),
            data.load_split("train", fake_data, limit=100),
            data.load_split("test", fake_data),
            torch.device("cpu"),
        )


def test_outside_text_has_one_door_per_destination():
    """rich's escape and the percent-encoding of names live in outside_text only: every other module
    reaches a destination through its function there."""
    for path in (ROOT / "fashionnet").rglob("*.py"):
        if path.name == "outside_text.py":
            continue
        source = path.read_text()
        assert "rich.markup import escape" not in source, path
        assert "quote(os.fsencode" not in source, path


def test_every_export_format_under_a_hostile_name(cli, tmp_path):
    """TorchScript's loader wants UTF-8 names: the check reads the file through Python instead."""
    for suffix in (".pt", ".onnx"):
        out = tmp_path / (HOSTILE_NAME + suffix)
        result = cli("export", "--out", str(out), "--json")
        one_line_at_most(result)
        assert result.returncode == 0 and out.exists(), result.stderr
        assert json.loads(result.stdout)["out_bytes"].endswith("%FF" + suffix)


def test_a_checkpoint_declaring_more_than_any_checkpoint_holds_is_not_read(monkeypatch, invoke):
    """Files read: a checkpoint's tensors are counted from its header before any is allocated."""
    from fashionnet import weights

    monkeypatch.setattr(weights, "CHECKPOINT_MAX_BYTES", 2**20)  # the shipped weights hold 2.7 MB
    result = invoke("summary", "--weights", str(SHIPPED))
    assert result.exit_code == ExitCode.WEIGHTS and "MiB of tensors" in result.stderr, result.stderr
