"""Class-guided cluster-balanced acquisition (``cb``) and selective querying (``cbsq``).

After Kim et al., "Active Prompt Learning with Vision-Language Model Priors" (TMLR 2025, arXiv:2411.16722):

* **Class-guided features.** Each item is its L2-normalised image embedding concatenated with the
  probability-weighted class text feature :math:`\\sum_c p_c t_c` (text features L2-normalised), and the
  concatenation L2-normalised again, so the text tower's prior shapes the clusters. Without text features
  (``Predictions.text_features is None``: a vision-only model) the class prototypes are the standard basis,
  so the second half is the probability vector itself.
* **Cluster-balanced acquisition from round 0.** Seeded k-means over the pool (unlabeled and labeled items)
  into ``clusters_per_class · C + |labeled|`` clusters, so ``4 · C`` in round 0 and one more per label. The
  budget goes one label at a time to the cluster with the smallest labeled share (ties to the larger cluster,
  then at random), which gives its unlabeled item nearest the centroid; so clusters without a label come
  first, largest first, and a query larger than them spreads over the least-covered clusters. With no label
  at all that is the items nearest the centroids of the largest clusters: a balanced cold start without
  labels (``initial_strategy="cb"``).
* **Selective querying** (``cbsq``). Before asking a person, each item in the acquisition order is compared
  with an adaptive class-wise threshold, the mean confidence of the labeled items of its predicted class; above
  it, the item takes the model's label (a pseudo-label, spending no budget) and the next item in the order is
  considered, until ``k`` items need a person. :class:`~alnb.ActiveLearner` writes the pseudo-labels to the
  label store marked as such.

Clustering is scikit-learn's ``KMeans`` (``MiniBatchKMeans`` above ``minibatch_above`` pool items), seeded by
the context; the rows are put in dataset-index order first, so the result does not depend on the row order of
the predictions.
"""

from __future__ import annotations

import heapq
import math
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.exceptions import ConvergenceWarning

from alnb.predictions import Predictions
from alnb.strategies._common import labeled_rows, probs_of
from alnb.strategies.base import (
    FloatArray,
    IntArray,
    QueryContext,
    Selection,
    Strategy,
    _check_k,
    positions_of,
)
from alnb.strategies.registry import register_strategy

__all__ = [
    "ClusterBalanced",
    "SelectiveClusterBalanced",
    "SelectiveSelection",
    "class_guided_features",
    "class_thresholds",
]


def class_guided_features(predictions: Predictions, rows: IntArray | None = None) -> npt.NDArray[np.float32]:
    """``normalize([normalize(f_i), Σ_c p_ic · normalize(t_c)])`` for the given rows (all rows by default).

    ``t`` is ``predictions.text_features``; without it the identity (so the second half is ``p_i``).

    Examples
    --------
    >>> import torch
    >>> preds = Predictions(indices=np.array([5, 9]), logits=torch.zeros(2, 2),
    ...                     probs=torch.tensor([[1.0, 0.0], [0.5, 0.5]]),
    ...                     embeddings=torch.tensor([[3.0, 0.0], [0.0, 2.0]]))
    >>> class_guided_features(preds).astype(np.float64).round(3).tolist()
    [[0.707, 0.0, 0.707, 0.0], [0.0, 0.816, 0.408, 0.408]]
    """
    if predictions.embeddings is None:
        raise ValueError(
            "class-guided features need predictions.embeddings, but it is None; compute embeddings when predicting."
        )
    emb = predictions.embeddings.detach().cpu()
    probs = predictions.probs.detach().cpu()
    if rows is not None:
        emb, probs = emb[rows], probs[rows]
    image = _normalized(emb.numpy().astype(np.float32, copy=False))
    p = probs.numpy().astype(np.float32, copy=False)
    if predictions.text_features is None:
        guided = p
    else:
        text = _normalized(predictions.text_features.detach().cpu().numpy().astype(np.float32))
        guided = p @ text
    return _normalized(np.concatenate([image, guided], axis=1))


def _normalized(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(np.float32, copy=False)


def class_thresholds(predictions: Predictions, context: QueryContext) -> FloatArray:
    """Adaptive class-wise thresholds ``τ_c``: the mean probability of class ``c`` over the labeled items of class ``c``.

    A class without a labeled item gets ``+inf`` (its predictions are never taken on trust). Shape ``(C,)``.
    """
    rows = labeled_rows(predictions, context, "cbsq")
    labels = context.labels
    own = probs_of(predictions)[rows, labels] if len(rows) else np.zeros(0)
    sums = np.bincount(labels, weights=own, minlength=context.num_classes)
    counts = np.bincount(labels, minlength=context.num_classes)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.inf)


def _check_int(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}.{name} must be a positive int, got {value!r}.")
    return int(value)


