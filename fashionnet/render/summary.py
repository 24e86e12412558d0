"""Renderables for `summary` and `params`."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from fashionnet.introspect import ModelSummary, ParamFacts


def _shape(shape: list[int]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _count(n: int) -> str:
    return f"{n:,}" if n else "--"


def summary_view(summary: ModelSummary, device_line: str, weights_line: str) -> RenderableType:
    """The tutorial's printed structure, then a torchinfo-style layer table and the totals."""
    table = Table(title=None, show_edge=False, header_style="bold", pad_edge=False)
    table.add_column("Layer (type)", no_wrap=True)
    table.add_column("Output shape", no_wrap=True)
    table.add_column("Params", justify="right", no_wrap=True)
    for layer in summary.layers:
        label = layer.name.rsplit(".", 1)[-1] if layer.name else summary.model
        indent = "" if layer.depth == 0 else "  " * (layer.depth - 1) + "└─"
        kind = "" if layer.depth == 0 else f" ({layer.type})"
        # Containers repeat their children's counts, so only leaves show a number (as torchinfo does).
        own = layer.params if layer.depth > 0 and layer.type not in ("Sequential",) else 0
        table.add_row(f"{indent}{label}{kind}", _shape(layer.output_shape), _count(own))

    totals = Table.grid(padding=(0, 2))
    totals.add_column(style="bold")
    totals.add_column()
    totals.add_row("Total params", f"{summary.total_params:,}")
    totals.add_row("Trainable params", f"{summary.trainable_params:,}")
    totals.add_row("Non-trainable params", f"{summary.non_trainable_params:,}")
    totals.add_row("Params size", f"{summary.param_mb:.2f} MB")
    totals.add_row("Input shape", _shape(summary.input_shape))
    totals.add_row("Device", device_line)
    totals.add_row("Weights", weights_line)
    return Group(
        Text("Model structure:", style="bold"),
        Text(summary.structure),
        Text(""),
        table,
        Text(""),
        totals,
    )


def _fmt(v: float | None) -> str:
    return "..." if v is None else f"{v: .4f}"


def preview_text(preview: list) -> str:
    """Nested preview values as a compact bracketed block ('...' marks skipped values)."""
    if preview and isinstance(preview[0], list):
        return "\n".join("[" + ", ".join(_fmt(v) for v in row) + "]" for row in preview)
    return "[" + ", ".join(_fmt(v) for v in preview) + "]"


def params_view(facts: list[ParamFacts], rows: int) -> RenderableType:
    """One block per parameter (a wide table would not fit 80 columns): facts, stats and the preview."""
    parts: list[RenderableType] = []
    for p in facts:
        head = Text.assemble((p.name, "bold cyan"), " | Size: ", p.size)
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim")
        grid.add_column()
        grid.add_row("elements", f"{p.numel:,}")
        grid.add_row("dtype / device", f"{p.dtype} / {p.device}")
        grid.add_row("requires_grad", str(p.requires_grad))
        grid.add_row("mean / std", f"{p.mean:.5f} / {p.std:.5f}")
        grid.add_row("min / max", f"{p.min:.5f} / {p.max:.5f}")
        grid.add_row(f"values[:{rows}]", preview_text(p.preview))
        parts += [head, grid, Text("")]
    total = sum(p.numel for p in facts)
    parts.append(Text(f"{len(facts)} parameter tensor(s), {total:,} values"))
    return Group(*parts)
