"""The tutorial's network, unchanged, and the one function every command builds it with."""

import torch
from torch import nn


# Kept exactly as in "Build the Neural Network": attribute names, layer order and printed structure
# are part of fashionnet's contract with the tutorial, and `walkthrough` shows this source as it is.
class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


def build_model(seed: int = 0, device: torch.device | str = "cpu") -> NeuralNetwork:
    """A fresh model whose random initial weights depend only on `seed` (created on the CPU, then moved,
    so the same seed gives the same numbers on every device)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = NeuralNetwork()
    return model.to(device)


def pixels_to_input(pixels: torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
    """uint8 images (N, 28, 28) -> the model's input: float32 in [0, 1], exactly what the tutorial's
    ToTensor() gives. Every command (train, evaluate, predict, walkthrough) feeds the model through this."""
    return pixels.to(device=device, non_blocking=True).float().div_(255)
