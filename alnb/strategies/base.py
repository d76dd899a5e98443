"""The query-strategy protocol: a :class:`QueryContext` in, a :class:`Selection` out.

A strategy first *scores* rows of :class:`~alnb.predictions.Predictions` (higher = wanted more) and then
*selects* ``k`` dataset indices from ``context.unlabeled``: scoring is separate from selecting. Score-based
strategies only implement :meth:`Strategy.score`; the default selection takes the top ``k`` with ties broken
by a seeded permutation. Diversity strategies (BADGE, Coreset, ...) override the hook
:meth:`Strategy._select`. :meth:`Strategy.select` validates everything once, for every strategy.
"""

from __future__ import annotations

import dataclasses
import zlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from alnb.errors import PoolExhaustedError
from alnb.predictions import Predictions

__all__ = ["QueryContext", "Selection", "Strategy", "positions_of", "top_k"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def _as_index_array(value: Any, name: str) -> IntArray:
    arr = np.asarray(value)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"QueryContext.{name} must be a 1-D array of integer dataset indices, got dtype {arr.dtype} "
            f"and shape {arr.shape}."
        )
    return arr.astype(np.int64, copy=False)


@dataclass(frozen=True)
class QueryContext:
    """What a strategy may know about the pool besides the model's predictions.

    Parameters
    ----------
    unlabeled : ndarray of int64
        Dataset indices that may be selected.
    labeled : ndarray of int64
        Dataset indices already labeled.
    labels : ndarray of int64
        True labels of ``labeled``, aligned with it.
    num_classes : int
        Number of classes ``C``.
    seed : int, default 0
        Seed of every random choice (with ``round``): the same seed and round give the same selection.
    round : int, default 0
        Active-learning round, mixed into the seed so that rounds draw differently.
    pool_size : int, optional
        Size of the *initial* pool (``len(unlabeled) + len(labeled)`` at round 0), used by the candidate
        wrappers. When ``None`` the current ``len(unlabeled) + len(labeled)`` is used.

    Examples
    --------
    >>> ctx = QueryContext(unlabeled=np.array([1000, 1003, 5000]), labeled=np.array([7]),
    ...                    labels=np.array([1]), num_classes=3)
    >>> ctx.initial_pool_size
    4
    """

    unlabeled: IntArray
    labeled: IntArray
    labels: IntArray
    num_classes: int
    seed: int = 0
    round: int = 0
    pool_size: int | None = None

    def __post_init__(self) -> None:
        unlabeled = _as_index_array(self.unlabeled, "unlabeled")
        labeled = _as_index_array(self.labeled, "labeled")
        labels = _as_index_array(self.labels, "labels")
        # Frozen dataclass: normalise the arrays once, here, so every strategy sees int64.
        object.__setattr__(self, "unlabeled", unlabeled)
        object.__setattr__(self, "labeled", labeled)
        object.__setattr__(self, "labels", labels)
        if len(labels) != len(labeled):
            raise ValueError(
                f"QueryContext.labels has {len(labels)} entries but labeled has {len(labeled)}; expected "
                "one label per labeled index."
            )
        for name in ("num_classes", "seed", "round"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"QueryContext.{name} must be an int, got {value!r}.")
        if self.num_classes < 1:
            raise ValueError(f"QueryContext.num_classes must be >= 1, got {self.num_classes}.")
        if self.seed < 0 or self.round < 0:
            raise ValueError(
                f"QueryContext.seed and round must be >= 0, got seed={self.seed} and round={self.round}."
            )
        if len(labels) and (labels.min() < 0 or labels.max() >= self.num_classes):
            bad = labels[(labels < 0) | (labels >= self.num_classes)][:5].tolist()
            raise ValueError(
                f"QueryContext.labels contains {bad}; expected class ids in [0, {self.num_classes})."
            )
        if len(np.unique(unlabeled)) != len(unlabeled):
            raise ValueError("QueryContext.unlabeled contains duplicate indices; expected each index once.")
        overlap = np.intersect1d(unlabeled, labeled)
        if len(overlap):
            raise ValueError(
                f"QueryContext indices {overlap[:5].tolist()} are both labeled and unlabeled; expected "
                "disjoint sets."
            )
        if self.pool_size is not None and (
            isinstance(self.pool_size, bool)
            or not isinstance(self.pool_size, (int, np.integer))
            or self.pool_size < 1
        ):
            raise ValueError(
                f"QueryContext.pool_size must be a positive int or None, got {self.pool_size!r}."
            )

    @property
    def initial_pool_size(self) -> int:
        """``pool_size`` when given, else ``len(unlabeled) + len(labeled)``."""
        if self.pool_size is not None:
            return int(self.pool_size)
        return len(self.unlabeled) + len(self.labeled)

    def class_counts(self) -> IntArray:
        """Number of labeled items of each true class, shape ``(num_classes,)``."""
        return np.bincount(self.labels, minlength=self.num_classes).astype(np.int64)

    def rng(self, salt: str) -> np.random.Generator:
        """A generator seeded by ``(seed, round, salt)``; the salt keeps independent choices independent."""
        return np.random.default_rng([int(self.seed), int(self.round), zlib.crc32(salt.encode())])


