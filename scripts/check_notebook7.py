"""Check the labeling widget's keyboard in Jupyter Notebook 7 (headless Chromium), the way the browser test checks
JupyterLab 4: run a small session, click the widget once, label three images by keys, submit with Enter, and
check the label file and that no command-mode shortcut fired (the cell count is unchanged).

Notebook 7 is not a dependency of alnb: install it first (``pip install "notebook>=7"``, or point
``PYTHONPATH`` at a folder holding it). Run: ``python scripts/check_notebook7.py``; it prints PASS or the failure.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser.jupyter import CHROMIUM, CHROMIUM_ARGS, chromium_missing_reason  # noqa: E402
from browser.notebooks import OFFLINE_ENV  # noqa: E402

SETUP = """
from pathlib import Path
import datasets, transformers
from alnb.datasets import image_folder, load
from alnb.embedded import DEFAULT_MODEL
from alnb.learner import ActiveLearner
from alnb.models import load_classifier
from alnb.pool import Pool
from alnb.training import Trainer, TrainerConfig
from alnb.widgets import ActiveLearningSession
datasets.disable_progress_bars(); transformers.utils.logging.disable_progress_bar()
workdir = Path({workdir!r})
digits = load("digits")["train"]
names = digits.features["label"].names
folder = workdir / "images"; folder.mkdir(parents=True, exist_ok=True)
for i, row in enumerate(digits.select(range(40))):
    row["image"].save(folder / f"scan_{{i:03d}}.png")
images = image_folder(folder)
pool = Pool.from_file(workdir / "labels.jsonl", images, names)
learner = ActiveLearner(load_classifier(DEFAULT_MODEL, names), pool,
                        Trainer(TrainerConfig(epochs=2, warmup_epochs=0, quiet=True)), budget=20, seed=0)
session = ActiveLearningSession(learner, save_dir=workdir / "session", batch_size=3, audit_share=0).start()
"""


def main() -> None:
    reason = chromium_missing_reason()
    if reason is not None:
        sys.exit(f"cannot run: {reason}")
    try:
        import notebook  # noqa: F401
    except ImportError:
        sys.exit('cannot run: Jupyter Notebook 7 is not installed (pip install "notebook>=7")')
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="alnb-nb7-"))
    root, workdir, home = tmp / "root", tmp / "work", tmp / "jupyter"
    root.mkdir()
    for name in ("config", "data", "runtime"):
        (home / name).mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell(SETUP.format(workdir=str(workdir))),
        nbformat.v4.new_code_cell("session"),
    ]
    nbformat.write(nb, str(root / "check.ipynb"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        **OFFLINE_ENV,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
    }
    command = [
        sys.executable, "-m", "notebook", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
        f"--ServerApp.root_dir={root}", "--IdentityProvider.token=", "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True", "--JupyterNotebookApp.expose_app_in_browser=True",
    ]  # fmt: skip
    log = (tmp / "notebook.log").open("wb")
    server = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2):
                    break
            except OSError:
                time.sleep(0.3)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 2000})
            page.set_default_timeout(180_000)
            page.goto(f"{url}/notebooks/check.ipynb")
            page.wait_for_function(
                "window.jupyterapp && window.jupyterapp.commands.hasCommand('notebook:run-all-cells')"
            )
            page.locator(".jp-Notebook").first.wait_for()
            time.sleep(3)  # the kernel connects
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            session = page.locator(".alnb-session").first
            session.get_by_text("Round 0:").wait_for(timeout=300_000)
            n_cells = page.locator(".jp-Notebook .jp-Cell").count()
            session.locator(".alnb-labeling h4").first.click()
            session.get_by_text("keys on").wait_for()
            for key in ("1", "a", "2"):
                page.keyboard.press(key)
            session.get_by_text("3 / 3 labeled in this batch").wait_for()
            page.keyboard.press("Enter")
            session.locator(".alnb-summary", has_text="After round 0: 3 labels").wait_for()
            page.screenshot(path=str(tmp / "notebook7.png"))
            cells_after = page.locator(".jp-Notebook .jp-Cell").count()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
    labels = [json.loads(line) for line in (workdir / "labels.jsonl").read_text().splitlines()[1:]]
    ok = len([r for r in labels if r["type"] == "label"]) == 3 and cells_after == n_cells
    print(
        f"{'PASS' if ok else 'FAIL'}: Notebook 7 keyboard: {len(labels)} label actions, cells {n_cells} -> {cells_after}"
    )
    print(f"screenshot: {tmp / 'notebook7.png'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
