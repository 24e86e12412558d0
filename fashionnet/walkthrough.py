"""The "Build the Neural Network" tutorial as data: every step computed live, nothing printed.

`build_steps()` runs the tutorial's code on a real model and returns a list of `Step`s holding
already-translated text and already-formatted tensors; `fashionnet.render.walkthrough` draws them.
Keeping the two apart lets tests check the numbers without a terminal and the CLI pause between steps.

torch is imported inside the functions that need it, so importing this module (for TEXT, STEP_KEYS
or check_step) stays cheap.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from fashionnet import CLASSES
from fashionnet.errors import UsageError

if TYPE_CHECKING:
    import torch

    from fashionnet.weights import WeightsInfo

LANGS = ("en", "zh")

# The tutorial's order; a step's number is its position here, plus one.
STEP_KEYS: tuple[str, ...] = (
    "device",
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

# Tensors are printed the way torch prints them, but narrow enough for an 80-column terminal once
# the panel border and padding (4 columns) are added.
TEXT_WIDTH = 76

CLASSES_ZH: tuple[str, ...] = (
    "T恤/上衣",
    "裤子",
    "套头衫",
    "连衣裙",
    "外套",
    "凉鞋",
    "衬衫",
    "运动鞋",
    "包",
    "短靴",
)

# The code each step runs, as the tutorial writes it ("real" variants read FashionMNIST test images).
CODE: dict[str, str] = {
    "device": """device = (
    torch.accelerator.current_accelerator().type
    if torch.accelerator.is_available()
    else "cpu"
)
print(f"Using {device} device")""",
    "model": "model = NeuralNetwork().to(device)\nprint(model)",
    "forward": "X = torch.rand(1, 28, 28, device=device)\nlogits = model(X)",
    "forward.real": "X = test_images[[i]].float() / 255   # uint8 (1, 28, 28) -> [0, 1]\nlogits = model(X.to(device))",
    "predict": """pred_probab = nn.Softmax(dim=1)(logits)
y_pred = pred_probab.argmax(1)
print(f"Predicted class: {y_pred}")""",
    "minibatch": "input_image = torch.rand(3,28,28)\nprint(input_image.size())",
    "minibatch.real": "input_image = test_images[[i, j, k]].float() / 255\nprint(input_image.size())",
    "flatten": "flatten = nn.Flatten()\nflat_image = flatten(input_image)\nprint(flat_image.size())",
    "linear": """layer1 = nn.Linear(in_features=28*28, out_features=20)
hidden1 = layer1(flat_image)
print(hidden1.size())""",
    "relu": """print(f"Before ReLU: {hidden1}")
