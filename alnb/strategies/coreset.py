"""Coreset: greedy k-centre on embeddings (Sener & Savarese, 2018), in chunks and without an N × N matrix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from alnb.predictions import Predictions
from alnb.strategies._common import embeddings_of, labeled_rows
from alnb.strategies._kcenter import LazyMinDistance, lazy_argmax
from alnb.strategies.base import FloatArray, IntArray, QueryContext, Selection, Strategy
from alnb.strategies.registry import register_strategy

__all__ = ["Coreset"]


@register_strategy
@dataclass(frozen=True)
class Coreset(Strategy):
    """Repeatedly pick the unlabeled item farthest (Euclidean, embeddings) from every labeled or picked item.

    Distances to the nearest centre are a running-minimum vector; new centres are folded in by batches, and
    only the few items that could be the farthest are updated exactly in between (see
    :mod:`alnb.strategies._kcenter`). With nothing labeled the first item is a seeded random one.
    ``Selection.scores`` holds each item's distance to the nearest centre when it was picked (``inf`` for a
    random first pick); :meth:`score` is the distance to the nearest *labeled* item.

    Parameters
    ----------
    chunk_size : int, default 4096
        Rows processed at once.
    """

    name: ClassVar[str] = "coreset"
    requires: ClassVar[tuple[str, ...]] = ("embeddings",)
    chunk_size: int = 4096

    def score(self, predictions: Predictions, context: QueryContext) -> FloatArray:
        emb = embeddings_of(predictions, self.name)
        lab = labeled_rows(predictions, context, self.name)
        engine = LazyMinDistance(emb, None, chunk_size=self._chunk())
        engine.add_centres(emb[lab])
        return np.sqrt(engine.d2)

    def _chunk(self) -> int:
        if isinstance(self.chunk_size, bool) or not isinstance(self.chunk_size, int) or self.chunk_size < 1:
            raise ValueError(f"Coreset.chunk_size must be a positive int, got {self.chunk_size!r}.")
        return self.chunk_size

    def _select(self, predictions: Predictions, rows: IntArray, k: int, context: QueryContext) -> Selection:
        lab = labeled_rows(predictions, context, self.name)
        feats = embeddings_of(predictions, self.name, rows)
        engine = LazyMinDistance(feats, None, chunk_size=self._chunk())
        engine.add_centres(embeddings_of(predictions, self.name, lab))
        chosen = np.zeros(len(rows), dtype=bool)
        picks = np.empty(k, dtype=np.int64)
        scores = np.empty(k)
        for t in range(k):
            if engine.num_centres == 0:
                pick, score = int(context.rng(self.name).integers(len(rows))), np.inf
            else:
                pick, best = lazy_argmax(engine, lambda d2, idx: np.where(chosen[idx], -np.inf, d2))
                score = float(np.sqrt(best))
            picks[t], scores[t] = pick, score
            chosen[pick] = True
            engine.add_point(pick)
        return Selection(context.unlabeled[picks], scores)
