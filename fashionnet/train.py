"""Training: the whole data set in memory, batches sliced from it, augmentation on whole batches.

`fit` reports through callbacks and never prints; the CLI draws progress bars from those calls.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch

from fashionnet import CLASSES, calibration, teacher as teaching
from fashionnet.batches import (  # noqa: F401 - augment and standardize are part of this module's interface
    PhotoBatches,
    PhotoSet,
    augment,
    flip,
    photos_per_batch,
    random_flips,
    standardize,
    train_step,
)
from fashionnet.data import Split
from fashionnet.epochs import Callbacks, EpochStats, Silent
from fashionnet.errors import DataError, OutputError, TrainingInterrupted, UsageError, WeightsError, printable
from fashionnet.evaluate import evaluate, predict_logits
from fashionnet.files import OutputClaim, check_writable
from fashionnet.model import NeuralNetwork, build_model
from fashionnet.photo_teacher import answers as answer_photos, load_photo_teacher
from fashionnet.recipe import WHOLE_PIXEL_PHOTOS, Recipe
from fashionnet.resume import load_resume, restore_training, resume_point, training_state
from fashionnet.streams import raise_if_interrupted
from fashionnet.weights import (
    SHIPPED_WEIGHTS,
    Checkpoint,
    metadata_error,
    save_checkpoint,
)


@dataclass
class TrainResult:
    history: list[EpochStats] = field(default_factory=list)
    seconds: float = 0.0
    model: NeuralNetwork | None = None  # the folded weights, as saved: takes [0, 1] input
    temperature: float | None = None  # fitted on the held-out images (None when recipe.holdout is 0)
    teacher: dict | None = None  # the distillation teacher's epochs, test accuracy and seconds (no teacher: None)
    photo_teacher: dict | None = None  # the photo teacher's epochs, seed and file sha256 (none asked: None)

    @property
    def final(self) -> EpochStats | None:
        return self.history[-1] if self.history else None


def folded_state(model: NeuralNetwork, recipe: Recipe) -> dict[str, torch.Tensor]:
    """The weights for [0, 1] inputs: standardisation folded into the first Linear layer, exactly
    W' = W / std and b' = b - W @ (mean / std), so the saved model needs no preprocessing of its own."""
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    weight = state["linear_relu_stack.0.weight"]
    state["linear_relu_stack.0.weight"] = weight / recipe.std
    state["linear_relu_stack.0.bias"] = state["linear_relu_stack.0.bias"] - (weight * (recipe.mean / recipe.std)).sum(1)
    return state


def photo_set(drawings) -> PhotoSet:
    """The train part of a photo drawings file (photos.PhotoDrawings) as the tensors fit() mixes in."""
    images, allowed, _ = drawings.training_set()
    return PhotoSet(torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(np.ascontiguousarray(allowed)))


def _optimizer(model: NeuralNetwork, recipe: Recipe) -> torch.optim.Optimizer:
    decay = [p for name, p in model.named_parameters() if not name.endswith("bias")]
    no_decay = [p for name, p in model.named_parameters() if name.endswith("bias")]
    groups = [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=recipe.lr)


def _schedule(
    optimizer: torch.optim.Optimizer, recipe: Recipe, total_steps: int
) -> torch.optim.lr_scheduler.OneCycleLR:
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=recipe.lr,
        total_steps=total_steps,
        pct_start=recipe.warmup_fraction,
        anneal_strategy="cos",
        div_factor=recipe.div_factor,
        final_div_factor=recipe.final_div_factor,
        cycle_momentum=False,
    )


# ---- checkpoint <-> training state -------------------------------------------------------------


@contextmanager
def _interrupts_wait():
    """Hold a Ctrl-C back until the block is done, so 'saved' and the message about it always agree.
    Only the main thread can own signal handlers; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        signal.raise_signal(signal.SIGINT)  # delivered now, to whatever handler the program has


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
    claim: OutputClaim | None = None,
    photos: PhotoSet | None = None,
    targets=None,
    calibration_photos: tuple | None = None,
    photo_teacher: torch.nn.Module | None = None,
    photo_teacher_id: dict | None = None,
) -> TrainResult:
    """Train the tutorial's model; save a checkpoint after every epoch (atomically) when `out` is set.

    `photos` are the photo drawings mixed into every batch (recipe.photo_share of it); without them the
    run is FashionMNIST alone, and the recipe it saves says so. `targets` (teacher.Targets, needed when
    recipe.teacher_epochs > 0) are the CNN teacher's answers for the training images, which the MLP also
    learns from. The temperature is fitted on the held-out training images together with
    `calibration_photos` (photos.PhotoDrawings.calibration_set: validation photos never trained on), so
    that the probabilities are honest for photos as well as for FashionMNIST. `photo_teacher`
    (photo_teacher.load_photo_teacher, needed when recipe.photo_distill > 0) answers every photo drawing as
    it is drawn, and the MLP learns those answers too; `photo_teacher_id` (what identifies it) is recorded
    in every checkpoint.
    The returned model (result.model) holds the folded weights, like the checkpoint: it takes [0, 1] input.
    `claim` (files.check_output's) is what `out` was when the run was checked: a save never replaces a
    file another run wrote since (two runs with one --out).
    """
    callbacks = callbacks or Silent()
    claim = claim or (OutputClaim(out) if out is not None else None)
    if photos is None or len(photos) == 0:
        recipe, photos = replace(recipe, photo_share=0.0), None
    if targets is None:  # no teacher's answers: the labels alone, and the recipe it saves says so
        recipe = replace(recipe, teacher_epochs=0)
    if photo_teacher is None or photos is None:
        recipe = replace(recipe, photo_distill=0.0)
    if not recipe.photo_calibration:
        calibration_photos = None
    model: NeuralNetwork = build_model(seed=seed)
    generator = torch.Generator().manual_seed(seed + 1000)  # permutations, flips and photo batches
    optimizer = _optimizer(model, recipe)
    history: list[EpochStats] = []
    start_epoch = 0
    steps_done = 0
    photo_count = len(photos) if photos is not None and recipe.photo_share > 0 else 0
    if resume is not None:
        path, checkpoint = resume
        restore_training(path, checkpoint, model, optimizer, generator)
        start_epoch, steps_done, history = resume_point(path, checkpoint, recipe, len(train.images), photo_count)
    model.to(device)
    optimizer.load_state_dict(optimizer.state_dict())  # moves AdamW's moments to the model's device

    images = train.images.to(device)  # (N, 28, 28) uint8: 47 MB for the full set, on the device once
    labels = train.labels.to(device)
    held = int(len(images) * recipe.holdout)  # the last images fit the temperature, never the weights
    held_images, held_labels = images[len(images) - held :], labels[len(labels) - held :]
    images, labels = images[: len(images) - held], labels[: len(labels) - held]
    n = len(images)
    batches = math.ceil(n / recipe.batch_size)
    mixed = photos.to(device) if photos is not None and photo_count else None
    mixing = None
    if mixed is not None:
        asked = None
        if recipe.photo_distill > 0 and photo_teacher is not None:
            asked = partial(answer_photos, photo_teacher.to(device), recipe=recipe)
        mixing = PhotoBatches(mixed, photos_per_batch(recipe, mixed), generator, recipe, asked)
    schedule = _schedule(optimizer, recipe, total_steps=batches * recipe.epochs)
    with warnings.catch_warnings():  # replaying before any optimizer.step() is intended here
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(steps_done):  # the one-cycle lr is a closed form of the step: replay it
            schedule.step()
    evaluator = build_model(seed=seed).to(device)  # holds the folded weights for per-epoch test scores
    result = TrainResult(history=history)
    last_saved = (start_epoch, resume[0]) if resume is not None else None  # what Ctrl-C can point to
    began = time.perf_counter()
    soft = None
    if targets is not None:
        soft = teaching.image_targets(targets, train.labels, n).to(device)  # (n, 2, 10): as is and mirrored
        result.teacher = targets.report()
    if recipe.photo_distill > 0:  # fit asks the photo teacher (it set photo_distill to 0 without one)
        result.photo_teacher = photo_teacher_id

    try:
        for epoch in range(start_epoch, recipe.epochs):
            callbacks.epoch_start(epoch + 1, recipe.epochs, batches)
            tick = time.perf_counter()
            model.train()
            flipping = recipe.flip and epoch < recipe.epochs - recipe.clean_epochs
            order = torch.randperm(n, generator=generator).to(device)
            chosen = mixing.epoch(batches) if mixing is not None else None
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.long)
            for batch in range(batches):
                raise_if_interrupted()
                index = order[batch * recipe.batch_size : (batch + 1) * recipe.batch_size]
                x, y = images[index], labels[index]
                mirrored = random_flips(len(index), generator, device) if flipping else None
                if mirrored is not None:
                    x = flip(x, mirrored)
                allowed, taught = None, None
                if mixing is not None and chosen is not None:
                    extra, allowed, taught = mixing.batch(chosen[batch])
                    x = torch.cat([x, extra])
                target = None
                if soft is not None:  # the teacher's answer for exactly the image the MLP sees
                    target = soft[index, mirrored.long()] if mirrored is not None else soft[index, 0]
                photo_soft = taught if recipe.photo_distill > 0 else None  # the photo teacher's answers
                loss, right = train_step(
                    model, optimizer, schedule, x, y, allowed, recipe, recipe.label_smoothing, target, photo_soft
                )
                loss_sum += loss * len(y)
                correct += right
                if batch % 20 == 19 or batch == batches - 1:
                    callbacks.batch_end(batch + 1, min(n, (batch + 1) * recipe.batch_size), loss.item())
            seconds = time.perf_counter() - tick
            evaluator.load_state_dict(folded_state(model, recipe))
            try:  # the door every model output goes through (finite_outputs): a diverged run stops here
                scores = (
                    evaluate(evaluator, test.images, test.labels, device, require_finite=True)
                    if test is not None
                    else None
                )
            except WeightsError:
                kept = _kept(last_saved, out, save_optimizer)
                raise WeightsError(
                    f"epoch {epoch + 1}: the network's outputs stopped being numbers (training "
                    f"diverged; a smaller --lr may help); {kept}"
                ) from None
            stats = EpochStats(
                epoch=epoch + 1,
                train_loss=loss_sum.item() / n,
                train_accuracy=correct.item() / n,
                test_loss=scores.loss if scores else None,
                test_accuracy=scores.accuracy if scores else None,
                seconds=seconds,
                samples_per_second=n / seconds if seconds > 0 else 0.0,  # finite: metadata is JSON
                lr=optimizer.param_groups[0]["lr"],
            )
            history.append(stats)
            if out is not None:
                state = _checkpoint(model, optimizer, generator, recipe, seed, history, train, save_optimizer)
                state.metadata["steps"] = (epoch + 1) * batches
                state.metadata["photo_samples"] = photo_count
                if result.teacher is not None:
                    state.metadata["teacher"] = result.teacher
                if result.photo_teacher is not None:
                    state.metadata["photo_teacher"] = result.photo_teacher
                if held:
                    state.metadata[calibration.METADATA_KEY] = _temperature(
                        evaluator, held_images, held_labels, device, calibration_photos
                    )
                with _interrupts_wait():  # a Ctrl-C as the file lands is reported with it
                    try:
                        save_checkpoint(out, state, claim)
                    except OutputError as exc:  # a full disk at epoch 3 keeps epoch 2: say so, and how to go on
                        if last_saved is None:
                            raise
                        raise OutputError(f"{exc}; {_kept(last_saved, out, save_optimizer)}") from None
                    last_saved = (epoch + 1, out)
            callbacks.epoch_end(stats)
    except KeyboardInterrupt:
        running = len(history) + 1 if len(history) < recipe.epochs else recipe.epochs
        kept = _kept(last_saved, out, save_optimizer)
        raise TrainingInterrupted(f"interrupted during epoch {running}: {kept}") from None
    result.seconds = time.perf_counter() - began
    evaluator.load_state_dict(folded_state(model, recipe))
    result.model = evaluator.eval()
    result.temperature = _temperature(evaluator, held_images, held_labels, device, calibration_photos) if held else None
    return result


