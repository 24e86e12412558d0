"""The Typer layer: parse options, call one core function, hand the result to a renderer.

torch is imported only inside command bodies, so `fashionnet --help` never pays for it. No `from
__future__ import annotations` here: Typer would then evaluate every option's annotation from its text on
each run (about 500 compiles, a sixth of `--help`).
"""

import functools
import math
import os
import sys
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from fashionnet import SEED_MAX, __version__
from fashionnet.calibration import DEFAULT_THRESHOLD
from fashionnet.errors import ExitCode, FashionNetError, printable
from fashionnet.render.output import print_json as _print_json, print_view as _print, word as _word, wrote as _wrote
from fashionnet.runtime import import_torch as _import_torch, setup as _setup

EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 some inputs failed (the others were processed) or a file could not be "
    "read; 2 usage error (bad option, unknown or unavailable device, refused overwrite, output that cannot "
    "be written or that another run wrote meanwhile); 3 FashionMNIST missing, corrupt or incomplete "
    "(evaluate and train need the whole test split), or train's photo drawings or teacher's answers missing, "
    "corrupt or stale; "
    "4 checkpoint or ONNX file missing, corrupt, of the wrong shape or dtype, or giving outputs that are "
    "not numbers; 5 an export failed its own check; 130 interrupted; 141 stdout's reader went away."
)


class _OneLineErrors(TyperGroup):
    """Report usage errors as a single line on stderr (exit 2) instead of a usage box."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        for param in self.params:  # both answered by fashionnet.completion, for the shell named or this one
            if isinstance(param, TyperOption) and param.name in _COMPLETION_HELP:
                param.help = _COMPLETION_HELP[param.name]
        try:
            _check_completion_request()
            if _answer_completion_option(sys.argv[1:] if args is None else list(args), prog_name):
                if not standalone_mode:
                    return 0
                sys.exit(0)
            rv = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except typer.TyperException as exc:  # Typer's (vendored click's) usage and parameter errors
            if not standalone_mode:
                raise
            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else "fashionnet"
            hint = f" (see '{where} --help')" if exc.exit_code == ExitCode.USAGE else ""
            message = printable(" ".join(exc.format_message().split()))
            typer.echo(f"{printable(where)}: {_error_word(_lang_in(args))}{message}{hint}", err=True)
            sys.exit(exc.exit_code)
        except FashionNetError as exc:  # raised while printing help or usage (stdout full or gone)
            if not standalone_mode:
                raise
            if exc.exit_code != ExitCode.BROKEN_PIPE:
                typer.echo(f"{_error_word(_lang_in(args))}{printable(str(exc))}", err=True)
            sys.exit(int(exc.exit_code))
        except typer.Abort:
            if not standalone_mode:
                raise
            typer.echo(_word(_lang_in(args), "cli.interrupted"), err=True)
            sys.exit(ExitCode.INTERRUPTED)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


class _Command(TyperCommand):
    """Help in one style: every value is named by its metavar (N, FILE, DIR, PICTURE, en|zh), arguments
    included, never by Typer's type names (<int range>, <list[str]>, <path>)."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append((param.metavar or param.name.upper()) + ("..." if param.nargs != 1 else ""))
        return pieces

    def format_options(self, ctx, formatter) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                name = (param.metavar or param.name.upper()) + ("..." if param.nargs != 1 else "")
                arguments.append((name, record[1]))
            else:
                options.append(record)
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


_COMPLETION_HELP = {
    "install_completion": "Install completion for SHELL (bash, zsh, fish, pwsh) or, without one, the current shell.",
    "show_completion": "Print the completion script for SHELL or, without one, the current shell.",
}


def _answer_completion_option(args: list[str], prog_name: str | None) -> bool:
    """`--install-completion [SHELL]` / `--show-completion [SHELL]`, answered before Typer parses (its own
    options ignore the shell named); the module (and the file-writing one under it) imported only then."""
    if not any(arg.partition("=")[0] in ("--install-completion", "--show-completion") for arg in args):
        return False
    from fashionnet.completion import answer

    name = prog_name or os.path.basename(sys.argv[0])
    return answer(args, "fashionnet" if name in ("", "__main__.py") else name)


def _check_completion_request() -> None:
    """bash asks for completions with COMP_WORDS and a whole-number COMP_CWORD; anything else (run by
    hand) is one usage line, not Typer's traceback."""
    if not os.environ.get("_FASHIONNET_COMPLETE", "").startswith("complete_bash"):
        return
    cword = os.environ.get("COMP_CWORD", "")
    if "COMP_WORDS" not in os.environ or not cword.isdigit():
        from fashionnet.errors import UsageError

        raise UsageError(
            f"shell completion needs COMP_WORDS and a whole-number COMP_CWORD, as bash sets them "
            f"(COMP_CWORD is {printable(repr(cword))})"
        )


app = typer.Typer(
    cls=_OneLineErrors,
    help="Classify FashionMNIST clothing images with the PyTorch tutorial's neural network.",
    epilog=EXIT_CODES_HELP,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh and fish
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: compact at 80 columns and no rich import for --help
)


def _error_word(lang: str) -> str:
    """'error: ' before a message; after a full-width colon (Chinese) no space follows."""
    from fashionnet.language import after_colon

    return after_colon(_word(lang, "cli.error"))


