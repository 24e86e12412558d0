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
    params: int  # parameters owned directly or by children
    trainable: int


@dataclass
class ModelSummary:
    model: str
    structure: str  # print(model), exactly as the tutorial shows it
    input_shape: list[int]
    layers: list[LayerFacts]
    total_params: int
    trainable_params: int
    non_trainable_params: int
    param_bytes: int
    device: str

    @property
    def param_mb(self) -> float:
        return self.param_bytes / BYTES_PER_MB

    def to_dict(self) -> dict:
        return {**asdict(self), "param_mb": round(self.param_mb, 4)}


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
    """Run one zero batch through the model with forward hooks to record every module's output shape."""
    shapes: dict[str, list[int]] = {}
    handles = [
        module.register_forward_hook(lambda _m, _i, out, name=name: shapes.__setitem__(name, list(out.shape)))
        for name, module in model.named_modules()
    ]
    try:
        with torch.inference_mode():
            model(torch.zeros(batch_size, 28, 28, device=device))
    finally:
        for handle in handles:
            handle.remove()

    layers = []
    for name, module in model.named_modules():
        params = list(module.parameters())
        layers.append(
            LayerFacts(
                name=name,
                type=type(module).__name__,
                depth=0 if not name else name.count(".") + 1,
                output_shape=shapes.get(name, []),
                params=sum(p.numel() for p in params),
                trainable=sum(p.numel() for p in params if p.requires_grad),
            )
        )
    every = list(model.parameters())
    total = sum(p.numel() for p in every)
    trainable = sum(p.numel() for p in every if p.requires_grad)
    return ModelSummary(
        model=type(model).__name__,
        structure=str(model),
        input_shape=[batch_size, 28, 28],
        layers=layers,
        total_params=total,
        trainable_params=trainable,
        non_trainable_params=total - trainable,
        param_bytes=sum(p.numel() * p.element_size() for p in every),
        device=str(device),
    )


def _preview(tensor: torch.Tensor, rows: int, values: int) -> list:
    """param[:rows] like the tutorial, each row cut to its first and last values/2 numbers (None = '…')."""
    def cut(row: list[float]) -> list:
        if len(row) <= values:
            return row
        head = (values + 1) // 2
        return row[:head] + [None] + row[len(row) - (values - head):]

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
