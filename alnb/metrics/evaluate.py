"""All metrics of a set of predictions in one call."""

from __future__ import annotations

from typing import Any

from alnb._validation import check_labels, check_probs
from alnb.metrics.calibration import classwise_calibration_error, expected_calibration_error
from alnb.metrics.scores import (
    accuracy,
    brier_score,
    error_detection_auroc,
    negative_log_likelihood,
    predictive_entropy,
)

__all__ = ["METRIC_NAMES", "evaluate"]

#: Keys of the dictionary returned by :func:`evaluate`, in order.
METRIC_NAMES: tuple[str, ...] = ("accuracy", "ece", "mce", "ace", "classwise_ece", "nll", "brier", "auroc")


def evaluate(probs: Any, labels: Any, n_bins: int = 15) -> dict[str, float]:
    """Accuracy, calibration and error-detection metrics of a set of predictions.

    Parameters
    ----------
    probs : Tensor or ndarray, shape (N, C) or (N, C, K)
        Class probabilities (K samples are averaged first).
    labels : Tensor or ndarray of int, shape (N,)
        True classes.
    n_bins : int
        Number of bins of every binned error.

    Returns
    -------
    dict of str to float
        ``accuracy``; ``ece`` (l1, uniform bins), ``mce`` (max, uniform bins), ``ace`` (l1, equal-mass bins),
        ``classwise_ece``; ``nll``; ``brier``; ``auroc``: :func:`error_detection_auroc` of the predictive
        entropy against correctness (NaN when every prediction is right or every one is wrong).

    Examples
    --------
    >>> import torch
    >>> metrics = evaluate(torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]]), torch.tensor([0, 1, 1]))
    >>> sorted(metrics) == sorted(METRIC_NAMES)
    True
    """
    p = check_probs(probs)
    y = check_labels(labels, p.shape[0], p.shape[1])
    correct = p.argmax(dim=1).cpu() == y.cpu()
    return {
        "accuracy": accuracy(p, y),
        "ece": expected_calibration_error(p, y, n_bins=n_bins),
        "mce": expected_calibration_error(p, y, n_bins=n_bins, norm="max"),
        "ace": expected_calibration_error(p, y, n_bins=n_bins, binning="quantile"),
        "classwise_ece": classwise_calibration_error(p, y, n_bins=n_bins),
        "nll": negative_log_likelihood(p, y),
        "brier": brier_score(p, y),
        "auroc": error_detection_auroc(predictive_entropy(p).cpu(), correct),
    }
