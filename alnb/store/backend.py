"""The durable backend interface of a :class:`~alnb.store.LabelStore`.

A backend keeps a header and an ordered list of action records, and feeds them into the store's
:class:`~alnb.store.log.LabelLog`. The store calls, in this order:

1. :meth:`StoreBackend.open` once: create the storage (writing ``header``) or check its header and apply
   every stored action to the log;
2. :meth:`StoreBackend.refresh` before each read: apply what another writer appended since;
3. :meth:`StoreBackend.exclusive` around each change: exclusive access, caught up with other writers;
   inside it the store validates a batch against the log and passes it to :meth:`StoreBackend.write`,
   which stores it all or nothing; it is durable once ``exclusive`` has exited without an error (a file
   backend makes it durable in ``write`` already, a database commits the transaction on exit). The store
   applies the batch to the log only after that.

A backend shared by a team also keeps *leases* (:class:`Lease`: who holds which index until when), read
and written inside :meth:`StoreBackend.exclusive` with :meth:`StoreBackend.read_leases` and
:meth:`StoreBackend.write_leases`; ``write`` drops the leases of the indices it labels or skips. A backend
without leases (the JSONL file: one person) refuses them with a ``ValueError`` saying where to move.

A new backend is one file subclassing :class:`StoreBackend`; ``LabelStore(backend, class_names)`` uses it.
``tests/test_store_backends.py`` runs the same contract over every backend listed there.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from alnb.store.format import Header
from alnb.store.log import Action, LabelLog

__all__ = ["Lease", "StoreBackend"]


@dataclass(frozen=True)
class Lease:
    """An index handed to one opened store (``session``, used by ``annotator``) until ``expires``.

    ``expires`` is a POSIX time in seconds (the clock of the machine that took the lease).
    """

    index: int
    session: str
    annotator: str
    expires: float


class StoreBackend(ABC):
    """Where a :class:`~alnb.store.LabelStore` keeps its records (see the module docstring for the protocol)."""

    @property
    def path(self) -> Path | None:
        """The file the records live in, if there is one."""
        return None

    @abstractmethod
    def describe(self) -> str:
        """A short text naming the storage (for ``repr`` and messages)."""

    @abstractmethod
    def open(self, header: Header, log: LabelLog) -> Header:
        """Create the storage with ``header``, or check its stored header and apply its actions to ``log``.

        Returns the header in force. Raises ``ValueError`` for storage written for other class names or
        another dataset, or holding an invalid record.
        """

    @abstractmethod
    def refresh(self, log: LabelLog) -> None:
        """Apply to ``log`` the actions other writers stored since ``log`` was last brought up to date."""

    @abstractmethod
    def exclusive(self, log: LabelLog) -> AbstractContextManager[None]:
        """A context of exclusive access in which ``log`` is first brought up to date; :meth:`write` needs it."""

    @abstractmethod
    def write(self, batch: Sequence[Action]) -> None:
        """Store ``batch`` (already validated) durably, all or nothing; called only inside :meth:`exclusive`."""

    @property
    def url(self) -> str | None:
        """The database URL, password redacted, for a database backend; ``None`` otherwise."""
        return None

    def saved_location(self, directory: str | os.PathLike[str] | None = None) -> str | None:
        """What a saved session records to reopen this storage, when it is not a plain file path.

        A database gives its URL without password (see :meth:`alnb.store.sql.SqlBackend.saved_url`); file and
        in-memory backends give ``None``.
        """
        return None

    @property
    def has_leases(self) -> bool:
        """Whether this backend keeps leases (:meth:`read_leases` works)."""
        return False

    def read_leases(self) -> dict[int, Lease]:
        """Every lease stored, expired ones included (inside :meth:`exclusive`)."""
        raise ValueError(
            f"the label store {self.describe()} keeps no leases (one person labels it); move it to a shared "
            "database with store.copy_to('sqlite:///labels.db') and open that to hand out batches."
        )

    def write_leases(self, put: Iterable[Lease], drop: Iterable[int]) -> None:
        """Store the leases ``put`` (replacing those of their indices) and delete those of ``drop``.

        Called only inside :meth:`exclusive`.
        """
        self.read_leases()  # refuses for a backend without leases

    def close(self) -> None:
        """Release connections or files held open (a no-op for most backends)."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"
