"""How `fashionnet predict` results look: rich renderables for people, JSON Lines and CSV for scripts.

Builders return renderables and never print; the two writers stream rows to a file object so a pipe
sees each result as soon as it exists. Paths are user text: they go into `Text` objects (never parsed as
markup) after control characters and undecodable bytes are made visible, so one result stays one line.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from typing import IO

from rich import box
from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from fashionnet.errors import printable
from fashionnet.outside_text import for_csv, json_path, path_bytes
from fashionnet.predict import Prediction
from fashionnet.render import json_safe
from fashionnet.render.console import Fitted, Picture
from fashionnet.render.widgets import bar, mask_picture, percent

BAR_WIDTH = 24  # picture (28) + gap (2) + label (11) + bar (24) + percent (7) + gaps stays under 80 columns
DETAILED_MAX = 3  # up to this many images: a bar chart each; more: one compact table
CSV_COLUMNS = ("path", "label", "index", "probability", "top", "error", "sure", "score", "found", "path_bytes")
CSV_FLAGS: dict[bool | None, str] = {True: "true", False: "false"}  # sure, found: unknown (None) is empty


MIN_BAR = 4  # narrower than this a bar says nothing: the chart becomes plain lines


def probability_bars(result: Prediction, width: int = BAR_WIDTH) -> RenderableType:
    """The top-k as a small bar chart, best first; the predicted class is bold. The bars shrink to fit a
    narrow terminal, and give way to plain 'label percent' lines where even short bars do not fit."""
    label_width = max(cell_len(label) for label, _, _ in result.top)
    percent_width = max(len(percent(p)) for _, _, p in result.top)

    def build(available: int) -> RenderableType:
        bar_width = min(width, available - label_width - percent_width - 2)
        if bar_width < MIN_BAR:
            return Group(
                *[
                    Text(f"{label} {percent(p)}", style="bold" if rank == 0 else "")
                    for rank, (label, _, p) in enumerate(result.top)
                ]
            )
        chart = Table.grid(padding=(0, 1))
        chart.add_column(no_wrap=True)
        chart.add_column(no_wrap=True)
        chart.add_column(justify="right", no_wrap=True)
        for rank, (label, _, p) in enumerate(result.top):
            style = "bold" if rank == 0 else ""
            chart.add_row(
                Text(label, style=style), Text(bar(p, bar_width), style="green" if rank == 0 else "dim"), percent(p)
            )
        return chart

    return Fitted(build)


def verdict(result: Prediction) -> Text:
    """'Label 97.3%', or 'not sure — looks most like Label 41.0%' (and why, when no garment was found)."""
    label, probability = result.best.label, result.best.probability
    if result.sure is False:
        why = " (no garment found)" if result.found is False else ""
        return Text.assemble(("not sure", "bold yellow"), f" — looks most like {label} {percent(probability)}{why}")
    return Text.assemble((label, "bold green"), f" {percent(probability)}")


NO_MASK_CLEAN = "no garment mask: a clean background, so the picture was used as it is"
NO_MASK_NOT_FOUND = "no garment mask: no garment stood out, so the whole picture was used"


def prediction_view(result: Prediction, show: bool = False) -> RenderableType:
    """One image: 'path: Label 97.3%', the top-k bars, and with `show` the 28x28 picture beside them
    (and, for a photo, the garment mask that was cut out of it before that)."""
    if not result.ok:
        return error_line(result)
    header = Text.assemble((printable(result.path), "bold"), ": ", verdict(result), overflow="fold")
    body = Group(header, probability_bars(result))
    if not show or result.image is None:
        return body
    drawn = [(Picture(result.image.tolist()), "model input 28x28")]
    notes: list[RenderableType] = []
    if result.mask is not None:  # a photo: the garment mask cut out of it, then what the model saw
        drawn.insert(0, (mask_picture(result.mask), "garment mask"))
    else:  # say why there is none, so a missing mask is not mistaken for a failure
        notes.append(Text(NO_MASK_NOT_FOUND if result.found is False else NO_MASK_CLEAN, style="dim", overflow="fold"))
    pictures: list[RenderableType] = [Group(p, Text(caption, style="dim")) for p, caption in drawn]
    side = sum(max(p.width, cell_len(caption)) for p, caption in drawn) + 2 * (len(drawn) - 1)

    def build(width: int) -> RenderableType:
        if width < side:  # not even the pictures side by side: one above the other, then the bars
            return Group(*pictures, body, *notes)
        row = Table.grid(padding=(0, 2))
        if width < side + 2 + 11 + 1 + MIN_BAR + 1 + 6:  # too narrow for the bars beside them: pictures above
            row.add_row(*pictures)
            return Group(row, body, *notes)
        if header.cell_len > width - side - 2:  # a long path: the header goes above, whole
            row.add_row(*pictures, Group(probability_bars(result), *notes))
            return Group(header, row)
        row.add_row(*pictures, Group(body, *notes))
        return row

    return Fitted(build)


MIN_PATH = 12  # the path column must keep at least this much, or the table gives way to stacked rows


def predictions_table(results: Iterable[Prediction]) -> RenderableType:
    """Many images, one row each: path, prediction, probability, and the next classes of the top-k
    (--top-k 1: none, 2: the runner-up, 3: the two after it...). Failed inputs are left out
    (they are reported on stderr with `error_line`). Where the columns do not fit with every path whole,
    each image becomes a few lines (its path, then the figures), so nothing is folded mid-name or cut."""
    good = [r for r in results if r.ok]
    heading = _others_heading(good)
    table: RenderableType = _wide_table(good, heading)
    runner = [_runner_up(r) for r in good]
    fixed = [
        max([len("prediction"), *(_label(r, short=True).cell_len for r in good)]),
        max([len("prob."), *(len(percent(r.best.probability)) for r in good)]),
        *([max([len(heading), *(cell_len(line) for t in runner for line in t.split(", "))])] if heading else []),
    ]
    longest = max([MIN_PATH, *(cell_len(printable(r.path)) for r in good)])
    needed = longest + sum(fixed) + 2 * len(fixed)  # a space either side of each column gap

    def stacked() -> RenderableType:
        rows = []
        for r, second in zip(good, runner, strict=True):
            rows.append(Text(printable(r.path), overflow="fold"))
            rows.append(Text.assemble("  ", _label(r), f" {percent(r.best.probability)}"))
            if second:
                rows.append(Text(f"  {heading} {second}", style="dim"))
        return Group(*rows)

    if any(r.sure is False for r in good):  # the table's short mark, explained once below it
        table = Group(table, Text(NOT_SURE_NOTE, style="dim"))
    return Fitted(lambda width: table if width >= needed else stacked())


NOT_SURE_NOTE = "Label? = not sure (score below --threshold, or no garment found)"


def _label(r: Prediction, short: bool = False) -> Text:
    """The prediction: the label, or for an answer that is not sure 'not sure (Label?)', or 'Label?' in
    the table, where NOT_SURE_NOTE below it explains the mark."""
    label = r.best.label
    if r.sure is False:
        return Text(f"{label}?" if short else f"not sure ({label}?)", style="yellow")
    return Text(label, style="bold")


def _runner_up(r: Prediction, sep: str = ", ") -> str:
    """The classes after the first of the top-k, best first: 'Coat 12.0%, Pullover 3.1%' (the table puts
    each on its own line)."""
    return sep.join(f"{label} {percent(p)}" for label, _, p in r.top[1:])


def _others_heading(results: list[Prediction]) -> str:
    """The last column's name: none with --top-k 1, 'runner-up' with 2, 'next N' beyond."""
    others = max((len(r.top) - 1 for r in results), default=0)
    return "" if others == 0 else "runner-up" if others == 1 else f"next {others}"


