"""``TrainerConfig``: every training option, validated on construction."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from alnb._validation import check_choice, check_non_negative, check_positive_int

__all__ = ["MIXED_PRECISION", "OPTIMIZERS", "SCHEDULES", "TrainerConfig"]

OPTIMIZERS: tuple[str, ...] = ("sgd", "adamw")
SCHEDULES: tuple[str, ...] = ("cosine", "constant")
CALIBRATION_SCHEDULES: tuple[str, ...] = ("anneal", "constant")
MIXED_PRECISION: tuple[str, ...] = ("no", "bf16", "fp16")


def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return value


@dataclass
class TrainerConfig:
    """Training options; the defaults follow C-PEAL's released script.

    Parameters
    ----------
    epochs : int
        Epochs per ``fit`` (10).
    lr : float
        Peak learning rate (0.002).
    batch_size : int
        Training batch size per process (32).
    optimizer : {"sgd", "adamw"}
        SGD with ``momentum`` (default) or AdamW.
    momentum : float
        SGD momentum (0.9).
    weight_decay : float
        Weight decay (5e-4, CoOp's).
    schedule : {"cosine", "constant"}
        Learning rate after warm-up, set once per epoch: cosine from ``lr`` towards 0, or constant.
    warmup_epochs : int
        Epochs at the constant ``warmup_lr`` first (1 at 1e-5 in C-PEAL); must be fewer than ``epochs``.
    min_steps : int
        At least this many optimizer steps per ``fit`` (0 = off, C-PEAL): small labeled sets then train for more
        epochs (the schedule stretches with them), as CoOp trains 1-shot sets for more epochs than 16-shot ones. With
        10 labels and batch 32, 10 epochs are only 10 steps. See :meth:`epochs_for`.
    warmup_lr : float
        Learning rate during warm-up.
    seed : int
        Seeds the adapter reset, the data order, dropout and augmentation: the same seed gives the same
        weights.
    calibration : str
        ``"none"`` or any registered loss name (``alnb.losses.available_losses()``), e.g. ``"uc"`` for C-PEAL.
    calibration_weight : float
        Base weight of the calibration term.
    calibration_schedule : {"anneal", "constant"}
        C-PEAL's annealed weight or a constant one.
    reset_each_round : bool
        Re-initialise the adapter at the start of every ``fit`` (C-PEAL retrains from scratch each round).
    mixed_precision : {None, "no", "bf16", "fp16"}
        Autocast precision. ``None`` (default) uses accelerate's own setting: ``accelerate launch
        --mixed_precision``, ``ACCELERATE_MIXED_PRECISION`` or the ``accelerate config`` file, else ``"no"``.
        ``"bf16"`` runs where the device has it (a CUDA GPU with bf16, or a CPU whose autocast supports bf16);
        ``"fp16"`` only on a GPU; elsewhere training stays in float32. Trainers with different precisions can
        live in one process. Ignored when the Trainer is given an accelerator (then its setting applies).
    quiet : bool
        Silence progress bars.
    feature_cache : bool
        Reuse frozen image features across ``fit`` and ``predict`` calls (only when the image tower is
        frozen).
    augment : bool
        Random resized crop and horizontal flip of training images; applies only when the image tower trains
        (frozen towers use cached features of the unaugmented images).
    image_column : str
        Column holding the images in a ``datasets.Dataset`` (or key in dict items).
    eval_batch_size : int
        Batch size of ``predict`` and of feature encoding (128).
    num_workers : int
        Worker processes that read and preprocess images (feature encoding, uncached predictions, rounds that train
        the image tower), so decoding overlaps the model; 0 (default) decodes in the main process. The results do
        not depend on it (augmentation is seeded per item).
    pin_memory : bool
        Page-locked host memory for image batches, for faster copies to a CUDA GPU (ignored elsewhere).
    """

    epochs: int = 10
    lr: float = 0.002
    batch_size: int = 32
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    warmup_epochs: int = 1
    min_steps: int = 0
    warmup_lr: float = 1e-5
    seed: int = 0
    calibration: str = "none"
    calibration_weight: float = 1.0
    calibration_schedule: str = "anneal"
    reset_each_round: bool = True
    mixed_precision: str | None = None
    quiet: bool = False
    feature_cache: bool = True
    augment: bool = False
    image_column: str = "image"
    eval_batch_size: int = 128
    num_workers: int = field(
        default=0, metadata={"help": "DataLoader worker processes decoding images (0: in the main process)"}
    )
    pin_memory: bool = field(default=True, metadata={"help": "pinned host memory for image batches (CUDA only)"})

    def __post_init__(self) -> None:
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_positive_int(self.eval_batch_size, "eval_batch_size")
        _check_int(self.seed, "seed", 0)
        _check_int(self.warmup_epochs, "warmup_epochs", 0)
        _check_int(self.min_steps, "min_steps", 0)
        if self.warmup_epochs >= self.epochs:
            raise ValueError(
                f"warmup_epochs must be fewer than epochs, got warmup_epochs={self.warmup_epochs} with "
                f"epochs={self.epochs}; use warmup_epochs=0 for short runs."
            )
        if check_non_negative(self.lr, "lr") == 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}.")
        check_non_negative(self.warmup_lr, "warmup_lr")
        check_non_negative(self.momentum, "momentum")
        check_non_negative(self.weight_decay, "weight_decay")
        check_non_negative(self.calibration_weight, "calibration_weight")
        check_choice(self.optimizer, "optimizer", OPTIMIZERS)
        check_choice(self.schedule, "schedule", SCHEDULES)
        check_choice(self.calibration_schedule, "calibration_schedule", CALIBRATION_SCHEDULES)
        if self.mixed_precision is not None:
            check_choice(self.mixed_precision, "mixed_precision", MIXED_PRECISION)
        from alnb.losses import available_losses

        check_choice(self.calibration, "calibration", available_losses())
        for name in ("reset_each_round", "quiet", "feature_cache", "augment"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}.")
        if not isinstance(self.image_column, str) or not self.image_column:
            raise ValueError(f"image_column must be a non-empty string, got {self.image_column!r}.")

    def epochs_for(self, n_samples: int) -> int:
        """Epochs a ``fit`` on ``n_samples`` labeled items runs: ``epochs``, or more to reach ``min_steps`` steps.

        >>> TrainerConfig(epochs=10, batch_size=32, min_steps=200).epochs_for(10), TrainerConfig().epochs_for(10)
        (200, 10)
        >>> TrainerConfig(epochs=10, batch_size=32, min_steps=200).epochs_for(320)
        20
        """
        steps_per_epoch = max(1, math.ceil(n_samples / self.batch_size))
        return max(self.epochs, math.ceil(self.min_steps / steps_per_epoch))

    def lr_at(self, epoch: int) -> float:
        """Learning rate of a 0-based epoch: ``warmup_lr`` during warm-up, then cosine (or constant) from
        ``lr``.

        Examples
        --------
        >>> config = TrainerConfig(epochs=5, lr=0.1, warmup_epochs=1)
        >>> config.lr_at(0)
        1e-05
        >>> [round(config.lr_at(e), 4) for e in range(1, 5)]
        [0.1, 0.0854, 0.05, 0.0146]
        """
        if epoch < self.warmup_epochs:
            return self.warmup_lr
        if self.schedule == "constant":
            return self.lr
        progress = (epoch - self.warmup_epochs) / (self.epochs - self.warmup_epochs)
        return 0.5 * self.lr * (1 + math.cos(math.pi * progress))
