"""Issue 10: a few hundred generated malformed PNG/JPEG/GIF/TIFF, IDX and safetensors files through
`predict`, `train --data-dir` and `--weights`. Each must end in at most one error line, a documented
exit code and no traceback; most run in-process, a small sample through the installed command.

Issue 17 (below the issue 10 fuzz): the regression checks of its ~450 hostile cases, one group per
class of defect."""

from __future__ import annotations

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
            struct.pack(">I", int(rng.choice([0, 1, 28, 200, 2**31, 2**32 - 1]))) for _ in range(3))
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
        result = invoke("train", "--data-dir", str(work), "--epochs", "1", "--batch-size", "20", "--quiet",
                        "--no-optimizer-state", "--force", "--out", str(tmp_path / "m.safetensors"))
        _check(result, {0, ExitCode.DATA})
        if result.exit_code == 0:
            assert result.stdout.startswith("Saved ")


HOSTILE_VALUES = [float("nan"), float("inf"), -1, 0, 2**70, [], {}, "x" * 5000, True, None, [[[]]], "\x1b[2J\n",
                  {"epochs": "many"}, list(CLASSES)[::-1], 1e308]


def _checkpoint_bytes(tmp_path: Path) -> bytes:
    from fashionnet.model import build_model
    from fashionnet.weights import Checkpoint, save_checkpoint

    path = tmp_path / "base.safetensors"
    metadata = {"classes": list(CLASSES), "test_accuracy": 0.5, "test_loss": 0.9, "epochs": 1, "seed": 0,
                "recipe": {"epochs": 1}, "history": [], "normalization": {"mean": 0.0, "std": 1.0}}
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
    for i, field in enumerate(["classes", "test_accuracy", "test_loss", "epochs", "seed", "recipe", "history",
                               "normalization"] * 4):  # the metadata lies
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
        proc = cli("train", "--data-dir", str(work), "--epochs", "1", "--quiet", "--force", "--out", str(tmp_path / "m.safetensors"))
        err = proc.stderr.decode()
        assert proc.returncode in (0, ExitCode.DATA) and "Traceback" not in err

    for data in _safetensors_variants(_checkpoint_bytes(tmp_path), rng)[::45]:
        (tmp_path / "c.safetensors").write_bytes(data)
        proc = cli("summary", "--weights", str(tmp_path / "c.safetensors"))
        err = proc.stderr.decode()
        assert proc.returncode in (0, ExitCode.WEIGHTS) and "Traceback" not in err
        assert len([line for line in err.splitlines() if line.startswith("error:")]) == (proc.returncode != 0)
