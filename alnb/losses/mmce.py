"""Maximum mean calibration error (MMCE, Kumar, Sarawagi & Jain, ICML 2018)."""

from __future__ import annotations

from typing import Any

import torch

from alnb._validation import check_non_negative
from alnb.losses._common import check_loss_inputs
from alnb.losses.registry import register_loss

__all__ = ["mmce_loss"]

# sqrt has an infinite slope at 0: clamp the squared value above it so gradients stay finite.
_MIN_SQUARED = 1e-12


@register_loss("mmce")
def mmce_loss(logits: torch.Tensor, labels: Any, kernel_width: float = 0.4) -> torch.Tensor:
    r"""MMCE: a kernel distance between confidence and correctness.

    With confidence :math:`r_i = \max_c p_{ic}`, correctness :math:`c_i = [\arg\max p_i = y_i]` and the
    Laplacian kernel :math:`k(r, r') = \exp(-|r - r'| / 0.4)`:

    .. math::
        \mathrm{MMCE} = \Big(\frac{1}{N^2}\sum_{i,j} (c_i - r_i)(c_j - r_j)\,k(r_i, r_j)\Big)^{1/2}

    The kernel is positive definite, so the quadratic form is non-negative; it is clamped to at least
    :math:`10^{-12}` before the square root. Cost and memory are :math:`O(N^2)` in the batch size.

    Parameters
    ----------
    logits : Tensor, shape (N, C)
        Raw class scores.
    labels : Tensor of int, shape (N,)
        True classes.
    kernel_width : float
        Width of the Laplacian kernel (0.4 in the paper).

    Returns
    -------
    Tensor
        Scalar loss, differentiable with respect to ``logits``.

    Examples
    --------
    One right prediction at confidence 0.8: MMCE = ``|1 - 0.8|`` = 0.2.

    >>> import math, torch
    >>> logits = torch.tensor([[math.log(4.0), 0.0]], dtype=torch.float64)
    >>> round(float(mmce_loss(logits, torch.tensor([0]))), 6)
    0.2
    """
    logits, y = check_loss_inputs(logits, labels)
    width = check_non_negative(kernel_width, "kernel_width")
    if width == 0:
        raise ValueError(f"kernel_width must be positive, got {kernel_width!r}.")
    confidence, predicted = torch.softmax(logits, dim=1).max(dim=1)
    residual = (predicted == y).to(logits.dtype) - confidence
    kernel = torch.exp(-(confidence[:, None] - confidence[None, :]).abs() / width)
    squared = (residual[:, None] * residual[None, :] * kernel).sum() / logits.shape[0] ** 2
    return squared.clamp_min(_MIN_SQUARED).sqrt()
