"""The commands that use the trained network: predict, explain and export.

No `from __future__ import annotations` in the command modules: Typer would then evaluate every
option's annotation from its text on each run (about 500 compiles, a sixth of `--help`).
"""

import sys
from pathlib import Path
from typing import Annotated

import typer

from fashionnet.calibration import DEFAULT_THRESHOLD
from fashionnet.cli.options import (
    DataDirOption,
    DeviceOption,
    ExportFormat,
    Invert,
    JsonOption,
    Lang,
    OnnxWeightsOption,
    SeedOption,
    WeightsOption,
    expand_user,
    probability,
    sample_folders,
)
from fashionnet.cli.typer_app import app, handle_errors
from fashionnet.errors import ExitCode
from fashionnet.render.output import print_json, print_view
from fashionnet.runtime import import_torch, setup


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
            callback=probability,
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
    items = collect_inputs([*(paths or []), *(sample_folders() if samples else [])], recursive)
    flip = {Invert.auto: None, Invert.yes: True, Invert.no: False}[invert]
    # Decoder processes start before torch is imported, so decoding overlaps the ~2 s import.
    with start_decoding(items, flip) as decoding:
        dev, model, info = setup(device, weights, seed, onnx=True, cpu_threads=CPU_THREADS)
        if not (as_json or as_csv):
            typer.echo(f"Weights: {info.describe()}", err=True)
        results = predict_decoded(
            decoding, model, device=dev, top_k=top_k, temperature=info.temperature, threshold=threshold
        )
        failed = emit_predictions(results, len(items), as_json, as_csv, show)
    if failed:
        raise typer.Exit(int(ExitCode.INPUT_FAILED))


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
            callback=expand_user,
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
        dev, model, info = setup(device, weights, seed)
    else:
        assert picture is not None  # one of PICTURE and --test-index, checked above
        item = one_input(picture, sys.stdin.buffer if picture == "-" else None)
        flip = {Invert.auto: None, Invert.yes: True, Invert.no: False}[invert]
        # The path predict takes: decoding starts before torch is imported (a photo's GrabCut overlaps it).
        with start_decoding([item], flip) as decoding:
            dev, model, info = setup(device, weights, seed)
            decoded = next(iter(decoding))
        from fashionnet.explain import view_of_decoded

        name, view = item.path, view_of_decoded(decoded)
    from fashionnet.explain import explain as run_explain
    from fashionnet.render.explain import show_explanation

    result = run_explain(name, view, model, dev, info, units=units)
    show_explanation(result, dev, info, lang.value, show, plot, claim, as_json)


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
            callback=expand_user,
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
    import_torch()
    from fashionnet import export as exporting

    name = exporting.format_for(fmt.value if fmt else None, out)
    out_path = out if out is not None else Path("fashionnet" + exporting.SUFFIXES[name])
    exporting.check_options(name, batch_size, opset)  # fail before loading anything
    from fashionnet.files import check_output

    check_output(out_path, force)
    dev, model, info = setup(device, weights, seed)
    report = exporting.export_model(model, info, name, out_path, dev, batch_size, opset, half, force)
    if as_json:
        print_json(report.to_dict())
        return
    from fashionnet.render.export import export_view

    print_view(export_view(report))