def _lang_in(args) -> str:
    """The --lang a command line asks for, read before the parser has run (for its own error lines)."""
    args = list(args if args is not None else sys.argv[1:])
    for i, arg in enumerate(args):
        if arg in ("--lang", "-l") and i + 1 < len(args) and args[i + 1] in Lang.__members__:
            return args[i + 1]
        if arg.startswith("--lang=") and arg[len("--lang=") :] in Lang.__members__:
            return arg[len("--lang=") :]
    return "en"


def _fail(exc: FashionNetError, code: ExitCode | None = None, lang: str = "en") -> typer.Exit:
    from fashionnet.outside_text import for_markup
    from fashionnet.render.console import stderr_console

    code = code if code is not None else exc.exit_code
    if code != ExitCode.BROKEN_PIPE:  # the reader went away: nobody to tell, as `head` expects
        word = for_markup(_error_word(lang).rstrip(" "))
        gap = " " if _error_word(lang).endswith(" ") else ""
        stderr_console().print(f"[bold red]{word}[/]{gap}{for_markup(str(exc))}", soft_wrap=True)
    return typer.Exit(int(code))


def handle_errors(command):
    """Errors leave through one door: FashionNetError becomes one line and its exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        lang = getattr(kwargs.get("lang"), "value", "en")  # commands with --lang speak it in errors too
        try:
            result = command(*args, **kwargs)
            from fashionnet.streams import raise_if_interrupted

            raise_if_interrupted()  # a Ctrl-C whose KeyboardInterrupt Python dropped (streams.py)
            return result
        except FashionNetError as exc:
            raise _fail(exc, lang=lang) from None
        except BrokenPipeError:  # the reader went away (`... | head`): quietly, with 128 + SIGPIPE
            from fashionnet.streams import discard_output

            discard_output(sys.stdout.fileno())
            raise typer.Exit(int(ExitCode.BROKEN_PIPE)) from None
        except OSError as exc:  # a file we had to read or write, named by the system
            where = f"{exc.filename}: " if exc.filename else ""
            raise _fail(FashionNetError(f"{where}{exc.strerror or exc}"), ExitCode.INPUT_FAILED, lang) from None
        except KeyboardInterrupt:
            typer.echo(_word(lang, "cli.interrupted"), err=True)
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None

    return wrapper


# ---- options shared by every command that runs the model -------------------------------------------


def _complete_device(incomplete: str) -> list[str]:
    """Shell completion for --device; torch-free, so pressing Tab is instant."""
    return [name for name in ("auto", "cpu", "cuda", "cuda:0", "mps", "xpu") if name.startswith(incomplete)]


DeviceOption = Annotated[
    str | None,
    typer.Option(
        "--device",
        "-d",
        metavar="DEVICE",
        help="auto, cpu, cuda, cuda:N, mps or xpu. auto picks the current accelerator, else the CPU.",
        show_default="$FASHIONNET_DEVICE, else auto",  # read by fashionnet.device, which names it in errors
        autocompletion=_complete_device,
    ),
]


def _expand_user(value: Path | None) -> Path | None:
    """`~` and `~user` in a path option mean the home folder, as in --weights and predict's paths (the
    shell leaves them alone in `--out=~/m.safetensors` and in quotes)."""
    return Path(os.path.expanduser(value)) if value is not None else None


WeightsOption = Annotated[
    str | None,
    typer.Option(
        "--weights",
        "-w",
        metavar="FILE|random",
        help="A safetensors checkpoint, or 'random' for freshly initialised weights (see --seed).",
        show_default="the trained weights shipped with fashionnet",
    ),
]
OnnxWeightsOption = Annotated[
    str | None,
    typer.Option(
        "--weights",
        "-w",
        metavar="FILE|random",
        help="A safetensors checkpoint, an ONNX file from 'fashionnet export' (run with onnxruntime), or 'random'.",
        show_default="the trained weights shipped with fashionnet",
    ),
]
SeedOption = Annotated[
    int, typer.Option("--seed", metavar="N", min=0, max=SEED_MAX, help="Seed for the weights of --weights random.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts instead of tables.")]


DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        metavar="DIR",
        callback=_expand_user,
        help="Folder with the FashionMNIST *-ubyte(.gz) files.",
        show_default="$FASHIONNET_DATA, the user cache, then /usr/share/datasets/fashion-mnist",
    ),
]


# Shown in `train --help` without importing torch; tests/test_train.py checks them against train.Recipe.
RECIPE_DEFAULTS = {"epochs": 30, "batch_size": 512, "lr": 0.002}


LR_RANGE = "above 0 and at most 1000"  # the same words as train.RECIPE_RULES["lr"] (a test keeps them equal)


class RecipeName(StrEnum):
    default = "default"
    tutorial = "tutorial"
    ladder = "ladder"


class Lang(StrEnum):
    en = "en"
    zh = "zh"


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


@app.command(short_help="Model structure, shapes, parameter counts, weights.")
@handle_errors
def summary(
    device: DeviceOption = None,
    weights: WeightsOption = None,
    seed: SeedOption = 0,
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size", "-b", metavar="N", min=1, max=65536, help="Batch size for shapes, mult-adds and memory."
        ),
    ] = 1,
    depth: Annotated[
        int | None,
        typer.Option(
            "--depth",
            min=0,
            metavar="N",
            help="Show layers down to depth N; deeper ones are folded into their container's row.",
            show_default="all",
        ),
    ] = None,
    history: Annotated[
        bool,
        typer.Option(
            "--history",
            help="Also show the weights' training history, one row per epoch (in --json: under weights.metadata).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Show the model's structure and, per layer, output shape, parameters and mult-adds (as torchinfo
    does), with input, forward/backward, parameter and total memory sizes, device and weights."""
    _import_torch()
    from fashionnet.introspect import summarize, weights_dict

    dev, model, info = _setup(device, weights, seed)
    facts = summarize(model, dev, batch_size)
    if as_json:
        _print_json({**facts.to_dict(depth), "weights": weights_dict(info, history)})
        return
    from fashionnet.render.console import print_whole, stdout_console
    from fashionnet.render.summary import summary_view

    print_whole(stdout_console(), summary_view(facts, device_line=str(dev), weights_line=info.describe(), depth=depth))
    if history:
        from fashionnet.introspect import history_rows
        from fashionnet.render.training import show_history

        show_history(history_rows(info), info)


