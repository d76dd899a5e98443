"""Confidence-balanced cold start: per predicted class, the most confident items, round-robin over classes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from alnb.predictions import Predictions
from alnb.strategies.base import FloatArray, IntArray, QueryContext, Selection, Strategy
from alnb.strategies.registry import register_strategy

__all__ = ["ZeroShot"]


@register_strategy
@dataclass(frozen=True)
class ZeroShot(Strategy):
    """Cold start from a zero-shot model: class after class, the most confident item predicted as that class.

    Classes take turns in a fixed order: fewest labeled items first (all equal at round 0), ties in a seeded
    random order; a class with no (remaining) predicted item is skipped. Confidence ties are broken at random
    too. The result covers as many predicted classes as ``k`` allows, with the items the model is surest
    about, which are the most likely to be labeled as predicted. ``Selection.scores`` is the confidence.
    """

    name: ClassVar[str] = "zeroshot"

    def score(self, predictions: Predictions, context: QueryContext) -> FloatArray:
        """The probability of the predicted class."""
        return predictions.confidence

    def _select(self, predictions: Predictions, rows: IntArray, k: int, context: QueryContext) -> Selection:
        rng = context.rng(self.name)
        confidence = predictions.confidence[rows]
        predicted = predictions.predicted[rows]
        perm = rng.permutation(len(rows))
        # Most confident first within each class, random among equals; then group by class keeping that order.
        by_conf = perm[np.argsort(-confidence[perm], kind="stable")]
        by_class = by_conf[np.argsort(predicted[by_conf], kind="stable")]
        starts = np.searchsorted(predicted[by_class], np.arange(context.num_classes + 1))
        class_order = np.lexsort((rng.random(context.num_classes), context.class_counts()))
        picks: list[int] = []
        depth = 0
        while len(picks) < k:
            for c in class_order:
                if starts[c] + depth < starts[c + 1] and len(picks) < k:
                    picks.append(int(by_class[starts[c] + depth]))
            depth += 1
        order = np.asarray(picks, dtype=np.int64)
        return Selection(context.unlabeled[order], confidence[order])
