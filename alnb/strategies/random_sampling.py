"""Uniform random sampling: the baseline every other strategy must beat (C-PEAL's round 0)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from alnb.predictions import Predictions
from alnb.strategies.base import FloatArray, IntArray, QueryContext, Selection, Strategy
from alnb.strategies.registry import register_strategy

__all__ = ["RandomSampling"]


@register_strategy
@dataclass(frozen=True)
class RandomSampling(Strategy):
    """``k`` unlabeled items drawn uniformly without replacement, seeded by ``(context.seed, context.round)``.

    Examples
    --------
    >>> RandomSampling().name
    'random'
    """

    name: ClassVar[str] = "random"

    def score(self, predictions: Predictions, context: QueryContext) -> FloatArray:
        """Uniform random keys in ``[0, 1)`` (seeded); ranking by them is random sampling."""
        return context.rng(f"{self.name}:score").random(len(predictions))

    def _select(self, predictions: Predictions, rows: IntArray, k: int, context: QueryContext) -> Selection:
        order = context.rng(self.name).permutation(len(context.unlabeled))[:k]
        return Selection(context.unlabeled[order], np.full(k, np.nan))
