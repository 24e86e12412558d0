"""`fashionnet explain`: one picture through the trained network, stage by stage, as plain data.

For this ReLU network every number on the way is exact arithmetic a learner can check. A first-layer
unit computes sum(weight × pixel) + bias. Once the ReLUs have fired, the network is linear in its input
(each ReLU either passes its value or blocks it), so any later value is sum(gradient × pixel) plus a
term made of biases alone, the gradient taken with the ReLUs as they fired. So "what in this picture
drove it" is a 28x28 picture whose values add up, with the bias term, to the number shown. The same
decomposition of the top class's logit is the saliency picture: which pixels pushed it up or down.

`explain()` returns plain data (lists, numbers); `fashionnet.render.explain` draws it, `--json` prints it.
torch is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from fashionnet import CLASSES
from fashionnet.calibration import DEFAULT_THRESHOLD
from fashionnet.errors import UsageError, printable
from fashionnet.images import BadImage, View

if TYPE_CHECKING:
    import torch

    from fashionnet.inputs import Input
    from fashionnet.weights import WeightsInfo

SIDE = 28
DEFAULT_UNITS = 3  # strongest units shown per hidden layer
MAX_UNITS = 16
DIGITS = 6  # figures are rounded to this many decimals, so --json is the same bytes run to run


def _round(value: float) -> float:
    return round(float(value), DIGITS) + 0.0  # + 0.0 turns -0.0 into 0.0


def _picture(values: torch.Tensor) -> list[list[float]]:
    """784 values -> 28 rows of 28 rounded floats."""
    return [[_round(v) for v in row] for row in values.detach().reshape(SIDE, SIDE).double().cpu().tolist()]


@dataclass
class Unit:
    """One hidden unit as it fired on this picture: value = from_pixels + from_bias, exactly."""

    index: int
    value: float  # the unit's output (after ReLU; these are the strongest, so it fired)
    from_pixels: float  # the sum of `contribution`
    from_bias: float  # the rest: the unit's bias (first layer), or the biases feeding it (deeper)
    contribution: list[list[float]]  # 28x28: weight × pixel (first layer) or gradient × pixel (deeper)
    weights: list[list[float]] | None = None  # first layer only: the unit's 784 weights as a picture

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class HiddenLayer:
    """A Linear layer and the ReLU after it: how many of its units fire, and the strongest ones."""

    linear: str  # e.g. "linear_relu_stack.0"
    relu: str  # e.g. "linear_relu_stack.1"
    inputs: int
    units: int
    active: int  # units whose output is above 0 (the others pass nothing on)
    strongest: list[Unit]

    def to_dict(self) -> dict:
        return asdict(self)  # in field order, the strongest units included


@dataclass
class ClassScore:
    index: int
    label: str
    logit: float
    softmax: float  # the tutorial's nn.Softmax of the raw logits
    calibrated: float  # softmax(logits / temperature), what predict reports for a single drawing

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Answer:
    """What `predict` says about the same file (for a photo: the logits of its drawings averaged)."""

    label: str
    index: int
    probability: float
    sure: bool
    drawings: int  # how many drawings of the picture were averaged (1 except for found photos)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Explanation:
    path: str
    image: list[list[int]]  # (28, 28) 0..255: what the model sees, light garment on black
    found: bool  # False: no garment stood out (a blank picture, a wall)
    lit: int  # pixels above 0 (of 784)
    layers: list[HiddenLayer]
    output: str  # the last Linear layer's name
    classes: list[ClassScore]  # in class order
    top: int  # the class with the largest logit
    temperature: float
    label_smoothing: float | None  # the recipe's, when the checkpoint records it
    saliency: list[list[float]]  # 28x28 gradient × pixel of the top class's logit
    saliency_up: float  # sum of the positive values: pixels that pushed the top class up
    saliency_down: float  # sum of the negative values: pixels that pushed it down
    saliency_bias: float  # logit - (up + down): what the biases add
    answer: Answer
    mask: np.ndarray | None = field(default=None, repr=False)  # a photo's garment mask, for --show and --plot

    def to_dict(self) -> dict:
        """Everything shown, in a fixed key order (the JSON is the same bytes on every run)."""
        return {
            "path": self.path,
            "image": self.image,
            "found": self.found,
            "lit_pixels": self.lit,
            "mask": None if self.mask is None else {"height": int(self.mask.shape[0]), "width": int(self.mask.shape[1]),
                                                    "garment_share": _round(self.mask.mean())},
            "layers": [layer.to_dict() for layer in self.layers],  # (JSON keys in dataclass field order)
            "output_layer": self.output,
            "classes": [score.to_dict() for score in self.classes],
            "top": self.top,
            "temperature": self.temperature,
            "label_smoothing": self.label_smoothing,
            "saliency": {"class": self.top, "label": CLASSES[self.top], "gradient_times_input": self.saliency,
                         "pushed_up": self.saliency_up, "pushed_down": self.saliency_down, "from_bias": self.saliency_bias},
            "answer": self.answer.to_dict(),
        }


def one_input(picture: str, stdin: BinaryIO | None = None) -> Input:
    """The one picture to explain, collected as predict collects its inputs (so `~`, a quoted glob and
    `-` for stdin work alike); a folder or a pattern naming several files is refused, a problem found
    while collecting is that file's error."""
    from fashionnet.inputs import collect_inputs

    items = collect_inputs([picture], stdin=stdin)
    if len(items) != 1:
        raise UsageError(f"{printable(picture)}: names {len(items)} files; explain takes one picture")
    if items[0].error is not None:
        raise BadImage(items[0].path, items[0].error)
    return items[0]


