"""Widgets more than one page draws with: prose that wraps in both languages, probability bars, pictures
side by side, a garment mask and a signed weight map. Pages import these; a page never imports another page."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from fashionnet import class_name
from fashionnet.language import text
from fashionnet.render.console import Picture

if TYPE_CHECKING:
    from fashionnet.explain import Explanation

PROSE_WIDTH = 80  # explanations never run wider than this, however wide the terminal
MASK_SIDE = 28  # --show draws a photo's garment mask with at most this many pixels on its longest side
_EIGHTHS = " ▏▎▍▌▋▊▉"

# Tokens a line may break between: a run of non-CJK text, or a single CJK character, each keeping
# any opening bracket before it and closing punctuation after it (so no line starts with "，" or "）").
_CJK = r"\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef"
_TOKENS = re.compile(rf"\s+|[(（「『]*(?:[{_CJK}]|[^\s{_CJK}]+)[,，。;；:：、)）」』!！?？]*")


class Paragraph:
    """Prose that wraps well in both languages. Rich breaks lines only at spaces, which leaves
    Chinese text (no spaces) with ragged, half-empty lines; here a line may also break between any
    two CJK characters, measured in terminal cells."""

    def __init__(self, text: str, style: str = "", keep: Sequence[str] = ()):
        self.text = text
        self.style = style
        self.keep = sorted({k for k in keep if k}, key=len, reverse=True)  # never broken, e.g. class names

    def tokens(self) -> list[str]:
        if not self.keep:
            return _TOKENS.findall(self.text)
        out: list[str] = []
        for piece in re.split("(" + "|".join(map(re.escape, self.keep)) + ")", self.text):
            if piece in self.keep:
                out.append(piece)
            elif piece:
                out += _TOKENS.findall(piece)
        return out

    def lines(self, width: int) -> list[str]:
        lines, line, space = [], "", False
        for token in self.tokens():
            if token.isspace():
                space = bool(line)
                continue
            glue = " " if space else ""
            space = False
            if line and cell_len(line + glue + token) > width:
                lines.append(line)
                line = ""
                glue = ""
            line += glue + token
            while cell_len(line) > width:  # a single word wider than the line: fold it
                cut = max(1, max(i for i in range(1, len(line) + 1) if cell_len(line[:i]) <= width))
                lines.append(line[:cut])
                line = line[cut:]
        if line:
            lines.append(line)
        return lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self.lines(max(1, options.max_width)):
            yield Text(line, style=self.style)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        widest = max((cell_len(word) for word in self.text.split()), default=0)
        return Measurement(min(widest, options.max_width), min(cell_len(self.text), options.max_width))


def bar(probability: float, width: int) -> str:
    """A horizontal bar in eighth-blocks, `width` characters wide at probability 1."""
    eighths = round(max(0.0, min(1.0, probability)) * width * 8)
    full, rest = divmod(eighths, 8)
    return ("█" * full + (_EIGHTHS[rest] if rest else "")).ljust(width)


def percent(probability: float) -> str:
    """One decimal, never rounding a small value to 0.0% or a value short of certain to 100.0%."""
    if 0 < probability < 0.0005:
        return "<0.1%"
    if 0.9995 <= probability < 1:
        return ">99.9%"
    return f"{probability:.1%}"


def mask_picture(mask) -> Picture:
    """A photo's garment mask (bool array) scaled down for the terminal: garment white, background dark."""
    h, w = mask.shape
    scale = min(1.0, MASK_SIDE / max(h, w))
    rows = [min(h - 1, int((r + 0.5) / scale)) for r in range(max(1, round(h * scale)))]
    cols = [min(w - 1, int((c + 0.5) / scale)) for c in range(max(1, round(w * scale)))]
    return Picture([[255 if mask[r, c] else 40 for c in cols] for r in rows])


class SignedPicture:
    """A 28x28 map of signed weights: with colour, orange for positive and blue for negative on black
    (brighter = larger); without colour, a grey ramp where the middle shade is zero."""

    def __init__(self, weights: list[list[float]], scale: float):
        self.rows = [[max(-1.0, min(1.0, v / scale)) for v in row] for row in weights]

    @staticmethod
    def _colour(v: float):
        from rich.color import Color

        a = abs(v)
        if v > 0:
            return Color.from_rgb(round(255 * a), round(150 * a), 0)
        return Color.from_rgb(0, round(130 * a), round(255 * a))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.segment import Segment
        from rich.style import Style

        ramp = " .:-=+*#%@"
        plain = console.no_color or console.color_system is None
        # Two rows a line (28 rows: 14 lines); an odd last row would be left out.
        for top, bottom in zip(self.rows[0::2], self.rows[1::2], strict=False):
            if plain:
                yield Segment(
                    "".join(ramp[min(9, int((a + b + 2) / 4 * 10))] for a, b in zip(top, bottom, strict=True))
                )
            else:
                for a, b in zip(top, bottom, strict=True):
                    yield Segment("▀", Style(color=self._colour(a), bgcolor=self._colour(b)))
            yield Segment.line()

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(len(self.rows[0]), len(self.rows[0]))


class PictureGrid:
    """As many pictures side by side as the terminal has room for."""

    def __init__(self, cells: Sequence[tuple[RenderableType, str]], cell_width: int = 28, gap: int = 3):
        self.cells, self.cell_width, self.gap = cells, cell_width, gap

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        per_row = max(1, (options.max_width + self.gap) // (self.cell_width + self.gap))
        for start in range(0, len(self.cells), per_row):
            grid = Table.grid(padding=(0, self.gap, 0, 0))
            chunk = self.cells[start : start + per_row]
            for _ in chunk:
                grid.add_column(width=self.cell_width)
            grid.add_row(*(Group(picture, Text(caption, style="dim", overflow="fold")) for picture, caption in chunk))
            yield grid
            yield Text("")


def verdict(e: Explanation, lang: str) -> str:
    """What predict says of an explained picture, in words (verdict_words)."""
    return verdict_words(e.answer.index, e.answer.probability, e.answer.sure, lang)


def verdict_words(index: int, probability: float, sure: bool, lang: str) -> str:
    """predict's answer in words: 'Shirt 94.4%', or 'not sure — looks most like Shirt 41.0%'."""
    name = class_name(index, lang)
    if not sure:
        return text(lang, "inside.not_sure", label=name, percent=percent(probability))
    return f"{name} {percent(probability)}"
