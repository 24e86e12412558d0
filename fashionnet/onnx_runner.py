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
# What an export of this model is made of (fashionnet's own exports use Flatten, Gemm, Relu and, with
# --half, Cast; torch.onnx's other exporter writes MatMul/Add/Reshape for the same layers). Any other
# operator is refused before onnxruntime sees the file: Loop or Scan can run forever, ConstantOfShape or
# Expand can ask for gigabytes from a kilobyte file, custom domains run code we know nothing of.
ALLOWED_OPS = frozenset({"Flatten", "Gemm", "Relu", "Cast", "MatMul", "Add", "Reshape", "Identity", "Constant"})
MAX_ONNX_BYTES = 64 << 20  # the float32 model is 2.7 MB
MAX_NODES = 64


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
        content = vetted_model(self.path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # like predict's torch: decoders hold the other cores
        options.log_severity_level = 3  # onnxruntime's own warnings would break the one-line promise
        try:  # the bytes that were checked, not the file again (it could change in between)
            self.session = ort.InferenceSession(content, options, providers=["CPUExecutionProvider"])
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
        if out_shape[0] != shape[0] and (isinstance(out_shape[0], int) or isinstance(shape[0], int)):
            raise WeightsError(
                f"{self.path}: returns {out_shape} for an input of {shape}; a fashionnet export "
                f"returns one row of {len(CLASSES)} logits per image"
            )
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
                logits = np.asarray(self.session.run(None, {self.input_name: chunk})[0], dtype=np.float32)
            except Exception as exc:
                detail = " ".join(str(exc).split())[:200]
                raise WeightsError(f"{self.path}: onnxruntime could not run it ({detail})") from None
            if logits.shape != (len(chunk), len(CLASSES)):
                raise WeightsError(
                    f"{self.path}: returned {list(logits.shape)} for {len(chunk)} images; a "
                    f"fashionnet export returns [{len(chunk)}, {len(CLASSES)}]"
                )
            out.append(logits[:n])
        return np.concatenate(out) if out else np.zeros((0, len(CLASSES)), np.float32)


def vetted_model(path: Path) -> bytes:
    """The file's bytes, once they are known to hold only a graph of the kind an export of this model
    has: small, every operator in ALLOWED_OPS of the standard domain, no subgraphs, functions or external
    data. Anything else is a WeightsError (exit 4) before onnxruntime runs a single node."""
    onnx = require("onnx", "running an ONNX file")
    try:
        size = path.stat().st_size
        if size > MAX_ONNX_BYTES:
            raise WeightsError(
                f"{path}: {size:,} bytes is too large for an export of this model (at most {MAX_ONNX_BYTES >> 20} MiB)"
            )
        content = path.read_bytes()
    except OSError as exc:
        raise WeightsError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        model = onnx.ModelProto()
        model.ParseFromString(content)
    except Exception as exc:  # protobuf's DecodeError and friends
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise WeightsError(f"{path}: not a readable ONNX model ({detail})") from None
    graph = model.graph

    def refuse(why: str) -> WeightsError:
        return WeightsError(f"{path}: {why}; not the graph of a fashionnet export, so it is not run")

    if model.functions:
        raise refuse("defines its own functions")
    if any(o.domain not in ("", "ai.onnx") for o in model.opset_import):
        raise refuse("uses operators outside the standard ONNX domain")
    if len(graph.node) > MAX_NODES:
        raise refuse(f"has {len(graph.node)} nodes")
    for node in graph.node:
        if node.domain not in ("", "ai.onnx") or node.op_type not in ALLOWED_OPS:
            from fashionnet.errors import printable

            raise refuse(f"uses the operator {printable(node.op_type)!s}")
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            raise refuse("has a subgraph")
    tensors = [*graph.initializer, *(a.t for n in graph.node for a in n.attribute if a.HasField("t"))]
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in tensors) or graph.sparse_initializer:
        raise refuse("keeps tensors outside the file (external data)")
    return content


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
    from fashionnet.finite_outputs import guard

    return guard(OnnxModel().eval(), str(session.path)), info
