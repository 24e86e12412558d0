"""`train --recipe tutorial`: the PyTorch tutorial series' own training, run on the real data, and the
shipped recipe's figures beside it.

The "Optimizing Model Parameters" page (and the quickstart) train this network with plain SGD at a
learning rate of 1e-3, batches of 64 taken in file order (DataLoader without shuffle), plain
cross-entropy and ToTensor() pixels, for 10 epochs, and print as they go. `fit_tutorial` does exactly
that and hands over the page's printed lines through a callback, character for character: `Epoch N`,
the dashes, `loss: ...  [ n/60000]` every 100 batches and `Test Error:` with the accuracy and the average
of the per-batch losses. Batches are sliced from the data set in memory rather than assembled one image
at a time by a DataLoader; the numbers are the same (ToTensor() is pixels / 255 in float32).

The shipped weights' figures come from their checkpoint's metadata (recipe and per-epoch history), never
from training them again. `compare` pairs the two for the side-by-side table.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch
from torch import nn

from fashionnet.data import Split
from fashionnet.epochs import EpochStats
from fashionnet.errors import OutputError, TrainingInterrupted, UsageError, WeightsError, printable
from fashionnet.files import OutputClaim
from fashionnet.finite_outputs import check
from fashionnet.model import NeuralNetwork, build_model, pixels_to_input
from fashionnet.recipe import RECIPE_RULES
from fashionnet.train import _checkpoint as training_checkpoint  # one metadata layout for every checkpoint
from fashionnet.weights import SHIPPED_WEIGHTS, Checkpoint, is_real, read_checkpoint, save_checkpoint

NAME = "tutorial"
PRINT_EVERY = 100  # the page prints the loss every 100 batches
DEFAULT_OUT = Path("checkpoints") / "tutorial.safetensors"


@dataclass(frozen=True)
class TutorialRecipe:
    """The page's hyperparameters (learning_rate, batch_size, epochs); --epochs, --batch-size and --lr
    may change them, everything else is the page's."""

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    mean: float = 0.0  # the page feeds ToTensor() pixels as they are: nothing to fold into the first layer
    std: float = 1.0

    def to_dict(self) -> dict:
        return {
            "name": NAME,
            "optimizer": "SGD",
            "lr": self.lr,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "loss": "cross-entropy",
            "shuffle": False,
        }


def tutorial_recipe(
    epochs: int | None = None, batch_size: int | None = None, lr: float | None = None
) -> TutorialRecipe:
    """The page's recipe with the user's options on top, each checked by the rule the default recipe uses."""
    given = {"epochs": epochs, "batch_size": batch_size, "lr": lr}
    for name, value in given.items():
        ok, what = RECIPE_RULES[name]
        if value is not None and not ok(value):
            raise UsageError(f"--{name.replace('_', '-')} must be {what} (got {value})")
    page = TutorialRecipe()
    return TutorialRecipe(
        epochs=page.epochs if epochs is None else epochs,
        batch_size=page.batch_size if batch_size is None else batch_size,
        lr=page.lr if lr is None else lr,
    )


@dataclass
class TutorialResult:
    history: list[EpochStats] = field(default_factory=list)
    seconds: float = 0.0
    model: NeuralNetwork | None = None


Say = Callable[[str], None]  # receives what the page's print() would print (print adds the newline)