def _kept(last_saved: tuple[int, Path] | None, out: Path | None, save_optimizer: bool) -> str:
    """What a stopped run leaves: 'nothing was saved', or which epoch is saved where and how to go on."""
    if last_saved is None:
        return "nothing was saved"
    epoch, where = last_saved
    resumable = save_optimizer or where != out
    hint = f"; continue with --resume {printable(str(where))}" if resumable else ""
    return f"epoch {epoch} is saved in {printable(str(where))}{hint}"


def _temperature(
    model: NeuralNetwork, images: torch.Tensor, labels: torch.Tensor, device: torch.device, photos: tuple | None = None
) -> float:
    """The temperature fitted on the held-out images and, when given, on photos as predict answers them
    (logits averaged over each photo's drawings, predict.average_drawings)."""
    logits = predict_logits(model, images, device)
    allowed = torch.nn.functional.one_hot(labels.cpu().long(), len(CLASSES)).bool()
    if photos is not None and len(photos[2]):
        from fashionnet.predict import average_drawings

        drawings, members, named = photos
        drawn = predict_logits(model, torch.from_numpy(np.ascontiguousarray(drawings)), device)
        drawn = average_drawings(drawn, members)
        logits, allowed = torch.cat([logits, drawn]), torch.cat([allowed, torch.from_numpy(np.asarray(named, bool))])
    return calibration.fit_temperature(logits, allowed)


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
        training, groups = training_state(model, optimizer, generator)
        metadata["optimizer_param_groups"] = groups
    return Checkpoint(model=folded_state(model, recipe), training=training, metadata=metadata)


