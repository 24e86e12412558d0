"""The "Build the Neural Network" tutorial as data: every code block of the page, run live, nothing printed.

`build_steps()` executes each step's code, exactly as it is shown, in one fresh namespace and keeps what
it printed: the output shown under the code *is* the code's output, so a learner who pastes the code
gets the same text. Pictures and side facts are read from that namespace afterwards.
`fashionnet.render.walkthrough` lays the steps out; `fashionnet.notebook` writes them as a notebook.

The words live in fashionnet/locales/<lang>.json (one file per language, same keys in each), and torch
is imported only inside the functions that run code, so importing this module stays cheap.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fashionnet import class_name, short_class
from fashionnet.errors import UsageError, printable
from fashionnet.finite_outputs import guard, is_guarded
from fashionnet.language import after_colon, locale, text
from fashionnet.tutorial_code import (
    figure_code,
    make_setup,
    run_code,
    step_code,
    tutorial_session,
)

if TYPE_CHECKING:
    import torch

    from fashionnet.weights import WeightsInfo

# The page's order; a step's number is its position here, plus one.
STEP_KEYS: tuple[str, ...] = (
    "imports",
    "device",
    "class",
    "model",
    "forward",
    "predict",
    "minibatch",
    "flatten",
    "linear",
    "relu",
    "sequential",
    "softmax",
    "parameters",
)


def heading(lang: str, number: int, total: int, title: str) -> str:
    """A step's title line, e.g. 'Step 5/13 · One image through the model'."""
    return f"{text(lang, 'ui.step', number=number, total=total)} · {title}"


def check_step(step: int | None, lang: str = "en", total: int = len(STEP_KEYS)) -> None:
    """Refuse a 1-based --step outside 1..total before anything is computed."""
    if step is not None and not 1 <= step <= total:
        raise UsageError(text(lang, "ui.step_range", step=step, total=total))


# --- Blocks: the typed pieces a step is made of (all text already translated and formatted) ---------


@dataclass
class Code:
    """Python source as shown: the page's lines, with fashionnet's additions marked by a comment."""

    text: str


@dataclass
class Output:
    """What the code printed, exactly (never re-wrapped)."""

    text: str
    label: str | None = None


@dataclass
class Pictures:
    """Grayscale images as rows of 0..255 ints; `small` asks the renderer to halve them."""

    images: list[list[list[int]]]
    captions: list[str]
    small: bool = False


@dataclass
class Facts:
    """Short key/value lines, e.g. ('device', 'cuda')."""

    items: list[tuple[str, str]]


@dataclass
class Note:
    """A remark beside the code, e.g. that a layer is a fresh random one."""

    text: str


@dataclass
class ProbabilityRow:
    index: int
    name: str
    probability: float
    predicted: bool = False
    true: bool = False
    short: str = ""  # the name alone, for narrow terminals (a translated name without its English one)


@dataclass
class Probabilities:
    """One image's class probabilities, with the predicted (and, for real data, true) class marked."""

    rows: list[ProbabilityRow]
    headers: tuple[str, str, str]  # (class, probability, note)
    predicted_label: str
    true_label: str | None = None
    separator: str = ", "


Block = Code | Output | Pictures | Facts | Note | Probabilities


@dataclass
class Step:
    """One tutorial step: its title, why it matters, the code shown and what running it printed."""

    key: str
    title: str
    explanation: str
    code: str
    output: str  # exactly what the code printed (may be empty)
    blocks: list[Block] = field(default_factory=list)
    lang: str = "en"
    # The step's main tensors by their tutorial names, on the CPU: for tests and machine-readable output.
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    figure: Figure | None = None  # for the notebook: matplotlib code drawing what the step made, and its PNGs


@dataclass
class Figure:
    """A notebook cell that draws what a step made (as the tutorial pages show pictures), run once here
    so the notebook holds its output: the PNG of every figure the code drew."""

    code: str
    pngs: list[bytes] = field(default_factory=list)