def _check_number(owner: str, name: str, value: Any, high: float | None) -> float:
    """A number in ``[0, high]`` (``high=None``: any finite number >= 0)."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if not ok or not 0 <= value <= (math.inf if high is None else high):
        bounds = "a finite number >= 0" if high is None else f"a number in [0, {high:g}]"
        raise ValueError(f"{owner}.{name} must be {bounds}, got {value!r}.")
    return float(value)


@dataclass(frozen=True)
class _Clustering:
    """The pool in dataset-index order, its clusters and each item's distance to its centroid."""

    indices: IntArray  # sorted dataset indices of unlabeled ∪ labeled
    rows: IntArray  # their rows in the predictions
    labeled: npt.NDArray[np.bool_]
    cluster: IntArray
    distance: FloatArray
    n_clusters: int


@register_strategy
@dataclass(frozen=True)
class ClusterBalanced(Strategy):
    """Class-guided k-means; each label goes to the cluster with the smallest labeled share, nearest its centroid.

    See the module documentation for the features and the cluster count.

    ``Selection.scores`` is minus the distance of each pick to its centroid (in class-guided feature space);
    :meth:`score` is the same for every unlabeled row (NaN elsewhere).

    Parameters
    ----------
    clusters_per_class : int, default 4
        Clusters per class before any label (``clusters_per_class · C``); each label adds one.
    minibatch_above : int, default 20000
        Pools larger than this are clustered with ``MiniBatchKMeans`` (seconds at 50k items), smaller ones with
        ``KMeans``.
    """

    name: ClassVar[str] = "cb"
    requires: ClassVar[tuple[str, ...]] = ("embeddings",)
    clusters_per_class: int = 4
    minibatch_above: int = 20_000

    def score(self, predictions: Predictions, context: QueryContext) -> FloatArray:
        self.check_predictions(predictions, context)
        rows = positions_of(predictions, context.unlabeled, "context.unlabeled")
        clustering = self._cluster(predictions, rows, context)
        out = np.full(len(predictions), np.nan)
        out[clustering.rows] = -clustering.distance
        out[clustering.rows[clustering.labeled]] = np.nan
        return out

    def _select(self, predictions: Predictions, rows: IntArray, k: int, context: QueryContext) -> Selection:
        indices, scores = self._ranked(predictions, rows, k, context)
        return Selection(indices, scores)

    # ------------------------------------------------------------------ internals

    def _cluster(self, predictions: Predictions, rows: IntArray, context: QueryContext) -> _Clustering:
        """Cluster unlabeled (``rows``) ∪ labeled items into ``clusters_per_class · C + |labeled|`` clusters."""
        per_class = _check_int(type(self).__name__, "clusters_per_class", self.clusters_per_class)
        minibatch_above = _check_int(type(self).__name__, "minibatch_above", self.minibatch_above)
        lab_rows = labeled_rows(predictions, context, self.name)
        ids = np.concatenate([context.unlabeled, context.labeled])
        order = np.argsort(
            ids, kind="stable"
        )  # dataset-index order: independent of the predictions' row order
        all_rows = np.concatenate([rows, lab_rows])[order]
        labeled = order >= len(rows)
        feats = class_guided_features(predictions, all_rows)
        n_clusters = min(len(ids), per_class * context.num_classes + len(lab_rows))
        seed = int(context.rng(f"{self.name}:kmeans").integers(2**31 - 1))
        model: KMeans | MiniBatchKMeans
        if len(ids) > minibatch_above:
            # One k-means++ start on the default mini-batches: the seeding dominates the cost at hundreds of clusters.
            model = MiniBatchKMeans(n_clusters=n_clusters, random_state=seed, n_init=1, batch_size=1024)
        else:
            model = KMeans(n_clusters=n_clusters, random_state=seed, n_init=1)
        with warnings.catch_warnings():
            # Fewer distinct points than clusters (duplicates) is fine here: empty clusters are skipped.
            warnings.simplefilter("ignore", ConvergenceWarning)
            cluster = model.fit_predict(feats).astype(np.int64)
        centres = model.cluster_centers_.astype(np.float32)
        distance = np.linalg.norm(feats - centres[cluster], axis=1).astype(np.float64)
        return _Clustering(ids[order], all_rows, labeled, cluster, distance, n_clusters)

    def _ranked(
        self, predictions: Predictions, rows: IntArray, n: int, context: QueryContext
    ) -> tuple[IntArray, FloatArray]:
        """The first ``n`` items of the acquisition order (a prefix of a longer order: the allocation is greedy)."""
        c = self._cluster(predictions, rows, context)
        sizes = np.bincount(c.cluster, minlength=c.n_clusters)
        taken = np.bincount(c.cluster[c.labeled], minlength=c.n_clusters)
        unl = np.flatnonzero(~c.labeled)
        # Per cluster, nearest the centroid first; equal distances by dataset index (positions are sorted by it).
        queue = unl[np.lexsort((unl, c.distance[unl], c.cluster[unl]))]
        bounds = np.searchsorted(c.cluster[queue], np.arange(c.n_clusters + 1))
        ties = context.rng(f"{self.name}:ties").random(c.n_clusters)
        heap = [
            (taken[j] / sizes[j], -int(sizes[j]), float(ties[j]), j)
            for j in range(c.n_clusters)
            if bounds[j + 1] > bounds[j]
        ]
        heapq.heapify(heap)
        cursor = bounds[:-1].copy()
        picks = np.empty(n, dtype=np.int64)
        for t in range(n):
            _, neg_size, tie, j = heapq.heappop(heap)
            picks[t] = queue[cursor[j]]
            cursor[j] += 1
            taken[j] += 1
            if cursor[j] < bounds[j + 1]:
                heapq.heappush(heap, (taken[j] / sizes[j], neg_size, tie, j))
        return c.indices[picks], -c.distance[picks]


