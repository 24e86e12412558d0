"""Facts about a model for `summary` and `params`: layer output shapes, parameter counts and statistics."""

from __future__ import annotations

import fnmatch
from dataclasses import asdict, dataclass

import torch
from torch import nn

BYTES_PER_MB = 1_000_000  # decimal megabytes, as torchinfo reports them


@dataclass
class LayerFacts:
    name: str  # dotted module path ("" for the model itself)
    type: str
    depth: int
    output_shape: list[int]
    params: int  # parameters this module owns itself (children not counted: the column sums to the total)
    trainable: int  # of `params`, those with requires_grad
    params_total: int  # parameters of the whole subtree (what torchinfo shows for a folded container)
    mult_adds: int  # torchinfo's count: leaf = output_shape[0] * own params; container = its leaves' sum
    output_bytes: int  # bytes of this module's output tensor
    leaf: bool  # no child modules


@dataclass
class ModelSummary:
    model: str
    structure: str  # print(model), exactly as the tutorial shows it
    input_shape: list[int]
    layers: list[LayerFacts]
    total_params: int
    trainable_params: int
    non_trainable_params: int
    total_mult_adds: int
    input_bytes: int  # the input batch
    forward_backward_bytes: int  # outputs of layers with parameters, twice (activations + their gradients)
    param_bytes: int
    device: str

    @property
    def total_bytes(self) -> int:
        return self.input_bytes + self.forward_backward_bytes + self.param_bytes

    def sizes_mb(self) -> dict[str, float]:
        """torchinfo's four memory figures, in decimal MB."""
        return {
            "input_mb": self.input_bytes / BYTES_PER_MB,
            "forward_backward_mb": self.forward_backward_bytes / BYTES_PER_MB,
            "params_mb": self.param_bytes / BYTES_PER_MB,
            "total_mb": self.total_bytes / BYTES_PER_MB,
        }

    def to_dict(self, depth: int | None = None) -> dict:
        """The facts for --json; `depth` keeps the layers down to that depth, as the table shows them (a
        container at that depth has its whole subtree's parameters in `params_total`)."""
        sizes = {key: round(value, 4) for key, value in self.sizes_mb().items()}
        out = {**asdict(self), "depth": depth, "total_bytes": self.total_bytes, **sizes}
        if depth is not None:
            out["layers"] = [layer for layer in out["layers"] if layer["depth"] <= depth]
        return out


@dataclass
class ParamFacts:
    name: str
    size: str  # "torch.Size([512, 784])", as the tutorial prints param.size()
    shape: list[int]
    numel: int
    dtype: str
    device: str
    requires_grad: bool
    mean: float
    std: float
    min: float
    max: float
    preview: list  # the first `rows` rows (param[:rows]) cut to `values` numbers per row

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(model: nn.Module, device: torch.device, batch_size: int = 1) -> ModelSummary:
    """Run one zero batch through the model with forward hooks, recording every module's output, and
    count parameters, mult-adds and memory the way torchinfo 1.8 does (tests compare the two)."""
    outputs: dict[str, tuple[list[int], int]] = {}

    def record(name: str):
        def hook(_module, _inputs, out):
            outputs[name] = (list(out.shape), out.numel() * out.element_size())

        return hook

    handles = [module.register_forward_hook(record(name)) for name, module in model.named_modules()]
    x = torch.zeros(batch_size, 28, 28, device=device)
    try:
        with torch.inference_mode():
            model(x)
    finally:
        for handle in handles:
            handle.remove()

    layers = []
    for name, module in model.named_modules():
        own = list(module.parameters(recurse=False))
        shape, out_bytes = outputs.get(name, ([], 0))
        leaf = not any(True for _ in module.children())
        own_count = sum(p.numel() for p in own)
        layers.append(
            LayerFacts(
                name=name,
                type=type(module).__name__,
                depth=0 if not name else name.count(".") + 1,
                output_shape=shape,
                params=own_count,
                trainable=sum(p.numel() for p in own if p.requires_grad),
                params_total=sum(p.numel() for p in module.parameters()),
                mult_adds=shape[0] * own_count if leaf and shape else 0,
                output_bytes=out_bytes,
                leaf=leaf,
            )
        )
    by_name = {layer.name: layer for layer in layers}
    for layer in layers:
        if not layer.leaf:  # a container's mult-adds are its leaves'
            prefix = f"{layer.name}." if layer.name else ""
            layer.mult_adds = sum(
                other.mult_adds for other in by_name.values() if other.leaf and other.name.startswith(prefix)
            )
    every = list(model.parameters())
    total = sum(p.numel() for p in every)
    trainable = sum(p.numel() for p in every if p.requires_grad)
    return ModelSummary(
        model=type(model).__name__,
        structure=str(model),
        input_shape=list(x.shape),
        layers=layers,
        total_params=total,
        trainable_params=trainable,
        non_trainable_params=total - trainable,
        total_mult_adds=sum(layer.mult_adds for layer in layers if layer.leaf),
        input_bytes=x.numel() * x.element_size(),
        forward_backward_bytes=2 * sum(layer.output_bytes for layer in layers if layer.leaf and layer.params),
        param_bytes=sum(p.numel() * p.element_size() for p in every),
        device=str(device),
    )


