"""Checkpoints: safetensors files with self-describing metadata, loaded without pickle, written atomically."""

from __future__ import annotations

import contextlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeGuard

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from fashionnet import CLASSES, SEED_MAX, calibration
from fashionnet.errors import UsageError, WeightsError, printable
from fashionnet.files import OutputClaim, atomic_write, input_file_problem
from fashionnet.model import NeuralNetwork, build_model

SHIPPED_WEIGHTS = Path(__file__).resolve().parent / "weights" / "fashionnet.safetensors"
RANDOM = "random"  # --weights random: fresh initial weights from --seed
FORMAT = "fashionnet-checkpoint/1"
TRAINING_PREFIX = "training."  # optimizer/RNG state for --resume: same file, never loaded into the model


@dataclass
class Checkpoint:
    """What a checkpoint file holds: model tensors, optional training-state tensors and JSON metadata."""

    model: dict[str, torch.Tensor]
    training: dict[str, torch.Tensor] = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)


@dataclass
class WeightsInfo:
    """Which weights a command is using, for the 'weights:' line every command prints."""

    source: str  # "shipped", "random" or "file" (then `path` says which)
    path: Path | None = None
    seed: int | None = None
    metadata: dict = field(default_factory=dict)

    @property
    def test_accuracy(self) -> float | None:
        value = self.metadata.get("test_accuracy")
        return float(value) if value is not None else None

    @property
    def temperature(self) -> float:
        """The calibration temperature (validated when the checkpoint was loaded); 1.0 when there is none."""
        value = self.metadata.get(calibration.METADATA_KEY)
        return float(value) if value is not None else 1.0

    def standardisation(self) -> tuple[float, float] | None:
        """(mean, std) the recipe standardised pixels with (folded into the first layer when saving), when
        the checkpoint records real ones that change anything; None otherwise."""
        recipe = self.metadata.get("recipe")
        mean, std = (recipe.get("mean"), recipe.get("std")) if isinstance(recipe, dict) else (None, None)
        if not (is_real(mean) and is_real(std)) or not (0 < std < 1e6 and abs(mean) < 1e6) or (mean, std) == (0, 1):
            return None
        return float(mean), float(std)

    def describe(self) -> str:
        if self.source == RANDOM:
            return f"random init, seed {self.seed} (untrained: predictions are guesses)"
        label = "shipped" if self.source == "shipped" else printable(str(self.path))
        acc = self.test_accuracy
        return f"{label}" + (f" (test accuracy {acc:.2%})" if acc is not None else "")

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "path": str(self.path) if self.path else None,
            "seed": self.seed,
            "test_accuracy": self.test_accuracy,
            "metadata": self.metadata,
        }


def encode_metadata(metadata: dict) -> dict[str, str]:
    # safetensors metadata is str -> str; every value is stored as JSON so types survive.
    return {"format": FORMAT, **{k: json.dumps(v) for k, v in metadata.items() if k != "format"}}


def decode_metadata(raw: dict[str, str] | None) -> dict:
    # In key order: safetensors and onnxruntime hand metadata over as hash maps, whose order changes
    # from run to run, and --json must print the same bytes every time.
    out = {}
    for key, value in sorted((raw or {}).items()):
        if key == "format":
            continue
        try:
            out[key] = json.loads(value)
        except (TypeError, ValueError, RecursionError):
            out[key] = value
    return out