hidden1 = nn.ReLU()(hidden1)
print(f"After ReLU: {hidden1}")""",
    "sequential": """seq_modules = nn.Sequential(
    flatten,
    layer1,
    nn.ReLU(),
    nn.Linear(20, 10)
)
input_image = torch.rand(3,28,28)
logits = seq_modules(input_image)
print(seq_modules)
print(logits.size())""",
    "sequential.real": """seq_modules = nn.Sequential(
    flatten,
    layer1,
    nn.ReLU(),
    nn.Linear(20, 10)
)
logits = seq_modules(input_image)
print(seq_modules)
print(logits.size())""",
    "softmax": "softmax = nn.Softmax(dim=1)\npred_probab = softmax(logits)\nprint(pred_probab)",
    "parameters": """for name, param in model.named_parameters():
    print(f"Layer: {name} | Size: {param.size()} | Values : {param[:2]}")""",
}

# Every user-facing word, in both languages, in one place so a test can prove the two tables match.
# Explanations are our own words, not the tutorial's sentences; code identifiers stay as they are.
TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title.device": "Choose where to compute",
        "title.model": "The model and its layers",
        "title.forward": "One image through the model",
        "title.predict": "From scores to a prediction",
        "title.minibatch": "A minibatch of three images",
        "title.flatten": "nn.Flatten: images become vectors",
        "title.linear": "nn.Linear: a learned linear map",
        "title.relu": "nn.ReLU: the non-linearity",
        "title.sequential": "nn.Sequential: layers in a row",
        "title.softmax": "nn.Softmax: scores to probabilities",
        "title.parameters": "The model's parameters",
        "explain.device": (
            "The same PyTorch code runs on an accelerator (CUDA, MPS, XPU, ...) or on the CPU. "
            "We ask torch.accelerator whether one is present and fall back to the CPU when it is not; "
            "the model and the tensors below all live on that device."
        ),
        "explain.model": (
            "NeuralNetwork subclasses nn.Module: __init__ creates the layers once, and forward says how "
            "an input flows through them. Printing the model lists every submodule with its sizes: a "
            "Flatten, then three Linear layers with a ReLU between each pair, ending in 10 outputs, one "
            "per clothing class."
        ),
        "explain.forward": (
            "Calling model(X) runs forward for us, together with PyTorch's own bookkeeping, so never call "
            "model.forward() yourself. Here X is one 28×28 image of random pixels. What comes back is a "
            "[1, 10] tensor of logits: raw, unbounded scores, one per class."
        ),
        "explain.forward.real": (
            "Calling model(X) runs forward for us, together with PyTorch's own bookkeeping, so never call "
            "model.forward() yourself. Here X is one real FashionMNIST test image, scaled to [0, 1]. What "
            "comes back is a [1, 10] tensor of logits: raw, unbounded scores, one per class."
        ),
        "explain.predict": (
            "nn.Softmax(dim=1) turns the 10 logits into probabilities that add up to 1 across the class "
            "dimension, and argmax(1) picks the most likely class. With untrained random weights the "
            "winner is little more than a coin toss; trained weights make it mean something."
        ),
        "explain.minibatch": (
            "To watch the layers one at a time we take a small batch: three 28×28 images stacked into one "
            "tensor. The first dimension counts the images; every layer below keeps it and reshapes or "
            "transforms the rest."
        ),
        "explain.minibatch.real": (
            "To watch the layers one at a time we take a small batch: three real test images stacked into "
            "one tensor, shown with their true labels and what the model predicts for them. The first "
            "dimension counts the images; every layer below keeps it and transforms the rest."
        ),
        "explain.flatten": (
            "nn.Flatten leaves dim 0 (the batch) alone and lays each 28×28 grid out row after row as one "
            "vector of 784 numbers, because a Linear layer expects flat feature vectors."
        ),
        "explain.linear": (
            "layer1 holds a [20, 784] weight matrix and a bias of 20 values; it computes "
            "flat_image @ weight.T + bias, so each image's 784 pixels become 20 numbers. These weights "
            "are what training adjusts."
        ),
        "explain.relu": (
            "Linear layers stacked on their own still add up to a single linear map. ReLU replaces every "
            "negative value with 0 and keeps positive ones; placed between linear layers it lets the "
            "network bend its mapping and fit complicated patterns. Other activations exist; this model "
            "uses ReLU."
        ),
        "explain.sequential": (
            "nn.Sequential is a container that calls its modules one after another, feeding each output "
            "into the next module. Here seq_modules chains the pieces built above (flatten, layer1, a "
            "ReLU) with a new Linear(20, 10), giving 10 scores per image."
        ),
        "explain.softmax": (
            "Logits can be any real number. Softmax exponentiates them and divides by their total, so "
            "every value lands in [0, 1]; dim=1 means this normalisation runs along each row, which is "
            "why each image's 10 values sum to 1."
        ),
        "explain.parameters": (
            "The weights and biases of every Linear layer are nn.Parameter tensors. Since NeuralNetwork "
            "subclasses nn.Module they are registered automatically, and named_parameters() yields each "
            "one with its name. Below: every parameter's size and its first two rows (param[:2])."
        ),
        "ui.step": "Step {number}/{total}",
        "ui.colon": ":",
        "ui.pair": "{label}: {value}",
        "ui.output": "Output",
        "ui.device": "device",
        "ui.accelerator": "accelerator available",
        "ui.yes": "yes",
        "ui.no": "no",
        "ui.weights": "weights",
        "ui.parameters_total": "parameters in total",
        "ui.logits": "logits",
        "ui.random_pixels": "random pixels",
        "ui.image_n": "image {n}",
        "ui.test_image": "test image #{index}",
        "ui.true_label": "true label",
        "ui.predicted": "predicted",
        "ui.true_short": "true",
        "ui.model_short": "model",
        "ui.correct": "correct",
        "ui.class": "class",
        "ui.probability": "probability",
        "ui.note": "",
        "ui.flat_length": "values per image",
        "ui.layer1_weight": "layer1.weight",
        "ui.layer1_bias": "layer1.bias",
        "ui.before_relu": "Before ReLU",
        "ui.after_relu": "After ReLU",
        "ui.negatives": "negative before",
        "ui.zeros": "zero after",
        "ui.count_of": "{count} of {total}",
        "ui.row_sums": "row sums",
        "ui.value_range": "smallest / largest",
        "ui.pause": "Press Enter for the next step (Ctrl-C stops)",
        "ui.step_range": "--step {step} is out of range: choose a step from 1 to {total}",
        "weights.random": "random init, seed {seed} (untrained: predictions are guesses)",
        "weights.shipped": "shipped trained weights",
        "weights.accuracy": " (test accuracy {accuracy:.2%})",
    },
    "zh": {
        "title.device": "选择计算设备",
        "title.model": "模型与它的各层",
        "title.forward": "一张图像走过模型",
        "title.predict": "从分数到预测",
        "title.minibatch": "三张图像组成的小批次",
        "title.flatten": "nn.Flatten:把图像摊成向量",
        "title.linear": "nn.Linear:可学习的线性映射",
        "title.relu": "nn.ReLU:引入非线性",
        "title.sequential": "nn.Sequential:把各层按顺序串起来",
        "title.softmax": "nn.Softmax:把分数变成概率",
        "title.parameters": "模型的参数",
        "explain.device": (
            "同一段 PyTorch 代码既能在加速器(CUDA、MPS、XPU 等)上跑,也能在 CPU 上跑。"
            "这里先用 torch.accelerator 看看有没有可用的加速器,没有就退回 CPU;"
            "后面的模型和张量都放在这个设备上。"
        ),
        "explain.model": (
            "NeuralNetwork 继承自 nn.Module:__init__ 里把各层一次性建好,forward 里写明输入怎样依次流过它们。"
            "打印模型会列出每个子模块及其尺寸:先是一个 Flatten,接着是三个 Linear 层,相邻两层之间夹一个 ReLU,"
            "最后输出 10 个数,每个服装类别对应一个。"
        ),
        "explain.forward": (
            "写 model(X) 时,PyTorch 会替我们调用 forward,并顺带做一些内部工作,所以不要自己去调用 "
            "model.forward()。这里的 X 是一张像素随机的 28×28 图像,得到的是形状为 [1, 10] 的 logits:"
            "每个类别一个未经缩放的原始分数。"
        ),
        "explain.forward.real": (
            "写 model(X) 时,PyTorch 会替我们调用 forward,并顺带做一些内部工作,所以不要自己去调用 "
            "model.forward()。这里的 X 是 FashionMNIST 测试集中的一张真实图像,像素已缩放到 [0, 1],"
            "得到的是形状为 [1, 10] 的 logits:每个类别一个未经缩放的原始分数。"
        ),
        "explain.predict": (
            "nn.Softmax(dim=1) 把这 10 个 logits 变成沿类别维度加起来等于 1 的概率,argmax(1) 再取出概率最大的类别。"
            "如果权重只是随机初始化、没有训练过,这个结果基本靠运气;训练好的权重才让它有意义。"
        ),
        "explain.minibatch": (
            "为了逐层观察,我们把三张 28×28 的图像叠成一个张量。第一个维度表示第几张图像;"
            "下面每一层都保留这个维度,只改变其余部分。"
        ),
        "explain.minibatch.real": (
            "为了逐层观察,我们把三张真实的测试图像叠成一个张量,并在图下标出真实标签和模型的预测。"
            "第一个维度表示第几张图像;下面每一层都保留这个维度,只改变其余部分。"
        ),
        "explain.flatten": (
            "nn.Flatten 不动第 0 维(批次),把每张 28×28 的网格一行接一行地排开,变成含 784 个数的一维向量,"
            "因为 Linear 层要的正是这种扁平的特征向量。"
        ),
        "explain.linear": (
            "layer1 里存着形状为 [20, 784] 的权重矩阵和 20 个偏置,计算 flat_image @ weight.T + bias,"
            "于是每张图像的 784 个像素变成 20 个数。训练时调整的正是这些权重。"
        ),
        "explain.relu": (
            "只把线性层叠在一起,结果仍然等于一个线性映射。ReLU 把所有负数换成 0,正数原样保留;"
            "把它放在线性层之间,网络才能表达弯曲、复杂的关系。激活函数不止这一种,本模型用的是 ReLU。"
        ),
        "explain.sequential": (
            "nn.Sequential 是一个容器,按先后顺序调用里面的模块,前一个的输出就是后一个的输入。"
            "这里 seq_modules 把前面做好的 flatten、layer1、一个 ReLU 和新的 Linear(20, 10) 串起来,"
            "每张图像得到 10 个分数。"
        ),
        "explain.softmax": (
            "logits 可以是任意实数。Softmax 先取指数再除以总和,使每个值都落在 [0, 1] 之间;"
            "dim=1 表示沿每一行做归一化,所以每张图像的 10 个值加起来等于 1。"
        ),
        "explain.parameters": (
            "每个 Linear 层的权重和偏置都是 nn.Parameter 张量。因为 NeuralNetwork 继承了 nn.Module,"
            "这些参数会被自动登记,用 named_parameters() 就能连同名字逐个取出。"
            "下面列出每个参数的尺寸和它的前两行(param[:2])。"
        ),
        "ui.step": "第 {number}/{total} 步",
        "ui.colon": ":",
        "ui.pair": "{label}:{value}",
        "ui.output": "输出",
        "ui.device": "设备",
        "ui.accelerator": "有可用的加速器",
        "ui.yes": "是",
        "ui.no": "否",
        "ui.weights": "权重",
        "ui.parameters_total": "参数总数",
        "ui.logits": "logits",
        "ui.random_pixels": "随机像素",
        "ui.image_n": "图像 {n}",
        "ui.test_image": "测试图像 #{index}",
        "ui.true_label": "真实标签",
        "ui.predicted": "预测",
        "ui.true_short": "真实",
        "ui.model_short": "模型",
        "ui.correct": "预测正确",
        "ui.class": "类别",
        "ui.probability": "概率",
        "ui.note": "",
        "ui.flat_length": "每张图像的数值个数",
        "ui.layer1_weight": "layer1.weight",
        "ui.layer1_bias": "layer1.bias",
        "ui.before_relu": "ReLU 之前",
        "ui.after_relu": "ReLU 之后",
        "ui.negatives": "之前的负数",
        "ui.zeros": "之后的零",
        "ui.count_of": "{total} 个中有 {count} 个",
        "ui.row_sums": "每行之和",
        "ui.value_range": "最小值 / 最大值",
        "ui.pause": "按回车看下一步(Ctrl-C 退出)",
        "ui.step_range": "--step {step} 超出范围:请选择 1 到 {total} 之间的步骤",
        "weights.random": "随机初始化,种子 {seed}(未训练:预测只是猜测)",
        "weights.shipped": "随附的训练权重",
        "weights.accuracy": "(测试准确率 {accuracy:.2%})",
    },
}


def text(lang: str, key: str, **values) -> str:
    """One user-facing string in `lang`, with {placeholders} filled in."""
    if lang not in TEXT:
        raise UsageError(f"unknown language {lang!r}: choose one of {', '.join(LANGS)}")
    return TEXT[lang][key].format(**values)


def class_name(index: int, lang: str) -> str:
    """A FashionMNIST class for display: English name, or the Chinese name with the English one beside it."""
    if lang == "zh":
        return f"{CLASSES_ZH[index]} ({CLASSES[index]})"
    return CLASSES[index]


def heading(lang: str, number: int, total: int, title: str) -> str:
    """A step's panel title, e.g. 'Step 3/11 · One image through the model'."""
    return f"{text(lang, 'ui.step', number=number, total=total)} · {title}"


