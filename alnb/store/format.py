"""The record format (version 1) shared by every backend: the header, action records and their checks.

The first record is a header::

    {"type": "header", "version": 1, "class_names": [...], "dataset": "<fingerprint>" | null,
     "created": "<iso time>"}

Every following record is one action::

    {"type": "label" | "skip" | "unlabel" | "undo", "index": int, "label": int | null,
     "round": int, "annotator": str, "time": "<iso time>"}

with two optional keys, written only when set (records without them read as before): ``"pseudo": true``
for a label a model gave, and ``"session": "<id>"``, the opened store that wrote the action (undo is
scoped to it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from alnb.store._args import is_int
from alnb.store.log import ACTION_TYPES, Action

__all__ = ["FORMAT_VERSION", "Header", "action_from_record", "check_header", "encode_record"]

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Header:
    """What a store's records were written for: class names, dataset fingerprint, creation time."""

    class_names: tuple[str, ...]
    dataset: str | None
    created: str

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready header record, keys in file order."""
        return {
            "type": "header",
            "version": FORMAT_VERSION,
            "class_names": list(self.class_names),
            "dataset": self.dataset,
            "created": self.created,
        }


def encode_record(record: dict[str, Any]) -> bytes:
    """One record as a JSONL line (UTF-8, newline-terminated)."""
    return (json.dumps(record) + "\n").encode("utf-8")


def check_header(record: dict[str, Any], expected: Header, where: str, line_no: int = 1) -> Header:
    """Check a stored header against what the caller passed; returns the header in force.

    The caller's dataset fingerprint wins when given; otherwise the stored one is adopted. Raises
    ``ValueError`` naming ``where`` for another format, other class names or another dataset.
    """
    if record.get("type") != "header":
        raise ValueError(f"{where}: line {line_no} must be the header, got {record!r}; not a label store?")
    if record.get("version") != FORMAT_VERSION:
        raise ValueError(
            f"{where}: label store version {record.get('version')!r} is unsupported, expected {FORMAT_VERSION}."
        )
    names = record.get("class_names")
    if not isinstance(names, list) or tuple(names) != expected.class_names:
        raise ValueError(
            f"{where} was written for class_names {names!r}, but class_names "
            f"{list(expected.class_names)!r} were passed; pass the same names in the same order, "
            "or use another path."
        )
    stored = record.get("dataset")
    if stored is not None and expected.dataset is not None and stored != expected.dataset:
        raise ValueError(
            f"{where} was written for the dataset with fingerprint {stored!r}, but "
            f"dataset_fingerprint {expected.dataset!r} was passed: its indices refer to another "
            "dataset. Use another path, or pass dataset_fingerprint=None to skip this check."
        )
    dataset = stored if expected.dataset is None else expected.dataset
    return Header(expected.class_names, dataset, str(record.get("created", expected.created)))


def action_from_record(record: dict[str, Any], num_classes: int) -> Action:
    """The :class:`Action` of one record, every field checked (``ValueError`` naming the field)."""
    kind = record.get("type")
    if kind not in ACTION_TYPES:
        raise ValueError(f"type is {kind!r}, expected one of {list(ACTION_TYPES)}")
    index: Any = record.get("index")
    label: Any = record.get("label")
    rnd: Any = record.get("round")
    annotator, time = record.get("annotator"), record.get("time")
    if not is_int(index) or index < 0:
        raise ValueError(f"index is {index!r}, expected a non-negative integer")
    if kind == "label" and (not is_int(label) or not 0 <= label < num_classes):
        raise ValueError(f"label is {label!r}, expected a class id in [0, {num_classes})")
    if kind in ("skip", "unlabel") and label is not None:
        raise ValueError(f"label is {label!r}, expected null in a {kind} record")
    if kind == "undo" and label is not None and not is_int(label):
        raise ValueError(f"label is {label!r}, expected an integer or null")
    if not is_int(rnd) or rnd < 0:
        raise ValueError(f"round is {rnd!r}, expected a non-negative integer")
    if not isinstance(annotator, str) or not isinstance(time, str):
        raise ValueError(f"annotator and time must be strings, got {annotator!r} and {time!r}")
    pseudo, session = record.get("pseudo", False), record.get("session")
    if not isinstance(pseudo, bool) or (pseudo and kind != "label"):
        raise ValueError(f"pseudo is {pseudo!r}, expected true (in a label record only) or absent")
    if session is not None and (not isinstance(session, str) or not session):
        raise ValueError(f"session is {session!r}, expected a non-empty string or absent")
    label_id = None if label is None else int(label)
    return Action(kind, int(index), label_id, int(rnd), annotator, time, pseudo, session)
