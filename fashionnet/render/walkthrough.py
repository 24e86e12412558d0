"""Rich renderables for `fashionnet walkthrough`: one section per tutorial step, laid out for the terminal.

Everything shown was computed and translated by `fashionnet.walkthrough.build_steps`; this module only
lays it out. Code and its output start at column 0 with no frame around them, so at 80 columns they are
exactly what Python prints, and a narrower terminal gets tensors printed for its width (the shown code
says so). Output lines are never re-wrapped here; a line wider than the terminal (torch's own
"Layer: ... | Values : tensor(...)") goes out whole. Read the same without colour: pictures fall back
to an ASCII ramp and marks are words.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TextIO

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.constrain import Constrain
from rich.rule import Rule
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from fashionnet import class_words
from fashionnet.language import text
from fashionnet.render.console import Fitted, Picture, first_that_fits, print_whole, stack, verbatim
from fashionnet.render.widgets import PROSE_WIDTH, Paragraph
from fashionnet.walkthrough import (
    Block,
    Code,
    Facts,
    Note,
    Output,
    Pictures,
    Probabilities,
    Step,
    check_step,
    heading,
)

BAR_WIDTH = 12


def _halve(pixels: list[list[int]]) -> list[list[int]]:
    # 2x2 average: a 28x28 picture becomes 14 columns by 7 lines, so three fit side by side.
    rows = pixels if len(pixels) % 2 == 0 else pixels + [pixels[-1]]
    out = []
    for top, bottom in zip(rows[0::2], rows[1::2], strict=True):
        out.append([(top[i] + top[i + 1] + bottom[i] + bottom[i + 1]) // 4 for i in range(0, len(top) - 1, 2)])
    return out


def render_code(block: Code, lang: str) -> RenderableType:
    # ansi_dark uses the terminal's own palette; without colour it is plain text. Lines go out whole,
    # like output: a folded code line could not be pasted back (only the parameter loop's print and
    # some marked lines are wider than 60 columns; the terminal wraps those itself).
    highlighted = Syntax(block.text, "python", theme="ansi_dark", background_color="default").highlight(block.text)
    highlighted.rstrip()
    highlighted.no_wrap = True
    highlighted.overflow = "ignore"
    return highlighted


def render_output(block: Output, lang: str) -> RenderableType:
    body = verbatim(block.text.rstrip("\n"))
    if block.label is None:
        return body
    return Group(Text(block.label + text(lang, "ui.colon"), style="bold"), body)


def render_pictures(block: Pictures, lang: str) -> RenderableType:
    """The pictures side by side with their captions; `small` ones are drawn halved only where full-size
    ones (28 columns each) would not fit beside each other."""
    gap = 3

    def build(width: int) -> RenderableType:
        full = sum(len(pixels[0]) if pixels else 0 for pixels in block.images) + gap * (len(block.images) - 1)
        halve = block.small and full > width
        images = [_halve(pixels) if halve else pixels for pixels in block.images]
        # A cell is as wide as its picture or its caption's longest line; as many cells per row as fit, so a
        # caption never wraps inside a class name (at 40 columns three halved pictures take two rows).
        cell = max(
            max((len(p[0]) for p in images if p), default=0),
            max((cell_len(line) for c in block.captions for line in c.split("\n")), default=0),
        )
        per_row = max(1, (width + gap) // (cell + gap))
        rows = []
        for start in range(0, len(images), per_row):
            grid = Table.grid(padding=(0, gap, 0, 0))
            chunk = list(zip(images[start : start + per_row], block.captions[start : start + per_row], strict=True))
            for _ in chunk:
                grid.add_column(min_width=min(cell, width))
            grid.add_row(*(Group(Picture(p), Text(c, style="dim", overflow="fold")) for p, c in chunk))
            rows.append(grid)
        return rows[0] if len(rows) == 1 else Group(*rows)

    return Fitted(build)


def render_facts(block: Facts, lang: str) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for key, value in block.items:  # values wrap between words, never inside a class name
        grid.add_row(key + text(lang, "ui.colon"), Paragraph(value, keep=class_words(lang)))
    return grid


def render_note(block: Note, lang: str) -> RenderableType:
    return Constrain(Paragraph(block.text, style="italic"), width=PROSE_WIDTH)


def render_probabilities(block: Probabilities, lang: str) -> RenderableType:
    """The ten classes with probability and bar; where the full class names do not fit the terminal, the
    names alone (a translated name without its English one), then no bars, so no name is ever broken."""
    class_header, probability_header, note_header = block.headers
    marks = [((r.predicted, block.predicted_label), (r.true, block.true_label)) for r in block.rows]
    notes = [block.separator.join(label for flag, label in pairs if flag and label) for pairs in marks]

    def table(short: bool, bars: bool = True) -> Table:
        grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1))
        grid.add_column("#", justify="right", no_wrap=True)
        grid.add_column(class_header, no_wrap=True)
        grid.add_column(probability_header, justify="right", no_wrap=True)
        if bars:
            grid.add_column("", no_wrap=True)
        grid.add_column(note_header, no_wrap=bars, overflow="fold")
        for row, note in zip(block.rows, notes, strict=True):
            style = "bold" if row.predicted else None
            name = row.short if short and row.short else row.name
            cells = [str(row.index), name, f"{row.probability:.4f}"]
            if bars:
                cells.append("█" * round(row.probability * BAR_WIDTH))
            grid.add_row(*cells, note, style=style)
        return grid

    layouts = [table(False), table(True), table(True, bars=False)]
    rows = [
        [f"{r.index} {r.short or r.name}", f"{r.probability:.4f}", note]
        for r, note in zip(block.rows, notes, strict=True)
    ]
    return first_that_fits(layouts, stack(block.headers, rows, [r.predicted for r in block.rows]))


_RENDERERS: dict[type, Callable[..., RenderableType]] = {
    Code: render_code,
    Output: render_output,
    Pictures: render_pictures,
    Facts: render_facts,
    Note: render_note,
    Probabilities: render_probabilities,
}


def render_block(block: Block, lang: str = "en") -> RenderableType:
    return _RENDERERS[type(block)](block, lang)


def render_step(step: Step, number: int, total: int) -> RenderableType:
    """One step: a rule, its title ('Step 5/13 · One image through the model'), the explanation, then
    the code, what it printed and the pictures and facts beside it."""
    parts: list[RenderableType] = [
        Rule(style="dim"),
        Paragraph(heading(step.lang, number, total, step.title), style="bold"),
        Constrain(Paragraph(step.explanation), width=PROSE_WIDTH),
    ]
    for block in step.blocks:
        parts.append(Text(""))
        parts.append(render_block(block, step.lang))
    parts.append(Text(""))
    return Group(*parts)


def iter_steps(steps: Sequence[Step], only: int | None = None) -> Iterator[RenderableType]:
    """The steps one by one (all of them, or just step `only`, 1-based), so a caller can pause between."""
    total = len(steps)
    lang = steps[0].lang if steps else "en"
    check_step(only, lang, total)
    for number, step in enumerate(steps, start=1):
        if only is None or number == only:
            yield render_step(step, number, total)


def _is_tty(stream: TextIO | None) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def should_pause(interactive: bool, console: Console, stdin: TextIO | None = None) -> bool:
    """Pause only when asked and a person is there: stdin and the output both terminals."""
    return interactive and _is_tty(stdin if stdin is not None else sys.stdin) and console.is_terminal


def show_walkthrough(
    console: Console,
    steps: Sequence[Step],
    *,
    only: int | None = None,
    interactive: bool = False,
    stdin: TextIO | None = None,
    wait: Callable[[str], object] | None = None,
) -> None:
    """Print the steps on `console`; with `interactive` (and terminals on both ends) wait for Enter
    between steps. The prompt goes to stderr so stdout holds only the walkthrough. End of input
    (Ctrl-D) stops quietly; Ctrl-C propagates for the CLI to turn into exit code 130."""
    panels = list(iter_steps(steps, only))
    pause = len(panels) > 1 and should_pause(interactive, console, stdin)
    if pause and wait is None:
        wait = Console(stderr=True, highlight=False).input
    lang = steps[0].lang if steps else "en"
    for index, panel in enumerate(panels):
        if index and pause and wait is not None:  # pause: wait was set above
            try:
                wait(text(lang, "ui.pause") + " ")
            except EOFError:
                return
        print_whole(console, panel)
