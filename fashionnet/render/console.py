"""The two consoles (results on stdout, chatter on stderr) and the terminal picture of a 28x28 image."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from rich.color import Color
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

# Ten shades from black to white, for terminals without colour (NO_COLOR, pipes, dumb terminals).
_RAMP = " .:-=+*#%@"


# COLUMNS outside this range is not a terminal's width (COLUMNS=0 from a broken script printed nothing at
# all; a width of millions builds lines of millions of blanks): the terminal's own width is used instead.
MIN_WIDTH, MAX_WIDTH, DEFAULT_WIDTH = 20, 1000, 80


def sane_width(stderr: bool = False) -> int | None:
    """The width to force on a console, or None to let rich decide (COLUMNS, else the terminal, else 80)."""
    raw = os.environ.get("COLUMNS", "").strip()
    if not raw.isdigit() or MIN_WIDTH <= int(raw) <= MAX_WIDTH:
        return None  # unset or not a number (rich ignores it too), or a real width
    stream = sys.__stderr__ if stderr else sys.__stdout__
    try:
        columns = os.get_terminal_size(stream.fileno()).columns if stream is not None else 0
    except (AttributeError, OSError, ValueError):
        columns = 0
    return columns if MIN_WIDTH <= columns <= MAX_WIDTH else DEFAULT_WIDTH


def stdout_console() -> Console:
    return Console(highlight=False, width=sane_width())


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, width=sane_width(stderr=True))


class Fitted:
    """A renderable that picks its layout once the width is known: `build(width)` returns the wide layout
    where it fits and a stacked one where it does not, so a narrow terminal loses no figure to '…'."""

    def __init__(self, build: Callable[[int], RenderableType]):
        self.build = build

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.build(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.build(options.max_width))


def first_that_fits(layouts: Sequence[RenderableType], stacked: RenderableType | None = None) -> Fitted:
    """The rule for narrow terminals: the first of `layouts` (widest first) whose natural width fits;
    where none does, `stacked` (see `stack`), which wraps and never cuts a name or a figure."""
    needed = [natural_width(layout) for layout in layouts]

    def build(width: int) -> RenderableType:
        for layout, need in zip(layouts, needed, strict=True):
            if need <= width:
                return layout
        return stacked if stacked is not None else layouts[-1]

    return Fitted(build)


def stack(headers: Sequence[str], rows: Sequence[Sequence[str]], bold: Sequence[bool] = ()) -> RenderableType:
    """A table as lines, for a terminal too narrow for any table layout: the headers once, if any ('class:
    logit · softmax'), then each row's first cell on a line and its other cells indented on the next, every
    line folded at the edge rather than cut."""
    lines: list[RenderableType] = []
    if headers:
        lines.append(Text(f"{headers[0]}: " + " · ".join(h for h in headers[1:] if h), style="dim", overflow="fold"))
    for i, row in enumerate(rows):
        style = "bold" if i < len(bold) and bold[i] else ""
        lines.append(Text(row[0], style=style, overflow="fold"))
        lines.append(Text(" " + " ".join(cell for cell in row[1:] if cell), style=style, overflow="fold"))
    return Group(*lines)


def natural_width(renderable: RenderableType) -> int:
    """The width a renderable takes when nothing limits it (to compare with the terminal's)."""
    console = Console(width=10_000, color_system=None, legacy_windows=False)
    return Measurement.get(console, console.options, renderable).maximum


class Picture:
    """A grayscale image drawn with half-block characters: one character cell shows two pixel rows.

    With colour the upper pixel is the foreground and the lower the background of '▀'; without colour
    each cell becomes a character from a brightness ramp, so the shape still reads in a log file.
    """

    def __init__(self, pixels: Sequence[Sequence[int]]):
        # pixels: rows of 0..255 integers (a 28x28 uint8 tensor's .tolist() works).
        self.rows = [[max(0, min(255, int(v))) for v in row] for row in pixels]

    @property
    def width(self) -> int:
        """Columns it takes on the terminal: one per pixel."""
        return len(self.rows[0]) if self.rows else 0

    def fitted(self, width: int) -> list[list[int]]:
        """The pixels scaled down (nearest neighbour, aspect kept) to at most `width` columns: on a narrow
        terminal a picture shrinks, it is never cropped."""
        if width >= self.width or width < 1:
            return self.rows
        scale = width / self.width
        columns = [min(self.width - 1, int(i / scale)) for i in range(width)]
        picked = [min(len(self.rows) - 1, int(j / scale)) for j in range(max(1, round(len(self.rows) * scale)))]
        return [[self.rows[r][c] for c in columns] for r in picked]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        rows = self.fitted(options.max_width)
        rows = rows if len(rows) % 2 == 0 else rows + [[0] * len(rows[0])]
        plain = console.no_color or console.color_system is None
        for top, bottom in zip(rows[0::2], rows[1::2], strict=True):
            if plain:
                text = "".join(_RAMP[min(9, (a + b) * 10 // 512)] for a, b in zip(top, bottom, strict=True))
                yield Segment(text)
            else:
                for a, b in zip(top, bottom, strict=True):
                    style = Style(color=Color.from_rgb(a, a, a), bgcolor=Color.from_rgb(b, b, b))
                    yield Segment("▀", style)
            yield Segment.line()

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(min(self.width, MIN_PICTURE), self.width)


MIN_PICTURE = 14  # columns a picture may shrink to (half size) where the terminal is narrower than it
NARROW = 40  # below this width, tables that do not fit are stacked (Trimmed, unclipped)


def unclipped(renderable, width: int):
    """The rule for narrow terminals, for everything a command prints (Trimmed applies it): a name or a
    figure is never cut with '…'. A table wider than the terminal becomes stacked lines (`stack`); text
    that would end in '…' folds instead; groups, panels, paddings and Fitted layouts are followed inside.
    Where everything fits, nothing changes."""
    from rich.padding import Padding
    from rich.panel import Panel
    from rich.table import Table

    if isinstance(renderable, Table):
        if natural_width(renderable) <= width:
            return renderable
        return _stacked_table(renderable, width)
    if isinstance(renderable, Group):
        renderable._render = [unclipped(r, width) for r in renderable.renderables]
        return renderable
    if isinstance(renderable, Fitted):
        build = renderable.build
        return Fitted(lambda w: unclipped(build(w), w))
    if isinstance(renderable, (Panel, Padding)):
        renderable.renderable = unclipped(renderable.renderable, max(1, width - 4))
        return renderable
    if isinstance(renderable, Trimmed):
        renderable.renderable = unclipped(renderable.renderable, width)
        return renderable
    if (
        isinstance(renderable, Text)
        and renderable.overflow != "ignore"
        and (renderable.overflow == "ellipsis" or renderable.no_wrap)
    ):
        copy = renderable.copy()
        copy.overflow, copy.no_wrap = "fold", False
        return copy
    return renderable


def _stacked_table(table, width: int) -> RenderableType:
    """A table's rows as `stack` lines (headers from its columns, when it shows them); a cell that is
    not text (a picture) keeps its own line."""
    columns = table.columns
    count = max((len(c._cells) for c in columns), default=0)
    headers = [Text.from_markup(c.header) if isinstance(c.header, str) else c.header for c in columns]
    lines: list[RenderableType] = []
    if table.show_header and any(str(h) for h in headers):
        head = Text(overflow="fold", style="dim")
        head.append_text(Text(str(headers[0]) or "-"))
        rest = [str(h) for h in headers[1:] if str(h)]
        if rest:
            head.append(": " + " · ".join(rest))
        lines.append(head)
    for i in range(count):
        cells = [c._cells[i] if i < len(c._cells) else "" for c in columns]
        style = table.rows[i].style if i < len(table.rows) else None
        texts = [Text.from_markup(cell) if isinstance(cell, str) else cell for cell in cells]
        first, others = texts[0], texts[1:]
        if isinstance(first, Text):
            lines.append(Text.assemble(first, style=style or "", overflow="fold"))
        else:
            lines.append(unclipped(first, width))
        joined = Text(" ", overflow="fold", style=style or "")
        for cell in others:
            if isinstance(cell, Text):
                if cell.plain.strip():
                    joined.append_text(cell)
                    joined.append(" ")
            else:
                lines.append(unclipped(cell, width))
        if joined.plain.strip():
            joined.rstrip()
            lines.append(joined)
    return Group(*lines)


class Trimmed:
    """Any renderable with the spaces at the end of each line removed: rich pads table cells and
    panels to their width, which leaves trailing blanks in piped output and copied text. On a terminal
    narrower than the renderable, `unclipped` applies: stacked, folded, never cut."""

    def __init__(self, renderable):
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        renderable = self.renderable
        if options.max_width < NARROW and natural_width(renderable) > options.max_width:
            renderable = unclipped(renderable, options.max_width)
        # Segment.split_lines, not console.render_lines: that one would crop lines we keep whole on
        # purpose (a 61-character module line of print(model) at 60 columns).
        for line in Segment.split_lines(console.render(renderable, options)):
            yield from _rstrip(line)
            yield Segment.line()


def print_whole(console: Console, renderable) -> None:
    """Print without cropping and without trailing blanks: lines that torch printed (a module line, a
    tensor row after a long prefix) go out whole, and a narrow terminal wraps them itself."""
    console.print(Trimmed(renderable), crop=False)


def verbatim(text: str, style: str = "") -> Text:
    """Text printed exactly as given: never re-wrapped, folded or cut."""
    return Text(text, style=style, no_wrap=True, overflow="ignore")


def _rstrip(line: list[Segment]) -> list[Segment]:
    line = list(line)
    while line:
        last = line[-1]
        if last.control:
            break
        stripped = last.text.rstrip(" ")
        if stripped:
            line[-1] = Segment(stripped, last.style, last.control)
            break
        line.pop()
    return line
