"""Lazy nearest-centre distances for greedy k-centre (Coreset) and k-means++ seeding (BADGE) (private).

Points live in an implicit inner-product space: ``<x_i, x_j> = (F_i . F_j) * (R_i . R_j)`` when a second
factor ``R`` is given (BADGE's gradient embeddings ``f ⊗ r`` without materialising them), else ``F_i . F_j``.
Squared distances follow from ``||x_i - x_j||² = ||x_i||² + ||x_j||² - 2 <x_i, x_j>``. Memory is
O(N · (d + C)) plus one chunk; no N × N and no N × (d·C) array is ever built.

Why lazy: both greedy loops only need the *argmax* of a key that grows with the distance to the nearest
centre. Distances can only shrink as centres are added, so distances that ignore the newest centres are upper
bounds. New centres are therefore queued and folded into all distances every ``refresh_every`` steps with one
matrix product (far faster than one matrix-vector product per step); in between, :func:`lazy_argmax` computes
exact distances only for the few points whose upper bound could still win. The result is exactly the argmax
over exact distances.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

__all__ = ["LazyMinDistance", "lazy_argmax"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class LazyMinDistance:
    """Squared distance of each of M target points to its nearest centre, exact up to the queued centres.

    Parameters
    ----------
    feats : ndarray, shape (M, d)
        First factor of the target points.
    resid : ndarray, shape (M, C), optional
        Second factor (tensor-product space); ``None`` for plain Euclidean space.
    chunk_size : int, default 4096
        Rows processed at once; bounds the temporary memory.
    refresh_every : int, default 256
        Queued centres folded into every distance at once.
    """

    def __init__(
        self, feats: np.ndarray, resid: np.ndarray | None, chunk_size: int = 4096, refresh_every: int = 256
    ) -> None:
        self.feats = np.ascontiguousarray(feats, dtype=np.float64)
        self.resid = None if resid is None else np.ascontiguousarray(resid, dtype=np.float64)
        self.chunk_size = int(chunk_size)
        self.refresh_every = int(refresh_every)
        self.sqnorm = _sqnorm(self.feats, self.resid)
        self.d2 = np.full(len(self.feats), np.inf)  # upper bounds: exact for all but the queued centres
        self.num_centres = 0
        # Queued centres' factors, kept contiguous so that each exact() is one small matrix product.
        self._qf = np.empty((self.refresh_every, self.feats.shape[1]))
        self._qr = None if self.resid is None else np.empty((self.refresh_every, self.resid.shape[1]))
        self._qsq = np.empty(self.refresh_every)
        self._nq = 0

    def _fold(self, rows: IntArray | slice, cf: np.ndarray, cr: np.ndarray | None, csq: np.ndarray) -> None:
        gram = self.feats[rows] @ cf.T
        if self.resid is not None and cr is not None:
            gram *= self.resid[rows] @ cr.T
        dist = self.sqnorm[rows, None] + csq[None, :] - 2.0 * gram
        self.d2[rows] = np.minimum(self.d2[rows], np.maximum(dist.min(axis=1), 0.0))

    def add_centres(self, cf: np.ndarray, cr: np.ndarray | None = None) -> None:
        """Fold many external centres (e.g. labeled embeddings) into every distance now, block by block."""
        cf = np.asarray(cf, dtype=np.float64)
        cr = None if cr is None else np.asarray(cr, dtype=np.float64)
        if len(cf) == 0:
            return
        csq = _sqnorm(cf, cr)
        step = self.chunk_size
        for lo in range(0, len(self.d2), step):
            for clo in range(0, len(cf), step):
                cols = slice(clo, clo + step)
                self._fold(slice(lo, lo + step), cf[cols], None if cr is None else cr[cols], csq[cols])
        self.num_centres += len(cf)

    def add_point(self, i: int) -> None:
        """Make target point ``i`` a centre (queued; folded in at the next refresh)."""
        q = self._nq
        self._qf[q] = self.feats[i]
        if self._qr is not None and self.resid is not None:
            self._qr[q] = self.resid[i]
        self._qsq[q] = self.sqnorm[i]
        self._nq += 1
        self.d2[i] = 0.0
        self.num_centres += 1
        if self._nq >= self.refresh_every:
            self.refresh()

    def _queued_factors(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        q = self._nq
        return self._qf[:q], None if self._qr is None else self._qr[:q], self._qsq[:q]

    def refresh(self) -> None:
        """Fold every queued centre into every distance (one matrix product per chunk)."""
        if self._nq == 0:
            return
        cf, cr, csq = self._queued_factors()
        for lo in range(0, len(self.d2), self.chunk_size):
            self._fold(slice(lo, lo + self.chunk_size), cf, cr, csq)
        self._nq = 0

    def exact(self, idx: IntArray) -> FloatArray:
        """Exact squared distances of points ``idx`` (the queued centres folded in for them only)."""
        if self._nq:
            cf, cr, csq = self._queued_factors()
            for lo in range(0, len(idx), self.chunk_size):
                self._fold(idx[lo : lo + self.chunk_size], cf, cr, csq)
        return self.d2[idx]


def lazy_argmax(
    engine: LazyMinDistance, key: Callable[[FloatArray, IntArray], FloatArray], batch: int = 32
) -> tuple[int, float]:
    """Point with the largest ``key(d2, idx)`` over *exact* distances, and that key.

    ``key`` must not decrease when ``d2`` grows (for each point), so keys of the upper bounds bound the exact
    keys: points are made exact in decreasing order of their bound until the best exact key beats every
    remaining bound.
    """
    m = len(engine.d2)
    bound = key(engine.d2, np.arange(m))
    b = min(batch, m)
    while True:
        if b < m:
            part = np.argpartition(-bound, b)
            top, rest_bound = part[:b], bound[part[b]]
        else:
            top, rest_bound = np.arange(m), -np.inf
        exact = key(engine.exact(top), top)
        best = int(np.argmax(exact))
        if exact[best] >= rest_bound or b == m:
            return int(top[best]), float(exact[best])
        bound[top] = exact
        b = min(4 * b, m)


def _sqnorm(feats: np.ndarray, resid: np.ndarray | None) -> FloatArray:
    sq = np.einsum("ij,ij->i", feats, feats)
    if resid is not None:
        sq = sq * np.einsum("ij,ij->i", resid, resid)
    return sq
