"""Least-confidence sampling: the items whose predicted class is least probable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from alnb.predictions import Predictions
from alnb.strategies._common import probs_of
from alnb.strategies.base import FloatArray, QueryContext, Strategy
from alnb.strategies.registry import register_strategy

__all__ = ["LeastConfidence"]


@register_strategy
@dataclass(frozen=True)
class LeastConfidence(Strategy):
    r"""Score :math:`1 - \max_c p_{ic}`; the least confident items come first."""

    name: ClassVar[str] = "least_confidence"

    def score(self, predictions: Predictions, context: QueryContext) -> FloatArray:
        return 1.0 - probs_of(predictions).max(axis=1)
