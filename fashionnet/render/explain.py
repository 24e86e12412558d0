"""Rich renderables for `fashionnet explain`: the picture, each stage of linear_relu_stack, the logits and
the saliency picture, in English or Chinese, laid out for the terminal's width.

Everything shown was computed by `fashionnet.explain.explain`; this module only lays it out. Pictures go
in a grid that holds as many as the width allows (one per row at 40 columns, two at 60, four at 120),
prose wraps in both languages, and the class table drops its bars, then the English half of translated
class names, before any figure would be cut.
"""

from __future__ import annotations

from pathlib import Path

from rich import box
from rich.console import Group, RenderableType
from rich.constrain import Constrain
from rich.table import Table
from rich.text import Text

from fashionnet import class_name, class_words, short_class
from fashionnet.errors import printable
from fashionnet.explain import PATCH, Explanation, HiddenLayer
from fashionnet.language import after_colon, text
from fashionnet.render.console import Picture, Trimmed, first_that_fits, stack
from fashionnet.render.widgets import (
    PROSE_WIDTH,
    Paragraph,
    PictureGrid,
    SignedPicture,
    bar,
    mask_picture,
    percent,
    verdict,
)

GAP = 2  # between pictures: two pairs of 28-column pictures fit 120 columns, one pair fits 60
BAR = 12


def _scale(picture: list[list[float]]) -> float:
    return max((abs(v) for row in picture for v in row), default=0.0) or 1.0


def signed(picture: list[list[float]]) -> SignedPicture:
    """A signed 28x28 map scaled to its own largest |value| (orange +, blue -; a grey ramp without colour)."""
    return SignedPicture(picture, _scale(picture))


def strip(values: list[list[float]]) -> Picture:
    """A hidden layer's outputs (after ReLU, so >= 0) as a grey picture scaled to the largest: black is 0."""
    top = max((v for row in values for v in row), default=0.0) or 1.0
    return Picture([[round(255 * max(0.0, v) / top) for v in row] for row in values])


def _num(value: float) -> str:
    return f"{value:+.3f}"


def _prose(words: str, lang: str, style: str = "") -> RenderableType:
    """Wrapped text, at most 80 columns wide, never breaking inside a class name."""
    return Constrain(Paragraph(words, style=style, keep=class_words(lang)), width=PROSE_WIDTH)


def _heading(words: str, lang: str) -> RenderableType:
    return Paragraph(words, style="bold", keep=class_words(lang))


def _sees(e: Explanation, lang: str, show: bool) -> list[RenderableType]:
    t = lambda key, **values: text(lang, key, **values)  # noqa: E731 - a short local alias reads best here
    cells = [(Picture(e.image), t("inside.caption.input"))]
    parts: list[RenderableType] = [
        _heading(t("inside.sees.title"), lang),
        _prose(t("inside.sees.text", lit=e.lit), lang),
    ]
    if not e.found:
        parts.append(_prose(t("inside.sees.not_found"), lang))
    if show and e.mask is not None:
        cells.insert(0, (mask_picture(e.mask), t("inside.caption.mask")))
    if len(e.drawings) > 1:  # a found photo: every drawing predict averages, each with what it alone gets
        parts.append(_prose(t("inside.sees.drawings", drawings=len(e.drawings)), lang))
        cells = cells[:-1] + [
            (
                Picture(d.image),
                t("inside.caption.drawing", n=n, label=short_class(d.top, lang), percent=percent(d.probability)),
            )
            for n, d in enumerate(e.drawings, start=1)
        ]
    parts += [Text(""), PictureGrid(cells, gap=GAP)]
    if show and e.mask is None:
        parts.append(_prose(t("inside.no_mask.not_found" if not e.found else "inside.no_mask.clean"), lang))
    return parts


