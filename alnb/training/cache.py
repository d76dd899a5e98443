"""Per-row cache of frozen image features, shared by ``fit`` and ``predict``: in memory, or memory-mapped on disk.

On disk (``FeatureCache(directory)``, the session folder's ``features/``) every key has a folder of its own::

    features/<hash of the key>/manifest.json        key, width, committed rows, checksummed chunks, file names
    features/<hash of the key>/features-<gen>.f32   float32 rows [rows, dim], appended in place
    features/<hash of the key>/indices-<gen>.i64    int64 dataset-wide index of each row
    features/<hash of the key>/lock                 advisory lock of writers (POSIX)

Why this layout: raw little-endian arrays map with ``numpy.memmap`` (nothing is unpickled, a full read of rows stored
in order is a view, not a copy), an append writes only the new rows and then replaces the small manifest atomically,
so a process killed mid-append leaves the committed rows intact (bytes past the committed end are ignored and
overwritten by the next append). Each chunk of at most 64 MiB carries CRC-32s of its feature and index bytes: the index
checksums are checked on open, a chunk's feature checksum the first time one of its rows is read, and a chunk that
fails is dropped (its rows count as missing and are encoded again), never trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import warnings
import zlib
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

try:  # POSIX advisory locks serialise writers of one folder (two processes of one accelerate launch)
    import fcntl
except ImportError:  # pragma: no cover - Windows: one writer per folder
    fcntl = None  # type: ignore[assignment]

__all__ = ["FeatureCache", "FeatureCacheWarning", "dataset_fingerprint"]

_FORMAT = 1
_MANIFEST = "manifest.json"
_CHUNK_BYTES = 64 << 20  # checksum granularity: a read verifies at most this much beyond what it needs
_TAIL_ROWS = 8192  # in memory, small adds share a preallocated block instead of one array each
_MAX_INDEX = 1 << 40  # a dataset-wide index beyond this in a cache file means the file is damaged
_VOLATILE = "object-"  # prefix of fingerprints that only hold within one process (object identity)
_DATA_NAME = re.compile(r"^(features|indices)-[0-9a-f]{16}\.(f32|i64)$")


class FeatureCacheWarning(UserWarning):
    """A feature-cache file on disk was damaged or torn: the affected rows are dropped and encoded again."""


def dataset_fingerprint(dataset: object) -> str:
    """``dataset._fingerprint`` for a ``datasets.Dataset`` (it changes whenever the data does); otherwise the
    object identity, so a list or torch dataset is only recognised as long as the same object is passed (such
    keys are never written to disk: another process could reuse the identity)."""
    fingerprint = getattr(dataset, "_fingerprint", None)
    if isinstance(fingerprint, str) and fingerprint:
        return fingerprint
    return f"{_VOLATILE}{id(dataset)}-{len(dataset)}"  # type: ignore[arg-type]


def _persistable(key: Hashable) -> list[str] | None:
    """The key as a list of strings when it may be stored on disk, else ``None``."""
    parts = [key] if isinstance(key, str) else list(key) if isinstance(key, tuple) else None
    if parts is None or not all(isinstance(p, str) for p in parts):
        return None
    if any(p.startswith(_VOLATILE) for p in parts):
        return None
    return parts


def _contiguous(rows: npt.NDArray[np.int64]) -> bool:
    return (
        len(rows) > 0 and int(rows[-1]) - int(rows[0]) == len(rows) - 1 and bool((np.diff(rows) == 1).all())
    )


class _Entry:
    """Rows of one key: features by storage row, and a dense map from dataset-wide index to storage row."""

    def __init__(self) -> None:
        self.dim: int | None = None
        self.row_of = np.full(0, -1, dtype=np.int64)  # dataset index → storage row, -1 when absent
        self.count = 0  # dataset indices present

    def rows(self, idx: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Storage row of each index, -1 where it is not cached."""
        out = np.full(len(idx), -1, dtype=np.int64)
        inside = (idx >= 0) & (idx < len(self.row_of))
        out[inside] = self.row_of[idx[inside]]
        return out

    def _map(self, idx: npt.NDArray[np.int64], rows: npt.NDArray[np.int64]) -> None:
        if not len(idx):
            return
        top = int(idx.max()) + 1
        if top > len(self.row_of):  # grow geometrically: mapping one more index never copies the whole map
            grown = np.full(max(top, 2 * len(self.row_of)), -1, dtype=np.int64)
            grown[: len(self.row_of)] = self.row_of
            self.row_of = grown
        unique = np.unique(idx)
        before = int((self.row_of[unique] >= 0).sum())
        self.row_of[idx] = rows  # a repeated index keeps its last row
        self.count += len(unique) - before

    def _unmap_rows(self, start: int, stop: int) -> None:
        dropped = (self.row_of >= start) & (self.row_of < stop)
        self.count -= int(dropped.sum())
        self.row_of[dropped] = -1

    def _check_dim(self, features: npt.NDArray[np.float32]) -> None:
        if self.dim is not None and features.shape[1] != self.dim:
            raise ValueError(
                f"features must have {self.dim} columns like the rows already cached under this key, "
                f"got {features.shape[1]}."
            )

    # Implemented by the storage kinds.
    def append(self, idx: npt.NDArray[np.int64], features: npt.NDArray[np.float32]) -> None:
        raise NotImplementedError

    def block(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        raise NotImplementedError

    def check(self, rows: npt.NDArray[np.int64]) -> None:
        """Make sure the chunks holding ``rows`` are intact (disk only)."""

    def refresh(self) -> None:
        """Pick up rows another process committed (disk only)."""

    @property
    def nbytes(self) -> int:
        raise NotImplementedError

    def remove(self) -> None:
        """Drop every row (and, on disk, the files)."""


class _MemoryEntry(_Entry):
    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[npt.NDArray[np.float32]] = []  # each block's filled rows; the last may be a tail
        self.starts: list[int] = []
        self.tail: npt.NDArray[np.float32] | None = None  # preallocated block the last view lies in
        self.n_rows = 0

    def append(self, idx: npt.NDArray[np.int64], features: npt.NDArray[np.float32]) -> None:
        self._check_dim(features)
        self.dim = features.shape[1]
        k, start = len(idx), self.n_rows
        tail_used = 0 if self.tail is None else len(self.blocks[-1])
        if k >= _TAIL_ROWS:
            self.tail = None
            self.blocks.append(np.array(features, dtype=np.float32, order="C"))
            self.starts.append(start)
        else:
            if self.tail is None or tail_used + k > len(self.tail):
                self.tail, tail_used = np.empty((_TAIL_ROWS, self.dim), dtype=np.float32), 0
                self.blocks.append(self.tail[:0])
                self.starts.append(start)
            self.tail[tail_used : tail_used + k] = features
            self.blocks[-1] = self.tail[: tail_used + k]
        self.n_rows += k
        self._map(idx, np.arange(start, start + k, dtype=np.int64))

    def block(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        assert self.dim is not None
        which = np.searchsorted(np.asarray(self.starts), rows, side="right") - 1
        if len(rows) and (which == which[0]).all():
            local = rows - self.starts[which[0]]
            data = self.blocks[which[0]]
            return data[local[0] : local[0] + len(local)] if _contiguous(local) else data[local]
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        if _contiguous(rows):  # a run across blocks (a full read): one copy per block, no index arrays
            at = 0
            for b in range(int(which[0]), int(which[-1]) + 1):
                lo = max(int(rows[0]), self.starts[b]) - self.starts[b]
                hi = min(int(rows[-1]) + 1, self.starts[b] + len(self.blocks[b])) - self.starts[b]
                out[at : at + hi - lo] = self.blocks[b][lo:hi]
                at += hi - lo
            return out
        order = np.argsort(which, kind="stable")  # group the rows by block: one gather per block
        bounds = np.flatnonzero(np.diff(which[order])) + 1
        for group in np.split(order, bounds):
            b = int(which[group[0]])
            out[group] = self.blocks[b][rows[group] - self.starts[b]]
        return out

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in self.blocks)

    def remove(self) -> None:
        _MemoryEntry.__init__(self)


class _DiskEntry(_Entry):
    """One key's rows in ``folder`` (see the module docstring for the layout)."""

    def __init__(self, folder: Path, key: list[str]) -> None:
        super().__init__()
        self.folder, self.key = folder, key
        self.manifest: dict[str, Any] | None = None
        self.stamp: tuple[int, int, int] | None = None
        self.indices = np.empty(0, dtype=np.int64)  # dataset index of each committed row
        self.data: np.memmap | None = None
        self.verified: set[tuple[int, ...]] = set()
        folder.mkdir(parents=True, exist_ok=True)
        with self._locked():
            self._load()

    # ---------------------------------------------------------------- files

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.folder / "lock", "a+b") as handle:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            yield

    def _path(self, kind: str) -> Path:
        assert self.manifest is not None
        return self.folder / self.manifest[kind]

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = (self.folder / _MANIFEST).stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _damaged(self, why: str) -> None:
        warnings.warn(
            f"feature cache {self.folder} is damaged ({why}); its rows are dropped and will be encoded again.",
            FeatureCacheWarning,
            stacklevel=4,
        )

    def _fresh_manifest(self) -> dict[str, Any]:
        # New file names: a mapped old file is unlinked, never truncated under a reader.
        gen = secrets.token_hex(8)
        return {
            "format": _FORMAT,
            "key": self.key,
            "dim": None,
            "rows": 0,
            "chunks": [],
            "features": f"features-{gen}.f32",
            "indices": f"indices-{gen}.i64",
        }

    def _valid(self, m: Any) -> str | None:
        """Why manifest ``m`` cannot be trusted, or ``None``."""
        if not isinstance(m, dict) or m.get("format") != _FORMAT:
            return "unknown manifest format"
        if m.get("key") != self.key:
            return f"manifest key {m.get('key')!r} is not {self.key!r}"
        rows, dim, chunks = m.get("rows"), m.get("dim"), m.get("chunks")
        if not isinstance(rows, int) or rows < 0 or not isinstance(chunks, list):
            return "bad row count or chunk list"
        if rows and (not isinstance(dim, int) or dim < 1):
            return "bad feature width"
        for name in ("features", "indices"):
            if not isinstance(m.get(name), str) or not _DATA_NAME.match(m[name]):
                return f"bad {name} file name"
        end = 0
        for chunk in chunks:
            if not (isinstance(chunk, list) and len(chunk) == 4 and all(isinstance(v, int) for v in chunk)):
                return "bad chunk record"
            start, n = chunk[0], chunk[1]
            if start < end or n < 1 or start + n > rows:
                return "chunks overlap or pass the committed rows"
            end = start + n
        if rows:
            sizes = ((m["features"], rows * int(dim or 0) * 4), (m["indices"], rows * 8))
            for name, need in sizes:
                path = self.folder / name
                if not path.is_file() or path.stat().st_size < need:
                    return f"{name} is shorter than its {rows} committed rows (torn or truncated)"
        return None

    def _reset(self) -> None:
        """Remove every file of this key and start empty (under the lock)."""
        for path in self.folder.iterdir():
            if path.name != "lock" and (path.name == _MANIFEST or _DATA_NAME.match(path.name)):
                path.unlink(missing_ok=True)
        self.manifest = self._fresh_manifest()
        self._write_manifest()

    def _write_manifest(self) -> None:
        assert self.manifest is not None
        tmp = self.folder / (_MANIFEST + ".tmp")
        with open(tmp, "w") as handle:
            json.dump(self.manifest, handle)
            handle.flush()
            os.fsync(handle.fileno())
        # Atomic: readers see the old or the new manifest, never half of one.
        tmp.replace(self.folder / _MANIFEST)
        self.stamp = self._stat()

    def _load(self) -> None:
        """(Re)read the manifest and the index file (under the lock); damaged parts are dropped."""
        path = self.folder / _MANIFEST
        manifest: Any = None
        if path.is_file():
            try:
                manifest = json.loads(path.read_text())
            except (OSError, ValueError):
                manifest = "unreadable"
            why = self._valid(manifest)
            if why is not None:
                self._damaged(why)
                manifest = None
        if manifest is None:
            self._clear_state()
            self._reset()
            return
        self.manifest, self.stamp = manifest, self._stat()
        rows, dim = manifest["rows"], manifest["dim"]
        self.dim = dim if rows else None
        self.indices = (
            np.fromfile(self._path("indices"), dtype="<i8", count=rows).astype(np.int64)
            if rows
            else np.empty(0, dtype=np.int64)
        )
        kept = []
        for chunk in manifest["chunks"]:
            start, n, _, crc_indices = chunk
            piece = self.indices[start : start + n]
            if zlib.crc32(np.ascontiguousarray(piece, dtype="<i8").tobytes()) != crc_indices:
                self._damaged(f"index checksum of rows {start}..{start + n - 1}")
            elif piece.min() < 0 or piece.max() >= _MAX_INDEX:
                self._damaged(f"impossible dataset indices in rows {start}..{start + n - 1}")
            else:
                kept.append(chunk)
        if len(kept) != len(manifest["chunks"]):
            manifest["chunks"] = kept
            self._write_manifest()
        self.verified &= {tuple(c[:3]) for c in kept}
        self.data = (
            np.memmap(self._path("features"), dtype="<f4", mode="c", shape=(rows, dim)) if rows else None
        )
        self.row_of, self.count = np.full(0, -1, dtype=np.int64), 0
        for start, n, _, _ in kept:
            self._map(self.indices[start : start + n], np.arange(start, start + n, dtype=np.int64))

    def _clear_state(self) -> None:
        self.dim, self.data, self.verified = None, None, set()
        self.indices = np.empty(0, dtype=np.int64)
        self.row_of, self.count = np.full(0, -1, dtype=np.int64), 0

    def refresh(self) -> None:
        if self._stat() != self.stamp:
            with self._locked():
                self._load()

    # ---------------------------------------------------------------- rows

    def append(self, idx: npt.NDArray[np.int64], features: npt.NDArray[np.float32]) -> None:
        features = np.ascontiguousarray(features, dtype="<f4")
        idx_bytes = np.ascontiguousarray(idx, dtype="<i8")
        with self._locked():
            if self._stat() != self.stamp:
                self._load()  # another writer appended: write after its rows
            self._check_dim(features)
            assert self.manifest is not None
            dim = self.dim = features.shape[1]
            start, k = self.manifest["rows"], len(idx)
            for kind, array, width in (("features", features, dim * 4), ("indices", idx_bytes, 8)):
                path = self._path(kind)
                with open(path, "r+b" if path.exists() else "wb") as handle:
                    # Over any torn bytes a killed append left past the committed end.
                    handle.seek(start * width)
                    handle.write(array.data.cast("B"))
                    handle.flush()
                    os.fsync(handle.fileno())
            chunks = self.manifest["chunks"]
            per_chunk = max(1, _CHUNK_BYTES // (dim * 4))
            offset = 0
            while offset < k:
                last = chunks[-1] if chunks else None
                if last is not None and last[0] + last[1] == start + offset and last[1] < per_chunk:
                    take = min(per_chunk - last[1], k - offset)
                    was_verified = tuple(last[:3]) in self.verified
                    # CRC-32 continues over appended bytes: the chunk's checksum still covers all its rows.
                    last[1] += take
                    last[2] = zlib.crc32(features[offset : offset + take].tobytes(), last[2])
                    last[3] = zlib.crc32(idx_bytes[offset : offset + take].tobytes(), last[3])
                    if was_verified:
                        self.verified.add(tuple(last[:3]))
                else:
                    take = min(per_chunk, k - offset)
                    rows_piece = slice(offset, offset + take)
                    chunk = [
                        start + offset,
                        take,
                        zlib.crc32(features[rows_piece].tobytes()),
                        zlib.crc32(idx_bytes[rows_piece].tobytes()),
                    ]
                    chunks.append(chunk)
                    self.verified.add(tuple(chunk[:3]))
                offset += take
            self.manifest.update(rows=start + k, dim=dim)
            self._write_manifest()
        self.indices = np.concatenate([self.indices, idx_bytes.astype(np.int64)])
        # Mapping the grown file is cheap (pages load on access); earlier views keep their own mapping.
        self.data = np.memmap(self._path("features"), dtype="<f4", mode="c", shape=(start + k, dim))
        self._map(idx.astype(np.int64), np.arange(start, start + k, dtype=np.int64))

    def _chunk_of(self, rows: npt.NDArray[np.int64]) -> tuple[list[list[int]], npt.NDArray[np.int64]]:
        assert self.manifest is not None
        chunks = self.manifest["chunks"]
        starts = np.asarray([c[0] for c in chunks], dtype=np.int64)
        return chunks, np.searchsorted(starts, rows, side="right") - 1

    def check(self, rows: npt.NDArray[np.int64]) -> None:
        if not len(rows) or self.data is None:
            return
        chunks, which = self._chunk_of(rows)
        bad = []
        for c in np.unique(which).tolist():
            chunk = chunks[c]
            if tuple(chunk[:3]) in self.verified:
                continue
            start, n, crc = chunk[0], chunk[1], chunk[2]
            if self._file_crc(start, n) == crc:
                self.verified.add(tuple(chunk[:3]))
            else:
                bad.append(chunk)
        if bad:
            with self._locked():
                if self._stat() != self.stamp:
                    self._load()  # another writer appended: keep its rows in the manifest written here
                assert self.manifest is not None
                self.manifest["chunks"] = [c for c in self.manifest["chunks"] if c not in bad]
                self._write_manifest()
            for chunk in bad:
                self._damaged(f"feature checksum of rows {chunk[0]}..{chunk[0] + chunk[1] - 1}")
                self._unmap_rows(chunk[0], chunk[0] + chunk[1])

    def _file_crc(self, start: int, n: int) -> int | None:
        """CRC-32 of rows ``start..start+n-1`` through the mapping (as fast as reading, and the pages are then
        resident for the read that asked); ``None`` when the file was cut short since it was opened, checked first
        because touching a mapped page past the end of the file would kill the process (SIGBUS)."""
        assert self.dim is not None and self.data is not None
        if self._path("features").stat().st_size < (start + n) * self.dim * 4:
            return None
        return zlib.crc32(self.data[start : start + n].data.cast("B"))

    def block(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        assert self.data is not None
        if _contiguous(rows):
            return self.data[rows[0] : rows[0] + len(rows)]  # a view: nothing is read before it is used
        return np.asarray(self.data[rows])  # only the requested rows are read and copied

    @property
    def nbytes(self) -> int:
        return 0 if self.data is None else int(self.data.nbytes)

    def remove(self) -> None:
        with self._locked():
            self._clear_state()
            self._reset()


class FeatureCache:
    """Image features by (key, dataset-wide index), in memory or memory-mapped in a folder.

    The Trainer's key identifies what produced the features: the classifier's fingerprint (frozen image weights and
    the image processor), the data set's fingerprint, the image column and the autocast precision. Rows are cached
    one by one, so a fit on a grown labeled set only encodes the new rows.

    Parameters
    ----------
    directory : str or Path, optional
        Keep the features on disk here (a session's ``features/`` folder): a later process opening the same folder
        reuses them, appends write only the new rows, and reads map the file instead of loading it. Damaged or torn
        files are detected (sizes, CRC-32 checksums) and their rows encoded again, with a
        :class:`FeatureCacheWarning`. Keys whose data set has no stable fingerprint (a plain list: see
        :func:`dataset_fingerprint`) stay in memory. ``None`` (default) keeps everything in memory.

    Notes
    -----
    :meth:`get` returns a view, without copying, when the requested rows were stored consecutively in that order
    (the usual full-pool read); treat the result as read-only (on disk it is a copy-on-write mapping, so writes never
    reach the file).

    Examples
    --------
    >>> cache = FeatureCache()
    >>> key = ("model", "data")
    >>> cache.missing(key, [3, 1]).tolist()
    [3, 1]
    >>> cache.add(key, [3, 1], torch.tensor([[3.0], [1.0]]))
    >>> cache.missing(key, [1, 2, 3]).tolist()
    [2]
    >>> cache.get(key, [1, 3]).tolist()
    [[1.0], [3.0]]
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        if directory is not None and not isinstance(directory, str | os.PathLike):
            raise ValueError(f"directory must be a path or None, got {directory!r}.")
        self._directory = None if directory is None else Path(directory)
        self._entries: dict[Hashable, _Entry] = {}

    @property
    def directory(self) -> Path | None:
        """Where persistable keys are stored (``None``: memory only)."""
        return self._directory

    def is_persistent(self, key: Hashable) -> bool:
        """Whether rows of ``key`` live on disk (shared with other processes opening the same folder)."""
        return self._directory is not None and _persistable(key) is not None

    def _entry(self, key: Hashable, create: bool) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            parts = _persistable(key) if self._directory is not None else None
            if parts is not None:
                assert self._directory is not None
                name = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]
                folder = self._directory / name
                if not create and not (folder / _MANIFEST).is_file():
                    return None
                entry = _DiskEntry(folder, parts)
            elif not create:
                return None
            else:
                entry = _MemoryEntry()
            self._entries[key] = entry
        entry.refresh()
        return entry

    @staticmethod
    def _indices(indices: npt.ArrayLike) -> npt.NDArray[np.int64]:
        idx = np.asarray(indices)
        if idx.size and not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"indices must be integer dataset indices, got dtype {idx.dtype}.")
        return idx.astype(np.int64).reshape(-1)

    def missing(self, key: Hashable, indices: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """The indices (in the given order) whose features are not cached under ``key`` (rows in a damaged chunk
        count as missing)."""
        idx = self._indices(indices)
        entry = self._entry(key, create=False)
        if entry is None:
            return idx
        rows = entry.rows(idx)
        entry.check(rows[rows >= 0])
        return idx[entry.rows(idx) < 0]

    def add(self, key: Hashable, indices: npt.ArrayLike, features: torch.Tensor | npt.NDArray[Any]) -> None:
        """Store ``features[j]`` for ``indices[j]`` (already cached indices are overwritten); only the new rows are
        written."""
        idx = self._indices(indices)
        array = (
            features.detach().to("cpu", torch.float32).numpy()
            if isinstance(features, torch.Tensor)
            else np.asarray(features, dtype=np.float32)
        )
        if array.ndim != 2 or array.shape[0] != len(idx):
            raise ValueError(
                f"features must be shaped [{len(idx)}, d] for {len(idx)} indices, got {tuple(array.shape)}."
            )
        if (idx < 0).any():
            raise ValueError(
                f"indices must be non-negative dataset indices, got {idx[idx < 0][:5].tolist()}."
            )
        if not len(idx):
            return
        entry = self._entry(key, create=True)
        assert entry is not None
        entry.append(idx, array)

    def get(self, key: Hashable, indices: npt.ArrayLike) -> torch.Tensor:
        """Features ``[N, d]`` of ``indices`` in order; raises ``KeyError`` naming indices that are not
        cached."""
        idx = self._indices(indices)
        entry = self._entry(key, create=False)
        rows = entry.rows(idx) if entry is not None else np.full(len(idx), -1, dtype=np.int64)
        if entry is not None:
            entry.check(rows[rows >= 0])
            rows = entry.rows(idx)
        if entry is None or (rows < 0).any():
            absent = idx[rows < 0]
            raise KeyError(f"dataset indices {absent[:10].tolist()} are not cached under this key")
        if not len(idx):
            return torch.empty(0, entry.dim or 0)
        return torch.from_numpy(entry.block(rows))  # a copy-on-write map is writable: torch does not warn

    def persist(self, directory: str | os.PathLike[str]) -> None:
        """Keep persistable keys in ``directory`` from now on, writing the rows held so far there.

        Rows already in ``directory`` (a resumed session) are not written again. A no-op when the cache already lives
        there.
        """
        target = Path(directory)
        if self._directory is not None and self._directory.resolve() == target.resolve():
            return
        old, self._directory = self._entries, target
        self._entries = {}
        for key, entry in old.items():
            if _persistable(key) is None:
                self._entries[key] = entry  # stays in memory
                continue
            self._entry(key, create=True)
            absent = self.missing(key, np.flatnonzero(entry.row_of >= 0))
            for start in range(0, len(absent), _TAIL_ROWS * 8):  # in pieces: no second full copy in memory
                piece = absent[start : start + _TAIL_ROWS * 8]
                entry.check(entry.rows(piece))  # rows from another folder are verified before they are copied
                rows = entry.rows(piece)
                keep = rows >= 0
                self.add(key, piece[keep], entry.block(rows[keep]))

    def clear(self) -> None:
        """Drop everything (on disk too)."""
        for entry in self._entries.values():
            entry.remove()
        self._entries.clear()

    def __len__(self) -> int:
        """Number of cached rows over all keys opened so far."""
        return sum(e.count for e in self._entries.values())

    @property
    def nbytes(self) -> int:
        """Bytes of cached features (held in memory, or mapped from disk) over the keys opened so far."""
        return sum(e.nbytes for e in self._entries.values())

    def __repr__(self) -> str:
        where = "memory" if self._directory is None else str(self._directory)
        return f"FeatureCache({where}, keys={len(self._entries)}, rows={len(self)}, nbytes={self.nbytes})"