def train_loop(
    images: torch.Tensor, labels: torch.Tensor, model, loss_fn, optimizer, batch_size: int, say: Say
) -> tuple[float, float]:
    """The page's train_loop over in-memory batches; returns (mean loss per image, accuracy) of the epoch."""
    size = len(images)
    model.train()
    loss_sum, correct = 0.0, 0
    for batch, start in enumerate(range(0, size, batch_size)):
        X, y = pixels_to_input(images[start : start + batch_size]), labels[start : start + batch_size]
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        loss_sum += loss.item() * len(X)
        correct += int((pred.argmax(1) == y).sum())
        if batch % PRINT_EVERY == 0:
            loss, current = loss.item(), batch * batch_size + len(X)
            say(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")
    return loss_sum / size, correct / size


def test_loop(
    images: torch.Tensor, labels: torch.Tensor, model, loss_fn, batch_size: int, say: Say
) -> tuple[float, float]:
    """The page's test_loop; returns (mean loss per image, accuracy), the figures `evaluate` reports.
    (The page's own "Avg loss" averages the batches' losses, so a short last batch weighs as much as a
    full one: it differs from the per-image mean in the fourth decimal or so.)"""
    model.eval()
    size = len(images)
    num_batches = math.ceil(size / batch_size)
    test_loss, correct, summed = 0.0, 0.0, 0.0
    with torch.no_grad():
        for start in range(0, size, batch_size):
            X, y = pixels_to_input(images[start : start + batch_size]), labels[start : start + batch_size]
            pred = model(X)
            check(pred, "the network")  # the door every model output goes through (finite_outputs)
            test_loss += loss_fn(pred, y).item()
            summed += nn.functional.cross_entropy(pred, y, reduction="sum").item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    test_loss /= num_batches
    correct /= size
    say(f"Test Error: \n Accuracy: {(100 * correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")
    return summed / size, correct


def fit_tutorial(
    recipe: TutorialRecipe,
    train: Split,
    test: Split,
    device: torch.device,
    seed: int = 0,
    out: Path | None = None,
    say: Say | None = None,
    epoch_end: Callable[[EpochStats], None] | None = None,
    claim: OutputClaim | None = None,
) -> TutorialResult:
    """Train as the page does; save a checkpoint (no optimizer state: plain SGD keeps none) after every
    epoch when `out` is set. `say` gets the page's printed lines, `epoch_end` each epoch's figures;
    `claim` (files.check_output's) keeps a save from replacing a file another run wrote meanwhile."""
    claim = claim or (OutputClaim(out) if out is not None else None)
    say = say or (lambda line: None)
    model = build_model(seed=seed).to(device)  # the page's NeuralNetwork(), its random init seeded
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr)
    images, labels = train.images.to(device), train.labels.to(device)
    test_images, test_labels = test.images.to(device), test.labels.to(device)
    result = TutorialResult()
    began = time.perf_counter()
    saved: int | None = None
    threads = torch.get_num_threads()
    if device.type == "cpu":
        # Batches of 64 through this small network gain nothing from a second CPU thread, and lose up to
        # 10x when the other core is busy (OpenMP threads wait on each other at every layer); one it is.
        torch.set_num_threads(1)
    try:
        for t in range(recipe.epochs):
            say(f"Epoch {t + 1}\n-------------------------------")
            tick = time.perf_counter()
            train_loss, train_accuracy = train_loop(images, labels, model, loss_fn, optimizer, recipe.batch_size, say)
            seconds = time.perf_counter() - tick
            try:
                test_loss, test_accuracy = test_loop(test_images, test_labels, model, loss_fn, recipe.batch_size, say)
            except WeightsError:
                where = f"epoch {saved} is saved in {printable(str(out))}" if saved else "nothing was saved"
                raise WeightsError(
                    f"epoch {t + 1}: the network's outputs stopped being numbers (training diverged; "
                    f"a smaller --lr may help); {where}"
                ) from None
            stats = EpochStats(
                t + 1,
                train_loss,
                train_accuracy,
                test_loss,
                test_accuracy,
                seconds,
                len(images) / seconds if seconds > 0 else 0.0,
                recipe.lr,
            )
            result.history.append(stats)
            if out is not None:
                try:
                    save_checkpoint(out, _checkpoint(model, recipe, seed, result.history, train), claim)
                except OutputError as exc:  # a full disk at epoch 3: epoch 2 is still there, say so
                    if not saved:
                        raise
                    raise OutputError(f"{exc}; epoch {saved} is saved in {printable(str(out))}") from None
                saved = t + 1
            if epoch_end is not None:
                epoch_end(stats)
    except KeyboardInterrupt:
        where = f"epoch {saved} is saved in {out}" if saved else "nothing was saved"
        raise TrainingInterrupted(f"interrupted during epoch {len(result.history) + 1}: {where}") from None
    finally:
        torch.set_num_threads(threads)
    say("Done!")
    result.seconds = time.perf_counter() - began
    result.model = model.eval()
    return result


