"""``TrainerConfig``: every training option, validated on construction."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, get_args

from alnb._validation import (
    check_choice,
    check_non_negative,
    check_non_negative_int,
    check_positive_int,
)

__all__ = [
    "CALIBRATION_SCHEDULES",
    "MIXED_PRECISION",
    "OPTIMIZERS",
    "SCHEDULES",
    "CalibrationScheduleName",
    "MixedPrecision",
    "OptimizerName",
    "ScheduleName",
    "TrainerConfig",
]

# The choices are written once, as Literal types; the tuples, the checks and the CLI's choices read them.
OptimizerName = Literal["sgd", "adamw"]
ScheduleName = Literal["cosine", "constant"]
CalibrationScheduleName = Literal["anneal", "constant"]
MixedPrecision = Literal["no", "bf16", "fp16"]
OPTIMIZERS: tuple[str, ...] = get_args(OptimizerName)
SCHEDULES: tuple[str, ...] = get_args(ScheduleName)
CALIBRATION_SCHEDULES: tuple[str, ...] = get_args(CalibrationScheduleName)
MIXED_PRECISION: tuple[str, ...] = get_args(MixedPrecision)


def _help(text: str, **metadata: object) -> dict[str, object]:
    """A field's metadata: its command-line help (``alnb.cli`` turns every field into a flag; ``cli=False`` hides
    it)."""
    return {"help": text, **metadata}


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
    warmup_epochs : int, optional
        Epochs at the constant ``warmup_lr`` first (1 at 1e-5 in C-PEAL); must be fewer than ``epochs``. ``None``
        (default) means 1, or 0 when ``epochs`` is 1; it is replaced by that number on construction.
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

    epochs: int = field(default=10, metadata=_help("training epochs per round"))
    lr: float = field(default=0.002, metadata=_help("peak learning rate (C-PEAL: 0.002)"))
    batch_size: int = field(default=32, metadata=_help("training batch size per process"))
    optimizer: OptimizerName = field(default="sgd", metadata=_help("SGD with momentum, or AdamW"))
    momentum: float = field(default=0.9, metadata=_help("SGD momentum"))
    weight_decay: float = field(default=5e-4, metadata=_help("weight decay (CoOp's 5e-4)"))
    schedule: ScheduleName = field(default="cosine", metadata=_help("learning rate after warm-up"))
    warmup_epochs: int | None = field(
        default=None, metadata=_help("epochs at warmup_lr first (default: 1, or 0 when epochs is 1)")
    )
    min_steps: int = field(default=0, metadata=_help("at least this many optimizer steps per fit (0 = off)"))
    warmup_lr: float = field(default=1e-5, metadata=_help("learning rate during warm-up"))
    seed: int = field(
        default=0, metadata=_help("seed of the adapter reset, data order, dropout, augmentation", cli=False)
    )
    calibration: str = field(
        default="none", metadata=_help("calibration loss added to cross-entropy", cli=False)
    )
    calibration_weight: float = field(default=1.0, metadata=_help("base weight of the calibration term"))
    calibration_schedule: CalibrationScheduleName = field(
        default="anneal", metadata=_help("C-PEAL's annealed calibration weight, or a constant one")
    )
    reset_each_round: bool = field(default=True, metadata=_help("re-initialise the adapter at every fit"))
    mixed_precision: MixedPrecision | None = field(
        default=None, metadata=_help("autocast precision (default: accelerate's setting)")
    )
    quiet: bool = field(default=False, metadata=_help("silence progress bars", cli=False))
    feature_cache: bool = field(default=True, metadata=_help("reuse frozen image features across fits"))
    augment: bool = field(
        default=False, metadata=_help("random resized crop and flip (trained image towers only)")
    )
    # The data layout is one setting of the pool (alnb.Pool(image_column=...)), which sets this one.
    image_column: str = field(default="image", metadata=_help("column holding the images", cli=False))
    eval_batch_size: int = field(default=128, metadata=_help("batch size of predict and feature encoding"))
    num_workers: int = field(
        default=0, metadata=_help("DataLoader worker processes decoding images (0: in the main process)")
    )
    pin_memory: bool = field(default=True, metadata=_help("pinned host memory for image batches (CUDA only)"))

    def __post_init__(self) -> None:
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_positive_int(self.eval_batch_size, "eval_batch_size")
        check_non_negative_int(self.seed, "seed")
        if self.warmup_epochs is None:
            self.warmup_epochs = min(1, self.epochs - 1)
        check_non_negative_int(self.warmup_epochs, "warmup_epochs")
        check_non_negative_int(self.min_steps, "min_steps")
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
        warmup = self.warmup_epochs or 0  # never None after __post_init__
        if epoch < warmup:
            return self.warmup_lr
        if self.schedule == "constant":
            return self.lr
        progress = (epoch - warmup) / (self.epochs - warmup)
        return 0.5 * self.lr * (1 + math.cos(math.pi * progress))
