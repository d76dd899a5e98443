"""Exporters of a store's current labels: records (dicts), CSV, JSON and a ``datasets.Dataset``."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alnb.store.log import LabelLog

if TYPE_CHECKING:
    import datasets

__all__ = ["EXPORT_COLUMNS", "RECORD_FIELDS", "label_records", "to_dataset", "write_csv", "write_json"]

EXPORT_COLUMNS = ("index", "label", "round", "annotator", "time")
RECORD_FIELDS = ("index", "label", "label_name", "round", "annotator", "time")


def label_records(log: LabelLog, class_names: Sequence[str]) -> list[dict[str, Any]]:
    """Current labels as dicts with keys :data:`RECORD_FIELDS`, sorted by index.

    ``round``, ``annotator`` and ``time`` are those of the action that set the label.
    """
    return [
        {
            "index": i,
            "label": label,
            "label_name": class_names[label],
            "round": action.round,
            "annotator": action.annotator,
            "time": action.time,
        }
        for i, label, action in log.labeled()
    ]


def write_csv(records: list[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write ``records`` as CSV with a header row; returns the path."""
    out = Path(path)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(RECORD_FIELDS))
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
) -> datasets.Dataset:
    """``records`` as a ``datasets.Dataset`` (columns :data:`EXPORT_COLUMNS`, ``label`` a ClassLabel),
    plus ``columns`` of the rows ``dataset.select(indices)`` (by default its ``datasets.Image`` columns).
    """
    import datasets as hf  # heavy import, needed only for this export

    features = hf.Features(
        {
            "index": hf.Value("int64"),
            "label": hf.ClassLabel(names=list(class_names)),
            "round": hf.Value("int64"),
            "annotator": hf.Value("string"),
            "time": hf.Value("string"),
        }
    )
    table = hf.Dataset.from_dict({k: [r[k] for r in records] for k in EXPORT_COLUMNS}, features=features)
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
    clash = [c for c in columns if c in EXPORT_COLUMNS]
    if clash:
        raise ValueError(f"columns {clash} clash with the export's own columns {list(EXPORT_COLUMNS)}.")
    indices = [r["index"] for r in records]
    if indices and indices[-1] >= len(dataset):
        raise ValueError(f"the store labels index {indices[-1]}, but the dataset has {len(dataset)} rows.")
    if not columns:
        return table
    source = dataset.select(indices).select_columns(columns)
    return hf.concatenate_datasets([table, source], axis=1)
