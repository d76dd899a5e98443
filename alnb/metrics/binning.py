"""The one binning core that every calibration metric and the reliability diagram read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch

from alnb._validation import as_tensor, check_choice, check_labels, check_positive_int, check_probs

__all__ = ["BINNINGS", "NORMS", "CalibrationBins", "bin_scores", "calibration_bins", "confidence_and_correct"]

Binning = Literal["uniform", "quantile"]
Norm = Literal["l1", "l2", "max"]

BINNINGS: tuple[str, ...] = ("uniform", "quantile")
NORMS: tuple[str, ...] = ("l1", "l2", "max")


# eq=False: the generated __eq__ would compare tensors with ==, which has no single truth value.
@dataclass(frozen=True, eq=False)
class CalibrationBins:
    r"""Per-bin statistics of a reliability diagram.

    Bin :math:`b` covers the half-open interval ``[edges[b], edges[b + 1])``; the last bin is closed so that a
    confidence of exactly 1.0 is counted. An **empty bin** has ``count == 0`` and ``confidence`` and
    ``accuracy`` equal to NaN (it contributes nothing to any calibration error).

    Parameters
    ----------
    edges : Tensor, shape (n_bins + 1,), float64
        Bin edges, increasing from 0 to 1.
    confidence : Tensor, shape (n_bins,), float64
        Mean confidence (score) of the items in each bin.
    accuracy : Tensor, shape (n_bins,), float64
        Fraction of correct items (hits) in each bin.
    count : Tensor, shape (n_bins,), int64
        Number of items in each bin.
    """

    edges: torch.Tensor
    confidence: torch.Tensor
    accuracy: torch.Tensor
    count: torch.Tensor

    @property
    def n_bins(self) -> int:
        """Number of bins."""
        return int(self.count.shape[0])

    @property
    def total(self) -> int:
        """Number of binned items."""
        return int(self.count.sum())

    @property
    def weight(self) -> torch.Tensor:
        """Share of the items in each bin, :math:`|B_b| / N` (sums to 1)."""
        return self.count.to(torch.float64) / max(self.total, 1)

    @property
    def gap(self) -> torch.Tensor:
        """Signed gap ``accuracy - confidence`` per bin (NaN for empty bins)."""
        return self.accuracy - self.confidence

    def calibration_error(self, norm: Norm = "l1") -> float:
        r"""Calibration error of these bins.

        .. math::
            \mathrm{l1} = \sum_b \tfrac{|B_b|}{N}\,|\mathrm{acc}_b - \mathrm{conf}_b|,\quad
            \mathrm{l2} = \Big(\sum_b \tfrac{|B_b|}{N}\,(\mathrm{acc}_b - \mathrm{conf}_b)^2\Big)^{1/2},\quad
            \mathrm{max} = \max_{b:\,|B_b|>0} |\mathrm{acc}_b - \mathrm{conf}_b|

        Empty bins are skipped.
        """
        check_choice(norm, "norm", NORMS)
        filled = self.count > 0
        gap = self.gap[filled].abs()
        weight = self.weight[filled]
        if norm == "l1":
            return float((weight * gap).sum())
        if norm == "l2":
            return float((weight * gap**2).sum().sqrt())
        return float(gap.max()) if gap.numel() else 0.0


def _edges(scores: torch.Tensor, n_bins: int, binning: str) -> torch.Tensor:
    if binning == "uniform":
        return torch.linspace(0.0, 1.0, n_bins + 1, dtype=torch.float64, device=scores.device)
    # Equal mass: inner edges at the score quantiles; ties can still leave some bins unequal or empty.
    levels = torch.linspace(0.0, 1.0, n_bins + 1, dtype=torch.float64, device=scores.device)[1:-1]
    inner = torch.quantile(scores, levels) if levels.numel() else levels
    zero, one = scores.new_zeros(1), scores.new_ones(1)
    return torch.cat([zero, inner, one])


def bin_scores(
    scores: Any,
    hits: Any,
    n_bins: int = 15,
    binning: Binning = "uniform",
) -> CalibrationBins:
    """Bin scores in [0, 1] and average them and their 0/1 outcomes per bin.

    This is the core behind :func:`calibration_bins` (scores = top-label confidence, hits = correctness) and
    the class-wise error (scores = probability of one class, hits = whether that class is the label).

    Parameters
    ----------
    scores : Tensor or ndarray, shape (N,)
        Scores in [0, 1].
    hits : Tensor or ndarray of bool or {0, 1}, shape (N,)
        Outcome of each item.
    n_bins : int
        Number of bins.
    binning : {"uniform", "quantile"}
        Equal-width bins on [0, 1] or equal-mass bins (edges at score quantiles).

    Returns
    -------
    CalibrationBins
    """
    n_bins = check_positive_int(n_bins, "n_bins")
    check_choice(binning, "binning", BINNINGS)
    scores = as_tensor(scores, "scores", torch.float64).contiguous()
    hits = as_tensor(hits, "hits", torch.float64)
    if scores.ndim != 1 or hits.shape != scores.shape:
        raise ValueError(
            f"scores and hits must both be shaped [N], got {tuple(scores.shape)} and {tuple(hits.shape)}."
        )
    if scores.numel() == 0:
        raise ValueError("scores must hold at least one item, got an empty array.")
    edges = _edges(scores, n_bins, binning)
    # right=True on the inner edges puts x in bin b when edges[b] <= x < edges[b + 1]; x >= edges[-2]
    # (including exactly 1.0) lands in the last bin, which makes that bin closed.
    index = torch.bucketize(scores, edges[1:-1], right=True)
    count = torch.zeros(n_bins, dtype=torch.int64, device=scores.device).index_add_(
        0, index, torch.ones_like(index)
    )
    score_sum = torch.zeros(n_bins, dtype=torch.float64, device=scores.device).index_add_(0, index, scores)
    hit_sum = torch.zeros(n_bins, dtype=torch.float64, device=scores.device).index_add_(0, index, hits)
    denom = count.to(torch.float64)
    nan = torch.full_like(denom, float("nan"))
    filled = count > 0
    return CalibrationBins(
        edges=edges.cpu(),
        confidence=torch.where(filled, score_sum / denom.clamp_min(1), nan).cpu(),
        accuracy=torch.where(filled, hit_sum / denom.clamp_min(1), nan).cpu(),
        count=count.cpu(),
    )


def confidence_and_correct(probs: Any, labels: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Validated top-label confidence and correctness (float64 0/1) of each row."""
    p = check_probs(probs)
    y = check_labels(labels, p.shape[0], p.shape[1])
    confidence, predicted = p.max(dim=1)
    return confidence, (predicted == y.to(p.device)).to(torch.float64)


