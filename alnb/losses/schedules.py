"""Weight schedules for the calibration term: callables ``epoch -> weight``, selectable by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from alnb._validation import check_choice, check_fraction, check_non_negative, check_positive_int

__all__ = [
    "SCHEDULES",
    "AnnealSchedule",
    "ConstantSchedule",
    "Schedule",
    "anneal_schedule",
    "constant_schedule",
    "make_schedule",
]

#: A schedule maps a 0-based epoch to the weight of the calibration term.
Schedule = Callable[[int], float]

SCHEDULES: tuple[str, ...] = ("anneal", "constant")


def _check_epoch(epoch: int) -> int:
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"epoch must be a non-negative integer (0-based), got {epoch!r}.")
    return epoch


@dataclass(frozen=True)
class AnnealSchedule:
    r"""C-PEAL's annealed weight: a short ramp from 0 to :math:`W/100`, then linear towards :math:`W`.

    With :math:`\lambda_0 = W / 100` and :math:`n_w = \lfloor r E \rfloor` warm-up epochs:

    .. math::
        \lambda(e) = \begin{cases} \lambda_0\, e / n_w & e < n_w \\
        \lambda_0 + (W - \lambda_0)\,(e - n_w) / (E - n_w) & e \ge n_w \end{cases}

    Epochs are 0-based and lie in ``[0, E)`` (the weight never reaches :math:`W`, as in the reference code).

    Examples
    --------
    >>> [round(AnnealSchedule(1.0, 10)(e), 2) for e in range(10)]
    [0.0, 0.01, 0.12, 0.23, 0.34, 0.45, 0.56, 0.67, 0.78, 0.89]
    """

    base_weight: float = 1.0
    epochs: int = 10
    warmup_ratio: float = 0.1

    def __post_init__(self) -> None:
        check_non_negative(self.base_weight, "base_weight")
        check_positive_int(self.epochs, "epochs")
        check_fraction(self.warmup_ratio, "warmup_ratio")

    @property
    def warmup_epochs(self) -> int:
        """:math:`n_w = \\lfloor r E \\rfloor`."""
        return int(self.warmup_ratio * self.epochs)

    def __call__(self, epoch: int) -> float:
        epoch = _check_epoch(epoch)
        if epoch >= self.epochs:
            raise ValueError(
                f"epoch must lie in [0, {self.epochs}) for a schedule of {self.epochs} epochs, got {epoch}; "
                "build the schedule with the number of epochs the trainer runs."
            )
        init = self.base_weight / 100
        n_w = self.warmup_epochs
        if epoch < n_w:
            return init * epoch / n_w
        return init + (self.base_weight - init) * (epoch - n_w) / (self.epochs - n_w)


@dataclass(frozen=True)
class ConstantSchedule:
    """The same weight at every epoch.

    Examples
    --------
    >>> ConstantSchedule(0.01)(7)
    0.01
    """

    weight: float = 0.01

    def __post_init__(self) -> None:
        check_non_negative(self.weight, "weight")

    def __call__(self, epoch: int) -> float:
        _check_epoch(epoch)
        return float(self.weight)


def anneal_schedule(base_weight: float = 1.0, epochs: int = 10, warmup_ratio: float = 0.1) -> AnnealSchedule:
    """The annealed schedule of C-PEAL (see :class:`AnnealSchedule`)."""
    return AnnealSchedule(base_weight=base_weight, epochs=epochs, warmup_ratio=warmup_ratio)


def constant_schedule(weight: float) -> ConstantSchedule:
    """A constant weight (C-PEAL uses 0.01 when it does not anneal)."""
    return ConstantSchedule(weight=weight)


def make_schedule(
    name: str | Schedule, weight: float = 1.0, epochs: int = 10, warmup_ratio: float = 0.1
) -> Schedule:
    """A schedule by name (``"anneal"`` or ``"constant"``); a callable is returned unchanged.

    Examples
    --------
    >>> make_schedule("constant", weight=0.5)(3)
    0.5
    """
    if callable(name):
        return name
    check_choice(name, "schedule", SCHEDULES)
    if name == "anneal":
        return anneal_schedule(base_weight=weight, epochs=epochs, warmup_ratio=warmup_ratio)
    return constant_schedule(weight)
