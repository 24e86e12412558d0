"""Inputs -> predictions: classify decoded inputs in batches.

The CLI's order matters for speed: `inputs.collect_inputs()`, then `decoding.start_decoding()` (forks
decoder processes while the parent is still small and torch-free), then `import torch` and load the model
(~2 s that the decoders overlap), then `predict_decoded()`. torch is only imported inside the functions
that need it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from fashionnet import CLASSES
from fashionnet.calibration import DEFAULT_THRESHOLD
from fashionnet.decoding import Decoded, start_decoding
from fashionnet.inputs import Input

if TYPE_CHECKING:
    import torch

BATCH_SIZE = 512
# CPU inference runs on one torch thread: the decoder processes hold the other cores, and this small MLP
# gains little from more. Measured on 2 busy cores: 2 threads made 512-image batches 9x slower (spinning
# OpenMP threads fighting the decoders); 1 thread classifies 10,000 images in ~0.3 s. None = torch's default.
CPU_THREADS = 1


@dataclass(frozen=True)
class Best:
    """The class a classified input is given, and its probability."""

    label: str
    index: int
    probability: float


@dataclass
class Prediction:
    """The result for one input: label/index/probability/top (best first) and the 28x28 image, or error."""

    path: str
    label: str | None = None
    index: int | None = None
    probability: float | None = None
    top: list[tuple[str, int, float]] = field(default_factory=list)  # (label, index, probability)
    image: np.ndarray | None = field(default=None, repr=False)  # (28, 28) uint8, what the model saw
    error: str | None = None
    sure: bool | None = None  # False: out of what the model knows, or no garment found ("not sure")
    score: float | None = None  # the out-of-distribution score (calibrated top probability); higher = surer
    found: bool | None = None  # whether a garment/object was found (False: classified from the whole frame)
    mask: np.ndarray | None = field(default=None, repr=False)  # a photo's garment mask, for --show

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def best(self) -> Best:
        """The answer of an input that was classified (`ok`); asking a failed one is a bug."""
        if self.label is None or self.index is None or self.probability is None:
            raise ValueError(f"{self.path}: no answer ({self.error})")
        return Best(self.label, self.index, self.probability)


# ------------------------------------------------------------------------------------------------ inference


def classify(
    images: np.ndarray,
    model: torch.nn.Module,
    device: torch.device,
    top_k: int = 3,
    cpu_threads: int | None = None,
    temperature: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) uint8 -> (probabilities, indices), each (N, k) numpy, best first."""
    probs, indices, _ = classify_scored(images, model, device, top_k, cpu_threads, temperature)
    return probs, indices


def average_drawings(logits: torch.Tensor, members: np.ndarray) -> torch.Tensor:
    """(N, K) logits of N drawings, (N,) which answer each belongs to -> (M, K): each answer's logits
    averaged over its drawings (a photo's mask and its eroded and dilated variants). Training fits the
    temperature on photos through this same averaging."""
    import torch

    index = torch.from_numpy(np.asarray(members, dtype=np.int64))
    count = torch.bincount(index).clamp(min=1).to(logits.dtype)
    return torch.zeros(len(count), logits.shape[1], dtype=logits.dtype).index_add_(0, index, logits) / count[:, None]


