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

from fashionnet import SEED_MAX, __version__
from fashionnet.calibration import DEFAULT_THRESHOLD
from fashionnet.errors import ExitCode, FashionNetError, printable

EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 some inputs failed (the others were processed) or a file could not be "
    "read; 2 usage error (bad option, unknown or unavailable device, refused overwrite, output that cannot "
    "be written); 3 FashionMNIST or the photo drawings missing or corrupt; "
    "4 checkpoint missing, corrupt or of the wrong shape; 5 an export failed its own check; 130 interrupted; "
    "141 stdout's reader went away."
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
            message = printable(" ".join(exc.format_message().split()))
            typer.echo(f"{printable(where)}: error: {message}{hint}", err=True)
            sys.exit(exc.exit_code)
        except FashionNetError as exc:  # raised while printing help or usage (stdout full or gone)
            if not standalone_mode:
                raise
            if exc.exit_code != ExitCode.BROKEN_PIPE:
                typer.echo(f"error: {printable(str(exc))}", err=True)
            sys.exit(int(exc.exit_code))
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
    add_completion=True,  # --install-completion / --show-completion for bash, zsh and fish
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: compact at 80 columns and no rich import for --help
)


def _fail(exc: FashionNetError, code: ExitCode | None = None) -> typer.Exit:
    from rich.markup import escape

    from fashionnet.render.console import stderr_console

    code = code if code is not None else exc.exit_code
    if code != ExitCode.BROKEN_PIPE:  # the reader went away: nobody to tell, as `head` expects
        stderr_console().print(f"[bold red]error:[/] {escape(printable(str(exc)))}", soft_wrap=True)
    return typer.Exit(int(code))


