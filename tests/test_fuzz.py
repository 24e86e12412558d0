"""Issue 10: a few hundred generated malformed PNG/JPEG/GIF/TIFF, IDX and safetensors files through
`predict`, `train --data-dir` and `--weights`. Each must end in at most one error line, a documented
exit code and no traceback; most run in-process, a small sample through the installed command.

Issue 17 (below the issue 10 fuzz): the regression checks of its ~450 hostile cases, one group per
class of defect."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashionnet import CLASSES
from fashionnet.errors import ExitCode
from tests.conftest import make_fake_fashion

SAMPLE = Path(__file__).resolve().parents[1] / "fashionnet" / "samples" / "4-coat.png"
DOCUMENTED = {int(code) for code in ExitCode}
CHATTER = ("Using ", "Weights:")


def _mutations(data: bytes, rng: np.random.Generator, count: int) -> list[bytes]:
    """`count` damaged copies of `data`: cut short, bytes flipped, bytes inserted, a run zeroed, garbage
    appended, the header shuffled."""
    out = []
    for i in range(count):
        b = bytearray(data)
        kind = i % 6
        if kind == 0:
            b = b[: int(rng.integers(0, len(b)))]
        elif kind == 1:
            for pos in rng.integers(0, len(b), size=int(rng.integers(1, 12))):
                b[pos] ^= int(rng.integers(1, 256))
        elif kind == 2:
            pos = int(rng.integers(0, len(b)))
            b[pos:pos] = rng.integers(0, 256, size=int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
        elif kind == 3:
            pos = int(rng.integers(0, len(b)))
            b[pos : pos + int(rng.integers(1, 256))] = bytes(min(len(b) - pos, 256))
        elif kind == 4:
            b += rng.integers(0, 256, size=int(rng.integers(1, 4096)), dtype=np.uint8).tobytes()
        else:
            head = min(len(b), 32)
            b[:head] = bytes(rng.permutation(np.frombuffer(bytes(b[:head]), np.uint8)))
        out.append(bytes(b))
    return out


def _image_bytes(fmt: str) -> bytes:
    y, x = np.mgrid[0:48, 0:40]
    pixels = ((x * 5 + y * 3) % 256).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def _check(result, allowed_exit: set[int]) -> None:
    assert result.exit_code in allowed_exit & DOCUMENTED, (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith(CHATTER)]
    assert len(errors) == (0 if result.exit_code == 0 else 1), result.stderr


IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "TIFF")


@pytest.mark.parametrize("fmt", IMAGE_FORMATS)
def test_malformed_images_through_predict(invoke, tmp_path, fmt):
    rng = np.random.default_rng(IMAGE_FORMATS.index(fmt))
    for i, data in enumerate(_mutations(_image_bytes(fmt), rng, 45)):
        path = tmp_path / f"fuzz-{i:02}.{fmt.lower()}"
        path.write_bytes(data)
        result = invoke("predict", str(path), "--json", "--weights", "random")
        _check(result, {0, ExitCode.INPUT_FAILED})
        (row,) = [json.loads(line) for line in result.stdout.splitlines()]
        assert ("error" in row) == (result.exit_code == ExitCode.INPUT_FAILED)
        path.unlink()


def _idx_variants(folder: Path, rng: np.random.Generator) -> list[tuple[str, bytes]]:
    """(file name, content) pairs that replace one of the training split's IDX files."""
    images = (folder / "train-images-idx3-ubyte.gz").read_bytes()
    labels = (folder / "train-labels-idx1-ubyte.gz").read_bytes()
    raw = gzip.decompress(images)
    variants = [("train-images-idx3-ubyte.gz", m) for m in _mutations(images, rng, 18)]
    variants += [("train-labels-idx1-ubyte.gz", m) for m in _mutations(labels, rng, 12)]
    variants += [("train-images-idx3-ubyte.gz", gzip.compress(m)) for m in _mutations(raw[:4096], rng, 12)]
    for _ in range(18):  # hostile headers: any magic, any dimensions, little data
        header = struct.pack(">I", int(rng.choice([2051, 2049, 0, 0xFFFFFFFF, 0x0803]))) + b"".join(
            struct.pack(">I", int(rng.choice([0, 1, 28, 200, 2**31, 2**32 - 1]))) for _ in range(3)
        )
        variants.append(("train-images-idx3-ubyte.gz", gzip.compress(header + bytes(int(rng.integers(0, 2000))))))
    return variants