def is_whole(value) -> bool:
    """A JSON whole number (true/false are not numbers here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_real(value: object) -> TypeGuard[float]:
    """A finite JSON number (true/false, NaN and infinity are not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _flat_numbers(value) -> bool:
    """A JSON object whose values are finite numbers, booleans, strings or null (a recipe, a history row)."""
    return isinstance(value, dict) and all(
        v is None or isinstance(v, (bool, str)) or is_real(v) for v in value.values()
    )


def _share(v) -> bool:
    return v is None or (is_real(v) and 0 <= v <= 1)


def _at_least_0(v) -> bool:
    return v is None or (is_real(v) and v >= 0)


# Each field of a history row fashionnet reads (train.EpochStats), and what it must be: a table or a plot
# shows them (`summary --history`, `train --recipe tutorial --plot`), so "x" or 1e308 must not get there.
EPOCH_FIELDS = {
    "epoch": lambda v: is_whole(v) and 1 <= v <= 1_000_000,
    "train_accuracy": _share,
    "test_accuracy": _share,
    "train_loss": _at_least_0,
    "test_loss": _at_least_0,
    "seconds": _at_least_0,
    "samples_per_second": _at_least_0,
    "lr": _at_least_0,
}


def _epoch_record(value) -> bool:
    return _flat_numbers(value) and all(ok(value[k]) for k, ok in EPOCH_FIELDS.items() if k in value)


# What each metadata field fashionnet reads must be; a field that fails names itself in the error.
# Fields this version does not know (written by newer versions) are left alone.
METADATA_RULES: dict[str, tuple] = {
    "classes": (lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v), "a list of class names"),
    "test_accuracy": (lambda v: v is None or (is_real(v) and 0 <= v <= 1), "a number from 0 to 1"),
    "test_loss": (lambda v: v is None or (is_real(v) and v >= 0), "a number of at least 0"),
    "epochs": (lambda v: is_whole(v) and 0 <= v <= 1_000_000, "a whole number of epochs"),
    "steps": (lambda v: is_whole(v) and 0 <= v <= 2**40, "a whole number of steps"),
    "train_samples": (lambda v: is_whole(v) and 1 <= v <= 2**40, "a whole number of images"),
    "photo_samples": (lambda v: is_whole(v) and 0 <= v <= 2**40, "a whole number of photo drawings"),
    "teacher": (lambda v: _flat_numbers(v), "an object of numbers, strings, booleans or nulls"),
    "photo_teacher": (lambda v: _flat_numbers(v), "an object of numbers, strings, booleans or nulls"),
    "seed": (lambda v: is_whole(v) and 0 <= v <= SEED_MAX, f"a whole number from 0 to {SEED_MAX}"),
    "torch_version": (lambda v: isinstance(v, str), "a string"),
    "normalization": (lambda v: _flat_numbers(v), "an object of numbers, strings, booleans or nulls"),
    "recipe": (lambda v: _flat_numbers(v), "an object of numbers, strings, booleans or nulls"),
    "history": (
        lambda v: isinstance(v, list) and all(_epoch_record(h) for h in v),
        "a list of epoch records (whole epochs from 1, accuracies from 0 to 1, losses and times of at least 0)",
    ),
    # fit_temperature searches 0.05..20; far outside that a "temperature" only breaks the probabilities
    calibration.METADATA_KEY: (
        lambda v: v is None or (is_real(v) and 0.01 <= v <= 100),
        "a temperature from 0.01 to 100",
    ),
    "optimizer_param_groups": (
        lambda v: isinstance(v, list) and all(isinstance(g, dict) for g in v),
        "a list of objects",
    ),
}


def metadata_error(path: Path, name: str, why: str) -> WeightsError:
    return WeightsError(f"{path}: metadata field '{printable(name)}' {why}")


def check_metadata(path: Path, metadata: dict) -> None:
    """Metadata is input like any other: every field fashionnet reads must have the right type and range."""
    for name, (ok, what) in METADATA_RULES.items():
        if name in metadata and not ok(metadata[name]):
            shown = printable(json.dumps(metadata[name]))
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            raise metadata_error(path, name, f"must be {what}, not {shown}")
    classes = metadata.get("classes")
    if classes is not None and list(classes) != list(CLASSES):
        names = printable(", ".join(classes))
        raise WeightsError(f"{path}: trained for other classes ({names}), not FashionMNIST's")


def save_checkpoint(path: Path, checkpoint: Checkpoint, claim: OutputClaim | None = None) -> None:
    """Write atomically (see files.atomic_write): never a half-written checkpoint; with a `claim`, never
    over a file another process wrote meanwhile."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in checkpoint.model.items()}
    tensors.update({TRAINING_PREFIX + k: v.detach().to("cpu").contiguous() for k, v in checkpoint.training.items()})
    atomic_write(Path(path), lambda tmp: save_file(tensors, tmp, metadata=encode_metadata(checkpoint.metadata)), claim)


# The dtypes a checkpoint's weights may have: the model computes in float32, and these convert to it
# exactly or by rounding. float8/float4 (quantised) files are refused: torch cannot even check them for NaN.
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_DTYPE_NAMES = "float16, bfloat16, float32 or float64"


def finite_float_problem(tensor: torch.Tensor) -> str | None:
    """Why a tensor cannot be used as weights or optimizer state ('has dtype ...', 'holds NaN ...'), or None."""
    if tensor.dtype not in FLOAT_DTYPES:
        return f"has dtype {str(tensor.dtype).removeprefix('torch.')}; fashionnet reads {_DTYPE_NAMES}"
    if not bool(torch.isfinite(tensor).all()):
        return "holds NaN or infinite values; the model cannot use it"
    return None


_PICKLE_HINT = (
    'convert it with: python -c "import torch; from safetensors.torch import save_file; '
    "save_file(torch.load('IN.pt', weights_only=True), 'OUT.safetensors')\""
)


def _foreign_format(path: Path) -> str | None:
    """Name the common files that are not safetensors, from their first bytes (or an ONNX file's suffix:
    protobuf has no magic number)."""
    if path.suffix.lower() == ".onnx":
        return "not a safetensors checkpoint: an ONNX model (as export writes), which only predict and evaluate run"
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return None
    if head.startswith(b"PK\x03\x04"):
        return f"not a safetensors file: a zip archive, as torch.save and TorchScript write; {_PICKLE_HINT}"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return f"not a safetensors file: a Python pickle (an old torch.save checkpoint); {_PICKLE_HINT}"
    return None


CHECKPOINT_MAX_BYTES = 256 * 2**20  # a checkpoint with optimizer and teacher state is about 30 MB
_ITEM_BYTES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}


def _declared_bytes(f, key: str) -> int:
    """What a tensor's header says it takes, before it is read (unknown dtypes count as 8 bytes)."""
    piece = f.get_slice(key)
    return math.prod(piece.get_shape()) * _ITEM_BYTES.get(piece.get_dtype(), 8)


