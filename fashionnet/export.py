"""`fashionnet export`: the model as ONNX, TorchScript or safetensors, checked before it is kept.

Every exported model takes what the tutorial's model takes (float32 [N, 28, 28], pixels / 255 in [0, 1])
and returns logits [N, 10]; its metadata travels inside the file. The file is written to a temporary
name beside the target, run (onnxruntime, torch.jit.load, or fashionnet's own checkpoint loader) on the
sample images and on random inputs, compared with the PyTorch model, and only then renamed into place:
a failed check leaves no file behind.
"""

from __future__ import annotations

import copy
import io
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fashionnet import CLASSES, SAMPLES_DIR, __version__, calibration
from fashionnet.errors import ExitCode, FashionNetError, UsageError, WeightsError
from fashionnet.files import atomic_write, check_output
from fashionnet.finite_outputs import unguarded
from fashionnet.images import SIZE, load_image
from fashionnet.onnx_runner import INPUT_NAME, OUTPUT_NAME, OnnxSession, require
from fashionnet.weights import RANDOM, WeightsInfo, load_model

FORMATS = ("onnx", "torchscript", "safetensors")
SUFFIXES = {"onnx": ".onnx", "torchscript": ".pt", "safetensors": ".safetensors"}
TOLERANCE = 1e-4  # largest |logit difference| allowed for a float32 export
HALF_TOLERANCE = 2e-2  # float16 keeps ~3 significant digits: the shipped weights differ by ~1.5e-3
DEFAULT_OPSET = 17  # run by every onnxruntime since 1.12
MIN_OPSET, MAX_OPSET = 9, 20  # range of torch's TorchScript-based ONNX exporter
RANDOM_INPUTS = 256
TORCHSCRIPT_METADATA = "fashionnet.json"  # the name of the metadata file inside a TorchScript archive
INPUT_DESCRIPTION = (
    f"float32 [N, {SIZE}, {SIZE}], pixels / 255 in [0, 1] (torchvision's ToTensor), light garment on black"
)


class ExportCheckFailed(FashionNetError):
    """The exported file does not compute what the PyTorch model computes; nothing was written."""

    exit_code = ExitCode.EXPORT_FAILED


@dataclass
class Check:
    """One comparison of the exported file with the PyTorch model."""

    inputs: str
    count: int
    max_abs_diff: float
    top1_agree: int


@dataclass
class ExportReport:
    format: str
    out: str
    bytes: int
    dtype: str
    batch_size: int | None  # None: any batch size
    opset: int | None
    runtime: str  # what ran the exported file for the check
    reference_device: str
    tolerance: float
    checks: list[Check]
    metadata: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def max_abs_diff(self) -> float:
        return max(c.max_abs_diff for c in self.checks)

    def to_dict(self) -> dict:
        passed = all(c.max_abs_diff <= self.tolerance for c in self.checks)
        return {**asdict(self), "max_abs_diff": self.max_abs_diff, "passed": passed}


GUESSED = {".onnx": "onnx", ".pt": "torchscript", ".ts": "torchscript", ".safetensors": "safetensors"}


def format_for(fmt: str | None, out: Path | None) -> str:
    """--format if given, else guessed from --out's suffix (.onnx, .pt/.ts, .safetensors), else onnx.
    A --format that contradicts --out's suffix is refused: `predict --weights` and every other tool
    go by the suffix, so a TorchScript file named .onnx could not be used."""
    suffix = out.suffix.lower() if out is not None else ""
    guessed = GUESSED.get(suffix)
    if fmt is not None and out is not None and guessed is not None and guessed != fmt:
        from fashionnet.errors import printable

        raise UsageError(
            f"--out {printable(out.name)} is named like a {guessed} file, but --format is {fmt}: "
            f"name it {printable(out.stem)}{SUFFIXES[fmt]}, or leave --format out"
        )
    return fmt or guessed or "onnx"