def check_step(step: int | None, lang: str = "en", total: int = len(STEP_KEYS)) -> None:
    """Refuse a 1-based --step outside 1..total before anything is computed."""
    if step is not None and not 1 <= step <= total:
        raise UsageError(text(lang, "ui.step_range", step=step, total=total))


# --- Blocks: the typed pieces a step is made of (all text already translated and formatted) ---------


@dataclass
class Code:
    """Python source as the tutorial writes it."""

    text: str


@dataclass
class Output:
    """Preformatted output (what print() shows: a tensor, a size, a module), never re-wrapped."""

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
class ProbabilityRow:
    index: int
    name: str
    probability: float
    predicted: bool = False
    true: bool = False


@dataclass
class Probabilities:
    """One image's class probabilities, with the predicted (and, for real data, true) class marked."""

    rows: list[ProbabilityRow]
    headers: tuple[str, str, str]  # (class, probability, note)
    predicted_label: str
    true_label: str | None = None


Block = Union[Code, Output, Pictures, Facts, Probabilities]


@dataclass
class Step:
    """One tutorial step: what it is called, why it matters, and what it computed."""

    key: str
    title: str
    explanation: str
    blocks: list[Block] = field(default_factory=list)
    lang: str = "en"
    # The step's main tensors by their tutorial names, on the CPU: for tests and machine-readable output.
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)


