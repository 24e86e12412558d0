"""Resuming training: what a checkpoint saves to go on later, and the checks that continuing it with
this data and recipe really continues the same run. A checkpoint is outside input like any other, so every
tensor and metadata field is checked before it reaches the optimizer.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from fashionnet.epochs import EpochStats
from fashionnet.errors import UsageError, WeightsError, printable
from fashionnet.recipe import Recipe
from fashionnet.weights import (
    Checkpoint,
    check_state_dict,
    finite_float_problem,
    is_real,
    is_whole,
    metadata_error,
    read_checkpoint,
)

RAW = "raw."  # training-state prefix of the unfolded weights that training continues from


def training_state(model, optimizer: torch.optim.Optimizer, generator: torch.Generator) -> tuple[dict, list]:
    """What --resume needs, as plain tensors (safetensors holds no pickle): the weights before folding,
    AdamW's moments, the RNG; param_groups go to the JSON metadata."""
    state = optimizer.state_dict()
    tensors = {"rng": generator.get_state()}
    tensors.update({RAW + k: v for k, v in model.state_dict().items()})
    for index, values in state["state"].items():
        for key, value in values.items():
            tensors[f"optim.{index}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return tensors, state["param_groups"]


def require_training_state(path: Path, checkpoint: Checkpoint) -> None:
    """Weights saved with --no-optimizer-state predict well but cannot go on training."""
    if "rng" not in checkpoint.training or checkpoint.metadata.get("optimizer_param_groups") is None:
        raise WeightsError(
            f"{path}: holds no optimizer state, so it cannot be resumed (it was saved with --no-optimizer-state)"
        )


def restore_training(path: Path, checkpoint: Checkpoint, model, optimizer, generator) -> None:
    """Put the unfolded weights, AdamW's moments and the RNG back, each checked before it is used."""
    require_training_state(path, checkpoint)
    groups = checkpoint.metadata.get("optimizer_param_groups")
    raw = {k[len(RAW) :]: v for k, v in checkpoint.training.items() if k.startswith(RAW)}
    check_state_dict(path, raw, model)
    state = _optimizer_state(path, checkpoint, optimizer)
    _check_param_groups(path, groups, optimizer)
    rng = checkpoint.training["rng"]
    expected_rng = generator.get_state()
    if rng.dtype != expected_rng.dtype or rng.shape != expected_rng.shape:
        raise WeightsError(f"{path}: tensor training.rng is not a random generator state; cannot resume it")
    try:
        model.load_state_dict(raw)
        optimizer.load_state_dict({"state": state, "param_groups": groups})
        generator.set_state(checkpoint.training["rng"])
    except (ValueError, KeyError, RuntimeError) as exc:
        raise WeightsError(f"{path}: optimizer state does not fit this recipe ({exc})") from None


# AdamW's per-parameter state: the moments have the parameter's shape, the step count is one number.
_ADAM_STATE = ("step", "exp_avg", "exp_avg_sq")


def _optimizer_state(path: Path, checkpoint: Checkpoint, optimizer: torch.optim.Optimizer) -> dict[int, dict]:
    """The optimizer tensors of a checkpoint, each checked against the parameter it belongs to."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    state: dict[int, dict] = {}
    for key, value in checkpoint.training.items():
        if not key.startswith("optim."):
            continue
        where = f"{path}: optimizer tensor training.{key}"
        parts = key.split(".", 2)
        if len(parts) != 3 or not parts[1].isdigit() or int(parts[1]) >= len(params) or parts[2] not in _ADAM_STATE:
            raise WeightsError(f"{printable(where)} is not part of AdamW's state; cannot resume it")
        index, name = int(parts[1]), parts[2]
        shape = () if name == "step" else tuple(params[index].shape)
        if tuple(value.shape) != shape:
            raise WeightsError(f"{where} has shape {list(value.shape)}, expected {list(shape)}")
        if finite_float_problem(value):
            raise WeightsError(f"{where} must hold finite floating-point numbers")
        if name == "step" and not 0 <= float(value) <= 2**40:
            raise WeightsError(f"{where} is not a step count")
        state.setdefault(index, {})[name] = value
    for index, values in state.items():
        if set(values) != set(_ADAM_STATE):
            missing = ", ".join(sorted(set(_ADAM_STATE) - set(values)))
            raise WeightsError(f"{path}: optimizer state of parameter {index} lacks {missing}; cannot resume it")
    return state


def _check_param_groups(path: Path, groups, optimizer: torch.optim.Optimizer) -> None:
    """optimizer_param_groups: one object per group of ours, holding only numbers, booleans and null."""
    if not isinstance(groups, list) or len(groups) != len(optimizer.param_groups):
        raise metadata_error(path, "optimizer_param_groups", f"must list {len(optimizer.param_groups)} groups")
    for number, (group, ours) in enumerate(zip(groups, optimizer.param_groups, strict=True)):
        name = f"optimizer_param_groups[{number}]"
        if not isinstance(group, dict):
            raise metadata_error(path, name, "must be an object")
        params = group.get("params")
        if not isinstance(params, list) or len(params) != len(ours["params"]) or not all(is_whole(i) for i in params):
            raise metadata_error(path, f"{name}.params", "does not match the model's parameters")
        for key, value in group.items():
            if key == "params" or value is None or isinstance(value, bool):
                continue
            values = value if isinstance(value, list) else [value]
            if not values or not all(is_real(v) and v >= 0 for v in values):
                raise metadata_error(path, f"{name}.{key}", "must be a finite number of at least 0")
        betas = group.get("betas")
        if betas is not None and not (isinstance(betas, list) and len(betas) == 2 and all(0 <= b < 1 for b in betas)):
            raise metadata_error(path, f"{name}.betas", "must be two numbers from 0 to below 1")


def resume_point(
    path: Path, checkpoint: Checkpoint, recipe: Recipe, samples: int, photo_samples: int = 0
) -> tuple[int, int, list[EpochStats]]:
    """(epochs done, optimizer steps done, history) of a checkpoint, after checking that continuing it
    with this data and recipe really continues the same run."""
    meta = checkpoint.metadata  # types and ranges were checked on load (weights.check_metadata)
    for name in ("epochs", "steps", "history", "train_samples"):
        if name not in meta:
            raise metadata_error(path, name, "is missing; cannot resume it")
    done, steps, trained_on = meta["epochs"], meta["steps"], meta["train_samples"]
    try:
        history = [EpochStats(**h) for h in meta["history"]]
    except TypeError:
        raise metadata_error(path, "history", "is not a list of epoch records; cannot resume it") from None
    for number, stats in enumerate(history, 1):
        if stats.epoch != number or not all(is_real(v) or v is None for v in stats.to_dict().values()):
            raise metadata_error(path, f"history[{number - 1}]", "is not a record of that epoch")
    if len(history) != done or done < 1:
        raise metadata_error(path, "epochs", f"says {done} epochs, the history holds {len(history)}")
    learned = trained_on - int(trained_on * recipe.holdout)  # the calibration hold-out takes no steps
    expected = done * math.ceil(learned / recipe.batch_size)
    if steps != expected:
        raise metadata_error(path, "steps", f"says {steps} steps, {done} epochs of this data take {expected}")
    if trained_on != samples:
        raise UsageError(
            f"{path}: was trained on {trained_on:,} images, this run has {samples:,}; "
            "pass the same --limit to resume it"
        )
    trained_photos = meta.get("photo_samples", 0)
    if trained_photos != photo_samples:
        raise UsageError(
            f"{path}: was trained with {trained_photos:,} photo drawings, this run has {photo_samples:,}; "
            "resume it with the same drawings (--photos, --no-photos)"
        )
    if done >= recipe.epochs:
        raise UsageError(f"{path}: already trained for {done} epochs; pass --epochs above {done} to train on")
    return done, steps, history


def load_resume(path: Path) -> tuple[Path, Checkpoint]:
    """A checkpoint `train --resume` can continue, read and checked before any data loads."""
    checkpoint = read_checkpoint(path)  # every metadata field's type and range is checked there
    if "recipe" not in checkpoint.metadata:
        raise WeightsError(f"{path}: not a fashionnet training checkpoint (no recipe recorded), cannot resume")
    if "seed" not in checkpoint.metadata:
        raise metadata_error(path, "seed", "is missing; cannot resume it")
    recipe = checkpoint.metadata["recipe"]
    if recipe.get("name") == "tutorial":  # said before the data loads, not as a recipe this version lacks
        raise UsageError(
            f"{printable(str(path))}: was trained with --recipe tutorial, which always starts afresh "
            "(plain SGD keeps no optimizer state to resume); run --recipe tutorial again instead"
        )
    require_training_state(path, checkpoint)
    return Path(path), checkpoint
