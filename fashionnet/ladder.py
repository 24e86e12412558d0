"""`train --recipe ladder`: from the tutorial's training to the shipped recipe one change at a time, each
rung trained and tested here, so every "why it helps" carries the figure this run measured.

Every rung trains the same network for the same number of epochs (the tutorial's 10 unless --epochs),
seed and data: the first two with the page's own loop (`tutorial_recipe.fit_tutorial`: SGD, batches of
64 in file order), the rest with the shipped recipe's code (`train.fit`) with one more of its settings
switched on than the rung above, taken from `recipe.Recipe`'s defaults so the ladder follows the recipe.
The shipped recipe's photos, CNN teachers and 45 epochs take minutes, not seconds: the last row gives
the shipped weights' figures from their checkpoint, marked as recorded, not measured here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import torch

from fashionnet.data import Split
from fashionnet.recipe import Recipe
from fashionnet.train import fit
from fashionnet.tutorial_recipe import WHY, TutorialRecipe, fit_tutorial

EPOCHS = 10  # the tutorial's

WHY_LR = (
    "The page's SGD steps of 0.001 are small: in the page's epochs the weights move too little to "
    "learn what they can. A rate 100 times larger, with nothing else changed, shows how much."
)


@dataclass(frozen=True)
class Rung:
    """One step of the ladder: what it adds to the rung above, why, and how it trains."""

    name: str  # what this rung adds, short: "learning rate 0.1"
    why: str
    sgd_lr: float | None = None  # the page's own loop at this learning rate...
    recipe: Recipe | None = None  # ...or the shipped recipe's code with these settings

    def settings(self) -> dict:
        if self.recipe is not None:
            return {"trainer": "train.fit", **self.recipe.to_dict()}
        return {"trainer": "the tutorial's loop", **TutorialRecipe(lr=self.sgd_lr or 1e-3).to_dict()}


def rungs(epochs: int = EPOCHS) -> list[Rung]:
    """The ladder's rungs, each one change more than the one above it (the shipped values from Recipe())."""
    shipped = Recipe()
    adamw = replace(
        shipped,
        epochs=epochs,
        batch_size=TutorialRecipe().batch_size,
        label_smoothing=0.0,
        flip=False,
        clean_epochs=0,
        holdout=0.0,
        photo_share=0.0,
        teacher_epochs=0,
        mean=0.0,
        std=1.0,
    )
    batches = replace(adamw, batch_size=shipped.batch_size)
    standardised = replace(batches, mean=shipped.mean, std=shipped.std)
    smoothed = replace(standardised, label_smoothing=shipped.label_smoothing)
    clean = max(0, min(epochs - 1, round(shipped.clean_epochs * epochs / shipped.epochs)))
    flipped = replace(smoothed, flip=True, clean_epochs=clean)
    return [
        Rung("the tutorial: SGD at 0.001, batches of 64", "The page's recipe, as it is.", sgd_lr=TutorialRecipe().lr),
        Rung("learning rate 0.1", WHY_LR, sgd_lr=0.1),
        Rung(
            f"AdamW, one-cycle to {shipped.lr:g}, weight decay {shipped.weight_decay:g}", WHY["optimizer"], recipe=adamw
        ),
        Rung(f"batches of {shipped.batch_size}", WHY["batch_size"], recipe=batches),
        Rung("standardised input", WHY["standardise"], recipe=standardised),
        Rung(f"label smoothing {shipped.label_smoothing:g}", WHY["label_smoothing"], recipe=smoothed),
        Rung(
            f"horizontal flips (off for the last {clean} epochs)" if clean else "horizontal flips",
            WHY["flip"],
            recipe=flipped,
        ),
    ]


@dataclass
class Step:
    """One rung as this run measured it."""

    name: str
    why: str
    epochs: int
    test_accuracy: float | None  # after the last epoch, on the test split
    seconds: float  # training and the per-epoch tests, as measured here
    change: float | None  # test accuracy minus the rung above's (None for the first)
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def climb(
    train: Split,
    test: Split,
    device: torch.device,
    seed: int = 0,
    epochs: int = EPOCHS,
    started: Callable[[int, int, Rung], None] | None = None,
    finished: Callable[[Step], None] | None = None,
) -> list[Step]:
    """Train every rung on the same data with the same seed; `started(number, count, rung)` and
    `finished(step)` report progress. Nothing is saved: the rungs are measurements, not models."""
    ladder = rungs(epochs)
    steps: list[Step] = []
    for number, rung in enumerate(ladder, start=1):
        if started is not None:
            started(number, len(ladder), rung)
        tick = time.perf_counter()
        if rung.recipe is not None:
            history = fit(rung.recipe, train, test, device, seed).history
        else:
            history = fit_tutorial(
                TutorialRecipe(epochs=epochs, lr=rung.sgd_lr or 1e-3), train, test, device, seed
            ).history
        seconds = time.perf_counter() - tick
        accuracy = history[-1].test_accuracy if history else None
        before = steps[-1].test_accuracy if steps else None
        change = accuracy - before if accuracy is not None and before is not None else None
        step = Step(rung.name, rung.why, epochs, accuracy, seconds, change, rung.settings())
        steps.append(step)
        if finished is not None:
            finished(step)
    return steps


@dataclass
class LadderRun:
    """`train --recipe ladder`, done: the rungs as measured, and the shipped weights' recorded figures."""

    device: torch.device
    seed: int
    epochs: int
    steps: list[Step]
    shipped: object | None  # tutorial_recipe.RecipeFigures of the shipped checkpoint, when it is there

    def to_dict(self) -> dict:
        shipped = self.shipped.to_dict() if self.shipped is not None else None  # type: ignore[attr-defined]
        return {
            "device": str(self.device),
            "seed": self.seed,
            "epochs": self.epochs,
            "rungs": [s.to_dict() for s in self.steps],
            "shipped": shipped,
        }


def run_ladder(
    epochs: int | None,
    seed: int | None,
    device: str | None,
    limit: int | None,
    data_dir,
    note: Callable[[str], None] | None = None,
    chatty: bool = True,
) -> LadderRun:
    """--recipe ladder: load the data, climb every rung. `note` gets the lines for stderr (None: quiet);
    with `chatty`, one line as each rung starts."""
    from fashionnet.tutorial_recipe import load_for_run

    epochs = EPOCHS if epochs is None else epochs
    seed, dev, train, test, shipped = load_for_run(seed, device, limit, data_dir, note)

    def started(number: int, count: int, rung: Rung) -> None:
        if note is not None and chatty:
            note(
                f"Rung {number}/{count}: {rung.name} ({epochs} epoch{'s' if epochs != 1 else ''} on "
                f"{len(train.images):,} images)"
            )

    return LadderRun(dev, seed, epochs, climb(train, test, dev, seed, epochs, started), shipped)
