"""Notebook 02 in a real JupyterLab 4, in headless Chromium: run all cells, then label a batch in the page,
two images by clicking buttons and the rest by keyboard only, submit with Enter, run a code cell while the model
retrains in the background, and check the label file, the history and the report in the page.

Screenshots of every state go to ``runs/browser-artifacts/`` (gitignored). The test skips, with the reason,
only when Debian's Chromium is not installed (``.ci/browser-deps.sh`` installs it).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from browser.jupyter import CHROMIUM, CHROMIUM_ARGS, artifact_dir, chromium_missing_reason, jupyterlab
from browser.models import notebook_model
from browser.notebooks import NOTEBOOKS, OFFLINE_ENV, with_parameters

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: Cells the test appends: slower fits (so a cell can run during one), and a probe cell run mid-fit.
SLOW_FITS = (
    "import dataclasses\n"
    "session.learner.trainer.config = dataclasses.replace(session.learner.trainer.config, epochs=250)\n"
    "print('slow fits')"
)
PROBE = "print(f'probe: busy={session.busy} fits={len(session.fit_log)}')"


def key_of(name: str, names: list[str]) -> str:
    return "1234567890"[names.index(name)]


# About 60-80 s on an idle 2-core machine; the generous limit only absorbs a busy machine.
@pytest.mark.timeout(600)
def test_label_by_keyboard_in_jupyterlab_while_the_model_trains(tmp_path: Path, clip_dir: str) -> None:
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
        NOTEBOOKS / "02_label_your_own_images.ipynb",
        MODEL=notebook_model(clip_dir),
        WORKDIR=str(workdir),
        BATCH_SIZE=5,
        BUDGET=20,
    )
    notebook.cells.append(nbformat.v4.new_code_cell(SLOW_FITS))
    notebook.cells.append(nbformat.v4.new_code_cell(PROBE))
    n_cells = len(notebook.cells)
    nbformat.write(notebook, str(root / "02.ipynb"))
    env = {**OFFLINE_ENV, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    shots = artifact_dir("notebook_02")

    with jupyterlab(root, tmp_path / "jupyter", env=env) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 2400})
            page.set_default_timeout(120_000)
            page.goto(f"{url}/lab/tree/02.ipynb")
            idle = page.locator(".jp-StatusBar-Widget", has_text="| Idle")
            idle.first.wait_for()  # the kernel is connected (the toolbar indicator says idle before that)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.get_by_text("probe: busy=False fits=2").wait_for(timeout=360_000)
            idle.first.wait_for()

            session = page.locator(".alnb-session").first
            session.get_by_text("Round 2:").wait_for()  # the stand-in person labeled rounds 0 and 1
            tiles = session.locator(".alnb-tile")
            assert tiles.count() == 5
            session.screenshot(path=str(shots / "1_batch_shown.png"))
            indices = [
                int(tiles.nth(k).locator("button").first.inner_text().strip().lstrip("#")) for k in range(5)
            ]
            audit = [k for k in range(5) if "audit" in tiles.nth(k).inner_text()]
            assert len(audit) == 1  # one image of five drawn at random, marked on its tile

            # Keys do nothing while the widget does not have focus: "s" (skip) goes to JupyterLab instead.
            page.locator(".jp-Cell").first.click()
            page.keyboard.press("Escape")
            page.keyboard.press("s")
            before = (workdir / "labels.jsonl").read_text(encoding="utf-8")

            # Two images by clicking buttons (they work without the keyboard) ...
            clicked: dict[int, int] = {}
            for k in range(2):
                name = names[truth[indices[k]]]
                tiles.nth(k).locator("button").first.click()
                session.locator(
                    ".alnb-class-button", has_text=re.compile(rf"·\s*{re.escape(name)}\s*$")
                ).click()
                tiles.nth(k).get_by_text(f"✓ {name}").wait_for()
                clicked[indices[k]] = truth[indices[k]]
            # ... then the rest by keyboard only: the widget has focus now (the last click was inside it).
            session.get_by_text("keys on").wait_for()
            session.screenshot(path=str(shots / "2_keys_on.png"))
            for k in range(2, 5):
                name = names[truth[indices[k]]]
                page.keyboard.press(key_of(name, list(names)))
                tiles.nth(k).get_by_text(f"✓ {name}").wait_for()
                clicked[indices[k]] = truth[indices[k]]
            session.get_by_text("5 / 5 labeled in this batch").wait_for()
            latencies = page.evaluate("window.alnbKeyLatencies")
            assert len(latencies) == 3 and max(latencies) < 5_000
            # No key reached JupyterLab's command mode: no cell was added ("a"), none became a heading ("1").
            assert page.locator(".jp-Notebook .jp-Cell").count() == n_cells
            assert page.locator(".jp-Notebook .jp-MarkdownCell").count() == sum(
                c.cell_type == "markdown" for c in notebook.cells
            )
            session.screenshot(path=str(shots / "3_labeled.png"))

            page.keyboard.press("Enter")  # submit: the model retrains in the background
            session.locator(".alnb-training").wait_for()
            # The kernel is free while the model trains: a code cell runs and sees the fit in progress.
            page.locator(".jp-Cell").last.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Shift+Enter")
            page.get_by_text("probe: busy=True fits=3").wait_for(timeout=60_000)
            session.screenshot(path=str(shots / "4_training.png"))
            session.locator(".alnb-summary", has_text="After round 2: 14 labels").wait_for(timeout=240_000)
            session.get_by_text("Round 3:").wait_for()
            idle.first.wait_for()
            session.locator(".alnb-audit-summary", has_text="Wilson").wait_for()
            session.screenshot(path=str(shots / "5_after_round.png"))
        finally:
            browser.close()

    assert (workdir / "labels.jsonl").read_text(encoding="utf-8").startswith(before)
    lines = (workdir / "labels.jsonl").read_text(encoding="utf-8").splitlines()
    actions = [json.loads(line) for line in lines[1:]]
    in_round_2 = {a["index"]: a["label"] for a in actions if a["round"] == 2 and a["type"] == "label"}
    assert in_round_2 == clicked
    assert not [
        a for a in actions if a["type"] == "skip" and a["round"] == 2
    ]  # the unfocused "s" did nothing
    state = json.loads((workdir / "session" / "learner.json").read_text())
    assert [h["num_labeled"] for h in state["history"]] == [4, 9, 14]
    assert (shots / "5_after_round.png").stat().st_size > 10_000
