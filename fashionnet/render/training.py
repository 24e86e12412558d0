"""Renderables for `data`, `train` and `evaluate`: progress, epoch tables, metrics and the confusion heat map."""

from __future__ import annotations

from pathlib import Path

from rich.color import Color
from rich.console import Console, Group, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.style import Style
from rich.table import Table
from rich.text import Text

from fashionnet import CLASSES
from fashionnet.errors import printable
from fashionnet.outside_text import for_markup, for_terminal
from fashionnet.render.console import Fitted, natural_width

# Short column headings for the 10x10 confusion matrix (fits 80 columns).
SHORT = ("T-shrt", "Trousr", "Pullov", "Dress", "Coat", "Sandal", "Shirt", "Sneakr", "Bag", "Boot")


def data_view(report) -> RenderableType:
    """Where FashionMNIST was found, the files, and counts per split and class."""
    parts: list[RenderableType] = []
    if report.folder is None:
        searched = Table.grid(padding=(0, 2))
        for how, path in report.searched:
            searched.add_row(f"[dim]{for_markup(how)}[/]", for_markup(str(path)))
        return Group(Text("FashionMNIST was not found. Looked in:", style="bold red"), searched)
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_row("Folder", for_markup(str(report.folder)))
    head.add_row("Found via", for_markup(report.how))
    head.add_row("Files", for_markup(", ".join(Path(p).name for p in report.files.values())))
    parts.append(head)
    counts = Table(show_edge=False, header_style="bold", pad_edge=False)
    counts.add_column("Class")
    for split in report.counts:
        counts.add_column(split, justify="right")
    for i, name in enumerate(CLASSES):
        counts.add_row(f"{i} {name}", *[f"{report.counts[s][i]:,}" for s in report.counts])
    counts.add_row("[bold]total[/]", *[f"[bold]{sum(v):,}[/]" for v in report.counts.values()])
    parts += [Text(""), counts, Text("")]
    if report.complete:
        parts.append(Text("Complete: 60,000 training and 10,000 test images, 28x28, balanced classes.", style="green"))
    else:
        parts += [Text(f"Problem: {printable(p)}", style="red") for p in report.problems]
    return Group(*parts)


