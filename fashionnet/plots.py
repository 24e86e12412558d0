"""Optional PNG pictures (matplotlib, the `plot` extra): confusion matrix and learning curves."""

from __future__ import annotations

from pathlib import Path

from fashionnet import CLASSES
from fashionnet.errors import UsageError
from fashionnet.files import OutputClaim, atomic_write, check_output


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only; never needs a display
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'fashionnet[plot]'") from None
    return plt


def check_plot_path(path: Path, force: bool = False) -> OutputClaim:
    """Fail before the work starts, not after it: a PNG name in a folder we can write, and an existing
    file only with --force (the rule checkpoints follow). Returns the claim to save with."""
    if path.suffix.lower() != ".png":
        raise UsageError(f"{path}: --plot writes PNG files; use a name ending in .png")
    claim = check_output(path, force)
    _pyplot()
    return claim


def _save(fig, path: Path, claim: OutputClaim | None) -> None:
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight"), claim)


def plot_confusion(confusion: list[list[int]], accuracy: float, path: Path, claim: OutputClaim | None = None) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    image = ax.imshow(confusion, cmap="Blues")
    ax.set_xticks(range(len(CLASSES)), CLASSES, rotation=45, ha="right")
    ax.set_yticks(range(len(CLASSES)), CLASSES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"FashionMNIST test set, accuracy {accuracy:.2%}")
    top = max(max(row) for row in confusion) or 1
    for i, row in enumerate(confusion):
        for j, count in enumerate(row):
            ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                    color="white" if count > top / 2 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046)
    _save(fig, path, claim)
    plt.close(fig)


def plot_history(history, path: Path, claim: OutputClaim | None = None) -> None:
    plt = _pyplot()
    epochs = [h.epoch for h in history]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    loss_ax.plot(epochs, [h.train_loss for h in history], label="train")
    acc_ax.plot(epochs, [h.train_accuracy for h in history], label="train")
    if all(h.test_loss is not None for h in history):
        loss_ax.plot(epochs, [h.test_loss for h in history], label="test")
        acc_ax.plot(epochs, [h.test_accuracy for h in history], label="test")
    loss_ax.set(title="loss", xlabel="epoch")
    acc_ax.set(title="accuracy", xlabel="epoch")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend()
    _save(fig, path, claim)
    plt.close(fig)


def plot_neurons(neurons, path: Path, claim: OutputClaim | None = None) -> None:
    """A grid of first-layer neurons' weights as 28x28 images (red positive, blue negative)."""
    import math

    plt = _pyplot()
    columns = min(8, len(neurons))
    rows = math.ceil(len(neurons) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.4 * columns, 1.5 * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, neuron in zip(axes.flat, neurons):
        ax.imshow(neuron.weights, cmap="RdBu_r", vmin=-neuron.scale, vmax=neuron.scale)
        ax.set_title(f"neuron {neuron.index}", fontsize=8)
    fig.suptitle("First layer (linear_relu_stack.0) weights per input pixel: red +, blue -", fontsize=9)
    _save(fig, path, claim)
    plt.close(fig)
