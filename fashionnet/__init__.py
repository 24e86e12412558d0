"""fashionnet: the PyTorch "Build the Neural Network" tutorial model as a command-line classifier.

This module imports no torch, so `fashionnet --help` stays instant.
"""

__version__ = "0.1.0"

# --seed and a checkpoint's seed: 0..2**63-1, what every torch generator accepts (seed + 1000 included).
SEED_MAX = 2**63 - 1

# FashionMNIST's label order, as published by Zalando (index = label).
CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
