"""Renderables for `summary` and `params`: tables when the terminal is wide enough, stacked rows when not."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from fashionnet.introspect import ModelSummary, ParamFacts
from fashionnet.render.console import Fitted, Trimmed, stack, verbatim
from fashionnet.render.widgets import PictureGrid, SignedPicture


def _shape(shape: list[int]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _count(n: int) -> str:
    return f"{n:,}" if n else "--"


def layer_rows(summary: ModelSummary, depth: int | None = None) -> list[tuple[str, str, str, str]]:
    """(label, output shape, params, mult-adds) per shown layer, as torchinfo fills its columns: a leaf
    shows its own counts; a container folded at --depth shows its whole subtree's; others show '--'."""
    rows = []
    for layer in summary.layers:
        if depth is not None and layer.depth > depth:
            continue
        folded = depth is not None and layer.depth == depth and not layer.leaf
        label = layer.name.rsplit(".", 1)[-1] if layer.name else summary.model
        indent = "" if layer.depth == 0 else "  " * (layer.depth - 1) + "└─"
        kind = "" if layer.depth == 0 else f" ({layer.type})"
        params = layer.params_total if folded else layer.params
        mult_adds = layer.mult_adds if (folded or layer.leaf) else 0
        rows.append((f"{indent}{label}{kind}", _shape(layer.output_shape), _count(params), _count(mult_adds)))
    return rows


HEADERS = ("Layer (type)", "Output shape", "Params", "Mult-adds")


def totals_rows(summary: ModelSummary, device_line: str, weights_line: str) -> list[tuple[str, str]]:
    mb = summary.sizes_mb()
    return [
        ("Total params", f"{summary.total_params:,}"),
        ("Trainable params", f"{summary.trainable_params:,}"),
        ("Non-trainable params", f"{summary.non_trainable_params:,}"),
        ("Total mult-adds", f"{summary.total_mult_adds / 1e6:.2f} M ({summary.total_mult_adds:,})"),
        ("Input size", f"{mb['input_mb']:.2f} MB"),
        ("Forward/backward pass size", f"{mb['forward_backward_mb']:.2f} MB"),
        ("Params size", f"{mb['params_mb']:.2f} MB"),
        ("Estimated total size", f"{mb['total_mb']:.2f} MB"),
        ("Input shape", _shape(summary.input_shape)),
        ("Device", device_line),
        ("Weights", weights_line),
    ]


class _Adaptive:
    """A table at the width it needs when the terminal has it; otherwise one block per row with the
    column names beside the values, so every figure stays whole on any width."""

    def __init__(self, headers: tuple[str, ...], rows: Sequence[tuple[str, ...]], right: set[int]):
        self.headers, self.rows, self.right = headers, rows, right

    def table(self) -> Table:
        table = Table(show_edge=False, header_style="bold", pad_edge=False)
        for i, header in enumerate(self.headers):
            table.add_column(header, justify="right" if i in self.right else "left", no_wrap=True)
        for row in self.rows:
            table.add_row(*row)
        return table

    def stacked(self) -> RenderableType:
        parts: list[RenderableType] = []
        for row in self.rows:
            label = row[0]
            grid = Table.grid(padding=(0, 2))
            grid.add_column(style="dim", no_wrap=True)
            grid.add_column(overflow="fold")
            pad = " " * (len(label) - len(label.lstrip(" └─")) + 2)
            for header, value in zip(self.headers[1:], row[1:], strict=True):
                grid.add_row(pad + header, value)
            parts += [Text(label, style="bold", overflow="fold"), grid]
        return Group(*parts)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table = self.table()
        needed = Measurement.get(console, options.update(width=10_000), table).maximum
        yield table if needed <= options.max_width else self.stacked()


def summary_view(
    summary: ModelSummary, device_line: str, weights_line: str, depth: int | None = None
) -> RenderableType:
    """The tutorial's printed structure, then torchinfo's layer table (with mult-adds) and its totals."""
    totals = Table.grid(padding=(0, 2))
    totals.add_column(style="bold", no_wrap=True)
    totals.add_column(overflow="fold")
    rows = totals_rows(summary, device_line, weights_line)
    for key, value in rows:
        totals.add_row(key, value)
    note = mult_adds_note(summary)
    return Trimmed(
        Group(
            Text("Model structure:", style="bold"),
            verbatim(summary.structure),
            Text(""),
            _Adaptive(HEADERS, layer_rows(summary, depth), right={2, 3}),
            *([Text(note, style="dim")] if note else []),
            Text(""),
            # values fold; where even the labels do not fit beside a short value, each label gets its own line
            Fitted(
                lambda width: (
                    totals
                    if max(cell_len(k) for k, _ in rows) + 14 <= width
                    else stack((), [[key, value] for key, value in rows], [True] * len(rows))
                )
            ),
        )
    )


