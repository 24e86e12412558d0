"""The user-facing words, one JSON file per language in fashionnet/locales (same keys in each).

Every command, the walkthrough and the renderers take their words from here; reading a file costs
no torch, so the CLI's own few words (error:, Interrupted.) are cheap to look up.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from fashionnet.errors import UsageError


def languages() -> tuple[str, ...]:
    """Every language with a file in fashionnet/locales. Adding a language is adding one file, plus its
    code in cli.options.Lang (kept there so `--help` need not list the folder; a test checks the two agree)."""
    files = resources.files("fashionnet") / "locales"
    return tuple(sorted(p.name.removesuffix(".json") for p in files.iterdir() if p.name.endswith(".json")))


@cache
def locale(lang: str) -> dict:
    if lang not in languages():
        raise UsageError(f"unknown language {lang!r}: choose one of {', '.join(languages())}")
    return json.loads((resources.files("fashionnet") / "locales" / f"{lang}.json").read_text("utf-8"))


def text(lang: str, key: str, **values) -> str:
    """One user-facing string in `lang`, with {placeholders} filled in."""
    return locale(lang)[key].format(**values)


def after_colon(words: str) -> str:
    """`words` ending in a colon, then the space that follows it: none after a full-width colon."""
    return words if words.endswith("：") else words + " "
