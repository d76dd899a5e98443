"""The notebooks run top to bottom, offline, with nbclient; results are checked on disk and in their output.

Each notebook has one cell tagged ``parameters``; the tests inject overrides after it (papermill's
convention) to use a private working folder and, while the shipped model's weights are missing,
conftest's tiny CLIP.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import nbformat
import pytest
from browser.models import notebook_model
from browser.notebooks import NOTEBOOKS, OFFLINE_ENV, with_parameters
from nbclient import NotebookClient


def execute(nb: nbformat.NotebookNode, cwd: Path, timeout: int = 300) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel of this Python, offline, with ``cwd`` as working folder."""
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute(
        env={**os.environ, **OFFLINE_ENV, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    )
    return nb


def stream_text(nb: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.slow
def test_notebook_02_labels_a_folder_and_exports(tmp_path: Path, clip_dir: str) -> None:
    from alnb.datasets import load

    workdir = tmp_path / "work"
    nb = with_parameters(
        NOTEBOOKS / "02_label_your_own_images.ipynb",
        MODEL=notebook_model(clip_dir),
        WORKDIR=str(workdir),
        BATCH_SIZE=5,
        BUDGET=20,
    )
    nb = execute(nb, tmp_path)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []

    # scan_000.png … scan_059.png are the first 60 training digits.
    truth = load("digits")["train"]["label"][:60]
    names = load("digits")["train"].features["label"].names
    with (workdir / "labels.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    # Two batches of 5 by the stand-in person; the first image of the first batch was skipped.
    assert len(rows) == 9
    assert all(int(r["label"]) == truth[int(r["index"])] for r in rows)
    assert all(r["label_name"] == names[int(r["label"])] and r["annotator"] == "human" for r in rows)
    assert sorted(int(r["round"]) for r in rows) == [0] * 4 + [1] * 5

    actions = [json.loads(line) for line in (workdir / "labels.jsonl").read_text().splitlines()[1:]]
    assert [a["type"] for a in actions].count("skip") == 1
    state = json.loads((workdir / "session" / "learner.json").read_text())
    assert [h["num_labeled"] for h in state["history"]] == [4, 9]
    pending = state["pending"]["indices"]
    assert len(pending) == 5 and not set(pending) & {int(r["index"]) for r in rows}

    text = stream_text(nb)
    assert f"resumed at round 2 with 9 labels\nbatch: {pending}" in text
    assert "round 1:  9 labels, accuracy" in text
    # One image of each batch of 5 was drawn at random for the audit estimate, recorded on disk.
    audit = json.loads((workdir / "session" / "audit.json").read_text())["rounds"]
    assert [len(audit[r]) for r in ("0", "1", "2")] == [1, 1, 1]
    assert "(Wilson 95%)" in text and "audit image" in text