def _wide_table(results: list[Prediction], heading: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("path", overflow="fold", ratio=1)
    table.add_column("prediction", no_wrap=True)
    table.add_column("prob.", justify="right", no_wrap=True)
    if heading:
        table.add_column(heading, no_wrap=True)
    for r in results:
        row: list[RenderableType] = [Text(printable(r.path)), _label(r, short=True), percent(r.best.probability)]
        table.add_row(*row, *([Text(_runner_up(r, "\n"), style="dim")] if heading else []))
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


def significant(value: float) -> float:
    """A figure to 6 significant digits: the same bytes run to run, and 3.7e-7 stays 3.7e-7 (6 decimals
    would store 0.0, a probability the model never gave)."""
    return float(f"{value:.6g}")


def prediction_record(result: Prediction) -> dict:
    """The JSON object for one input (also the CSV row's source)."""
    if not result.ok:
        return {**json_path(result.path), "error": result.error}
    return {
        **json_path(result.path),
        "label": result.label,
        "index": result.index,
        "probability": significant(result.best.probability),
        "top": [{"label": label, "index": index, "probability": significant(p)} for label, index, p in result.top],
        "sure": result.sure,
        "score": significant(result.score) if result.score is not None else None,
        "found": result.found,  # false: no garment stood out (blank or uniform picture), so never sure
    }


def write_jsonl(results: Iterable[Prediction], file: IO[str]) -> None:
    """One JSON object per line, in input order; non-ASCII paths are \\u-escaped so any path is valid JSON."""
    encode = json.JSONEncoder(allow_nan=False).encode  # one encoder for every line
    for result in results:
        record = prediction_record(result)
        try:
            line = encode(record)
        except ValueError:  # a NaN or infinity somewhere: null instead (json_safe walks the record only then)
            line = encode(json_safe(record))
        file.write(line + "\n")


def write_csv(results: Iterable[Prediction], file: IO[str]) -> None:
    """A header, then one row per input; `top` is 'label:probability;...' and `error` is empty on success.
    `path` is printable and spreadsheet-safe; when that changed it, `path_bytes` holds the real path."""
    writer = csv.writer(file, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for result in results:
        rec = prediction_record(result)
        top = ";".join(f"{t['label']}:{t['probability']}" for t in rec.get("top", []))
        sure, found = (CSV_FLAGS.get(rec.get(key), "") for key in ("sure", "found"))
        score = rec.get("score")
        shown = for_csv(result.path)
        row = [
            shown,
            rec.get("label", ""),
            rec.get("index", ""),
            rec.get("probability", ""),
            top,
            rec.get("error", ""),
            sure,
            "" if score is None else score,
            found,
            "" if shown == result.path else path_bytes(result.path),
        ]
        writer.writerow([for_csv(cell) for cell in row])


def emit_predictions(results, total: int, as_json: bool, as_csv: bool, show: bool) -> int:
    """Stream rows for scripts (nothing finished is lost if a later input fails) or collect for a view;
    problems go to stderr as they happen. Returns the number of failed inputs."""
    from fashionnet.render.console import stderr_console
    from fashionnet.render.output import print_view

    err = stderr_console()
    failed = 0

    def watched():
        nonlocal failed
        from rich.progress import Progress

        with Progress(console=err, transient=True, disable=total < 200) as progress:
            task = progress.add_task("Classifying", total=total)
            for result in results:
                if not result.ok:
                    failed += 1
                    err.print(error_line(result), soft_wrap=True)
                progress.advance(task)
                yield result

    if as_json:
        write_jsonl(watched(), sys.stdout)
    elif as_csv:
        write_csv(watched(), sys.stdout)
    else:
        done = list(watched())
        if any(r.ok for r in done):
            print_view(predictions_view(done, show=show))
    return failed
