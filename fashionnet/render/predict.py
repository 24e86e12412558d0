"""How `fashionnet predict` results look: rich renderables for people, JSON Lines and CSV for scripts.

Builders return renderables and never print; the two writers stream rows to a file object so a pipe
sees each result as soon as it exists. Paths are user text: they go into `Text` objects (never parsed as
markup) after control characters and undecodable bytes are made visible, so one result stays one line.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from typing import IO

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from fashionnet.predict import Prediction
from fashionnet.render.console import Picture

BAR_WIDTH = 24  # picture (28) + gap (2) + label (11) + bar (24) + percent (7) + gaps stays under 80 columns
DETAILED_MAX = 3  # up to this many images: a bar chart each; more: one compact table
CSV_COLUMNS = ("path", "label", "index", "probability", "top", "error", "sure", "score")
MASK_SIDE = 28  # --show draws a photo's garment mask with at most this many pixels on its longest side
_EIGHTHS = " ▏▎▍▌▋▊▉"
_CONTROL = {c: f"\\x{c:02x}" for c in range(32)} | {127: "\\x7f"}


def printable(path: str) -> str:
    """A path as one printable line: control characters and undecodable bytes (surrogates) escaped."""
    return path.encode("utf-8", "backslashreplace").decode("utf-8").translate(_CONTROL)


def bar(probability: float, width: int = BAR_WIDTH) -> str:
    """A horizontal bar in eighth-blocks, `width` characters wide at probability 1."""
    eighths = round(max(0.0, min(1.0, probability)) * width * 8)
    full, rest = divmod(eighths, 8)
    return ("█" * full + (_EIGHTHS[rest] if rest else "")).ljust(width)


def percent(probability: float) -> str:
    return "<0.1%" if 0 < probability < 0.0005 else f"{probability:.1%}"


def probability_bars(result: Prediction, width: int = BAR_WIDTH) -> Table:
    """The top-k as a small bar chart, best first; the predicted class is bold."""
    chart = Table.grid(padding=(0, 1))
    chart.add_column(no_wrap=True)
    chart.add_column(no_wrap=True)
    chart.add_column(justify="right", no_wrap=True)
    for rank, (label, _, p) in enumerate(result.top):
        style = "bold" if rank == 0 else ""
        chart.add_row(Text(label, style=style), Text(bar(p, width), style="green" if rank == 0 else "dim"), percent(p))
    return chart


def verdict(result: Prediction) -> Text:
    """'Label 97.3%', or 'not sure — looks most like Label 41.0%' (and why, when no garment was found)."""
    if result.sure is False:
        why = " (no garment found)" if result.found is False else ""
        return Text.assemble(("not sure", "bold yellow"), f" — looks most like {result.label} "
                             f"{percent(result.probability)}{why}")
    return Text.assemble((result.label, "bold green"), f" {percent(result.probability)}")


def mask_picture(mask) -> Picture:
    """A photo's garment mask (bool array) scaled down for the terminal: garment white, background dark."""
    h, w = mask.shape
    scale = min(1.0, MASK_SIDE / max(h, w))
    rows = [min(h - 1, int((r + 0.5) / scale)) for r in range(max(1, round(h * scale)))]
    cols = [min(w - 1, int((c + 0.5) / scale)) for c in range(max(1, round(w * scale)))]
    return Picture([[255 if mask[r, c] else 40 for c in cols] for r in rows])


def prediction_view(result: Prediction, show: bool = False) -> RenderableType:
    """One image: 'path: Label 97.3%', the top-k bars, and with `show` the 28x28 picture beside them
    (and, for a photo, the garment mask that was cut out of it before that)."""
    if not result.ok:
        return error_line(result)
    header = Text.assemble((printable(result.path), "bold"), ": ", verdict(result))
    body = Group(header, probability_bars(result))
    if not show or result.image is None:
        return body
    grid = Table.grid(padding=(0, 2))
    if result.mask is not None:
        grid.add_row(mask_picture(result.mask), Picture(result.image.tolist()), body)
    else:
        grid.add_row(Picture(result.image.tolist()), body)
    return grid


def predictions_table(results: Iterable[Prediction]) -> Table:
    """Many images, one row each: path, prediction, probability, runner-up. Failed inputs are left out
    (they are reported on stderr with `error_line`)."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("path", overflow="fold", ratio=1)
    table.add_column("prediction", no_wrap=True)
    table.add_column("prob.", justify="right", no_wrap=True)
    table.add_column("runner-up", no_wrap=True)
    for r in results:
        if not r.ok:
            continue
        runner_up = f"{r.top[1][0]} {percent(r.top[1][2])}" if len(r.top) > 1 else ""
        label = Text(f"not sure ({r.label}?)", style="yellow") if r.sure is False else Text(r.label, style="bold")
        table.add_row(Text(printable(r.path)), label, percent(r.probability), Text(runner_up, style="dim"))
    return table


def predictions_view(results: Sequence[Prediction], show: bool = False) -> RenderableType:
    """What `predict` prints for people: a chart per image for a few images (or with --show), else a table."""
    good = [r for r in results if r.ok]
    if show or len(good) <= DETAILED_MAX:
        views: list[RenderableType] = []
        for r in good:
            views += [prediction_view(r, show), Text("")]
        return Group(*views[:-1])
    return predictions_table(good)


def error_line(result: Prediction) -> Text:
    """'path: what is wrong' as one line for stderr."""
    return Text(f"{printable(result.path)}: {result.error}", style="red")


def prediction_record(result: Prediction) -> dict:
    """The JSON object for one input (also the CSV row's source)."""
    if not result.ok:
        return {"path": result.path, "error": result.error}
    return {
        "path": result.path,
        "label": result.label,
        "index": result.index,
        "probability": round(result.probability, 6),
        "top": [{"label": label, "index": index, "probability": round(p, 6)} for label, index, p in result.top],
        "sure": result.sure,
        "score": round(result.score, 6) if result.score is not None else None,
    }


def write_jsonl(results: Iterable[Prediction], file: IO[str]) -> None:
    """One JSON object per line, in input order; non-ASCII paths are \\u-escaped so any path is valid JSON."""
    for result in results:
        file.write(json.dumps(prediction_record(result)) + "\n")


def write_csv(results: Iterable[Prediction], file: IO[str]) -> None:
    """A header, then one row per input; `top` is 'label:probability;...' and `error` is empty on success."""
    writer = csv.writer(file, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for result in results:
        rec = prediction_record(result)
        top = ";".join(f"{t['label']}:{t['probability']}" for t in rec.get("top", []))
        sure = {True: "true", False: "false"}.get(rec.get("sure"), "")
        score = rec.get("score")
        writer.writerow([printable(result.path), rec.get("label", ""), rec.get("index", ""),
                         rec.get("probability", ""), top, rec.get("error", ""), sure, "" if score is None else score])