def calibration_bins(
    probs: Any,
    labels: Any,
    n_bins: int = 15,
    binning: Binning = "uniform",
) -> CalibrationBins:
    r"""Reliability-diagram bins of the top-label confidence.

    With confidence :math:`\hat p_i = \max_c p_{ic}` and correctness :math:`a_i = [\arg\max_c p_{ic} = y_i]`,
    bin :math:`B_b = \{i : e_b \le \hat p_i < e_{b+1}\}` (last bin closed) gets
    :math:`\mathrm{conf}_b = \tfrac{1}{|B_b|}\sum_{i \in B_b} \hat p_i` and
    :math:`\mathrm{acc}_b = \tfrac{1}{|B_b|}\sum_{i \in B_b} a_i`.

    Parameters
    ----------
    probs : Tensor or ndarray, shape (N, C) or (N, C, K)
        Class probabilities; K Monte-Carlo / ensemble samples are averaged first.
    labels : Tensor or ndarray of int, shape (N,)
        True classes in ``[0, C)``.
    n_bins : int
        Number of bins.
    binning : {"uniform", "quantile"}
        ``"uniform"``: equal-width bins on [0, 1]. ``"quantile"``: equal-mass bins (edges at the confidence
        quantiles, first edge 0 and last edge 1; ties may leave bins unequal or empty).

    Returns
    -------
    CalibrationBins
        Edges, mean confidence, accuracy and count per bin; empty bins have count 0 and NaN confidence and
        accuracy.

    Examples
    --------
    >>> import torch
    >>> probs = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [1.0, 0.0]])
    >>> bins = calibration_bins(probs, torch.tensor([0, 1, 1, 0]), n_bins=2)
    >>> bins.count.tolist(), bins.accuracy.tolist()
    ([0, 4], [nan, 0.75])
    """
    confidence, correct = confidence_and_correct(probs, labels)
    return bin_scores(confidence, correct, n_bins=n_bins, binning=binning)