@app.command(short_help="Every named parameter: size, statistics, values.")
@handle_errors
def params(
    device: DeviceOption = None,
    weights: WeightsOption = None,
    seed: SeedOption = 0,
    name: Annotated[
        str | None,
        typer.Option("--name", "-n", metavar="PATTERN", help="Only parameters matching this glob or substring."),
    ] = None,
    rows: Annotated[
        int,
        typer.Option("--rows", metavar="N", min=1, help="Rows of each tensor to preview (the tutorial's param[:2])."),
    ] = 2,
    values: Annotated[int, typer.Option("--values", metavar="N", min=2, help="Values shown per previewed row.")] = 6,
    show: Annotated[
        bool, typer.Option("--show", help="Draw first-layer units' weights as 28x28 pictures instead of the list.")
    ] = False,
    neurons: Annotated[
        int,
        typer.Option(
            "--units",
            "--neurons",
            min=1,
            max=512,
            metavar="N",
            help="How many first-layer units --show and --plot draw (--neurons: the same).",
        ),
    ] = 8,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="FILE.png",
            callback=_expand_user,
            help="Also write those units' weight pictures as a PNG grid with a colour bar (needs matplotlib).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the --plot file if it exists.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List every named parameter: size, element count, dtype, device, statistics and a preview."""
    _import_torch()
    from fashionnet.errors import UsageError
    from fashionnet.introspect import parameter_facts

    claim = None
    if plot is not None:
        from fashionnet.plots import check_plot_path

        claim = check_plot_path(plot, force)
    _dev, model, info = _setup(device, weights, seed)
    if show or plot is not None:
        from fashionnet.introspect import first_layer_neurons
        from fashionnet.render.summary import show_neurons

        show_neurons(first_layer_neurons(model, neurons), info, show, plot, as_json, claim)
        if show:
            return
    facts = parameter_facts(model, name, rows=rows, values=values)
    if not facts:
        names = ", ".join(n for n, _ in model.named_parameters())
        raise UsageError(f"no parameter matches {name!r}; the parameters are {names}")
    if as_json:
        _print_json({"weights": info.to_dict(), "parameters": [f.to_dict() for f in facts]})
        return
    from fashionnet.render.console import print_whole, stdout_console
    from fashionnet.render.summary import params_view

    typer.echo(f"Weights: {info.describe()}", err=True)
    print_whole(stdout_console(), params_view(facts, rows, info.standardisation()))


@app.command(short_help="The tutorial's layer-by-layer walk, live (en/zh).")
@handle_errors
def walkthrough(
    lang: Annotated[
        Lang, typer.Option("--lang", "-l", metavar="en|zh", help="Language of the explanations.")
    ] = Lang.en,
    seed: Annotated[
        int, typer.Option("--seed", metavar="N", min=0, max=SEED_MAX, help="Seed for the random images and weights.")
    ] = 0,
    step: Annotated[int | None, typer.Option("--step", "-s", metavar="N", help="Show only step N (1-based).")] = None,
    interactive: Annotated[
        bool, typer.Option("--interactive", "-i", help="Wait for Enter between steps (terminals only).")
    ] = False,
    real: Annotated[
        bool, typer.Option("--real", help="Use real FashionMNIST test images and the trained weights.")
    ] = False,
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            metavar="FILE",
            help="Run the steps on your own picture (any format predict reads) with "
            "the trained weights, instead of torch.rand.",
        ),
    ] = None,
    device: DeviceOption = None,
    weights: Annotated[
        str | None,
        typer.Option(
            "--weights",
            "-w",
            metavar="FILE|random",
            help="A safetensors checkpoint, or 'random'.",
            show_default="random, as in the tutorial; the shipped weights with --real or --image",
        ),
    ] = None,
    data_dir: DataDirOption = None,
    notebook: Annotated[
        Path | None,
        typer.Option(
            "--notebook",
            metavar="FILE.ipynb",
            callback=_expand_user,
            help="Also write the walk as a Jupyter notebook that runs top to bottom.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the --notebook file if it exists.")] = False,
) -> None:
    """Walk through the tutorial's code, block by block, with its real output computed live."""
    from fashionnet.walkthrough import build_steps, check_step

    check_step(step, lang.value)  # fail before any heavy work
    claim = None
    if notebook is not None:
        from fashionnet.notebook import check_notebook_path

        claim = check_notebook_path(notebook, force)
        # Jupyter runs a notebook from the notebook's own folder: the paths in its code must not depend on ours.
        if weights is not None and weights.strip() and weights != "random":
            weights = os.path.abspath(os.path.expanduser(weights))
        data_dir = Path(os.path.abspath(data_dir)) if data_dir is not None else None
        if image is not None and image != "-":
            image = os.path.abspath(os.path.expanduser(image))
    if image is not None:
        from fashionnet.walkthrough import check_image

        image = image if image == "-" else os.path.expanduser(image)
        check_image(image, real)  # an unreadable picture is exit 1, before torch is imported
    test_size = 0
    if real:
        from fashionnet import data as data_mod

        test_size = len(data_mod.load_split("test", data_dir).labels)  # a missing data set fails here (exit 3)
    elif weights is None and image is None:
        weights = "random"  # the tutorial itself runs an untrained model
    dev, _model, info = _setup(device, weights, seed)
    from fashionnet.render.console import stdout_console
    from fashionnet.render.walkthrough import show_walkthrough

    console = stdout_console()
    figures = False
    if notebook is not None:
        from fashionnet.notebook import can_draw

        figures = can_draw()
        if not figures:
            typer.echo("The notebook has no pictures: they need matplotlib (pip install 'fashionnet[plot]')", err=True)
    steps = build_steps(
        dev,
        info,
        lang=lang.value,
        seed=seed,
        real=real,
        data_dir=data_dir,
        width=console.width,
        test_size=test_size,
        image=image,
        figures=figures,
    )
    if notebook is not None:
        from fashionnet.notebook import write_notebook

        write_notebook(notebook, steps, seed, claim)
        _wrote(notebook, lang.value)
    show_walkthrough(console, steps, only=step, interactive=interactive)