def classify_scored(
    images: np.ndarray,
    model: torch.nn.Module,
    device: torch.device,
    top_k: int = 3,
    cpu_threads: int | None = None,
    temperature: float = 1.0,
    members: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, 28, 28) uint8 -> (probabilities, indices, sureness scores): (M, k), (M, k), (M,) numpy.

    The tensor is built exactly as ToTensor builds it (uint8 / 255 in float32), so a FashionMNIST image
    gets the same input here as in `evaluate`. Probabilities are softmax(logits / temperature), the
    checkpoint's calibration. `members` (N,) says which answer each image belongs to (several drawings
    of one photo): their logits are averaged. None: one image per answer (M = N), logits untouched.
    `cpu_threads` caps torch's threads for this call on the CPU.
    """
    import torch

    from fashionnet.evaluate import predict_logits

    k = max(1, min(top_k, len(CLASSES)))
    saved = torch.get_num_threads()
    if cpu_threads and device.type == "cpu":
        torch.set_num_threads(cpu_threads)
    try:
        # The same batched inference `evaluate` runs, over this one batch; logits come back on the CPU.
        logits = predict_logits(model, torch.from_numpy(images), device, batch_size=max(1, len(images)))
        decision = decide(logits, temperature, members)
        top_p, top_i = decision.probabilities.topk(k, dim=1)  # (N, k)
        return top_p.numpy(), top_i.numpy(), decision.scores.numpy()
    finally:
        torch.set_num_threads(saved)


@dataclass
class Decision:
    """What predict decides from the logits of its drawings, one row per answer."""

    logits: torch.Tensor  # (M, 10): each answer's logits, the mean over its drawings
    probabilities: torch.Tensor  # (M, 10): softmax(logits / temperature), the probabilities predict reports
    scores: torch.Tensor  # (M,): the sureness score compared with --threshold


def decide(logits: torch.Tensor, temperature: float = 1.0, members: np.ndarray | None = None) -> Decision:
    """predict's decision, the one place it is made: (N, 10) logits of N drawings -> one answer per member
    group (a photo is drawn several times: the logits of its drawings are averaged), then calibrated by
    the checkpoint's temperature. `members` (N,) names each drawing's answer; None: one answer per row.
    `explain` and the walkthrough call this too, so they show what predict decides."""
    import torch

    from fashionnet.calibration import sureness

    if members is not None:
        index = torch.from_numpy(np.asarray(members, dtype=np.int64))
        count = torch.bincount(index).clamp(min=1).to(logits.dtype)
        logits = torch.zeros(len(count), logits.shape[1], dtype=logits.dtype).index_add_(0, index, logits)
        logits = logits / count[:, None]
    return Decision(logits, (logits / temperature).softmax(dim=1), sureness(logits, temperature))


def decide_view(
    path: str, view, model, device, temperature: float = 1.0, threshold: float = DEFAULT_THRESHOLD
) -> Prediction:
    """predict's whole answer for one decoded picture (all its drawings, the temperature, "not sure"); an
    answer predict could not give (weights whose outputs overflow) is the WeightsError predict reports."""
    from fashionnet.errors import WeightsError

    (prediction,) = predict_decoded(
        [(Input(path), view, None)], model, device, top_k=len(CLASSES), temperature=temperature, threshold=threshold
    )
    if prediction.error is not None:
        raise WeightsError(prediction.error)
    return prediction


def _flush(
    pending: list[Decoded], model, device, top_k: int, cpu_threads: int | None, temperature: float, threshold: float
) -> Iterator[Prediction]:
    good: list[np.ndarray] = []  # each view's image and its variants (a photo's other drawings)...
    members: list[int] = []  # ...and which answer each belongs to
    answers = 0
    for _, view, _error in pending:
        if view is not None:  # decoded (else `_error` says why not)
            # A found photo's own drawing and those of its eroded and dilated masks: averaging their logits
            # steadies the answer. (Training saw only each photo's own drawing: the shipped ones hold no variants.)
            drawings = view.drawings()
            good += list(drawings)
            members += [answers] * len(drawings)
            answers += 1
    if good:
        grouped = np.array(members) if len(good) > answers else None  # None: no averaging, logits exact
        probs, indices, scores = classify_scored(
            np.stack(good), model, device, top_k, cpu_threads, temperature, grouped
        )
        # Python numbers once per batch, not numpy scalars per row (10,000 PNGs: 0.1 s less). Logits that
        # are not numbers never get here: the model-output door (finite_outputs) refused them, exit 4.
        probs, indices, scores = probs.tolist(), indices.tolist(), scores.tolist()
    row = 0
    for item, view, error in pending:
        if view is None:
            yield Prediction(path=item.path, error=error)
            continue
        row_probs, row_indices, score = probs[row], indices[row], scores[row]
        row += 1
        top = [(CLASSES[c], c, q) for q, c in zip(row_probs, row_indices, strict=True)]
        label, index, probability = top[0]
        sure = view.found and score >= threshold
        yield Prediction(
            item.path,
            label,
            index,
            probability,
            top,
            view.image,
            sure=sure,
            score=score,
            found=view.found,
            mask=view.mask,
        )


def predict_decoded(
    decoded: Iterable[Decoded],
    model,
    device,
    top_k: int = 3,
    batch_size: int = BATCH_SIZE,
    cpu_threads: int | None = CPU_THREADS,
    temperature: float = 1.0,
    threshold: float = DEFAULT_THRESHOLD,
) -> Iterator[Prediction]:
    """Classify decoded inputs in batches; yields one Prediction per input, in input order.

    An answer is "sure" when a garment was found and its score reaches `threshold`."""
    pending: list[Decoded] = []
    ready = 0
    for entry in decoded:
        pending.append(entry)
        ready += entry[2] is None
        if ready >= batch_size:
            yield from _flush(pending, model, device, top_k, cpu_threads, temperature, threshold)
            pending, ready = [], 0
    yield from _flush(pending, model, device, top_k, cpu_threads, temperature, threshold)


def predict_paths(
    items: Iterable[Input | str],
    model,
    device,
    top_k: int = 3,
    batch_size: int = BATCH_SIZE,
    invert: bool | None = None,
    workers: int | None = None,
    cpu_threads: int | None = CPU_THREADS,
    temperature: float = 1.0,
    threshold: float = DEFAULT_THRESHOLD,
) -> Iterator[Prediction]:
    """All in one: decode (in parallel when worth it) and classify. Strings are taken as file paths."""
    inputs = [item if isinstance(item, Input) else Input(str(item)) for item in items]
    with start_decoding(inputs, invert, workers) as decoding:
        yield from predict_decoded(decoding, model, device, top_k, batch_size, cpu_threads, temperature, threshold)
