"""The two consoles (results on stdout, chatter on stderr) and the terminal picture of a 28x28 image."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.color import Color
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style

# Ten shades from black to white, for terminals without colour (NO_COLOR, pipes, dumb terminals).
_RAMP = " .:-=+*#%@"


def stdout_console() -> Console:
    return Console(highlight=False)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


class Fitted:
    """A renderable that picks its layout once the width is known: `build(width)` returns the wide layout
    where it fits and a stacked one where it does not, so a narrow terminal loses no figure to '…'."""

    def __init__(self, build: Callable[[int], RenderableType]):
        self.build = build

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.build(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.build(options.max_width))


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

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        rows = self.rows if len(self.rows) % 2 == 0 else self.rows + [[0] * len(self.rows[0])]
        plain = console.no_color or console.color_system is None
        for top, bottom in zip(rows[0::2], rows[1::2]):
            if plain:
                text = "".join(_RAMP[min(9, (a + b) * 10 // 512)] for a, b in zip(top, bottom))
                yield Segment(text)
            else:
                for a, b in zip(top, bottom):
                    style = Style(color=Color.from_rgb(a, a, a), bgcolor=Color.from_rgb(b, b, b))
                    yield Segment("▀", style)
            yield Segment.line()

    def __rich_measure__(self, console: Console, options: ConsoleOptions):
        from rich.measure import Measurement

        width = len(self.rows[0]) if self.rows else 0
        return Measurement(width, width)