@contextlib.contextmanager
def _text_name(path: Path):
    """A name safetensors (Rust, UTF-8 only) can open for `path`: the path itself, or for a name that is
    not UTF-8 (`w\xff.safetensors`, which fashionnet itself may have written) the open file's /proc name."""
    name = str(path)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        fd = os.open(path, os.O_RDONLY)
        try:
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    yield name


def read_checkpoint(path: Path, training: bool = True) -> Checkpoint:
    """Read any fashionnet checkpoint; every way a file can be wrong becomes one WeightsError line.

    training=False skips the optimizer state (3x the model's size), which inference never needs.
    """
    path = Path(path)
    problem = input_file_problem(path, "checkpoint file")
    if problem:
        raise WeightsError(f"{path}: {problem}")
    foreign = _foreign_format(path)
    if foreign:
        raise WeightsError(f"{path}: {foreign}")
    try:
        with _text_name(path) as name, safe_open(name, framework="pt", device="cpu") as f:
            raw_meta = f.metadata()
            keys = [
                k
                for k in f.keys()  # noqa: SIM118 - safe_open has keys() but no __iter__
                if training or not k.startswith(TRAINING_PREFIX)
            ]
            declared = sum(_declared_bytes(f, key) for key in keys)  # from the header: nothing allocated yet
            if declared > CHECKPOINT_MAX_BYTES:
                raise WeightsError(
                    f"{path}: declares {declared / 2**20:,.0f} MiB of tensors, more than any fashionnet "
                    f"checkpoint holds (at most {CHECKPOINT_MAX_BYTES >> 20} MiB); not reading them"
                )
            tensors = {key: f.get_tensor(key) for key in keys}
    except PermissionError:
        raise WeightsError(f"{path}: permission denied") from None
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WeightsError(f"{path}: not a readable safetensors checkpoint ({detail})") from None
    model = {k: v for k, v in tensors.items() if not k.startswith(TRAINING_PREFIX)}
    state = {k[len(TRAINING_PREFIX) :]: v for k, v in tensors.items() if k.startswith(TRAINING_PREFIX)}
    metadata = decode_metadata(raw_meta)
    check_metadata(path, metadata)
    return Checkpoint(model=model, training=state, metadata=metadata)


def check_state_dict(
    path: Path, state: dict[str, torch.Tensor], reference: torch.nn.Module, kind: str = "NeuralNetwork"
) -> None:
    """Refuse a checkpoint that is not exactly the `reference` network (the tutorial's, unless a photo
    teacher is read), naming what differs."""
    expected = {name: tuple(p.shape) for name, p in reference.state_dict().items()}
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing:
        raise WeightsError(f"{path}: missing tensor(s) {', '.join(missing)}: not a {kind} checkpoint")
    if extra:
        raise WeightsError(f"{path}: unexpected tensor(s) {', '.join(extra)}: not a {kind} checkpoint")
    for name, shape in expected.items():
        got = tuple(state[name].shape)
        if got != shape:
            raise WeightsError(f"{path}: tensor {name} has shape {list(got)}, the model needs {list(shape)}")
        problem = finite_float_problem(state[name])
        if problem:
            raise WeightsError(f"{path}: tensor {name} {problem}")


def load_model(weights: str | Path | None, seed: int, device: torch.device) -> tuple[NeuralNetwork, WeightsInfo]:
    """The model every command runs: shipped weights by default, `random` for a fresh init, or a path."""
    model = build_model(seed=seed)
    spec = str(weights) if weights is not None else None
    if spec is not None and not spec.strip():
        raise UsageError(
            "--weights is empty: give a checkpoint file, 'random', or leave it out for the shipped weights"
        )
    if spec == RANDOM:
        info = WeightsInfo(source=RANDOM, seed=seed)
    else:
        path = Path(spec).expanduser() if spec else SHIPPED_WEIGHTS
        if spec is None and not path.exists():
            # A source checkout before `make weights` has run: say so instead of failing.
            info = WeightsInfo(source=RANDOM, seed=seed)
        else:
            checkpoint = read_checkpoint(path, training=False)
            check_state_dict(path, checkpoint.model, model)
            model.load_state_dict({k: v.float() for k, v in checkpoint.model.items()})
            source = "shipped" if spec is None else "file"
            info = WeightsInfo(source=source, path=path, metadata=checkpoint.metadata)
    from fashionnet.finite_outputs import guard

    return guard(model.to(device).eval(), weights_source(info)), info


def weights_source(info: WeightsInfo) -> str:
    """How errors about these weights name them: the file, or 'random weights (seed N)'."""
    return str(info.path) if info.path is not None else f"random weights (seed {info.seed})"
