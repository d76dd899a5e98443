"""Focal loss and its sample-dependent FLSD-53 variant (Mukhoti et al., NeurIPS 2020)."""

from __future__ import annotations

import functools
from typing import Any, Literal

import torch

from alnb._validation import check_non_negative
from alnb.losses._common import check_loss_inputs
from alnb.losses.registry import register_loss

__all__ = ["focal_loss"]


@register_loss("focal", role="base")
def focal_loss(logits: torch.Tensor, labels: Any, gamma: float | Literal["flsd53"] = 3.0) -> torch.Tensor:
    r"""Focal loss, :math:`\frac{1}{N}\sum_i -(1 - p_{i y_i})^{\gamma_i} \ln p_{i y_i}`.

    A fixed ``gamma`` uses :math:`\gamma_i = \gamma`. ``gamma="flsd53"`` is the sample-dependent
    schedule FLSD-53: :math:`\gamma_i = 5` if :math:`p_{i y_i} < 0.2` else 3 (chosen on the detached
    probability). ``gamma=0`` is cross-entropy. A *base* loss: in
    :class:`~alnb.losses.CalibratedObjective` it replaces cross-entropy.

    Parameters
    ----------
    logits : Tensor, shape (N, C)
        Raw class scores.
    labels : Tensor of int, shape (N,)
        True classes.
    gamma : float or "flsd53"
        Focusing parameter :math:`\gamma \ge 0`, or ``"flsd53"``.

    Examples
    --------
    True-class probability 0.8 and gamma 2: -(0.2²)·ln 0.8.

    >>> import math, torch
    >>> logits = torch.tensor([[math.log(4.0), 0.0]], dtype=torch.float64)
    >>> math.isclose(float(focal_loss(logits, torch.tensor([0]), gamma=2.0)), -(0.2**2) * math.log(0.8))
    True
    """
    logits, y = check_loss_inputs(logits, labels)
    log_p = torch.log_softmax(logits, dim=1).gather(1, y[:, None]).squeeze(1)
    p = log_p.exp()
    if isinstance(gamma, str):
        if gamma != "flsd53":
            raise ValueError(f"gamma must be a non-negative number or 'flsd53', got {gamma!r}.")
        g: torch.Tensor | float = torch.where(p.detach() < 0.2, 5.0, 3.0).to(logits.dtype)
    else:
        # A Python float exponent: torch's pow then gives a zero (not NaN) gradient for gamma = 0 at p = 1.
        g = check_non_negative(gamma, "gamma")
    # clamp_min(0): 1 - exp(log p) can round to a tiny negative number, and a fractional power of it is NaN.
    return (-((1 - p).clamp_min(0) ** g) * log_p).mean()


register_loss("flsd53", functools.partial(focal_loss, gamma="flsd53"), role="base")
