"""featdist (PEAL): distance of an item's embedding to the labeled mean of its *predicted* class."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from alnb.predictions import Predictions
from alnb.strategies._common import embeddings_of, labeled_rows
from alnb.strategies.base import FloatArray, QueryContext, Strategy
from alnb.strategies.registry import register_strategy

__all__ = ["FeatDist"]

_CHUNK = 8192


@register_strategy
@dataclass(frozen=True)
class FeatDist(Strategy):
    r"""Score :math:`\|f_i - \mu_{\hat y_i}\|_2`, largest first.

    :math:`\mu_c` is the mean embedding of the labeled items whose true label is ``c``; when class ``c`` has
    no labeled item, the mean of all labeled embeddings is used. Needs at least one labeled item whose
    embedding is in ``predictions`` (for round 0 use ``random``, ``typiclust`` or ``zeroshot``).
    """

    name: ClassVar[str] = "featdist"
    requires: ClassVar[tuple[str, ...]] = ("embeddings",)

    def score(self, predictions: Predictions, context: QueryContext) -> FloatArray:
        lab = labeled_rows(predictions, context, self.name)
        if len(lab) == 0:
            raise ValueError(
                "strategy 'featdist' needs at least one labeled item (context.labeled is empty); use "
                "'random', 'typiclust' or 'zeroshot' for the first round."
            )
        labeled = embeddings_of(predictions, self.name, lab)
        sums = np.zeros((context.num_classes, labeled.shape[1]))
        np.add.at(sums, context.labels, labeled)
        counts = context.class_counts()
        means = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], labeled.mean(axis=0))
        predicted = predictions.predicted
        out = np.empty(len(predictions))
        for lo in range(0, len(out), _CHUNK):
            rows = np.arange(lo, min(lo + _CHUNK, len(out)))
            diff = embeddings_of(predictions, self.name, rows) - means[predicted[rows]]
            out[rows] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        return out
