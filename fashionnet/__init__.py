"""fashionnet: the PyTorch "Build the Neural Network" tutorial model as a command-line classifier.

This module imports no torch, so `fashionnet --help` stays instant. The class names live here, and
`class_name()` names a class in the user's language (the words are read only when it is called).
"""

from pathlib import Path

__version__ = "0.1.0"  # the package's one version: pyproject.toml reads it from here

# The pictures that ship inside the package (ten FashionMNIST test images; six phone photos in photos/):
# `predict --samples` classifies them, `data --samples` prints where they are.
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"

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


def class_name(index: int, lang: str) -> str:
    """A FashionMNIST class for display: the English name, or the translated name with the English one."""
    from fashionnet.language import locale, text

    name = locale(lang)["classes"][index]
    return name if name == CLASSES[index] else text(lang, "ui.translated_class", name=name, english=CLASSES[index])


def short_class(index: int, lang: str) -> str:
    """The class name alone, for narrow captions."""
    from fashionnet.language import locale

    return locale(lang)["classes"][index]


def class_words(lang: str) -> tuple[str, ...]:
    """Every way a class name is displayed in `lang`: text wrapping keeps each of them whole."""
    return tuple(dict.fromkeys(f(i, lang) for i in range(len(CLASSES)) for f in (class_name, short_class)))


def class_index(name: str) -> int | None:
    """A class named by the user: its index (0-9), its name in any case, or a unique start of it
    ('t-shirt', 'ankle', 'boot' is not a start and fails); None when it names none or several."""
    text = name.strip().lower()
    if text.isdigit():
        return int(text) if int(text) < len(CLASSES) else None
    exact = [i for i, c in enumerate(CLASSES) if c.lower() == text]
    if exact:
        return exact[0]
    starts = [i for i, c in enumerate(CLASSES) if text and c.lower().startswith(text)]
    return starts[0] if len(starts) == 1 else None
