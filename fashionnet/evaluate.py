"""Test-set metrics: accuracy, loss, per-class precision/recall/F1 and the confusion matrix."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from fashionnet import CLASSES
from fashionnet.model import pixels_to_input


@dataclass
class ClassMetrics:
    label: str
    index: int
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class Evaluation:
    samples: int
    accuracy: float  # in [0, 1]
    loss: float  # mean cross-entropy
    per_class: list[ClassMetrics]
    confusion: list[list[int]]  # confusion[true][predicted]
    calibration_error: float = float("nan")  # expected calibration error of the calibrated probabilities
    temperature: float = 1.0  # the checkpoint's calibration temperature the probabilities were divided by

    def to_dict(self) -> dict:
        return {
            "samples": self.samples,
            "accuracy": self.accuracy,
            "loss": self.loss,
            "per_class": [asdict(m) for m in self.per_class],
            "confusion": self.confusion,
            "calibration_error": self.calibration_error,
            "temperature": self.temperature,
            "classes": list(CLASSES),
        }


def predict_logits(
    model: nn.Module, images: torch.Tensor, device: torch.device, batch_size: int = 4096
) -> torch.Tensor:
    """Logits for uint8 images (N, 28, 28), computed in batches; returned on the CPU."""
    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            out.append(model(pixels_to_input(images[start : start + batch_size], device)).float().cpu())
    return torch.cat(out) if out else torch.empty(0, len(CLASSES))


def metrics(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0) -> Evaluation:
    """All metrics from logits (N, 10) and true labels (N,); calibration with the given temperature."""
    from fashionnet.calibration import expected_calibration_error

    n = len(labels)
    loss = nn.functional.cross_entropy(logits, labels).item() if n else float("nan")
    predicted = logits.argmax(1)
    k = len(CLASSES)
    confusion = torch.bincount(labels * k + predicted, minlength=k * k).reshape(k, k)
    true_pos = confusion.diag().double()
    support = confusion.sum(1).double()
    predicted_count = confusion.sum(0).double()
    precision = torch.where(
        predicted_count > 0, true_pos / predicted_count.clamp(min=1), torch.zeros(k, dtype=torch.float64)
    )
    recall = torch.where(support > 0, true_pos / support.clamp(min=1), torch.zeros(k, dtype=torch.float64))
    denom = precision + recall
    f1 = torch.where(denom > 0, 2 * precision * recall / denom.clamp(min=1e-12), torch.zeros(k, dtype=torch.float64))
    per_class = [
        ClassMetrics(CLASSES[i], i, precision[i].item(), recall[i].item(), f1[i].item(), int(support[i].item()))
        for i in range(k)
    ]
    accuracy = true_pos.sum().item() / n if n else float("nan")
    ece = expected_calibration_error((logits / temperature).softmax(1), labels)
    return Evaluation(n, accuracy, loss, per_class, confusion.tolist(), ece, temperature)


def evaluate(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    device: torch.device,
    temperature: float = 1.0,
    require_finite: bool = False,
) -> Evaluation:
    """Metrics of `model` on the images. require_finite: outputs that are not numbers (weights that
    overflow) are a WeightsError (exit 4), as `predict` refuses them, instead of a meaningless 10%."""
    return metrics(test_logits(model, images, device, require_finite), labels, temperature)


def test_logits(
    model: nn.Module, images: torch.Tensor, device: torch.device, require_finite: bool = True, source: str = "the model"
) -> torch.Tensor:
    """predict_logits, refusing outputs that are not numbers when `require_finite` (finite_outputs, the
    door every model output goes through; a guarded model has refused them already)."""
    logits = predict_logits(model, images, device)
    if require_finite:
        from fashionnet.finite_outputs import check

        check(logits, source)
    return logits


@dataclass
class Mistake:
    """One misclassified test image: where it is, what it is, what the model said and how sure it was."""

    index: int  # position in the test set
    true: int
    predicted: int
    probability: float  # the calibrated probability of the (wrong) predicted class
    image: list[list[int]]  # (28, 28) 0..255
    true_probability: float = 0.0  # the calibrated probability the model gave the true class
    runner_up: int = 0  # the second most likely class (often the true one)
    runner_up_probability: float = 0.0

    @property
    def true_label(self) -> str:
        return CLASSES[self.true]

    @property
    def predicted_label(self) -> str:
        return CLASSES[self.predicted]

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "true": self.true_label,
            "true_index": self.true,
            "predicted": self.predicted_label,
            "predicted_index": self.predicted,
            "probability": round(self.probability, 6),
            "true_probability": float(f"{self.true_probability:.6g}"),
            "runner_up": CLASSES[self.runner_up],
            "runner_up_probability": float(f"{self.runner_up_probability:.6g}"),
            "explain": f"fashionnet explain --test-index {self.index}",
            "image": self.image,
        }


def find_mistakes(
    logits: torch.Tensor,
    labels: torch.Tensor,
    images: torch.Tensor,
    temperature: float = 1.0,
    true_class: int | None = None,
    limit: int | None = None,
    predicted_class: int | None = None,
) -> tuple[int, list[Mistake]]:
    """(how many, the first `limit`) of the misclassified images (of `true_class` only, and taken for
    `predicted_class` only, when given: one cell of the confusion matrix), the most confident mistakes
    first: those say most about what the model confuses, and include the test images labelled wrongly."""
    probabilities = (logits / temperature).softmax(1)
    ranked, classes = probabilities.topk(2, dim=1)
    confidence, predicted = ranked[:, 0], classes[:, 0]
    wrong = predicted != labels
    if true_class is not None:
        wrong &= labels == true_class
    if predicted_class is not None:
        wrong &= predicted == predicted_class
    where = torch.nonzero(wrong).flatten()
    order = where[torch.argsort(confidence[where], descending=True, stable=True)]
    chosen = order if limit is None else order[:limit]
    mistakes = [
        Mistake(
            int(i),
            int(labels[i]),
            int(predicted[i]),
            float(confidence[i]),
            images[i].tolist(),
            float(probabilities[i, labels[i]]),
            int(classes[i, 1]),
            float(ranked[i, 1]),
        )
        for i in chosen
    ]
    return len(where), mistakes


def evaluate_weights(model: nn.Module, test, device: torch.device, info) -> Evaluation:
    """`evaluate` on the test split `test` (images, labels) with the weights' own temperature. Outputs
    that are not numbers were refused by the model-output door (finite_outputs), naming the weights."""
    return evaluate(model, test.images, test.labels, device, temperature=info.temperature, require_finite=True)


@dataclass
class MistakeReport:
    """`evaluate --mistakes`: how many test images (of one true class, when given) are misclassified,
    the surest of those mistakes, and the accuracy over the whole test set (when asked for)."""

    total: int
    found: list[Mistake]
    samples: int  # test images of `true_class` (all of them when None)
    accuracy: float | None = None
    predicted_class: int | None = None  # only the images taken for this class, when given


def mistake_report(
    test,
    model: nn.Module,
    device: torch.device,
    info,
    true_class: int | None,
    limit: int,
    accuracy: bool = False,
    predicted_class: int | None = None,
) -> MistakeReport:
    """The misclassified images of the test split `test` (images, labels), the surest `limit` first."""
    logits = test_logits(model, test.images, device)  # finite_outputs refuses outputs that are not numbers
    total, found = find_mistakes(logits, test.labels, test.images, info.temperature, true_class, limit, predicted_class)
    samples = int((test.labels == true_class).sum()) if true_class is not None else len(test.labels)
    share = metrics(logits, test.labels, info.temperature).accuracy if accuracy else None
    return MistakeReport(total, found, samples, share, predicted_class)
