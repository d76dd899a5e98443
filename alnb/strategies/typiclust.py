"""TypiClust (Hacohen et al., 2022): typical items of the largest uncovered clusters; needs no labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.neighbors import NearestNeighbors

from alnb.predictions import Predictions
from alnb.strategies._common import embeddings_of, labeled_rows
from alnb.strategies.base import FloatArray, IntArray, QueryContext, Selection, Strategy, positions_of
from alnb.strategies.registry import register_strategy

__all__ = ["TypiClust", "typicality"]


def typicality(feats: np.ndarray, knn: int) -> FloatArray:
    """Inverse mean Euclidean distance of each row to its ``knn`` nearest other rows (``1 / (mean + 1e-5)``).

    With ``knn = 0`` (a single row) every row gets typicality 1.
    """
    if knn < 1:
        return np.ones(len(feats))
    nn = NearestNeighbors(n_neighbors=knn + 1).fit(feats)
    dist, _ = nn.kneighbors(feats)
    # Column 0 is the row itself (distance 0).
    return 1.0 / (dist[:, 1:].mean(axis=1) + 1e-5)


def _check_positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"TypiClust.{name} must be a positive int, got {value!r}.")
    return int(value)


@register_strategy
@dataclass(frozen=True)
class TypiClust(Strategy):
    """Cluster labeled ∪ unlabeled embeddings into ``|labeled| + k`` clusters; take typical uncovered items.

    Clusters are visited by (size at most ``min_cluster_size`` last, fewest labeled items first, largest
    first, ties at random) and cycled through; from each the unlabeled item of highest :func:`typicality`
    among the cluster's remaining unlabeled items is taken, with ``min(knn, n // 2)`` neighbours. Clustering
    is scikit-learn's ``KMeans`` (``MiniBatchKMeans`` above ``max_kmeans_clusters`` clusters, as the TypiClust
    authors do), seeded by the context.

    ``Selection.scores`` is the typicality of each pick within its cluster; :meth:`score` is the typicality of
    each unlabeled row among all unlabeled rows (NaN elsewhere; it costs a k-NN search over the pool).

    Parameters
    ----------
    knn : int, default 20
    min_cluster_size : int, default 5
    max_kmeans_clusters : int, default 50
    """

    name: ClassVar[str] = "typiclust"
    requires: ClassVar[tuple[str, ...]] = ("embeddings",)
    knn: int = 20
    min_cluster_size: int = 5
    max_kmeans_clusters: int = 50

    def score(self, predictions: Predictions, context: QueryContext) -> FloatArray:
        knn = _check_positive_int(self.knn, "knn")
        rows = positions_of(predictions, context.unlabeled, "context.unlabeled")
        out = np.full(len(predictions), np.nan)
        out[rows] = typicality(embeddings_of(predictions, self.name, rows), min(knn, len(rows) // 2))
        return out

    def _select(self, predictions: Predictions, rows: IntArray, k: int, context: QueryContext) -> Selection:
        knn = _check_positive_int(self.knn, "knn")
        min_size = _check_positive_int(self.min_cluster_size, "min_cluster_size")
        max_km = _check_positive_int(self.max_kmeans_clusters, "max_kmeans_clusters")
        lab = labeled_rows(predictions, context, self.name)
        feats = embeddings_of(predictions, self.name, np.concatenate([rows, lab]))
        n_clusters = min(len(lab) + k, len(feats))
        rng = context.rng(self.name)
        seed = int(rng.integers(2**31 - 1))
        if n_clusters <= max_km:
            model = KMeans(n_clusters=n_clusters, random_state=seed, n_init="auto")
        else:
            model = MiniBatchKMeans(n_clusters=n_clusters, random_state=seed, n_init="auto")
        cluster = model.fit_predict(feats)
        unl_cluster = cluster[: len(rows)]
        sizes = np.bincount(cluster, minlength=n_clusters)
        covered = np.bincount(cluster[len(rows) :], minlength=n_clusters)
        visit = np.lexsort((rng.random(n_clusters), -sizes, covered, sizes <= min_size))
        by_cluster = np.argsort(unl_cluster, kind="stable")
        bounds = np.searchsorted(unl_cluster[by_cluster], np.arange(n_clusters + 1))
        members = {c: by_cluster[bounds[c] : bounds[c + 1]].tolist() for c in range(n_clusters)}
        picks = np.empty(k, dtype=np.int64)
        scores = np.empty(k)
        t = 0
        while t < k:
            for c in visit:
                remaining = members[int(c)]
                if not remaining or t == k:
                    continue
                typ = typicality(feats[remaining], min(knn, len(remaining) // 2))
                best = int(np.argmax(typ))
                picks[t], scores[t] = remaining.pop(best), typ[best]
                t += 1
        return Selection(context.unlabeled[picks], scores)
