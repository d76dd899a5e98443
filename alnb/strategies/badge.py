"""BADGE: k-means++ seeding on gradient embeddings (Ash et al., 2020), never materialising them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from alnb.predictions import Predictions
from alnb.strategies._common import embeddings_of, probs_of
from alnb.strategies._kcenter import LazyMinDistance, lazy_argmax
from alnb.strategies.base import FloatArray, IntArray, QueryContext, Selection, Strategy
from alnb.strategies.registry import register_strategy

__all__ = ["BADGE", "gradient_factors"]


def gradient_factors(embeddings: np.ndarray, probs: np.ndarray) -> tuple[FloatArray, FloatArray]:
    r"""The two factors of BADGE's gradient embedding :math:`g_i = f_i \otimes r_i`.

    Returns ``(f, r)`` with ``r_i = onehot(argmax p_i) - p_i``, the gradient of the cross-entropy at the
    predicted label with respect to the logits. :math:`\langle g_i, g_j \rangle = \langle f_i, f_j \rangle
    \langle r_i, r_j \rangle`.
    """
    probs = np.asarray(probs, dtype=np.float64)
    resid = -probs
    resid[np.arange(len(probs)), probs.argmax(axis=1)] += 1.0
    return np.asarray(embeddings, dtype=np.float64), resid


@register_strategy
@dataclass(frozen=True)
class BADGE(Strategy):
    r"""Batch Active learning by Diverse Gradient Embeddings.

    The first item is the one of largest gradient norm :math:`\|g_i\| = \|f_i\| \|r_i\|`; each next one is
    drawn with probability :math:`\propto D(g_i)^2`, its squared distance to the nearest item chosen so far
    (k-means++ seeding). The draw is an exponential race, :math:`\arg\max_i D(g_i)^2 / E_i` with :math:`E_i
    \sim \mathrm{Exp}(1)` seeded by the context: an exact draw that lets most distances stay stale between
    batched updates (see :mod:`alnb.strategies._kcenter`). Distances come from inner products of the factors,
    so memory is O(N · (d + C)) instead of the O(N · d · C) of the gradient embeddings.

    ``Selection.scores`` holds :math:`D^2` at the time each item was drawn (:math:`\|g\|^2` for the first).
    :meth:`score` is the gradient norm :math:`\|g_i\|`.

    Parameters
    ----------
    chunk_size : int, default 4096
        Rows processed at once.
    """

    name: ClassVar[str] = "badge"
    requires: ClassVar[tuple[str, ...]] = ("embeddings",)
    chunk_size: int = 4096

    def score(self, predictions: Predictions, context: QueryContext) -> FloatArray:
        feats, resid = gradient_factors(embeddings_of(predictions, self.name), probs_of(predictions))
        return np.sqrt(np.einsum("ij,ij->i", feats, feats) * np.einsum("ij,ij->i", resid, resid))

    def _select(self, predictions: Predictions, rows: IntArray, k: int, context: QueryContext) -> Selection:
        if isinstance(self.chunk_size, bool) or not isinstance(self.chunk_size, int) or self.chunk_size < 1:
            raise ValueError(f"BADGE.chunk_size must be a positive int, got {self.chunk_size!r}.")
        feats, resid = gradient_factors(
            embeddings_of(predictions, self.name, rows), probs_of(predictions)[rows]
        )
        engine = LazyMinDistance(feats, resid, chunk_size=self.chunk_size)
        rng = context.rng(self.name)
        chosen = np.zeros(len(rows), dtype=bool)
        picks = np.empty(k, dtype=np.int64)
        scores = np.empty(k)
        picks[0] = int(np.argmax(engine.sqnorm))
        scores[0] = engine.sqnorm[picks[0]]
        for t in range(1, k):
            chosen[picks[t - 1]] = True
            engine.add_point(int(picks[t - 1]))
            # Exponential race: argmax D²_i / E_i, E_i ~ Exp(1), draws i with probability ∝ D²_i.
            clocks = rng.standard_exponential(size=len(rows))

            def key(d2: FloatArray, idx: IntArray, clocks: FloatArray = clocks) -> FloatArray:
                return np.where(chosen[idx], -1.0, d2 / clocks[idx])

            pick, best = lazy_argmax(engine, key)
            if best <= 0:  # every remaining item coincides with a chosen one: any of them will do
                pick = int(np.argmin(np.where(chosen, np.inf, clocks)))
            picks[t], scores[t] = pick, engine.d2[pick]
        return Selection(context.unlabeled[picks], scores)
