"""The commands that look inside the network: summary, params and walkthrough.

No `from __future__ import annotations` in the command modules: Typer would then evaluate every
option's annotation from its text on each run (about 500 compiles, a sixth of `--help`).
"""

import os
from pathlib import Path
from typing import Annotated

import typer

from fashionnet import SEED_MAX
from fashionnet.cli.options import DataDirOption, DeviceOption, JsonOption, Lang, SeedOption, WeightsOption, expand_user
from fashionnet.cli.typer_app import app, handle_errors
from fashionnet.render.output import print_json, wrote
from fashionnet.runtime import import_torch, setup


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
    import_torch()
    from fashionnet.introspect import summarize, weights_dict

    dev, model, info = setup(device, weights, seed)
    facts = summarize(model, dev, batch_size)
    if as_json:
        print_json({**facts.to_dict(depth), "weights": weights_dict(info, history)})
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
            callback=expand_user,
            help="Also write those units' weight pictures as a PNG grid with a colour bar (needs matplotlib).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the --plot file if it exists.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List every named parameter: size, element count, dtype, device, statistics and a preview."""
    import_torch()
    from fashionnet.errors import UsageError
    from fashionnet.introspect import parameter_facts

    claim = None
    if plot is not None:
        from fashionnet.plots import check_plot_path

        claim = check_plot_path(plot, force)
    _dev, model, info = setup(device, weights, seed)
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
        print_json({"weights": info.to_dict(), "parameters": [f.to_dict() for f in facts]})
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
            callback=expand_user,
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
    dev, _model, info = setup(device, weights, seed)
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
        wrote(notebook, lang.value)
    show_walkthrough(console, steps, only=step, interactive=interactive)
