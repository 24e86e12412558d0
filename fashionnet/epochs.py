"""What one epoch of training reports (EpochStats) and who listens (Callbacks): shared by the network's
training (train.py, tutorial_recipe.py) and the teacher's (teacher.py), which train.py itself imports."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol


@dataclass
class EpochStats:
    epoch: int
    train_loss: float
    train_accuracy: float
    test_loss: float | None
    test_accuracy: float | None
    seconds: float
    samples_per_second: float
    lr: float

    def to_dict(self) -> dict:
        return asdict(self)


class Callbacks(Protocol):
    def epoch_start(self, epoch: int, epochs: int, batches: int) -> None: ...
    def batch_end(self, batch: int, samples: int, loss: float) -> None: ...
    def epoch_end(self, stats: EpochStats) -> None: ...


class Silent:
    def epoch_start(self, epoch: int, epochs: int, batches: int) -> None:
        pass

    def batch_end(self, batch: int, samples: int, loss: float) -> None:
        pass

    def epoch_end(self, stats: EpochStats) -> None:
        pass
