"""The one door every model output goes through: outputs that are not numbers are refused (exit 4).

Weights can be finite and still overflow float32 on the way through (every weight times 1e18): the
outputs are then infinity or NaN, and every figure computed from them (a probability, a percentage, an
argmax) is meaningless or crashes. Whatever runs the model - predict, evaluate, explain, walkthrough,
summary, export, train's evaluation, an ONNX file - gets the model through `guard` (weights.load_model
and onnx_runner do it) or checks a tensor with `check`, so a new command inherits the refusal.
"""

from __future__ import annotations

import sys

from fashionnet.errors import WeightsError, printable


def not_numbers(source: str) -> WeightsError:
    return WeightsError(
        f"{printable(source)}: the model's output is not a number (its weights overflow); these weights cannot be used"
    )


def check(tensor, source: str) -> None:
    """Refuse a model output (a torch tensor or a numpy array) holding NaN or infinity."""
    import numpy as np

    if hasattr(tensor, "is_floating_point"):  # torch
        import torch

        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise not_numbers(source)
    elif isinstance(tensor, np.ndarray) and tensor.dtype.kind == "f" and not np.isfinite(tensor).all():
        raise not_numbers(source)


def _exporting() -> bool:
    """True while torch traces or exports the model: a data-dependent check has no place in the graph."""
    import torch

    if torch.jit.is_tracing():
        return True
    compiler = getattr(torch, "compiler", None)
    if compiler is not None and compiler.is_compiling():
        return True
    onnx = sys.modules.get("torch.onnx")  # imported only by export: never import it here
    return bool(onnx is not None and onnx.is_in_onnx_export())


def guard(model, source: str):
    """Check the output of the model and of each of its layers (explain and walkthrough run layers one
    by one) on every forward pass. Returns the model. Hooks do not change its structure or printout."""

    def hook(module, inputs, output) -> None:
        if not _exporting():
            check(output, source)

    for module in model.modules():
        if "_fashionnet_guard" not in module.__dict__:
            module.__dict__["_fashionnet_guard"] = module.register_forward_hook(hook)
    return model


def is_guarded(model) -> bool:
    return "_fashionnet_guard" in model.__dict__


def unguarded(model):
    """The model without its checks (a copy that torch.jit.script or an exporter turns into a file)."""
    for module in model.modules():
        handle = module.__dict__.pop("_fashionnet_guard", None)
        if handle is not None:
            handle.remove()
    return model