def train_progress(console: Console) -> Progress:
    """One bar per epoch: batches done, current loss, samples/s, time left."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TextColumn("{task.fields[speed]:>7,.0f} img/s"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def _pct(v: float | None) -> str:
    return "--" if v is None else f"{v:.2%}"


def _num(v: float | None) -> str:
    return "--" if v is None else f"{v:.4f}"


def smoothing_floor(label_smoothing: float, classes: int = len(CLASSES)) -> float:
    """The lowest label-smoothed cross-entropy there is: the entropy of the smoothed target itself
    (for 0.2 and ten classes, 0.867), reached only by predicting exactly that target."""
    import math

    right = 1 - label_smoothing + label_smoothing / classes
    other = label_smoothing / classes
    return -(right * math.log(right) + (classes - 1) * (other * math.log(other) if other else 0.0))


def losses_note(label_smoothing: float, distill_weight: float = 0.0, photo_weight: float = 0.0) -> str:
    """What the two losses are, for the line under the table (and before the first epoch): a learner
    would otherwise read 'train loss above test loss' as a bug. `distill_weight` and `photo_weight` are
    0 for a run without a teacher or without photo drawings (see loss_parts)."""
    test = "Test loss is the plain cross-entropy of the raw logits, the loss evaluate reports."
    if not distill_weight and not photo_weight:
        return (
            f"* Train loss is the label-smoothed cross-entropy (smoothing {label_smoothing:g}) that training "
            f"minimises; it cannot fall below {smoothing_floor(label_smoothing):.3f}. {test}"
        )
    parts = f"label-smoothed ({label_smoothing:g}) cross-entropy" if label_smoothing else "cross-entropy"
    if distill_weight:
        parts = f"{1 - distill_weight:g} x {parts} + {distill_weight:g} x distance to the teacher"
    if photo_weight:
        parts = f"{parts}, plus {photo_weight:g} x the photos' loss"
    return f"* Train loss is what training minimises: {parts}. {test}"


def loss_parts(recipe) -> tuple[float, float, float]:
    """(label smoothing, distillation weight, photo weight) of a recipe (a Recipe or a checkpoint's recipe
    mapping): what its train loss is made of, 0 for what the run did not use."""
    get = recipe.get if isinstance(recipe, dict) else lambda name, default=None: getattr(recipe, name, default)

    def number(name: str) -> float:
        value = get(name, 0.0)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0

    distill = number("distill_weight") if number("teacher_epochs") > 0 else 0.0
    photos = number("photo_weight") if number("photo_share") > 0 else 0.0
    return number("label_smoothing"), distill, photos


def epoch_line(stats, smoothed: bool = False) -> str:
    star = "*" if smoothed else ""
    return (
        f"epoch {stats.epoch:>3}  train loss{star} {stats.train_loss:.4f}  acc {stats.train_accuracy:.2%}  "
        f"test loss {_num(stats.test_loss)}  acc {_pct(stats.test_accuracy)}  {stats.seconds:.1f}s"
    )


def epochs_table(
    history, label_smoothing: float = 0.0, distill_weight: float = 0.0, photo_weight: float = 0.0
) -> RenderableType:
    """One row per epoch; a train loss that is not plain cross-entropy (label-smoothed, distilled, with
    photo drawings) is starred and explained below the table."""
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    special = bool(label_smoothing or distill_weight or photo_weight)
    star = "*" if special else ""
    for name in ("Epoch", f"Train loss{star}", "Train acc", "Test loss", "Test acc", "Seconds"):
        table.add_column(name, justify="right")
    for s in history:
        table.add_row(
            "--" if s.epoch is None else str(s.epoch),
            _num(s.train_loss),
            _pct(s.train_accuracy),
            _num(s.test_loss),
            _pct(s.test_accuracy),
            "--" if s.seconds is None else f"{s.seconds:.1f}",
        )
    if not special:
        return table
    return Group(table, Text(losses_note(label_smoothing, distill_weight, photo_weight), style="dim"))


def per_class_table(evaluation) -> RenderableType:
    """Precision, recall, F1 and support per class; stacked rows where the table would not fit."""
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    table.add_column("Class")
    for name in ("Precision", "Recall", "F1", "Support"):
        table.add_column(name, justify="right")
    for m in evaluation.per_class:
        table.add_row(f"{m.index} {m.label}", f"{m.precision:.3f}", f"{m.recall:.3f}", f"{m.f1:.3f}", f"{m.support:,}")
    wide = natural_width(table)

    def stacked() -> RenderableType:
        rows = []
        for m in evaluation.per_class:
            rows.append(Text(f"{m.index} {m.label}", style="bold"))
            rows.append(Text(f"  precision {m.precision:.3f}  recall {m.recall:.3f}", overflow="fold"))
            rows.append(Text(f"  F1 {m.f1:.3f}  support {m.support:,}", overflow="fold"))
        return Group(*rows)

    return Fitted(lambda width: table if width >= wide else stacked())


LABEL_WIDTH, CELL_WIDTH = 10, 7  # the confusion matrix's row labels and count cells


def _confusion_block(confusion: list[list[int]], columns: range) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False, padding=(0, 0))
    table.add_column("true\\pred", no_wrap=True, min_width=LABEL_WIDTH)
    for j in columns:
        table.add_column(SHORT[j], justify="right", width=CELL_WIDTH, no_wrap=True)
    for i, row in enumerate(confusion):
        total = max(1, sum(row))
        cells = []
        for j in columns:
            count = row[j]
            share = count / total
            level = int(40 + 215 * share**0.5) if count else 0
            bg = (
                Color.from_rgb(level // 3, level // 2, level)
                if i != j
                else Color.from_rgb(0, level // 2 + 20, level // 4)
            )
            fg = Color.from_rgb(255, 255, 255)
            cells.append(Text(f"{count:>6} ", style=Style(color=fg, bgcolor=bg) if count else Style(dim=True)))
        table.add_row(f"{i} {SHORT[i]}", *cells)
    return table


def confusion_heatmap(confusion: list[list[int]]) -> RenderableType:
    """Rows are true classes, columns predictions; cell shade grows with the share of the row. Where all
    ten columns do not fit, the matrix is drawn in blocks of as many columns as fit, one under another."""
    k = len(SHORT)

    def build(width: int) -> RenderableType:
        per_block = max(1, min(k, (width - LABEL_WIDTH) // CELL_WIDTH))
        blocks = [_confusion_block(confusion, range(s, min(k, s + per_block))) for s in range(0, k, per_block)]
        return blocks[0] if len(blocks) == 1 else Group(*[part for b in blocks for part in (b, Text(""))][:-1])

    return Fitted(build)


def evaluation_view(evaluation, source: str) -> RenderableType:
    head = Text.assemble(
        ("Accuracy ", "bold"),
        (f"{evaluation.accuracy:.2%}", "bold green"),
        f"  ({sum(r[i] for i, r in enumerate(evaluation.confusion)):,} of {evaluation.samples:,} correct)",
    )
    loss = Text.assemble(("Loss ", "bold"), f"{evaluation.loss:.4f}  (mean cross-entropy of the raw logits)")
    calibrated = "calibrated, " if evaluation.temperature != 1.0 else "uncalibrated, "
    ece = Text.assemble(
        ("Calibration error ", "bold"),
        f"{evaluation.calibration_error:.2%}",
        f"  ({calibrated}temperature {evaluation.temperature:g})",
    )
    return Group(
        head,
        loss,
        ece,
        Text(f"Weights: {source}", style="dim"),
        Text(""),
        per_class_table(evaluation),
        Text(""),
        Text("Confusion matrix (rows: true class, columns: predicted)", style="bold"),
        confusion_heatmap(evaluation.confusion),
    )


def mistakes_heading(
    total: int, shown: int, samples: int, true_class: int | None, predicted_class: int | None = None
) -> str:
    """'112 of the 1,000 Shirt test images are misclassified; the 12 the model was surest about:'
    (with a predicted class: '... are taken for T-shirt/top; ...')."""
    what = f"{CLASSES[true_class]} test images" if true_class is not None else "test images"
    wrong = f"taken for {CLASSES[predicted_class]}" if predicted_class is not None else "misclassified"
    if total == 0:
        return f"None of the {samples:,} {what} is {wrong}."
    which = f"the {shown} the model was surest about" if shown < total else "all of them, surest first"
    return f"{total:,} of the {samples:,} {what} are {wrong}; {which}:"


MISLABELLED_NOTE = (
    "The surest mistakes are often test images whose label is itself wrong or doubtful: look at "
    "the first few before blaming the model. Under each: the true class's probability, the "
    "runner-up, and the command that explains it."
)


def mistake_caption(m) -> str:
    """Under a misclassified picture: index, true → predicted and how sure, the true class's probability,
    the runner-up (when it is not the true class), and the command that explains this image."""
    from fashionnet.render.widgets import percent

    lines = [
        f"#{m.index} {m.true_label} →",
        f"{m.predicted_label} {percent(m.probability)}",
        f"{m.true_label} itself: {percent(m.true_probability)}",
    ]
    if m.runner_up != m.true:
        lines.append(f"runner-up: {CLASSES[m.runner_up]} {percent(m.runner_up_probability)}")
    lines.append(f"fashionnet explain --test-index {m.index}")
    return "\n".join(lines)


MISTAKE_CELL = len("fashionnet explain --test-index 9999")  # the widest caption line: the command, whole


def mistakes_view(
    total: int, mistakes, samples: int, true_class: int | None, source: str, predicted_class: int | None = None
) -> RenderableType:
    """The misclassified images as 28x28 pictures, as many side by side as fit, each captioned by
    `mistake_caption`."""
    from fashionnet.render.console import Picture, Trimmed
    from fashionnet.render.widgets import PictureGrid

    cells = [(Picture(m.image), mistake_caption(m)) for m in mistakes]
    heading = mistakes_heading(total, len(mistakes), samples, true_class, predicted_class)
    parts: list[RenderableType] = [Text(heading, style="bold"), Text(f"Weights: {source}", style="dim"), Text("")]
    if cells:
        parts += [Text(MISLABELLED_NOTE, style="dim"), Text(""), PictureGrid(cells, cell_width=MISTAKE_CELL)]
    return Trimmed(Group(*parts))


def comparison_view(comparison) -> RenderableType:
    """`train --recipe tutorial`'s closing table: the page's recipe beside the shipped one, then why each
    change helps. Where three columns would be cramped, each row is stacked (what, then both values)."""
    from rich import box

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("", style="bold", no_wrap=True)
    table.add_column("tutorial (this run)", ratio=2)
    table.add_column("shipped weights", ratio=3)
    for what, mine, theirs in comparison.rows:  # the shipped side is checkpoint metadata: outside text
        table.add_row(Text(for_terminal(what)), Text(for_terminal(mine)), Text(for_terminal(theirs or "--")))

    def stacked() -> RenderableType:
        lines: list[RenderableType] = []
        for what, mine, theirs in comparison.rows:
            lines += [
                Text(for_terminal(what), style="bold"),
                Text(f"  tutorial: {for_terminal(mine)}", overflow="fold"),
                Text(f"  shipped:  {for_terminal(theirs or '--')}", overflow="fold"),
            ]
        return Group(*lines)

    parts: list[RenderableType] = [
        Text("The tutorial's recipe and the shipped one", style="bold"),
        Fitted(lambda width: table if width >= 60 else stacked()),
        *(Text(note, style="dim") for note in comparison.notes),
    ]
    if comparison.reasons:
        reasons = Table.grid(padding=(0, 1))
        reasons.add_column(no_wrap=True)
        reasons.add_column()
        for change, why in comparison.reasons:
            reasons.add_row("-", Text.assemble((change, "bold"), f": {why}"))
        parts += [Text(""), Text("What the shipped recipe changes, and why it helps", style="bold"), reasons]
    return Group(*parts)


class ProgressReporter:
    """Training callbacks that draw a progress bar per epoch and one line per finished epoch (stderr)."""

    def __init__(self, console: Console, smoothed: bool = False):
        self.console = console
        self.smoothed = smoothed
        self.progress = train_progress(console)
        self.task: TaskID | None = None
        self.samples = 0

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def epoch_start(self, epoch: int, epochs: int, batches: int, name: str = "Epoch") -> None:
        import time

        if self.task is not None:
            self.progress.remove_task(self.task)
        self.started = time.perf_counter()
        self.task = self.progress.add_task(f"{name} {epoch}/{epochs}", total=batches, loss=float("nan"), speed=0.0)

    def batch_end(self, batch: int, samples: int, loss: float) -> None:
        import time

        elapsed = max(1e-9, time.perf_counter() - self.started)
        if self.task is not None:  # epoch_start made it
            self.progress.update(self.task, completed=batch, loss=loss, speed=samples / elapsed)

    def epoch_end(self, stats) -> None:
        self.progress.console.print(epoch_line(stats, self.smoothed), highlight=False)

    def teacher(self) -> TeacherProgress:
        """The same bars and lines for the distillation teacher's epochs, marked as the teacher's."""
        return TeacherProgress(self)


class TeacherProgress:
    """ProgressReporter's view for the CNN teacher (tools/make_teacher_targets.py): "Teacher 1/5" bars,
    "teacher epoch" lines."""

    def __init__(self, reporter: ProgressReporter):
        self.reporter = reporter

    def epoch_start(self, epoch: int, epochs: int, batches: int) -> None:
        self.reporter.epoch_start(epoch, epochs, batches, name="Teacher")

    def batch_end(self, batch: int, samples: int, loss: float) -> None:
        self.reporter.batch_end(batch, samples, loss)

    def epoch_end(self, stats) -> None:
        # The teacher's own loss (unstarred: the note on the starred loss is the MLP's): cross-entropy without
        # smoothing or distillation, plus photo_weight x the photos' loss when photos are mixed in.
        self.reporter.progress.console.print("teacher " + epoch_line(stats), highlight=False)

    def finished(self, report: dict) -> None:
        accuracy = report.get("test_accuracy")
        tested = f"test accuracy {accuracy:.2%}, " if accuracy is not None else ""
        self.reporter.progress.console.print(f"teacher ready ({tested}{report['seconds']:.1f}s)", highlight=False)


def _points(change: float | None) -> str:
    return "--" if change is None else f"{change * 100:+.1f} points"


def ladder_view(steps, shipped=None) -> RenderableType:
    """`train --recipe ladder`: each rung's measured test accuracy, its change and its time, then why each
    change helps beside what it did in this run; the shipped weights' own figures last, marked recorded."""
    from rich import box

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("what this rung adds", ratio=1)
    table.add_column("test acc.", justify="right", no_wrap=True)
    table.add_column("change", justify="right", no_wrap=True)
    table.add_column("time", justify="right", no_wrap=True)
    for number, step in enumerate(steps, start=1):
        change = "--" if step.change is None else f"{step.change * 100:+.1f}"
        table.add_row(str(number), step.name, _pct(step.test_accuracy), change, f"{step.seconds:.0f} s")

    def stacked() -> RenderableType:
        lines: list[RenderableType] = []
        for number, step in enumerate(steps, start=1):
            lines += [
                Text(f"{number}. {step.name}", style="bold", overflow="fold"),
                Text(f"  {_pct(step.test_accuracy)}, {_points(step.change)}, {step.seconds:.0f} s", overflow="fold"),
            ]
        return Group(*lines)

    epochs = steps[0].epochs if steps else 0
    parts: list[RenderableType] = [
        Text(
            f"From the tutorial's recipe to the shipped one, one change per rung ({epochs} "
            f"epoch{'s' if epochs != 1 else ''} each, "
            "measured in this run; change in points of test accuracy)",
            style="bold",
        ),
        Fitted(lambda width: table if width >= 60 else stacked()),
    ]
    if shipped is not None:
        when = f", {shipped.seconds:.0f} s" if isinstance(shipped.seconds, (int, float)) else ""
        parts.append(
            Text(
                f"The shipped weights add photo drawings, two CNN teachers and {len(shipped.history)} epochs: "
                f"{_pct(shipped.test_accuracy)} (recorded in their checkpoint when trained{when}; not "
                "rerun here)",
                style="dim",
            )
        )
    reasons = Table.grid(padding=(0, 1))
    reasons.add_column(no_wrap=True)
    reasons.add_column()
    for step in steps[1:]:
        reasons.add_row(
            "-", Text.assemble((step.name, "bold"), f" ({_points(step.change)}, {step.seconds:.0f} s here): {step.why}")
        )
    parts += [Text(""), Text("What each change did here, and what it is for", style="bold"), reasons]
    return Group(*parts)


