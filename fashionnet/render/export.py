"""The renderable for `fashionnet export`: what was written and how closely it matches the PyTorch model."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from fashionnet.outside_text import for_markup


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def export_view(report) -> RenderableType:
    """Header facts, one row per check, then the metadata stored in the file."""
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_row("File", f"{for_markup(report.out)} ({_size(report.bytes)})")
    head.add_row("Format", report.format + (f", opset {report.opset}" if report.opset is not None else ""))
    head.add_row(
        "Input",
        f"float32 [{report.batch_size or 'N'}, 28, 28] in [0, 1]" + ("" if report.batch_size else " (any batch size)"),
    )
    head.add_row("Precision", report.dtype)
    head.add_row("Checked with", for_markup(f"{report.runtime}, against PyTorch on {report.reference_device}"))

    checks = Table(show_edge=False, header_style="bold", pad_edge=False)
    checks.add_column("Inputs")
    checks.add_column("Max |logit diff|", justify="right")
    checks.add_column("Same top-1", justify="right")
    for c in report.checks:
        checks.add_row(c.inputs, f"{c.max_abs_diff:.2e}", f"{c.top1_agree}/{c.count}")

    meta = Table.grid(padding=(0, 2))
    meta.add_column(style="dim")
    for key, value in report.metadata.items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        meta.add_row(for_markup(key), for_markup(shown))
    verdict = Text(f"Check passed: every difference is within {report.tolerance:.0e}.", style="green")
    return Group(head, Text(""), checks, verdict, Text(""), Text("Metadata in the file:", style="bold"), meta)
