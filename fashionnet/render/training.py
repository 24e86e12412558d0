"""Renderables for `data`, `train` and `evaluate`: progress, epoch tables, metrics and the confusion heat map."""

from __future__ import annotations

from pathlib import Path

from rich.color import Color
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.style import Style
from rich.table import Table
from rich.text import Text

from fashionnet import CLASSES
from fashionnet.errors import printable
from fashionnet.render.console import Fitted, natural_width

# Short column headings for the 10x10 confusion matrix (fits 80 columns).
SHORT = ("T-shrt", "Trousr", "Pullov", "Dress", "Coat", "Sandal", "Shirt", "Sneakr", "Bag", "Boot")


def data_view(report) -> RenderableType:
    """Where FashionMNIST was found, the files, and counts per split and class."""
    parts: list[RenderableType] = []
    if report.folder is None:
        searched = Table.grid(padding=(0, 2))
        for how, path in report.searched:
            searched.add_row(f"[dim]{escape(how)}[/]", escape(printable(str(path))))
        return Group(Text("FashionMNIST was not found. Looked in:", style="bold red"), searched)
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_row("Folder", escape(printable(str(report.folder))))
    head.add_row("Found via", escape(report.how))
    head.add_row("Files", escape(", ".join(Path(p).name for p in report.files.values())))
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


def epoch_line(stats) -> str:
    return (
        f"epoch {stats.epoch:>3}  train loss {stats.train_loss:.4f}  acc {stats.train_accuracy:.2%}  "
        f"test loss {_num(stats.test_loss)}  acc {_pct(stats.test_accuracy)}  {stats.seconds:.1f}s"
    )


def epochs_table(history) -> Table:
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for name in ("Epoch", "Train loss", "Train acc", "Test loss", "Test acc", "Seconds"):
        table.add_column(name, justify="right")
    for s in history:
        table.add_row(str(s.epoch), _num(s.train_loss), _pct(s.train_accuracy), _num(s.test_loss),
                      _pct(s.test_accuracy), f"{s.seconds:.1f}")
    return table


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
            level = int(40 + 215 * share ** 0.5) if count else 0
            bg = Color.from_rgb(level // 3, level // 2, level) if i != j else Color.from_rgb(0, level // 2 + 20, level // 4)
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
        ("Accuracy ", "bold"), (f"{evaluation.accuracy:.2%}", "bold green"),
        f"  ({sum(r[i] for i, r in enumerate(evaluation.confusion)):,} of {evaluation.samples:,} correct)  ",
        ("loss ", "bold"), f"{evaluation.loss:.4f}",
    )
    calibrated = "calibrated, " if evaluation.temperature != 1.0 else "uncalibrated, "
    ece = Text.assemble(("Calibration error ", "bold"), f"{evaluation.calibration_error:.2%}",
                        f"  ({calibrated}temperature {evaluation.temperature:g})")
    return Group(
        head,
        ece,
        Text(f"Weights: {source}", style="dim"),
        Text(""),
        per_class_table(evaluation),
        Text(""),
        Text("Confusion matrix (rows: true class, columns: predicted)", style="bold"),
        confusion_heatmap(evaluation.confusion),
    )


class ProgressReporter:
    """Training callbacks that draw a progress bar per epoch and one line per finished epoch (stderr)."""

    def __init__(self, console: Console):
        self.console = console
        self.progress = train_progress(console)
        self.task = None
        self.samples = 0

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def epoch_start(self, epoch: int, epochs: int, batches: int) -> None:
        import time

        if self.task is not None:
            self.progress.remove_task(self.task)
        self.started = time.perf_counter()
        self.task = self.progress.add_task(f"Epoch {epoch}/{epochs}", total=batches, loss=float("nan"), speed=0.0)

    def batch_end(self, batch: int, samples: int, loss: float) -> None:
        import time

        elapsed = max(1e-9, time.perf_counter() - self.started)
        self.progress.update(self.task, completed=batch, loss=loss, speed=samples / elapsed)

    def epoch_end(self, stats) -> None:
        self.progress.console.print(epoch_line(stats), highlight=False)

    def teacher(self) -> "TeacherProgress":
        """The same bars and lines for the distillation teacher's epochs, marked as the teacher's."""
        return TeacherProgress(self)


class TeacherProgress:
    """ProgressReporter's view for the CNN teacher that trains first: "Teacher 1/5" bars, "teacher epoch" lines."""

    def __init__(self, reporter: ProgressReporter):
        self.reporter = reporter

    def epoch_start(self, epoch: int, epochs: int, batches: int) -> None:
        self.reporter.epoch_start(epoch, epochs, batches)
        self.reporter.progress.update(self.reporter.task, description=f"Teacher {epoch}/{epochs}")

    def batch_end(self, batch: int, samples: int, loss: float) -> None:
        self.reporter.batch_end(batch, samples, loss)

    def epoch_end(self, stats) -> None:
        self.reporter.progress.console.print("teacher " + epoch_line(stats), highlight=False)

    def finished(self, report: dict) -> None:
        accuracy = report.get("test_accuracy")
        tested = f"test accuracy {accuracy:.2%}, " if accuracy is not None else ""
        self.reporter.progress.console.print(f"teacher ready ({tested}{report['seconds']:.1f}s); "
                                             "the network now learns from it and the labels", highlight=False)