@dataclass(frozen=True)
class SelectiveSelection:
    """A selective query: the items a person is asked about, and those the model labels itself.

    Attributes
    ----------
    human : Selection
        Up to ``k`` items that need a person, in acquisition order.
    pseudo_indices : ndarray of int64
        Items whose confidence exceeded their predicted class's threshold, in acquisition order.
    pseudo_labels : ndarray of int64
        The model's label (predicted class) of each of them.
    pseudo_confidence : ndarray of float64
        Its confidence (probability of the predicted class).
    thresholds : ndarray of float64, shape (C,)
        The class-wise thresholds used (``+inf`` for classes without a labeled item).
    """

    human: Selection
    pseudo_indices: IntArray
    pseudo_labels: IntArray
    pseudo_confidence: FloatArray
    thresholds: FloatArray


@register_strategy
@dataclass(frozen=True)
class SelectiveClusterBalanced(ClusterBalanced):
    """``cb`` plus selective querying: confident items take the model's label instead of a person's.

    :meth:`select` is plain ``cb`` (so the strategy contract holds); :meth:`select_selectively` is what
    :class:`~alnb.ActiveLearner` calls: it walks the ``cb`` acquisition order and pseudo-labels every item whose
    confidence is above ``max(τ_c, min_threshold)`` for its predicted class ``c`` (:func:`class_thresholds`), at
    most ``floor(max_pseudo · k)`` of them, until ``k`` items need a person (or the pool ends).

    Parameters
    ----------
    clusters_per_class, minibatch_above
        As for :class:`ClusterBalanced`.
    min_threshold : float, default 0.0
        A floor under every class threshold, in ``[0, 1]``.
    max_pseudo : float, default 1.0
        Most pseudo-labels per query, as a multiple of ``k`` (``0`` turns selective querying off).
    """

    name: ClassVar[str] = "cbsq"
    min_threshold: float = 0.0
    max_pseudo: float = 1.0

    def select_selectively(
        self, predictions: Predictions, k: int, context: QueryContext
    ) -> SelectiveSelection:
        """Split the acquisition order into pseudo-labels and ``k`` items for a person (see the class)."""
        floor = _check_number(type(self).__name__, "min_threshold", self.min_threshold, 1.0)
        ratio = _check_number(type(self).__name__, "max_pseudo", self.max_pseudo, None)
        k = _check_k(k, len(context.unlabeled))
        self.check_predictions(predictions, context)
        rows = positions_of(predictions, context.unlabeled, "context.unlabeled")
        thresholds = class_thresholds(predictions, context)
        limit = math.floor(ratio * k + 1e-9)
        if limit == 0 or not np.isfinite(thresholds).any():  # nothing can be trusted: plain cb
            indices, scores = self._ranked(predictions, rows, k, context)
            return SelectiveSelection(Selection(indices, scores), *_empty_pseudo(), thresholds)
        n = min(len(rows), k + limit)
        indices, scores = self._ranked(predictions, rows, n, context)
        at = predictions.positions(indices)
        predicted = predictions.predicted[at]
        confidence = predictions.confidence[at]
        trusted = confidence > np.maximum(thresholds[predicted], floor)
        # Walk the order: a trusted item is pseudo-labeled while the cap allows, the others go to a person.
        pseudo = trusted & (np.cumsum(trusted) <= limit)
        human = np.flatnonzero(~pseudo)[:k]
        last = human[-1] + 1 if len(human) == k else n
        chosen = np.flatnonzero(pseudo[:last])
        return SelectiveSelection(
            Selection(indices[human], scores[human]),
            indices[chosen],
            predicted[chosen],
            confidence[chosen],
            thresholds,
        )


def _empty_pseudo() -> tuple[IntArray, IntArray, FloatArray]:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
