"""The training objective: a base loss plus a scheduled calibration term."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch

from alnb._validation import check_non_negative, check_positive_int
from alnb.losses.registry import LossFn, available_losses, get_loss, loss_spec
from alnb.losses.schedules import Schedule, make_schedule

__all__ = ["CalibratedObjective", "LossParts"]


class LossParts(NamedTuple):
    """The parts of one evaluation of :class:`CalibratedObjective`, for logging.

    ``total = base + weight * calibration``; ``total`` carries the gradient, log the others with ``float()``.
    """

    total: torch.Tensor
    base: torch.Tensor
    calibration: torch.Tensor
    weight: float


@dataclass
class CalibratedObjective:
    r"""Base loss plus a scheduled calibration term, :math:`L = L_{base}(z, y) + \lambda(e)\,L_{cal}(z, y)`.

    How the registered losses combine:

    - **Base losses replace cross-entropy**: ``"ce"`` (default), ``"focal"``, ``"flsd53"``,
      ``"label_smoothing"``. Choose one with ``base=...``; naming one as ``calibration`` is a shortcut for
      ``base=that`` with no calibration term (``CalibratedObjective(calibration="focal")`` trains with the
      focal loss alone).
    - **Calibration losses are added** with weight :math:`\lambda(e)`: ``"uc"``, ``"uc_unbalanced"``,
      ``"avuc"``, ``"mmce"``; ``"none"`` adds nothing (plain base loss).

    Parameters
    ----------
    calibration : str
        Registered loss name (see :func:`~alnb.losses.available_losses`).
    weight : float
        Base weight :math:`W` of the calibration term (for ``"anneal"``) or the constant weight.
    schedule : {"anneal", "constant"} or callable
        How the weight changes over epochs; a callable ``epoch -> weight`` is used as is (then ``weight``,
        ``epochs`` and ``warmup_ratio`` are not used).
    epochs : int
        Number of training epochs (the anneal schedule needs it).
    base : str
        Registered base loss name.
    warmup_ratio : float
        Warm-up share of the anneal schedule.
    calibration_kwargs, base_kwargs : mapping
        Keyword arguments bound to the two losses (e.g. ``{"gamma": 2.0}`` for focal, ``{"threshold": 0.5}``
        for avuc).

    Examples
    --------
    >>> import torch
    >>> objective = CalibratedObjective("uc", weight=1.0, schedule="anneal", epochs=10)
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0]], requires_grad=True)
    >>> parts = objective.parts(logits, torch.tensor([0, 1, 1]), epoch=2)
    >>> round(parts.weight, 2)
    0.12
    >>> bool(torch.isclose(parts.total, parts.base + parts.weight * parts.calibration))
    True
    >>> parts.total.backward()
    """

    calibration: str = "uc"
    weight: float = 1.0
    schedule: str | Schedule = "anneal"
    epochs: int = 10
    base: str = "ce"
    warmup_ratio: float = 0.1
    calibration_kwargs: Mapping[str, Any] = field(default_factory=dict)
    base_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_non_negative(self.weight, "weight")
        check_positive_int(self.epochs, "epochs")
        base_spec = loss_spec(self.base)
        if base_spec.role != "base":
            raise ValueError(
                f"base must name a base loss ({', '.join(available_losses('base'))}); got {self.base!r}, "
                "which is a calibration term: pass it as calibration=... instead."
            )
        cal_spec = loss_spec(self.calibration)
        base_name, base_kwargs = self.base, dict(self.base_kwargs)
        cal_name, cal_kwargs = self.calibration, dict(self.calibration_kwargs)
        if cal_spec.role == "base":
            if self.base != "ce":
                raise ValueError(
                    f"calibration={self.calibration!r} is a base loss and base={self.base!r} is another; "
                    "choose one base loss (they replace cross-entropy, they do not add up)."
                )
            base_name, base_kwargs, cal_name, cal_kwargs = cal_name, cal_kwargs, "none", {}
        # Resolved callables are plain attributes, not fields, so dataclasses.asdict() gives a clean config.
        self._base_fn: LossFn = get_loss(base_name, **base_kwargs)
        self._calibration_fn: LossFn = get_loss(cal_name, **cal_kwargs)
        self._schedule_fn: Schedule = make_schedule(
            self.schedule, weight=self.weight, epochs=self.epochs, warmup_ratio=self.warmup_ratio
        )

    def weight_at(self, epoch: int) -> float:
        """Weight :math:`\\lambda(e)` of the calibration term at a 0-based epoch."""
        return float(self._schedule_fn(epoch))

    def parts(self, logits: torch.Tensor, labels: Any, epoch: int) -> LossParts:
        """Total loss and its parts at a 0-based epoch."""
        weight = self.weight_at(epoch)
        base = self._base_fn(logits, labels)
        calibration = self._calibration_fn(logits, labels)
        return LossParts(total=base + weight * calibration, base=base, calibration=calibration, weight=weight)

    def __call__(self, logits: torch.Tensor, labels: Any, epoch: int) -> torch.Tensor:
        """Total loss ``base + weight(epoch) * calibration``."""
        return self.parts(logits, labels, epoch).total
