"""Calibration metrics: one binning core (:func:`calibration_bins`) and views of it.

Every function accepts torch tensors or numpy arrays of probabilities shaped ``[N, C]`` or ``[N, C, K]`` (K
Monte-Carlo or ensemble samples, averaged over K first) and integer labels shaped ``[N]``, validates them, and
returns a Python float. :class:`CalibrationError` accumulates batches in the torchmetrics style.
"""

from alnb.metrics.binning import BINNINGS, NORMS, CalibrationBins, bin_scores, calibration_bins
from alnb.metrics.calibration import (
    CalibrationError,
    adaptive_calibration_error,
    classwise_calibration_error,
    expected_calibration_error,
    maximum_calibration_error,
)
from alnb.metrics.evaluate import METRIC_NAMES, evaluate
from alnb.metrics.scores import (
    accuracy,
    brier_score,
    error_detection_auroc,
    negative_log_likelihood,
    predictive_entropy,
)

__all__ = [
    "BINNINGS",
    "METRIC_NAMES",
    "NORMS",
    "CalibrationBins",
    "CalibrationError",
    "accuracy",
    "adaptive_calibration_error",
    "bin_scores",
    "brier_score",
    "calibration_bins",
    "classwise_calibration_error",
    "error_detection_auroc",
    "evaluate",
    "expected_calibration_error",
    "maximum_calibration_error",
    "negative_log_likelihood",
    "predictive_entropy",
]
