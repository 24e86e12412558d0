"""The options several commands share, declared once: their names, metavars, help and defaults, and
the callbacks that check or expand what is given. Imports no torch (`--help` reads these)."""

import math
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from fashionnet import SEED_MAX
from fashionnet.errors import printable

# ---- options shared by every command that runs the model -------------------------------------------


def complete_device(incomplete: str) -> list[str]:
    """Shell completion for --device; torch-free, so pressing Tab is instant."""
    return [name for name in ("auto", "cpu", "cuda", "cuda:0", "mps", "xpu") if name.startswith(incomplete)]


DeviceOption = Annotated[
    str | None,
    typer.Option(
        "--device",
        "-d",
        metavar="DEVICE",
        help="auto, cpu, cuda, cuda:N, mps or xpu. auto picks the current accelerator, else the CPU.",
        show_default="$FASHIONNET_DEVICE, else auto",  # read by fashionnet.device, which names it in errors
        autocompletion=complete_device,
    ),
]


def expand_user(value: Path | None) -> Path | None:
    """`~` and `~user` in a path option mean the home folder, as in --weights and predict's paths (the
    shell leaves them alone in `--out=~/m.safetensors` and in quotes)."""
    return Path(os.path.expanduser(value)) if value is not None else None


WeightsOption = Annotated[
    str | None,
    typer.Option(
        "--weights",
        "-w",
        metavar="FILE|random",
        help="A safetensors checkpoint, or 'random' for freshly initialised weights (see --seed).",
        show_default="the trained weights shipped with fashionnet",
    ),
]
OnnxWeightsOption = Annotated[
    str | None,
    typer.Option(
        "--weights",
        "-w",
        metavar="FILE|random",
        help="A safetensors checkpoint, an ONNX file from 'fashionnet export' (run with onnxruntime), or 'random'.",
        show_default="the trained weights shipped with fashionnet",
    ),
]
SeedOption = Annotated[
    int, typer.Option("--seed", metavar="N", min=0, max=SEED_MAX, help="Seed for the weights of --weights random.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts instead of tables.")]


DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        metavar="DIR",
        callback=expand_user,
        help="Folder with the FashionMNIST *-ubyte(.gz) files.",
        show_default="$FASHIONNET_DATA, the user cache, then /usr/share/datasets/fashion-mnist",
    ),
]


# Shown in `train --help` without importing torch; tests/test_train.py checks them against recipe.Recipe.
RECIPE_DEFAULTS = {"epochs": 45, "batch_size": 512, "lr": 0.002}


LR_RANGE = "above 0 and at most 1000"  # the same words as recipe.RECIPE_RULES["lr"] (a test keeps them equal)


class RecipeName(StrEnum):
    default = "default"
    tutorial = "tutorial"
    ladder = "ladder"


class Lang(StrEnum):
    en = "en"
    zh = "zh"


def class_option(name: str | None, option: str = "--class") -> int | None:
    from fashionnet import CLASSES, class_index

    if name is None:
        return None
    index = class_index(name)
    if index is None:
        from fashionnet.errors import UsageError

        names = ", ".join(f"{i} {c}" for i, c in enumerate(CLASSES))
        raise UsageError(f"{option} {printable(name)!r} names no single class; choose one of {names}")
    return index


def probability(value: float) -> float:
    """A number from 0 to 1; NaN is refused by name (every comparison with it is false, so a range check
    alone would call it too large)."""
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise typer.BadParameter(f"{value} is not a number from 0 to 1")
    return value


class Invert(StrEnum):
    auto = "auto"
    yes = "yes"
    no = "no"


def sample_folders() -> list[str]:
    from fashionnet import SAMPLES_DIR

    return [str(SAMPLES_DIR), str(SAMPLES_DIR / "photos")]


class ExportFormat(StrEnum):
    onnx = "onnx"
    torchscript = "torchscript"
    safetensors = "safetensors"
