"""ProbCover (Yehuda et al., 2022): greedy maximum coverage of the δ-ball graph on embeddings."""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from alnb.predictions import Predictions
from alnb.strategies._common import embeddings_of, labeled_rows
from alnb.strategies.base import FloatArray, IntArray, QueryContext, Selection, Strategy, positions_of
from alnb.strategies.registry import register_strategy

__all__ = ["ProbCover", "ball_graph", "estimate_delta"]

_BLOCK_ELEMENTS = 2**24  # distance-block size: 16 M floats = 128 MB


def estimate_delta(feats: np.ndarray, quantile: float, sample_size: int, rng: np.random.Generator) -> float:
    """The ``quantile`` of pairwise Euclidean distances in a seeded sample of at most ``sample_size`` rows."""
    idx = rng.choice(len(feats), size=min(sample_size, len(feats)), replace=False)
    sample = feats[idx]
    sq = np.einsum("ij,ij->i", sample, sample)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * sample @ sample.T, 0.0)
    upper = d2[np.triu_indices(len(sample), k=1)]
    if len(upper) == 0:
        return 0.0
    return float(np.sqrt(np.quantile(upper, quantile)))


def ball_graph(feats: np.ndarray, delta: float) -> tuple[IntArray, IntArray]:
    """Adjacency lists (CSR ``indptr``, ``indices``) of ``||x_i - x_j|| <= delta``, self-loops included.

    Built block by block, so memory is O(edges + block), never N × N.
    """
    n = len(feats)
    sq = np.einsum("ij,ij->i", feats, feats)
    step = max(1, min(n, _BLOCK_ELEMENTS // max(n, 1)))
    lists, counts = [], []
    for lo in range(0, n, step):
        block = slice(lo, min(lo + step, n))
        d2 = sq[block, None] + sq[None, :] - 2.0 * feats[block] @ feats.T
        r, c = np.nonzero(d2 <= delta * delta)
        r = r + lo
        # Each point is in its own ball, whatever rounding says.
        self_loop = ~np.isin(np.arange(block.start, block.stop), r[r == c])
        extra = np.arange(block.start, block.stop)[self_loop]
        r, c = np.concatenate([r, extra]), np.concatenate([c, extra])
        order = np.lexsort((c, r))
        lists.append(c[order])
        counts.append(np.bincount(r - lo, minlength=block.stop - block.start))
    indptr = np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int64)
    return indptr, np.concatenate(lists).astype(np.int64)


@register_strategy
@dataclass(frozen=True)
class ProbCover(Strategy):
    """Pick the unlabeled item whose δ-ball covers the most not-yet-covered items, ``k`` times.

    Items within δ of a labeled item start covered. When no item covers anything new, the rest are drawn at
    random. Ties are broken at random (seeded). ``Selection.scores`` is the number of items each pick newly
    covered; :meth:`score` is that count before any pick (NaN outside the unlabeled rows).

    Parameters
    ----------
    delta : float, optional
        Ball radius. Default: the ``quantile`` of pairwise distances estimated on a seeded sample of
        ``sample_size`` pool items. The graph holds about ``quantile · N²`` edges, so keep the quantile small
        for large pools.
    quantile : float, default 0.01
    sample_size : int, default 2000
    """

    name: ClassVar[str] = "probcover"
    requires: ClassVar[tuple[str, ...]] = ("embeddings",)
    delta: float | None = None
    quantile: float = 0.01
    sample_size: int = 2000

    def _graph(
        self, predictions: Predictions, context: QueryContext
    ) -> tuple[IntArray, IntArray, int, IntArray]:
        if self.delta is not None and (
            isinstance(self.delta, bool)
            or not isinstance(self.delta, (int, float))
            or not self.delta >= 0
            or not math.isfinite(self.delta)
        ):
            raise ValueError(f"ProbCover.delta must be a finite number >= 0 or None, got {self.delta!r}.")
        if (
            isinstance(self.quantile, bool)
            or not isinstance(self.quantile, (int, float))
            or not 0 < self.quantile < 1
        ):
            raise ValueError(f"ProbCover.quantile must be in (0, 1), got {self.quantile!r}.")
        if (
            isinstance(self.sample_size, bool)
            or not isinstance(self.sample_size, int)
            or self.sample_size < 2
        ):
            raise ValueError(f"ProbCover.sample_size must be an int >= 2, got {self.sample_size!r}.")
        rows = positions_of(predictions, context.unlabeled, "context.unlabeled")
        lab = labeled_rows(predictions, context, self.name)
        feats = embeddings_of(predictions, self.name, np.concatenate([rows, lab]))
        delta = self.delta
        if delta is None:
            delta = estimate_delta(feats, self.quantile, self.sample_size, context.rng(f"{self.name}:delta"))
        indptr, indices = ball_graph(feats, float(delta))
        covered = np.zeros(len(feats), dtype=bool)
        covered[indices[indptr[len(rows)] :]] = True  # labeled rows come last: their balls are the tail
        return indptr, indices, len(rows), covered

    @staticmethod
    def _degrees(indptr: IntArray, indices: IntArray, m: int, covered: np.ndarray) -> IntArray:
        if m == 0:
            return np.zeros(0, dtype=np.int64)
        # Every ball holds its centre, so no segment is empty and reduceat is safe.
        uncovered = (~covered[indices[: indptr[m]]]).astype(np.int64)
        return np.add.reduceat(uncovered, indptr[:m])

    def score(self, predictions: Predictions, context: QueryContext) -> FloatArray:
        indptr, indices, m, covered = self._graph(predictions, context)
        out = np.full(len(predictions), np.nan)
        out[positions_of(predictions, context.unlabeled, "context.unlabeled")] = self._degrees(
            indptr, indices, m, covered
        )
        return out

    def _select(self, predictions: Predictions, rows: IntArray, k: int, context: QueryContext) -> Selection:
        indptr, indices, m, covered = self._graph(predictions, context)
        degree = self._degrees(indptr, indices, m, covered)
        rng = context.rng(self.name)
        jitter = rng.random(m) * 0.5  # below 1: breaks ties between equal integer degrees only
        # Lazy greedy: a degree only falls as coverage grows, so stale heap keys are upper bounds; an item's
        # ball is re-counted only when it reaches the top (out-edges only: rounding asymmetry is harmless).
        heap = [(-(float(d) + float(j)), i) for i, (d, j) in enumerate(zip(degree, jitter))]
        heapq.heapify(heap)
        picks = np.empty(k, dtype=np.int64)
        scores = np.empty(k)
        for t in range(k):
            while True:
                _, best = heapq.heappop(heap)
                ball = indices[indptr[best] : indptr[best + 1]]
                gain = int(np.count_nonzero(~covered[ball]))
                if not heap or gain + jitter[best] >= -heap[0][0]:
                    break
                heapq.heappush(heap, (-(gain + jitter[best]), best))
            if gain == 0:  # nothing left to cover: the rest at random
                rest = np.array([best] + [i for _, i in heap], dtype=np.int64)
                picks[t:], scores[t:] = rng.permutation(rest)[: k - t], 0.0
                break
            picks[t], scores[t] = best, gain
            covered[ball] = True
        return Selection(context.unlabeled[picks], scores)
