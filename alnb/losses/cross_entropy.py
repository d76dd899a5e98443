"""Plain cross-entropy, the default base loss."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from alnb.losses._common import check_loss_inputs
from alnb.losses.registry import register_loss

__all__ = ["cross_entropy_loss"]


@register_loss("ce", role="base")
def cross_entropy_loss(logits: torch.Tensor, labels: Any) -> torch.Tensor:
    r"""Mean cross-entropy, :math:`-\frac{1}{N}\sum_i \ln \mathrm{softmax}(z_i)_{y_i}`.

    Examples
    --------
    >>> import math, torch
    >>> logits = torch.tensor([[math.log(4.0), 0.0]], dtype=torch.float64)
    >>> math.isclose(float(cross_entropy_loss(logits, torch.tensor([0]))), -math.log(0.8))
    True
    """
    logits, y = check_loss_inputs(logits, labels)
    return F.cross_entropy(logits, y)
