"""Persistent, append-only store of the labels a person (or an oracle) gave.

A :class:`LabelStore` composes three parts, each in its own module:

- :mod:`alnb.store.log`: the in-memory :class:`LabelLog`, the state machine of actions (label, skip,
  unlabel, undo) and its undo stack, with the exact replay / undo semantics;
- a durable backend (:mod:`alnb.store.backend`: the small :class:`StoreBackend` interface):
  :class:`JsonlFileBackend` (:mod:`alnb.store.jsonl`: append + flush + fsync per action, POSIX lock,
  torn-tail recovery; why JSONL is explained there; the default for one person),
  :class:`~alnb.store.sql.SqlBackend` (:mod:`alnb.store.sql`: SQLite or PostgreSQL through SQLAlchemy, for a
  team: leases, conflicts; opened by passing a URL) or :class:`MemoryBackend` (:mod:`alnb.store.memory`);
  the records are those of :mod:`alnb.store.format`;
- exporters (:mod:`alnb.store.export`): records, CSV, JSON, ``datasets.Dataset``.
"""

from __future__ import annotations

from typing import Any

from alnb._validation import check_class_names
from alnb.store.backend import Lease, StoreBackend
from alnb.store.fingerprint import dataset_fingerprint
from alnb.store.format import FORMAT_VERSION, Header
from alnb.store.jsonl import JsonlFileBackend, TornRecordWarning
from alnb.store.labelstore import LabelStore, is_database_url
from alnb.store.log import Action, ActionType, Conflict, ConflictRule, LabelLog, LabelState
from alnb.store.memory import MemoryBackend

__all__ = [
    "FORMAT_VERSION",
    "Action",
    "ActionType",
    "Conflict",
    "ConflictRule",
    "Header",
    "JsonlFileBackend",
    "LabelLog",
    "LabelState",
    "LabelStore",
    "Lease",
    "MemoryBackend",
    "SqlBackend",
    "StoreBackend",
    "TornRecordWarning",
    "check_class_names",
    "dataset_fingerprint",
    "is_database_url",
]


def __getattr__(name: str) -> Any:
    if name == "SqlBackend":  # SQLAlchemy loads only when a database store is used
        from alnb.store.sql import SqlBackend

        return SqlBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
