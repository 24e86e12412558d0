"""Optional PNG pictures (matplotlib, the `plot` extra): confusion matrix, learning curves, neurons,
misclassified images and `explain`'s page. Every file is written atomically (files.atomic_write)."""

from __future__ import annotations

from pathlib import Path

from fashionnet import CLASSES
from fashionnet.errors import UsageError
from fashionnet.files import OutputClaim, atomic_write, check_output
from fashionnet.outside_text import for_title


def _pyplot():
    from fashionnet.startup import matplotlib_dirs

    matplotlib_dirs()  # never a home created by matplotlib (HOME=/nonexistent)
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


# The terminal's colours for signed maps (render.widgets.SignedPicture): blue negative, black zero,
# orange positive, so a picture reads the same on screen and in the PNG.
NEGATIVE, POSITIVE = (0.0, 130 / 255, 1.0), (1.0, 150 / 255, 0.0)


def signed_colormap():
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("fashionnet_signed", [NEGATIVE, (0.0, 0.0, 0.0), POSITIVE])


def _whole_epochs(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_confusion(confusion: list[list[int]], accuracy: float, path: Path, claim: OutputClaim | None = None) -> None:
    """The confusion matrix on a log colour scale: the diagonal holds ~900 per class, the mistakes that
    matter 1 to 100, which a linear scale paints all the same pale shade. Empty cells stay white."""
    import numpy as np
    from matplotlib.colors import LogNorm

    plt = _pyplot()
    counts = np.array(confusion, dtype=float)
    top = max(1.0, counts.max())
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    cmap = plt.get_cmap("Blues").with_extremes(bad="white")
    image = ax.imshow(np.ma.masked_equal(counts, 0), cmap=cmap, norm=LogNorm(vmin=1, vmax=top))
    ax.set_xticks(range(len(CLASSES)), CLASSES, rotation=45, ha="right")
    ax.set_yticks(range(len(CLASSES)), CLASSES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"FashionMNIST test set, accuracy {accuracy:.2%}")
    for i, row in enumerate(confusion):
        for j, count in enumerate(row):
            dark = count > 0 and np.log(count) > np.log(top) * 0.6
            ax.text(j, i, str(count), ha="center", va="center", fontsize=7, color="white" if dark else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, label="images (log scale)")
    _save(fig, path, claim)
    plt.close(fig)


def plot_history(history, path: Path, claim: OutputClaim | None = None) -> None:
    plt = _pyplot()
    epochs = [h.epoch for h in history]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    loss_ax.plot(epochs, [h.train_loss for h in history], label="train (what training minimises)")
    acc_ax.plot(epochs, [h.train_accuracy for h in history], label="train")
    if all(h.test_loss is not None for h in history):
        loss_ax.plot(epochs, [h.test_loss for h in history], label="test (plain)")
        acc_ax.plot(epochs, [h.test_accuracy for h in history], label="test")
    loss_ax.set(title="cross-entropy loss", xlabel="epoch")
    acc_ax.set(title="accuracy", xlabel="epoch")
    _save_curves(plt, fig, (loss_ax, acc_ax), path, claim)


def plot_recipes(curves: dict[str, list], path: Path, claim: OutputClaim | None = None) -> None:
    """Test accuracy and test loss per epoch of several recipes on one chart (whole-number epochs).
    `curves` maps a recipe's label to its history (EpochStats-like: epoch, test_accuracy, test_loss)."""
    plt = _pyplot()
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for label, history in curves.items():
        rows = [h for h in history if h.test_accuracy is not None]
        acc_ax.plot(
            [h.epoch for h in rows], [100 * h.test_accuracy for h in rows], marker="o", markersize=3, label=label
        )
        loss_ax.plot([h.epoch for h in rows], [h.test_loss for h in rows], marker="o", markersize=3, label=label)
    acc_ax.set(title="test accuracy (%)", xlabel="epoch")
    loss_ax.set(title="test loss (plain cross-entropy)", xlabel="epoch")
    _save_curves(plt, fig, (acc_ax, loss_ax), path, claim)


def _save_curves(plt, fig, axes, path: Path, claim: OutputClaim | None) -> None:
    """Curves per epoch: whole-number epoch ticks, a light grid and a legend on each chart; then save."""
    for ax in axes:
        _whole_epochs(ax)
        ax.grid(alpha=0.3)
        ax.legend()
    _save(fig, path, claim)
    plt.close(fig)


def plot_neurons(neurons, path: Path, claim: OutputClaim | None = None) -> None:
    """A grid of first-layer neurons' weights as 28x28 images, in the terminal's colours (orange +,
    blue -), each scaled to its largest |weight| as on screen, with one colour bar for that scale."""
    import math

    import numpy as np

    plt = _pyplot()
    columns = min(8, len(neurons))
    rows = math.ceil(len(neurons) / columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(1.3 * columns + 1.2, 1.45 * rows + 0.6), squeeze=False, layout="constrained"
    )
    for ax in axes.flat:
        ax.axis("off")
    image = None
    for ax, neuron in zip(axes.flat, neurons, strict=False):  # the grid may have a few cells spare
        image = ax.imshow(np.asarray(neuron.weights) / neuron.scale, cmap=signed_colormap(), vmin=-1, vmax=1)
        ax.set_title(f"unit {neuron.index}\n|w| ≤ {neuron.scale:.3f}", fontsize=7)
    fig.suptitle(
        "First layer (linear_relu_stack.0) weights per input pixel: orange +, blue −;\n"
        "each unit scaled to its largest |weight|",
        fontsize=9,
    )
    if image is not None:
        fig.colorbar(image, ax=axes, label="weight / largest |w|")
    _save(fig, path, claim)
    plt.close(fig)


MISTAKES_PLOT_MAX = 60  # pictures one --mistakes --plot draws: ten rows of six


def plot_mistakes(mistakes, title: str, path: Path, claim: OutputClaim | None = None) -> None:
    """Misclassified test images in a grid, each titled 'true → predicted' and the probability: the
    first MISTAKES_PLOT_MAX of them (the surest), so one PNG stays a readable page in bounded memory
    (947 pictures were a 1381×41773 PNG and 1.7 GB)."""
    import math

    if len(mistakes) > MISTAKES_PLOT_MAX:
        title = f"{title}\n(the first {MISTAKES_PLOT_MAX} of {len(mistakes):,} shown are drawn)"
        mistakes = mistakes[:MISTAKES_PLOT_MAX]
    plt = _pyplot()
    columns = max(1, min(6, len(mistakes)))
    rows = max(1, math.ceil(len(mistakes) / columns))
    fig, axes = plt.subplots(
        rows, columns, figsize=(1.9 * columns, 2.2 * rows + 0.4), squeeze=False, layout="constrained"
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, m in zip(axes.flat, mistakes, strict=False):  # the grid may have a few cells spare
        ax.imshow(m.image, cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"#{m.index} {m.true_label}\n→ {m.predicted_label} {m.probability:.1%}", fontsize=7)
    fig.suptitle(title, fontsize=9)
    _save(fig, path, claim)
    plt.close(fig)


def plot_explanation(e, path: Path, claim: OutputClaim | None = None) -> None:
    """`explain --plot`: the input (and mask), the units each hidden layer's strongest, the logits with
    both softmaxes, and the saliency picture, on one page."""
    import numpy as np

    plt = _pyplot()
    cmap = signed_colormap()
    per_row = max(4, *(len(layer.strongest) * (2 if i == 0 else 1) + 1 for i, layer in enumerate(e.layers)))
    rows = 1 + len(e.layers)
    fig = plt.figure(figsize=(1.8 * per_row + 0.5, 2.3 * rows + 0.6), layout="constrained")
    grid = fig.add_gridspec(rows, per_row)

    def signed(ax, picture, title):
        values = np.asarray(picture)
        scale = float(np.abs(values).max()) or 1.0
        ax.imshow(values, cmap=cmap, vmin=-scale, vmax=scale)
        ax.set_title(title, fontsize=7)
        ax.axis("off")

    top = e.classes[e.top]
    # The first row has its own columns: the bar chart's class names must not push the pictures below apart.
    head = grid[0, :].subgridspec(1, 7, width_ratios=[1, 1, 1, 1, 1, 0.4, 2.3])
    first = [
        (
            fig.add_subplot(head[0, 0]),
            f"drawing #1 of {len(e.drawings)} (28×28)" if len(e.drawings) > 1 else "input (28×28)",
        )
    ]
    first[0][0].imshow(e.image, cmap="gray", vmin=0, vmax=255)
    column = 1
    if e.mask is not None:
        ax = fig.add_subplot(head[0, column])
        ax.imshow(e.mask, cmap="gray")
        first.append((ax, "garment mask"))
        column += 1
    for ax, title in first:
        ax.set_title(title, fontsize=7)
        ax.axis("off")
    signed(
        fig.add_subplot(head[0, column]),
        e.saliency,
        f"{top.label}: gradient × pixel\nup {e.saliency_up:+.2f}, down {e.saliency_down:+.2f}\n"
        f"biases {e.saliency_bias:+.2f}; "
        f"black picture {e.black_logit:+.2f}",
    )
    other = e.classes[e.runner_up]
    signed(
        fig.add_subplot(head[0, column + 1]),
        e.contrast,
        f"why {top.label}, not {other.label}:\ngradient × pixel of the\n"
        f"logit difference {top.logit - other.logit:+.2f}",
    )
    signed(
        fig.add_subplot(head[0, column + 2]),
        e.occlusion,
        f"{top.label}: greyed squares\n(logit drop when covered;\nblack pixels count too)",
    )
    bars = fig.add_subplot(head[0, 6])
    index = np.arange(len(e.classes))
    bars.barh(index - 0.2, [c.softmax for c in e.classes], height=0.4, label="softmax (raw)", color="0.6")
    bars.barh(
        index + 0.2,
        [c.calibrated for c in e.classes],
        height=0.4,
        label=f"calibrated (logits / {e.temperature:g}): predict's",
        color=POSITIVE,
    )
    bars.set_yticks(index, [f"{c.label}  {c.logit:+.2f}" for c in e.classes], fontsize=7)
    bars.invert_yaxis()
    bars.set_xlim(0, 1)
    logits = f"mean logit of {len(e.drawings)} drawings" if len(e.drawings) > 1 else "logit"
    bars.set_title(f"class  {logits} · probabilities", fontsize=8)
    bars.legend(fontsize=7, loc="lower right")
    for row, layer in enumerate(e.layers, start=1):
        column = 0
        for unit in layer.strongest:
            if unit.weights is not None:
                signed(fig.add_subplot(grid[row, column]), unit.weights, f"{layer.linear} unit {unit.index}\nweights")
                column += 1
                label = "weight × pixel"
            else:
                label = "gradient × pixel"
            signed(
                fig.add_subplot(grid[row, column]),
                unit.contribution,
                f"unit {unit.index}: {label}\npixels {unit.from_pixels:+.2f}, out {unit.value:.2f}",
            )
            column += 1
        if layer.activations:  # all the layer's outputs at once: black is a silent unit
            ax = fig.add_subplot(grid[row, column])
            ax.imshow(np.asarray(layer.activations), cmap="gray", vmin=0)
            ax.set_title(f"{layer.relu}: all {layer.units} outputs\n{layer.active} fire (not black)", fontsize=7)
            ax.axis("off")
    fig.suptitle(f"{for_title(e.path)}: {layer_summary(e)}", fontsize=9)  # a name is outside text
    _save(fig, path, claim)
    plt.close(fig)


def layer_summary(e) -> str:
    """The page's title after the path: predict's answer as the terminal states it ("not sure" included),
    what it was decided from, and how many units fire."""
    from fashionnet.render.widgets import verdict

    fired = ", ".join(f"{layer.active}/{layer.units} fire in {layer.linear}" for layer in e.layers)
    source = f"mean of {len(e.drawings)} drawings" if len(e.drawings) > 1 else "one drawing"
    return f"predict says {verdict(e, 'en')} ({source}); {fired}"