def show_ladder(run, as_json: bool) -> None:
    """`train --recipe ladder`'s end: one JSON object or the table."""
    from fashionnet.render.output import print_json, print_view

    if as_json:
        print_json(run.to_dict())
    else:
        print_view(ladder_view(run.steps, run.shipped))


def show_mistakes(report, true_class: int | None, device, info, plot: Path | None, claim, as_json: bool) -> None:
    """`evaluate --mistakes`: the pictures as a PNG, one JSON object or the view."""
    from fashionnet.render.output import print_json, print_view, wrote

    total, found, samples, predicted = report.total, report.found, report.samples, report.predicted_class
    if plot is not None:
        import typer

        from fashionnet.plots import MISTAKES_PLOT_MAX, plot_mistakes

        if len(found) > MISTAKES_PLOT_MAX:
            typer.echo(f"The plot draws the first {MISTAKES_PLOT_MAX} of the {len(found):,} pictures shown", err=True)
        heading = mistakes_heading(total, len(found), samples, true_class, predicted)
        plot_mistakes(found, heading.rstrip(":"), plot, claim)
    if as_json:
        print_json(
            {
                "class": CLASSES[true_class] if true_class is not None else None,
                "predicted": CLASSES[predicted] if predicted is not None else None,
                "samples": samples,
                "misclassified": total,
                "shown": len(found),
                "accuracy": report.accuracy,
                "temperature": info.temperature,
                "mistakes": [m.to_dict() for m in found],
                "device": str(device),
                "weights": info.to_dict(),
            },
            rows=True,
        )
    else:
        print_view(mistakes_view(total, found, samples, true_class, info.describe(), predicted))
    if plot is not None:
        wrote(plot)


