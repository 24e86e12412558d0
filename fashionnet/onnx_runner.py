"""Running an exported ONNX file with onnxruntime, in place of the PyTorch model.

`predict`/`evaluate --weights model.onnx` and `export`'s own check use it, so a user can test an export
end to end with the commands they know. onnx and onnxruntime are the optional extra `export`; without
them this says what to install (exit 2). ONNX files are protobuf, never pickle.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fashionnet import CLASSES
from fashionnet.errors import UsageError, WeightsError
from fashionnet.files import input_file_problem

if TYPE_CHECKING:
    import numpy as np

INSTALL_HINT = "pip install 'fashionnet[export]'"
INPUT_NAME = "pixels"
OUTPUT_NAME = "logits"


def is_onnx(spec: str | Path | None) -> bool:
    """A --weights value names an ONNX file (by its suffix, as every ONNX tool does)."""
    return spec is not None and str(spec).lower().endswith(".onnx")


def require(module: str, purpose: str):
    """Import onnx/onnxruntime, or fail with the install command (exit 2)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(f"{purpose} needs the optional packages onnx and onnxruntime: {INSTALL_HINT}") from None


class OnnxSession:
    """An onnxruntime session checked to be this model: float32 [N, 28, 28] in, [N, 10] logits out.

    A file exported with a fixed batch size still takes any number of images: they are fed in batches
    of that size, the last one padded.
    """

    def __init__(self, path: Path):
        from fashionnet.images import SIZE

        ort = require("onnxruntime", "running an ONNX file")
        self.path = Path(path)
        problem = input_file_problem(self.path, "ONNX file")
        if problem:
            raise WeightsError(f"{self.path}: {problem}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # like predict's torch: decoders hold the other cores
        options.log_severity_level = 3  # onnxruntime's own warnings would break the one-line promise
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for every kind of bad file
            detail = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise WeightsError(f"{self.path}: not a readable ONNX model ({detail})") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1:
            raise WeightsError(f"{self.path}: has {len(inputs)} inputs; a fashionnet export has one image input")
        if len(outputs) < 1:
            raise WeightsError(f"{self.path}: has no outputs; a fashionnet export returns logits")
        shape, kind = inputs[0].shape, inputs[0].type
        if kind != "tensor(float)" or len(shape) != 3 or list(shape[1:]) != [SIZE, SIZE]:
            raise WeightsError(
                f"{self.path}: takes {kind} {shape}; a fashionnet export takes float32 [N, {SIZE}, {SIZE}]"
            )
        out_shape = outputs[0].shape
        if len(out_shape) != 2 or out_shape[1] != len(CLASSES):
            raise WeightsError(f"{self.path}: returns {out_shape}; a fashionnet export returns [N, {len(CLASSES)}]")
        self.input_name = inputs[0].name
        self.batch_size = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        from fashionnet.weights import check_metadata, decode_metadata

        # JSON values, decoded and checked by the same rules as a checkpoint's: classes, accuracy, temperature
        self.metadata = decode_metadata(self.session.get_modelmeta().custom_metadata_map)
        check_metadata(self.path, self.metadata)

    def run(self, inputs: np.ndarray) -> np.ndarray:
        """float32 (N, 28, 28) in [0, 1] -> float32 logits (N, 10)."""
        import numpy as np

        from fashionnet.images import SIZE

        inputs = np.ascontiguousarray(inputs, dtype=np.float32)
        step = self.batch_size or max(1, len(inputs))
        out = []
        for start in range(0, len(inputs), step):
            chunk = inputs[start : start + step]
            n = len(chunk)
            if self.batch_size and n < self.batch_size:
                chunk = np.concatenate([chunk, np.zeros((self.batch_size - n, SIZE, SIZE), np.float32)])
            try:
                logits = self.session.run(None, {self.input_name: chunk})[0]
            except Exception as exc:
                detail = " ".join(str(exc).split())[:200]
                raise WeightsError(f"{self.path}: onnxruntime could not run it ({detail})") from None
            out.append(np.asarray(logits, dtype=np.float32)[:n])
        return np.concatenate(out) if out else np.zeros((0, len(CLASSES)), np.float32)


def load_onnx_model(path: str | Path):
    """(module, WeightsInfo) for an ONNX file: the module maps the model's input tensor to logits like
    NeuralNetwork does, so predict and evaluate run it through their usual code."""
    import torch

    from fashionnet.weights import WeightsInfo

    session = OnnxSession(Path(path).expanduser())

    class OnnxModel(torch.nn.Module):
        """Tensor in, tensor out, computed by onnxruntime on the CPU."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            logits = session.run(x.detach().float().cpu().numpy())
            return torch.from_numpy(logits).to(x.device)

        def extra_repr(self) -> str:
            return f"{session.path}, onnxruntime, batch {session.batch_size or 'dynamic'}"

    info = WeightsInfo(source="onnx", path=session.path, metadata=session.metadata)
    return OnnxModel().eval(), info
