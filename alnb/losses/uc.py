"""C-PEAL's uncertainty-calibration loss L_UC."""

from __future__ import annotations

import functools
from typing import Any

import torch

from alnb.losses._common import check_loss_inputs, softmax_entropy
from alnb.losses.registry import register_loss

__all__ = ["uncertainty_calibration_loss"]

_EPS = 1e-6
_CAP = 5.0


@register_loss("uc")
def uncertainty_calibration_loss(logits: torch.Tensor, labels: Any, balanced: bool = True) -> torch.Tensor:
    r"""Uncertainty-calibration loss of C-PEAL: be confident when right, uncertain when wrong.

    With :math:`p_i = \mathrm{softmax}(z_i)`, :math:`H_i = -\sum_c p_{ic}\ln(p_{ic} + 10^{-6})`, the correct
    set :math:`\mathcal{C} = \{i : \arg\max p_i = y_i\}` and the incorrect set :math:`\mathcal{I}`:

    .. math::
        L_{corr} = \frac{1}{|\mathcal{C}|}\sum_{i\in\mathcal{C}} -\ln\big(1 - \tanh H_i + \epsilon\big),\quad
        L_{incorr} = \frac{1}{|\mathcal{I}|}\sum_{i\in\mathcal{I}} -\ln\big(\tanh H_i + \epsilon\big)

    with :math:`\epsilon = 10^{-6}` and a term of 0 for an empty group. Balanced:
    :math:`L = w_c L_{corr} + w_i L_{incorr}`, :math:`w_c = |\mathcal{I}| / N`,
    :math:`w_i = |\mathcal{C}| / N`; unbalanced: :math:`L = L_{corr} + L_{incorr}`. The result is capped at
    5.0 and a NaN becomes 0.

    Parameters
    ----------
    logits : Tensor, shape (N, C)
        Raw class scores.
    labels : Tensor of int, shape (N,)
        True classes.
    balanced : bool
        Weight the groups by the other group's share (the paper's main run) or sum them.

    Returns
    -------
    Tensor
        Scalar loss, differentiable with respect to ``logits``. The correct / incorrect split comes from the
        arg-max, which carries no gradient.

    Examples
    --------
    Both rows are right; a batch without wrong predictions has weight w_c = 0 in the balanced form.

    >>> import torch
    >>> logits = torch.tensor([[4.0, 0.0], [0.0, 4.0]])
    >>> float(uncertainty_calibration_loss(logits, torch.tensor([0, 1])))
    0.0
    >>> float(uncertainty_calibration_loss(logits, torch.tensor([0, 1]), balanced=False)) > 0
    True
    """
    logits, y = check_loss_inputs(logits, labels)
    probs = torch.softmax(logits, dim=1)
    wrongness = torch.tanh(softmax_entropy(probs, _EPS))  # tanh(H) predicts "this prediction is wrong"
    correct = probs.argmax(dim=1) == y
    n = logits.shape[0]
    n_correct = correct.sum().to(logits.dtype)
    n_wrong = n - n_correct
    zero = logits.new_zeros(())
    # Masked means: an empty group divides 0 by 1 and contributes 0, without a data-dependent branch.
    l_corr = torch.where(correct, -torch.log(1 - wrongness + _EPS), zero).sum() / n_correct.clamp_min(1)
    l_incorr = torch.where(~correct, -torch.log(wrongness + _EPS), zero).sum() / n_wrong.clamp_min(1)
    if balanced:
        loss = (n_wrong / n) * l_corr + (n_correct / n) * l_incorr
    else:
        loss = l_corr + l_incorr
    loss = loss.clamp(max=_CAP)
    return torch.where(torch.isnan(loss), zero, loss)


register_loss("uc_unbalanced", functools.partial(uncertainty_calibration_loss, balanced=False))
