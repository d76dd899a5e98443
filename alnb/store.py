"""Persistent, append-only store of the labels a person (or an oracle) gave.

Why JSONL
---------
Every action is one JSON line, appended with a single ``write`` call, then flushed and ``os.fsync``-ed
before the call returns. The format is chosen for the one guarantee that matters here: **a label a person
gave is never lost**.

- *Crash-safe without a database.* A kernel kill can only interrupt the last write, so the worst a crash
  leaves is a torn last line (a JSON prefix without its newline). That is detectable (it does not parse)
  and recoverable: the torn bytes are moved to ``<path>.torn-<timestamp>``, a :class:`TornRecordWarning`
  names the file and line, and every earlier record is intact. Nothing is deleted silently.
- *No locking machinery for one writer.* Appends need no transactions. An advisory ``flock`` (POSIX) only
  serialises the rare case of two stores on one file (a re-run notebook cell); each re-reads what the
  other appended before it writes.
- *Human-readable and diffable.* ``cat``, ``grep`` and ``git diff`` work on it; anyone can audit who
  labeled what, when.
- *The full history is kept.* Undo, relabel and unlabel are new records, never rewrites.

A corrupt line in the *middle* of the file is never skipped: opening fails with the line number, because
skipping it could silently drop a person's work.

File format (version 1)
-----------------------
The first line is a header::

    {"type": "header", "version": 1, "class_names": [...], "dataset": "<fingerprint>" | null,
     "created": "<iso time>"}

Every following line is one action::

    {"type": "label" | "skip" | "unlabel" | "undo", "index": int, "label": int | null,
     "round": int, "annotator": str, "time": "<iso time>"}

Semantics (replayed in file order to rebuild the state)
-------------------------------------------------------
Each dataset-wide index is in exactly one state: *unlabeled*, *labeled with class c*, or *skipped*.

- ``label``: the index becomes labeled with ``label`` (relabeling, or labeling a skipped index, is allowed).
- ``skip``: the index becomes skipped (a label it had is withdrawn). Skipping a skipped index is refused.
- ``unlabel``: a labeled or skipped index becomes unlabeled. Unlabeling an unlabeled index is refused.
- ``undo``: an editor's undo, without redo. Every ``label`` / ``skip`` / ``unlabel`` action is pushed on a
  stack; ``undo`` pops the most recent action not yet undone and puts its index back into exactly the
  state it had just before that action. The undo record repeats the undone action's ``index`` and
  ``label`` (replay checks them). Undo with nothing left to undo writes nothing. Undo works across
  re-opening (replay rebuilds the stack) and across rounds. A multi-item ``label`` call writes one record
  per item, so one undo reverts one item.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from alnb._validation import check_class_names

try:  # advisory locking is POSIX-only; without it a store assumes one writer per file
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    import datasets

__all__ = [
    "FORMAT_VERSION",
    "Action",
    "LabelState",
    "LabelStore",
    "TornRecordWarning",
    "check_class_names",
    "dataset_fingerprint",
]

FORMAT_VERSION = 1
ActionType = Literal["label", "skip", "unlabel", "undo"]
_ACTION_TYPES: tuple[str, ...] = ("label", "skip", "unlabel", "undo")
_EXPORT_COLUMNS = ("index", "label", "round", "annotator", "time")
_RECORD_FIELDS = ("index", "label", "label_name", "round", "annotator", "time")


class TornRecordWarning(UserWarning):
    """An incomplete last line (an interrupted write) was moved aside; every complete record was kept."""


@dataclass(frozen=True)
class Action:
    """One record: what was done to which dataset-wide index, in which round, by whom and when.

    For ``type="undo"``, ``index`` and ``label`` repeat those of the action that was undone.
    """

    type: ActionType
    index: int
    label: int | None
    round: int
    annotator: str
    time: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready record, keys in file order."""
        return asdict(self)


