"""The training recipe: every setting that decides a result besides the seed, with the rule each must
keep. Stored in every checkpoint, so a resumed run's recipe is checked by the same rules as the options.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from fashionnet.weights import is_real, is_whole


@dataclass(frozen=True)
class Recipe:
    """Everything that decides the result besides the seed. Stored in every checkpoint.

    Found by sweeps on the real data (see docs/training.md): AdamW with a one-cycle schedule, label
    smoothing, and random horizontal flips that stop for the last epochs. Shifts, pixel dropout, input
    noise and weight averaging all made this MLP worse or no better. Photo drawings are mixed into every
    batch (docs/photos.md), and a small CNN teaches the MLP (knowledge distillation) through its answers,
    which ship (teacher.TARGETS); with the teacher, 30 epochs and label smoothing 0.1 did better than
    FashionMNIST alone's 21 and 0.2. Since issue 22's fourth round a second CNN, trained on the photos
    alone (photo_teacher.py), answers every photo drawing as it is turned, scaled and shifted, over 45
    epochs.
    """

    epochs: int = 45
    batch_size: int = 512
    lr: float = 2e-3  # peak learning rate of the one-cycle schedule
    weight_decay: float = 0.05  # AdamW, on weight matrices only (biases are not decayed)
    warmup_fraction: float = 0.2  # share of all steps spent warming up
    div_factor: float = 25.0  # starting lr = lr / div_factor
    final_div_factor: float = 1000.0  # final lr = starting lr / final_div_factor
    label_smoothing: float = 0.1
    flip: bool = True  # random horizontal flips (clothes are close to mirror-symmetric)...
    clean_epochs: int = 7  # ...except in the last epochs, which see the images as they are
    # The last share of the training images is held out from training to fit the temperature that
    # calibrates the probabilities (calibration.fit_temperature); 0 skips calibration.
    holdout: float = 0.02
    # Photo drawings (fashionnet/drawings/) added to every batch, as a share of the batch size; their loss
    # (partial-label for shoes, uniform for hat/shorts/skirt, losses.photo) weighs photo_weight against
    # FashionMNIST's. 0 trains on FashionMNIST alone (--no-photos).
    photo_share: float = 0.125
    photo_weight: float = 0.3
    # Each photo drawing is turned by up to photo_rotation degrees, scaled by up to photo_scale and moved by
    # up to photo_shift pixels at random every time it is drawn (batches.warp); with no turn and no scale
    # it is moved by whole pixels only (batches.shift), as before issue 22's fourth round.
    photo_rotation: float = 10.0
    photo_scale: float = 0.1
    photo_shift: float = 2.0
    # Epochs of the CNN teacher (teacher.py) whose shipped answers the MLP distils from (recorded from the
    # targets file; tools/make_teacher_targets.py trains it); 0: no distillation. The MLP's FashionMNIST
    # loss is then distill_weight parts matching the teacher at distill_temperature, the rest the labels;
    # photo_distill parts of each photo's loss match the photo teacher's answer (photo_teacher.py) for the
    # drawing as it is drawn that step, the rest its label.
    teacher_epochs: int = 6
    distill_weight: float = 0.5
    distill_temperature: float = 4.0
    photo_distill: float = 1.0
    # Fit the temperature on the validation photos as well as the held-out images (docs/photos.md).
    photo_calibration: bool = True
    # Inputs are standardised while training (FashionMNIST's pixel mean and std); the saved weights have
    # this folded into the first layer, so every checkpoint takes the tutorial's ToTensor() input.
    mean: float = 0.2860
    std: float = 0.3530

    def to_dict(self) -> dict:
        return asdict(self)

    def problem(self) -> tuple[str, str] | None:
        """(field, what it must be) for the first value training cannot run with, else None. Checked for
        the user's options and for a resumed checkpoint's recipe alike."""
        for name, (ok, what) in RECIPE_RULES.items():
            value = getattr(self, name)
            if not ok(value):
                return name, what
        return None


# How photo drawings were drawn before the photo teacher: flipped and shifted by up to a whole pixel, no
# turn, no scaling. The distillation teacher's shipped answers were made so, and old checkpoints resume so.
WHOLE_PIXEL_PHOTOS = {"photo_rotation": 0.0, "photo_scale": 0.0, "photo_shift": 1.0}

RECIPE_RULES: dict[str, tuple] = {
    "epochs": (lambda v: is_whole(v) and 1 <= v <= 100_000, "a whole number from 1 to 100000"),
    "batch_size": (lambda v: is_whole(v) and 1 <= v <= 2**20, "a whole number from 1 to 1048576"),
    "lr": (lambda v: is_real(v) and 0 < v <= 1e3, "above 0 and at most 1000"),
    "weight_decay": (lambda v: is_real(v) and 0 <= v <= 1e3, "a finite number of at least 0"),
    "warmup_fraction": (lambda v: is_real(v) and 0 < v < 1, "a number between 0 and 1"),
    "div_factor": (lambda v: is_real(v) and v > 0, "a finite number above 0"),
    "final_div_factor": (lambda v: is_real(v) and v > 0, "a finite number above 0"),
    "label_smoothing": (lambda v: is_real(v) and 0 <= v <= 1, "a number from 0 to 1"),
    "flip": (lambda v: isinstance(v, bool), "true or false"),
    "clean_epochs": (lambda v: is_whole(v) and v >= 0, "a whole number of at least 0"),
    "mean": (lambda v: is_real(v), "a finite number"),
    "std": (lambda v: is_real(v) and v > 0, "a finite number above 0"),
    "holdout": (lambda v: is_real(v) and 0 <= v < 0.5, "a number from 0 to 0.5 (the share held out to calibrate)"),
    "photo_share": (lambda v: is_real(v) and 0 <= v <= 1, "a number from 0 to 1 (the share of photos in a batch)"),
    "photo_weight": (lambda v: is_real(v) and 0 <= v <= 100, "a number from 0 to 100"),
    "photo_rotation": (lambda v: is_real(v) and 0 <= v <= 180, "a number of degrees from 0 to 180"),
    "photo_scale": (lambda v: is_real(v) and 0 <= v < 1, "a number from 0 to 1 (a share of the size)"),
    "photo_shift": (lambda v: is_real(v) and 0 <= v <= 28, "a number of pixels from 0 to 28"),
    "teacher_epochs": (lambda v: is_whole(v) and 0 <= v <= 1000, "a whole number from 0 to 1000"),
    "distill_weight": (lambda v: is_real(v) and 0 <= v <= 1, "a number from 0 to 1"),
    "distill_temperature": (lambda v: is_real(v) and 0 < v <= 100, "above 0 and at most 100"),
    "photo_distill": (lambda v: is_real(v) and 0 <= v <= 1, "a number from 0 to 1"),
    "photo_calibration": (lambda v: isinstance(v, bool), "true or false"),
}
