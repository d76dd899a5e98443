"""The in-memory backend: records kept in a Python list (simulations with an oracle; nothing touches disk)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence

from alnb.store.backend import Lease, StoreBackend
from alnb.store.format import Header, check_header
from alnb.store.log import Action, LabelLog

__all__ = ["MemoryBackend"]


class MemoryBackend(StoreBackend):
    """Keeps the header and the actions in memory, for as long as the object lives.

    Several stores opened on one ``MemoryBackend`` see each other's actions, like stores on one file.

    Examples
    --------
    >>> from alnb.store import LabelStore
    >>> backend = MemoryBackend()
    >>> _ = LabelStore(backend, ["cat", "dog"]).label(3, 1)
    >>> LabelStore(backend, ["cat", "dog"]).labels
    {3: 1}
    """

    def __init__(self) -> None:
        self._header: Header | None = None
        self._actions: list[Action] = []
        self._leases: dict[int, Lease] = {}
        self._writable = False

    def describe(self) -> str:
        return "in memory"

    def open(self, header: Header, log: LabelLog) -> Header:
        if self._header is None:
            self._header = header
            return header
        in_force = check_header(self._header.to_record(), header, "the in-memory store")
        self.refresh(log)
        return in_force

    def refresh(self, log: LabelLog) -> None:
        # Every action of a log fed by this backend came from this list, in order.
        for action in self._actions[len(log) :]:
            log.apply(action)

    @contextlib.contextmanager
    def exclusive(self, log: LabelLog) -> Iterator[None]:
        self.refresh(log)
        self._writable = True
        try:
            yield
        finally:
            self._writable = False

    def write(self, batch: Sequence[Action]) -> None:
        if not self._writable:
            raise RuntimeError("MemoryBackend.write is only allowed inside exclusive().")
        self._actions.extend(batch)
        for a in batch:
            if a.type in ("label", "skip"):
                self._leases.pop(a.index, None)

    @property
    def has_leases(self) -> bool:
        return True

    def read_leases(self) -> dict[int, Lease]:
        return dict(self._leases)

    def write_leases(self, put: Iterable[Lease], drop: Iterable[int]) -> None:
        if not self._writable:
            raise RuntimeError("MemoryBackend.write_leases is only allowed inside exclusive().")
        for i in drop:
            self._leases.pop(i, None)
        for lease in put:
            self._leases[lease.index] = lease