def handle_errors(command):
    """Errors leave through one door: FashionNetError becomes one line and its exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except FashionNetError as exc:
            raise _fail(exc) from None
        except BrokenPipeError:  # the reader went away (`... | head`): quietly, with 128 + SIGPIPE
            from fashionnet.streams import discard_output

            discard_output(sys.stdout.fileno())
            raise typer.Exit(int(ExitCode.BROKEN_PIPE)) from None
        except OSError as exc:  # a file we had to read or write, named by the system
            where = f"{exc.filename}: " if exc.filename else ""
            raise _fail(FashionNetError(f"{where}{exc.strerror or exc}"), ExitCode.INPUT_FAILED) from None
        except KeyboardInterrupt:
            typer.echo("Interrupted.", err=True)
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None

    return wrapper


# ---- options shared by every command that runs the model -------------------------------------------


def _complete_device(incomplete: str) -> list[str]:
    """Shell completion for --device; torch-free, so pressing Tab is instant."""
    return [name for name in ("auto", "cpu", "cuda", "cuda:0", "mps", "xpu") if name.startswith(incomplete)]


DeviceOption = Annotated[
    Optional[str],
    typer.Option(
        "--device",
        "-d",
        metavar="DEVICE",
        envvar="FASHIONNET_DEVICE",
        help="auto, cpu, cuda, cuda:N, mps or xpu. auto picks the current accelerator, else the CPU.",
        show_default="auto",
        autocompletion=_complete_device,
    ),
]
WeightsOption = Annotated[
    Optional[str],
    typer.Option(
        "--weights",
        "-w",
        metavar="FILE|random",
        help="A safetensors checkpoint, or 'random' for freshly initialised weights (see --seed).",
        show_default="the trained weights shipped with fashionnet",
    ),
]
OnnxWeightsOption = Annotated[
    Optional[str],
    typer.Option(
        "--weights",
        "-w",
        metavar="FILE|random",
        help="A safetensors checkpoint, an ONNX file from 'fashionnet export' (run with onnxruntime), or 'random'.",
        show_default="the trained weights shipped with fashionnet",
    ),
]
SeedOption = Annotated[int, typer.Option("--seed", metavar="N", min=0, max=SEED_MAX, help="Seed for the weights of --weights random.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts instead of tables.")]


DataDirOption = Annotated[
    Optional[Path],
    typer.Option(
        "--data-dir",
        metavar="DIR",
        help="Folder with the FashionMNIST *-ubyte(.gz) files.",
        show_default="$FASHIONNET_DATA, the user cache, then /usr/share/datasets/fashion-mnist",
    ),
]
PlotOption = Annotated[Optional[Path], typer.Option("--plot", help="Also write a PNG picture (needs matplotlib).")]


# Shown in `train --help` without importing torch; tests/test_train.py checks them against train.Recipe.
RECIPE_DEFAULTS = {"epochs": 30, "batch_size": 512, "lr": 0.002, "teacher_epochs": 6}


class Lang(str, Enum):
    en = "en"
    zh = "zh"


def _setup(device: str | None, weights: str | None, seed: int, onnx: bool = False):
    """Select the device and load the model once, for any command; reports the device on stderr.
    onnx=True: the command can also run an exported .onnx file (predict, evaluate)."""
    from fashionnet.onnx_runner import is_onnx

    if is_onnx(weights):
        if not onnx:
            from fashionnet.errors import UsageError

            raise UsageError(f"{printable(weights)}: ONNX files run with predict and evaluate; this command needs a safetensors checkpoint")
        return _setup_onnx(device, weights)
    from fashionnet.device import select_device
    from fashionnet.weights import load_model

    dev = select_device(device)
    typer.echo(f"Using {dev} device", err=True)
    model, info = load_model(weights, seed=seed, device=dev)
    return dev, model, info


def _setup_onnx(device: str | None, weights: str):
    """An exported ONNX file runs with onnxruntime on the CPU, whatever --device says."""
    import torch

    from fashionnet.device import checked_name
    from fashionnet.onnx_runner import load_onnx_model

    asked = checked_name(device)  # an unknown name is refused here too, even though onnxruntime ignores it
    model, info = load_onnx_model(weights)
    note = "" if asked in ("auto", "cpu") else f"; --device {asked} applies to PyTorch weights only"
    typer.echo(f"Using cpu device (onnxruntime{note})", err=True)
    return torch.device("cpu"), model, info


def _print_json(obj) -> None:
    from fashionnet.render import json_safe

    typer.echo(json.dumps(json_safe(obj), indent=2, allow_nan=False))


def _print(renderable) -> None:
    from fashionnet.render.console import Trimmed, stdout_console

    stdout_console().print(Trimmed(renderable))  # rich pads cells to their width: no trailing blanks


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
    batch_size: Annotated[int, typer.Option("--batch-size", "-b", min=1, max=65536, help="Batch size for shapes, mult-adds and memory.")] = 1,
    depth: Annotated[Optional[int], typer.Option("--depth", min=0, metavar="N", help="Show layers down to depth N; deeper ones are folded into their container's row.", show_default="all")] = None,
    history: Annotated[bool, typer.Option("--history", help="With --json: include the weights' training history.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show the model's structure and, per layer, output shape, parameters and mult-adds (as torchinfo
    does), with input, forward/backward, parameter and total memory sizes, device and weights."""
    from fashionnet.introspect import summarize, weights_dict

    dev, model, info = _setup(device, weights, seed)
    facts = summarize(model, dev, batch_size)
    if as_json:
        _print_json({**facts.to_dict(), "weights": weights_dict(info, history)})
        return
    from fashionnet.render.console import print_whole, stdout_console
    from fashionnet.render.summary import summary_view

    print_whole(stdout_console(), summary_view(facts, device_line=str(dev), weights_line=info.describe(), depth=depth))


