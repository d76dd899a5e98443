"""The durable backend interface of a :class:`~alnb.store.LabelStore`.

A backend keeps a header and an ordered list of action records, and feeds them into the store's
:class:`~alnb.store.log.LabelLog`. The store calls, in this order:

1. :meth:`StoreBackend.open` once: create the storage (writing ``header``) or check its header and apply
   every stored action to the log;
2. :meth:`StoreBackend.refresh` before each read: apply what another writer appended since;
3. :meth:`StoreBackend.exclusive` around each change: exclusive access, caught up with other writers;
   inside it the store validates a batch against the log and passes it to :meth:`StoreBackend.write`,
   which must store it durably, all or nothing, before returning. The store applies the batch to the log
   only after ``write`` returned.

A new backend is one file subclassing :class:`StoreBackend`; ``LabelStore(backend, class_names)`` uses it.
``tests/test_store_backends.py`` runs the same contract over every backend listed there.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from alnb.store.format import Header
from alnb.store.log import Action, LabelLog

__all__ = ["StoreBackend"]


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

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"
