"""Label-smoothing cross-entropy (Szegedy et al., 2016)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from alnb._validation import check_fraction
from alnb.losses._common import check_loss_inputs
from alnb.losses.registry import register_loss

__all__ = ["label_smoothing_loss"]


@register_loss("label_smoothing", role="base")
def label_smoothing_loss(logits: torch.Tensor, labels: Any, smoothing: float = 0.1) -> torch.Tensor:
    r"""Cross-entropy against smoothed targets :math:`q = (1 - s)\,\mathrm{onehot}(y) + s / C`.

    .. math::
        L = \frac{1}{N}\sum_i\Big[-(1 - s)\ln p_{i y_i} - \frac{s}{C}\sum_c \ln p_{ic}\Big]

    A *base* loss: in :class:`~alnb.losses.CalibratedObjective` it replaces cross-entropy.

    Parameters
    ----------
    logits : Tensor, shape (N, C)
        Raw class scores.
    labels : Tensor of int, shape (N,)
        True classes.
    smoothing : float
        :math:`s \in [0, 1]`; 0 is plain cross-entropy.

    Examples
    --------
    >>> import math, torch
    >>> logits = torch.tensor([[math.log(4.0), 0.0]], dtype=torch.float64)  # p = (0.8, 0.2)
    >>> expected = -0.9 * math.log(0.8) - 0.05 * (math.log(0.8) + math.log(0.2))
    >>> math.isclose(float(label_smoothing_loss(logits, torch.tensor([0]))), expected)
    True
    """
    logits, y = check_loss_inputs(logits, labels)
    s = check_fraction(smoothing, "smoothing")
    return F.cross_entropy(logits, y, label_smoothing=s)
