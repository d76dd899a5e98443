"""``LabelStore``: a :class:`~alnb.store.log.LabelLog` kept durable by a :class:`~alnb.store.backend.StoreBackend`."""

from __future__ import annotations

import itertools
import os
import time as _time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from alnb._validation import check_choice, check_class_names, check_non_negative_int
from alnb.store import export
from alnb.store._args import as_index_list, as_int_list, check_meta, check_round
from alnb.store.backend import Lease, StoreBackend
from alnb.store.format import Header
from alnb.store.jsonl import JsonlFileBackend, fsync_dir
from alnb.store.log import CONFLICT_RULES, Action, Conflict, ConflictRule, LabelLog, LabelState, now
from alnb.store.memory import MemoryBackend

if TYPE_CHECKING:
    import datasets

__all__ = ["DEFAULT_LEASE_TTL", "LabelStore", "is_database_url", "new_session_id"]

#: Seconds a lease lasts unless renewed: long enough to label a batch, short enough that the items of
#: someone who went away return to the queue soon.
DEFAULT_LEASE_TTL = 900.0

_SESSION_COUNTER = itertools.count()


def new_session_id() -> str:
    """A session id unique across processes and machines: host, process id, time and a counter.

    Built from facts, not drawn at random, so no seed is involved.
    """
    host = os.uname().nodename if hasattr(os, "uname") else os.environ.get("COMPUTERNAME", "host")
    return f"{host}-{os.getpid()}-{_time.time_ns():x}-{next(_SESSION_COUNTER)}"


def is_database_url(value: object) -> bool:
    """Whether ``value`` is a database URL (``dialect[+driver]://...``) rather than a file path."""
    if not isinstance(value, str) or "://" not in value:
        return False
    scheme = value.split("://", 1)[0]
    return bool(scheme) and all(c.isalnum() or c in "+-_" for c in scheme) and not scheme.startswith("file")