def show_tutorial_run(run, plot: Path | None, plot_claim, as_json: bool) -> None:
    """`train --recipe tutorial`'s end: both recipes' curves as a PNG, then one JSON object or the table."""
    import typer

    from fashionnet.render.output import print_json, print_view, wrote

    if plot is not None:
        from fashionnet.plots import plot_recipes

        curves = {"tutorial recipe (this run)": run.result.history}
        if run.shipped is not None:
            curves["shipped weights (from their checkpoint)"] = run.shipped.history
        plot_recipes(curves, plot, plot_claim)
    if as_json:
        print_json(run.to_dict())
        return
    print_view(comparison_view(run.comparison))
    accuracy = f"{run.figures.test_accuracy:.2%}" if run.figures.test_accuracy is not None else "n/a"
    typer.echo(f"Saved {printable(str(run.out))} (test accuracy {accuracy}, {run.result.seconds:.1f}s)")
    if plot is not None:
        wrote(plot)


def training_intro(run, parts: tuple[float, float, float]) -> None:
    """What `train` says on stderr before its first epoch: the images, the photo drawings, the teacher,
    and what the train loss is made of (`parts`: label smoothing, distillation, photo weight)."""
    import typer

    from fashionnet.batches import photos_per_batch
    from fashionnet.render.console import Trimmed, stderr_console

    recipe, photo_set = run.recipe, run.photo_set
    held = int(len(run.train.images) * recipe.holdout)
    kept = f" ({held:,} more held out to calibrate)" if held else ""
    typer.echo(
        f"Training on {len(run.train.images) - held:,} images{kept}; checkpoints go to {printable(str(run.out))}",
        err=True,
    )
    if photo_set is None:
        typer.echo("Without photo drawings (--no-photos): FashionMNIST alone", err=True)
    else:
        share = photos_per_batch(recipe, photo_set)
        drawn = ", each turned, scaled and shifted at random" if recipe.photo_rotation or recipe.photo_scale else ""
        typer.echo(f"With {len(photo_set):,} photo drawings, {share} in every batch{drawn}", err=True)
        if run.photo_teacher is not None and recipe.photo_distill > 0:
            typer.echo("A small CNN trained on the photos alone (the photo teacher) answers each as drawn", err=True)
    if run.targets is not None:
        whose = printable(run.targets.source) if run.teacher_named else "the shipped answers"
        typer.echo(
            f"Learning from a small CNN teacher's answers as well ({whose}; the teacher scores "
            f"{run.targets.test_accuracy:.2%} on the test set)",
            err=True,
        )
    elif run.untaught:
        typer.echo(run.untaught, err=True)
    else:
        typer.echo("Without the teachers (--no-teacher): from the labels alone", err=True)
    if any(parts):
        stderr_console().print(Trimmed(Text(losses_note(*parts))))  # wrapped to the terminal


