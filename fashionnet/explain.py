"""`fashionnet explain`: one picture through the trained network, stage by stage, as plain data.

For this ReLU network every number on the way is exact arithmetic a learner can check. A first-layer
unit computes sum(weight × pixel) + bias. Once the ReLUs have fired, the network is linear in its input
(each ReLU either passes its value or blocks it), so any later value is sum(gradient × pixel) plus a
term made of biases alone, the gradient taken with the ReLUs as they fired. So "what in this picture
drove it" is a 28x28 picture whose values add up, with the bias term, to the number shown. The same
decomposition of the top class's logit is the saliency picture: which pixels pushed it up or down,
and of the top logit minus the runner-up's, the contrastive picture (why this class and not that one).

One answer per picture: the logits, probabilities and pictures of the answer are those of what `predict`
decides (`predict.decide`, the same code): for a found photo, the mean over every drawing predict makes of
it; the hidden layers are shown for the first drawing. Two views that do not add up exactly sit beside
the exact ones and say so: the logit of an all-black picture (the baseline the picture moves the logit
from), and greyed squares (occlusion), a smoother map in which black pixels can count too.

`explain()` returns plain data (lists, numbers); `fashionnet.render.explain` draws it, `--json` prints it.
torch is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, BinaryIO, SupportsFloat, cast

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
STRIP_WIDTH = 32  # a hidden layer's 512 outputs drawn as 16 rows of 32
PATCH = 4  # occlusion: the side of the grey square that covers part of the picture
FILL = 0.286  # ...and its grey: FashionMNIST's mean pixel (recipe.Recipe.mean), what an "average" pixel is


def occlusion(model: torch.nn.Module, x: torch.Tensor, top: int, side: int = PATCH, fill: float = FILL) -> torch.Tensor:
    """What covering each part of the picture does to the `top` logit (mean over the drawings `x`, (k, 784)):
    every side×side square in turn is filled with grey; a pixel's value is the mean drop of the logit over
    the squares that cover it. Smoother than gradient × pixel, and a black pixel can count: greying it
    changes the logit. Positive: covering it lowers the logit (evidence for the class)."""
    import torch

    with torch.no_grad():
        images = x.detach().reshape(len(x), SIDE, SIDE)
        spots = [(r, c) for r in range(SIDE - side + 1) for c in range(SIDE - side + 1)]
        covered = images.repeat(len(spots), 1, 1, 1)  # (spots, drawings, 28, 28)
        for i, (r, c) in enumerate(spots):
            covered[i, :, r : r + side, c : c + side] = fill
        scores = model(covered.reshape(-1, SIDE, SIDE))[:, top].reshape(len(spots), len(x)).double().mean(1)
        drop = model(images)[:, top].double().mean() - scores
        total = torch.zeros(SIDE, SIDE, dtype=torch.float64, device=drop.device)
        count = torch.zeros_like(total)
        for i, (r, c) in enumerate(spots):
            total[r : r + side, c : c + side] += drop[i]
            count[r : r + side, c : c + side] += 1
    return (total / count).reshape(-1)


DEFAULT_UNITS = 3  # strongest units shown per hidden layer
MAX_UNITS = 16
DIGITS = 6  # figures are rounded to this many decimals, so --json is the same bytes run to run


def _round(value: SupportsFloat) -> float:
    return round(float(value), DIGITS) + 0.0  # + 0.0 turns -0.0 into 0.0


def _probability(value: float) -> float:
    """A probability to 6 significant figures: 3.7e-7 stays 3.7e-7 (rounded to 6 places it would read 0)."""
    return float(f"{float(value):.6g}")


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
    activations: list[list[float]] = field(default_factory=list)  # all its outputs (after ReLU), 16 rows of 32

    def to_dict(self) -> dict:
        return asdict(self)  # in field order, the strongest units included


@dataclass
class ClassScore:
    """One class as predict decides it: `logit` is the mean over the drawings (one drawing: its own logit)."""

    index: int
    label: str
    logit: float
    softmax: float  # the tutorial's nn.Softmax of the raw logits
    calibrated: float  # softmax(logits / temperature): what predict reports (logits: the mean over the drawings)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Drawing:
    """One of the drawings predict classifies for the picture (a found photo's garment mask is drawn as
    found, then thinner and thicker), with what that drawing alone would get."""

    image: list[list[int]]  # (28, 28) 0..255
    top: int  # its own top class
    probability: float  # that class's calibrated probability, for this drawing alone

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
    image: list[list[int]]  # (28, 28) 0..255 (the model divides by 255): the first drawing, light garment on black
    found: bool  # False: no garment stood out (a blank picture, a wall)
    lit: int  # pixels above 0 (of 784)
    layers: list[HiddenLayer]  # the first drawing's
    output: str  # the last Linear layer's name
    classes: list[ClassScore]  # in class order
    top: int  # the class with the largest logit
    temperature: float
    label_smoothing: float | None  # the recipe's, when the checkpoint records it
    saliency: list[list[float]]  # 28x28 gradient × pixel of the top class's logit (mean over the drawings)
    saliency_up: float  # sum of the positive values: pixels that pushed the top class up
    saliency_down: float  # sum of the negative values: pixels that pushed it down
    saliency_bias: float  # logit - (up + down): what the biases of the units this picture switched on add
    black_logit: float  # the top class's logit for an all-black picture: the baseline the picture moves it from
    runner_up: int  # the second most likely class
    contrast: list[list[float]]  # 28x28 gradient × pixel of (top logit - runner-up's logit), mean over the drawings
    contrast_up: float  # pixels that favour the top class
    contrast_down: float  # pixels that favour the runner-up
    contrast_bias: float  # what the biases add to the difference
    occlusion: list[list[float]]  # 28x28: how much greying the squares over each pixel lowers the top logit
    answer: Answer
    drawings: list[Drawing]  # every drawing predict averages, in its order (one for all but found photos)
    mask: np.ndarray | None = field(default=None, repr=False)  # a photo's garment mask, for --show and --plot

    def to_dict(self) -> dict:
        """Everything shown, in a fixed key order (the JSON is the same bytes on every run)."""
        return {
            "path": self.path,
            "image": self.image,
            "found": self.found,
            "lit_pixels": self.lit,
            "mask": None
            if self.mask is None
            else {
                "height": int(self.mask.shape[0]),
                "width": int(self.mask.shape[1]),
                "garment_share": _round(self.mask.mean()),
            },
            "layers": [layer.to_dict() for layer in self.layers],  # (JSON keys in dataclass field order)
            "output_layer": self.output,
            "classes": [score.to_dict() for score in self.classes],
            "top": self.top,
            "temperature": self.temperature,
            "label_smoothing": self.label_smoothing,
            "saliency": {
                "class": self.top,
                "label": CLASSES[self.top],
                "gradient_times_input": self.saliency,
                "pushed_up": self.saliency_up,
                "pushed_down": self.saliency_down,
                "from_bias": self.saliency_bias,
                "black_picture_logit": self.black_logit,
            },
            "contrast": {
                "class": self.top,
                "against": self.runner_up,
                "label": CLASSES[self.top],
                "against_label": CLASSES[self.runner_up],
                "gradient_times_input": self.contrast,
                "pushed_up": self.contrast_up,
                "pushed_down": self.contrast_down,
                "from_bias": self.contrast_bias,
            },
            "occlusion": {"class": self.top, "patch": PATCH, "fill": FILL, "logit_drop": self.occlusion},
            "answer": self.answer.to_dict(),
            "drawings": [drawing.to_dict() for drawing in self.drawings],
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


def test_picture(index: int, data_dir=None) -> tuple[str, View]:
    """FashionMNIST test image `index` as explain's input: its name ('test image #5806, labelled Shirt')
    and the view predict would have of it saved as a 28x28 PNG (no garment to find)."""
    from fashionnet import data

    test = data.load_split("test", data_dir)
    if index >= len(test.labels):
        count = len(test.labels)
        raise UsageError(f"--test-index {index}: the test set has {count:,} images (0 to {count - 1:,})")
    image = np.ascontiguousarray(test.images[index].numpy(), dtype=np.uint8)
    return f"test image #{index}, labelled {CLASSES[int(test.labels[index])]}", View(image)


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
    """Run every drawing predict classifies for this picture through `model` stage by stage (see the
    module docstring): the hidden layers of the first drawing, and the logits, probabilities and saliency
    of what predict decides from all of them (`predict.decide`, the same code)."""
    import torch

    from fashionnet.predict import decide, decide_view

    model.eval()
    stack = model.linear_relu_stack
    layers_in = list(cast("torch.nn.Sequential", stack))
    names = [f"linear_relu_stack.{i}" for i in range(len(layers_in))]
    drawn = view.drawings()  # what predict classifies: the picture, and for a found photo its other drawings
    count = len(drawn)
    x = torch.from_numpy(np.ascontiguousarray(drawn)).to(device).float().div(255).reshape(count, -1)
    x.requires_grad_(True)
    with torch.enable_grad():
        values = [x]  # the input, then every module's output: Linear, ReLU, Linear, ReLU, Linear
        for module in layers_in:
            values.append(module(values[-1]))
        logits = values[-1]  # (drawings, 10)
        # The same modules on a black picture with every ReLU frozen as it fired: what the biases alone
        # add at each stage. A value minus this is exactly the part the pixels made.
        with torch.no_grad():
            frozen = [torch.zeros_like(x)]
            for module, out in zip(layers_in, values[1:], strict=True):
                frozen.append(frozen[-1] * (out > 0) if isinstance(module, torch.nn.ReLU) else module(frozen[-1]))
            black = model(torch.zeros(1, SIDE, SIDE, device=device))[0]  # an all-black picture, ReLUs as it fires them

        def through_pixels(out: torch.Tensor) -> torch.Tensor:
            (grad,) = torch.autograd.grad(out, x, retain_graph=True)
            return (grad * x).sum(0).detach()  # (784,): a sum over the drawings (only one has a gradient per unit)

        hidden: list[HiddenLayer] = []
        for i in range(0, len(layers_in) - 1, 2):  # the first drawing's hidden layers
            linear, after = cast("torch.nn.Linear", layers_in[i]), values[i + 2][0].detach()
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
                strongest.append(
                    Unit(u, _round(after[u]), _round(from_pixels[u]), _round(bias[u]), _picture(contribution), picture)
                )
            strip = [
                [_round(v) for v in after[row : row + STRIP_WIDTH].tolist()]
                for row in range(0, len(after), STRIP_WIDTH)
            ]
            hidden.append(
                HiddenLayer(
                    names[i], names[i + 1], linear.in_features, linear.out_features, len(fired), strongest, strip
                )
            )
        temperature = info.temperature
        members = np.zeros(count, dtype=np.int64) if count > 1 else None
        decision = decide(logits.detach().double().cpu(), temperature, members)  # predict's decision, its code
        top = int(decision.probabilities[0].argmax())
        # The decided logit is the mean over the drawings, and so is its saliency: d(mean)/dx_d × x_d, summed.
        saliency = through_pixels(logits[:, top].mean())
        logit_bias = float(frozen[-1][:, top].double().mean())
        # Why the top class and not the runner-up: the same decomposition of their logits' difference.
        second = int(decision.probabilities[0].argsort(descending=True)[1])
        contrast = through_pixels((logits[:, top] - logits[:, second]).mean())
        contrast_bias = float((frozen[-1][:, top] - frozen[-1][:, second]).double().mean())
    covered = occlusion(model, x, top)
    alone = decide(logits.detach().double().cpu(), temperature)  # each drawing on its own, for its caption
    mean = decision.logits[0]
    up = float(saliency[saliency > 0].double().sum())
    down = float(saliency[saliency < 0].double().sum())
    softmax = mean.softmax(0).tolist()
    calibrated = decision.probabilities[0].tolist()
    classes = [
        ClassScore(i, CLASSES[i], _round(float(mean[i])), _probability(softmax[i]), _probability(calibrated[i]))
        for i in range(len(CLASSES))
    ]
    # What predict answers for this file, "not sure" included: its own function on the same decoded view.
    prediction = decide_view(path, view, model, device, temperature, threshold)
    label, index, probability = prediction.label, prediction.index, prediction.probability
    assert label is not None and index is not None and probability is not None  # decide_view raised otherwise
    answer = Answer(label, index, _probability(probability), bool(prediction.sure), count)
    drawings = [
        Drawing(np.asarray(d).astype(int).tolist(), int(p.argmax()), _probability(p.max()))
        for d, p in zip(drawn, alone.probabilities, strict=True)
    ]
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
        black_logit=_round(float(black[top])),
        runner_up=second,
        contrast=_picture(contrast),
        contrast_up=_round(float(contrast[contrast > 0].double().sum())),
        contrast_down=_round(float(contrast[contrast < 0].double().sum())),
        contrast_bias=_round(contrast_bias),
        occlusion=_picture(covered),
        answer=answer,
        drawings=drawings,
        mask=view.mask,
    )