@app.command(short_help="Where FashionMNIST is and whether it is complete.")
@handle_errors
def data(
    data_dir: DataDirOption = None,
    download: Annotated[
        bool, typer.Option("--download", help="Download the official files into the user cache (needs internet).")
    ] = False,
    samples: Annotated[
        bool,
        typer.Option(
            "--samples",
            help="Only print the folder of the sample pictures that ship with fashionnet (photos/ inside it).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Show where FashionMNIST was found, its files, and the number of images per split and class."""
    from fashionnet import data as data_mod
    from fashionnet.errors import DataError, UsageError

    if samples:
        if download or data_dir is not None:
            other = "--download" if download else "--data-dir"
            raise UsageError(f"--samples only prints a folder; it does nothing with {other}")
        folders = _sample_folders()
        if as_json:
            _print_json({"samples": folders[0], "photos": folders[1]})
        else:
            typer.echo(printable(folders[0]))
        return
    if download:
        typer.echo(f"Downloading FashionMNIST into {data_mod.cache_dir()} ...", err=True)
        data_mod.download()
    report = data_mod.inspect_data(data_dir)
    if as_json:
        _print_json(report.to_dict())
    else:
        from fashionnet.render.training import data_view

        _print(data_view(report))
    if report.folder is None:
        raise DataError(f"FashionMNIST not found; {data_mod.HOW_TO_GET}")
    if not report.complete:
        raise DataError(f"{report.folder}: FashionMNIST is incomplete ({'; '.join(report.problems)})")


@app.command(short_help="Train the network on FashionMNIST and photo drawings.")
@handle_errors
def train(
    recipe_name: Annotated[
        RecipeName,
        typer.Option(
            "--recipe",
            metavar="default|tutorial|ladder",
            help="tutorial: the PyTorch tutorial's own "
            "training (SGD, plain cross-entropy), printed as the page prints it, then a table "
            "against the shipped weights. ladder: from the tutorial's recipe to the shipped one, one change "
            "at a time, each measured (saves nothing).",
        ),
    ] = RecipeName.default,
    epochs: Annotated[
        int | None,
        typer.Option(
            "--epochs",
            "-e",
            metavar="N",
            min=1,
            help="Epochs to train.",
            show_default=f"{RECIPE_DEFAULTS['epochs']}; tutorial: 10",
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            "-b",
            metavar="N",
            min=1,
            help="Images per step.",
            show_default=f"{RECIPE_DEFAULTS['batch_size']}; tutorial: 64",
        ),
    ] = None,
    lr: Annotated[
        float | None,
        typer.Option(
            "--lr",
            metavar="LR",
            help=f"Peak learning rate, {LR_RANGE}.",
            show_default=f"{RECIPE_DEFAULTS['lr']}; tutorial: 0.001",
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            metavar="N",
            min=0,
            max=SEED_MAX,
            help="Seed for initial weights, shuffling and flips.",
            show_default="0; with --resume, the checkpoint's",
        ),
    ] = None,
    device: DeviceOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="FILE",
            callback=_expand_user,
            help="Checkpoint to write after every epoch.",
            show_default="checkpoints/fashionnet.safetensors; tutorial: checkpoints/tutorial.safetensors",
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume",
            metavar="FILE",
            callback=_expand_user,
            help="Continue training from this checkpoint (default recipe).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite --out and --plot if they exist (the shipped weights included).")
    ] = False,
    save_optimizer: Annotated[
        bool,
        typer.Option("--optimizer-state/--no-optimizer-state", help="Store optimizer state so --resume can continue."),
    ] = True,
    limit: Annotated[
        int | None, typer.Option("--limit", metavar="N", min=1, help="Train on the first N images only (quick trials).")
    ] = None,
    data_dir: DataDirOption = None,
    photos: Annotated[
        Path | None,
        typer.Option(
            "--photos",
            metavar="FILE.npz",
            callback=_expand_user,
            help="Photo drawings to mix into every batch (made by tools/make_drawings.py in fashionnet's source).",
            show_default="the shipped fashionnet/drawings/photo-drawings.npz",
        ),
    ] = None,
    no_photos: Annotated[
        bool, typer.Option("--no-photos", help="Train on FashionMNIST alone, without the photo drawings.")
    ] = False,
    teacher: Annotated[
        Path | None,
        typer.Option(
            "--teacher",
            metavar="FILE.npz",
            callback=_expand_user,
            help="The distillation teacher's answers to learn from (made by tools/make_teacher_targets.py).",
            show_default="the shipped fashionnet/drawings/teacher-targets.npz",
        ),
    ] = None,
    no_teacher: Annotated[
        bool, typer.Option("--no-teacher", help="Learn from the labels alone, without the teacher's answers.")
    ] = False,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="FILE.png",
            callback=_expand_user,
            help="Also draw the learning curves as a PNG "
            "(needs matplotlib); with --recipe tutorial, both recipes' test curves on one chart.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or per-epoch lines.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Train the tutorial's network on FashionMNIST and real photo drawings; save a checkpoint every epoch.

    The network learns from the labels, the photo drawings and the answers of a small CNN teacher, which
    ship with fashionnet (docs/training.md in fashionnet's source). The train loss it reports is what it
    minimises (a mix of those); the test loss is the plain cross-entropy that evaluate reports."""
    _import_torch()
    from fashionnet import train as training
    from fashionnet.render.console import stderr_console

    plot_claim = None
    if plot is not None:
        from fashionnet.plots import check_plot_path

        plot_claim = check_plot_path(plot, force)
    if recipe_name is RecipeName.ladder:
        given = [
            name
            for name, value in (
                ("--batch-size", batch_size),
                ("--lr", lr),
                ("--out", out),
                ("--resume", resume),
                ("--photos", photos),
                ("--no-photos", no_photos),
                ("--teacher", teacher),
                ("--no-teacher", no_teacher),
                ("--plot", plot),
            )
            if value
        ]
        if given:
            from fashionnet.errors import UsageError

            raise UsageError(
                f"{', '.join(given)}: not with --recipe ladder, whose rungs set their own recipe "
                "and save nothing (--epochs, --seed, --limit and --data-dir apply)"
            )
        from fashionnet.ladder import run_ladder
        from fashionnet.render.training import show_ladder

        show_ladder(
            run_ladder(
                epochs,
                seed,
                device,
                limit,
                data_dir,
                note=None if quiet else functools.partial(typer.echo, err=True),
                chatty=not as_json,
            ),
            as_json,
        )
        return
    if recipe_name is RecipeName.tutorial:
        if photos is not None or no_photos or teacher is not None or no_teacher:
            from fashionnet.errors import UsageError

            raise UsageError(
                "--photos, --no-photos, --teacher and --no-teacher belong to the default recipe; "
                "the tutorial's recipe trains on FashionMNIST alone"
            )
        if resume is not None:
            from fashionnet.errors import UsageError

            raise UsageError("--resume continues the default recipe; the tutorial recipe always starts afresh")
        from fashionnet.render.training import show_tutorial_run
        from fashionnet.tutorial_recipe import run_tutorial

        note = None if quiet else functools.partial(typer.echo, err=True)
        say = typer.echo if not (quiet or as_json) else None
        tutorial = run_tutorial(epochs, batch_size, lr, seed, device, out, force, limit, data_dir, note=note, say=say)
        show_tutorial_run(tutorial, plot, plot_claim, as_json)
        return
    run = training.prepare_training(
        resume,
        photos,
        no_photos,
        seed,
        device,
        data_dir,
        limit,
        out,
        force,
        teacher,
        no_teacher,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
    )
    if not quiet:
        typer.echo(f"Using {run.device} device", err=True)
    from fashionnet.render.training import ProgressReporter, loss_parts, show_training, training_intro

    smoothing, distill, photo_weight = loss_parts(run.recipe)
    parts = (smoothing, distill, photo_weight if run.photo_set is not None else 0.0)  # what the train loss is made of
    if quiet or as_json:
        result = run.fit(None, save_optimizer)
    else:
        training_intro(run, parts)
        with ProgressReporter(stderr_console(), smoothed=any(parts)) as reporter:
            result = run.fit(reporter, save_optimizer)
    show_training(run, result, parts, plot, plot_claim, quiet, as_json)


@app.command(short_help="Accuracy, per-class scores, confusion matrix.")
@handle_errors
def evaluate(
    device: DeviceOption = None,
    weights: OnnxWeightsOption = None,
    seed: SeedOption = 0,
    data_dir: DataDirOption = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="FILE.png",
            callback=_expand_user,
            help="Also write the confusion matrix (log "
            "colour scale), or with --mistakes the pictures, as a PNG (needs matplotlib).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --plot if it exists.")] = False,
    mistakes: Annotated[
        bool,
        typer.Option(
            "--mistakes",
            help="Show the misclassified test images as pictures (true → predicted, probability), surest first.",
        ),
    ] = False,
    only: Annotated[
        str | None,
        typer.Option(
            "--class",
            metavar="CLASS",
            help="With --mistakes: only images of this true class (its name, the start of it, or 0-9).",
        ),
    ] = None,
    taken_for: Annotated[
        str | None,
        typer.Option(
            "--predicted",
            metavar="CLASS",
            help="With --mistakes: only images taken for this class (with --class: one cell of the confusion matrix).",
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit", metavar="N", min=1, help="With --mistakes: how many pictures to show.", show_default="12"
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Measure accuracy and loss (the plain cross-entropy of the raw logits) on the 10,000 test images, per
    class, with the confusion matrix; or, with --mistakes, show the images the model gets wrong."""
    _import_torch()
    from fashionnet import data as data_mod
    from fashionnet.errors import UsageError

    true_class = _class_option(only)
    predicted_class = _class_option(taken_for, "--predicted")
    if not mistakes and (only is not None or limit is not None or taken_for is not None):
        raise UsageError("--class, --predicted and --limit go with --mistakes")
    claim = None
    if plot is not None:
        from fashionnet.plots import check_plot_path

        claim = check_plot_path(plot, force)
    test = data_mod.load_split("test", data_dir, official=True)
    dev, model, info = _setup(device, weights, seed, onnx=True)
    if mistakes:
        from fashionnet.evaluate import mistake_report
        from fashionnet.render.training import show_mistakes

        report = mistake_report(
            test,
            model,
            dev,
            info,
            true_class,
            12 if limit is None else limit,
            accuracy=as_json,
            predicted_class=predicted_class,
        )
        show_mistakes(report, true_class, dev, info, plot, claim, as_json)
        return
    from fashionnet.evaluate import evaluate_weights
    from fashionnet.render.training import show_evaluation

    show_evaluation(evaluate_weights(model, test, dev, info), dev, info, plot, claim, as_json)


def _class_option(name: str | None, option: str = "--class") -> int | None:
    from fashionnet import CLASSES, class_index

    if name is None:
        return None
    index = class_index(name)
    if index is None:
        from fashionnet.errors import UsageError

        names = ", ".join(f"{i} {c}" for i, c in enumerate(CLASSES))
        raise UsageError(f"{option} {printable(name)!r} names no single class; choose one of {names}")
    return index


def _probability(value: float) -> float:
    """A number from 0 to 1; NaN is refused by name (every comparison with it is false, so a range check
    alone would call it too large)."""
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise typer.BadParameter(f"{value} is not a number from 0 to 1")
    return value


class Invert(StrEnum):
    auto = "auto"
    yes = "yes"
    no = "no"


@app.command(
    epilog="Exit codes: 0 every input was classified; 1 some inputs failed (the others were "
    "still classified); 2 usage error; 4 bad checkpoint or ONNX file; 130 interrupted; 141 stdout's "
    "reader went away.",
    short_help="Classify image files.",
)
@handle_errors
def predict(
    paths: Annotated[
        list[str] | None,
        typer.Argument(metavar="PATH", help="Image files, folders, glob patterns, or - for stdin.", show_default=False),
    ] = None,
    samples: Annotated[
        bool,
        typer.Option(
            "--samples",
            help="Also classify the pictures that ship with fashionnet: ten FashionMNIST test images and "
            "six photos (their folder: fashionnet data --samples).",
        ),
    ] = False,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Look inside sub-folders too.")] = False,
    top_k: Annotated[
        int, typer.Option("--top-k", "-k", metavar="N", min=1, max=10, help="How many classes to show per image.")
    ] = 3,
    show: Annotated[
        bool, typer.Option("--show", help="Draw the 28x28 image the model saw next to each result.")
    ] = False,
    invert: Annotated[
        Invert,
        typer.Option("--invert", metavar="auto|yes|no", help="Negate the image: auto detects dark-on-light pictures."),
    ] = Invert.auto,
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines on stdout: one object per input.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout: one row per input.")] = False,
    threshold: Annotated[
        float,
        typer.Option(
            "--threshold",
            metavar="P",
            callback=_probability,
            help="Calibrated top probability (0 "
            "to 1) below which an answer is 'not sure' (a picture with no garment found is never "
            "sure).",
        ),
    ] = DEFAULT_THRESHOLD,
    device: DeviceOption = None,
    weights: OnnxWeightsOption = None,
    seed: SeedOption = 0,
) -> None:
    """Classify image files: photos, product shots or FashionMNIST PNGs, of any size."""
    from fashionnet.decoding import start_decoding
    from fashionnet.errors import UsageError
    from fashionnet.inputs import collect_inputs
    from fashionnet.predict import CPU_THREADS, predict_decoded
    from fashionnet.render.predict import emit_predictions

    if as_json and as_csv:
        raise UsageError("choose one of --json and --csv")
    if show and (as_json or as_csv):
        raise UsageError(
            f"--show draws pictures in the terminal view; it does nothing with {'--json' if as_json else '--csv'}"
        )
    if not paths and not samples:
        raise UsageError("give at least one PATH (an image, a folder, a glob pattern or - for stdin), or --samples")
    items = collect_inputs([*(paths or []), *(_sample_folders() if samples else [])], recursive)
    flip = {Invert.auto: None, Invert.yes: True, Invert.no: False}[invert]
    # Decoder processes start before torch is imported, so decoding overlaps the ~2 s import.
    with start_decoding(items, flip) as decoding:
        dev, model, info = _setup(device, weights, seed, onnx=True, cpu_threads=CPU_THREADS)
        if not (as_json or as_csv):
            typer.echo(f"Weights: {info.describe()}", err=True)
        results = predict_decoded(
            decoding, model, device=dev, top_k=top_k, temperature=info.temperature, threshold=threshold
        )
        failed = emit_predictions(results, len(items), as_json, as_csv, show)
    if failed:
        raise typer.Exit(int(ExitCode.INPUT_FAILED))


def _sample_folders() -> list[str]:
    from fashionnet import SAMPLES_DIR

    return [str(SAMPLES_DIR), str(SAMPLES_DIR / "photos")]


@app.command(short_help="One picture through the trained network, layer by layer (en/zh).")
@handle_errors
def explain(
    picture: Annotated[
        str | None,
        typer.Argument(
            metavar="[PICTURE]", help="An image file in any format predict reads, or - for stdin.", show_default=False
        ),
    ] = None,
    test_index: Annotated[
        int | None,
        typer.Option(
            "--test-index",
            metavar="N",
            min=0,
            help="Explain FashionMNIST test image N instead of a file (evaluate --mistakes lists them).",
        ),
    ] = None,
    data_dir: DataDirOption = None,
    show: Annotated[
        bool, typer.Option("--show", help="Also draw a photo's garment mask (or say why there is none).")
    ] = False,
    units: Annotated[
        int,
        typer.Option(
            "--units", metavar="N", min=1, max=16, help="Units drawn per hidden layer: those the picture drove hardest."
        ),
    ] = 3,
    invert: Annotated[
        Invert,
        typer.Option("--invert", metavar="auto|yes|no", help="Negate the image: auto detects dark-on-light pictures."),
    ] = Invert.auto,
    lang: Annotated[
        Lang, typer.Option("--lang", "-l", metavar="en|zh", help="Language of the explanations.")
    ] = Lang.en,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="FILE.png",
            callback=_expand_user,
            help="Also write the whole explanation as one PNG (needs matplotlib; English).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the --plot file if it exists.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the same figures as one JSON object (pictures as 28x28 lists).")
    ] = False,
    device: DeviceOption = None,
    weights: WeightsOption = None,
    seed: SeedOption = 0,
) -> None:
    """Show what the trained network does with one picture: the 28x28 it sees, how many ReLU units fire in
    each hidden layer and which pixels drove the strongest, the 10 logits, the raw and the calibrated
    softmax side by side, and which pixels pushed the top class up or down."""
    from fashionnet.decoding import start_decoding
    from fashionnet.errors import UsageError
    from fashionnet.explain import one_input

    if (picture is None) == (test_index is None):
        raise UsageError("give one PICTURE, or --test-index N for a FashionMNIST test image")
    if data_dir is not None and test_index is None:
        raise UsageError("--data-dir goes with --test-index")
    if as_json and (show or lang is not Lang.en):  # as predict refuses --show with --json
        given = "--show draws the mask in the terminal view" if show else "--lang sets the explanations' language"
        raise UsageError(f"{given}; it does nothing with --json")
    claim = None
    if plot is not None:
        from fashionnet.plots import check_plot_path

        claim = check_plot_path(plot, force)
    if test_index is not None:
        from fashionnet.explain import test_picture

        name, view = test_picture(test_index, data_dir)
        dev, model, info = _setup(device, weights, seed)
    else:
        assert picture is not None  # one of PICTURE and --test-index, checked above
        item = one_input(picture, sys.stdin.buffer if picture == "-" else None)
        flip = {Invert.auto: None, Invert.yes: True, Invert.no: False}[invert]
        # The path predict takes: decoding starts before torch is imported (a photo's GrabCut overlaps it).
        with start_decoding([item], flip) as decoding:
            dev, model, info = _setup(device, weights, seed)
            decoded = next(iter(decoding))
        from fashionnet.explain import view_of_decoded

        name, view = item.path, view_of_decoded(decoded)
    from fashionnet.explain import explain as run_explain
    from fashionnet.render.explain import show_explanation

    result = run_explain(name, view, model, dev, info, units=units)
    show_explanation(result, dev, info, lang.value, show, plot, claim, as_json)


class ExportFormat(StrEnum):
    onnx = "onnx"
    torchscript = "torchscript"
    safetensors = "safetensors"


@app.command(
    epilog="Exit codes: 0 written and checked; 2 usage error (bad option, a --format that contradicts "
    "--out's suffix, missing onnx/onnxruntime, refused overwrite, output that cannot be written, e.g. a full "
    "disk); 4 bad checkpoint; 5 the export failed its own check or --half cannot hold the weights (nothing "
    "was written); 130 interrupted; 141 stdout's reader went away.",
    short_help="Export to ONNX, TorchScript or safetensors.",
)
@handle_errors
def export(
    fmt: Annotated[
        ExportFormat | None,
        typer.Option(
            "--format",
            "-f",
            metavar="onnx|torchscript|safetensors",
            help="File format.",
            show_default="from --out's suffix, else onnx",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="FILE",
            callback=_expand_user,
            help="File to write.",
            show_default="fashionnet.onnx / .pt / .safetensors",
        ),
    ] = None,
    device: DeviceOption = None,
    weights: WeightsOption = None,
    seed: SeedOption = 0,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            "-b",
            metavar="N",
            min=1,
            max=65536,
            help="Fix the ONNX input's batch size.",
            show_default="any",
        ),
    ] = None,
    opset: Annotated[
        int | None, typer.Option("--opset", metavar="N", help="ONNX opset version (9-20).", show_default="17")
    ] = None,
    half: Annotated[
        bool, typer.Option("--half", help="Store float16 weights (half the size); input and output stay float32.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace --out if it exists.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Export the model to ONNX, TorchScript or safetensors, then check the file against PyTorch.

    The exported model takes float32 [N, 28, 28] in [0, 1] and returns logits; class names, input
    normalisation and test accuracy are stored in the file. A file whose outputs differ from PyTorch's by
    more than 1e-4 (2e-2 with --half) is not kept.
    """
    _import_torch()
    from fashionnet import export as exporting

    name = exporting.format_for(fmt.value if fmt else None, out)
    out_path = out if out is not None else Path("fashionnet" + exporting.SUFFIXES[name])
    exporting.check_options(name, batch_size, opset)  # fail before loading anything
    from fashionnet.files import check_output

    check_output(out_path, force)
    dev, model, info = _setup(device, weights, seed)
    report = exporting.export_model(model, info, name, out_path, dev, batch_size, opset, half, force)
    if as_json:
        _print_json(report.to_dict())
        return
    from fashionnet.render.export import export_view

    _print(export_view(report))


def run() -> int | str | None:
    """One command line (sys.argv), as the installed command runs it, returning its exit code instead of
    leaving: tests run several in one process this way."""
    from fashionnet.startup import check_current_folder, import_torch_from_a_short_path
    from fashionnet.streams import finish_streams, prepare_streams

    try:  # once, for every command: closed standard streams and a deleted current folder
        prepare_streams()
        check_current_folder()
    except SystemExit as done:
        return done.code
    import_torch_from_a_short_path()
    try:
        try:
            app()
        finally:
            finish_streams()
    except SystemExit as done:  # every way the app ends, with its exit code
        return done.code
    return 0


def main() -> None:
    """The installed command: run, then leave without the interpreter's teardown (fashionnet.startup)."""
    from fashionnet.startup import exit_now

    exit_now(run())


# Exit codes of each command, in its --help (predict and export state theirs beside their decorators).
_INTERRUPTED = "130 interrupted; 141 stdout's reader went away."
EXIT_CODES = {
    "summary": f"Exit codes: 0 success; 2 usage error (bad option, unknown or unavailable device); 4 checkpoint "
    f"missing, corrupt or of the wrong shape; {_INTERRUPTED}",
    "params": f"Exit codes: 0 success; 2 usage error (bad option, no parameter matches --name, refused "
    f"overwrite); 4 bad checkpoint; {_INTERRUPTED}",
    "walkthrough": f"Exit codes: 0 success; 1 the --image picture could not be read; 2 usage error (bad option, "
    f"refused overwrite); 3 FashionMNIST missing or corrupt (--real); 4 bad checkpoint; {_INTERRUPTED}",
    "data": f"Exit codes: 0 FashionMNIST found and complete (with --samples: the folder printed); 2 usage error; "
    f"3 FashionMNIST missing, incomplete or corrupt; {_INTERRUPTED}",
    "train": "Exit codes: 0 trained and saved; 1 a file could not be read; 2 usage error (bad option, refused "
    "overwrite, output that cannot be written); 3 FashionMNIST missing or corrupt, or the photo "
    "drawings (--photos) missing, corrupt or stale; 4 bad --resume "
    "checkpoint; 130 interrupted (the last finished epoch is kept); 141 stdout's reader went away.",
    "evaluate": f"Exit codes: 0 success; 2 usage error (bad option, refused overwrite); 3 FashionMNIST missing "
    f"or corrupt; 4 bad checkpoint or ONNX file; {_INTERRUPTED}",
    "explain": f"Exit codes: 0 success; 1 the picture could not be read; 2 usage error (bad option, a folder or "
    f"several files, refused overwrite); 4 bad checkpoint; {_INTERRUPTED}",
}


def _finish_commands() -> None:
    """Every command gets the one help style (_Command) and its exit codes under its options."""
    for info in app.registered_commands:
        if info.cls in (None, TyperCommand):
            info.cls = _Command
        if info.epilog is None:
            info.epilog = EXIT_CODES[info.name or (info.callback.__name__ if info.callback is not None else "")]


_finish_commands()
