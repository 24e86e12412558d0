"""The Typer layer: parse options, call one core function, hand the result to a renderer.

torch is imported only inside command bodies, so `fashionnet --help` never pays for it.
"""

from __future__ import annotations

import functools
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from fashionnet import __version__
from fashionnet.errors import ExitCode, FashionNetError

EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 some inputs failed (the others were processed); 2 usage error "
    "(bad option, unknown or unavailable device, refused overwrite); 3 FashionMNIST missing or corrupt; "
    "4 checkpoint missing, corrupt or of the wrong shape; 130 interrupted."
)


class _OneLineErrors(TyperGroup):
    """Report usage errors as a single line on stderr (exit 2) instead of a usage box."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(
                args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False, **extra
            )
        except typer.TyperException as exc:  # Typer's (vendored click's) usage and parameter errors
            if not standalone_mode:
                raise
            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else "fashionnet"
            hint = f" (see '{where} --help')" if exc.exit_code == ExitCode.USAGE else ""
            message = " ".join(exc.format_message().split())
            typer.echo(f"{where}: error: {message}{hint}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            if not standalone_mode:
                raise
            typer.echo("Interrupted.", err=True)
            sys.exit(ExitCode.INTERRUPTED)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
    help="Classify FashionMNIST clothing images with the PyTorch tutorial's neural network.",
    epilog=EXIT_CODES_HELP,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _fail(exc: FashionNetError) -> typer.Exit:
    from rich.markup import escape

    from fashionnet.render.console import stderr_console

    stderr_console().print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
    return typer.Exit(int(exc.exit_code))


def handle_errors(command):
    """Errors leave through one door: FashionNetError becomes one line and its exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except FashionNetError as exc:
            raise _fail(exc) from None
        except KeyboardInterrupt:
            typer.echo("Interrupted.", err=True)
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None

    return wrapper


# ---- options shared by every command that runs the model -------------------------------------------

DeviceOption = Annotated[
    Optional[str],
    typer.Option(
        "--device",
        "-d",
        envvar="FASHIONNET_DEVICE",
        help="auto, cpu, cuda, cuda:N, mps or xpu. auto picks the current accelerator, else the CPU.",
        show_default="auto",
    ),
]
WeightsOption = Annotated[
    Optional[str],
    typer.Option(
        "--weights",
        "-w",
        help="A safetensors checkpoint, or 'random' for freshly initialised weights (see --seed).",
        show_default="the trained weights shipped with fashionnet",
    ),
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed for random weights and random inputs.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts instead of tables.")]


class Lang(str, Enum):
    en = "en"
    zh = "zh"


def _setup(device: str | None, weights: str | None, seed: int, quiet: bool = False):
    """Select the device and load the model once, for any command; reports the device on stderr."""
    from fashionnet.device import select_device
    from fashionnet.weights import load_model

    dev = select_device(device)
    if not quiet:
        typer.echo(f"Using {dev} device", err=True)
    model, info = load_model(weights, seed=seed, device=dev)
    return dev, model, info


def _print_json(obj) -> None:
    typer.echo(json.dumps(obj, indent=2))


def _print(renderable) -> None:
    from fashionnet.render.console import stdout_console

    stdout_console().print(renderable)


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", help="Show the version and exit.")] = False,
) -> None:
    if version:
        typer.echo(f"fashionnet {__version__}")
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit()


@app.command()
@handle_errors
def summary(
    device: DeviceOption = None,
    weights: WeightsOption = None,
    seed: SeedOption = 0,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b", min=1, max=65536, help="Batch size for the shapes.")] = 1,
    as_json: JsonOption = False,
) -> None:
    """Show the model's structure, each layer's output shape, parameter counts, device and weights."""
    from fashionnet.introspect import summarize

    dev, model, info = _setup(device, weights, seed)
    facts = summarize(model, dev, batch_size)
    if as_json:
        _print_json({**facts.to_dict(), "weights": info.to_dict()})
        return
    from fashionnet.render.summary import summary_view

    _print(summary_view(facts, device_line=f"Using {dev} device", weights_line=info.describe()))


@app.command()
@handle_errors
def params(
    device: DeviceOption = None,
    weights: WeightsOption = None,
    seed: SeedOption = 0,
    name: Annotated[Optional[str], typer.Option("--name", "-n", help="Only parameters matching this glob or substring.")] = None,
    rows: Annotated[int, typer.Option("--rows", min=1, help="Rows of each tensor to preview (the tutorial's param[:2]).")] = 2,
    values: Annotated[int, typer.Option("--values", min=2, help="Values shown per previewed row.")] = 6,
    as_json: JsonOption = False,
) -> None:
    """List every named parameter: size, element count, dtype, device, statistics and a preview."""
    from fashionnet.errors import UsageError
    from fashionnet.introspect import parameter_facts

    _dev, model, info = _setup(device, weights, seed)
    facts = parameter_facts(model, name, rows=rows, values=values)
    if not facts:
        names = ", ".join(n for n, _ in model.named_parameters())
        raise UsageError(f"no parameter matches {name!r}; the parameters are {names}")
    if as_json:
        _print_json({"weights": info.to_dict(), "parameters": [f.to_dict() for f in facts]})
        return
    from fashionnet.render.summary import params_view

    typer.echo(f"Weights: {info.describe()}", err=True)
    _print(params_view(facts, rows))


def main() -> None:
    app()