def _layer(e: Explanation, layer: HiddenLayer, number: int, first: bool, lang: str) -> list[RenderableType]:
    t = lambda key, **values: text(lang, key, **values)  # noqa: E731
    relu = "." + layer.relu.rsplit(".", 1)[-1]  # "linear_relu_stack.0 + .1"
    title = t(
        "inside.layer.title", number=number, linear=layer.linear, relu=relu, inputs=layer.inputs, units=layer.units
    )
    if len(e.drawings) > 1:
        title += t("inside.layer.of_drawing")
    fire = t("inside.layer.fire", active=layer.active, units=layer.units, silent=layer.units - layer.active)
    parts: list[RenderableType] = [_heading(title, lang), _prose(fire, lang)]
    if layer.activations:  # every output of the layer at once, as CNN Explainer draws a layer
        parts += [
            Text(""),
            PictureGrid(
                [
                    (
                        strip(layer.activations),
                        t(
                            "inside.caption.strip",
                            units=layer.units,
                            rows=len(layer.activations),
                            columns=len(layer.activations[0]),
                        ),
                    )
                ],
                gap=GAP,
            ),
        ]
    if not layer.strongest:
        return parts
    if all(abs(u.from_pixels) < 5e-4 for u in layer.strongest):  # a blank picture: no pixel drove any unit
        return [*parts, _prose(t("inside.layer.no_pixels"), lang)]
    parts.append(_prose(t("inside.layer1.text" if first else "inside.layer2.text"), lang))
    cells = []
    for unit in layer.strongest:
        if unit.weights is not None:
            cells.append((signed(unit.weights), t("inside.caption.weights", unit=unit.index)))
            cells.append((signed(unit.contribution), t("inside.caption.weight_x", unit=unit.index)))
        else:
            cells.append((signed(unit.contribution), t("inside.caption.grad_x", unit=unit.index)))
    sums = [
        _prose(
            t(
                "inside.unit_sum",
                unit=u.index,
                pixels=_num(u.from_pixels),
                bias=_num(u.from_bias),
                value=f"{u.value:.3f}",
            ),
            lang,
        )
        for u in layer.strongest
    ]
    parts += [Text(""), PictureGrid(cells, gap=GAP), *sums]
    return parts


def class_table(e: Explanation, lang: str) -> RenderableType:
    """# · class · logit · softmax · calibrated (· bar), the top class in bold; narrower layouts drop the
    bars, then the English half of translated class names, then the index and the padding, so every
    figure stays whole."""
    t = lambda key: text(lang, key)  # noqa: E731

    def table(names, bars: bool, index: bool = True, gap: int = 1, mean: bool = True) -> Table:
        grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, gap))
        if index:
            grid.add_column("#", justify="right", no_wrap=True)
        grid.add_column(t("inside.col.class"), no_wrap=True)
        # "mean logit" heads a photo's column; the narrowest layout says "logit" (the prose says it is a mean)
        logit = "inside.col.mean_logit" if mean and len(e.drawings) > 1 else "inside.col.logit"
        for key in (logit, "inside.col.softmax", "inside.col.calibrated"):
            grid.add_column(t(key), justify="right", no_wrap=True)
        if bars:
            grid.add_column("", no_wrap=True)
        for score in e.classes:
            row = [str(score.index)] if index else []
            row += [names(score.index), f"{score.logit:+.3f}", percent(score.softmax), percent(score.calibrated)]
            if bars:
                row.append(bar(score.calibrated, BAR).rstrip())
            grid.add_row(*row, style="bold" if score.index == e.top else None)
        return grid

    full, short = (lambda i: class_name(i, lang)), (lambda i: short_class(i, lang))
    layouts = [
        table(full, True),
        table(full, False),
        table(short, False),
        table(short, False, index=False, gap=0),
        table(short, False, index=False, gap=0, mean=False),
    ]
    logit = "mean_logit" if len(e.drawings) > 1 else "logit"
    headers = [t(f"inside.col.{key}") for key in ("class", logit, "softmax", "calibrated")]
    rows = [[full(s.index), f"{s.logit:+.3f}", percent(s.softmax), percent(s.calibrated)] for s in e.classes]
    return first_that_fits(layouts, stack(headers, rows, [s.index == e.top for s in e.classes]))


def why_they_differ(e: Explanation, lang: str) -> str:
    """The sentence under the table: label smoothing (if the recipe used it) and what the temperature does."""
    parts = []
    if e.label_smoothing:
        target = 1 - e.label_smoothing + e.label_smoothing / len(e.classes)
        parts.append(text(lang, "inside.why.smoothing", smoothing=f"{e.label_smoothing:g}", target=f"{target:.0%}"))
    if e.temperature < 1:
        parts.append(text(lang, "inside.why.sharpen"))
    elif e.temperature > 1:
        parts.append(text(lang, "inside.why.soften"))
    else:
        parts.append(text(lang, "inside.why.none"))
    return text(lang, "inside.why.join").join(parts)