def _checkpoint(
    model: NeuralNetwork, recipe: TutorialRecipe, seed: int, history: list[EpochStats], train: Split
) -> Checkpoint:
    """The default recipe's checkpoint, without optimizer state (SGD keeps none); no temperature, so its
    probabilities are the plain softmax; the recipe names itself, so `--resume` knows it is not ours."""
    return training_checkpoint(model, None, None, recipe, seed, history, train, False)


# ---- the shipped recipe, from its checkpoint ----------------------------------------------------


@dataclass
class RecipeFigures:
    """One recipe's settings and results, for the table: what differs, and how it ended."""

    label: str
    recipe: dict
    history: list[EpochStats]
    seconds: float | None  # the epochs' training time, as recorded (the per-epoch tests not included)
    test_accuracy: float | None
    test_loss: float | None  # plain cross-entropy on the test set, per image (what evaluate reports)
    temperature: float | None = None
    teacher: dict | None = None  # the distillation teacher's epochs, test accuracy and seconds, if one taught

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "recipe": self.recipe,
            "seconds": self.seconds,
            "test_accuracy": self.test_accuracy,
            "test_loss": self.test_loss,
            "temperature": self.temperature,
            "history": [h.to_dict() for h in self.history],
        }


def shipped_figures(path: Path = SHIPPED_WEIGHTS) -> RecipeFigures | None:
    """The shipped weights' recipe and per-epoch history, read from their checkpoint (None when the
    weights are not there, as in a source checkout before `make weights`)."""
    if not Path(path).exists():
        return None
    meta = read_checkpoint(path, training=False).metadata
    names = {f.name for f in fields(EpochStats)}
    try:
        history = [EpochStats(**{k: v for k, v in h.items() if k in names}) for h in meta.get("history", [])]
    except TypeError:
        raise WeightsError(f"{path}: metadata field 'history' is not a list of epoch records") from None
    # Metadata is hostile input: a time that is not a number of seconds leaves the total unknown ("--").
    seconds = sum(h.seconds for h in history) if history and all(_real(h.seconds, 0) for h in history) else None
    teacher = meta.get("teacher") if isinstance(meta.get("teacher"), dict) else None  # trained once, beforehand
    return RecipeFigures(
        "shipped",
        dict(meta.get("recipe") or {}),
        history,
        seconds,
        meta.get("test_accuracy"),
        meta.get("test_loss"),
        meta.get("temperature"),
        teacher,
    )


def tutorial_figures(recipe: TutorialRecipe, result: TutorialResult) -> RecipeFigures:
    last = result.history[-1] if result.history else None
    seconds = sum(h.seconds for h in result.history) if result.history else None  # training, as shipped's
    return RecipeFigures(
        "tutorial",
        recipe.to_dict(),
        result.history,
        seconds,
        last.test_accuracy if last else None,
        last.test_loss if last else None,
    )


# ---- side by side ---------------------------------------------------------------------------------


@dataclass
class Comparison:
    """The table's rows (what, tutorial, shipped) and, for each way the shipped recipe differs, why."""

    rows: list[tuple[str, str, str]]
    reasons: list[tuple[str, str]]  # (what changed, why it helps)
    notes: list[str] = field(default_factory=list)  # one line each under the table: why a figure reads as it does

    def to_dict(self) -> dict:
        return {
            "rows": [{"what": a, "tutorial": b, "shipped": c} for a, b, c in self.rows],
            "reasons": [{"change": a, "why": b} for a, b in self.reasons],
            "notes": self.notes,
        }


LADDER_NOTE = (
    "What each change does on its own, measured one at a time: fashionnet train --recipe ladder "
    "(each rung the tutorial's 10 epochs; saves nothing)."
)
LOSS_NOTE = (
    'test loss is the mean over every test image; the page\'s "Avg loss" above is the mean of its '
    "batches' means, in which the short last batch counts as much as a full one, so the two differ a little."
)


