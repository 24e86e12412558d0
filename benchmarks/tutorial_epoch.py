"""One epoch of the PyTorch quickstart's training loop, as the tutorial writes it: the baseline that
fashionnet's training speed is measured against.

torchvision's FashionMNIST dataset + ToTensor() per sample, DataLoader(batch_size=64, shuffle=True),
SGD(lr=1e-3), CrossEntropyLoss. The official files are copied (decompressed) into torchvision's folder
layout first, so no download is needed. Prints one JSON line: {"seconds": ..., "batches": ...}.
"""

import gzip
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision.transforms import ToTensor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fashionnet.data import FILES, _found_in, require  # noqa: E402
from fashionnet.model import NeuralNetwork  # noqa: E402


def torchvision_root(source: Path, root: Path) -> Path:
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for pair in FILES.values():
        for stem in pair:
            src = _found_in(source, stem)
            opener = gzip.open if src.suffix == ".gz" else open
            with opener(src, "rb") as fin, open(raw / stem, "wb") as fout:
                shutil.copyfileobj(fin, fout)
    return root


def train_loop(dataloader, model, loss_fn, optimizer):
    # The tutorial's train_loop, minus its print statements.
    model.train()
    for X, y in dataloader:
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = torchvision_root(require(), Path(tmp))
        training_data = datasets.FashionMNIST(root=str(root), train=True, download=False, transform=ToTensor())
        train_dataloader = DataLoader(training_data, batch_size=64, shuffle=True)
        torch.manual_seed(0)
        model = NeuralNetwork()
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
        start = time.perf_counter()
        train_loop(train_dataloader, model, nn.CrossEntropyLoss(), optimizer)
        seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "batches": len(train_dataloader)}))


if __name__ == "__main__":
    main()
