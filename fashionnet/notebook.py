"""`walkthrough --notebook`: the walk as a Jupyter notebook (nbformat 4, plain JSON, no extra library).

One markdown cell per step (title and explanation in the walk's language) and one code cell with the
code exactly as shown, its output attached, so the notebook reads like the walk and runs top to bottom.
Where the step made a picture (X, the probabilities, the minibatch, the first layer's weights), a
matplotlib cell draws it, its figure attached as the PNG it drew here.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
from collections.abc import Sequence
from pathlib import Path

from fashionnet.errors import UsageError
from fashionnet.files import OutputClaim, check_output, write_bytes_atomically
from fashionnet.language import text
from fashionnet.walkthrough import Step, heading


def can_draw() -> bool:
    """Whether the notebook gets its pictures: matplotlib (the optional `plot` extra) is installed."""
    return importlib.util.find_spec("matplotlib") is not None


def check_notebook_path(path: Path, force: bool) -> OutputClaim:
    """Fail before the walk runs: an .ipynb name we may write (an existing file needs --force)."""
    path = Path(path)
    if path.suffix.lower() != ".ipynb":
        raise UsageError(f"{path}: --notebook writes Jupyter notebooks; use a name ending in .ipynb")
    return check_output(path, force)


# A name with an underscore in it (__init__, load_state_dict, named_parameters()): in markdown, bare
# underscores turn into bold or italics, so such names go in backticks, as code.
_CODE_NAME = re.compile(r"(?<![\w`])(?=[A-Za-z0-9_]*[A-Za-z])[A-Za-z0-9_]*_[A-Za-z0-9_]*(?:\(\))?(?![\w`])", re.ASCII)


def markdown_text(text: str) -> str:
    """Prose for a markdown cell: names with underscores become `code`, so they render as written."""
    return _CODE_NAME.sub(lambda m: f"`{m.group(0)}`", text)


def _lines(source: str) -> list[str]:
    # nbformat stores multi-line strings as a list of lines, each keeping its newline.
    return source.splitlines(keepends=True)


def notebook_dict(steps: Sequence[Step], seed: int) -> dict:
    """The notebook as nbformat 4 JSON data."""
    lang = steps[0].lang if steps else "en"
    cells: list[dict[str, object]] = [
        {
            "cell_type": "markdown",
            "metadata": {},
            "source": _lines(f"# {text(lang, 'notebook.title')}\n\n{text(lang, 'notebook.intro', seed=seed)}"),
        }
    ]
    for number, step in enumerate(steps, start=1):
        cells.append(
            {
                "cell_type": "markdown",
                "metadata": {},
                "source": _lines(
                    f"## {markdown_text(heading(lang, number, len(steps), step.title))}\n\n"
                    f"{markdown_text(step.explanation)}"
                ),
            }
        )
        outputs = [{"output_type": "stream", "name": "stdout", "text": _lines(step.output)}] if step.output else []
        cells.append(
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {},
                "outputs": outputs,
                "source": _lines(step.code),
            }
        )
        if step.figure is not None:
            cells.append(_figure_cell(step.figure))
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "cells": [{**cell, "id": f"cell-{i}"} for i, cell in enumerate(cells)],
    }


def _figure_cell(figure) -> dict:
    """A code cell that draws, with the figures it drew attached as Jupyter shows them (image/png)."""
    outputs = [
        {
            "output_type": "display_data",
            "metadata": {},
            "data": {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": ["<Figure>"]},
        }
        for png in figure.pngs
    ]
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": outputs,
        "source": _lines(figure.code),
    }


def write_notebook(path: Path, steps: Sequence[Step], seed: int, claim: OutputClaim | None = None) -> None:
    """Write atomically: a notebook is there whole or not at all."""
    payload = json.dumps(notebook_dict(steps, seed), ensure_ascii=False, indent=1) + "\n"
    write_bytes_atomically(Path(path), payload.encode("utf-8"), claim)
