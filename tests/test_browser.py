"""Notebook 02 in a real JupyterLab, in headless Chromium: run all cells, label a batch by clicking the
widget's buttons in the page, submit, and check the labels on disk and the report in the page.

A screenshot of the session widget goes to ``artifacts/browser_notebook_02.png`` (gitignored). The test
skips, with the reason, only when Debian's Chromium is not installed (``.ci/browser-deps.sh`` installs it).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from browser.jupyter import CHROMIUM, CHROMIUM_ARGS, chromium_missing_reason, copy_artifact, jupyterlab
from browser.models import notebook_model
from browser.notebooks import NOTEBOOKS, OFFLINE_ENV, with_parameters

pytestmark = [pytest.mark.browser, pytest.mark.slow]


# About 50 s on an idle 2-core machine; the generous limits only absorb a busy machine.
@pytest.mark.timeout(600)
def test_label_a_batch_in_jupyterlab(tmp_path: Path, clip_dir: str) -> None:
    reason = chromium_missing_reason()
    if reason is not None:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    from alnb.datasets import load

    train = load("digits")["train"]
    truth, names = train["label"][:60], train.features["label"].names  # scan_000.png … are these digits
    root, workdir = tmp_path / "root", tmp_path / "work"
    root.mkdir()
    notebook = with_parameters(
        NOTEBOOKS / "02_label_your_own_images.ipynb", MODEL=notebook_model(clip_dir), WORKDIR=str(workdir)
    )
    nbformat.write(notebook, str(root / "02.ipynb"))
    env = {**OFFLINE_ENV, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    shot = tmp_path / "session.png"

    with jupyterlab(root, tmp_path / "jupyter", env=env) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 2200})
            page.set_default_timeout(120_000)
            page.goto(f"{url}/lab/tree/02.ipynb")
            idle = page.locator(".jp-StatusBar-Widget", has_text="| Idle")
            idle.first.wait_for()  # the kernel is connected (the toolbar indicator says idle before that)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.get_by_text("resumed at round 2").wait_for(timeout=360_000)
            idle.first.wait_for()

            session = page.locator(".alnb-session").first
            session.get_by_text("Round 2:").wait_for()  # the stand-in person labeled rounds 0 and 1
            tiles = session.locator(".alnb-tile")
            assert tiles.count() == 5
            clicked: dict[int, int] = {}
            for k in range(5):
                tile = tiles.nth(k)
                select = tile.locator("button").first
                index = int(select.inner_text().strip().lstrip("#"))
                select.click()
                name = names[truth[index]]
                session.locator(
                    ".alnb-class-button", has_text=re.compile(rf"^\s*{re.escape(name)}\s*$")
                ).click()
                tile.get_by_text(f"✓ {name}").wait_for()  # the kernel wrote it and the page shows it
                clicked[index] = truth[index]
            session.get_by_text("5 / 5 labeled in this batch").wait_for()
            session.screenshot(path=str(tmp_path / "labeled.png"))
            session.get_by_role("button", name="Submit batch").click()
            session.locator(".alnb-summary", has_text="After round 2: 14 labels").wait_for(timeout=240_000)
            session.get_by_text("Round 3:").wait_for()
            idle.first.wait_for()
            session.screenshot(path=str(shot))
        finally:
            browser.close()

    lines = (workdir / "labels.jsonl").read_text(encoding="utf-8").splitlines()
    actions = [json.loads(line) for line in lines[1:]]
    in_round_2 = {a["index"]: a["label"] for a in actions if a["round"] == 2 and a["type"] == "label"}
    assert in_round_2 == clicked
    state = json.loads((workdir / "session" / "learner.json").read_text())
    assert [h["num_labeled"] for h in state["history"]] == [4, 9, 14]
    copy_artifact(tmp_path / "labeled.png", "browser_notebook_02_labeled.png")
    artifact = copy_artifact(shot, "browser_notebook_02.png")
    assert artifact.stat().st_size > 10_000