def mult_adds_note(summary: ModelSummary) -> str | None:
    """Why a Linear layer's mult-adds equal its parameter count: torchinfo counts the bias additions too.
    Worked on the first Linear layer, per image, from the summary's own figures."""
    linear = next((layer for layer in summary.layers if layer.type == "Linear" and layer.leaf), None)
    batch = summary.input_shape[0] if summary.input_shape else 0
    if linear is None or not batch or not linear.output_shape:
        return None
    outputs = linear.output_shape[-1]
    inputs = linear.params // outputs - 1 if outputs else 0
    return (
        f"Mult-adds count a Linear layer's bias additions too, as torchinfo does: {linear.name} makes "
        f"{inputs} × {outputs} multiply-adds and {outputs} bias adds per image, {inputs * outputs + outputs:,}."
    )


def _fmt(v: float | None) -> str:
    return "..." if v is None else f"{v: .4f}"


def preview_text(preview: list) -> str:
    """Nested preview values as a compact bracketed block ('...' marks skipped values)."""
    if preview and isinstance(preview[0], list):
        return "\n".join("[" + ", ".join(_fmt(v) for v in row) + "]" for row in preview)
    return "[" + ", ".join(_fmt(v) for v in preview) + "]"


def fit_row(row: list, width: int) -> list:
    """A preview row narrowed to `width` characters by leaving out values next to its '...' (None), or
    before its last two when it has none, so that one tensor row stays one line; at least two values stay."""
    row = list(row)
    while len("[" + ", ".join(_fmt(v) for v in row) + "]") > width and sum(v is not None for v in row) > 2:
        if None not in row:
            row[-3:-2] = [None]  # '...' in place of the third value from the end
            continue
        gap = row.index(None)
        before, after = gap, len(row) - gap - 1
        del row[gap - 1 if before > after else gap + 1]
    return row


LABEL_WIDTH = len("dtype / device") + 2  # the facts' label column and the gap after it


def params_view(facts: list[ParamFacts], rows: int, standardised: tuple[float, float] | None = None) -> RenderableType:
    """One block per parameter (a wide table would not fit 80 columns): facts, stats and the preview.
    Each previewed tensor row stays one line, with fewer values where the terminal is narrow (2 rows
    never look like 4). `standardised` (mean, std): the recipe trained on standardised pixels and folded
    that into the first layer, which explains its large biases; said under that parameter."""
    return Fitted(lambda width: _params(facts, rows, standardised, max(20, width - LABEL_WIDTH)))


def _params(facts: list[ParamFacts], rows: int, standardised: tuple[float, float] | None, room: int) -> RenderableType:
    parts: list[RenderableType] = []
    for p in facts:
        head = Text.assemble((p.name, "bold cyan"), " | Size: ", p.size)
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column()
        grid.add_row("elements", f"{p.numel:,}")
        grid.add_row("dtype / device", f"{p.dtype} / {p.device}")
        grid.add_row("requires_grad", str(p.requires_grad))
        grid.add_row("mean / std", f"{p.mean:.5f} / {p.std:.5f}")
        grid.add_row("min / max", f"{p.min:.5f} / {p.max:.5f}")
        preview = p.preview
        if preview and isinstance(preview[0], list):
            preview = [fit_row(row, room) for row in preview]
        elif preview:
            preview = fit_row(preview, room)
        grid.add_row(f"values[:{rows}]", preview_text(preview))
        if standardised is not None and p.name == "linear_relu_stack.0.bias":
            mean, std = standardised
            grid.add_row(
                "folded in",
                f"training standardised the pixels, (x - {mean:g}) / {std:g}; that step is "
                f"folded into this layer when saving (weight / {std:g}, bias - sum(weight × {mean:g} / "
                f"{std:g})), so the saved model takes pixels / 255 as the tutorial's does",
            )
        parts += [head, grid, Text("")]
    total = sum(p.numel for p in facts)
    parts.append(Text(f"{len(facts)} parameter tensor(s), {total:,} values"))
    return Trimmed(Group(*parts))


def neurons_view(neurons, layer_name: str = "linear_relu_stack.0") -> RenderableType:
    """`params --show`: what the first layer's units (neurons) look for, one 28x28 picture per unit; "unit"
    as `explain` says it."""
    cells = [(SignedPicture(n.weights, n.scale), f"unit {n.index}  |w| ≤ {n.scale:.3f}") for n in neurons]
    legend = Text(
        f"{layer_name}.weight[i] as 28x28 pictures: each unit's weight per input pixel. Bright/orange "
        "where a lit pixel raises the unit's output, blue where it lowers it (without colour: light = "
        "positive, dark = negative, the middle shade is zero); each picture is scaled to its largest |weight|."
    )
    return Trimmed(Group(legend, Text(""), PictureGrid(cells)))


def show_neurons(pictures, info, show: bool, plot: Path | None, as_json: bool, claim=None) -> None:
    """`params --show/--plot`: the first layer's neuron pictures as a PNG, one JSON object or the view."""
    from fashionnet.render.output import print_json, wrote

    if plot is not None:
        from fashionnet.plots import plot_neurons

        plot_neurons(pictures, plot, claim)
        wrote(plot)
    if show and as_json:
        print_json({"weights": info.to_dict(), "neurons": [n.to_dict() for n in pictures]})
    elif show:
        import typer

        from fashionnet.render.console import print_whole, stdout_console

        typer.echo(f"Weights: {info.describe()}", err=True)
        print_whole(stdout_console(), neurons_view(pictures))