# --- Formatting helpers -----------------------------------------------------------------------------


@contextmanager
def _print_options(**options):
    """torch.set_printoptions for one block only: torch has no public getter, so restore the fields
    of PRINT_OPTS exactly as they were (the caller's own settings survive)."""
    import torch

    current = torch._tensor_str.PRINT_OPTS
    saved = {k: getattr(current, k) for k in ("precision", "threshold", "edgeitems", "linewidth", "sci_mode")}
    torch.set_printoptions(**options)
    try:
        yield
    finally:
        torch.set_printoptions(**saved)


def format_tensor(tensor: torch.Tensor, precision: int = 4, width: int = TEXT_WIDTH) -> str:
    """A tensor printed the way torch prints it, wrapped to `width` columns and summarised with '...'."""
    with _print_options(precision=precision, linewidth=width, threshold=1000, edgeitems=3, sci_mode=False):
        return repr(tensor)


def _wrap_line(line: str, width: int = TEXT_WIDTH) -> list[str]:
    # Only for text torch does not wrap itself (a long module line): break at ", " when possible.
    out = []
    while len(line) > width:
        cut = line.rfind(", ", 0, width - 1)
        cut = cut + 1 if cut > 0 else width
        out.append(line[:cut])
        line = "    " + line[cut:].lstrip()
    return out + [line]