def _preview(tensor: torch.Tensor, rows: int, values: int) -> list:
    """param[:rows] like the tutorial, each row cut to its first and last values/2 numbers (None marks
    the cut, drawn as '...')."""

    def cut(row: list[float]) -> list:
        if len(row) <= values:
            return row
        head = (values + 1) // 2
        return row[:head] + [None] + row[len(row) - (values - head) :]

    data = tensor[:rows].tolist()
    if tensor.dim() == 1:
        return cut([round(v, 4) for v in data])
    return [cut([round(v, 4) for v in row]) for row in data]


def parameter_facts(model: nn.Module, pattern: str | None = None, rows: int = 2, values: int = 6) -> list[ParamFacts]:
    """Every named parameter matching the glob `pattern` (or containing it as a substring)."""
    out = []
    for name, param in model.named_parameters():
        if pattern and not (fnmatch.fnmatchcase(name, pattern) or pattern in name):
            continue
        data = param.detach().float().cpu()
        out.append(
            ParamFacts(
                name=name,
                size=str(param.size()),
                shape=list(param.shape),
                numel=param.numel(),
                dtype=str(param.dtype).removeprefix("torch."),
                device=str(param.device),
                requires_grad=param.requires_grad,
                mean=data.mean().item(),
                std=data.std().item(),
                min=data.min().item(),
                max=data.max().item(),
                preview=_preview(data, rows, values),
            )
        )
    return out


def weights_dict(info, history: bool = False) -> dict:
    """WeightsInfo.to_dict() for `summary --json`: the per-epoch training history is most of a
    checkpoint's metadata, so it is left out unless asked for."""
    out = info.to_dict()
    if not history and isinstance(out.get("metadata"), dict) and "history" in out["metadata"]:
        out["metadata"] = {k: v for k, v in out["metadata"].items() if k != "history"}
    return out


HISTORY_FIELDS = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds")


def history_rows(info) -> list:
    """The weights' per-epoch training history for `summary --history`, one record per epoch with the
    fields the table shows; a field that is missing or not a number is None (shown as '--')."""
    from types import SimpleNamespace

    from fashionnet.weights import is_real

    rows = info.metadata.get("history") if isinstance(info.metadata, dict) else None
    return [
        SimpleNamespace(**{k: (h.get(k) if is_real(h.get(k)) else None) for k in HISTORY_FIELDS})
        for h in rows or []
        if isinstance(h, dict)
    ]


@dataclass
class NeuronPicture:
    """One first-layer neuron's 784 input weights as the 28x28 image they are applied to."""

    index: int
    weights: list[list[float]]  # 28 rows of 28, the raw weights
    scale: float  # largest |weight|: pictures are drawn relative to it

    def to_dict(self) -> dict:
        return asdict(self)


def first_layer_neurons(model: nn.Module, count: int) -> list[NeuronPicture]:
    """The first Linear layer's weight rows 0..count-1, each reshaped to 28x28: what each neuron looks
    for in an image (bright where a pixel raises its output, dark where it lowers it)."""
    first = next(m for m in model.modules() if isinstance(m, nn.Linear))
    weight = first.weight.detach().float().cpu()
    out = []
    for index in range(min(count, weight.shape[0])):
        image = weight[index].reshape(28, 28)
        out.append(NeuronPicture(index, image.tolist(), float(image.abs().max()) or 1.0))
    return out