def draw_figure(code: str, namespace: dict) -> Figure:
    """Run a drawing cell in the walk's namespace with matplotlib's file-only backend; keep its PNGs."""
    import warnings

    from fashionnet.plots import _pyplot

    plt = _pyplot()
    plt.close("all")
    with warnings.catch_warnings():  # plt.show() on the file-only backend says it shows nothing: we know
        warnings.simplefilter("ignore", UserWarning)
        run_code(code, namespace)
    pngs = []
    for number in plt.get_fignums():
        buffer = io.BytesIO()
        plt.figure(number).savefig(buffer, format="png", dpi=72, bbox_inches="tight")
        pngs.append(buffer.getvalue())
    plt.close("all")
    return Figure(code, pngs)


def check_image(image: str, real: bool) -> None:
    """--image: one picture file the shown code can load by name, read here the way predict reads it."""
    from fashionnet.images import load_view

    if real:
        raise UsageError("choose one of --real and --image")
    if image == "-":
        raise UsageError("--image needs a file: the shown code loads the picture by its name")
    load_view(image)  # BadImage: "path: what is wrong", exit 1


def weights_line(info: WeightsInfo, lang: str) -> str:
    """'Weights: shipped (test accuracy 90.53%)', the line commands print on stderr, in `lang`."""
    return after_colon(text(lang, "ui.weights_line")) + describe_weights(info, lang)


def describe_weights(info: WeightsInfo | None, lang: str) -> str:
    """WeightsInfo.describe(), in the walkthrough's language."""
    if info is None:
        return "-"
    if lang == "en":
        return info.describe()
    if info.source == "random":
        return text(lang, "weights.random", seed=info.seed)
    label = text(lang, "weights.shipped") if info.source == "shipped" else printable(str(info.path))
    accuracy = info.test_accuracy
    return label + (text(lang, "weights.accuracy", accuracy=accuracy) if accuracy is not None else "")


def _answers(
    model, device: torch.device, logits: torch.Tensor, image: str | None, temperature: float, lang: str
) -> tuple[list[tuple[str, str]], int]:
    """The facts that say what predict makes of the shown input, each labelled: the shown drawing's own
    calibrated answer, and for a picture file predict's whole answer (a photo's drawings averaged, "not
    sure" included), both from predict's own code. Returns them and how many drawings predict averages."""
    from fashionnet.predict import decide, decide_view
    from fashionnet.render.widgets import percent, verdict_words

    t = lambda key, **values: text(lang, key, **values)  # noqa: E731
    own = decide(logits.detach().double().cpu()[:1], temperature).probabilities[0]
    index, probability = int(own.argmax()), float(own.max())
    if image is None:
        value = t(
            "ui.calibrated_value",
            label=class_name(index, lang),
            percent=percent(probability),
            temperature=f"{temperature:g}",
        )
        return [(t("ui.calibrated"), value)], 1
    from fashionnet.images import load_view

    view = load_view(image)
    drawings = len(view.drawings())
    answer = decide_view(image, view, model, device, temperature)
    assert answer.index is not None and answer.probability is not None  # decide_view raises otherwise
    said = verdict_words(answer.index, answer.probability, bool(answer.sure), lang)
    if drawings == 1:
        return [(t("ui.predict_says"), t("ui.predict_value", verdict=said, temperature=f"{temperature:g}"))], 1
    return [
        (
            t("ui.calibrated_drawing"),
            t(
                "ui.drawing_value",
                label=class_name(index, lang),
                percent=percent(probability),
                temperature=f"{temperature:g}",
            ),
        ),
        (
            t("ui.predict_says"),
            t("ui.predict_value_averaged", verdict=said, drawings=drawings, temperature=f"{temperature:g}"),
        ),
    ], drawings


def _pixels(image: torch.Tensor) -> list[list[int]]:
    """(28, 28) floats in [0, 1] -> rows of 0..255 ints, what render.console.Picture draws."""
    import torch

    return (image.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8).tolist()


