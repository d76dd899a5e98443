"""Accuracy-versus-uncertainty calibration loss (AvUC, Krishnan & Tickoo, NeurIPS 2020)."""

from __future__ import annotations

from typing import Any

import torch

from alnb._validation import check_non_negative
from alnb.losses._common import check_loss_inputs, softmax_entropy
from alnb.losses.registry import register_loss

__all__ = ["avuc_loss"]

_EPS = 1e-10


@register_loss("avuc")
def avuc_loss(
    logits: torch.Tensor, labels: Any, threshold: float | None = None, beta: float = 1.0
) -> torch.Tensor:
    r"""AvUC loss: :math:`-\beta \ln \mathrm{AvU}` with a differentiable accuracy-versus-uncertainty ratio.

    With max-probability :math:`\hat p_i`, entropy :math:`H_i` (nats) and threshold :math:`\tau`, each item is
    accurate or inaccurate (arg-max vs label) and certain (:math:`H_i \le \tau`) or uncertain:

    .. math::
        n_{AC} = \sum_{\text{acc, cert}} \hat p_i (1 - \tanh H_i),\quad
        n_{AU} = \sum_{\text{acc, unc}} \hat p_i \tanh H_i,\quad
        n_{IC} = \sum_{\text{inacc, cert}} (1 - \hat p_i)(1 - \tanh H_i),\quad
        n_{IU} = \sum_{\text{inacc, unc}} (1 - \hat p_i) \tanh H_i

    .. math::
        \mathrm{AvU} = \frac{n_{AC} + n_{IU}}{n_{AC} + n_{AU} + n_{IC} + n_{IU}},\qquad
        L = -\beta \ln(\mathrm{AvU} + 10^{-10})

    Vectorised over the batch (masks, no Python loop); the group assignment carries no gradient, the four sums
    do. The :math:`10^{-10}` keeps the loss finite (about 23·β) when AvU is 0 instead of silently returning 0.

    Parameters
    ----------
    logits : Tensor, shape (N, C)
        Raw class scores.
    labels : Tensor of int, shape (N,)
        True classes.
    threshold : float, optional
        Entropy threshold :math:`\tau` in nats. ``None`` uses the batch's mean entropy (detached), a per-batch
        stand-in for the data-driven threshold of the paper.
    beta : float
        Scale :math:`\beta \ge 0`.

    Returns
    -------
    Tensor
        Scalar loss, differentiable with respect to ``logits``.

    Examples
    --------
    >>> import torch
    >>> logits = torch.tensor([[3.0, 0.0], [0.0, 0.5], [0.2, 0.0]])
    >>> float(avuc_loss(logits, torch.tensor([0, 1, 1]), threshold=0.5)) > 0
    True
    """
    logits, y = check_loss_inputs(logits, labels)
    beta = check_non_negative(beta, "beta")
    probs = torch.softmax(logits, dim=1)
    confidence, predicted = probs.max(dim=1)
    entropy = softmax_entropy(probs, _EPS)
    t = torch.tanh(entropy)
    tau = entropy.detach().mean() if threshold is None else check_non_negative(threshold, "threshold")
    accurate = (predicted == y).to(logits.dtype)
    certain = (entropy.detach() <= tau).to(logits.dtype)
    n_ac = (accurate * certain * confidence * (1 - t)).sum()
    n_au = (accurate * (1 - certain) * confidence * t).sum()
    n_ic = ((1 - accurate) * certain * (1 - confidence) * (1 - t)).sum()
    n_iu = ((1 - accurate) * (1 - certain) * (1 - confidence) * t).sum()
    avu = (n_ac + n_iu) / (n_ac + n_au + n_ic + n_iu + _EPS)
    return -beta * torch.log(avu + _EPS)
