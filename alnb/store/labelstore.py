"""``LabelStore``: a :class:`~alnb.store.log.LabelLog` kept durable by a :class:`~alnb.store.backend.StoreBackend`."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from alnb._validation import check_class_names
from alnb.store import export
from alnb.store._args import as_index_list, as_int_list, check_meta, check_round
from alnb.store.backend import StoreBackend
from alnb.store.format import Header
from alnb.store.jsonl import JsonlFileBackend, fsync_dir
from alnb.store.log import Action, LabelLog, LabelState, now
from alnb.store.memory import MemoryBackend

if TYPE_CHECKING:
    import datasets

__all__ = ["LabelStore"]


class LabelStore:
    """Append-only, crash-safe log of labeling actions: the source of truth a :class:`~alnb.pool.Pool` views.

    :mod:`alnb.store.log` gives the replay / undo semantics, :mod:`alnb.store.format` the records and
    :mod:`alnb.store.jsonl` the file format and its crash safety.

    Parameters
    ----------
    path : str or PathLike or StoreBackend or None
        The JSONL file: created (with its header, and missing parent folders) when absent, replayed when it
        exists. ``None`` keeps everything in memory (simulations); see also :meth:`in_memory`. A
        :class:`~alnb.store.backend.StoreBackend` keeps the records wherever it does.
    class_names : sequence of str
        Unique, non-empty class names; label ``i`` means ``class_names[i]``. An existing file must have
        been written for the same names in the same order.
    dataset_fingerprint : str, optional
        Identifies the dataset the indices refer to (see :func:`~alnb.store.dataset_fingerprint`). When
        both the file and the caller give one they must be equal; ``None`` on either side skips the check.

    Raises
    ------
    ValueError
        For a file written for other class names or another dataset, an unsupported version, or a
        corrupt line before the last one.

    Examples
    --------
    >>> store = LabelStore.in_memory(["cat", "dog"])
    >>> _ = store.label([4, 7], [1, 0], round=0)
    >>> store.labels
    {4: 1, 7: 0}
    >>> store.undo_target().index
    7
    >>> store.undo().index
    7
    >>> store.labels
    {4: 1}
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | StoreBackend | None,
        class_names: Sequence[str],
        dataset_fingerprint: str | None = None,
    ) -> None:
        self._class_names = check_class_names(class_names)
        if dataset_fingerprint is not None and not isinstance(dataset_fingerprint, str):
            raise ValueError(f"dataset_fingerprint must be a string or None, got {dataset_fingerprint!r}.")
        if isinstance(path, StoreBackend):
            self._backend: StoreBackend = path
        elif path is None:
            self._backend = MemoryBackend()
        else:
            self._backend = JsonlFileBackend(path)
        self._log = LabelLog(len(self._class_names))
        wanted = Header(self._class_names, dataset_fingerprint, now())
        self._header = self._backend.open(wanted, self._log)

    @classmethod
    def in_memory(cls, class_names: Sequence[str], dataset_fingerprint: str | None = None) -> LabelStore:
        """A store keeping its records in memory only (simulations with an oracle)."""
        return cls(None, class_names, dataset_fingerprint)

    # ------------------------------------------------------------------ state
    @property
    def path(self) -> Path | None:
        """The JSONL file, or ``None`` for an in-memory store."""
        return self._backend.path

    @property
    def backend(self) -> StoreBackend:
        """Where the records are kept."""
        return self._backend

    @property
    def class_names(self) -> tuple[str, ...]:
        return self._class_names

    @property
    def num_classes(self) -> int:
        return len(self._class_names)

    @property
    def dataset_fingerprint(self) -> str | None:
        """The fingerprint given, else the one in the file's header."""
        return self._header.dataset

    @property
    def version(self) -> int:
        """Number of action records so far; it changes whenever the state may have changed."""
        self.refresh()
        return len(self._log)

    @property
    def labels(self) -> dict[int, int]:
        """Current labels, dataset index → class id, sorted by index (a copy)."""
        self.refresh()
        return self._log.labels

    @property
    def skipped(self) -> frozenset[int]:
        """Indices currently skipped."""
        self.refresh()
        return self._log.skipped

    @property
    def actions(self) -> tuple[Action, ...]:
        """Every record after the header, in file order (undo records included)."""
        self.refresh()
        return self._log.actions

    @property
    def last_round(self) -> int:
        """The largest round number of any record; 0 for an empty store."""
        self.refresh()
        return self._log.last_round

    @property
    def can_undo(self) -> bool:
        """Whether an action is left to undo."""
        self.refresh()
        return self._log.can_undo

    def undo_target(self) -> Action | None:
        """The action :meth:`undo` would revert now (whoever wrote it), or ``None`` when none is left.

        Nothing is written; another writer on the same file may still change the answer before an undo.
        """
        self.refresh()
        return self._log.undo_target()

    def state(self) -> LabelState:
        """A snapshot of the labels, the skipped indices and the full action list."""
        self.refresh()
        return self._log.state()

    def labels_in_round(self, round: int) -> dict[int, int]:
        """Current labels whose label action was recorded in round ``round`` (index → class id, sorted)."""
        rnd = check_round(round)
        self.refresh()
        return self._log.labels_in_round(rnd)

    def current_action(self, index: int) -> Action | None:
        """The action that set the current state of ``index``; ``None`` when it is unlabeled."""
        self.refresh()
        return self._log.current_action(index)

    def __len__(self) -> int:
        """Number of labeled indices."""
        return len(self.labels)

    def __repr__(self) -> str:
        return (
            f"LabelStore({self._backend.describe()}, classes={self.num_classes}, labeled={len(self.labels)}, "
            f"skipped={len(self.skipped)}, actions={len(self._log)})"
        )

    # ------------------------------------------------------------------ actions
    def label(
        self,
        indices: int | Sequence[int] | np.ndarray,
        labels: int | Sequence[int] | np.ndarray,
        *,
        round: int = 0,
        annotator: str = "human",
    ) -> list[Action]:
        """Record labels of one or more dataset indices; every item is validated before anything is written.

        Parameters
        ----------
        indices : int or sequence of int
            Dataset-wide indices: non-negative, no repeats within one call.
        labels : int or sequence of int
            Class ids in ``[0, num_classes)``, aligned with ``indices``.
        round : int
            Active-learning round the labels belong to.
        annotator : str
            Who labeled: ``"human"``, ``"oracle"`` or a person's name.

        Returns
        -------
        list of Action
            The records written, one per item.
        """
        idx = as_index_list(indices, "indices")
        lab = as_int_list(labels, "labels")
        if len(idx) != len(lab):
            raise ValueError(
                f"labels has {len(lab)} items but indices has {len(idx)}; expected one label per index."
            )
        duplicates = sorted({i for i in idx if idx.count(i) > 1})
        if duplicates:
            raise ValueError(f"indices must not repeat within one call, got duplicates {duplicates}.")
        bad = [v for v in lab if not 0 <= v < self.num_classes]
        if bad:
            raise ValueError(f"labels contains {bad}, expected class ids in [0, {self.num_classes}).")
        rnd, who = check_meta(round, annotator)
        time = now()
        return self._commit(lambda: [Action("label", i, v, rnd, who, time) for i, v in zip(idx, lab)])

    def skip(self, index: int, *, round: int = 0, annotator: str = "human") -> Action:
        """Mark ``index`` as skipped, withdrawing a label it had."""
        (i,) = as_index_list(index, "index", scalar=True)
        rnd, who = check_meta(round, annotator)
        return self._commit(lambda: [Action("skip", i, None, rnd, who, now())])[0]

    def unlabel(self, index: int, *, round: int = 0, annotator: str = "human") -> Action:
        """Return a labeled or skipped ``index`` to the unlabeled state."""
        (i,) = as_index_list(index, "index", scalar=True)
        rnd, who = check_meta(round, annotator)
        return self._commit(lambda: [Action("unlabel", i, None, rnd, who, now())])[0]

    def undo(self, *, round: int = 0, annotator: str = "human") -> Action | None:
        """Revert the most recent action not yet undone (the one :meth:`undo_target` names).

        Returns
        -------
        Action or None
            The action that was undone, or ``None`` (and nothing written) when nothing is left to undo.
        """
        rnd, who = check_meta(round, annotator)
        undone: list[Action] = []

        def build() -> list[Action]:
            # Runs with exclusive access after catching up: the action to undo may come from another writer.
            target = self._log.undo_target()
            undone[:] = [] if target is None else [target]
            return [Action("undo", a.index, a.label, rnd, who, now()) for a in undone]

        self._commit(build)
        return undone[0] if undone else None

    def _commit(self, build: Callable[[], list[Action]]) -> list[Action]:
        """Build the records from the latest state, validate them all, store them durably, then apply them."""
        with self._backend.exclusive(self._log):
            batch = build()
            self._log.validate(batch)
            if batch:
                self._backend.write(batch)
        for a in batch:
            self._log.apply(a)
        return batch

    # ------------------------------------------------------------------ copy and export
    def copy_to(self, path: str | os.PathLike[str]) -> Path:
        """Write the header and every action, exactly as they are, to the JSONL file ``path``; returns it.

        The copy is written next to ``path`` first and then renamed over it, so an older file at ``path``
        is replaced whole or not at all. ``LabelStore(path, class_names)`` reopens it with the same state.
        """
        out = Path(path)
        own = self.path
        if own is not None and out.resolve() == own.resolve():
            raise ValueError(f"path {str(out)!r} is this store's own file; pass another path to copy to.")
        self.refresh()
        tmp = out.with_name(out.name + ".tmp")
        tmp.unlink(missing_ok=True)
        target = JsonlFileBackend(tmp)
        log = LabelLog(self.num_classes)
        target.open(self._header, log)
        with target.exclusive(log):
            target.write(self._log.actions)
        tmp.replace(out)
        fsync_dir(out.parent)
        return out

    def to_records(self) -> list[dict[str, Any]]:
        """Current labels as dicts with keys ``index, label, label_name, round, annotator, time``.

        Sorted by index; ``round``, ``annotator`` and ``time`` are those of the action that set the label.
        """
        self.refresh()
        return export.label_records(self._log, self._class_names)

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_records` as CSV with a header row; returns the path."""
        return export.write_csv(self.to_records(), path)

    def to_json(self, path: str | os.PathLike[str]) -> Path:
        """Write ``{"class_names", "dataset", "labels": to_records(), "skipped"}`` as JSON; returns path."""
        records = self.to_records()
        return export.write_json(
            path, self._class_names, self.dataset_fingerprint, records, self._log.skipped
        )

    def to_dataset(
        self, dataset: datasets.Dataset | None = None, columns: Sequence[str] | None = None
    ) -> datasets.Dataset:
        """Current labels as a ``datasets.Dataset`` with columns ``index``, ``label`` (ClassLabel of the
        class names), ``round``, ``annotator`` and ``time``, sorted by index.

        Parameters
        ----------
        dataset : datasets.Dataset, optional
            The source dataset; the rows ``dataset.select(indices)`` contribute ``columns``.
        columns : sequence of str, optional
            Source columns to add; by default every column whose feature is ``datasets.Image``.
        """
        return export.to_dataset(self.to_records(), self._class_names, dataset, columns)

    # ------------------------------------------------------------------ syncing
    def refresh(self) -> None:
        """Replay what another writer appended since the last read (for a file: one ``stat`` when nothing)."""
        self._backend.refresh(self._log)
