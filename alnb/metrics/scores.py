"""Proper scores, accuracy and error-detection AUROC."""

from __future__ import annotations

from typing import Any

import torch

from alnb._validation import as_tensor, check_labels, check_probs, describe

__all__ = [
    "accuracy",
    "brier_score",
    "error_detection_auroc",
    "negative_log_likelihood",
    "predictive_entropy",
]

# Probabilities are clipped here before the log, as scikit-learn's log_loss does (float64 machine epsilon).
_NLL_EPS = float(torch.finfo(torch.float64).eps)


def accuracy(probs: Any, labels: Any) -> float:
    r"""Top-1 accuracy, :math:`\frac{1}{N}\sum_i [\arg\max_c p_{ic} = y_i]` (ties go to the lowest index).

    Examples
    --------
    >>> import torch
    >>> accuracy(torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]]), torch.tensor([0, 1, 1]))
    0.6666666666666666
    """
    p = check_probs(probs)
    y = check_labels(labels, p.shape[0], p.shape[1]).to(p.device)
    return float((p.argmax(dim=1) == y).to(torch.float64).mean())


def brier_score(probs: Any, labels: Any) -> float:
    r"""Multiclass Brier score, :math:`\frac{1}{N}\sum_i\sum_c (p_{ic} - [y_i = c])^2`, in [0, 2].

    Equal to scikit-learn's ``brier_score_loss(labels, probs, scale_by_half=False)``.

    Examples
    --------
    (0.1² + 0.1²) for the first row and (0.6² + 0.6²) for the second: (0.02 + 0.72) / 2 = 0.37.

    >>> import torch
    >>> round(brier_score(torch.tensor([[0.9, 0.1], [0.6, 0.4]]), torch.tensor([0, 1])), 6)
    0.37
    """
    p = check_probs(probs)
    y = check_labels(labels, p.shape[0], p.shape[1]).to(p.device)
    onehot = torch.nn.functional.one_hot(y, p.shape[1]).to(p.dtype)
    return float(((p - onehot) ** 2).sum(dim=1).mean())


def negative_log_likelihood(probs: Any, labels: Any) -> float:
    r"""Mean negative log-likelihood of the true class, :math:`-\frac{1}{N}\sum_i \ln p_{i y_i}`.

    Probabilities are clipped to at least float64 machine epsilon first (as scikit-learn's ``log_loss``
    does), so a zero probability for the true class gives about 36.04 instead of infinity.

    Examples
    --------
    >>> import math, torch
    >>> nll = negative_log_likelihood(torch.tensor([[0.5, 0.5], [0.25, 0.75]]), torch.tensor([0, 1]))
    >>> math.isclose(nll, -(math.log(0.5) + math.log(0.75)) / 2)
    True
    """
    p = check_probs(probs)
    y = check_labels(labels, p.shape[0], p.shape[1]).to(p.device)
    true = p.gather(1, y[:, None]).squeeze(1).clamp(_NLL_EPS, 1.0)
    return float(-true.log().mean())


def predictive_entropy(probs: Any) -> torch.Tensor:
    r"""Entropy of each row in nats, :math:`H_i = -\sum_c p_{ic}\ln p_{ic}` (with :math:`0 \ln 0 = 0`).

    Returns
    -------
    Tensor, shape (N,), float64
    """
    p = check_probs(probs)
    return -torch.special.xlogy(p, p).sum(dim=1)


def error_detection_auroc(uncertainty: Any, correct: Any) -> float:
    r"""How well an uncertainty score ranks wrong predictions above right ones (AUROC, wrong = positive).

    .. math::
        \mathrm{AUROC} = \frac{1}{|W|\,|R|}\sum_{i \in W}\sum_{j \in R}
        \Big([u_i > u_j] + \tfrac{1}{2}[u_i = u_j]\Big)

    over wrong predictions :math:`W` and right ones :math:`R`: the probability that a random wrong prediction
    is scored more uncertain than a random right one, ties counting one half. 1 is a perfect error detector,
    0.5 is chance. Computed from average ranks (Mann-Whitney U), so it equals scikit-learn's
    ``roc_auc_score(~correct, uncertainty)``.

    Parameters
    ----------
    uncertainty : Tensor or ndarray, shape (N,)
        Higher means "more likely wrong" (e.g. predictive entropy).
    correct : Tensor or ndarray of bool or {0, 1}, shape (N,)
        Whether each prediction was right.

    Returns
    -------
    float
        The AUROC, or **NaN** when all predictions are right or all are wrong (the ranking is then undefined).

    Examples
    --------
    Wrong predictions have uncertainty 0.9 and 0.5, right ones 0.5 and 0.1: of the four (wrong, right) pairs
    three are ordered correctly and one is tied, so AUROC = (3 + 0.5) / 4.

    >>> error_detection_auroc([0.9, 0.5, 0.5, 0.1], [False, False, True, True])
    0.875
    """
    u = as_tensor(uncertainty, "uncertainty", torch.float64)
    c = as_tensor(correct, "correct")
    if u.ndim != 1:
        raise ValueError(f"uncertainty must be shaped [N], got {describe(uncertainty)}.")
    if c.ndim != 1 or c.shape[0] != u.shape[0]:
        raise ValueError(
            f"correct must be shaped [N] with N = {u.shape[0]} (the length of uncertainty), "
            f"got {describe(correct)}."
        )
    if not bool(torch.isfinite(u).all()):
        raise ValueError("uncertainty must be finite, but it holds NaN or inf.")
    if c.dtype != torch.bool:
        if not bool(((c == 0) | (c == 1)).all()):
            raise ValueError(f"correct must hold booleans or 0/1 values, got {describe(correct)}.")
        c = c != 0
    wrong = ~c.to(u.device)
    n_wrong, n_right = int(wrong.sum()), int((~wrong).sum())
    if n_wrong == 0 or n_right == 0:
        return float("nan")
    _, inverse, counts = torch.unique(u, sorted=True, return_inverse=True, return_counts=True)
    # 1-based average rank of each distinct value: the last rank of its run minus half the run's extra length.
    last = counts.cumsum(0).to(torch.float64)
    ranks = (last - (counts.to(torch.float64) - 1) / 2)[inverse]
    u_stat = ranks[wrong].sum() - n_wrong * (n_wrong + 1) / 2
    return float(u_stat / (n_wrong * n_right))