DEFAULT_OUT = Path("checkpoints") / "fashionnet.safetensors"


def resolve_output(out: Path | None, resume: Path | None, force: bool) -> Path:
    """Where checkpoints go. Never overwrite a file silently (the shipped weights least of all):
    an existing --out needs --force, unless it is the checkpoint being resumed."""
    path = Path(out) if out is not None else (Path(resume) if resume is not None else DEFAULT_OUT)
    check_writable(path)  # a folder, device or FIFO is refused even with --force
    resuming_in_place = resume is not None and path.is_file() and path.resolve() == Path(resume).resolve()
    # A dangling link counts, as in files.check_output.
    if os.path.lexists(path) and not force and not resuming_in_place:
        shipped = path.resolve() == SHIPPED_WEIGHTS.resolve()
        what = "the shipped weights" if shipped else "it exists"
        raise UsageError(f"{path}: refusing to overwrite ({what}); pass --force, or choose another --out")
    return path


def teacher_for(
    recipe: Recipe, resume: tuple[Path, Checkpoint] | None, path: Path | None, labels: torch.Tensor
) -> tuple[Recipe, teaching.Targets | None, str | None]:
    """The teacher's answers this run learns from (the shipped file unless `path` names one; none when the
    recipe has no teacher), the recipe recording the teacher's epochs, and a note to show when the shipped
    answers do not fit the training images (another data set, e.g. --data-dir): the run then learns from
    the labels alone. A resumed run must learn from a teacher of the epochs it began with."""
    if recipe.teacher_epochs == 0:
        return recipe, None, None
    targets = teaching.load_targets(Path(path) if path is not None else teaching.TARGETS)
    try:
        teaching.image_targets(targets, labels, 0)
    except DataError:
        if path is not None or resume is not None:
            raise
        return (
            replace(recipe, teacher_epochs=0),  # the photo teacher answers the photos, whatever the images
            None,
            "The shipped teacher's answers are for FashionMNIST's own training images, not these: they are "
            "learnt from their labels alone",
        )
    if resume is not None and targets.epochs != recipe.teacher_epochs:
        raise UsageError(
            f"{resume[0]}: was taught by a teacher of {recipe.teacher_epochs} epochs, but "
            f"{targets.source} holds the answers of one of {targets.epochs}; resume it with its own "
            "teacher's answers (--teacher FILE) or start afresh"
        )
    return replace(recipe, teacher_epochs=targets.epochs), targets, None