def view_of_decoded(decoded: tuple) -> View:
    """predict's (input, view, error) for one file -> its View, or that file's one-line error."""
    item, view, error = decoded
    if error is not None:
        raise BadImage(printable(item.path), error)
    return view


def label_smoothing_of(info: WeightsInfo) -> float | None:
    recipe = info.metadata.get("recipe")
    value = recipe.get("label_smoothing") if isinstance(recipe, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def explain(
    path: str,
    view: View,
    model: torch.nn.Module,
    device: torch.device,
    info: WeightsInfo,
    units: int = DEFAULT_UNITS,
    threshold: float = DEFAULT_THRESHOLD,
) -> Explanation:
    """Run one decoded picture through `model` stage by stage (see the module docstring)."""
    import torch

    from fashionnet.inputs import Input
    from fashionnet.predict import predict_decoded

    model.eval()
    stack = model.linear_relu_stack
    layers_in = [module for module in stack]
    names = [f"linear_relu_stack.{i}" for i in range(len(layers_in))]
    x = torch.from_numpy(np.ascontiguousarray(view.image)).to(device).float().div(255).reshape(1, -1)
    x.requires_grad_(True)
    with torch.enable_grad():
        values = [x]  # the input, then every module's output: Linear, ReLU, Linear, ReLU, Linear
        for module in layers_in:
            values.append(module(values[-1]))
        logits = values[-1][0]
        # The same modules on a black picture with every ReLU frozen as it fired: what the biases alone
        # add at each stage. A value minus this is exactly the part the pixels made.
        with torch.no_grad():
            frozen = [torch.zeros_like(x)]
            for module, out in zip(layers_in, values[1:]):
                frozen.append(frozen[-1] * (out > 0) if isinstance(module, torch.nn.ReLU) else module(frozen[-1]))

        def through_pixels(out: torch.Tensor) -> torch.Tensor:
            (grad,) = torch.autograd.grad(out, x, retain_graph=True)
            return (grad * x)[0].detach()

        hidden: list[HiddenLayer] = []
        for i in range(0, len(layers_in) - 1, 2):
            linear, after = layers_in[i], values[i + 2][0].detach()
            bias = frozen[i + 1][0]
            from_pixels = values[i + 1][0].detach() - bias
            # The units this picture drove hardest: largest pixel part among those that fired. (Ranked by
            # output, a few units with large biases would top the list for every picture.)
            fired = torch.nonzero(after > 0).flatten()
            ranked = fired[torch.argsort(from_pixels[fired], descending=True, stable=True)][:units].tolist()
            strongest = []
            for u in ranked:
                if i == 0:
                    weights = linear.weight[u].detach()
                    contribution, picture = (weights * x[0]).detach(), _picture(weights)
                else:
                    contribution, picture = through_pixels(values[i + 1][0, u]), None
                strongest.append(Unit(u, _round(after[u]), _round(from_pixels[u]), _round(bias[u]),
                                      _picture(contribution), picture))
            hidden.append(HiddenLayer(names[i], names[i + 1], linear.in_features, linear.out_features,
                                      len(fired), strongest))
        top = int(logits.argmax())
        saliency = through_pixels(logits[top])
        logit_bias = float(frozen[-1][0, top])
    logits = logits.detach().double().cpu()
    up = float(saliency[saliency > 0].double().sum())
    down = float(saliency[saliency < 0].double().sum())
    temperature = info.temperature
    softmax = logits.softmax(0).tolist()
    calibrated = (logits / temperature).softmax(0).tolist()
    classes = [ClassScore(i, CLASSES[i], _round(logits[i]), _round(softmax[i]), _round(calibrated[i]))
               for i in range(len(CLASSES))]
    # What predict answers for this file: the same function, the same averaging of a photo's drawings.
    (prediction,) = predict_decoded([(Input(path), view, None)], model, device, top_k=1, temperature=temperature,
                                    threshold=threshold)
    drawings = 1 if view.variants is None else 1 + len(view.variants)
    answer = Answer(prediction.label, prediction.index, _round(prediction.probability), bool(prediction.sure), drawings)
    image = np.asarray(view.image)
    return Explanation(
        path=path,
        image=image.astype(int).tolist(),
        found=bool(view.found),
        lit=int((image > 0).sum()),
        layers=hidden,
        output=names[-1],
        classes=classes,
        top=top,
        temperature=_round(temperature),
        label_smoothing=label_smoothing_of(info),
        saliency=_picture(saliency),
        saliency_up=_round(up),
        saliency_down=_round(down),
        saliency_bias=_round(logit_bias),
        answer=answer,
        mask=view.mask,
    )
