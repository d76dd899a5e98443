"""Calibration errors: views of :func:`alnb.metrics.calibration_bins` (functions, accumulating class)."""

from __future__ import annotations

from typing import Any

import torch

from alnb._validation import check_choice, check_labels, check_positive_int, check_probs
from alnb.metrics.binning import (
    BINNINGS,
    NORMS,
    Binning,
    CalibrationBins,
    Norm,
    bin_scores,
    calibration_bins,
    confidence_and_correct,
)

__all__ = [
    "CalibrationError",
    "adaptive_calibration_error",
    "classwise_calibration_error",
    "expected_calibration_error",
    "maximum_calibration_error",
]


def expected_calibration_error(
    probs: Any,
    labels: Any,
    n_bins: int = 15,
    norm: Norm = "l1",
    binning: Binning = "uniform",
) -> float:
    r"""Expected (top-label) calibration error.

    .. math::
        \mathrm{ECE} = \sum_{b=1}^{B} \frac{|B_b|}{N}\,\big|\mathrm{acc}(B_b) - \mathrm{conf}(B_b)\big|

    with the bins of :func:`calibration_bins`. ``norm="l2"`` gives the root of the weighted mean squared gap
    and ``norm="max"`` the largest gap over non-empty bins (the MCE); empty bins never count.

    Parameters
    ----------
    probs : Tensor or ndarray, shape (N, C) or (N, C, K)
        Class probabilities (K samples are averaged first).
    labels : Tensor or ndarray of int, shape (N,)
        True classes.
    n_bins : int
        Number of bins.
    norm : {"l1", "l2", "max"}
        How the per-bin gaps are combined.
    binning : {"uniform", "quantile"}
        Equal-width or equal-mass bins.

    Returns
    -------
    float
        The calibration error in [0, 1].

    Examples
    --------
    Four predictions, all in the bin [0.5, 1] of two bins: mean confidence (0.9 + 0.6 + 0.7 + 0.8) / 4 = 0.75,
    accuracy 2 / 4 = 0.5, so ECE = ``|0.5 - 0.75|`` = 0.25.

    >>> import torch
    >>> probs = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.8, 0.2]])
    >>> round(expected_calibration_error(probs, torch.tensor([0, 1, 1, 1]), n_bins=2), 6)
    0.25
    """
    return calibration_bins(probs, labels, n_bins=n_bins, binning=binning).calibration_error(norm)


def maximum_calibration_error(
    probs: Any, labels: Any, n_bins: int = 15, binning: Binning = "uniform"
) -> float:
    r"""Maximum calibration error, :math:`\max_{b:\,|B_b|>0} |\mathrm{acc}(B_b) - \mathrm{conf}(B_b)|`.

    Same as ``expected_calibration_error(..., norm="max")``.

    Examples
    --------
    >>> import torch
    >>> probs = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.8, 0.2]])
    >>> round(maximum_calibration_error(probs, torch.tensor([0, 1, 1, 1]), n_bins=2), 6)
    0.25
    """
    return expected_calibration_error(probs, labels, n_bins=n_bins, norm="max", binning=binning)


def adaptive_calibration_error(probs: Any, labels: Any, n_bins: int = 15, norm: Norm = "l1") -> float:
    r"""Adaptive calibration error: the ECE over equal-mass bins (Nixon et al., 2019).

    .. math::
        \mathrm{ACE} = \sum_{b} \frac{|B_b|}{N}\,\big|\mathrm{acc}(B_b) - \mathrm{conf}(B_b)\big|,
        \quad |B_b| \approx N / B

    Same as ``expected_calibration_error(..., binning="quantile")``.

    Examples
    --------
    Two equal-mass bins split at the median confidence 0.75: {0.6 wrong, 0.7 right} has gap ``|0.5 - 0.65|`` and
    {0.8 wrong, 0.9 right} has gap ``|0.5 - 0.85|``, so ACE = (0.15 + 0.35) / 2 = 0.25.

    >>> import torch
    >>> probs = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.8, 0.2]], dtype=torch.float64)
    >>> round(adaptive_calibration_error(probs, torch.tensor([0, 1, 1, 1]), n_bins=2), 6)
    0.25
    """
    return expected_calibration_error(probs, labels, n_bins=n_bins, norm=norm, binning="quantile")