def _data_with(clean: Path, test_split: Path, work: Path, name: str, content: bytes) -> Path:
    """A data folder: the small clean training split with `name` replaced, and the (shared, read-only)
    official-size test split linked in."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    for stem in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (work / stem).write_bytes(content if stem == name else (clean / stem).read_bytes())
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (work / stem).symlink_to(test_split / stem)
    return work


def test_malformed_idx_through_train(invoke, tmp_path, fake_data):
    clean = make_fake_fashion(tmp_path / "clean", 20, 10)
    rng = np.random.default_rng(7)
    for name, content in _idx_variants(clean, rng):
        work = _data_with(clean, fake_data, tmp_path / "work", name, content)
        result = invoke(
            "train",
            "--data-dir",
            str(work),
            "--epochs",
            "1",
            "--batch-size",
            "20",
            "--quiet",
            "--no-optimizer-state",
            "--force",
            "--out",
            str(tmp_path / "m.safetensors"),
        )
        _check(result, {0, ExitCode.DATA})
        if result.exit_code == 0:
            assert result.stdout.startswith("Saved ")


HOSTILE_VALUES = [
    float("nan"),
    float("inf"),
    -1,
    0,
    2**70,
    [],
    {},
    "x" * 5000,
    True,
    None,
    [[[]]],
    "\x1b[2J\n",
    {"epochs": "many"},
    list(CLASSES)[::-1],
    1e308,
]


def _checkpoint_bytes(tmp_path: Path) -> bytes:
    from fashionnet.model import build_model
    from fashionnet.weights import Checkpoint, save_checkpoint

    path = tmp_path / "base.safetensors"
    metadata = {
        "classes": list(CLASSES),
        "test_accuracy": 0.5,
        "test_loss": 0.9,
        "epochs": 1,
        "seed": 0,
        "recipe": {"epochs": 1},
        "history": [],
        "normalization": {"mean": 0.0, "std": 1.0},
    }
    save_checkpoint(path, Checkpoint(build_model().state_dict(), metadata=metadata))
    return path.read_bytes()


def _safetensors_variants(data: bytes, rng: np.random.Generator) -> list[bytes]:
    (n,) = struct.unpack("<Q", data[:8])
    header, body = json.loads(data[8 : 8 + n]), data[8 + n :]
    variants = _mutations(data[: 8 + n + 4096], rng, 20)  # damaged, cut short (the tensors then lie)
    variants += [struct.pack("<Q", size) + data[8:] for size in (0, 1, n - 1, n + 1, 2**40, 2**64 - 1)]
    names = [k for k in header if k != "__metadata__"]
    for i in range(24):  # the JSON header lies about a tensor
        h = json.loads(json.dumps(header))
        entry = h[names[i % len(names)]]
        choice = i % 4
        if choice == 0:
            entry["dtype"] = str(rng.choice(["F16", "BF16", "I64", "U8", "BOOL", "F64", "XYZ"]))
        elif choice == 1:
            entry["shape"] = [int(v) for v in rng.integers(0, 1000, size=int(rng.integers(0, 4)))]
        elif choice == 2:
            entry["data_offsets"] = [int(v) for v in sorted(rng.integers(0, len(body) * 2, size=2))]
        else:
            h[names[i % len(names)]] = "not an object"
        text = json.dumps(h).encode()
        variants.append(struct.pack("<Q", len(text)) + text + body)
    for i, field in enumerate(
        ["classes", "test_accuracy", "test_loss", "epochs", "seed", "recipe", "history", "normalization"] * 4
    ):  # the metadata lies
        h = json.loads(json.dumps(header))
        value = HOSTILE_VALUES[(i * 7) % len(HOSTILE_VALUES)]
        h["__metadata__"][field] = json.dumps(value) if i % 5 else "{not json"
        text = json.dumps(h).encode()
        variants.append(struct.pack("<Q", len(text)) + text + body)
    return variants


def test_malformed_checkpoints_through_weights(invoke, tmp_path):
    rng = np.random.default_rng(11)
    path = tmp_path / "fuzz.safetensors"
    variants = _safetensors_variants(_checkpoint_bytes(tmp_path), rng)
    assert len(variants) >= 80
    for data in variants:
        path.write_bytes(data)
        result = invoke("predict", str(SAMPLE), "--weights", str(path), "--json")
        _check(result, {0, ExitCode.WEIGHTS})


def test_a_sample_through_the_installed_command(installed, cli, tmp_path, fake_data):
    rng = np.random.default_rng(3)
    folder = tmp_path / "images"
    folder.mkdir()
    for fmt in IMAGE_FORMATS:
        for i, data in enumerate(_mutations(_image_bytes(fmt), rng, 6)):
            (folder / f"{fmt.lower()}-{i}.{fmt.lower()}").write_bytes(data)
    proc = installed("predict", str(folder), "--json", "--weights", "random")
    err = proc.stderr.decode()
    assert proc.returncode in (0, ExitCode.INPUT_FAILED) and "Traceback" not in err
    rows = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert len(rows) == 24
    errors = [line for line in err.splitlines() if not line.startswith(CHATTER)]
    assert len(errors) == sum("error" in r for r in rows), "one stderr line per bad file"

    # The rest in-process (`cli`): the same one-line errors, without a process each.
    clean = make_fake_fashion(tmp_path / "data", 20, 10)
    for name, content in _idx_variants(clean, rng)[::30]:
        work = _data_with(clean, fake_data, tmp_path / "work", name, content)
        proc = cli(
            "train",
            "--data-dir",
            str(work),
            "--epochs",
            "1",
            "--quiet",
            "--force",
            "--out",
            str(tmp_path / "m.safetensors"),
        )
        err = proc.stderr.decode()
        assert proc.returncode in (0, ExitCode.DATA) and "Traceback" not in err

    for data in _safetensors_variants(_checkpoint_bytes(tmp_path), rng)[::45]:
        (tmp_path / "c.safetensors").write_bytes(data)
        proc = cli("summary", "--weights", str(tmp_path / "c.safetensors"))
        err = proc.stderr.decode()
        assert proc.returncode in (0, ExitCode.WEIGHTS) and "Traceback" not in err
        assert len([line for line in err.splitlines() if line.startswith("error:")]) == (proc.returncode != 0)


# ======================================================================================================
# Issue 17: one group per class of defect found by ~450 new hostile cases. Each test failed before its fix.
# ======================================================================================================

import os  # noqa: E402
import stat  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tracemalloc  # noqa: E402

from tests.conftest import MANY_RUNS, SAMPLES, copy_tree, default_sigint, run_many, write_idx  # noqa: E402

SMALL_SAMPLE = SAMPLES / "7-sneaker.png"


def _one_error(stderr: str | bytes) -> str:
    text = stderr.decode() if isinstance(stderr, bytes) else stderr
    assert "Traceback" not in text, text
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith(CHATTER)]
    assert len(lines) == 1, text
    return lines[0]


# --- High 1: an IDX header is checked against the file before anything is read ------------------------


def _peak_while(call) -> int:
    tracemalloc.start()
    with contextlib.suppress(Exception):
        call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_idx_memory_is_bounded_by_the_header_not_the_file(tmp_path, invoke):
    from fashionnet import data
    from fashionnet.errors import DataError

    header = (2051).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in (10, 28, 28))
    sparse = tmp_path / "sparse-images-idx3-ubyte"  # the header says 7,840 bytes; the file holds 1 GB
    with open(sparse, "wb") as f:
        f.write(header)
        f.truncate(len(header) + (1 << 30))
    with pytest.raises(
        DataError, match=r"truncated or padded IDX file \(1,073,741,824 bytes of data, header says 7,840\)"
    ):
        data.read_idx(sparse, data.IMAGE_MAGIC)
    assert _peak_while(lambda: data.read_idx(sparse, data.IMAGE_MAGIC)) < 1 << 20

    bomb = tmp_path / "bomb-images-idx3-ubyte.gz"  # 64 MiB of zeros after an honest-looking header
    with gzip.open(bomb, "wb", compresslevel=1) as f:
        f.write(header)
        for _ in range(64):
            f.write(bytes(1 << 20))
    with pytest.raises(DataError, match="padded IDX file"):
        data.read_idx(bomb, data.IMAGE_MAGIC)
    assert _peak_while(lambda: data.read_idx(bomb, data.IMAGE_MAGIC)) < 4 << 20

    folder = make_fake_fashion(tmp_path / "d", 20, 10)
    (folder / "train-images-idx3-ubyte.gz").unlink()
    os.replace(sparse, folder / "train-images-idx3-ubyte")
    result = invoke("data", "--data-dir", str(folder))
    assert result.exit_code == ExitCode.DATA and "train-images-idx3-ubyte" in _one_error(result.stderr)


# --- High 2: every writer, on a full disk: one line, exit 2, no temporary file (no native abort) ------


def test_every_writer_on_a_full_disk(tmpfs):
    pytest.importorskip("onnxruntime")
    full_disk = tmpfs("12k")
    runs = [
        ["export", "--format", fmt, "--out", str(full_disk / f"m{suffix}")]
        for fmt, suffix in (("torchscript", ".pt"), ("onnx", ".onnx"), ("safetensors", ".safetensors"))
    ]
    runs += [
        ["params", "--weights", "random", "--plot", str(full_disk / "n.png"), "--neurons", "64"],
        ["walkthrough", "--notebook", str(full_disk / "w.ipynb")],
    ]
    codes, _, err = run_many(runs)  # a separate process: TorchScript's abort would take pytest down
    assert codes == [ExitCode.USAGE] * len(runs), err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == len(runs) and all("no space left on device" in line for line in errors), err
    assert "c10::Error" not in err and "terminate called" not in err
    assert list(full_disk.iterdir()) == [], "no temporary file left behind"


# --- Medium 4: COLUMNS that is no terminal width --------------------------------------------------------


@pytest.mark.parametrize("columns", ["0", "3", "99999999"])
def test_absurd_columns_mean_the_default_width(cli, fake_data, tmp_path, columns):
    commands = [
        ["summary", "--weights", "random"],
        ["params", "--weights", "random", "--name", "*.4.bias"],
        ["data", "--data-dir", str(fake_data)],
        ["evaluate", "--data-dir", str(fake_data), "--weights", "random"],
        ["walkthrough", "--step", "2"],
        ["predict", str(SAMPLES), "--weights", "random"],
        ["export", "--format", "safetensors", "--out", str(tmp_path / "m.safetensors"), "--force"],
    ]
    for args in commands:
        normal = cli(*args).stdout.decode()
        odd = cli(*args, env={"COLUMNS": columns}).stdout.decode()
        assert normal.strip() and odd == normal, (args, odd[:200])


# --- Medium 5: no traceback from closed stdin, exotic dtypes, fixed-output ONNX, completion -------------


def _closed_stdin() -> None:
    default_sigint()
    os.close(0)  # `<&-`: the process starts with no standard input at all


def test_closed_stdin_and_a_current_folder_deeper_than_path_max(tmp_path):
    """One real process, started with stdin closed (`<&-`) in a folder whose path is over PATH_MAX
    (`import torch` died there in native code): both commands answer normally."""
    deep = tmp_path
    fd = os.open(deep, os.O_RDONLY)
    try:
        for _ in range(18):  # 18 x 251 bytes: over 4,096
            os.mkdir("d" * 250, dir_fd=fd)
            inner = os.open("d" * 250, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        runs = [["summary", "--weights", "random"], ["predict", "-", "--weights", "random", "--json"]]
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                "import os, sys; os.fchdir(int(sys.argv[1])); "
                "os.execv(sys.executable, [sys.executable, '-c', sys.argv[2], *sys.argv[3:]])",
                str(fd),
                MANY_RUNS,
                json.dumps(runs),
                "[]",
            ],
            capture_output=True,
            pass_fds=(fd,),
            timeout=300,
            preexec_fn=_closed_stdin,
            env={**os.environ, "NO_COLOR": "1"},
        )
    finally:
        os.close(fd)
    err = proc.stderr.decode()
    assert "CODES " in err and "oneMKL" not in err and "Traceback" not in err, err
    codes = json.loads(err.rsplit("CODES ", 1)[1])
    assert codes == [0, ExitCode.INPUT_FAILED], err
    assert "669,706" in proc.stdout.decode()
    row = json.loads(proc.stdout.decode().splitlines()[-1])
    assert row["path"] == "-" and "stdin is closed" in row["error"]


EXOTIC_DTYPES = ["float8_e4m3fn", "float8_e5m2", "float8_e8m0fnu", "complex64", "bool"]


def test_exotic_dtype_checkpoints_are_exit_4_in_every_command(invoke, tmp_path, fake_data, trained):
    import torch
    from safetensors.torch import load_file, save_file

    from fashionnet.model import build_model

    for name in EXOTIC_DTYPES:
        path = tmp_path / f"{name}.safetensors"
        save_file({k: v.to(getattr(torch, name)) for k, v in build_model().state_dict().items()}, str(path))
        resumable = tmp_path / f"{name}-resume.safetensors"
        state = load_file(str(trained))
        state = {k: (v.to(getattr(torch, name)) if k.startswith("training.optim.") else v) for k, v in state.items()}
        from safetensors import safe_open

        with safe_open(str(trained), framework="pt") as f:
            save_file(state, str(resumable), metadata=f.metadata())
        for args in (
            ["summary"],
            ["params"],
            ["predict", str(SMALL_SAMPLE)],
            ["walkthrough", "--step", "1"],
            ["evaluate", "--data-dir", str(fake_data)],
            ["export", "--out", str(tmp_path / "x.safetensors")],
        ):
            result = invoke(*args, "--weights", str(path))
            assert result.exit_code == ExitCode.WEIGHTS, (name, args, result.stderr)
            assert "dtype" in _one_error(result.stderr)
        result = invoke(
            "train",
            "--data-dir",
            str(fake_data),
            "--resume",
            str(resumable),
            "--epochs",
            "2",
            "--quiet",
            "--out",
            str(tmp_path / "r.safetensors"),
        )
        assert result.exit_code == ExitCode.WEIGHTS and "finite" in _one_error(result.stderr), (name, result.stderr)


def _onnx_graph(path: Path, nodes, initializers=(), out_shape=("N", 10), opset=17, **model_kwargs) -> Path:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", 28, 28])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, list(out_shape))
    graph = helper.make_graph(nodes, "hostile", [x], [y], initializer=list(initializers))
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], **model_kwargs), str(path))
    return path


def _linear_nodes(last_output="logits"):
    from onnx import helper, numpy_helper

    weight = numpy_helper.from_array(np.zeros((784, 10), np.float32), "W")
    bias = numpy_helper.from_array(np.zeros(10, np.float32), "B")
    nodes = [
        helper.make_node("Flatten", ["pixels"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W", "B"], [last_output]),
    ]
    return nodes, [weight, bias]


def test_onnx_with_a_fixed_one_row_output_is_refused_at_load(invoke, tmp_path):
    pytest.importorskip("onnxruntime")
    nodes, init = _linear_nodes()
    path = _onnx_graph(tmp_path / "one-row.onnx", nodes, init, out_shape=(1, 10))
    result = invoke("predict", str(SAMPLES), "--weights", str(path), "--json")
    assert result.exit_code == ExitCode.WEIGHTS, result.stderr
    assert "returns [1, 10]" in _one_error(result.stderr) and result.stdout == ""


def test_hostile_onnx_graphs_are_refused_before_they_run(invoke, tmp_path):
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    nodes, init = _linear_nodes("raw")
    cases = {
        "Sigmoid": (nodes + [helper.make_node("Sigmoid", ["raw"], ["logits"])], init),
        "ConstantOfShape": (
            nodes
            + [
                helper.make_node("Constant", [], ["shape"], value=numpy_helper.from_array(np.array([1, 10], np.int64))),
                helper.make_node("ConstantOfShape", ["shape"], ["zeros"]),
                helper.make_node("Add", ["raw", "zeros"], ["logits"]),
            ],
            init,
        ),
        "Loop": (
            nodes
            + [
                helper.make_node(
                    "Loop",
                    ["", ""],
                    ["logits"],
                    body=helper.make_graph([], "body", [helper.make_tensor_value_info("i", TensorProto.INT64, [])], []),
                )
            ],
            init,
        ),
        "custom domain": (nodes + [helper.make_node("Relu", ["raw"], ["logits"], domain="com.evil")], init),
    }
    for name, (graph_nodes, graph_init) in cases.items():
        path = _onnx_graph(tmp_path / f"{name.replace(' ', '-')}.onnx", graph_nodes, graph_init)
        result = invoke("predict", str(SMALL_SAMPLE), "--weights", str(path), "--json")
        assert result.exit_code == ExitCode.WEIGHTS, (name, result.stderr)
        assert "not the graph of a fashionnet export" in _one_error(result.stderr), name
    external = tmp_path / "external.onnx"  # tensors kept in another file
    onnx = pytest.importorskip("onnx")
    nodes, init = _linear_nodes()
    model = onnx.load(str(_onnx_graph(external, nodes, init)))
    onnx.save(
        model,
        str(external),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        size_threshold=0,
        location="weights.bin",
    )
    result = invoke("predict", str(SMALL_SAMPLE), "--weights", str(external))
    assert result.exit_code == ExitCode.WEIGHTS and "external data" in _one_error(result.stderr)
    nodes, init = _linear_nodes()  # the ops of a real export still run
    fine = invoke("predict", str(SMALL_SAMPLE), "--weights", str(_onnx_graph(tmp_path / "plain.onnx", nodes, init)))
    assert fine.exit_code == 0, fine.stderr


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")  # the shell is given as a value
    return home


def test_install_completion_follows_the_file_rules(cli, home, tmp_path):
    (home / ".bashrc").write_text("alias ll='ls -l'\n")
    ok = cli("--install-completion", "bash")
    assert ok.returncode == 0, ok.stderr
    script = home / ".bash_completions" / "fashionnet.sh"
    assert "_fashionnet_completion" in script.read_text()
    assert (home / ".bashrc").read_text() == f"alias ll='ls -l'\nsource '{script}'\n"
    assert cli("--install-completion", "bash").returncode == 0
    assert (home / ".bashrc").read_text().count("source ") == 1, "installed once"

    (home / ".bashrc").unlink()
    (home / ".bashrc").mkdir()  # a directory .bashrc
    result = cli("--install-completion", "bash")
    assert result.returncode == ExitCode.USAGE and ".bashrc" in _one_error(result.stderr)
    (home / ".bashrc").rmdir()
    (home / ".bashrc").symlink_to("/proc/version")  # read-only, like home-manager's link into /nix/store
    result = cli("--install-completion", "bash")
    assert result.returncode == ExitCode.USAGE and "yourself" in _one_error(result.stderr)


def test_install_completion_from_sh_says_so_on_stderr(cli, home, monkeypatch):
    import fashionnet.completion

    monkeypatch.delenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION")  # the shell is detected: it is sh
    monkeypatch.setattr(fashionnet.completion, "detect_shell", lambda: "sh")
    sh = cli("--install-completion")
    assert sh.returncode == ExitCode.USAGE and sh.stdout == b""
    assert "cannot install completion for the sh shell" in _one_error(sh.stderr)
    assert list(home.iterdir()) == []


def test_install_completion_never_creates_a_home(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "nonexistent"))
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    result = cli("--install-completion", "bash")
    assert result.returncode == ExitCode.USAGE and "does not exist" in _one_error(result.stderr)
    assert not (tmp_path / "nonexistent").exists()


@pytest.mark.parametrize("cword", ["abc", "", "-1"])
def test_malformed_comp_cword_is_one_line(cli, cword):
    result = cli(env={"_FASHIONNET_COMPLETE": "complete_bash", "COMP_WORDS": "fashionnet pre", "COMP_CWORD": cword})
    assert result.returncode == ExitCode.USAGE and "COMP_CWORD" in _one_error(result.stderr)


# --- Medium 6: two runs writing one --out --------------------------------------------------------------


def test_a_checkpoint_another_run_wrote_is_not_replaced(fake_data, tmp_path):
    import torch

    from fashionnet import data
    from fashionnet.errors import OutputError
    from fashionnet.recipe import Recipe
    from fashionnet.train import fit

    out = tmp_path / "same.safetensors"

    class OtherRunSaves:  # the other `train --out same.safetensors` saves between our epochs
        def epoch_start(self, epoch, epochs, batches):
            if epoch == 2:
                out.write_bytes(b"the other run's checkpoint")

        def batch_end(self, *args):
            pass

        def epoch_end(self, stats):
            pass

    train, test = data.load_split("train", fake_data), data.load_split("test", fake_data)
    with pytest.raises(OutputError, match="another process wrote it while this run was going"):
        fit(Recipe(epochs=2, batch_size=200), train, test, torch.device("cpu"), out=out, callbacks=OtherRunSaves())
    assert out.read_bytes() == b"the other run's checkpoint"
    assert [p.name for p in tmp_path.iterdir()] == ["same.safetensors"]

    from fashionnet.files import OutputClaim, write_bytes_atomically

    late = tmp_path / "late.png"
    claim = OutputClaim(late)  # checked while absent; another run creates it before we save
    late.write_bytes(b"theirs")
    with pytest.raises(OutputError):
        write_bytes_atomically(late, b"ours", claim)
    assert late.read_bytes() == b"theirs"


# --- Medium 7: quoted globs through `..` links -----------------------------------------------------------


def test_glob_through_dot_dot_links_lists_each_folder_once(cli, tmp_path, monkeypatch, fifo_watchdog):
    tree = tmp_path / "L"
    (tree / "a" / "b").mkdir(parents=True)
    shutil.copy(SMALL_SAMPLE, tree / "top.png")
    shutil.copy(SMALL_SAMPLE, tree / "a" / "b" / "deep.png")
    os.mkfifo(tree / "a" / "pipe.png")
    fifo_watchdog(tree / "a" / "pipe.png")
    (tree / "a" / "up").symlink_to("..")
    (tree / "a" / "b" / "up").symlink_to("../..")
    listed: list[str] = []
    real_scandir = os.scandir

    def counting(path="."):
        listed.append(os.fspath(path))
        if len(listed) > 200:
            raise AssertionError("the pattern is being expanded without end")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", counting)
    monkeypatch.chdir(tmp_path)
    result = cli("predict", "L/**/*.png", "--json", "--weights", "random")
    rows = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert sorted(Path(r["path"]).name for r in rows) == ["deep.png", "pipe.png", "top.png"]
    assert sum("FIFO" in r.get("error", "") for r in rows) == 1, "the FIFO is reported once"
    assert len(listed) <= 4, listed  # L, L/a, L/a/b and nothing twice


# --- Medium 9: the export report is printable ----------------------------------------------------------


def test_export_report_shows_no_terminal_escapes(invoke, tmp_path, monkeypatch):
    from fashionnet.model import build_model
    from fashionnet.weights import Checkpoint, save_checkpoint

    nasty = tmp_path / "w\x1b[2J\x1b]0;owned\x07.safetensors"
    save_checkpoint(nasty, Checkpoint(build_model().state_dict()))
    out = tmp_path / "m\x1b[31m.pt"
    monkeypatch.setenv("COLUMNS", "400")  # the whole path on one line
    result = invoke("export", "--weights", str(nasty), "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "m\\x1b[31m.pt" in result.stdout and "w\\x1b[2J\\x1b]0;owned\\x07.safetensors" in result.stdout


# --- Low 13, 14, 16, 17, 18, 21: writers and their checks ---------------------------------------------


def test_half_export_of_weights_beyond_float16_is_exit_5(invoke, tmp_path):
    import torch

    from fashionnet.model import build_model
    from fashionnet.weights import Checkpoint, save_checkpoint

    state = build_model().state_dict()
    state["linear_relu_stack.4.weight"][0, 0] = 1e5
    save_checkpoint(tmp_path / "big.safetensors", Checkpoint(state))
    for fmt in ("safetensors", "torchscript"):
        result = invoke(
            "export",
            "--half",
            "--format",
            fmt,
            "--weights",
            str(tmp_path / "big.safetensors"),
            "--out",
            str(tmp_path / f"h.{fmt}"),
        )
        assert result.exit_code == ExitCode.EXPORT_FAILED, result.stderr
        line = _one_error(result.stderr)
        assert "65504" in line and ".tmp" not in line and "nothing was written" in line.lower()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.safetensors"]
    assert torch.isfinite(state["linear_relu_stack.4.weight"]).all()


def test_evaluate_refuses_weights_whose_outputs_are_not_numbers(invoke, tmp_path, fake_data):
    import torch
    from safetensors.torch import save_file

    from fashionnet.model import build_model

    save_file(
        {k: torch.full_like(v, 3e38) for k, v in build_model().state_dict().items()}, str(tmp_path / "huge.safetensors")
    )
    result = invoke("evaluate", "--data-dir", str(fake_data), "--weights", str(tmp_path / "huge.safetensors"))
    assert result.exit_code == ExitCode.WEIGHTS and result.stdout == ""
    assert "huge.safetensors" in _one_error(result.stderr) and "not a number" in result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root (CI runs as root)")
def test_force_keeps_the_replaced_files_mode_and_owner(invoke, tmp_path):
    out = tmp_path / "m.safetensors"
    out.write_bytes(b"old")
    out.chmod(0o600)
    os.chown(out, 65534, 65534)
    result = invoke("export", "--out", str(out), "--force")
    assert result.exit_code == 0, result.stderr
    st = out.stat()
    assert stat.S_IMODE(st.st_mode) == 0o600 and (st.st_uid, st.st_gid) == (65534, 65534)
    assert out.read_bytes()[:8] != b"old"


def test_long_output_names(invoke, tmp_path, fake_data, monkeypatch):
    long = tmp_path / ("n" * 239 + ".safetensors")  # 251 bytes: fits, though NAME.PID.xxxx.tmp would not
    result = invoke("export", "--out", str(long))
    assert result.exit_code == 0 and long.exists(), result.stderr
    import fashionnet.train as training

    monkeypatch.setattr(training, "fit", lambda *a, **k: pytest.fail("trained before refusing the name"))
    too_long = tmp_path / ("n" * 245 + ".safetensors")  # 257 bytes
    result = invoke("train", "--data-dir", str(fake_data), "--out", str(too_long))
    assert result.exit_code == ExitCode.USAGE and "file name too long" in _one_error(result.stderr)


def test_tilde_means_home_in_every_path_option(invoke, tmp_path, monkeypatch, fake_data):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    pytest.importorskip("matplotlib")
    shutil.copytree(fake_data, home / "data", symlinks=True)
    assert invoke("export", "--format", "safetensors", "--out", "~/m.safetensors").exit_code == 0
    assert invoke("walkthrough", "--step", "1", "--notebook", "~/w.ipynb").exit_code == 0
    assert invoke("evaluate", "--data-dir", "~/data", "--weights", "random", "--plot", "~/c.png").exit_code == 0
    result = invoke(
        "train", "--data-dir", "~/data", "--epochs", "1", "--quiet", "--out", "~/t.safetensors", "--plot", "~/h.png"
    )
    assert result.exit_code == 0, result.stderr
    result = invoke("train", "--data-dir", "~/data", "--epochs", "2", "--quiet", "--resume", "~/t.safetensors")
    assert result.exit_code == 0, result.stderr
    assert {p.name for p in home.iterdir()} >= {"m.safetensors", "w.ipynb", "c.png", "t.safetensors", "h.png"}
    assert list(work.iterdir()) == [], "no literal ./~ folder"


def test_format_that_contradicts_the_suffix_is_refused(invoke, tmp_path):
    for fmt, name in (("torchscript", "ts.onnx"), ("onnx", "m.pt"), ("safetensors", "m.onnx")):
        result = invoke("export", "--format", fmt, "--out", str(tmp_path / name))
        assert result.exit_code == ExitCode.USAGE and "is named like" in _one_error(result.stderr), result.stderr
    assert list(tmp_path.iterdir()) == []


# --- Low 19: paths in CSV and JSON ---------------------------------------------------------------------


def test_csv_neutralises_formulas_and_every_path_is_recoverable(invoke, tmp_path):
    import csv
    from urllib.parse import unquote_to_bytes

    names = ['=HYPERLINK("http:x").png', "@SUM(A1).png", "+1.png", "bad\nname.png", "plain.png"]
    for name in names:
        shutil.copy(SMALL_SAMPLE, tmp_path / name)
    raw = os.fsencode(tmp_path) + b"/caf\xe9.png"  # not UTF-8: Python keeps the byte as a lone surrogate
    shutil.copy(SMALL_SAMPLE, raw)
    result = invoke("predict", str(tmp_path), "--csv", "--weights", "random")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 6
    for row in rows:
        real = unquote_to_bytes(row["path_bytes"]) if row["path_bytes"] else os.fsencode(row["path"])
        assert os.path.exists(real), row
        assert not row["path"].startswith(("=", "+", "@")), "a formula would run in a spreadsheet"
        assert all(not str(v).startswith(("=", "+", "@")) for v in row.values())
    plain = next(r for r in rows if r["path"].endswith("plain.png"))
    assert plain["path_bytes"] == ""
    result = invoke("predict", str(tmp_path), "--json", "--weights", "random")
    lines = result.stdout.splitlines()
    for line in lines:
        row = json.loads(line)
        row["path"].encode("utf-8")  # strict: no lone surrogates
        real = unquote_to_bytes(row["path_bytes"]) if "path_bytes" in row else os.fsencode(row["path"])
        assert os.path.exists(real), row
    assert sum("path_bytes" in json.loads(line) for line in lines) == 1


# --- Low 20: a test split that `data` calls incomplete ------------------------------------------------


def test_train_and_evaluate_refuse_an_incomplete_test_split(invoke, tmp_path, fake_data):
    folder = copy_tree(fake_data, tmp_path / "d")
    write_idx(folder / "t10k-images-idx3-ubyte", np.zeros((1, 28, 28)), 2051)
    write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros(1), 2049)
    for args in (
        ["evaluate", "--weights", "random"],
        ["train", "--epochs", "1", "--out", str(tmp_path / "m.safetensors")],
        ["data"],
    ):
        result = invoke(*args, "--data-dir", str(folder))
        assert result.exit_code == ExitCode.DATA, (args, result.stderr)
        assert "test: 1 samples, the official split has 10,000" in _one_error(result.stderr)
        assert "100.00%" not in result.stdout
    assert not (tmp_path / "m.safetensors").exists()


# --- Low 22: messages ---------------------------------------------------------------------------------


def test_messages_name_where_a_value_came_from(invoke, monkeypatch):
    monkeypatch.setenv("FASHIONNET_DEVICE", "TPU")
    result = invoke("summary", "--weights", "random")
    assert result.exit_code == ExitCode.USAGE
    assert "unknown device 'TPU' (from $FASHIONNET_DEVICE)" in _one_error(result.stderr)
    monkeypatch.delenv("FASHIONNET_DEVICE")
    assert "unknown device 'GPU0':" in invoke("summary", "--device", "GPU0").stderr, "shown as typed"
    result = invoke("predict", str(SMALL_SAMPLE), "--threshold", "nan")
    assert result.exit_code == ExitCode.USAGE and "nan is not a number from 0 to 1" in _one_error(result.stderr)
    for flag in ("--json", "--csv"):
        result = invoke("predict", str(SMALL_SAMPLE), "--show", flag)
        assert result.exit_code == ExitCode.USAGE and "--show" in _one_error(result.stderr)


def test_summary_history_is_shown_without_json(invoke, trained):
    result = invoke("summary", "--weights", str(trained), "--history")
    assert result.exit_code == 0, result.stderr
    assert "Training history" in result.stdout and "Test acc" in result.stdout
    nothing = invoke("summary", "--weights", "random", "--history")
    assert nothing.exit_code == 0 and "no training history" in nothing.stderr


# --- Low 23: `predict -r` past PATH_MAX -----------------------------------------------------------------


def test_recursive_walk_names_folders_past_path_max(invoke, tmp_path):
    top = tmp_path / "top"
    top.mkdir()
    shutil.copy(SMALL_SAMPLE, top / "near.png")
    fd = os.open(top, os.O_RDONLY)
    try:
        for _ in range(17):  # ~4,300 bytes of path below top
            os.mkdir("d" * 250, dir_fd=fd)
            inner = os.open("d" * 250, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
    finally:
        os.close(fd)
    result = invoke("predict", str(top), "-r", "--json", "--weights", "random")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == ExitCode.INPUT_FAILED
    assert [Path(r["path"]).name for r in rows if "label" in r] == ["near.png"]
    (deep,) = [r for r in rows if "error" in r]
    assert "path too long" in deep["error"], deep