def fit_width(text_block: str, width: int = TEXT_WIDTH) -> str:
    return "\n".join(piece for line in text_block.splitlines() for piece in _wrap_line(line, width))


def describe_weights(info: WeightsInfo | None, lang: str) -> str:
    """WeightsInfo.describe(), in the walkthrough's language."""
    if info is None:
        return "-"
    if lang == "en":
        return info.describe()
    if info.source == "random":
        return text(lang, "weights.random", seed=info.seed)
    label = text(lang, "weights.shipped") if info.source == "shipped" else str(info.path)
    accuracy = info.test_accuracy
    return label + (text(lang, "weights.accuracy", accuracy=accuracy) if accuracy is not None else "")


def _pixels(image: torch.Tensor) -> list[list[int]]:
    """(28, 28) floats in [0, 1] -> rows of 0..255 ints, what render.console.Picture draws."""
    import torch

    return (image.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8).tolist()


# --- The computation --------------------------------------------------------------------------------


def build_steps(
    model: torch.nn.Module,
    device: torch.device | str,
    weights_info: WeightsInfo | None = None,
    lang: str = "en",
    seed: int = 0,
    images: torch.Tensor | None = None,
    labels: torch.Tensor | Sequence[int] | None = None,
) -> list[Step]:
    """Run every step of the tutorial on `model` and return them, in the tutorial's order.

    Random numbers come from a private torch.Generator seeded with `seed` (the global RNG is left
    alone), drawn on the CPU and then moved, so a seed gives the same inputs on every device.
    With `images` (uint8, (N, 28, 28)) and `labels` (N ints), the single input and the three-image
    minibatch are real test images picked by `seed`, and steps show their true labels.
    """
    import torch
    from torch import nn

    from fashionnet.model import pixels_to_input

    if lang not in TEXT:
        raise UsageError(f"unknown language {lang!r}: choose one of {', '.join(LANGS)}")
    device = torch.device(device)
    t = lambda key, **values: text(lang, key, **values)  # noqa: E731 - a short local alias reads best here
    real = images is not None
    generator = torch.Generator().manual_seed(seed)

    if real:
        images, label_list, picks = _check_real(images, labels, generator)
        single_index, batch_indexes = picks[0], picks[1:4]
        X = pixels_to_input(images[single_index]).unsqueeze(0)  # (1, 28, 28)
        input_image = pixels_to_input(images[batch_indexes])  # (3, 28, 28)
    else:
        X = torch.rand(1, 28, 28, generator=generator)
        input_image = torch.rand(3, 28, 28, generator=generator)
    # The tutorial draws a fresh batch for nn.Sequential; real mode reuses its three real images.
    seq_input = input_image if real else torch.rand(3, 28, 28, generator=generator)
    # The demo layers get their own seed drawn from the generator: seeding them with `seed` itself
    # would make layer1 a copy of the first rows of a random-init model built from the same seed.
    layer_seed = int(torch.randint(0, 2**62, (1,), generator=generator))

    steps: list[Step] = []

    def add(key: str, blocks: list[Block], explain_key: str | None = None, **tensors: torch.Tensor) -> None:
        kept = {name: value.detach().cpu() for name, value in tensors.items()}
        steps.append(Step(key, t(f"title.{key}"), t(explain_key or f"explain.{key}"), blocks, lang, kept))

    def code(key: str) -> Code:
        return Code(CODE[f"{key}.real"] if real and f"{key}.real" in CODE else CODE[key])

    yes_no = {True: t("ui.yes"), False: t("ui.no")}

    with torch.inference_mode():
        # 1. Device
        accelerator = torch.accelerator.is_available()
        add(
            "device",
            [
                code("device"),
                Output(f"Using {device.type} device", t("ui.output")),
                Facts([(t("ui.device"), str(device)), (t("ui.accelerator"), yes_no[accelerator])]),
            ],
        )

        # 2. Model structure
        total_params = sum(p.numel() for p in model.parameters())
        add(
            "model",
            [
                code("model"),
                Output(fit_width(str(model)), t("ui.output")),
                Facts(
                    [
                        (t("ui.weights"), describe_weights(weights_info, lang)),
                        (t("ui.parameters_total"), f"{total_params:,}"),
                    ]
                ),
            ],
        )

        # 3. One image through the model
        logits = model(X.to(device))  # (1, 10)
        if real:
            true_text = t("ui.pair", label=t("ui.true_label"), value=class_name(label_list[single_index], lang))
            caption = f"{t('ui.test_image', index=single_index)} · {true_text}"
        else:
            caption = f"X[0] · {t('ui.random_pixels')}"
        add(
            "forward",
            [
                code("forward"),
                Pictures([_pixels(X[0])], [caption]),
                Facts([("X.shape", str(X.shape)), ("logits.shape", str(logits.shape))]),
                Output(format_tensor(logits), t("ui.logits")),
            ],
            "explain.forward.real" if real else None,
            X=X,
            logits=logits,
        )

        # 4. Softmax and the predicted class
        pred_probab = nn.Softmax(dim=1)(logits)
        y_pred = pred_probab.argmax(1)
        predicted = int(y_pred[0])
        true = label_list[single_index] if real else None
        probs = pred_probab[0].float().cpu().tolist()
        rows = [
            ProbabilityRow(i, class_name(i, lang), p, predicted=i == predicted, true=i == true)
            for i, p in enumerate(probs)
        ]
        facts = [(t("ui.predicted"), f"{predicted} · {class_name(predicted, lang)}")]
        if real:
            facts += [
                (t("ui.true_label"), f"{true} · {class_name(true, lang)}"),
                (t("ui.correct"), yes_no[predicted == true]),
            ]
        add(
            "predict",
            [
                code("predict"),
                Output(fit_width(f"Predicted class: {format_tensor(y_pred)}"), t("ui.output")),
                Probabilities(
                    rows,
                    (t("ui.class"), t("ui.probability"), t("ui.note")),
                    predicted_label=t("ui.predicted"),
                    true_label=t("ui.true_label") if real else None,
                ),
                Facts(facts),
            ],
            pred_probab=pred_probab,
            y_pred=y_pred,
        )

        # 5. A minibatch of three images
        if real:
            batch_pred = model(input_image.to(device)).argmax(1).cpu().tolist()
            captions = [
                "\n".join(
                    (
                        f"#{i}",
                        t("ui.pair", label=t("ui.true_short"), value=_short_class(label_list[i], lang)),
                        t("ui.pair", label=t("ui.model_short"), value=_short_class(p, lang)),
                    )
                )
                for i, p in zip(batch_indexes, batch_pred)
            ]
        else:
            captions = [t("ui.image_n", n=n) for n in (1, 2, 3)]
        add(
            "minibatch",
            [
                code("minibatch"),
                Output(str(input_image.size()), t("ui.output")),
                Pictures([_pixels(image) for image in input_image], captions, small=True),
            ],
            "explain.minibatch.real" if real else None,
            input_image=input_image,
        )

        # 6. nn.Flatten
        flatten = nn.Flatten()
        flat_image = flatten(input_image)  # (3, 784)
        add(
            "flatten",
            [
                code("flatten"),
                Output(str(flat_image.size()), t("ui.output")),
                Facts([(t("ui.flat_length"), f"28 × 28 = {flat_image.shape[1]}")]),
            ],
            flat_image=flat_image,
        )

        # 7. nn.Linear
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(layer_seed)
            layer1 = nn.Linear(in_features=28 * 28, out_features=20)
            last = nn.Linear(20, 10)  # made here so one seed fixes both demo layers
        hidden1 = layer1(flat_image)  # (3, 20)
        add(
            "linear",
            [
                code("linear"),
                Output(str(hidden1.size()), t("ui.output")),
                Facts(
                    [
                        (t("ui.layer1_weight"), str(layer1.weight.size())),
                        (t("ui.layer1_bias"), str(layer1.bias.size())),
                    ]
                ),
            ],
            hidden1=hidden1,
        )

        # 8. nn.ReLU, before and after
        before = hidden1
        hidden1 = nn.ReLU()(hidden1)
        total = before.numel()
        negatives = int((before < 0).sum())
        zeros = int((hidden1 == 0).sum())
        add(
            "relu",
            [
                code("relu"),
                Output(format_tensor(before, precision=2), t("ui.before_relu")),
                Output(format_tensor(hidden1, precision=2), t("ui.after_relu")),
                Facts(
                    [
                        (t("ui.negatives"), t("ui.count_of", count=negatives, total=total)),
                        (t("ui.zeros"), t("ui.count_of", count=zeros, total=total)),
                    ]
                ),
            ],
            before=before,
            after=hidden1,
        )

        # 9. nn.Sequential
        seq_modules = nn.Sequential(flatten, layer1, nn.ReLU(), last)
        seq_logits = seq_modules(seq_input)  # (3, 10)
        add(
            "sequential",
            [
                code("sequential"),
                Output(fit_width(f"{seq_modules}\n{seq_logits.size()}"), t("ui.output")),
            ],
            input_image=seq_input,
            logits=seq_logits,
        )

        # 10. nn.Softmax
        softmax = nn.Softmax(dim=1)
        seq_probab = softmax(seq_logits)  # (3, 10), rows sum to 1
        sums = seq_probab.sum(dim=1)
        add(
            "softmax",
            [
                code("softmax"),
                Output(format_tensor(seq_probab), t("ui.output")),
                Facts(
                    [
                        (t("ui.row_sums"), ", ".join(f"{float(s):.4f}" for s in sums)),
                        (t("ui.value_range"), f"{float(seq_probab.min()):.4f} / {float(seq_probab.max()):.4f}"),
                    ]
                ),
            ],
            pred_probab=seq_probab,
        )

        # 11. Parameters
        blocks: list[Block] = [code("parameters")]
        for name, param in model.named_parameters():
            blocks.append(Output(format_tensor(param[:2]), f"{name} | {param.size()}"))
        blocks.append(Facts([(t("ui.parameters_total"), f"{total_params:,}")]))
        add("parameters", blocks)

    return steps