# Why each change of the shipped recipe helps, keyed by the recipe field that makes it.
WHY = {
    "optimizer": "AdamW scales each weight's step by its recent gradients, and the one-cycle schedule warms "
    "the rate up, then anneals it to almost nothing: the network learns in a few epochs what "
    "plain SGD at 0.001 needs many more for, and settles at the end. Weight decay keeps the "
    "weights small, which generalises better.",
    "batch_size": "Larger batches take fewer, larger steps per epoch, and their gradients are steadier, "
    "which the higher learning rate needs.",
    "label_smoothing": "Label smoothing aims at less than 100% on the right class, so the network stops "
    "pushing apart the logits of images it already gets right; it generalises better. "
    "It leaves the raw softmax under-confident, which the temperature repairs.",
    "standardise": "Standardised inputs (mean 0, spread 1) give every first-layer weight gradients of a "
    "similar size, so training is better conditioned. The standardisation is folded into "
    "the first layer when saving, so the saved model takes pixels / 255 like the tutorial's.",
    "flip": "Random horizontal flips show the clothes (nearly mirror-symmetric) in more variety at no "
    "cost; they stop for the last epochs so training ends on the images as they are.",
    "holdout": "A temperature fitted on held-out training images makes the probabilities match how often "
    "the model is right, so predict can say 'not sure' and mean it.",
    "epochs": "The one-cycle schedule is spread over all the epochs, so the rate anneals to almost nothing "
    "by the last one.",
    "photos": "Drawings of real phone photos, made as predict makes them, show the network the garments it "
    "will meet outside FashionMNIST: shoes may be any of three classes, and hats, shorts and "
    "skirts are trained towards 'none of these', so predict can say 'not sure' of them. Their "
    "small weight leaves most of the network to FashionMNIST.",
    "teacher": "A small CNN sees neighbouring pixels together and learns FashionMNIST better; matching its "
    "softened answers tells the network which other classes an image resembles, not only its "
    "label.",
    "photo_teacher": "A second small CNN, trained on the photo drawings alone, knows them better than this "
    "network can learn them; asked about every drawing as it is turned and shifted that step, it "
    "teaches the network the garment rather than where it lies in the frame.",
}
KNOWN = {
    "name",
    "optimizer",
    "loss",
    "shuffle",
    "epochs",
    "batch_size",
    "lr",
    "weight_decay",
    "warmup_fraction",
    "div_factor",
    "final_div_factor",
    "label_smoothing",
    "flip",
    "clean_epochs",
    "holdout",
    "mean",
    "std",
    "photo_share",
    "photo_weight",
    "teacher_epochs",
    "distill_weight",
    "distill_temperature",
    "photo_distill",
    "photo_calibration",
    "photo_rotation",
    "photo_scale",
    "photo_shift",
}


def _pct(value: float | None) -> str:
    return f"{value:.2%}" if _real(value, 0, 1) else "--"


def _loss(value: float | None) -> str:
    return f"{value:.4f}" if _real(value, 0) else "--"


def _seconds(value: float | None, how: str) -> str:
    return f"{value:.1f} s ({how})" if _real(value, 0) else "--"


def _real(value, low: float = -math.inf, high: float = math.inf) -> bool:
    """A finite number from `low` to `high` (true/false are not numbers): what a table may format."""
    return is_real(value) and low <= value <= high


def _g(value) -> str:
    return "--" if value is None else f"{value:g}"