def show_training(
    run, result, parts: tuple[float, float, float], plot: Path | None, plot_claim, quiet: bool, as_json: bool
) -> None:
    """`train`'s end: the learning curves as a PNG, then one JSON object, or the epochs table and where it saved."""
    import typer

    from fashionnet.render.output import print_json, print_view, wrote

    if plot is not None:
        from fashionnet.plots import plot_history

        plot_history(result.history, plot, plot_claim)
    if as_json:
        print_json(run.report(result))
        return
    if not quiet:
        print_view(epochs_table(result.history, *parts))
    final = result.final
    accuracy = f"{final.test_accuracy:.2%}" if final and final.test_accuracy is not None else "n/a"
    typer.echo(f"Saved {printable(str(run.out))} (test accuracy {accuracy}, {result.seconds:.1f}s)")
    if plot is not None:
        wrote(plot)


def show_history(rows, info) -> None:
    """`summary --history`: the weights' training history, one row per epoch, or why there is none."""
    import typer

    from fashionnet.render.output import print_view

    if not rows:
        typer.echo("These weights hold no training history.", err=True)
        return
    recipe = info.metadata.get("recipe")
    print_view(Text("\nTraining history", style="bold"))
    # a mixed train loss is starred
    print_view(epochs_table(rows, *loss_parts(recipe if isinstance(recipe, dict) else {})))


def show_evaluation(result, device, info, plot: Path | None, claim, as_json: bool) -> None:
    """`evaluate`: the confusion matrix as a PNG, then one JSON object or the metrics view."""
    from fashionnet.render.output import print_json, print_view, wrote

    if plot is not None:
        from fashionnet.plots import plot_confusion

        plot_confusion(result.confusion, result.accuracy, plot, claim)
    if as_json:
        print_json({**result.to_dict(), "device": str(device), "weights": info.to_dict()})
    else:
        print_view(evaluation_view(result, info.describe()))
    if plot is not None:
        wrote(plot)
