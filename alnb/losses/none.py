"""The empty calibration term: train with the base loss alone."""

from __future__ import annotations

from typing import Any

import torch

from alnb.losses._common import check_loss_inputs
from alnb.losses.registry import register_loss

__all__ = ["no_calibration_loss"]


@register_loss("none")
def no_calibration_loss(logits: torch.Tensor, labels: Any) -> torch.Tensor:
    """A constant zero on the logits' device and dtype (no gradient; ``base + weight * 0`` keeps the base's).

    Examples
    --------
    >>> import torch
    >>> float(no_calibration_loss(torch.zeros(2, 3), torch.tensor([0, 2])))
    0.0
    """
    logits, _ = check_loss_inputs(logits, labels)
    # Not logits * 0: masked logits of -inf would turn it into NaN.
    return logits.new_zeros(())
