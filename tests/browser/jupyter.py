"""A private, offline JupyterLab for the browser tests, and Debian's Chromium driven by Playwright.

JupyterLab runs on 127.0.0.1 on a free port with token and password off, no news or update checks, and
config, data, runtime and settings folders of its own under a temporary folder, so nothing of the user's
Jupyter set-up is read or written. Playwright never downloads a browser here: it launches the system's
``/usr/bin/chromium``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "artifact_dir",
    "chromium_missing_reason",
    "copy_artifact",
    "jupyterlab",
]

CHROMIUM = os.environ.get("ALNB_CHROMIUM", "/usr/bin/chromium")
#: Headless, sandbox off (containers run as root), and no background traffic to hosts that cannot be reached.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

# User settings that keep JupyterLab quiet and render every cell (windowing would detach off-screen widgets).
_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def chromium_missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None when Chromium and Playwright are available."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"{CHROMIUM} is not installed; run .ci/browser-deps.sh (apt-get install chromium) to enable it"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def jupyterlab(
    root: Path, home: Path, env: dict[str, str] | None = None, timeout: float = 90.0
) -> Iterator[str]:
    """Run JupyterLab serving ``root``; yields its base URL and stops the server (only it) on exit.

    Parameters
    ----------
    root : Path
        Folder shown in JupyterLab (notebooks are opened relative to it).
    home : Path
        Private folder for Jupyter's config, data, runtime and settings, and the server log (``jupyter.log``).
    env : dict, optional
        Extra environment variables for the server and its kernels.
    timeout : float
        Seconds to wait for the server to answer.
    """
    port = _free_port()
    folders = {
        name: home / name for name in ("config", "data", "runtime", "settings", "workspaces", "ipython")
    }
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    for name, value in _SETTINGS.items():
        target = folders["settings"] / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value))
    full_env = {
        **os.environ,
        **(env or {}),
        "JUPYTER_CONFIG_DIR": str(folders["config"]),
        "JUPYTER_DATA_DIR": str(folders["data"]),
        "JUPYTER_RUNTIME_DIR": str(folders["runtime"]),
        "JUPYTERLAB_SETTINGS_DIR": str(folders["settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(folders["workspaces"]),
        "IPYTHONDIR": str(folders["ipython"]),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",
    ]
    log = (home / "jupyter.log").open("wb")
    process = subprocess.Popen(command, cwd=root, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:  # the server's own start-up, not a widget: waiting on it is fine
            if process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {process.returncode}; see {home / 'jupyter.log'}")
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"JupyterLab did not answer within {timeout} s; see {home / 'jupyter.log'}"
                )
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def copy_artifact(source: Path, name: str) -> Path:
    """Copy a file to ``artifacts/`` at the repository root (gitignored) and return the copy's path."""
    target = Path(__file__).resolve().parents[2] / "artifacts" / name
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(source, target)
    return target


def artifact_dir(name: str) -> Path:
    """A fresh folder ``runs/browser-artifacts/<name>/`` at the repository root (gitignored) for screenshots."""
    target = Path(__file__).resolve().parents[2] / "runs" / "browser-artifacts" / name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    return target