@app.command(short_help="Every named parameter: size, statistics, values.")
@handle_errors
def params(
    device: DeviceOption = None,
    weights: WeightsOption = None,
    seed: SeedOption = 0,
    name: Annotated[Optional[str], typer.Option("--name", "-n", help="Only parameters matching this glob or substring.")] = None,
    rows: Annotated[int, typer.Option("--rows", min=1, help="Rows of each tensor to preview (the tutorial's param[:2]).")] = 2,
    values: Annotated[int, typer.Option("--values", min=2, help="Values shown per previewed row.")] = 6,
    show: Annotated[bool, typer.Option("--show", help="Draw first-layer neurons' weights as 28x28 pictures instead of the list.")] = False,
    neurons: Annotated[int, typer.Option("--neurons", min=1, max=512, metavar="N", help="How many first-layer neurons --show and --plot draw.")] = 8,
    plot: Annotated[Optional[Path], typer.Option("--plot", metavar="FILE.png", help="Also write those neurons as a picture grid (needs matplotlib).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the --plot file if it exists.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List every named parameter: size, element count, dtype, device, statistics and a preview."""
    from fashionnet.errors import UsageError
    from fashionnet.introspect import parameter_facts

    if plot is not None:
        from fashionnet.plots import check_plot_path

        check_plot_path(plot, force)
    _dev, model, info = _setup(device, weights, seed)
    if show or plot is not None:
        _draw_neurons(model, info, neurons, show, plot, as_json)
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
    print_whole(stdout_console(), params_view(facts, rows))


def _draw_neurons(model, info, count: int, show: bool, plot: Path | None, as_json: bool) -> None:
    from fashionnet.introspect import first_layer_neurons

    pictures = first_layer_neurons(model, count)
    if plot is not None:
        from fashionnet.plots import plot_neurons

        plot_neurons(pictures, plot)
        typer.echo(f"Wrote {printable(str(plot))}", err=True)
    if show and as_json:
        _print_json({"weights": info.to_dict(), "neurons": [n.to_dict() for n in pictures]})
    elif show:
        from fashionnet.render.console import print_whole, stdout_console
        from fashionnet.render.summary import neurons_view

        typer.echo(f"Weights: {info.describe()}", err=True)
        print_whole(stdout_console(), neurons_view(pictures))


@app.command(short_help="The tutorial's layer-by-layer walk, live (en/zh).")
@handle_errors
def walkthrough(
    lang: Annotated[Lang, typer.Option("--lang", "-l", help="Language of the explanations.")] = Lang.en,
    seed: Annotated[int, typer.Option("--seed", metavar="N", min=0, max=SEED_MAX, help="Seed for the random images and weights.")] = 0,
    step: Annotated[Optional[int], typer.Option("--step", "-s", help="Show only step N (1-based).")] = None,
    interactive: Annotated[bool, typer.Option("--interactive", "-i", help="Wait for Enter between steps (terminals only).")] = False,
    real: Annotated[bool, typer.Option("--real", help="Use real FashionMNIST test images and the trained weights.")] = False,
    device: DeviceOption = None,
    weights: Annotated[
        Optional[str],
        typer.Option("--weights", "-w", metavar="FILE|random", help="A safetensors checkpoint, or 'random'.",
                     show_default="random, as in the tutorial; the shipped weights with --real"),
    ] = None,
    data_dir: DataDirOption = None,
    notebook: Annotated[Optional[Path], typer.Option("--notebook", metavar="FILE.ipynb", help="Also write the walk as a Jupyter notebook that runs top to bottom.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the --notebook file if it exists.")] = False,
) -> None:
    """Walk through the tutorial's code, block by block, with its real output computed live."""
    from fashionnet.walkthrough import build_steps, check_step

    check_step(step, lang.value)  # fail before any heavy work
    if notebook is not None:
        from fashionnet.notebook import check_notebook_path

        check_notebook_path(notebook, force)
    test_size = 0
    if real:
        from fashionnet import data as data_mod

        test_size = len(data_mod.load_split("test", data_dir).labels)  # a missing data set fails here (exit 3)
    elif weights is None:
        weights = "random"  # the tutorial itself runs an untrained model
    dev, _model, info = _setup(device, weights, seed)
    from fashionnet.render.console import stdout_console
    from fashionnet.render.walkthrough import show_walkthrough

    console = stdout_console()
    steps = build_steps(dev, info, lang=lang.value, seed=seed, real=real, data_dir=data_dir, width=console.width, test_size=test_size)
    if notebook is not None:
        from fashionnet.notebook import write_notebook

        write_notebook(notebook, steps, seed)
        typer.echo(f"Wrote {printable(str(notebook))}", err=True)
    show_walkthrough(console, steps, only=step, interactive=interactive)


@app.command(short_help="Where FashionMNIST is and whether it is complete.")
@handle_errors
def data(
    data_dir: DataDirOption = None,
    download: Annotated[bool, typer.Option("--download", help="Download the official files into the user cache (needs internet).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show where FashionMNIST was found, its files, and the number of images per split and class."""
    from fashionnet import data as data_mod
    from fashionnet.errors import DataError

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
    epochs: Annotated[Optional[int], typer.Option("--epochs", "-e", min=1, help="Epochs to train.", show_default=str(RECIPE_DEFAULTS["epochs"]))] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", "-b", min=1, help="Images per step.", show_default=str(RECIPE_DEFAULTS["batch_size"]))] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", min=0.0, help="Peak learning rate (above 0).", show_default=str(RECIPE_DEFAULTS["lr"]))] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", metavar="N", min=0, max=SEED_MAX, help="Seed for initial weights, shuffling and flips.", show_default="0; with --resume, the checkpoint's")] = None,
    device: DeviceOption = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Checkpoint to write after every epoch.", show_default="checkpoints/fashionnet.safetensors")] = None,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="Continue training from this checkpoint.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out and --plot if they exist (the shipped weights included).")] = False,
    save_optimizer: Annotated[bool, typer.Option("--optimizer-state/--no-optimizer-state", help="Store optimizer state so --resume can continue.")] = True,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Train on the first N images only (quick trials).")] = None,
    data_dir: DataDirOption = None,
    photos: Annotated[Optional[Path], typer.Option("--photos", metavar="FILE.npz", help="Photo drawings to mix into every batch (made by tools/make_drawings.py).", show_default="the shipped fashionnet/drawings/photo-drawings.npz")] = None,
    no_photos: Annotated[bool, typer.Option("--no-photos", help="Train on FashionMNIST alone, without the photo drawings.")] = False,
    teacher_epochs: Annotated[Optional[int], typer.Option("--teacher-epochs", metavar="N", min=0, help="Epochs of the CNN teacher trained first for distillation; 0: none.", show_default=str(RECIPE_DEFAULTS["teacher_epochs"]))] = None,
    plot: PlotOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or per-epoch lines.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Train the tutorial's network on FashionMNIST and real photo drawings; save a checkpoint every epoch."""
    from fashionnet import data as data_mod
    from fashionnet import photos as photo_mod
    from fashionnet import train as training
    from fashionnet.device import select_device
    from fashionnet.render.console import stderr_console

    if plot is not None:
        from fashionnet.plots import check_plot_path

        check_plot_path(plot, force)
    resume_from = training.load_resume(resume) if resume is not None else None
    if no_photos and photos is not None:
        from fashionnet.errors import UsageError

        raise UsageError("--photos and --no-photos contradict each other; give one of them")
    recipe = training.recipe_for(resume_from, epochs=epochs, batch_size=batch_size, lr=lr,
                                 teacher_epochs=teacher_epochs, photo_share=0.0 if no_photos else None)
    out_path = training.resolve_output(out, resume, force)
    if resume_from:
        saved_seed = resume_from[1].metadata["seed"]
        if seed is not None and seed != saved_seed:
            from fashionnet.errors import UsageError

            raise UsageError(f"{printable(str(resume))}: was trained with --seed {saved_seed}; a resumed run keeps it")
        seed = saved_seed
    seed = 0 if seed is None else seed
    dev = select_device(device)
    drawings = photo_mod.load(photos if photos is not None else photo_mod.DRAWINGS) if recipe.photo_share > 0 else None
    photo_set = training.photo_set(drawings) if drawings is not None else None
    train_split = data_mod.load_split("train", data_dir, limit=limit)
    test_split = data_mod.load_split("test", data_dir)
    chatter = not (quiet or as_json)
    if not quiet:
        typer.echo(f"Using {dev} device", err=True)
    if chatter:
        held = int(len(train_split.images) * recipe.holdout)
        kept = f" ({held:,} more held out to calibrate)" if held else ""
        typer.echo(f"Training on {len(train_split.images) - held:,} images{kept}; checkpoints go to {printable(str(out_path))}", err=True)
        if photo_set is None:
            typer.echo("Without photo drawings (--no-photos): FashionMNIST alone", err=True)
        else:
            share = training.photos_per_batch(recipe, photo_set)
            typer.echo(f"With {len(photo_set):,} photo drawings, {share} in every batch", err=True)
        if recipe.teacher_epochs and resume_from is None:
            count = f"{recipe.teacher_epochs} epoch" + ("s" if recipe.teacher_epochs != 1 else "")
            typer.echo(f"A small CNN teacher trains first ({count}); then the network learns from it as well", err=True)
    from fashionnet.render.training import ProgressReporter, epochs_table

    if chatter:
        with ProgressReporter(stderr_console()) as reporter:
            result = training.fit(recipe, train_split, test_split, dev, seed, out_path, resume_from, reporter, save_optimizer,
                                  photo_set)
    else:
        result = training.fit(recipe, train_split, test_split, dev, seed, out_path, resume_from, None, save_optimizer,
                              photo_set)
    if plot is not None:
        from fashionnet.plots import plot_history

        plot_history(result.history, plot)
    report = {
        "out": str(out_path), "device": str(dev), "seed": seed, "recipe": recipe.to_dict(),
        "epochs": len(result.history), "seconds": result.seconds,
        "test_accuracy": result.final.test_accuracy if result.final else None,
        "test_loss": result.final.test_loss if result.final else None,
        "history": [h.to_dict() for h in result.history],
        "photo_drawings": len(photo_set) if photo_set is not None else 0, "teacher": result.teacher,
    }
    if as_json:
        _print_json(report)
        return
    if not quiet:
        _print(epochs_table(result.history))
    final = result.final
    accuracy = f"{final.test_accuracy:.2%}" if final and final.test_accuracy is not None else "n/a"
    typer.echo(f"Saved {printable(str(out_path))} (test accuracy {accuracy}, {result.seconds:.1f}s)")
    if plot is not None:
        typer.echo(f"Wrote {printable(str(plot))}", err=True)


@app.command(short_help="Accuracy, per-class scores, confusion matrix.")
@handle_errors
def evaluate(
    device: DeviceOption = None,
    weights: OnnxWeightsOption = None,
    seed: SeedOption = 0,
    data_dir: DataDirOption = None,
    plot: PlotOption = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --plot if it exists.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Measure accuracy and loss on the 10,000 test images, per class, with the confusion matrix."""
    from fashionnet import data as data_mod
    from fashionnet.evaluate import evaluate as run_evaluation

    if plot is not None:
        from fashionnet.plots import check_plot_path

        check_plot_path(plot, force)
    test = data_mod.load_split("test", data_dir)
    dev, model, info = _setup(device, weights, seed, onnx=True)
    result = run_evaluation(model, test.images, test.labels, dev, temperature=info.temperature)
    if plot is not None:
        from fashionnet.plots import plot_confusion

        plot_confusion(result.confusion, result.accuracy, plot)
    if as_json:
        _print_json({**result.to_dict(), "device": str(dev), "weights": info.to_dict()})
    else:
        from fashionnet.render.training import evaluation_view

        _print(evaluation_view(result, info.describe()))
    if plot is not None:
        typer.echo(f"Wrote {printable(str(plot))}", err=True)


class Invert(str, Enum):
    auto = "auto"
    yes = "yes"
    no = "no"


@app.command(epilog="Exit codes: 0 every input was classified; 1 some inputs failed (the others were "
             "still classified); 2 usage error; 4 bad checkpoint; 130 interrupted; 141 stdout's reader went away.",
             short_help="Classify image files.")
@handle_errors
def predict(
    paths: Annotated[list[str], typer.Argument(metavar="PATH", help="Image files, folders, glob patterns, or - for stdin.", show_default=False)],
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Look inside sub-folders too.")] = False,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=10, help="How many classes to show per image.")] = 3,
    show: Annotated[bool, typer.Option("--show", help="Draw the 28x28 image the model saw next to each result.")] = False,
    invert: Annotated[
        Invert, typer.Option("--invert", help="Negate the image: auto detects dark-on-light pictures.")
    ] = Invert.auto,
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines on stdout: one object per input.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout: one row per input.")] = False,
    threshold: Annotated[float, typer.Option("--threshold", min=0.0, max=1.0, help="Calibrated top probability below which an answer is 'not sure' (a picture with no garment found is never sure).")] = DEFAULT_THRESHOLD,
    device: DeviceOption = None,
    weights: OnnxWeightsOption = None,
    seed: SeedOption = 0,
) -> None:
    """Classify image files: photos, product shots or FashionMNIST PNGs, of any size."""
    from fashionnet.errors import UsageError
    from fashionnet.predict import collect_inputs, predict_decoded, start_decoding

    if as_json and as_csv:
        raise UsageError("choose one of --json and --csv")
    items = collect_inputs(paths, recursive, stdin=sys.stdin.buffer if "-" in paths else None)
    flip = {Invert.auto: None, Invert.yes: True, Invert.no: False}[invert]
    # Decoder processes start before torch is imported, so decoding overlaps the ~2 s import.
    with start_decoding(items, flip) as decoding:
        dev, model, info = _setup(device, weights, seed, onnx=True)
        if not (as_json or as_csv):
            typer.echo(f"Weights: {info.describe()}", err=True)
        results = predict_decoded(decoding, model, device=dev, top_k=top_k, temperature=info.temperature,
                                  threshold=threshold)
        failed = _emit_predictions(results, len(items), as_json, as_csv, show)
    if failed:
        raise typer.Exit(int(ExitCode.INPUT_FAILED))


def _emit_predictions(results, total: int, as_json: bool, as_csv: bool, show: bool) -> int:
    """Stream rows for scripts (nothing finished is lost if a later input fails) or collect for a view;
    problems go to stderr as they happen. Returns the number of failed inputs."""
    from fashionnet.render.console import stderr_console
    from fashionnet.render.predict import error_line, predictions_view, write_csv, write_jsonl

    err = stderr_console()
    failed = 0

    def watched():
        nonlocal failed
        from rich.progress import Progress

        with Progress(console=err, transient=True, disable=total < 200) as progress:
            task = progress.add_task("Classifying", total=total)
            for result in results:
                if not result.ok:
                    failed += 1
                    err.print(error_line(result), soft_wrap=True)
                progress.advance(task)
                yield result

    if as_json:
        write_jsonl(watched(), sys.stdout)
    elif as_csv:
        write_csv(watched(), sys.stdout)
    else:
        done = list(watched())
        if any(r.ok for r in done):
            _print(predictions_view(done, show=show))
    return failed


class ExportFormat(str, Enum):
    onnx = "onnx"
    torchscript = "torchscript"
    safetensors = "safetensors"


@app.command(epilog="Exit codes: 0 written and checked; 2 usage error (bad option, missing onnx/onnxruntime, "
             "refused overwrite); 4 bad checkpoint; 5 the export failed its own check (nothing was written); 130 interrupted; "
             "141 stdout's reader went away.",
             short_help="Export to ONNX, TorchScript or safetensors.")
@handle_errors
def export(
    fmt: Annotated[
        Optional[ExportFormat],
        typer.Option("--format", "-f", help="File format.", show_default="from --out's suffix, else onnx"),
    ] = None,
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", metavar="FILE", help="File to write.", show_default="fashionnet.onnx / .pt / .safetensors"),
    ] = None,
    device: DeviceOption = None,
    weights: WeightsOption = None,
    seed: SeedOption = 0,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", "-b", metavar="N", min=1, max=65536, help="Fix the ONNX input's batch size.", show_default="any")] = None,
    opset: Annotated[Optional[int], typer.Option("--opset", metavar="N", help="ONNX opset version (9-20).", show_default="17")] = None,
    half: Annotated[bool, typer.Option("--half", help="Store float16 weights (half the size); input and output stay float32.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace --out if it exists.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Export the model to ONNX, TorchScript or safetensors, then check the file against PyTorch.

    The exported model takes float32 [N, 28, 28] in [0, 1] and returns logits; class names, input
    normalisation and test accuracy are stored in the file. A file whose outputs differ from PyTorch's by
    more than 1e-4 (2e-2 with --half) is not kept.
    """
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


def main() -> None:
    from fashionnet.streams import finish_streams, prepare_streams

    prepare_streams()
    try:
        app()
    finally:
        finish_streams()