def recipe_for(resume: tuple[Path, Checkpoint] | None, photos: bool = False, **overrides) -> Recipe:
    """The default recipe, or the resumed checkpoint's, with the options the user gave on top.

    A resumed run keeps its batch size (the data order depends on it), its teacher and whether it has
    photo drawings (`photos`: the user named a drawings file, which a run without them would ignore);
    --epochs and --lr may change, which bends the rest of the learning-rate schedule.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    problem = replace(Recipe(), **given).problem()
    if problem:
        name, what = problem
        raise UsageError(f"--{name.replace('_', '-')} must be {what} (got {given.get(name)})")
    if resume is None:
        return replace(Recipe(), **given)
    path, checkpoint = resume
    try:
        # Checkpoints from before the calibration hold-out trained on every image: keep it that way.
        # ...and those from before the photos and the teacher trained on FashionMNIST alone; those from before
        # the photo teacher drew the photos flipped and shifted by whole pixels, without its answers.
        before = {"holdout": 0.0, "photo_share": 0.0, "teacher_epochs": 0, "photo_distill": 0.0, **WHOLE_PIXEL_PHOTOS}
        base = Recipe(**{**before, **checkpoint.metadata["recipe"]})
    except (TypeError, KeyError):
        raise WeightsError(f"{path}: its training recipe is not one this version understands") from None
    problem = base.problem()
    if problem:
        raise metadata_error(path, f"recipe.{problem[0]}", f"must be {problem[1]}")
    if given.get("batch_size", base.batch_size) != base.batch_size:
        raise UsageError(f"{path}: was trained with --batch-size {base.batch_size}; a resumed run keeps it")
    if given.get("teacher_epochs", base.teacher_epochs) != base.teacher_epochs:
        if base.teacher_epochs:
            raise UsageError(f"{path}: was taught by the teacher; a resumed run keeps it (leave out --no-teacher)")
        raise UsageError(f"{path}: was trained without the teacher; a resumed run keeps that (leave out --teacher)")
    if given.get("photo_distill", base.photo_distill) != base.photo_distill and base.photo_distill:
        raise UsageError(f"{path}: was taught by the photo teacher; a resumed run keeps it (leave out --no-teacher)")
    if given.get("photo_share", base.photo_share) != base.photo_share:
        raise UsageError(
            f"{path}: was trained with the photo drawings; a resumed run keeps them (leave out --no-photos)"
        )
    if photos and base.photo_share == 0:
        raise UsageError(f"{path}: was trained without photo drawings; a resumed run keeps that (leave out --photos)")
    return replace(base, **given)


@dataclass
class TrainingRun:
    """A default-recipe run, set up and checked before any training: the recipe, where it saves, the data."""

    recipe: Recipe
    out: Path
    claim: OutputClaim
    seed: int
    device: torch.device
    resume_from: tuple[Path, Checkpoint] | None
    photo_set: PhotoSet | None
    train: Split
    test: Split
    targets: teaching.Targets | None = None  # the teacher's answers it learns from
    teacher_named: bool = False  # --teacher FILE (else the shipped answers)
    untaught: str | None = None  # why the shipped answers were left out, when they do not fit these images
    calibration_photos: tuple | None = None  # validation photos the temperature is fitted on as well
    photo_teacher: torch.nn.Module | None = None  # answers the photo drawings as drawn (photo_teacher.py)
    photo_teacher_id: dict | None = None  # its epochs, seed and file sha256, recorded in the checkpoints

    def fit(self, callbacks: Callbacks | None, save_optimizer: bool = True) -> TrainResult:
        return fit(
            self.recipe,
            self.train,
            self.test,
            self.device,
            self.seed,
            self.out,
            self.resume_from,
            callbacks,
            save_optimizer,
            self.claim,
            self.photo_set,
            self.targets,
            self.calibration_photos,
            self.photo_teacher,
            self.photo_teacher_id,
        )

    def report(self, result: TrainResult) -> dict:
        """What `train --json` prints."""
        return {
            "out": str(self.out),
            "device": str(self.device),
            "seed": self.seed,
            "recipe": self.recipe.to_dict(),
            "epochs": len(result.history),
            "seconds": result.seconds,
            "test_accuracy": result.final.test_accuracy if result.final else None,
            "test_loss": result.final.test_loss if result.final else None,
            "history": [h.to_dict() for h in result.history],
            "photo_drawings": len(self.photo_set) if self.photo_set is not None else 0,
            "teacher": result.teacher,
            "photo_teacher": result.photo_teacher,
        }


def prepare_training(
    resume: Path | None,
    photos: Path | None,
    no_photos: bool,
    seed: int | None,
    device: str | None,
    data_dir: Path | None,
    limit: int | None,
    out: Path | None,
    force: bool,
    teacher: Path | None = None,
    no_teacher: bool = False,
    **overrides,
) -> TrainingRun:
    """`train`'s options checked and its inputs loaded, in the order that fails cheapest first:
    the checkpoint to resume, the recipe, --out, the seed, the device, the photo drawings, the data, the
    teacher's answers, the photo teacher."""
    from fashionnet import data as data_mod, photos as photo_mod
    from fashionnet.device import select_device

    resume_from = load_resume(resume) if resume is not None else None  # before the data and the teacher's answers
    if no_photos and photos is not None:
        raise UsageError("--photos and --no-photos contradict each other; give one of them")
    if no_teacher and teacher is not None:
        raise UsageError("--teacher and --no-teacher contradict each other; give one of them")
    recipe = recipe_for(
        resume_from,
        photos is not None,
        **overrides,
        photo_share=0.0 if no_photos else None,
        teacher_epochs=0 if no_teacher else None,
        photo_distill=0.0 if no_teacher else None,  # --no-teacher: neither teacher
    )
    out_path = resolve_output(out, resume, force)
    claim = OutputClaim(out_path)  # what --out is now: a save never replaces what another run writes there
    if resume_from:
        saved_seed = resume_from[1].metadata["seed"]
        if seed is not None and seed != saved_seed:
            raise UsageError(f"{printable(str(resume))}: was trained with --seed {saved_seed}; a resumed run keeps it")
        seed = saved_seed
    seed = 0 if seed is None else seed
    dev = select_device(device)
    drawings = photo_mod.load(photos if photos is not None else photo_mod.DRAWINGS) if recipe.photo_share > 0 else None
    train_split = data_mod.load_split("train", data_dir, limit=limit)
    test_split = data_mod.load_split("test", data_dir, official=True)
    recipe, targets, untaught = teacher_for(recipe, resume_from, teacher, train_split.labels)
    photos_in = photo_set(drawings) if drawings is not None else None
    asking, asking_id = load_photo_teacher() if photos_in is not None and recipe.photo_distill > 0 else (None, None)
    began_with = (resume_from[1].metadata.get("photo_teacher") or {}) if resume_from else {}
    if asking_id is not None and began_with.get("sha256") not in (None, asking_id["sha256"]):
        raise UsageError(
            f"{printable(str(resume))}: was taught by another photo teacher (file sha256 {began_with['sha256']}, "
            f"this one {asking_id['sha256']}); resume it with the one it began with or start afresh"
        )
    calibrating = drawings.calibration_set() if drawings is not None else None  # validation photos: never trained on
    return TrainingRun(
        recipe,
        out_path,
        claim,
        seed,
        dev,
        resume_from,
        photos_in,
        train_split,
        test_split,
        targets,
        teacher is not None,
        untaught,
        calibrating,
        asking,
        asking_id,
    )
