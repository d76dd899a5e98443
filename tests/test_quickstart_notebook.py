"""notebooks/01_quickstart.ipynb runs top to bottom, offline, and shows what it promises."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_quickstart.ipynb"


@pytest.mark.slow
def test_quickstart_executes_and_reports_rounds(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    env_before = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        NotebookClient(
            notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    finally:
        if env_before is None:
            os.environ.pop("HF_HUB_OFFLINE")
    text = "\n".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )
    assert "round 0 strategy random" in text
    assert text.count("labels: accuracy") == 5  # rounds 1-5 after the first, budget 60 = 6 rounds of 10
    assert "next query identical: True" in text
    images = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(images) == 3  # reliability diagram + two learning-curve figures, each shown once
