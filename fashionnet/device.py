"""The one device selector shared by every command."""

import os
import re

import torch

from fashionnet.errors import DeviceError

ENV_VAR = "FASHIONNET_DEVICE"
CHOICES = "auto, cpu, cuda, cuda:N, mps, xpu"
_PATTERN = re.compile(r"^(auto|cpu|cuda|mps|xpu)(?::(\d+))?$")


def requested_device(option: str | None) -> str:
    """The option if given, else $FASHIONNET_DEVICE, else 'auto'."""
    return (option or os.environ.get(ENV_VAR) or "auto").strip().lower()


def checked_name(spec: str | None) -> str:
    """The requested device's name, refused (DeviceError, exit 2) unless it is one fashionnet knows."""
    name = requested_device(spec)
    match = _PATTERN.match(name)
    if not match or (match.group(2) is not None and match.group(1) in ("auto", "cpu")):
        raise DeviceError(f"unknown device {name!r}: choose one of {CHOICES}")
    return name


def select_device(spec: str | None = None) -> torch.device:
    """Turn 'auto' | 'cpu' | 'cuda' | 'cuda:N' | 'mps' | 'xpu' into an available torch.device.

    'auto' follows the tutorial: the current accelerator when one is available, else the CPU.
    """
    name = checked_name(spec)
    kind, index = _PATTERN.match(name).groups()
    if kind == "auto":
        if torch.accelerator.is_available():
            return torch.device(torch.accelerator.current_accelerator().type)
        return torch.device("cpu")
    if kind == "cpu":
        return torch.device("cpu")
    backend = getattr(torch, kind, None)
    available = bool(backend is not None and backend.is_available())
    if not available:
        raise DeviceError(f"device {name!r} is not available on this machine (try --device cpu)")
    if index is not None:
        count = backend.device_count()
        if int(index) >= count:
            raise DeviceError(f"device {name!r} does not exist: this machine has {count} {kind} device(s)")
        return torch.device(kind, int(index))
    return torch.device(kind)
