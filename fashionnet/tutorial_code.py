"""The tutorial page's code as the walkthrough shows it, step by step, and how it runs.

`step_code` writes a step's code: the page's own lines, plus lines fashionnet adds (seed, device,
weights, real images, print width), each marked so a learner can tell them apart. `tutorial_session`
and `run_code` run it the way a fresh Python process would. `fashionnet.walkthrough` turns what the code
printed into steps.
"""

from __future__ import annotations

import contextlib
import inspect
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fashionnet.errors import UsageError, printable
from fashionnet.language import languages, locale, text

if TYPE_CHECKING:
    import torch

    from fashionnet.weights import WeightsInfo

# torch's own default line width: at 80 columns and more the tensors print exactly as in the tutorial;
# narrower terminals get a set_printoptions line (marked as added) so the code still prints what is shown.
TORCH_LINEWIDTH = 80
MIN_LINEWIDTH = 24
PRINT_PREFIX = len("Before ReLU: ")  # the longest text the page prints before a tensor, on the same line


# What the notebook draws after these steps, in the names the page's code defines (matplotlib; English
# titles, as matplotlib's fonts may lack other scripts).
FIGURE_CODE = {
    "forward": """import matplotlib.pyplot as plt

plt.figure(figsize=(2.4, 2.4))
plt.imshow(X[0].cpu().numpy(), cmap="gray", vmin=0, vmax=1)
plt.title("X[0]: 28×28 pixels in [0, 1]")
plt.axis("off")
plt.show()""",
    "predict": """classes = {classes}
probabilities = pred_probab[0].detach().cpu().numpy()
plt.figure(figsize=(5, 2.6))
plt.barh(range(10), probabilities, color=["tab:orange" if i == int(y_pred[0]) else "tab:gray" for i in range(10)])
plt.yticks(range(10), classes)
plt.gca().invert_yaxis()
plt.xlabel("probability (nn.Softmax of the logits)")
plt.show()""",
    "minibatch": """fig, axes = plt.subplots(1, len(input_image), figsize=(2 * len(input_image), 2.2))
for i, (ax, picture) in enumerate(zip(axes, input_image)):
    ax.imshow(picture.cpu().numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"input_image[{{i}}]")
    ax.axis("off")
plt.show()""",
    "parameters": """weights = model.linear_relu_stack[0].weight.detach().cpu()  # (512, 784): a row per unit
fig, axes = plt.subplots(1, 8, figsize=(12, 1.9))
for unit, ax in enumerate(axes):
    row = weights[unit].reshape(28, 28).numpy()
    scale = float(abs(row).max())
    ax.imshow(row, cmap="coolwarm", vmin=-scale, vmax=scale)
    ax.set_title(f"unit {{unit}}")
    ax.axis("off")
fig.suptitle("linear_relu_stack.0.weight rows as 28×28 pictures: red raises the unit, blue lowers it")
plt.show()""",
}


def figure_code(key: str, lang: str) -> str | None:
    """The notebook's drawing cell after step `key` (None: no picture there), marked as fashionnet's."""
    from fashionnet import CLASSES

    code = FIGURE_CODE.get(key)
    if code is None:
        return None
    first, *rest = code.format(classes=list(CLASSES)).split("\n")
    return "\n".join([mark(first, lang), *rest])


# --- Code as shown ----------------------------------------------------------------------------------


def mark(line: str, lang: str) -> str:
    """A line fashionnet adds to the page's code, marked so a learner can tell it from the tutorial."""
    return f"{line}  {text(lang, 'code.added')}"


def is_added(line: str) -> bool:
    """True for a line `mark` produced, in any language."""
    return any(line.endswith("  " + locale(lang)["code.added"]) for lang in languages())


def class_source() -> str:
    """The class exactly as fashionnet runs it, read from its source file so the two cannot drift."""
    from fashionnet.model import NeuralNetwork

    return inspect.getsource(NeuralNetwork).rstrip()


@dataclass
class Setup:
    """What the shown code depends on beyond the page: seed, width, device, weights and real images."""

    seed: int = 0
    linewidth: int = TORCH_LINEWIDTH
    device_override: str | None = None  # a device other than the tutorial's own choice
    weights: str | None = None  # code for load_file's argument; None = the tutorial's random init
    training_keys: bool = False  # the checkpoint also holds optimizer state to leave out
    real: bool = False
    data_dir: str | None = None
    single: int = 0  # the test image of the forward step
    batch: tuple[int, int, int] = (0, 1, 2)  # the three test images of the minibatch
    image: str | None = None  # the user's picture (as typed), used instead of torch.rand

    @property
    def own_images(self) -> bool:
        """Real test images or the user's picture replace the page's torch.rand."""
        return self.real or self.image is not None