@dataclass(frozen=True)
class Selection:
    """The outcome of a query.

    Parameters
    ----------
    indices : ndarray of int64, shape (k,)
        Chosen dataset indices, in selection order.
    scores : ndarray of float64, shape (k,)
        The strategy's score of each chosen item (higher = wanted more; NaN where not meaningful).
    """

    indices: IntArray
    scores: FloatArray

    def __post_init__(self) -> None:
        indices = np.asarray(self.indices, dtype=np.int64).reshape(-1)
        scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        if len(indices) != len(scores):
            raise ValueError(
                f"Selection.scores has {len(scores)} entries but indices has {len(indices)}; "
                "expected one each."
            )
        object.__setattr__(self, "indices", indices)
        object.__setattr__(self, "scores", scores)

    def __len__(self) -> int:
        return len(self.indices)


def top_k(scores: FloatArray, k: int, rng: np.random.Generator) -> IntArray:
    """Positions of the ``k`` largest scores, largest first; ties and NaNs (last) in a seeded random order.

    Examples
    --------
    >>> top_k(np.array([0.1, 0.9, 0.5]), 2, np.random.default_rng(0)).tolist()
    [1, 2]
    """
    perm = rng.permutation(len(scores))
    keys = np.asarray(scores, dtype=np.float64)[perm]
    keys = np.where(np.isnan(keys), -np.inf, keys)
    # A stable sort over a random permutation breaks ties uniformly at random, yet reproducibly.
    return perm[np.argsort(-keys, kind="stable")[:k]].astype(np.int64)


def _check_k(k: Any, pool: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"k must be an int with 1 <= k <= {pool} (the unlabeled pool size), got {k!r}.")
    if not 1 <= k <= pool:
        if pool == 0:
            raise PoolExhaustedError(f"k={k} cannot be selected: the unlabeled pool is empty (pool size 0).")
        raise ValueError(
            f"k={k} is out of range for an unlabeled pool of {pool} items; expected 1 <= k <= {pool}."
        )
    return int(k)


class Strategy(ABC):
    """Base class of query strategies.

    Subclasses are (frozen) dataclasses whose constructor only stores parameters, set the class attribute
    ``name``, list the optional :class:`~alnb.predictions.Predictions` fields they need in ``requires`` and
    implement :meth:`score`. Diversity strategies also override :meth:`_select`.
    """

    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def score(self, predictions: Predictions, context: QueryContext) -> FloatArray:
        """One float64 score per row of ``predictions`` (higher = wanted more).

        Rows outside ``context.unlabeled`` may be NaN when the score is not defined for them.
        """

    def required_fields(self) -> tuple[str, ...]:
        """Optional ``Predictions`` fields this strategy needs (wrappers add their base's)."""
        return self.requires

    def select(self, predictions: Predictions, k: int, context: QueryContext) -> Selection:
        """Choose ``k`` dataset indices from ``context.unlabeled``.

        Raises
        ------
        ValueError
            If ``k`` is not an int in ``[1, len(context.unlabeled)]``, if an unlabeled index has no
            prediction, if a required field of ``predictions`` is ``None`` or if the class counts disagree.
        """
        k = _check_k(k, len(context.unlabeled))
        self.check_predictions(predictions, context)
        rows = positions_of(predictions, context.unlabeled, "context.unlabeled")
        selection = self._select(predictions, rows, k, context)
        return selection

    def check_predictions(self, predictions: Predictions, context: QueryContext) -> None:
        """Raise ``ValueError`` when ``predictions`` cannot serve this strategy in ``context``."""
        if not isinstance(predictions, Predictions):
            raise ValueError(f"predictions must be an alnb Predictions, got {type(predictions).__name__}.")
        if predictions.num_classes != context.num_classes:
            raise ValueError(
                f"predictions have {predictions.num_classes} classes but context.num_classes is "
                f"{context.num_classes}; expected them to agree."
            )
        for field in self.required_fields():
            if getattr(predictions, field) is None:
                raise ValueError(
                    f"strategy {self.name!r} needs predictions.{field}, but it is None; compute it when "
                    "predicting (e.g. embeddings for diversity strategies, prob_samples for BALD)."
                )

    def _select(self, predictions: Predictions, rows: IntArray, k: int, context: QueryContext) -> Selection:
        """Default selection: the ``k`` best-scored unlabeled rows, ties broken by a seeded permutation.

        ``rows[i]`` is the row of ``predictions`` holding ``context.unlabeled[i]``; ``k`` is already
        validated.
        """
        scores = np.asarray(self.score(predictions, context), dtype=np.float64)[rows]
        order = top_k(scores, k, context.rng(f"{self.name}:ties"))
        return Selection(context.unlabeled[order], scores[order])

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters, by name (scikit-learn style)."""
        if dataclasses.is_dataclass(self):
            return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        return {}

    def to_spec(self) -> dict[str, Any]:
        """A plain ``dict`` that :func:`~alnb.strategies.build_strategy` turns back into an equal strategy."""
        spec: dict[str, Any] = {"name": self.name}
        for key, value in self.get_params().items():
            spec[key] = value.to_spec() if isinstance(value, Strategy) else value
        return spec


def positions_of(predictions: Predictions, indices: Sequence[int] | IntArray, what: str) -> IntArray:
    """Row positions of dataset ``indices`` in ``predictions``; ``ValueError`` naming the missing ones."""
    try:
        return predictions.positions(indices)
    except KeyError:
        missing = np.setdiff1d(np.asarray(indices, dtype=np.int64), predictions.indices)[:10].tolist()
        raise ValueError(
            f"{what} contains dataset indices {missing} that have no row in predictions; expected "
            "predictions on every unlabeled index (and on the labeled ones for strategies that use "
            "labeled embeddings)."
        ) from None
