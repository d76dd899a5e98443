"""Exporters of a store's current labels: records (dicts), CSV, JSON and a ``datasets.Dataset``."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alnb.store.log import ConflictRule, LabelLog

if TYPE_CHECKING:
    import datasets

__all__ = ["EXPORT_COLUMNS", "RECORD_FIELDS", "label_records", "to_dataset", "write_csv", "write_json"]

EXPORT_COLUMNS = ("index", "label", "round", "annotator", "time")
RECORD_FIELDS = ("index", "label", "label_name", "round", "annotator", "time")


def label_records(
    log: LabelLog,
    class_names: Sequence[str],
    include_pseudo: bool = False,
    rule: ConflictRule = "latest",
) -> list[dict[str, Any]]:
    """Current labels under ``rule`` as dicts with keys :data:`RECORD_FIELDS`, sorted by index.

    ``round``, ``annotator`` and ``time`` are those of the action that set the label. Pseudo-labels are
    left out unless ``include_pseudo``; then every record also has a boolean ``pseudo`` key.
    """
    records = []
    for i, label, action in log.labeled(rule):
        if action.pseudo and not include_pseudo:
            continue
        record: dict[str, Any] = {
            "index": i,
            "label": label,
            "label_name": class_names[label],
            "round": action.round,
            "annotator": action.annotator,
            "time": action.time,
        }
        if include_pseudo:
            record["pseudo"] = action.pseudo
        records.append(record)
    return records


def _fields(records: list[dict[str, Any]]) -> list[str]:
    return [*RECORD_FIELDS, "pseudo"] if records and "pseudo" in records[0] else list(RECORD_FIELDS)


def write_csv(
    records: list[dict[str, Any]], path: str | os.PathLike[str], include_pseudo: bool = False
) -> Path:
    """Write ``records`` as CSV with a header row (a ``pseudo`` column when ``include_pseudo``); returns the path."""
    out = Path(path)
    with out.open("w", newline="", encoding="utf-8") as f:
        fields = [*RECORD_FIELDS, "pseudo"] if include_pseudo else _fields(records)
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(records)
    return out


def write_json(
    path: str | os.PathLike[str],
    class_names: Sequence[str],
    dataset: str | None,
    records: list[dict[str, Any]],
    skipped: frozenset[int],
) -> Path:
    """Write ``{"class_names", "dataset", "labels": records, "skipped"}`` as JSON; returns the path."""
    out = Path(path)
    payload = {
        "class_names": list(class_names),
        "dataset": dataset,
        "labels": records,
        "skipped": sorted(skipped),
    }
    out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return out


def to_dataset(
    records: list[dict[str, Any]],
    class_names: Sequence[str],
    dataset: datasets.Dataset | None = None,
    columns: Sequence[str] | None = None,
    include_pseudo: bool = False,
) -> datasets.Dataset:
    """``records`` as a ``datasets.Dataset`` (columns :data:`EXPORT_COLUMNS`, ``label`` a ClassLabel, and a
    boolean ``pseudo`` when ``include_pseudo``), plus ``columns`` of the rows ``dataset.select(indices)``
    (by default its ``datasets.Image`` columns).
    """
    import datasets as hf  # heavy import, needed only for this export

    spec = {
        "index": hf.Value("int64"),
        "label": hf.ClassLabel(names=list(class_names)),
        "round": hf.Value("int64"),
        "annotator": hf.Value("string"),
        "time": hf.Value("string"),
    }
    own = list(EXPORT_COLUMNS)
    if include_pseudo:
        spec["pseudo"] = hf.Value("bool")
        own.append("pseudo")
    features = hf.Features(spec)
    table = hf.Dataset.from_dict({k: [r[k] for r in records] for k in own}, features=features)
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
    clash = [c for c in columns if c in own]
    if clash:
        raise ValueError(f"columns {clash} clash with the export's own columns {own}.")
    indices = [r["index"] for r in records]
    if indices and indices[-1] >= len(dataset):
        raise ValueError(f"the store labels index {indices[-1]}, but the dataset has {len(dataset)} rows.")
    if not columns:
        return table
    source = dataset.select(indices).select_columns(columns)
    return hf.concatenate_datasets([table, source], axis=1)