def step_code(key: str, setup: Setup, lang: str) -> str:
    """The code of one step as shown: the page's lines, plus marked set-up lines where needed."""
    m = lambda line: mark(line, lang)  # noqa: E731 - a short local alias reads best here
    lines: list[str]
    if key == "imports":
        lines = [
            "import os",
            "import torch",
            "from torch import nn",
            "from torch.utils.data import DataLoader",
            "from torchvision import datasets, transforms",
        ]
        if setup.weights is not None:
            lines.append(m("from safetensors.torch import load_file"))
        if setup.weights == "SHIPPED_WEIGHTS":
            lines.append(m("from fashionnet.weights import SHIPPED_WEIGHTS"))
        if setup.real:
            lines.append(m("from fashionnet.data import load_split"))
        if setup.image is not None:
            lines.append(m("from fashionnet.images import load_image"))
        # Assigned, so that Jupyter and a pasted REPL do not echo the Generator it returns.
        lines.append(m(f"_ = torch.manual_seed({setup.seed})"))
        if setup.linewidth != TORCH_LINEWIDTH:
            lines.append(m(f"torch.set_printoptions(linewidth={setup.linewidth})"))
    elif key == "device":
        lines = [
            "device = (",
            "    torch.accelerator.current_accelerator().type",
            "    if torch.accelerator.is_available()",
            '    else "cpu"',
            ")",
        ]
        if setup.device_override:
            lines.append(m(f"device = {setup.device_override!r}"))
        lines.append('print(f"Using {device} device")')
    elif key == "class":
        lines = class_source().splitlines()
    elif key == "model":
        lines = ["model = NeuralNetwork().to(device)"]
        if setup.weights is not None:
            # load_state_dict returns a report that a REPL would echo: assigned, like the seed's Generator.
            if setup.training_keys:
                lines += [
                    m(f"state = load_file({setup.weights})"),
                    m('_ = model.load_state_dict({k: v for k, v in state.items() if not k.startswith("training.")})'),
                ]
            else:
                lines.append(m(f"_ = model.load_state_dict(load_file({setup.weights}))"))
        lines.append("print(model)")
    elif key == "forward":
        if setup.real:
            where = f", {setup.data_dir!r}" if setup.data_dir else ""
            lines = [
                m(f'test = load_split("test"{where})'),
                m(f"i = {setup.single}"),
                m("X = (test.images[[i]].float() / 255).to(device)"),
            ]
        elif setup.image is not None:
            lines = [
                m(f"picture = torch.from_numpy(load_image({setup.image!r}))"),
                m("X = (picture[None].float() / 255).to(device)"),
            ]
        else:
            lines = ["X = torch.rand(1, 28, 28, device=device)"]
        lines += ["logits = model(X)", m("print(logits)")]
    elif key == "predict":
        lines = [
            "pred_probab = nn.Softmax(dim=1)(logits)",
            "y_pred = pred_probab.argmax(1)",
            'print(f"Predicted class: {y_pred}")',
        ]
    elif key == "minibatch":
        if setup.real:
            first, second, third = setup.batch  # shown as the tutorial-style names j, k, l
            lines = [
                m(f"j, k, l = {first}, {second}, {third}"),
                m("input_image = test.images[[j, k, l]].float() / 255"),
            ]
        elif setup.image is not None:
            lines = [m("input_image = torch.stack([picture, picture.flip(1), picture.flip(0)]).float() / 255")]
        else:
            lines = ["input_image = torch.rand(3,28,28)"]
        lines.append("print(input_image.size())")
    elif key == "flatten":
        lines = ["flatten = nn.Flatten()", "flat_image = flatten(input_image)", "print(flat_image.size())"]
    elif key == "linear":
        lines = [
            "layer1 = nn.Linear(in_features=28*28, out_features=20)",
            "hidden1 = layer1(flat_image)",
            "print(hidden1.size())",
        ]
    elif key == "relu":
        lines = [
            'print(f"Before ReLU: {hidden1}\\n\\n")',
            "hidden1 = nn.ReLU()(hidden1)",
            'print(f"After ReLU: {hidden1}")',
        ]
    elif key == "sequential":
        lines = [
            "seq_modules = nn.Sequential(",
            "    flatten,",
            "    layer1,",
            "    nn.ReLU(),",
            "    nn.Linear(20, 10)",
            ")",
        ]
        lines.append(
            m("# input_image = torch.rand(3,28,28)") if setup.own_images else "input_image = torch.rand(3,28,28)"
        )
        lines += ["logits = seq_modules(input_image)", m("print(logits)")]
    elif key == "softmax":
        lines = ["softmax = nn.Softmax(dim=1)", "pred_probab = softmax(logits)", m("print(pred_probab)")]
    elif key == "parameters":
        lines = [
            'print(f"Model structure: {model}\\n\\n")',
            "",
            "for name, param in model.named_parameters():",
            '    print(f"Layer: {name} | Size: {param.size()} | Values : {param[:2]}\\n")',
        ]
    else:
        raise KeyError(key)
    return "\n".join(lines)