@dataclass(frozen=True)
class LabelState:
    """A snapshot of a store; equal snapshots mean the same labels, skips and history."""

    labels: dict[int, int]
    skipped: frozenset[int]
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class _Entry:
    """Current state of one index: labeled (``label`` set) or skipped (``label`` None), set by ``action``."""

    label: int | None
    action: Action


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def dataset_fingerprint(dataset: Any, class_names: Sequence[str] | None = None) -> str:
    """A short string identifying a dataset; a :class:`LabelStore` header keeps it to refuse mixing datasets.

    For a ``datasets.Dataset`` it is the library's own content fingerprint (``dataset._fingerprint``:
    deterministic across sessions for data built the same way, updated by ``select`` / ``map``) plus the
    length. For any other object with ``__len__`` it is the length plus a hash of the class names (from
    ``class_names``, else from a ``features["label"].names`` attribute, else none). That is weaker: it
    only tells apart datasets of different size or classes.

    Parameters
    ----------
    dataset : Sized
        A ``datasets.Dataset`` or any object with ``__len__``.
    class_names : sequence of str, optional
        Class names to hash for datasets without a content fingerprint.

    Returns
    -------
    str

    Examples
    --------
    >>> dataset_fingerprint(list(range(5)), ["cat", "dog"])  # doctest: +ELLIPSIS
    'len=5;classes=...'
    """
    try:
        n = len(dataset)
    except TypeError:
        raise ValueError(f"dataset must have a length (__len__), got {type(dataset).__name__}.") from None
    fingerprint = getattr(dataset, "_fingerprint", None)
    if isinstance(fingerprint, str) and fingerprint:
        return f"datasets:{fingerprint};len={n}"
    if class_names is None:
        with contextlib.suppress(AttributeError, KeyError, TypeError):
            class_names = list(dataset.features["label"].names)
    if class_names is None:
        return f"len={n}"
    digest = hashlib.sha256(json.dumps(list(class_names)).encode()).hexdigest()[:16]
    return f"len={n};classes={digest}"


