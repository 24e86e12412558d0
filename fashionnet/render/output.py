"""Where a command's result goes: one JSON object or a view on stdout, a note on stderr, in the user's
language. The Typer layer and the render pages that print a whole result go through these, so every
command prints alike. Cheap to import (rich and the words are loaded when first used): `--help` stays instant."""

import json
from pathlib import Path

import typer

from fashionnet.errors import printable


def word(lang: str, key: str, **values) -> str:
    """One of the few words the CLI itself prints (error:, Interrupted., Wrote ...), in `lang`."""
    from fashionnet.language import text

    return text(lang, key, **values)


def wrote(path: Path, lang: str = "en") -> None:
    typer.echo(word(lang, "cli.wrote", path=printable(str(path))), err=True)


def print_json(obj, rows: bool = False) -> None:
    """One JSON object on stdout; `rows` keeps each list of plain values (a picture's row) on one line."""
    from fashionnet.render import json_rows, json_safe

    typer.echo(json_rows(json_safe(obj)) if rows else json.dumps(json_safe(obj), indent=2, allow_nan=False))


def print_view(renderable) -> None:
    from fashionnet.render.console import Trimmed, stdout_console

    stdout_console().print(Trimmed(renderable))  # rich pads cells to their width: no trailing blanks
