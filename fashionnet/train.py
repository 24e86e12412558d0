"""Training: the whole data set in memory, batches sliced from it, augmentation on whole batches.

`fit` reports through callbacks and never prints; the CLI draws progress bars from those calls.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from torch import nn

from fashionnet import CLASSES
from fashionnet.data import Split
from fashionnet.errors import ExitCode, FashionNetError, WeightsError
from fashionnet.evaluate import evaluate
from fashionnet.model import NeuralNetwork, build_model, pixels_to_input
from fashionnet.weights import Checkpoint, check_state_dict, save_checkpoint


@dataclass(frozen=True)
class Recipe:
    """Everything that decides the result besides the seed. Stored in every checkpoint."""

    epochs: int = 20
    batch_size: int = 256
    lr: float = 2e-3  # peak learning rate of AdamW
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0  # linear warm-up, then cosine decay to zero
    label_smoothing: float = 0.1
    flip: bool = True  # random horizontal flips: FashionMNIST clothes are left/right symmetric enough
    max_shift: int = 2  # random translations of up to this many pixels

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class EpochStats:
    epoch: int
    train_loss: float
    train_accuracy: float
    test_loss: float | None
    test_accuracy: float | None
    seconds: float
    samples_per_second: float
    lr: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    history: list[EpochStats] = field(default_factory=list)
    out: Path | None = None
    seconds: float = 0.0

    @property
    def final(self) -> EpochStats | None:
        return self.history[-1] if self.history else None


class Callbacks(Protocol):
    def epoch_start(self, epoch: int, epochs: int, batches: int) -> None: ...
    def batch_end(self, batch: int, samples: int, loss: float) -> None: ...
    def epoch_end(self, stats: EpochStats) -> None: ...


class Silent:
    def epoch_start(self, epoch: int, epochs: int, batches: int) -> None:
        pass

    def batch_end(self, batch: int, samples: int, loss: float) -> None:
        pass

    def epoch_end(self, stats: EpochStats) -> None:
        pass


class TrainingInterrupted(FashionNetError):
    """Ctrl-C during training: the checkpoint of the last finished epoch is kept."""

    exit_code = ExitCode.INTERRUPTED


def lr_at(step: int, total_steps: int, warmup_steps: int, peak: float) -> float:
    """Linear warm-up to `peak`, then cosine decay to zero; a pure function of the step, so resuming
    needs no scheduler state."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def augment(batch: torch.Tensor, recipe: Recipe, generator: torch.Generator) -> torch.Tensor:
    """Random flips and shifts for a uint8 batch (B, 28, 28), done on the whole batch at once.

    Random numbers always come from the CPU generator, so a seed gives the same batches on any device.
    """
    b, h, w = batch.shape
    device = batch.device
    if recipe.flip:
        flip = (torch.rand(b, generator=generator) < 0.5).to(device)
        batch = torch.where(flip[:, None, None], batch.flip(-1), batch)
    s = recipe.max_shift
    if s > 0:
        # Pad with black, then cut a 28x28 window at a random offset per image via one gather.
        padded = nn.functional.pad(batch, (s, s, s, s))  # (B, 28+2s, 28+2s)
        dy = torch.randint(0, 2 * s + 1, (b,), generator=generator).to(device)
        dx = torch.randint(0, 2 * s + 1, (b,), generator=generator).to(device)
        rows = (torch.arange(h, device=device)[None, :] + dy[:, None])  # (B, 28)
        cols = (torch.arange(w, device=device)[None, :] + dx[:, None])  # (B, 28)
        width = w + 2 * s
        index = (rows[:, :, None] * width + cols[:, None, :]).reshape(b, -1)  # (B, 784)
        batch = padded.reshape(b, -1).gather(1, index).reshape(b, h, w)
    return batch


# ---- checkpoint <-> training state -------------------------------------------------------------


