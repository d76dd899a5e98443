"""The JSONL file backend: one append + flush + fsync per action, a POSIX lock, torn-tail recovery.

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
skipping it could silently drop a person's work. The records are those of :mod:`alnb.store.format`, one
per line, the header first.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from alnb.store.backend import StoreBackend
from alnb.store.format import Header, action_from_record, check_header, encode_record
from alnb.store.log import Action, LabelLog

try:  # advisory locking is POSIX-only; without it a store assumes one writer per file
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["JsonlFileBackend", "TornRecordWarning", "fsync_dir"]


class TornRecordWarning(UserWarning):
    """An incomplete last line (an interrupted write) was moved aside; every complete record was kept."""


class JsonlFileBackend(StoreBackend):
    """Records in an append-only JSONL file, created (with missing parent folders) on :meth:`open`.

    One instance serves one store; two stores on one file use two instances, serialised by the lock.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._header: Header | None = None  # in force once opened
        self._offset = 0  # bytes of the file replayed so far
        self._lines = 0  # lines of the file replayed so far (header included)
        self._has_header = False
        self._file_id: tuple[int, int] | None = None
        self._fd: int | None = None  # the locked file, inside exclusive()

    @property
    def path(self) -> Path:
        return self._path

    def describe(self) -> str:
        return repr(str(self._path))

    # ------------------------------------------------------------------ the interface
    def open(self, header: Header, log: LabelLog) -> Header:
        if self._header is not None:
            raise RuntimeError(
                f"this JsonlFileBackend of {str(self._path)!r} already serves a store; a second store on the "
                "same file needs its own backend (or pass the path)."
            )
        if self._path.is_dir():
            raise ValueError(f"path must be a file, got the directory {str(self._path)!r}.")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._header = header
        with self._locked(log) as fd:
            self._sync(fd, log)
        return self._header

    def refresh(self, log: LabelLog) -> None:
        """Replay what another writer appended since the last read (one ``stat`` when nothing)."""
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            raise RuntimeError(self._vanished_message("was deleted", log)) from None
        if st.st_size != self._offset or (st.st_dev, st.st_ino) != self._file_id:
            with self._locked(log) as fd:
                self._sync(fd, log)

    @contextlib.contextmanager
    def exclusive(self, log: LabelLog) -> Iterator[None]:
        with self._locked(log) as fd:
            self._sync(fd, log)  # another store on this file may have appended since our last read
            self._fd = fd
            try:
                yield
            finally:
                self._fd = None

    def write(self, batch: Sequence[Action]) -> None:
        if self._fd is None:
            raise RuntimeError("JsonlFileBackend.write is only allowed inside exclusive().")
        if not batch:
            return
        data = b"".join(encode_record(a.to_dict()) for a in batch)
        try:
            _write_all(self._fd, data)
            os.fsync(self._fd)
        except BaseException:
            os.ftruncate(self._fd, self._offset)  # a failed write leaves no partial record behind
            raise
        self._offset += len(data)
        self._lines += len(batch)

    # ------------------------------------------------------------------ file handling
    def _vanished_message(self, what: str, log: LabelLog) -> str:
        return (
            f"The label store file {str(self._path)!r} {what} while this LabelStore was open. Its "
            f"{len(log)} actions ({len(log.labels)} labels) are still in memory: "
            "save them with store.to_json(...) or store.to_csv(...) before creating a new store."
        )

    @contextlib.contextmanager
    def _locked(self, log: LabelLog) -> Iterator[int]:
        # Only the first open may create the file: re-creating a deleted one would hide that labels vanished.
        flags = os.O_RDWR | os.O_APPEND | (os.O_CREAT if self._file_id is None else 0)
        try:
            fd = os.open(self._path, flags, 0o644)
        except FileNotFoundError:
            if self._file_id is None:
                raise
            raise RuntimeError(self._vanished_message("was deleted", log)) from None
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)  # closing releases the lock

    def _sync(self, fd: int, log: LabelLog) -> None:
        """Bring ``log`` up to the file's end: creates the header, replays new lines, recovers a torn tail."""
        st = os.fstat(fd)
        file_id = (st.st_dev, st.st_ino)
        if self._file_id is not None and (file_id != self._file_id or st.st_size < self._offset):
            raise RuntimeError(self._vanished_message("was replaced or truncated", log))
        self._file_id = file_id
        if st.st_size > self._offset:
            data = os.pread(fd, st.st_size - self._offset, self._offset)
            lines = data.split(b"\n")
            tail = lines.pop()  # bytes after the last newline: empty unless a write was interrupted
            for raw in lines:
                self._replay_line(raw, self._lines + 1, log)
                self._lines += 1
                self._offset += len(raw) + 1
            if tail:
                self._recover_tail(fd, tail, log)
        if not self._has_header:  # a new file, or one whose only line was a torn header
            self._write_header(fd)

    def _recover_tail(self, fd: int, tail: bytes, log: LabelLog) -> None:
        line_no = self._lines + 1
        try:
            record = json.loads(tail.decode("utf-8"))
            complete = isinstance(record, dict) and "type" in record
        except ValueError:  # UnicodeDecodeError is a ValueError too
            complete = False
        if complete:
            # The whole record reached the disk, only its newline did not: it is a real action, keep it.
            self._replay_line(tail, line_no, log)
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
            f"write). It was moved to {torn}; the store continues with the {len(log)} complete "
            "actions before it.",
            TornRecordWarning,
            stacklevel=2,
        )

    def _write_header(self, fd: int) -> None:
        assert self._header is not None
        line = encode_record(self._header.to_record())
        _write_all(fd, line)
        os.fsync(fd)
        self._offset += len(line)
        self._lines += 1
        self._has_header = True
        fsync_dir(self._path.parent)  # makes the new file's name durable

    def _replay_line(self, raw: bytes, line_no: int, log: LabelLog) -> None:
        if not raw.strip():
            return  # a blank line holds no record, so nothing is lost by passing over it
        try:
            record: Any = json.loads(raw.decode("utf-8"))
            if not isinstance(record, dict):
                raise ValueError(f"expected a JSON object, got {type(record).__name__}")
        except ValueError as err:
            raise ValueError(
                f"{self._path}: line {line_no} is not a valid record ({err}). Only a torn *last* line is "
                "recovered automatically; fix or remove this line by hand (alnb never skips records)."
            ) from None
        if not self._has_header:
            assert self._header is not None
            self._header = check_header(record, self._header, str(self._path), line_no)
            self._has_header = True
            return
        try:
            log.apply(action_from_record(record, log.num_classes))
        except ValueError as err:
            raise ValueError(f"{self._path}: line {line_no} is not a valid action: {err}") from None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync_dir(directory: Path) -> None:
    """Make a folder's entries (a new or renamed file's name) durable, where the platform allows."""
    with contextlib.suppress(OSError):  # not every platform or filesystem can fsync a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