def build_steps(
    device: torch.device | str,
    weights_info: WeightsInfo | None = None,
    lang: str = "en",
    seed: int = 0,
    real: bool = False,
    data_dir: Path | str | None = None,
    width: int | None = None,
    test_size: int = 0,
    image: str | None = None,
    figures: bool = False,
) -> list[Step]:
    """Run every step of the page, in order, in one fresh namespace and return them.

    With `figures` (the notebook, matplotlib installed), the steps that make a picture also draw it
    (FIGURE_CODE), run in the same namespace so the notebook ships the pictures it would draw.

    `weights_info` says which weights the shown code loads (None or random: the tutorial's own random
    init after torch.manual_seed(seed)). With `real`, the forward and minibatch steps read test images
    (picked by `seed` among `test_size`) from FashionMNIST; with `image`, they read that picture, prepared
    exactly as predict prepares it. `width` is the terminal's: below 80 columns the shown code sets
    torch's print width to it.
    """
    import torch

    locale(lang)  # an unknown language fails before any work
    device = torch.device(device)
    t = lambda key, **values: text(lang, key, **values)  # noqa: E731 - a short local alias reads best here
    setup = make_setup(device, weights_info, seed, real, data_dir, width, test_size, image)
    trained = setup.weights is not None
    yes_no = {True: t("ui.yes"), False: t("ui.no")}
    namespace: dict = {"__name__": "__main__"}
    steps: list[Step] = []

    def variant(key: str, suffix: str, when: bool) -> str:
        return t(f"explain.{key}.{suffix}") if when else t(f"explain.{key}")

    def own(key: str) -> str:
        """The explanation of a step that shows real test images or the user's picture."""
        return variant(key, "image", True) if image is not None else variant(key, "real", real)

    with tutorial_session(device):
        for key in STEP_KEYS:
            code = step_code(key, setup, lang)
            before = namespace.get("hidden1")
            output = run_code(code, namespace)
            ns = namespace
            if "model" in ns and not is_guarded(ns["model"]):  # the door every model output goes through
                from fashionnet.weights import weights_source

                guard(ns["model"], weights_source(weights_info) if weights_info is not None else "the model")
            blocks: list[Block] = [Code(code)]
            if output:
                blocks.append(Output(output, t("ui.output")))
            explanation = t(f"explain.{key}")
            tensors: dict = {}
            if key == "device":
                blocks.append(
                    Facts(
                        [
                            (t("ui.device"), str(ns["device"])),
                            (t("ui.accelerator"), yes_no[torch.accelerator.is_available()]),
                        ]
                    )
                )
            elif key == "model":
                explanation = variant("model", "trained", trained)
                total = sum(p.numel() for p in ns["model"].parameters())
                blocks.append(
                    Facts(
                        [
                            (t("ui.weights"), describe_weights(weights_info, lang)),
                            (t("ui.parameters_total"), f"{total:,}"),
                        ]
                    )
                )
            elif key == "forward":
                explanation = own("forward")
                X = ns["X"]
                if real:
                    label = int(ns["test"].labels[setup.single])
                    true_text = t("ui.pair", label=t("ui.true_label"), value=class_name(label, lang))
                    caption = f"{t('ui.test_image', index=setup.single)} · {true_text}"
                elif image is not None:
                    caption = t("ui.your_picture")
                else:
                    caption = f"X[0] · {t('ui.random_pixels')}"
                blocks.insert(1, Pictures([_pixels(X[0])], [caption]))
                tensors = {"X": X, "logits": ns["logits"]}
            elif key == "predict":
                explanation = variant("predict", "trained", trained)
                probab = ns["pred_probab"]
                predicted = int(ns["y_pred"][0])
                true = int(ns["test"].labels[setup.single]) if real else None
                rows = [
                    ProbabilityRow(
                        i, class_name(i, lang), p, predicted=i == predicted, true=i == true, short=short_class(i, lang)
                    )
                    for i, p in enumerate(probab[0].detach().float().cpu().tolist())
                ]
                blocks.append(
                    Probabilities(
                        rows,
                        (t("ui.class"), t("ui.probability"), t("ui.note")),
                        predicted_label=t("ui.predicted"),
                        true_label=t("ui.true_label") if real else None,
                        separator=t("ui.list_sep"),
                    )
                )
                facts = [(t("ui.predicted"), f"{predicted} · {class_name(predicted, lang)}")]
                if true is not None:  # real test images
                    facts += [
                        (t("ui.true_label"), f"{true} · {class_name(true, lang)}"),
                        (t("ui.correct"), yes_no[predicted == true]),
                    ]
                temperature = weights_info.temperature if trained and weights_info is not None else 1.0
                if temperature != 1.0:  # what predict would say: a learner sees both, and why they differ
                    said, drawings = _answers(ns["model"], device, ns["logits"], image, temperature, lang)
                    facts += said
                blocks.append(Facts(facts))
                if temperature != 1.0:
                    blocks.append(Note(t("note.calibrated", temperature=f"{temperature:g}")))
                    if drawings > 1:
                        blocks.append(Note(t("note.averaged", drawings=drawings)))
                tensors = {"pred_probab": probab, "y_pred": ns["y_pred"]}
            elif key == "minibatch":
                explanation = own("minibatch")
                batch = ns["input_image"]
                if setup.own_images:
                    with torch.no_grad():
                        guesses = ns["model"](batch.to(device)).argmax(1).cpu().tolist()
                    if real:
                        labels = ns["test"].labels
                        firsts = [
                            f"#{i}\n" + t("ui.pair", label=t("ui.true_short"), value=short_class(int(labels[i]), lang))
                            for i in setup.batch
                        ]
                    else:
                        firsts = [t("ui.your_picture"), t("ui.mirrored"), t("ui.upside_down")]
                    captions = [
                        first + "\n" + t("ui.pair", label=t("ui.model_short"), value=short_class(g, lang))
                        for first, g in zip(firsts, guesses, strict=True)
                    ]
                else:
                    captions = [t("ui.image_n", n=n) for n in (1, 2, 3)]
                blocks.append(Pictures([_pixels(image) for image in batch], captions, small=True))
                tensors = {"input_image": batch}
            elif key == "flatten":
                blocks.append(Facts([(t("ui.flat_length"), f"28 × 28 = {ns['flat_image'].shape[1]}")]))
                tensors = {"flat_image": ns["flat_image"]}
            elif key == "linear":
                layer1 = ns["layer1"]
                blocks.append(
                    Facts(
                        [
                            (t("ui.layer1_weight"), str(layer1.weight.size())),
                            (t("ui.layer1_bias"), str(layer1.bias.size())),
                        ]
                    )
                )
                tensors = {"hidden1": ns["hidden1"]}
            elif key == "relu":
                after = ns["hidden1"]
                assert before is not None  # the linear step made hidden1
                count = before.numel()
                negatives, zeros = int((before.detach() < 0).sum()), int((after.detach() == 0).sum())
                blocks.append(
                    Facts(
                        [
                            (t("ui.negatives"), t("ui.count_of", count=negatives, total=count)),
                            (t("ui.zeros"), t("ui.count_of", count=zeros, total=count)),
                        ]
                    )
                )
                tensors = {"before": before, "after": after}
            elif key == "sequential":
                explanation = own("sequential")
                tensors = {"input_image": ns["input_image"], "logits": ns["logits"]}
            elif key == "softmax":
                probab = ns["pred_probab"].detach()
                sums = probab.sum(dim=1)
                blocks.append(
                    Facts(
                        [
                            (t("ui.row_sums"), t("ui.list_sep").join(f"{float(s):.4f}" for s in sums)),
                            (t("ui.value_range"), f"{float(probab.min()):.4f} / {float(probab.max()):.4f}"),
                        ]
                    )
                )
                tensors = {"pred_probab": probab}
            elif key == "parameters":
                total = sum(p.numel() for p in ns["model"].parameters())
                blocks.append(Facts([(t("ui.parameters_total"), f"{total:,}")]))
            if trained and key in ("linear", "sequential", "softmax"):
                blocks.insert(0, Note(t("note.demo_layers")))
            kept = {name: value.detach().cpu() for name, value in tensors.items()}
            drawing = figure_code(key, lang) if figures else None
            figure = draw_figure(drawing, namespace) if drawing is not None else None
            steps.append(Step(key, t(f"title.{key}"), explanation, code, output, blocks, lang, kept, figure))
    return steps
