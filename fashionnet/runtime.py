"""One door to the model for every command: torch imported the fast way, the device selected and reported,
the weights (or an exported ONNX file) loaded and checked. torch is imported only when these run."""

import typer

from fashionnet.errors import printable


def import_torch():
    """The first `import torch` of a command, a fifth faster (fashionnet.startup): call it before
    importing any module that imports torch."""
    from fashionnet.startup import import_torch

    return import_torch()


def setup(device: str | None, weights: str | None, seed: int, onnx: bool = False, cpu_threads: int | None = None):
    """Select the device and load the model once, for any command; reports the device on stderr.
    onnx=True: the command can also run an exported .onnx file (predict, evaluate). `cpu_threads` caps
    torch's CPU threads from here on (None: torch's default)."""
    from fashionnet.onnx_runner import is_onnx

    torch = import_torch()
    if cpu_threads:
        torch.set_num_threads(cpu_threads)  # before the weights are checked: their first op spins threads

    if weights is not None and is_onnx(weights):
        if not onnx:
            from fashionnet.errors import UsageError

            raise UsageError(
                f"{printable(weights)}: ONNX files run with predict and evaluate; this command needs "
                "a safetensors checkpoint"
            )
        return _setup_onnx(device, weights)
    from fashionnet.device import select_device
    from fashionnet.weights import load_model

    dev = select_device(device)
    typer.echo(f"Using {dev} device", err=True)
    model, info = load_model(weights, seed=seed, device=dev)
    return dev, model, info


def _setup_onnx(device: str | None, weights: str):
    """An exported ONNX file runs with onnxruntime on the CPU, whatever --device says."""
    import torch

    from fashionnet.device import checked_name
    from fashionnet.onnx_runner import load_onnx_model

    asked = checked_name(device)  # an unknown name is refused here too, even though onnxruntime ignores it
    model, info = load_onnx_model(weights)
    note = "" if asked in ("auto", "cpu") else f"; --device {asked} applies to PyTorch weights only"
    typer.echo(f"Using cpu device (onnxruntime{note})", err=True)
    return torch.device("cpu"), model, info