class LabelStore:
    """Append-only, crash-safe log of labeling actions: the source of truth a :class:`~alnb.pool.Pool` views.

    The module docstring gives the file format and the exact replay / undo semantics.

    Parameters
    ----------
    path : str or PathLike or None
        The JSONL file: created (with its header, and missing parent folders) when absent, replayed when it
        exists. ``None`` keeps everything in memory (simulations); see also :meth:`in_memory`.
    class_names : sequence of str
        Unique, non-empty class names; label ``i`` means ``class_names[i]``. An existing file must have
        been written for the same names in the same order.
    dataset_fingerprint : str, optional
        Identifies the dataset the indices refer to (see :func:`dataset_fingerprint`). When both the file
        and the caller give one they must be equal; ``None`` on either side skips the check.

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
    >>> store.undo().index
    7
    >>> store.labels
    {4: 1}
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        class_names: Sequence[str],
        dataset_fingerprint: str | None = None,
    ) -> None:
        self._class_names = check_class_names(class_names)
        if dataset_fingerprint is not None and not isinstance(dataset_fingerprint, str):
            raise ValueError(f"dataset_fingerprint must be a string or None, got {dataset_fingerprint!r}.")
        self._fingerprint = dataset_fingerprint
        self._path = None if path is None else Path(path)
        self._created = _now()
        self._actions: list[Action] = []
        self._entries: dict[int, _Entry] = {}
        # Applied actions not yet undone, each with the state its index had just before it.
        self._stack: list[tuple[Action, _Entry | None]] = []
        self._offset = 0  # bytes of the file replayed so far
        self._lines = 0  # lines of the file replayed so far (header included)
        self._has_header = False
        self._file_id: tuple[int, int] | None = None
        if self._path is not None:
            if self._path.is_dir():
                raise ValueError(f"path must be a file, got the directory {str(self._path)!r}.")
            self._path.parent.mkdir(parents=True, exist_ok=True)
            with self._locked() as fd:
                self._sync(fd)

    @classmethod
    def in_memory(cls, class_names: Sequence[str], dataset_fingerprint: str | None = None) -> LabelStore:
        """A store keeping its records in memory only (simulations with an oracle)."""
        return cls(None, class_names, dataset_fingerprint)

    # ------------------------------------------------------------------ state
    @property
    def path(self) -> Path | None:
        """The JSONL file, or ``None`` for an in-memory store."""
        return self._path

    @property
    def class_names(self) -> tuple[str, ...]:
        return self._class_names

    @property
    def num_classes(self) -> int:
        return len(self._class_names)

    @property
    def dataset_fingerprint(self) -> str | None:
        """The fingerprint given, else the one in the file's header."""
        return self._fingerprint

    @property
    def version(self) -> int:
        """Number of action records so far; it changes whenever the state may have changed."""
        self.refresh()
        return len(self._actions)

    @property
    def labels(self) -> dict[int, int]:
        """Current labels, dataset index → class id, sorted by index (a copy)."""
        self.refresh()
        return self._current_labels()

    @property
    def skipped(self) -> frozenset[int]:
        """Indices currently skipped."""
        self.refresh()
        return frozenset(i for i, e in self._entries.items() if e.label is None)

    @property
    def actions(self) -> tuple[Action, ...]:
        """Every record after the header, in file order (undo records included)."""
        self.refresh()
        return tuple(self._actions)

    @property
    def last_round(self) -> int:
        """The largest round number of any record; 0 for an empty store."""
        self.refresh()
        return max((a.round for a in self._actions), default=0)

    @property
    def can_undo(self) -> bool:
        """Whether an action is left to undo."""
        self.refresh()
        return bool(self._stack)

    def state(self) -> LabelState:
        """A snapshot of the labels, the skipped indices and the full action list."""
        self.refresh()
        return LabelState(self._current_labels(), self.skipped, tuple(self._actions))

    def labels_in_round(self, round: int) -> dict[int, int]:
        """Current labels whose label action was recorded in round ``round`` (index → class id, sorted)."""
        if not _is_int(round) or round < 0:
            raise ValueError(f"round must be a non-negative integer, got {round!r}.")
        self.refresh()
        entries = sorted(self._entries.items())
        return {i: e.label for i, e in entries if e.label is not None and e.action.round == round}

    def current_action(self, index: int) -> Action | None:
        """The action that set the current state of ``index``; ``None`` when it is unlabeled."""
        self.refresh()
        entry = self._entries.get(int(index))
        return None if entry is None else entry.action

    def __len__(self) -> int:
        """Number of labeled indices."""
        return len(self.labels)

    def __repr__(self) -> str:
        where = "in memory" if self._path is None else repr(str(self._path))
        return (
            f"LabelStore({where}, classes={self.num_classes}, labeled={len(self.labels)}, "
            f"skipped={len(self.skipped)}, actions={len(self._actions)})"
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
        idx = _as_index_list(indices, "indices")
        lab = _as_int_list(labels, "labels")
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
        rnd, who = _check_meta(round, annotator)
        time = _now()
        return self._commit(lambda: [Action("label", i, v, rnd, who, time) for i, v in zip(idx, lab)])

    def skip(self, index: int, *, round: int = 0, annotator: str = "human") -> Action:
        """Mark ``index`` as skipped, withdrawing a label it had."""
        (i,) = _as_index_list(index, "index", scalar=True)
        rnd, who = _check_meta(round, annotator)
        return self._commit(lambda: [Action("skip", i, None, rnd, who, _now())])[0]

    def unlabel(self, index: int, *, round: int = 0, annotator: str = "human") -> Action:
        """Return a labeled or skipped ``index`` to the unlabeled state."""
        (i,) = _as_index_list(index, "index", scalar=True)
        rnd, who = _check_meta(round, annotator)
        return self._commit(lambda: [Action("unlabel", i, None, rnd, who, _now())])[0]

    def undo(self, *, round: int = 0, annotator: str = "human") -> Action | None:
        """Revert the most recent action not yet undone.

        Returns
        -------
        Action or None
            The action that was undone, or ``None`` (and nothing written) when nothing is left to undo.
        """
        rnd, who = _check_meta(round, annotator)
        undone: list[Action] = []

        def build() -> list[Action]:
            # Runs under the file lock after syncing: the action to undo may come from another writer.
            undone[:] = [self._stack[-1][0]] if self._stack else []
            return [Action("undo", a.index, a.label, rnd, who, _now()) for a in undone]

        self._commit(build)
        return undone[0] if undone else None

    # ------------------------------------------------------------------ export
    def to_records(self) -> list[dict[str, Any]]:
        """Current labels as dicts with keys ``index, label, label_name, round, annotator, time``.

        Sorted by index; ``round``, ``annotator`` and ``time`` are those of the action that set the label.
        """
        self.refresh()
        return [
            {
                "index": i,
                "label": e.label,
                "label_name": self._class_names[e.label],
                "round": e.action.round,
                "annotator": e.action.annotator,
                "time": e.action.time,
            }
            for i, e in sorted(self._entries.items())
            if e.label is not None
        ]

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_records` as CSV with a header row; returns the path."""
        out = Path(path)
        with out.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(_RECORD_FIELDS))
            writer.writeheader()
            writer.writerows(self.to_records())
        return out

    def to_json(self, path: str | os.PathLike[str]) -> Path:
        """Write ``{"class_names", "dataset", "labels": to_records(), "skipped"}`` as JSON; returns path."""
        out = Path(path)
        payload = {
            "class_names": list(self._class_names),
            "dataset": self._fingerprint,
            "labels": self.to_records(),
            "skipped": sorted(self.skipped),
        }
        out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
        return out

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
        import datasets as hf  # heavy import, needed only for this export

        records = self.to_records()
        features = hf.Features(
            {
                "index": hf.Value("int64"),
                "label": hf.ClassLabel(names=list(self._class_names)),
                "round": hf.Value("int64"),
                "annotator": hf.Value("string"),
                "time": hf.Value("string"),
            }
        )
        table = hf.Dataset.from_dict({k: [r[k] for r in records] for k in _EXPORT_COLUMNS}, features=features)
        if dataset is None:
            if columns is not None:
                raise ValueError(f"columns={list(columns)!r} needs the source dataset, got dataset=None.")
            return table
        if columns is None:
            columns = [name for name, f in dataset.features.items() if isinstance(f, hf.Image)]
        columns = list(columns)
        missing = [c for c in columns if c not in dataset.column_names]
        if missing:
            raise ValueError(
                f"columns {missing} are not in the dataset, whose columns are {dataset.column_names}."
            )
        clash = [c for c in columns if c in _EXPORT_COLUMNS]
        if clash:
            raise ValueError(f"columns {clash} clash with the export's own columns {list(_EXPORT_COLUMNS)}.")
        indices = [r["index"] for r in records]
        if indices and indices[-1] >= len(dataset):
            raise ValueError(
                f"the store labels index {indices[-1]}, but the dataset has {len(dataset)} rows."
            )
        if not columns:
            return table
        source = dataset.select(indices).select_columns(columns)
        return hf.concatenate_datasets([table, source], axis=1)

    # ------------------------------------------------------------------ file handling
    def refresh(self) -> None:
        """Replay what another writer appended to the file since the last read (one ``stat`` when nothing)."""
        if self._path is None:
            return
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            raise RuntimeError(self._vanished_message("was deleted")) from None
        if st.st_size != self._offset or (st.st_dev, st.st_ino) != self._file_id:
            with self._locked() as fd:
                self._sync(fd)

    def _current_labels(self) -> dict[int, int]:
        return {i: e.label for i, e in sorted(self._entries.items()) if e.label is not None}

    def _vanished_message(self, what: str) -> str:
        return (
            f"The label store file {str(self._path)!r} {what} while this LabelStore was open. Its "
            f"{len(self._actions)} actions ({len(self._current_labels())} labels) are still in memory: "
            "save them with store.to_json(...) or store.to_csv(...) before creating a new store."
        )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[int]:
        assert self._path is not None
        # Only the first open may create the file: re-creating a deleted one would hide that labels vanished.
        flags = os.O_RDWR | os.O_APPEND | (os.O_CREAT if self._file_id is None else 0)
        try:
            fd = os.open(self._path, flags, 0o644)
        except FileNotFoundError:
            if self._file_id is None:
                raise
            raise RuntimeError(self._vanished_message("was deleted")) from None
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)  # closing releases the lock

    def _sync(self, fd: int) -> None:
        """Bring memory up to the file's end: creates the header, replays new lines, recovers a torn tail."""
        st = os.fstat(fd)
        file_id = (st.st_dev, st.st_ino)
        if self._file_id is not None and (file_id != self._file_id or st.st_size < self._offset):
            raise RuntimeError(self._vanished_message("was replaced or truncated"))
        self._file_id = file_id
        if st.st_size > self._offset:
            data = os.pread(fd, st.st_size - self._offset, self._offset)
            lines = data.split(b"\n")
            tail = lines.pop()  # bytes after the last newline: empty unless a write was interrupted
            for raw in lines:
                self._replay_line(raw, self._lines + 1)
                self._lines += 1
                self._offset += len(raw) + 1
            if tail:
                self._recover_tail(fd, tail)
        if not self._has_header:  # a new file, or one whose only line was a torn header
            self._write_header(fd)

    def _recover_tail(self, fd: int, tail: bytes) -> None:
        line_no = self._lines + 1
        try:
            record = json.loads(tail.decode("utf-8"))
            complete = isinstance(record, dict) and "type" in record
        except ValueError:  # UnicodeDecodeError is a ValueError too
            complete = False
        if complete:
            # The whole record reached the disk, only its newline did not: it is a real action, keep it.
            self._replay_line(tail, line_no)
            _write_all(fd, b"\n")
            os.fsync(fd)
            self._lines += 1
            self._offset += len(tail) + 1
            return
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        torn = Path(f"{self._path}.torn-{stamp}")
        n = 1
        while torn.exists():
            torn = Path(f"{self._path}.torn-{stamp}-{n}")
            n += 1
        # Save the torn bytes durably before truncating, so a crash right here cannot lose them either.
        with torn.open("wb") as f:
            f.write(tail)
            f.flush()
            os.fsync(f.fileno())
        os.ftruncate(fd, self._offset)
        os.fsync(fd)
        warnings.warn(
            f"{self._path}: line {line_no} is an incomplete record ({len(tail)} bytes, from an interrupted "
            f"write). It was moved to {torn}; the store continues with the {len(self._actions)} complete "
            "actions before it.",
            TornRecordWarning,
            stacklevel=2,
        )

    def _write_header(self, fd: int) -> None:
        header = {
            "type": "header",
            "version": FORMAT_VERSION,
            "class_names": list(self._class_names),
            "dataset": self._fingerprint,
            "created": self._created,
        }
        line = (json.dumps(header) + "\n").encode("utf-8")
        _write_all(fd, line)
        os.fsync(fd)
        self._offset += len(line)
        self._lines += 1
        self._has_header = True
        _fsync_dir(self._path.parent)  # type: ignore[union-attr]  # makes the new file's name durable

    def _replay_line(self, raw: bytes, line_no: int) -> None:
        if not raw.strip():
            return  # a blank line holds no record, so nothing is lost by passing over it
        try:
            record = json.loads(raw.decode("utf-8"))
            if not isinstance(record, dict):
                raise ValueError(f"expected a JSON object, got {type(record).__name__}")
        except ValueError as err:
            raise ValueError(
                f"{self._path}: line {line_no} is not a valid record ({err}). Only a torn *last* line is "
                "recovered automatically; fix or remove this line by hand (alnb never skips records)."
            ) from None
        if not self._has_header:
            self._check_header(record, line_no)
            self._has_header = True
            return
        try:
            self._apply(self._parse_action(record))
        except ValueError as err:
            raise ValueError(f"{self._path}: line {line_no} is not a valid action: {err}") from None

    def _check_header(self, record: dict[str, Any], line_no: int) -> None:
        where = self._path
        if record.get("type") != "header":
            raise ValueError(
                f"{where}: line {line_no} must be the header, got {record!r}; not a label store?"
            )
        if record.get("version") != FORMAT_VERSION:
            raise ValueError(
                f"{where}: label store version {record.get('version')!r} is unsupported, "
                f"expected {FORMAT_VERSION}."
            )
        names = record.get("class_names")
        if not isinstance(names, list) or tuple(names) != self._class_names:
            raise ValueError(
                f"{where} was written for class_names {names!r}, but class_names "
                f"{list(self._class_names)!r} were passed; pass the same names in the same order, "
                "or use another path."
            )
        stored = record.get("dataset")
        if stored is not None and self._fingerprint is not None and stored != self._fingerprint:
            raise ValueError(
                f"{where} was written for the dataset with fingerprint {stored!r}, but "
                f"dataset_fingerprint {self._fingerprint!r} was passed: its indices refer to another "
                "dataset. Use another path, or pass dataset_fingerprint=None to skip this check."
            )
        if self._fingerprint is None:
            self._fingerprint = stored
        self._created = str(record.get("created", self._created))

    def _parse_action(self, record: dict[str, Any]) -> Action:
        kind = record.get("type")
        if kind not in _ACTION_TYPES:
            raise ValueError(f"type is {kind!r}, expected one of {list(_ACTION_TYPES)}")
        index, label, rnd = record.get("index"), record.get("label"), record.get("round")
        annotator, time = record.get("annotator"), record.get("time")
        if not _is_int(index) or index < 0:
            raise ValueError(f"index is {index!r}, expected a non-negative integer")
        if kind == "label" and (not _is_int(label) or not 0 <= label < self.num_classes):
            raise ValueError(f"label is {label!r}, expected a class id in [0, {self.num_classes})")
        if kind in ("skip", "unlabel") and label is not None:
            raise ValueError(f"label is {label!r}, expected null in a {kind} record")
        if kind == "undo" and label is not None and not _is_int(label):
            raise ValueError(f"label is {label!r}, expected an integer or null")
        if not _is_int(rnd) or rnd < 0:
            raise ValueError(f"round is {rnd!r}, expected a non-negative integer")
        if not isinstance(annotator, str) or not isinstance(time, str):
            raise ValueError(f"annotator and time must be strings, got {annotator!r} and {time!r}")
        return Action(kind, int(index), None if label is None else int(label), int(rnd), annotator, time)

    # ------------------------------------------------------------------ state transitions
    def _check(self, action: Action, pending: dict[int, _Entry | None]) -> None:
        """Refuse an action meaningless in the current state; ``pending`` overlays a batch's earlier items."""
        entry = pending[action.index] if action.index in pending else self._entries.get(action.index)
        if action.type == "skip" and entry is not None and entry.label is None:
            raise ValueError(f"index {action.index} is already skipped.")
        if action.type == "unlabel" and entry is None:
            raise ValueError(f"index {action.index} is neither labeled nor skipped; nothing to unlabel.")
        if action.type == "undo":
            if not self._stack:
                raise ValueError("undo with nothing left to undo.")
            target = self._stack[-1][0]
            if (target.index, target.label) != (action.index, action.label):
                raise ValueError(
                    f"undo names index {action.index} label {action.label}, but the action to undo is "
                    f"{target.type} of index {target.index} label {target.label}."
                )

    def _apply(self, action: Action) -> None:
        self._check(action, {})
        if action.type == "undo":
            target, previous = self._stack.pop()
            if previous is None:
                self._entries.pop(target.index, None)
            else:
                self._entries[target.index] = previous
        else:
            self._stack.append((action, self._entries.get(action.index)))
            if action.type == "unlabel":
                del self._entries[action.index]
            else:
                self._entries[action.index] = _Entry(action.label, action)
        self._actions.append(action)

    def _commit(self, build: Callable[[], list[Action]]) -> list[Action]:
        """Build the records from the latest state, validate them all, append durably, then apply them."""
        if self._path is None:
            batch = build()
            self._validate(batch)
        else:
            with self._locked() as fd:
                self._sync(fd)  # another store on this file may have appended since our last read
                batch = build()
                self._validate(batch)
                if batch:
                    data = b"".join((json.dumps(a.to_dict()) + "\n").encode("utf-8") for a in batch)
                    try:
                        _write_all(fd, data)
                        os.fsync(fd)
                    except BaseException:
                        os.ftruncate(fd, self._offset)  # a failed write leaves no partial record behind
                        raise
                    self._offset += len(data)
                    self._lines += len(batch)
        for a in batch:
            self._apply(a)
        return batch

    def _validate(self, batch: list[Action]) -> None:
        pending: dict[int, _Entry | None] = {}
        for a in batch:
            self._check(a, pending)
            pending[a.index] = None if a.type == "unlabel" else _Entry(a.label, a)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform or filesystem can fsync a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _as_int_list(value: Any, name: str, scalar: bool = False) -> list[int]:
    """Integers from an int, a sequence or a 1-D array; bools and floats are refused (they hide bugs)."""
    if _is_int(value):
        return [int(value)]
    if scalar:
        raise ValueError(f"{name} must be one integer, got {value!r}.")
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.dtype == np.bool_ or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be an integer or a 1-D sequence of integers, got {value!r}.")
    return [int(v) for v in arr]


def _as_index_list(value: Any, name: str, scalar: bool = False) -> list[int]:
    out = _as_int_list(value, name, scalar=scalar)
    negative = [i for i in out if i < 0]
    if negative:
        raise ValueError(f"{name} contains {negative}, expected non-negative dataset indices.")
    return out


def _check_meta(round: Any, annotator: Any) -> tuple[int, str]:
    if not _is_int(round) or round < 0:
        raise ValueError(f"round must be a non-negative integer, got {round!r}.")
    if not isinstance(annotator, str) or not annotator.strip():
        raise ValueError(f"annotator must be a non-empty string, got {annotator!r}.")
    return int(round), annotator
