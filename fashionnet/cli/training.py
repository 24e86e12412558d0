"""The commands of the data and of training: data, train and evaluate.

No `from __future__ import annotations` in the command modules: Typer would then evaluate every
option's annotation from its text on each run (about 500 compiles, a sixth of `--help`).
"""

import functools
from pathlib import Path
from typing import Annotated

import typer

from fashionnet import SEED_MAX
from fashionnet.cli.options import (
    LR_RANGE,
    RECIPE_DEFAULTS,
    DataDirOption,
    DeviceOption,
    JsonOption,
    OnnxWeightsOption,
    RecipeName,
    SeedOption,
    class_option,
    expand_user,
    sample_folders,
)
from fashionnet.cli.typer_app import app, handle_errors
from fashionnet.errors import printable
from fashionnet.render.output import print_json, print_view
from fashionnet.runtime import import_torch, setup


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
        folders = sample_folders()
        if as_json:
            print_json({"samples": folders[0], "photos": folders[1]})
        else:
            typer.echo(printable(folders[0]))
        return
    if download:
        typer.echo(f"Downloading FashionMNIST into {data_mod.cache_dir()} ...", err=True)
        data_mod.download()
    report = data_mod.inspect_data(data_dir)
    if as_json:
        print_json(report.to_dict())
    else:
        from fashionnet.render.training import data_view

        print_view(data_view(report))
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
            callback=expand_user,
            help="Checkpoint to write after every epoch.",
            show_default="checkpoints/fashionnet.safetensors; tutorial: checkpoints/tutorial.safetensors",
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume",
            metavar="FILE",
            callback=expand_user,
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
            callback=expand_user,
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
            callback=expand_user,
            help="The distillation teacher's answers to learn from (made by tools/make_teacher_targets.py).",
            show_default="the shipped fashionnet/drawings/teacher-targets.npz",
        ),
    ] = None,
    no_teacher: Annotated[
        bool, typer.Option("--no-teacher", help="Learn from the labels alone, without either teacher's answers.")
    ] = False,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="FILE.png",
            callback=expand_user,
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
    import_torch()
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
            callback=expand_user,
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
    import_torch()
    from fashionnet import data as data_mod
    from fashionnet.errors import UsageError

    true_class = class_option(only)
    predicted_class = class_option(taken_for, "--predicted")
    if not mistakes and (only is not None or limit is not None or taken_for is not None):
        raise UsageError("--class, --predicted and --limit go with --mistakes")
    claim = None
    if plot is not None:
        from fashionnet.plots import check_plot_path

        claim = check_plot_path(plot, force)
    test = data_mod.load_split("test", data_dir, official=True)
    dev, model, info = setup(device, weights, seed, onnx=True)
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
