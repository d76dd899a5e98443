"""Notebook parameters, the papermill way: a cell tagged ``parameters`` holds defaults, and a cell tagged
``injected-parameters`` right after it overrides them (to point a notebook at a test model and folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat

__all__ = ["NOTEBOOKS", "OFFLINE_ENV", "with_parameters"]

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def with_parameters(path: str | Path, **parameters: Any) -> nbformat.NotebookNode:
    """The notebook at ``path`` with an ``injected-parameters`` cell after its ``parameters`` cell.

    Values must be Python literals (their ``repr`` is written into the cell).
    """
    nb = nbformat.read(str(path), as_version=4)
    positions = [i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(positions) != 1:
        raise ValueError(f"{path} must have exactly one cell tagged 'parameters', found {len(positions)}.")
    source = "# Injected by the tests: overrides the parameters above.\n" + "\n".join(
        f"{name} = {value!r}" for name, value in parameters.items()
    )
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    cell["id"] = "injected-parameters"
    nb.cells.insert(positions[0] + 1, cell)
    return nb


#: Environment of every notebook kernel in the tests: nothing may be downloaded.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
