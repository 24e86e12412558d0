"""How speckled explain's two pixel maps are: of the pairs of neighbouring lit pixels (left-right and
up-down, both above 0), the share whose values have opposite signs, for gradient × pixel (the saliency)
and for the greyed-squares map (occlusion), on the ten samples and the six photos that ship.

    .venv/bin/python benchmarks/attribution_speckle.py
"""

from pathlib import Path

import numpy as np
import torch

from fashionnet.explain import explain
from fashionnet.images import load_view
from fashionnet.weights import load_model

SAMPLES = Path(__file__).resolve().parents[1] / "fashionnet" / "samples"


def flips(values: np.ndarray, lit: np.ndarray) -> float:
    """Share of neighbouring lit pairs whose signs differ."""
    pairs = [(values[:, :-1], values[:, 1:], lit[:, :-1] & lit[:, 1:]), (values[:-1], values[1:], lit[:-1] & lit[1:])]
    differ = sum(int(((np.sign(a) * np.sign(b)) < 0)[both].sum()) for a, b, both in pairs)
    total = sum(int(both.sum()) for _, _, both in pairs)
    return differ / total if total else 0.0


def main() -> None:
    device = torch.device("cpu")
    model, info = load_model(None, 0, device)
    print(f"{'picture':<28} {'gradient × pixel':>17} {'greyed squares':>15}")
    rows = []
    for path in sorted(SAMPLES.glob("*.png")) + sorted((SAMPLES / "photos").glob("*.jpg")):
        e = explain(str(path), load_view(path), model, device, info, units=1)
        lit = np.asarray(e.image) > 0
        row = (flips(np.asarray(e.saliency), lit), flips(np.asarray(e.occlusion), lit))
        rows.append(row)
        print(f"{path.name:<28} {row[0]:>17.1%} {row[1]:>15.1%}")
    mean = np.mean(rows, axis=0)
    print(f"{'mean':<28} {mean[0]:>17.1%} {mean[1]:>15.1%}")


if __name__ == "__main__":
    main()