def _training_state(optimizer: torch.optim.Optimizer, generator: torch.Generator) -> tuple[dict, list]:
    """Optimizer moments and the RNG as plain tensors (safetensors holds no pickle), param_groups as JSON."""
    state = optimizer.state_dict()
    tensors = {"rng": generator.get_state()}
    for index, values in state["state"].items():
        for key, value in values.items():
            tensors[f"optim.{index}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return tensors, state["param_groups"]


def _restore_training(path: Path, checkpoint: Checkpoint, optimizer: torch.optim.Optimizer, generator: torch.Generator) -> None:
    groups = checkpoint.metadata.get("optimizer_param_groups")
    if "rng" not in checkpoint.training or groups is None:
        raise WeightsError(f"{path}: holds no optimizer state, so it cannot be resumed (it was saved with --no-optimizer-state)")
    state: dict[int, dict] = {}
    for key, value in checkpoint.training.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
        generator.set_state(checkpoint.training["rng"])
    except (ValueError, KeyError, RuntimeError) as exc:
        raise WeightsError(f"{path}: optimizer state does not fit this recipe ({exc})") from None


def fit(
    recipe: Recipe,
    train: Split,
    test: Split | None,
    device: torch.device,
    seed: int = 0,
    out: Path | None = None,
    resume: tuple[Path, Checkpoint] | None = None,
    callbacks: Callbacks | None = None,
    save_optimizer: bool = True,
) -> TrainResult:
    """Train the tutorial's model; save a checkpoint after every epoch (atomically) when `out` is set."""
    callbacks = callbacks or Silent()
    model: NeuralNetwork = build_model(seed=seed)
    generator = torch.Generator().manual_seed(seed)
    history: list[EpochStats] = []
    start_epoch = 0
    if resume is not None:
        path, checkpoint = resume
        check_state_dict(path, checkpoint.model, model)
        model.load_state_dict(checkpoint.model)
        start_epoch = int(checkpoint.metadata.get("epochs", 0))
        history = [EpochStats(**h) for h in checkpoint.metadata.get("history", [])]
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    if resume is not None:
        _restore_training(resume[0], resume[1], optimizer, generator)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)

    images = train.images.to(device)  # (N, 28, 28) uint8: 47 MB for the full set, on the device once
    labels = train.labels.to(device)
    n = len(images)
    batches = math.ceil(n / recipe.batch_size)
    total_steps = batches * recipe.epochs
    warmup_steps = min(total_steps, max(1, round(recipe.warmup_epochs * batches)))
    result = TrainResult(history=history, out=out)
    began = time.perf_counter()

    try:
        for epoch in range(start_epoch, recipe.epochs):
            callbacks.epoch_start(epoch + 1, recipe.epochs, batches)
            tick = time.perf_counter()
            model.train()
            order = torch.randperm(n, generator=generator).to(device)
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.long)
            for batch in range(batches):
                step = epoch * batches + batch
                lr = lr_at(step, total_steps, warmup_steps, recipe.lr)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                index = order[batch * recipe.batch_size : (batch + 1) * recipe.batch_size]
                x = pixels_to_input(augment(images[index], recipe, generator))
                y = labels[index]
                logits = model(x)
                loss = loss_fn(logits, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                loss_sum += loss.detach() * len(y)
                correct += (logits.detach().argmax(1) == y).sum()
                if batch % 20 == 19 or batch == batches - 1:
                    callbacks.batch_end(batch + 1, min(n, (batch + 1) * recipe.batch_size), loss.item())
            seconds = time.perf_counter() - tick
            scores = evaluate(model, test.images, test.labels, device) if test is not None else None
            stats = EpochStats(
                epoch=epoch + 1,
                train_loss=loss_sum.item() / n,
                train_accuracy=correct.item() / n,
                test_loss=scores.loss if scores else None,
                test_accuracy=scores.accuracy if scores else None,
                seconds=seconds,
                samples_per_second=n / seconds if seconds > 0 else float("inf"),
                lr=lr,
            )
            history.append(stats)
            if out is not None:
                save_checkpoint(out, _checkpoint(model, optimizer, generator, recipe, seed, history, train, save_optimizer))
            callbacks.epoch_end(stats)
    except KeyboardInterrupt:
        done = history[-1].epoch if history else 0
        where = f"epoch {done} is saved in {out}" if (out is not None and history) else "nothing was saved"
        raise TrainingInterrupted(f"interrupted during epoch {done + 1}: {where}"
                                  + (f"; continue with --resume {out}" if out is not None and history else "")) from None
    result.seconds = time.perf_counter() - began
    result.model = model  # type: ignore[attr-defined]
    return result


def _checkpoint(model, optimizer, generator, recipe, seed, history, train, save_optimizer) -> Checkpoint:
    last = history[-1]
    metadata = {
        "classes": list(CLASSES),
        "normalization": {"input": "pixels / 255 (torchvision ToTensor)", "mean": 0.0, "std": 1.0},
        "epochs": last.epoch,
        "test_accuracy": last.test_accuracy,
        "test_loss": last.test_loss,
        "train_samples": len(train.images),
        "seed": seed,
        "torch_version": torch.__version__,
        "recipe": recipe.to_dict(),
        "history": [h.to_dict() for h in history],
    }
    training: dict = {}
    if save_optimizer:
        training, groups = _training_state(optimizer, generator)
        metadata["optimizer_param_groups"] = groups
    return Checkpoint(model=model.state_dict(), training=training, metadata=metadata)


DEFAULT_OUT = Path("checkpoints") / "fashionnet.safetensors"


def resolve_output(out: Path | None, resume: Path | None, force: bool) -> Path:
    """Where checkpoints go. Never overwrite a file silently (the shipped weights least of all):
    an existing --out needs --force, unless it is the checkpoint being resumed."""
    from fashionnet.errors import UsageError
    from fashionnet.weights import SHIPPED_WEIGHTS

    path = Path(out) if out is not None else (Path(resume) if resume is not None else DEFAULT_OUT)
    if path.is_dir():
        raise UsageError(f"{path}: is a directory; --out needs a file name such as {path / 'model.safetensors'}")
    resuming_in_place = resume is not None and path.exists() and path.resolve() == Path(resume).resolve()
    if path.exists() and not force and not resuming_in_place:
        shipped = path.resolve() == SHIPPED_WEIGHTS.resolve()
        what = "the shipped weights" if shipped else "it exists"
        raise UsageError(f"{path}: refusing to overwrite ({what}); pass --force, or choose another --out")
    return path


def load_resume(path: Path) -> tuple[Path, Checkpoint]:
    from fashionnet.weights import read_checkpoint

    checkpoint = read_checkpoint(path)
    if "recipe" not in checkpoint.metadata:
        raise WeightsError(f"{path}: not a fashionnet training checkpoint (no recipe recorded), cannot resume")
    return Path(path), checkpoint


def recipe_for(resume: tuple[Path, Checkpoint] | None, **overrides) -> Recipe:
    """The default recipe, or the resumed checkpoint's, with the options the user gave on top."""
    base = Recipe(**resume[1].metadata["recipe"]) if resume is not None else Recipe()
    given = {k: v for k, v in overrides.items() if v is not None}
    from dataclasses import replace

    return replace(base, **given)
