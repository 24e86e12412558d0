"""The Typer layer: parse options, call one core function, hand the result to a renderer.

`app` and the doors every command line goes through live in `cli/typer_app.py`, the options several commands
share in `cli/options.py`, and the commands in three rooms: `inspecting` (summary, params, walkthrough),
`training` (data, train, evaluate) and `using` (predict, explain, export), registered in that order, the
order `--help` lists them. torch is imported only inside command bodies, so `fashionnet --help` never
pays for it.
"""

from fashionnet.cli import inspecting, training, using  # noqa: F401 - importing them registers their commands
from fashionnet.cli.options import LR_RANGE, RECIPE_DEFAULTS, Lang
from fashionnet.cli.typer_app import app, finish_commands, main, run

finish_commands()

__all__ = ["LR_RANGE", "RECIPE_DEFAULTS", "Lang", "app", "main", "run"]