class LabelStore:
    """Append-only, crash-safe log of labeling actions: the source of truth a :class:`~alnb.pool.Pool` views.

    :mod:`alnb.store.log` gives the replay / undo semantics, :mod:`alnb.store.format` the records and
    :mod:`alnb.store.jsonl` the file format and its crash safety.

    Parameters
    ----------
    path : str or PathLike or StoreBackend or None
        The JSONL file: created (with its header, and missing parent folders) when absent, replayed when it
        exists. A database URL (``"sqlite:///labels.db"``, ``"postgresql://user@host/db"``) opens a
        :class:`~alnb.store.sql.SqlBackend` instead: the store for a team (leases, several writers). ``None``
        keeps everything in memory (simulations); see also :meth:`in_memory`. A
        :class:`~alnb.store.backend.StoreBackend` keeps the records wherever it does.
    class_names : sequence of str
        Unique, non-empty class names; label ``i`` means ``class_names[i]``. An existing file must have
        been written for the same names in the same order.
    dataset_fingerprint : str, optional
        Identifies the dataset the indices refer to (see :func:`~alnb.store.dataset_fingerprint`). When
        both the file and the caller give one they must be equal; ``None`` on either side skips the check.
    session : str, optional
        This opened store's id, recorded in every action it writes; :meth:`undo` reverts only this
        session's actions, so a second store on the same file (a notebook cell run twice, another
        notebook, a teammate) never undoes what this one did. Default: a new id (:attr:`session` tells
        it); pass an earlier store's id to resume its undo history.
    conflict_rule : {"latest", "majority", "ask"}
        How the label of an index is chosen when annotators disagree (see :meth:`conflicts`):
        the most recent vote (today's behaviour), the majority vote (ties to the most recent), or none
        until someone calls :meth:`resolve` (the index is left out of :attr:`labels` meanwhile).

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
        *,
        session: str | None = None,
        conflict_rule: ConflictRule = "latest",
    ) -> None:
        self._class_names = check_class_names(class_names)
        if dataset_fingerprint is not None and not isinstance(dataset_fingerprint, str):
            raise ValueError(f"dataset_fingerprint must be a string or None, got {dataset_fingerprint!r}.")
        if session is not None and (not isinstance(session, str) or not session.strip()):
            raise ValueError(f"session must be a non-empty string or None, got {session!r}.")
        self._session = new_session_id() if session is None else session
        self._rule: ConflictRule = check_choice(conflict_rule, "conflict_rule", CONFLICT_RULES)  # type: ignore[assignment]
        if isinstance(path, StoreBackend):
            self._backend: StoreBackend = path
        elif path is None:
            self._backend = MemoryBackend()
        elif is_database_url(path):
            from alnb.store.sql import SqlBackend  # SQLAlchemy loads only for a database store

            self._backend = SqlBackend(str(path))
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
        """The JSONL (or SQLite) file, or ``None`` for an in-memory store or a database server."""
        return self._backend.path

    @property
    def url(self) -> str | None:
        """The database URL with its password redacted, or ``None`` for a JSONL or in-memory store."""
        return self._backend.url

    @property
    def session(self) -> str:
        """This opened store's id: recorded in its actions, the scope of its :meth:`undo` and its leases."""
        return self._session

    @property
    def conflict_rule(self) -> ConflictRule:
        """How disagreeing votes are resolved: ``"latest"``, ``"majority"`` or ``"ask"`` (settable)."""
        return self._rule

    @conflict_rule.setter
    def conflict_rule(self, rule: ConflictRule) -> None:
        self._rule = check_choice(rule, "conflict_rule", CONFLICT_RULES)  # type: ignore[assignment]

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
        """Current labels, human and pseudo (what a learner trains on), index → class id, sorted (a copy).

        Conflicting votes are resolved by :attr:`conflict_rule`; under ``"ask"`` they are left out.
        """
        self.refresh()
        return {i: label for i, label, _ in self._log.labeled(self._rule)}

    @property
    def human_labels(self) -> dict[int, int]:
        """Current labels people gave (no pseudo-labels: what a label budget counts), sorted by index."""
        self.refresh()
        return {i: label for i, label, a in self._log.labeled(self._rule) if not a.pseudo}

    @property
    def pseudo_labels(self) -> dict[int, int]:
        """Current pseudo-labels (given by a model with ``pseudo=True``), index → class id, sorted."""
        self.refresh()
        return {i: label for i, label, a in self._log.labeled(self._rule) if a.pseudo}

    def conflicts(self) -> list[Conflict]:
        """Indices on which annotators' current votes disagree, sorted by index; nothing is dropped.

        Each :class:`~alnb.store.log.Conflict` lists the votes (annotator → class), the label actions
        behind them, and what ``"latest"`` and ``"majority"`` would give. :meth:`resolve` settles one.
        """
        self.refresh()
        return self._log.conflicts()

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
        """Whether an action of this session is left to undo."""
        self.refresh()
        return self._log.undo_target(self._session) is not None

    def undo_target(self) -> Action | None:
        """The action :meth:`undo` would revert now (this session's latest not undone), or ``None``.

        Nothing is written. Actions of other sessions (another store on the same file or database) are
        never the target.
        """
        self.refresh()
        return self._log.undo_target(self._session)

    def state(self) -> LabelState:
        """A snapshot of the labels, the skipped indices and the full action list."""
        self.refresh()
        return self._log.state()

    def labels_in_round(self, round: int) -> dict[int, int]:
        """Current labels whose label action was recorded in round ``round`` (index → class id, sorted)."""
        rnd = check_round(round)
        self.refresh()
        return self._log.labels_in_round(rnd, self._rule)

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

    def saved_location(self, directory: str | os.PathLike[str] | None = None) -> str | None:
        """For a database store, the URL a saved session records (no password; a SQLite file inside
        ``directory`` relative to it); ``None`` for a file or in-memory store (their path is recorded)."""
        return self._backend.saved_location(directory)

    def describe(self) -> str:
        """A short text naming the storage (a database URL with its password redacted)."""
        return self._backend.describe()

    def close(self) -> None:
        """Release the backend's connections (a database store); the store must not be used afterwards."""
        self._backend.close()

    # ------------------------------------------------------------------ actions
    def label(
        self,
        indices: int | Sequence[int] | np.ndarray,
        labels: int | Sequence[int] | np.ndarray,
        *,
        round: int = 0,
        annotator: str = "human",
        pseudo: bool = False,
    ) -> list[Action]:
        """Record labels of one or more dataset indices; every item is validated before anything is written.

        Labeling an index releases any lease on it.

        Parameters
        ----------
        indices : int or sequence of int
            Dataset-wide indices: non-negative, no repeats within one call.
        labels : int or sequence of int
            Class ids in ``[0, num_classes)``, aligned with ``indices``.
        round : int
            Active-learning round the labels belong to.
        annotator : str
            Who labeled: ``"human"``, ``"oracle"``, a person's name, or ``"model"`` for pseudo-labels.
        pseudo : bool
            Whether a model gave these labels (selective querying): they count in :attr:`labels` but not
            in :attr:`human_labels`, exports leave them out unless asked, and a later human label of the
            same index replaces one. Undo and :meth:`unlabel` revert them like any other label.

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
        if not isinstance(pseudo, bool | np.bool_):
            raise ValueError(f"pseudo must be True or False, got {pseudo!r}.")
        flag, time, sid = bool(pseudo), now(), self._session
        return self._commit(
            lambda: [Action("label", i, v, rnd, who, time, flag, sid) for i, v in zip(idx, lab)]
        )

    def skip(self, index: int, *, round: int = 0, annotator: str = "human") -> Action:
        """Mark ``index`` as skipped, withdrawing a label it had (and releasing a lease on it)."""
        (i,) = as_index_list(index, "index", scalar=True)
        rnd, who = check_meta(round, annotator)
        return self._commit(lambda: [Action("skip", i, None, rnd, who, now(), session=self._session)])[0]

    def unlabel(self, index: int, *, round: int = 0, annotator: str = "human") -> Action:
        """Return a labeled or skipped ``index`` to the unlabeled state (every vote on it is withdrawn)."""
        (i,) = as_index_list(index, "index", scalar=True)
        rnd, who = check_meta(round, annotator)
        return self._commit(lambda: [Action("unlabel", i, None, rnd, who, now(), session=self._session)])[0]

    def resolve(self, index: int, label: int, *, round: int = 0, annotator: str = "human") -> list[Action]:
        """Settle a conflict (or any label): withdraw every vote on ``index``, then label it ``label``.

        Written as one batch of two ordinary records (``unlabel``, then ``label`` by ``annotator``), so
        the earlier votes stay in the history and old readers read the file; undo takes back one at a time.
        """
        (i,) = as_index_list(index, "index", scalar=True)
        (v,) = as_int_list(label, "label", scalar=True)
        if not 0 <= v < self.num_classes:
            raise ValueError(f"label is {v!r}, expected a class id in [0, {self.num_classes}).")
        rnd, who = check_meta(round, annotator)

        def build() -> list[Action]:
            time, sid = now(), self._session
            reset = (
                [Action("unlabel", i, None, rnd, who, time, session=sid)]
                if self._log.current_action(i)
                else []
            )
            return [*reset, Action("label", i, v, rnd, who, time, session=sid)]

        return self._commit(build)

    def undo(self, *, round: int = 0, annotator: str = "human") -> Action | None:
        """Revert this session's most recent action not yet undone (the one :meth:`undo_target` names).

        The index then takes the state its latest remaining action gives: a label another session gave
        afterwards stays. An item that becomes open again is leased back to this session (for a backend
        with leases), unless another session took it meanwhile.

        Returns
        -------
        Action or None
            The action that was undone, or ``None`` (and nothing written) when nothing is left to undo.
        """
        rnd, who = check_meta(round, annotator)
        undone: list[Action] = []

        def build() -> list[Action]:
            # Runs with exclusive access after catching up with other writers.
            target = self._log.undo_target(self._session)
            undone[:] = [] if target is None else [target]
            return [Action("undo", a.index, a.label, rnd, who, now(), session=self._session) for a in undone]

        self._commit(build)
        if not undone:
            return None
        i = undone[0].index
        if (
            self._backend.has_leases
            and undone[0].type in ("label", "skip")
            and self._log.current_action(i) is None
        ):
            self.lease(
                [i], 1, annotator=who
            )  # the item is open again: keep it this session's, unless another took it
        return undone[0]

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

    # ------------------------------------------------------------------ leases
    def lease(
        self,
        candidates: Sequence[int] | np.ndarray,
        k: int,
        *,
        annotator: str = "human",
        ttl: float = DEFAULT_LEASE_TTL,
    ) -> list[int]:
        """Take up to ``k`` of ``candidates`` (in their order) that no other session holds; returns them.

        Left out: indices labeled, skipped or in conflict, and those another session leased and whose
        lease has not expired. The indices taken are this session's for ``ttl`` seconds (asking again
        renews them); labeling or skipping one releases it, :meth:`release` gives them back. All of it
        runs in one exclusive transaction, so two annotators asking at once get disjoint batches. Needs a
        shared backend (a database, or an in-memory store shared in one process).
        """
        idx = as_index_list(candidates, "candidates")
        count = check_non_negative_int(k, "k")
        _, who = check_meta(0, annotator)
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 0 < ttl < float("inf"):
            raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}.")
        taken: list[int] = []
        with self._backend.exclusive(self._log):
            clock = _time.time()
            leases = self._backend.read_leases()
            expired = [i for i, lease in leases.items() if lease.expires <= clock]
            held = {
                i for i, lease in leases.items() if lease.expires > clock and lease.session != self._session
            }
            busy = {c.index for c in self._log.conflicts()}
            for i in dict.fromkeys(idx):  # first occurrence wins, order kept
                if len(taken) == count:
                    break
                if i in held or i in busy or self._log.current_action(i) is not None:
                    continue
                taken.append(i)
            put = [Lease(i, self._session, who, clock + float(ttl)) for i in taken]
            self._backend.write_leases(put, expired)
        return taken

    def release(self, indices: Sequence[int] | np.ndarray | None = None) -> None:
        """Give back this session's leases of ``indices`` (all of them by default)."""
        wanted = None if indices is None else set(as_index_list(indices, "indices"))
        with self._backend.exclusive(self._log):
            mine = [
                i
                for i, lease in self._backend.read_leases().items()
                if lease.session == self._session and (wanted is None or i in wanted)
            ]
            self._backend.write_leases([], mine)

    def leases(self) -> dict[int, Lease]:
        """Leases in force now (any session), index → :class:`~alnb.store.backend.Lease`, sorted by index."""
        with self._backend.exclusive(self._log):
            clock = _time.time()
            return {
                i: lease for i, lease in sorted(self._backend.read_leases().items()) if lease.expires > clock
            }

    def leased_by_others(self) -> frozenset[int]:
        """Indices another session holds a lease on now: not to be offered to this one."""
        return frozenset(i for i, lease in self.leases().items() if lease.session != self._session)

    # ------------------------------------------------------------------ copy and export
    def copy_to(self, path: str | os.PathLike[str]) -> Path | str:
        """Write the header and every action, exactly as they are, to ``path``; returns where.

        ``path`` is a JSONL file, or a database URL (``"sqlite:///labels.db"``, ``"postgresql://..."``):
        the one call that moves a session from one person's file to a team's database. A file copy is
        written next to ``path`` first and then renamed over it, so an older file is replaced whole or
        not at all; a database must hold no label store yet (its records are written in one
        transaction). ``LabelStore(path, class_names)`` reopens the copy with the same state; the return
        value is the file's path, or the URL with its password redacted.
        """
        if is_database_url(path):
            return self._copy_to_database(str(path))
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

    def _copy_to_database(self, url: str) -> str:
        from alnb.store.sql import SqlBackend

        target = SqlBackend(url)
        try:
            own = self._backend.url
            if own is not None and target.url == own:
                raise ValueError(
                    f"path {target.url!r} is this store's own database; pass another URL to copy to."
                )
            self.refresh()
            target.copy_from(self._header, self._log)
            return target.url or url
        finally:
            target.close()

    def to_records(self, include_pseudo: bool = False) -> list[dict[str, Any]]:
        """Current labels as dicts with keys ``index, label, label_name, round, annotator, time``.

        Sorted by index; ``round``, ``annotator`` and ``time`` are those of the action that set the label.
        Pseudo-labels are left out unless ``include_pseudo`` (then each record has a ``pseudo`` flag).
        """
        self.refresh()
        return export.label_records(self._log, self._class_names, include_pseudo, self._rule)

    def to_csv(self, path: str | os.PathLike[str], include_pseudo: bool = False) -> Path:
        """Write :meth:`to_records` as CSV with a header row; returns the path."""
        return export.write_csv(self.to_records(include_pseudo), path, include_pseudo)

    def to_json(self, path: str | os.PathLike[str], include_pseudo: bool = False) -> Path:
        """Write ``{"class_names", "dataset", "labels": to_records(), "skipped"}`` as JSON; returns path."""
        records = self.to_records(include_pseudo)
        return export.write_json(
            path, self._class_names, self.dataset_fingerprint, records, self._log.skipped
        )

    def to_dataset(
        self,
        dataset: datasets.Dataset | None = None,
        columns: Sequence[str] | None = None,
        include_pseudo: bool = False,
    ) -> datasets.Dataset:
        """Current labels as a ``datasets.Dataset`` with columns ``index``, ``label`` (ClassLabel of the
        class names), ``round``, ``annotator`` and ``time``, sorted by index.

        Parameters
        ----------
        dataset : datasets.Dataset, optional
            The source dataset; the rows ``dataset.select(indices)`` contribute ``columns``.
        columns : sequence of str, optional
            Source columns to add; by default every column whose feature is ``datasets.Image``.
        include_pseudo : bool
            Add the pseudo-labels too, with a boolean ``pseudo`` column.
        """
        records = self.to_records(include_pseudo)
        return export.to_dataset(records, self._class_names, dataset, columns, include_pseudo)

    # ------------------------------------------------------------------ syncing
    def refresh(self) -> None:
        """Replay what another writer appended since the last read (for a file: one ``stat`` when nothing)."""
        self._backend.refresh(self._log)
