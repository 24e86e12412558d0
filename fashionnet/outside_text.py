"""Text from outside (file names, checkpoint metadata, notebook names) on its way out: one function per
destination, and the only way such text reaches it.

- a terminal or an error line: `for_terminal` (control characters and undecodable bytes made visible);
- a rich markup string: `for_markup` (the same, with rich's markup escaped), or a `Text` object built
  from `for_terminal` (never parsed as markup);
- a matplotlib title or label: `for_title` (the same, with `$` escaped: no mathtext);
- JSON: `for_json` (a value: strings that are not UTF-8 escaped, with `KEY_bytes` beside a path that
  had to be escaped) - render.json_safe applies it to every JSON object a command prints;
- CSV: `for_csv` (printable, and a cell a spreadsheet would read as a formula starts with an apostrophe).

Names that are not UTF-8 (Python keeps their bytes as lone surrogates) come back with `from_path_bytes`.
"""

from __future__ import annotations

import os
from urllib.parse import quote, unquote_to_bytes

from fashionnet.errors import printable

FORMULA_STARTS = ("=", "+", "-", "@")  # what makes a spreadsheet read a cell as a formula


def for_terminal(text) -> str:
    return printable(text)


def for_markup(text) -> str:
    from rich.markup import escape

    return escape(printable(text))


def for_title(text) -> str:
    """A matplotlib title or label: one printable line in which `$` never starts mathtext."""
    return printable(text).replace("$", r"\$")


def is_text(value: str) -> bool:
    """True when the string is real text (encodes as UTF-8), not a name with undecodable bytes."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def path_bytes(path: str) -> str:
    """The path's exact bytes, percent-encoded (`from_path_bytes` gives them back): the way back to the
    real file when the shown path had to be escaped."""
    return quote(os.fsencode(path), safe="/")


def from_path_bytes(encoded: str) -> str:
    """The real path from `path_bytes`, as Python names files (undecodable bytes as surrogates)."""
    return os.fsdecode(unquote_to_bytes(encoded))


def json_path(path: str, key: str = "path") -> dict:
    """A path as JSON: exact when it is text; a name with bytes that are not UTF-8 (lone surrogates,
    which strict JSON readers refuse) is shown escaped, with its real bytes under `KEY_bytes`."""
    if is_text(path):
        return {key: path}
    return {key: printable(path), f"{key}_bytes": path_bytes(path)}


def for_json(obj):
    """Every string in `obj` valid in JSON; a dict value that had to be escaped gets its bytes beside it."""
    if isinstance(obj, str):
        return obj if is_text(obj) else printable(obj)
    if isinstance(obj, dict):
        out: dict = {}
        for key, value in obj.items():
            key = for_json(key) if isinstance(key, str) else key
            if isinstance(value, str) and not is_text(value):
                out.update(json_path(value, key))
            else:
                out[key] = for_json(value)
        return out
    if isinstance(obj, (list, tuple)):
        return [for_json(v) for v in obj]
    return obj


def for_csv(cell):
    """A CSV cell: printable, and one starting like a formula (a file named '=HYPERLINK(...).png') gets a
    leading apostrophe, the usual mark for 'this is text'. '-' (stdin) stays."""
    if isinstance(cell, str):
        cell = printable(cell)
        if cell.startswith(FORMULA_STARTS) and cell != "-":
            return "'" + cell
    return cell
