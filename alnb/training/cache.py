"""Per-row cache of frozen image features, shared by ``fit`` and ``predict``."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import torch

__all__ = ["FeatureCache", "dataset_fingerprint"]


def dataset_fingerprint(dataset: object) -> str:
    """``dataset._fingerprint`` for a ``datasets.Dataset`` (it changes whenever the data does); otherwise the
    object identity, so a list or torch dataset is only recognised as long as the same object is passed."""
    fingerprint = getattr(dataset, "_fingerprint", None)
    if isinstance(fingerprint, str) and fingerprint:
        return fingerprint
    return f"object-{id(dataset)}-{len(dataset)}"  # type: ignore[arg-type]


@dataclass
class _Entry:
    rows: dict[int, int] = field(default_factory=dict)
    chunks: list[torch.Tensor] = field(default_factory=list)
    data: torch.Tensor | None = None

    def matrix(self) -> torch.Tensor:
        if self.chunks:
            parts = ([self.data] if self.data is not None else []) + self.chunks
            self.data, self.chunks = torch.cat(parts), []
        assert self.data is not None
        return self.data


class FeatureCache:
    """Image features by (key, dataset-wide index), stored on the CPU.

    The key identifies what produced the features: ``(classifier.fingerprint(),
    dataset_fingerprint(dataset))``. Rows are cached one by one, so a fit on a grown labeled set only encodes
    the new rows.

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

    def __init__(self) -> None:
        self._entries: dict[Hashable, _Entry] = {}

    def missing(self, key: Hashable, indices: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """The indices (in the given order) whose features are not cached under ``key``."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        entry = self._entries.get(key)
        if entry is None:
            return idx
        return idx[np.fromiter((int(i) not in entry.rows for i in idx), dtype=bool, count=len(idx))]

    def add(self, key: Hashable, indices: npt.ArrayLike, features: torch.Tensor) -> None:
        """Store ``features[j]`` for ``indices[j]`` (already cached indices are overwritten)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if features.ndim != 2 or features.shape[0] != len(idx):
            raise ValueError(
                f"features must be shaped [{len(idx)}, d] for {len(idx)} indices, "
                f"got {tuple(features.shape)}."
            )
        entry = self._entries.setdefault(key, _Entry())
        start = sum(len(c) for c in entry.chunks) + (0 if entry.data is None else len(entry.data))
        entry.chunks.append(features.detach().to("cpu", torch.float32))
        for offset, i in enumerate(idx.tolist()):
            entry.rows[i] = start + offset

    def get(self, key: Hashable, indices: npt.ArrayLike) -> torch.Tensor:
        """Features ``[N, d]`` of ``indices`` in order; raises ``KeyError`` naming indices that are not
        cached."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        entry = self._entries.get(key)
        absent = self.missing(key, idx)
        if entry is None or len(absent):
            raise KeyError(f"dataset indices {absent[:10].tolist()} are not cached under this key")
        rows = torch.as_tensor([entry.rows[int(i)] for i in idx], dtype=torch.long)
        return entry.matrix()[rows]

    def clear(self) -> None:
        """Drop everything."""
        self._entries.clear()

    def __len__(self) -> int:
        """Number of cached rows over all keys."""
        return sum(len(e.rows) for e in self._entries.values())

    @property
    def nbytes(self) -> int:
        """Memory held by the cached features."""
        total = 0
        for entry in self._entries.values():
            for tensor in ([entry.data] if entry.data is not None else []) + entry.chunks:
                total += tensor.numel() * tensor.element_size()
        return total

    def __repr__(self) -> str:
        return f"FeatureCache(keys={len(self._entries)}, rows={len(self)}, nbytes={self.nbytes})"
