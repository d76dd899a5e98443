"""Sphinx configuration of alnb's documentation site (``make docs`` → ``build/docs``).

Pages are MyST Markdown; the teaching notebooks are copied from ``notebooks/`` into ``docs/notebooks/`` (generated,
git-ignored) and executed at build time by myst-nb, offline; the API reference is generated from the numpydoc
docstrings by autosummary + napoleon. Warnings are errors (``-W``), so a broken internal link fails the build.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from sphinx.application import Sphinx

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

# Nothing may be downloaded while the notebooks run or the API is imported.
for _name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ.setdefault(_name, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

#: Notebooks the docs build executes. 01 and 02 are executed by their own tests (02 needs a stand-in person and a
#: folder of images), so the site shows them as stored, to keep every notebook executed once in CI.
EXECUTED = (
    "01_quickstart",
    "03_does_calibration_help",
    "04_prompts_or_lora",
    "05_peal_linear_or_lora",
    "06_when_does_active_learning_beat_random",
)


def _copy_notebooks() -> None:
    """Mirror notebooks/*.ipynb into docs/notebooks/ (Sphinx reads sources only below its own folder)."""
    target = DOCS / "notebooks"
    target.mkdir(exist_ok=True)
    sources = {p.name: p for p in sorted((ROOT / "notebooks").glob("*.ipynb"))}
    for stale in target.glob("*.ipynb"):
        if stale.name not in sources:
            stale.unlink()
    for name, source in sources.items():
        copy = target / name
        # Copy only on change: a fresh mtime would make myst-nb's cache re-execute an unchanged notebook.
        if not copy.is_file() or copy.read_bytes() != source.read_bytes():
            shutil.copyfile(source, copy)


_copy_notebooks()

project = "alnb"
author = "alnb contributors"
copyright = "alnb contributors"
release = "0.2.0.dev"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "studies/*/histories.json", "studies/*/summary.json"]
templates_path = ["_templates"]
root_doc = "index"

# MyST: heading anchors so that links to a section of a page (page.md#section) are checked too.
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath", "colon_fence"]

# myst-nb: execute at build time, offline; an error in a notebook fails the build.
nb_execution_mode = "cache"
nb_execution_excludepatterns = [
    f"notebooks/{p.stem}.ipynb"
    for p in sorted((ROOT / "notebooks").glob("*.ipynb"))
    if p.stem not in EXECUTED
]
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

# API reference: numpydoc-style docstrings through napoleon; members follow each module's __all__.
autosummary_generate = True
autosummary_ignore_module_all = False
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "description"
autodoc_member_order = "bysource"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

html_theme = "furo"
html_title = "alnb"
html_static_path: list[str] = []


def _write_run_times(app: Sphinx, exception: Exception | None) -> None:
    """Record each executed notebook's run time and status in ``notebook_runs.json`` beside the HTML."""
    if exception is not None:
        return
    metadata = getattr(app.env, "nb_metadata", {})
    runs = {
        docname: {key: data.get(key) for key in ("runtime", "method", "succeeded", "error")}
        for docname, doc in sorted(metadata.items())
        if (data := doc.get("exec_data"))
    }
    Path(app.outdir, "notebook_runs.json").write_text(json.dumps(runs, indent=1))


def setup(app: Sphinx) -> None:
    """Sphinx's entry point for this project's own hooks."""
    app.connect("build-finished", _write_run_times)
