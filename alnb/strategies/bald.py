"""BALD: mutual information between the label and the model parameters, from K stochastic forward passes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from alnb.predictions import Predictions
from alnb.strategies._common import entropy
from alnb.strategies.base import FloatArray, QueryContext, Strategy
from alnb.strategies.registry import register_strategy

__all__ = ["BALD", "mutual_information"]


def mutual_information(prob_samples: np.ndarray) -> FloatArray:
    r"""BALD score of samples ``[N, C, K]``: :math:`H(\bar p_i) - \frac1K \sum_k H(p_i^{(k)})`, clipped at 0.

    Examples
    --------
    >>> # two confident passes that disagree
    >>> mutual_information(np.array([[[1.0, 0.0], [0.0, 1.0]]])).round(4).tolist()
    [0.6931]
    """
    samples = np.asarray(prob_samples, dtype=np.float64)
    mean = samples.mean(axis=2)
    expected = entropy(samples, axis=1).mean(axis=1)
    # Rounding can make the difference of two equal entropies slightly negative.
    return np.maximum(entropy(mean, axis=1) - expected, 0.0)


@register_strategy
@dataclass(frozen=True)
class BALD(Strategy):
    """Bayesian Active Learning by Disagreement (Houlsby et al., 2011) on ``predictions.prob_samples``."""

    name: ClassVar[str] = "bald"
    requires: ClassVar[tuple[str, ...]] = ("prob_samples",)

    def score(self, predictions: Predictions, context: QueryContext) -> FloatArray:
        if predictions.prob_samples is None:
            raise ValueError("strategy 'bald' needs predictions.prob_samples [N, C, K], but it is None.")
        return mutual_information(predictions.prob_samples.detach().cpu().numpy())
