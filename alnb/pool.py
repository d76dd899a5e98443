"""The pool of items an active learner may query: a view of a :class:`~alnb.store.LabelStore` over a dataset.

The store is the source of truth for labels: every ``label`` / ``skip`` / ``unlabel`` / ``undo`` goes to it at once
(durably, for a file store), and the pool's arrays are derived from the store's state. Every index is a
**dataset-wide** ``int64`` index, never a position inside the pool.

The pool owns the current round (:attr:`Pool.round`, the round new actions are recorded with); the store's rounds are
when past actions happened, and :class:`alnb.ActiveLearner` reads the round from its pool. The pool also holds the data
set's layout (``image_column`` / ``label_column``), which the learner hands to the trainer, the oracle and the test set.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from alnb._validation import as_int_list, check_class_names, check_non_negative_int
from alnb.store import Action, LabelStore, dataset_fingerprint

__all__ = ["Pool"]


class Pool:
    """Labeled, unlabeled and skipped items of a dataset, backed by a :class:`~alnb.store.LabelStore`.

    Parameters
    ----------
    dataset : Sized
        Anything with ``__len__`` (a ``datasets.Dataset`` in practice); only its length is used here.
    class_names : sequence of str
        Unique, non-empty class names; label ``i`` means ``class_names[i]``.
    store : LabelStore, optional
        Where actions are recorded; its state is restored into the pool. Its class names must equal
        ``class_names``. Default: a new in-memory store.
    indices : sequence of int, optional
        Dataset-wide indices forming the pool (unique, in ``[0, len(dataset))``). Default: every row.
    image_column : str
        Column holding the images (``"image"``; e.g. ``"img"`` for CIFAR). The learner's trainer reads images from it.
    label_column : str
        Column holding the true labels, when the data set has them (``"label"``; e.g. ``"fine_label"``): the learner's
        simulated oracle and its test set read labels from it.
    round : int, optional
        The current round, new actions are recorded with it. Default: the store's last round (0 for a new store);
        it may not be below that round.

    Raises
    ------
    ValueError
        For duplicate or empty class names, bad ``indices``, a store with other class names, a store
        holding labels of indices outside the pool, a column other than the default that the data set lacks, or a
        ``round`` before the store's last round.

    Examples
    --------
    >>> pool = Pool(range(6), ["cat", "dog"])
    >>> pool.label([4, 1], ["dog", 0])
    >>> pool.labeled, pool.labels, pool.unlabeled
    (array([1, 4]), array([0, 1]), array([0, 2, 3, 5]))
    >>> pool
    Pool(size=6, labeled=2, unlabeled=4, skipped=0, classes=2, round=0, counts={'cat': 1, 'dog': 1})
    """

    def __init__(
        self,
        dataset: Any,
        class_names: Sequence[str],
        store: LabelStore | None = None,
        indices: Sequence[int] | npt.NDArray[np.integer] | None = None,
        *,
        image_column: str = "image",
        label_column: str = "label",
        round: int | None = None,
    ) -> None:
        try:
            n = len(dataset)
        except TypeError:
            raise ValueError(f"dataset must have a length (__len__), got {type(dataset).__name__}.") from None
        self._dataset = dataset
        self._class_names = check_class_names(class_names)
        self._class_ids = {name: i for i, name in enumerate(self._class_names)}
        if store is None:
            store = LabelStore.in_memory(self._class_names)
        elif not isinstance(store, LabelStore):
            raise ValueError(f"store must be a LabelStore or None, got {type(store).__name__}.")
        elif store.class_names != self._class_names:
            raise ValueError(
                f"store has class_names {list(store.class_names)!r}, but class_names "
                f"{list(self._class_names)!r} were passed; they must be equal."
            )
        self._store = store
        self._indices = self._check_indices(indices, n)
        outside = [i for i in (*store.labels, *store.skipped) if not self._in_pool(i)]
        if outside:
            raise ValueError(
                f"store holds labels or skips of indices {sorted(outside)[:10]} (of {len(outside)}) that are "
                f"not in this pool of {len(self._indices)} indices; pass indices covering them, or another "
                "store."
            )
        self._image_column, self._label_column = self._check_columns(dataset, image_column, label_column)
        if round is None:
            round = store.last_round
        elif check_non_negative_int(round, "round") < store.last_round:
            raise ValueError(
                f"round={round} is before the store's last round {store.last_round}; expected a round >= "
                f"{store.last_round} (the store already holds actions of round {store.last_round})."
            )
        self._round = int(round)
        self._cache_version = -1
        self._cache: dict[str, npt.NDArray[np.int64]] = {}

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        dataset: Any,
        class_names: Sequence[str],
        indices: Sequence[int] | npt.NDArray[np.integer] | None = None,
        **options: Any,
    ) -> Pool:
        """A pool backed by the label file ``path``, created or resumed, tied to ``dataset``'s fingerprint.

        Equivalent to ``Pool(dataset, class_names, LabelStore(path, class_names, fp), indices, **options)`` with
        ``fp = dataset_fingerprint(dataset, class_names)``: a file written for another dataset is refused.
        ``options``: ``image_column``, ``label_column``, ``round``.
        """
        names = check_class_names(class_names)
        store = LabelStore(path, names, dataset_fingerprint(dataset, names))
        return cls(dataset, names, store=store, indices=indices, **options)

    # ------------------------------------------------------------------ views
    @property
    def dataset(self) -> Any:
        return self._dataset

    @property
    def store(self) -> LabelStore:
        return self._store

    @property
    def image_column(self) -> str:
        """Column of the data set holding the images."""
        return self._image_column

    @property
    def label_column(self) -> str:
        """Column of the data set holding the true labels (when it has them)."""
        return self._label_column

    @property
    def class_names(self) -> tuple[str, ...]:
        return self._class_names

    @property
    def num_classes(self) -> int:
        return len(self._class_names)

    @property
    def indices(self) -> npt.NDArray[np.int64]:
        """Every dataset index in the pool, sorted."""
        return self._indices.copy()

    @property
    def round(self) -> int:
        """Current round, the one owner of the round number: new actions are recorded with it, and
        :attr:`alnb.ActiveLearner.round` reads it. Restored as the store's last round unless given."""
        return self._round

    def next_round(self) -> int:
        """Start the next round (:meth:`alnb.ActiveLearner.end_round` calls it); returns its number."""
        self._round += 1
        return self._round

    @property
    def labeled(self) -> npt.NDArray[np.int64]:
        """Labeled dataset indices, sorted."""
        return self._arrays()["labeled"].copy()

    @property
    def labels(self) -> npt.NDArray[np.int64]:
        """Class id of each index in :attr:`labeled` (same order)."""
        return self._arrays()["labels"].copy()

    def labeled_snapshot(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """:attr:`labeled` and :attr:`labels` read from one state of the store (consistent while others label)."""
        arrays = self._arrays()
        return arrays["labeled"].copy(), arrays["labels"].copy()

    @property
    def skipped(self) -> npt.NDArray[np.int64]:
        """Skipped dataset indices, sorted."""
        return self._arrays()["skipped"].copy()

    @property
    def unlabeled(self) -> npt.NDArray[np.int64]:
        """Pool indices neither labeled nor skipped, sorted: the candidates a strategy may query."""
        return self._arrays()["unlabeled"].copy()

    def label_of(self, index: int) -> int | None:
        """Class id of ``index``, or ``None`` when it is not labeled (unlabeled or skipped)."""
        (i,) = self._check_pool_indices(index, "index", scalar=True)
        action = self._store.current_action(i)
        return None if action is None or action.type != "label" else action.label

    def class_counts(self) -> npt.NDArray[np.int64]:
        """Number of labeled items per class, shape ``(num_classes,)``."""
        return np.bincount(self._arrays()["labels"], minlength=self.num_classes).astype(np.int64)

    def __len__(self) -> int:
        """Number of indices in the pool."""
        return len(self._indices)

    def __contains__(self, index: object) -> bool:
        return isinstance(index, (int, np.integer)) and self._in_pool(int(index))

    def __repr__(self) -> str:
        arrays = self._arrays()
        counts = dict(zip(self._class_names, self.class_counts().tolist()))
        if len(counts) > 12:  # keep the repr one readable line for many classes
            counts = dict(list(counts.items())[:12]) | {"...": sum(list(counts.values())[12:])}
        return (
            f"Pool(size={len(self)}, labeled={len(arrays['labeled'])}, unlabeled={len(arrays['unlabeled'])}, "
            f"skipped={len(arrays['skipped'])}, classes={self.num_classes}, round={self._round}, "
            f"counts={counts})"
        )

    # ------------------------------------------------------------------ actions
    def label(
        self,
        indices: int | Sequence[int] | npt.NDArray[np.integer],
        labels: int | str | Sequence[int | str] | npt.NDArray[Any],
        annotator: str = "human",
    ) -> None:
        """Label one or more pool items; every item is validated before anything is written.

        Parameters
        ----------
        indices : int or sequence of int
            Dataset-wide indices in the pool, no repeats within one call. Relabeling is allowed.
        labels : int, str or sequence of int / str
            Class ids in ``[0, num_classes)`` or class names, aligned with ``indices``.
        annotator : str
            ``"human"``, ``"oracle"`` or a person's name.
        """
        idx = self._check_pool_indices(indices, "indices")
        if isinstance(labels, (str, int, np.integer)):
            values = [labels]
        else:
            arr = np.asarray(labels, dtype=object)
            if arr.ndim != 1:
                raise ValueError(f"labels must be one label or a 1-D sequence of labels, got {labels!r}.")
            values = list(arr)
        ids = [self._class_id(v) for v in values]
        if len(ids) != len(idx):
            raise ValueError(
                f"labels has {len(ids)} items but indices has {len(idx)}; expected one label per index."
            )
        self._store.label(idx, ids, round=self._round, annotator=annotator)

    def skip(self, index: int, annotator: str = "human") -> None:
        """Skip ``index`` (the person cannot tell); it leaves :attr:`unlabeled` and any label it had."""
        (i,) = self._check_pool_indices(index, "index", scalar=True)
        self._store.skip(i, round=self._round, annotator=annotator)

    def unlabel(self, index: int, annotator: str = "human") -> None:
        """Return a labeled or skipped ``index`` to :attr:`unlabeled`."""
        (i,) = self._check_pool_indices(index, "index", scalar=True)
        self._store.unlabel(i, round=self._round, annotator=annotator)

    def undo(self, annotator: str = "human") -> Action | None:
        """Revert the most recent action not yet undone; returns it, or ``None`` when nothing is left."""
        return self._store.undo(round=self._round, annotator=annotator)

    # ------------------------------------------------------------------ internals
    def _arrays(self) -> dict[str, npt.NDArray[np.int64]]:
        version = self._store.version
        if version != self._cache_version:
            labels = self._store.labels  # sorted by index
            labeled = np.fromiter(labels.keys(), dtype=np.int64, count=len(labels))
            skipped = np.array(sorted(self._store.skipped), dtype=np.int64)
            taken = np.concatenate([labeled, skipped])
            self._cache = {
                "labeled": labeled,
                "labels": np.fromiter(labels.values(), dtype=np.int64, count=len(labels)),
                "skipped": skipped,
                "unlabeled": self._indices[~np.isin(self._indices, taken)],
            }
            self._cache_version = version
        return self._cache

    def _in_pool(self, index: int) -> bool:
        pos = int(np.searchsorted(self._indices, index))
        return pos < len(self._indices) and int(self._indices[pos]) == index

    def _class_id(self, value: Any) -> int:
        if isinstance(value, str):
            if value not in self._class_ids:
                raise ValueError(f"labels contains {value!r}, expected one of {list(self._class_names)!r}.")
            return self._class_ids[value]
        if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            if not 0 <= value < self.num_classes:
                raise ValueError(f"labels contains {value}, expected class ids in [0, {self.num_classes}).")
            return int(value)
        raise ValueError(f"labels contains {value!r}, expected a class id (int) or a class name (str).")

    def _check_pool_indices(self, value: Any, name: str, scalar: bool = False) -> list[int]:
        out = as_int_list(value, name, scalar=scalar)
        missing = [i for i in out if not self._in_pool(i)]
        if missing:
            raise ValueError(
                f"{name} contains {missing[:10]}, which are not in the pool (expected dataset indices among "
                f"the pool's {len(self._indices)} indices, in [0, {len(self._dataset)}))."
            )
        return out

    @staticmethod
    def _check_columns(dataset: Any, image_column: Any, label_column: Any) -> tuple[str, str]:
        for name, value in (("image_column", image_column), ("label_column", label_column)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string, got {value!r}.")
        columns = getattr(dataset, "column_names", None)
        if isinstance(columns, list):
            # The defaults may be absent (an unlabeled set, images under another key); a column named on purpose
            # must exist.
            for name, value, default in (
                ("image_column", image_column, "image"),
                ("label_column", label_column, "label"),
            ):
                if value != default and value not in columns:
                    raise ValueError(
                        f"{name}={value!r} is not a column of the data set; expected one of {columns}."
                    )
        return image_column, label_column

    @staticmethod
    def _check_indices(indices: Any, n: int) -> npt.NDArray[np.int64]:
        if indices is None:
            return np.arange(n, dtype=np.int64)
        arr = np.asarray(indices)
        if arr.ndim != 1 or arr.dtype == np.bool_ or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise ValueError(f"indices must be a 1-D sequence of integers, got {indices!r}.")
        arr = arr.astype(np.int64)
        bad = arr[(arr < 0) | (arr >= n)]
        if bad.size:
            raise ValueError(f"indices contains {bad[:10].tolist()}, expected dataset indices in [0, {n}).")
        uniq, counts = np.unique(arr, return_counts=True)
        if (counts > 1).any():
            raise ValueError(f"indices must be unique, got repeats {uniq[counts > 1][:10].tolist()}.")
        return uniq