def compare(tutorial: RecipeFigures, shipped: RecipeFigures | None) -> Comparison:
    """What the two recipes do and reach, row by row; the shipped side from its checkpoint's metadata."""
    t = tutorial.recipe
    rows = [
        ("optimizer", f"SGD, learning rate {t['lr']:g} throughout", ""),
        ("batch size", f"{t['batch_size']}", ""),
        ("epochs", f"{t['epochs']}", ""),
        ("loss", "cross-entropy", ""),
        ("input", "pixels / 255", ""),
        ("augmentation", "none", ""),
        ("calibration", "none (raw softmax)", ""),
        ("photos", "none", ""),
        ("teacher", "none", ""),
        ("test accuracy", _pct(tutorial.test_accuracy), ""),
        ("test loss", _loss(tutorial.test_loss), ""),
        ("training time", _seconds(tutorial.seconds, "this run"), ""),
    ]
    if shipped is None:
        return Comparison(rows, [], [LOSS_NOTE, LADDER_NOTE])
    s = shipped.recipe
    reasons: list[tuple[str, str]] = []

    def get(key, default=None):
        """A field of the shipped recipe, or `default` where it is absent or not a value training runs with
        (RECIPE_RULES): a tampered checkpoint shows "--" there instead of failing to format."""
        value, rule = s.get(key), RECIPE_RULES.get(key)
        return default if value is None or (rule is not None and not rule[0](value)) else value

    optimizer = "AdamW"
    if get("lr") is not None:
        optimizer += f", one-cycle learning rate up to {get('lr'):g}"
    if get("weight_decay"):
        optimizer += f", weight decay {get('weight_decay'):g}"
    smoothing = get("label_smoothing") or 0
    loss = "cross-entropy" + (f", label smoothing {smoothing:g}" if smoothing else "")
    standardised = get("std") not in (None, 1, 1.0) or get("mean") not in (None, 0, 0.0)
    inputs = (
        f"standardised (mean {_g(get('mean'))}, std {_g(get('std'))}), folded into layer 0"
        if standardised
        else "pixels / 255"
    )
    flips = "none"
    if get("flip"):
        clean = get("clean_epochs")
        flips = "random horizontal flips" + (f", off for the last {clean} epochs" if clean else "")
    holdout = get("holdout") or 0
    # the range weights.METADATA_RULES accepts
    temperature = shipped.temperature if _real(shipped.temperature, 0.01, 100) else None
    calibration = "none (raw softmax)"
    if temperature is not None:
        photos_too = " and validation photos" if get("photo_calibration") is True and get("photo_share") else ""
        calibration = f"temperature {temperature:g}" + (
            f", fitted on {holdout:.0%} held out{photos_too}" if holdout else ""
        )
    share = get("photo_share") or 0
    photos = "none"
    if share:
        count = round(share * get("batch_size")) if get("batch_size") is not None else "--"
        photos = f"{count} photo drawings in every batch, loss weight {_g(get('photo_weight'))}"
        if get("photo_rotation") or get("photo_scale"):
            scale = get("photo_scale")
            photos += (
                f", each turned by up to {_g(get('photo_rotation'))}°, scaled by up to "
                f"{'--' if scale is None else f'{scale:.0%}'} and shifted by up to {_g(get('photo_shift'))} pixels"
            )
    teacher, taught = "none", get("teacher_epochs") or 0
    if taught:
        known = shipped.teacher or {}
        score = f" ({known['test_accuracy']:.2%})" if _real(known.get("test_accuracy"), 0, 1) else ""
        teacher = (
            f"a small CNN, {taught} epochs{score}; {_g(get('distill_weight'))} of the loss matches its "
            f"shipped answers at temperature {_g(get('distill_temperature'))}"
        )
    photo_taught = share and (get("photo_distill") or 0)
    if photo_taught:
        teacher = ("" if teacher == "none" else teacher + "; ") + (
            "a photo CNN answers each photo drawing as drawn ("
            + ("all" if photo_taught == 1 else _g(photo_taught))
            + " of the photo loss)"
        )
    when = "when trained"
    shipped_values = [
        optimizer,
        f"{get('batch_size', '--')}",
        f"{get('epochs', '--')}",
        loss,
        inputs,
        flips,
        calibration,
        photos,
        teacher,
        _pct(shipped.test_accuracy),
        _loss(shipped.test_loss),
        _seconds(shipped.seconds, when),
    ]
    rows = [(what, mine, theirs) for (what, mine, _), theirs in zip(rows, shipped_values, strict=True)]
    others = {k: v for k, v in s.items() if k not in KNOWN}
    if others:
        rows.insert(9, ("also", "--", ", ".join(f"{k} {v}" for k, v in sorted(others.items()))))
    reasons.append(("AdamW and a one-cycle schedule", WHY["optimizer"]))
    if get("batch_size") not in (None, t["batch_size"]):
        reasons.append((f"batches of {get('batch_size')}", WHY["batch_size"]))
    if smoothing:
        reasons.append((f"label smoothing {smoothing:g}", WHY["label_smoothing"]))
    if standardised:
        reasons.append(("standardised input", WHY["standardise"]))
    if get("flip"):
        reasons.append(("horizontal flips", WHY["flip"]))
    if temperature is not None:
        reasons.append(("a fitted temperature", WHY["holdout"]))
    if share:
        reasons.append(("photo drawings in every batch", WHY["photos"]))
    if taught:
        reasons.append(("a CNN teacher", WHY["teacher"]))
    if photo_taught:
        reasons.append(("a photo teacher", WHY["photo_teacher"]))
    if isinstance(get("epochs"), int) and get("epochs") > t["epochs"]:
        reasons.append((f"{get('epochs')} epochs", WHY["epochs"]))
    return Comparison(rows, reasons, [LOSS_NOTE, LADDER_NOTE])