def check_options(fmt: str, batch_size: int | None, opset: int | None) -> None:
    """Usage errors before any work: options that do not apply to the format, opsets out of range."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if fmt != "onnx" and opset is not None:
        raise UsageError("--opset is for --format onnx only")
    if fmt != "onnx" and batch_size is not None:
        raise UsageError(f"--batch-size fixes the input shape of an ONNX graph; a {fmt} export takes any batch")
    if opset is not None and not MIN_OPSET <= opset <= MAX_OPSET:
        raise UsageError(
            f"--opset {opset} is not supported: choose {MIN_OPSET} to {MAX_OPSET} (default {DEFAULT_OPSET})"
        )
    if fmt == "onnx":
        require("onnx", "--format onnx")
        require("onnxruntime", "--format onnx")


def export_metadata(info: WeightsInfo, fmt: str, half: bool, batch_size: int | None) -> dict:
    """What a user of the file needs to feed it and read its output, and where it came from."""
    meta: dict[str, object] = {
        "fashionnet_version": __version__,
        "model": "NeuralNetwork (PyTorch tutorial 'Build the Neural Network')",
        "classes": list(CLASSES),
        "input": INPUT_DESCRIPTION,
        "input_normalisation": "pixels / 255",
        "output": f"logits [N, {len(CLASSES)}]; softmax(logits / temperature) gives the class probabilities",
        "dtype": "float16" if half else "float32",
        "batch_size": batch_size if batch_size is not None else "dynamic",
        "source_weights": (
            "random init" if info.source == RANDOM else "shipped" if info.source == "shipped" else str(info.path)
        ),
        "torch_version": torch.__version__.split("+")[0],
        "export_format": fmt,
    }
    if info.source == RANDOM:
        meta["seed"] = info.seed
    if info.test_accuracy is not None:
        meta["test_accuracy"] = info.test_accuracy
    if info.metadata.get(calibration.METADATA_KEY) is not None:  # predict --weights model.onnx stays calibrated
        meta[calibration.METADATA_KEY] = info.temperature
    return meta


class _Float16(nn.Module):
    """The model in float16 behind a float32 interface: the same input and output as every export."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model.half()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.half()).float()


def sample_inputs() -> tuple[list[str], np.ndarray]:
    """The sample images that ship with fashionnet, through predict's own preprocessing, as float32 [0, 1]."""
    paths = sorted(SAMPLES_DIR.glob("*.png"))
    pixels = np.stack([load_image(p) for p in paths])
    return [p.name for p in paths], pixels.astype(np.float32) / 255


def random_inputs(n: int = RANDOM_INPUTS, seed: int = 0) -> np.ndarray:
    return torch.rand(n, SIZE, SIZE, generator=torch.Generator().manual_seed(seed)).numpy()


# ---- writers and runners, one pair per format ---------------------------------------------------------


def _write_onnx(module: nn.Module, tmp: str, meta: dict, batch_size: int | None, opset: int | None) -> None:
    # The TorchScript-based exporter (dynamo=False): it needs only the `onnx` package, works offline and
    # exports this MLP in well under a second to a plain Flatten/Gemm/Relu graph. torch 2.14's default
    # dynamo exporter would add onnxscript and onnx-ir, takes ~7 s here and prints progress to stdout.
    onnx = require("onnx", "--format onnx")
    example = torch.zeros(batch_size or 2, SIZE, SIZE)
    dynamic = None if batch_size else {INPUT_NAME: {0: "N"}, OUTPUT_NAME: {0: "N"}}
    buffer = io.BytesIO()  # exported in memory: only Python writes the file (see _write_file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation notice is for torch's developers
        torch.onnx.export(
            module,
            (example,),
            buffer,  # type: ignore[arg-type]  # torch annotates `f` as a path; it takes a file too
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes=dynamic,
            opset_version=opset,
            do_constant_folding=True,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    del proto.metadata_props[:]
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=json.dumps(value))
    proto.doc_string = f"fashionnet {__version__}: FashionMNIST classifier. Input {INPUT_DESCRIPTION}; output logits."
    proto.producer_name = "fashionnet"
    proto.producer_version = __version__
    onnx.checker.check_model(proto)
    _write_file(tmp, proto.SerializeToString())


