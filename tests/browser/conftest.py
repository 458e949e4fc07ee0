"""A real JupyterLab server and a headless Chromium, one of each per test module.

Follows /work/shared/TESTING.md ("A real JupyterLab in headless Chromium"): the server
runs with this interpreter (so its ``python3`` kernelspec is this environment's and
llmdebug is importable in the kernel), isolated config/settings/runtime dirs under a
temp home, a known token, and is always stopped by the code that started it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Playwright adds --headless and a fresh --user-data-dir itself.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
TOKEN = "llmdebug-browser-test"
HERE = Path(__file__).resolve().parent
TIMEOUT_S = float(os.environ.get("LLMDEBUG_BROWSER_TIMEOUT_S", "120"))


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items) -> None:
    """Every test under tests/browser/ is a ``browser`` test (``-m "not browser"`` skips them)."""
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _api(base: str, path: str, method: str = "GET", timeout: float = 5.0):
    req = urllib.request.Request(f"{base}{path}", method=method,
                                 headers={"Authorization": f"token {TOKEN}"},
                                 data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        body = r.read()
        return json.loads(body) if body else None


class JupyterLab:
    def __init__(self, root: Path, home: Path):
        self.root, self.home = root, home
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log_path = home / f"jupyter-lab-{self.port}.log"
        self._log = None
        self.token = TOKEN

    def start(self) -> "JupyterLab":
        settings = self.home / "user-settings"
        _write_json(settings / "@jupyterlab/apputils-extension/notification.jupyterlab-settings",
                    {"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True})
        _write_json(settings / "@jupyterlab/notebook-extension/tracker.jupyterlab-settings",
                    {"autoStartDefaultKernel": True, "windowingMode": "none"})
        _write_json(self.home / "config" / "labconfig" / "page_config.json",
                    {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
        env = dict(os.environ)
        env.update({
            "JUPYTER_CONFIG_DIR": str(self.home / "config"),
            "JUPYTER_RUNTIME_DIR": str(self.home / "runtime"),
            "IPYTHONDIR": str(self.home / "ipython"),
            "PYTHONUNBUFFERED": "1",
            # llmdebug's own bugs show as tracebacks (stderr) instead of being swallowed
            "LLMDEBUG_RAISE_ERRORS": "1",
        })
        # the notebook must pick its store itself (./llmdebug.db in the temp root), and run
        # against the built-in fake server, never a real API
        for var in ("LLMDEBUG_DB", "OPENAI_API_KEY", "OPENAI_BASE_URL",
                    "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
            env.pop(var, None)
        cmd = [
            sys.executable, "-m", "jupyter", "lab",
            "--no-browser", "--allow-root",
            "--ip=127.0.0.1", f"--port={self.port}", "--port-retries=0",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={self.home / 'workspaces'}",
            "--ServerApp.terminals_enabled=False",
        ]
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited rc={self.proc.returncode}:\n{self.log()}")
            try:
                _api(self.base, "/api/status", timeout=2)
                return
            except urllib.error.HTTPError as e:  # up, but refuses our token
                raise RuntimeError(f"/api/status -> HTTP {e.code}:\n{self.log()}") from e
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.3)
        raise TimeoutError(f"jupyter lab did not answer in {TIMEOUT_S}s:\n{self.log()}")

    def api(self, path: str):
        return _api(self.base, path)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if not self.proc:
            return
        if self.proc.poll() is None:
            try:  # graceful: shuts the kernels down too
                _api(self.base, "/api/shutdown", method="POST", timeout=5)
                self.proc.wait(timeout=15)
            except Exception:
                pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # group id == server pid
                self.proc.wait(timeout=10)
        if self._log:
            self._log.close()


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory) -> Path:
    """A temp root_dir holding a copy of notebooks/ (the repo is never written to)."""
    root = tmp_path_factory.mktemp("jlab-root")
    shutil.copytree(REPO / "notebooks", root / "notebooks",
                    ignore=shutil.ignore_patterns("*.db", "*.db-wal", "*.db-shm", ".ipynb_checkpoints"))
    return root


@pytest.fixture(scope="module")
def lab(tmp_path_factory, lab_root):
    home = tmp_path_factory.mktemp("jlab-home")
    server = None
    for attempt in range(3):  # free port -> bind is racy; a lost race makes lab exit at once
        try:
            server = JupyterLab(lab_root, home).start()
            break
        except RuntimeError:
            if attempt == 2:
                raise
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