def classwise_calibration_error(
    probs: Any,
    labels: Any,
    n_bins: int = 15,
    norm: Norm = "l1",
    binning: Binning = "uniform",
) -> float:
    r"""Class-wise calibration error (Kull et al., 2019): the mean over classes of each class's binned error.

    .. math::
        \mathrm{cwECE} = \frac{1}{C}\sum_{c=1}^{C}\sum_{b}\frac{|B_{b,c}|}{N}
        \Big|\tfrac{1}{|B_{b,c}|}\textstyle\sum_{i\in B_{b,c}}[y_i = c]
        - \tfrac{1}{|B_{b,c}|}\sum_{i\in B_{b,c}} p_{ic}\Big|

    where :math:`B_{b,c}` bins the probabilities :math:`p_{ic}` of class :math:`c` (all N rows, not only the
    rows predicted as :math:`c`).

    Examples
    --------
    With one bin per class the error is the mean over classes of ``|label frequency - mean probability|``:
    class 0 has ``|1 - (0.8 + 0.4) / 2|`` = 0.4 and class 1 has ``|0 - (0.2 + 0.6) / 2|`` = 0.4, so the error is 0.4.

    >>> import torch
    >>> probs = torch.tensor([[0.8, 0.2], [0.4, 0.6]])
    >>> round(classwise_calibration_error(probs, torch.tensor([0, 0]), n_bins=1), 6)
    0.4
    """
    p = check_probs(probs)
    y = check_labels(labels, p.shape[0], p.shape[1]).to(p.device)
    check_choice(norm, "norm", NORMS)
    columns = p.T.contiguous()
    total = 0.0
    for c in range(p.shape[1]):
        total += bin_scores(columns[c], y == c, n_bins=n_bins, binning=binning).calibration_error(norm)
    return total / p.shape[1]


class CalibrationError:
    """Accumulating top-label calibration error (torchmetrics style: ``update`` per batch, then ``compute``).

    Parameters
    ----------
    n_bins : int
        Number of bins.
    norm : {"l1", "l2", "max"}
        ``"l1"`` is the ECE, ``"max"`` the MCE.
    binning : {"uniform", "quantile"}
        ``"quantile"`` with ``norm="l1"`` is the ACE.

    Examples
    --------
    >>> import torch
    >>> metric = CalibrationError(n_bins=2)
    >>> metric.update(torch.tensor([[0.9, 0.1], [0.6, 0.4]]), torch.tensor([0, 1]))
    >>> metric.update(torch.tensor([[0.3, 0.7], [0.8, 0.2]]), torch.tensor([1, 1]))
    >>> round(metric.compute(), 6)
    0.25
    """

    def __init__(self, n_bins: int = 15, norm: Norm = "l1", binning: Binning = "uniform") -> None:
        self.n_bins = check_positive_int(n_bins, "n_bins")
        self.norm: Norm = check_choice(norm, "norm", NORMS)  # type: ignore[assignment]  # checked against NORMS
        self.binning: Binning = check_choice(binning, "binning", BINNINGS)  # type: ignore[assignment]
        self._confidence: list[torch.Tensor] = []
        self._correct: list[torch.Tensor] = []

    def __repr__(self) -> str:
        return f"CalibrationError(n_bins={self.n_bins}, norm={self.norm!r}, binning={self.binning!r})"

    def update(self, probs: Any, labels: Any) -> None:
        """Add a batch of probabilities ``[B, C]`` (or ``[B, C, K]``) and labels ``[B]``."""
        confidence, correct = confidence_and_correct(probs, labels)
        self._confidence.append(confidence.cpu())
        self._correct.append(correct.cpu())

    def reset(self) -> None:
        """Forget every batch seen so far."""
        self._confidence.clear()
        self._correct.clear()

    def bins(self) -> CalibrationBins:
        """Bins over every batch seen since the last reset."""
        if not self._confidence:
            raise ValueError(
                "CalibrationError.compute() called before update(); expected at least one batch."
            )
        return bin_scores(
            torch.cat(self._confidence), torch.cat(self._correct), n_bins=self.n_bins, binning=self.binning
        )

    def compute(self) -> float:
        """Calibration error over every batch seen since the last reset."""
        return self.bins().calibration_error(self.norm)