@dataclass
class TutorialRun:
    """`train --recipe tutorial`, done: what was trained, where it went, and the side-by-side figures."""

    recipe: TutorialRecipe
    out: Path
    device: torch.device
    seed: int
    result: TutorialResult
    figures: RecipeFigures
    shipped: RecipeFigures | None
    comparison: Comparison

    def to_dict(self) -> dict:
        result, figures, shipped = self.result, self.figures, self.shipped
        return {
            "out": str(self.out),
            "device": str(self.device),
            "seed": self.seed,
            "recipe": self.recipe.to_dict(),
            "epochs": len(result.history),
            "seconds": result.seconds,
            "test_accuracy": figures.test_accuracy,
            "test_loss": figures.test_loss,
            "history": [h.to_dict() for h in result.history],
            "shipped": shipped.to_dict() if shipped is not None else None,
            "comparison": self.comparison.to_dict(),
        }


def load_for_run(
    seed: int | None, device: str | None, limit: int | None, data_dir: Path | None, note: Say | None = None
) -> tuple[int, torch.device, Split, Split, RecipeFigures | None]:
    """What a run set beside the shipped recipe needs (the tutorial's, the ladder's): the seed (0 unless
    given), the device, the training and test splits, and the shipped weights' figures, read first so a
    damaged shipped checkpoint fails before the work; `note` is told the device."""
    from fashionnet import data as data_mod
    from fashionnet.device import select_device

    dev = select_device(device)
    train_split = data_mod.load_split("train", data_dir, limit=limit)
    test_split = data_mod.load_split("test", data_dir, official=True)
    shipped = shipped_figures()
    if note is not None:
        note(f"Using {dev} device")
    return 0 if seed is None else seed, dev, train_split, test_split, shipped


def run_tutorial(
    epochs: int | None,
    batch_size: int | None,
    lr: float | None,
    seed: int | None,
    device: str | None,
    out: Path | None,
    force: bool,
    limit: int | None,
    data_dir: Path | None,
    note: Say | None = None,
    say: Say | None = None,
) -> TutorialRun:
    """--recipe tutorial: the page's training, then the figures to set beside the shipped weights'.
    `note` gets the lines for stderr (None: quiet); `say` the lines the page prints (None: not shown)."""
    from fashionnet.errors import printable
    from fashionnet.train import resolve_output

    recipe = tutorial_recipe(epochs, batch_size, lr)
    out_path = resolve_output(out if out is not None else DEFAULT_OUT, None, force)
    claim = OutputClaim(out_path)  # what --out is now: a save never replaces what another run writes there
    seed, dev, train_split, test_split, shipped = load_for_run(seed, device, limit, data_dir, note)
    if note is not None and say is not None:
        note(
            f"Training as the tutorial does on {len(train_split.images):,} images; checkpoints go to "
            f"{printable(str(out_path))}"
        )
    result = fit_tutorial(recipe, train_split, test_split, dev, seed, out_path, say=say, claim=claim)
    figures = tutorial_figures(recipe, result)
    return TutorialRun(recipe, out_path, dev, seed, result, figures, shipped, compare(figures, shipped))
