"""Entropy sampling: the items of highest predictive entropy (C-PEAL's method, on a calibrated model)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from alnb.predictions import Predictions
from alnb.strategies._common import entropy, probs_of
from alnb.strategies.base import FloatArray, QueryContext, Strategy
from alnb.strategies.registry import register_strategy

__all__ = ["Entropy"]


@register_strategy
@dataclass(frozen=True)
class Entropy(Strategy):
    r"""Score :math:`H(p_i) = -\sum_c p_{ic} \ln p_{ic}` (nats); the highest entropy comes first.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from alnb.predictions import Predictions
    >>> probs = torch.tensor([[0.9, 0.1], [0.5, 0.5]])
    >>> preds = Predictions(indices=np.array([10, 20]), logits=probs.log(), probs=probs)
    >>> ctx = QueryContext(unlabeled=np.array([10, 20]), labeled=np.array([], dtype=np.int64),
    ...                    labels=np.array([], dtype=np.int64), num_classes=2)
    >>> Entropy().select(preds, 1, ctx).indices.tolist()
    [20]
    """

    name: ClassVar[str] = "entropy"

    def score(self, predictions: Predictions, context: QueryContext) -> FloatArray:
        return entropy(probs_of(predictions))
