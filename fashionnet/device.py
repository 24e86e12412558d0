"""The one device selector shared by every command."""

import os
import re

import torch

from fashionnet.errors import DeviceError

ENV_VAR = "FASHIONNET_DEVICE"
CHOICES = "auto, cpu, cuda, cuda:N, mps, xpu"
_PATTERN = re.compile(r"^(auto|cpu|cuda|mps|xpu)(?::(\d+))?$")


def requested_device(option: str | None) -> tuple[str, str]:
    """(the device as the user typed it, where it came from): the option if given, else
    $FASHIONNET_DEVICE, else 'auto'. The second part is added to messages (' (from $FASHIONNET_DEVICE)')."""
    if option is not None:
        return option.strip(), ""
    env = os.environ.get(ENV_VAR)
    if env is not None and env.strip():
        return env.strip(), f" (from ${ENV_VAR})"
    return "auto", ""


def checked_name(spec: str | None) -> str:
    """The requested device's name, lower-cased, refused (DeviceError, exit 2) unless it is one fashionnet
    knows. Messages show the value as it was typed and name $FASHIONNET_DEVICE when it came from there."""
    typed, origin = requested_device(spec)
    name = typed.lower()
    match = _PATTERN.match(name)
    if not match or (match.group(2) is not None and match.group(1) in ("auto", "cpu")):
        shown = repr(typed) if typed else "an empty name"
        raise DeviceError(f"unknown device {shown}{origin}: choose one of {CHOICES}")
    return name


def select_device(spec: str | None = None) -> torch.device:
    """Turn 'auto' | 'cpu' | 'cuda' | 'cuda:N' | 'mps' | 'xpu' into an available torch.device.

    'auto' follows the tutorial: the current accelerator when one is available, else the CPU.
    """
    name = checked_name(spec)
    typed, origin = requested_device(spec)
    match = _PATTERN.match(name)
    assert match is not None  # checked_name refused every other name
    kind, index = match.groups()
    if kind == "auto":
        accelerator = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else None
        return torch.device(accelerator.type if accelerator is not None else "cpu")
    if kind == "cpu":
        return torch.device("cpu")
    backend = getattr(torch, kind, None)
    if backend is None or not backend.is_available():
        raise DeviceError(f"device {typed!r}{origin} is not available on this machine (try --device cpu)")
    if index is not None:
        count = backend.device_count()
        if int(index) >= count:
            raise DeviceError(f"device {typed!r}{origin} does not exist: this machine has {count} {kind} device(s)")
        return torch.device(kind, int(index))
    return torch.device(kind)
