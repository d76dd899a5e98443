"""The documentation site builds offline with warnings as errors, and every page it promises is there.

The build executes teaching notebooks 03–06 (myst-nb), so this is also where they run in CI, once: each must succeed
within its time, show its final figure and print its conclusion. Each notebook's run time is printed in the test
report. Internal links (files and #anchors) of the built HTML are checked here too.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TEACHING = (
    "03_does_calibration_help",
    "04_prompts_or_lora",
    "05_peal_linear_or_lora",
    "06_when_does_active_learning_beat_random",
)
#: Executed by the docs build (and only there in CI): the quickstart and the teaching notebooks.
EXECUTED = ("01_quickstart", *TEACHING)
#: Each notebook's limit on 2 CPU cores (the issue's "under 3 minutes").
NOTEBOOK_SECONDS = 180
API_MODULES = ("alnb.pool", "alnb.store", "alnb.strategies", "alnb.learner", "alnb.studies", "alnb.metrics")


class _Links(HTMLParser):
    """Collects ids, and href / src attributes, of one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if value and ((name == "href" and tag == "a") or (name == "src" and tag == "img")):
                self.links.append(value)


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built once, as ``make docs`` builds it, into a fresh folder (so every notebook executes)."""
    out = tmp_path_factory.mktemp("docs") / "html"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert result.returncode == 0, f"sphinx-build failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
    return out


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_notebooks_execute_in_time_and_answer_with_a_figure(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = json.loads((site / "notebook_runs.json").read_text())
    for name in EXECUTED:
        run = runs[f"notebooks/{name}"]
        line = f"docs build: notebook {name} ran in {run['runtime']:.1f} s ({run['method']})"
        with capsys.disabled():  # the run times belong in every test log, passing or not
            print(f"\n{line}", end="")
        assert run["succeeded"] and not run["error"], f"{name}: {run['error']}"
        assert run["runtime"] < NOTEBOOK_SECONDS, line
        html = (site / "notebooks" / f"{name}.html").read_text(encoding="utf-8")
        assert "Traceback" not in html and 'class="output error' not in html
        if name not in TEACHING:
            continue
        # The final figure comes after the "The answer" section and before the conclusion printed from the run.
        answer = html.index('id="the-answer"')
        figures = [m.start() for m in re.finditer(r'<img [^>]*src="\.\./_images/[^"]+\.png"', html)]
        assert any(position > answer for position in figures), f"{name}: no figure after 'The answer'"
        assert "On this run" in html[answer:]
        assert "notebook ran in" in html


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_quickstart_page_shows_its_rounds_figures_and_the_resumed_query(site: Path) -> None:
    """notebooks/01_quickstart.ipynb ran top to bottom, offline, in the build, and its page shows what it promises."""
    html = (site / "notebooks" / "01_quickstart.html").read_text(encoding="utf-8")
    assert "round 0 strategy random" in html
    # Printed outputs only (the cell's source holds the f-string too): rounds 1-5 after the first, budget 60.
    assert len(re.findall(r"\d+ labels: accuracy \d\.\d+", html)) == 5
    assert "next query identical: True" in html
    figures = re.findall(r'<img [^>]*src="\.\./_images/[^"]+\.png"', html)
    assert len(figures) == 3  # reliability diagram + two learning-curve figures, each shown once


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_site_has_every_page_and_its_internal_links_resolve(site: Path) -> None:
    pages = [
        "index",
        "getting_started",
        "concepts/index",
        "concepts/pool",
        "concepts/store",
        "concepts/strategies",
        "concepts/adapters",
        "concepts/calibration",
        "concepts/loop",
        "tutorials",
        "studies",
        "studies/cpeal/report",
        "studies/peal/report",
        "studies/prompt-vs-lora/report",
        "notebooks/01_quickstart",
        "api",
        *(f"api/{module}" for module in API_MODULES),
    ]
    for page in pages:
        assert (site / f"{page}.html").is_file(), page
    # The API reference is generated from the docstrings, parameters and all.
    pool_api = (site / "api" / "alnb.pool.html").read_text(encoding="utf-8")
    assert 'id="alnb.pool.Pool"' in pool_api and "Parameters" in pool_api
    # The run-time table of the tutorials page lists every executed notebook.
    tutorials = (site / "tutorials.html").read_text(encoding="utf-8")
    assert all(name in tutorials for name in EXECUTED)

    parsed: dict[Path, _Links] = {}
    broken = []
    for page in sorted(site.rglob("*.html")):
        if page.relative_to(site).parts[0] in {"_static", "_sources", "_modules"}:
            continue
        for link in _parse(page).links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith("mailto:"):
                continue  # external: not checked (offline)
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{page.relative_to(site)}: {link}")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = parsed.setdefault(target, _parse(target)).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{page.relative_to(site)}: {link} (no such anchor)")
    assert broken == []


def test_teaching_notebooks_are_what_the_generator_writes() -> None:
    """Notebooks 03–06 are generated code: stored without outputs, exactly as the script writes them, one
    ``parameters`` cell each (so a runner can shrink or grow them)."""
    import importlib.util

    import nbformat

    spec = importlib.util.spec_from_file_location("make_teaching_notebooks", ROOT / "scripts/make_teaching_notebooks.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert sorted(generator.NOTEBOOK_CELLS) == sorted(f"{name}.ipynb" for name in TEACHING)
    for name, cells in generator.NOTEBOOK_CELLS.items():
        stored = nbformat.read(ROOT / "notebooks" / name, as_version=4)
        assert [c.source for c in stored.cells] == [c.source for c in cells], f"{name}: rerun the generator"
        assert all(not c.get("outputs") for c in stored.cells if c.cell_type == "code"), name
        tagged = [c for c in stored.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, name
        assert stored.cells[-1].source.startswith("print(f'notebook ran in"), name