def _output(e: Explanation, number: int, lang: str) -> list[RenderableType]:
    t = lambda key, **values: text(lang, key, **values)  # noqa: E731
    inputs = e.layers[-1].units if e.layers else 0
    return [
        _heading(t("inside.output.title", number=number, linear=e.output, inputs=inputs, classes=len(e.classes)), lang),
        _prose(
            t("inside.output.text", temperature=f"{e.temperature:g}")
            if e.temperature != 1.0
            else t("inside.output.text.no_temperature"),
            lang,
        ),
        *([_prose(t("inside.output.averaged", drawings=len(e.drawings)), lang)] if len(e.drawings) > 1 else []),
        Text(""),
        class_table(e, lang),
        Text(""),
        _prose(why_they_differ(e, lang), lang),
    ]


def _saliency(e: Explanation, number: int, lang: str) -> list[RenderableType]:
    t = lambda key, **values: text(lang, key, **values)  # noqa: E731
    name = class_name(e.top, lang)
    logit = e.classes[e.top].logit
    averaged = [_prose(t("inside.saliency.averaged", drawings=len(e.drawings)), lang)] if len(e.drawings) > 1 else []
    return [
        _heading(t("inside.saliency.title", number=number, label=name), lang),
        _prose(
            t(
                "inside.saliency.text",
                label=name,
                up=_num(e.saliency_up),
                down=_num(e.saliency_down),
                bias=_num(e.saliency_bias),
                logit=_num(logit),
            ),
            lang,
        ),
        *averaged,
        _prose(
            t("inside.saliency.baseline", label=name, black=_num(e.black_logit), adds=_num(logit - e.black_logit)), lang
        ),
        Text(""),
        PictureGrid(
            [
                (signed(e.saliency), t("inside.caption.saliency", label=short_class(e.top, lang))),
                (signed(e.occlusion), t("inside.caption.occlusion", label=short_class(e.top, lang))),
            ],
            gap=GAP,
        ),
        _prose(t("inside.occlusion.text", label=name, side=PATCH), lang),
    ]


def _contrast(e: Explanation, number: int, lang: str) -> list[RenderableType]:
    t = lambda key, **values: text(lang, key, **values)  # noqa: E731
    name, other = class_name(e.top, lang), class_name(e.runner_up, lang)
    difference = e.classes[e.top].logit - e.classes[e.runner_up].logit
    caption = t("inside.caption.contrast", label=short_class(e.top, lang), other=short_class(e.runner_up, lang))
    return [
        _heading(t("inside.contrast.title", number=number, label=name, other=other), lang),
        _prose(
            t(
                "inside.contrast.text",
                label=name,
                other=other,
                difference=_num(difference),
                up=_num(e.contrast_up),
                down=_num(e.contrast_down),
                bias=_num(e.contrast_bias),
            ),
            lang,
        ),
        Text(""),
        PictureGrid([(signed(e.contrast), caption)], gap=GAP),
    ]


def explain_view(e: Explanation, lang: str = "en", show: bool = False) -> RenderableType:
    """The whole explanation: header, then the picture, each hidden layer, the logits and the saliency."""
    header = after_colon(printable(e.path) + text(lang, "ui.colon")) + verdict(e, lang)
    parts: list[RenderableType] = [_heading(header, lang), Text(""), *_sees(e, lang, show)]
    number = 2
    for index, layer in enumerate(e.layers):
        parts += [Text(""), *_layer(e, layer, number, index == 0, lang)]
        number += 1
    parts += [
        Text(""),
        *_output(e, number, lang),
        Text(""),
        *_saliency(e, number + 1, lang),
        Text(""),
        *_contrast(e, number + 2, lang),
        Text(""),
    ]
    said = "inside.answer.averaged" if len(e.drawings) > 1 else "inside.answer"
    parts.append(_prose(text(lang, said, drawings=len(e.drawings), verdict=verdict(e, lang)), lang, "bold"))
    parts.append(_prose(text(lang, "inside.legend"), lang, "dim"))
    return Trimmed(Group(*parts))


def show_explanation(
    e: Explanation, device, info, lang: str, show: bool, plot: Path | None, claim, as_json: bool
) -> None:
    """`explain`: the whole explanation as a PNG, then one JSON object or the view."""
    import typer

    from fashionnet.render.output import print_json, print_view, wrote

    if plot is not None:
        from fashionnet.plots import plot_explanation

        plot_explanation(e, plot, claim)
    if as_json:
        from fashionnet.introspect import weights_dict

        print_json({**e.to_dict(), "device": str(device), "weights": weights_dict(info)}, rows=True)
    else:
        from fashionnet.walkthrough import weights_line

        typer.echo(weights_line(info, lang), err=True)
        print_view(explain_view(e, lang, show))
    if plot is not None:
        wrote(plot, lang)