def page_lines(code: str) -> list[str]:
    """The page's own lines of a step's code: fashionnet's marked additions and comments left out."""
    return [
        line for line in code.splitlines() if line.strip() and not is_added(line) and not line.lstrip().startswith("#")
    ]


# --- Running the code -------------------------------------------------------------------------------


@contextlib.contextmanager
def tutorial_session(device: torch.device | None = None):
    """Run shown code the way a fresh Python process would (torch's default print options, autograd
    on) without disturbing the caller: the global random state and print options come back afterwards."""
    import torch

    saved = _print_options(torch)
    devices = [device.index or 0] if device is not None and device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.enable_grad():
        torch.set_printoptions(profile="default")
        try:
            yield
        finally:
            if saved is not None:
                torch.set_printoptions(**saved)
            else:
                torch.set_printoptions(profile="default")


def _print_options(torch) -> dict | None:
    """torch's print options now, or None where a torch no longer keeps them where 2.x does: torch has no
    public getter, so this reads the private `torch._tensor_str.PRINT_OPTS`, and without it the caller gets
    the default profile back (what a fresh process has)."""
    try:
        opts = torch._tensor_str.PRINT_OPTS
        return {k: getattr(opts, k) for k in ("precision", "threshold", "edgeitems", "linewidth", "sci_mode")}
    except AttributeError:
        return None


def run_code(code: str, namespace: dict) -> str:
    """Execute `code` in `namespace` and return what it printed."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(code, "<walkthrough>", "exec"), namespace)  # noqa: S102 - our own, shown code
    return buffer.getvalue()


def linewidth_for(width: int | None) -> int:
    """torch's print width for a terminal of `width` columns: the default where it fits; narrower, room
    for the page's "Before ReLU: " too, which torch does not count, so no printed line is wider than the
    terminal."""
    if width is None or width >= TORCH_LINEWIDTH:
        return TORCH_LINEWIDTH
    return max(MIN_LINEWIDTH, width - PRINT_PREFIX)


def make_setup(
    device: torch.device,
    weights_info: WeightsInfo | None,
    seed: int,
    real: bool,
    data_dir: Path | str | None,
    width: int | None,
    test_size: int = 0,
    image: str | None = None,
) -> Setup:
    """The Setup of one walk: a device line only where the device is not the tutorial's own choice, the
    weights loaded by the name the code shows, and with --real the test images the seed picks."""
    import torch

    accelerator = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else None
    tutorial = accelerator.type if accelerator is not None else "cpu"
    same = str(device) == tutorial or (
        device.type == tutorial != "cpu" and device.index == torch.accelerator.current_device_index()
    )
    setup = Setup(seed=seed, linewidth=linewidth_for(width), device_override=None if same else str(device))
    if weights_info is not None and weights_info.source != "random":
        from fashionnet.weights import SHIPPED_WEIGHTS, TRAINING_PREFIX

        path = Path(weights_info.path) if weights_info.path else SHIPPED_WEIGHTS
        from fashionnet.outside_text import is_text

        if not is_text(str(path)):  # the code would name it wrongly, and safetensors opens UTF-8 names only
            raise UsageError(
                f"{printable(str(path))}: the walkthrough's code loads the weights by name, and this "
                "name is not UTF-8 text; copy the file to a name that is"
            )
        setup.weights = "SHIPPED_WEIGHTS" if weights_info.source == "shipped" else repr(str(path))
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            setup.training_keys = any(k.startswith(TRAINING_PREFIX) for k in f.keys())  # noqa: SIM118 - safe_open has keys() but no __iter__
    setup.image = image
    if real:
        setup.real = True
        setup.data_dir = str(data_dir) if data_dir is not None else None
        if test_size < 1:
            raise UsageError("the test split holds no images")
        generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(test_size, generator=generator).tolist()
        picks = [order[i % test_size] for i in range(4)]  # fewer than 4 images: repeat rather than refuse
        setup.single, setup.batch = picks[0], (picks[1], picks[2], picks[3])
    return setup