def _short_class(index: int, lang: str) -> str:
    # Captions under small pictures are narrow: Chinese name alone in zh.
    return CLASSES_ZH[index] if lang == "zh" else CLASSES[index]


def _check_real(images, labels, generator):
    """Validate real data and pick 4 images by seed: one for the single input, three for the batch."""
    import torch

    if not isinstance(images, torch.Tensor) or images.dim() != 3 or tuple(images.shape[1:]) != (28, 28):
        shape = list(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise UsageError(f"real images must be a (N, 28, 28) tensor, got {shape}")
    if images.dtype != torch.uint8:
        raise UsageError(f"real images must be uint8 (0..255), got {images.dtype}")
    if labels is None:
        raise UsageError("real images need their labels")
    label_list = [int(v) for v in (labels.tolist() if isinstance(labels, torch.Tensor) else labels)]
    if len(label_list) != images.shape[0] or images.shape[0] == 0:
        raise UsageError(f"got {images.shape[0]} real images but {len(label_list)} labels")
    if any(not 0 <= v < len(CLASSES) for v in label_list):
        raise UsageError(f"labels must be class indexes 0..{len(CLASSES) - 1}")
    n = images.shape[0]
    order = torch.randperm(n, generator=generator).tolist()
    # Fewer than 4 images (a tiny test set): repeat them rather than refuse.
    picks = [order[i % n] for i in range(4)]
    return images.cpu(), label_list, picks


def cjk_free(value: str) -> bool:
    """True when `value` has no Chinese/Japanese/Korean characters or full-width punctuation."""
    return _CJK.search(value) is None


# CJK radicals, punctuation, kana, ideographs, hangul and full-width forms.
_CJK = re.compile(r"[\u2e80-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