def _write_file(tmp: str, data: bytes) -> None:
    """Every exporter serialises into memory and this writes the bytes: a full disk is then Python's
    OSError (one line, exit 2), never a native library's abort (torch.jit.save ends the process on ENOSPC)."""
    with open(tmp, "wb") as f:
        f.write(data)


def _run_onnx(tmp: str) -> tuple[Callable[[np.ndarray], np.ndarray], dict, str]:
    ort = require("onnxruntime", "--format onnx")
    session = OnnxSession(Path(tmp))
    return session.run, session.metadata, f"onnxruntime {ort.__version__}"


def _write_torchscript(module: nn.Module, tmp: str, meta: dict, batch_size: int | None, opset: int | None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's deprecation notice, as for the ONNX exporter
        scripted = torch.jit.script(module)
        buffer = io.BytesIO()
        torch.jit.save(scripted, buffer, _extra_files={TORCHSCRIPT_METADATA: json.dumps(meta)})
    _write_file(tmp, buffer.getvalue())


def _run_torchscript(tmp: str) -> tuple[Callable[[np.ndarray], np.ndarray], dict, str]:
    # torch.jit.load reads TorchScript's own archive format (code plus tensors), not Python pickle objects,
    # and here only ever a file this process has just written.
    extra = {TORCHSCRIPT_METADATA: ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with open(tmp, "rb") as f:  # by Python, so any name the system allows (torch wants UTF-8 names)
            loaded = torch.jit.load(io.BytesIO(f.read()), map_location="cpu", _extra_files=extra)
    loaded.eval()

    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return loaded(torch.from_numpy(x)).float().numpy()

    loader = f"torch.jit.load (torch {torch.__version__.split('+')[0]})"
    return run, json.loads(extra[TORCHSCRIPT_METADATA] or "{}"), loader


def _write_safetensors(module: nn.Module, tmp: str, meta: dict, batch_size: int | None, opset: int | None) -> None:
    # The same checkpoint format `--weights` reads (model tensors only, no optimizer state).
    from safetensors.torch import save

    from fashionnet.weights import encode_metadata

    model = module.model if isinstance(module, _Float16) else module
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    _write_file(tmp, save(tensors, metadata=encode_metadata(meta)))


def _run_safetensors(tmp: str) -> tuple[Callable[[np.ndarray], np.ndarray], dict, str]:
    model, info = load_model(tmp, seed=0, device=torch.device("cpu"))  # fashionnet's own checked loader

    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(x)).numpy()

    return run, info.metadata, "fashionnet's safetensors loader"


WRITERS = {"onnx": _write_onnx, "torchscript": _write_torchscript, "safetensors": _write_safetensors}
RUNNERS = {"onnx": _run_onnx, "torchscript": _run_torchscript, "safetensors": _run_safetensors}


# ---- the export ----------------------------------------------------------------------------------------


def _reference(model: nn.Module, x: np.ndarray, device: torch.device) -> np.ndarray:
    with torch.inference_mode():
        return model(torch.from_numpy(x).to(device)).float().cpu().numpy()


def _compare(name: str, exported: np.ndarray, reference: np.ndarray) -> Check:
    diff = float(np.abs(exported.astype(np.float64) - reference).max()) if len(reference) else 0.0
    if not np.isfinite(exported).all():
        diff = float("inf")
    agree = int((exported.argmax(1) == reference.argmax(1)).sum())
    return Check(name, len(reference), diff, agree)


def verify(
    fmt: str, path: str, model: nn.Module, device: torch.device, tolerance: float, expected_metadata: dict
) -> tuple[list[Check], dict, str]:
    """Run the written file on the samples and on random inputs; raise ExportCheckFailed past `tolerance`
    or when the metadata read back from the file is not what was written."""
    run, metadata, runtime = RUNNERS[fmt](path)
    names, samples = sample_inputs()
    checks = []
    for label, x in ((f"{len(names)} sample images", samples), (f"{RANDOM_INPUTS} random inputs", random_inputs())):
        checks.append(_compare(label, run(x), _reference(model, x, device)))
    expected = json.loads(json.dumps(expected_metadata))  # as it reads back: tuples become lists
    stored = {key: metadata.get(key) for key in expected}
    if stored != expected:
        wrong = sorted(k for k in expected if stored[k] != expected[k])
        raise ExportCheckFailed(f"the {fmt} export lost its metadata ({', '.join(wrong)}); nothing was written")
    worst = max(checks, key=lambda c: c.max_abs_diff)
    if not worst.max_abs_diff <= tolerance:
        raise ExportCheckFailed(
            f"the {fmt} export differs from the PyTorch model by up to {worst.max_abs_diff:.3g} on the "
            f"{worst.inputs} (allowed {tolerance:g}); nothing was written"
        )
    return checks, stored, runtime


FLOAT16_MAX = 65504.0


def check_half_range(model: nn.Module) -> None:
    """--half stores float16, whose largest number is 65504: a weight beyond it would become infinity,
    so such an export is refused before anything is written (exit 5, as for any failed check)."""
    for name, tensor in model.state_dict().items():
        largest = float(tensor.detach().abs().max()) if tensor.numel() else 0.0
        if largest > FLOAT16_MAX:
            raise ExportCheckFailed(
                f"--half cannot store these weights: {name} holds {largest:.4g}, beyond "
                f"float16's largest number ({FLOAT16_MAX:g}); export without --half. "
                "Nothing was written"
            )


def export_model(
    model: nn.Module,
    info: WeightsInfo,
    fmt: str,
    out: Path,
    device: torch.device,
    batch_size: int | None = None,
    opset: int | None = None,
    half: bool = False,
    force: bool = False,
) -> ExportReport:
    """Write `model` to `out` in `fmt`, verify the written file, and keep it only if it passes."""
    start = time.perf_counter()
    out = Path(out)
    check_options(fmt, batch_size, opset)
    claim = check_output(out, force)
    if fmt == "onnx" and opset is None:
        opset = DEFAULT_OPSET
    meta = export_metadata(info, fmt, half, batch_size)
    # A safetensors export is a checkpoint: it keeps the training facts (epochs, recipe, history) too.
    stored = {**info.metadata, **meta} if fmt == "safetensors" else meta
    model = model.eval()
    _reference(model, sample_inputs()[1], device)  # weights whose outputs are not numbers: exit 4 (finite_outputs)
    cpu_copy = unguarded(copy.deepcopy(model)).to("cpu").float().eval()  # every exported file holds CPU tensors
    if half:
        check_half_range(cpu_copy)
    module = _Float16(cpu_copy) if half else cpu_copy
    tolerance = HALF_TOLERANCE if half else TOLERANCE
    result: dict = {}

    def write_and_verify(tmp: str) -> None:
        try:
            WRITERS[fmt](module, tmp, stored, batch_size, opset)
        except (OSError, FashionNetError):
            raise  # a full disk is an output error (exit 2), as for every file fashionnet writes
        except Exception as exc:  # the exporter itself failed (torch.onnx, torch.jit): not a disk problem
            detail = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise ExportCheckFailed(f"the {fmt} exporter failed ({detail}); nothing was written") from None
        try:
            result["checks"], result["metadata"], result["runtime"] = verify(fmt, tmp, model, device, tolerance, stored)
        except WeightsError as exc:  # the file does not load back: the export failed, whatever the loader says
            detail = str(exc).replace(f"{tmp}: ", "").replace(tmp, str(out))
            raise ExportCheckFailed(f"the {fmt} export does not load back ({detail}); nothing was written") from None

    atomic_write(out, write_and_verify, claim)
    return ExportReport(
        format=fmt,
        out=str(out),
        bytes=out.stat().st_size,
        dtype=meta["dtype"],
        batch_size=batch_size,
        opset=opset,
        runtime=result["runtime"],
        reference_device=str(device),
        tolerance=tolerance,
        checks=result["checks"],
        metadata={k: result["metadata"][k] for k in meta},
        seconds=time.perf_counter() - start,
    )
