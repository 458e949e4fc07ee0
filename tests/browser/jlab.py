"""Running a notebook in the browser the way a user does, and checking what they see.

Shared by the browser test modules (the fixtures that start JupyterLab and Chromium are
in conftest.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

# Importing this module skips the test module that imports it when there is no browser.
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} missing (apt-get install chromium)", allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="playwright not installed")

from playwright.sync_api import expect  # noqa: E402

TIMEOUT_S = float(os.environ.get("LLMDEBUG_BROWSER_TIMEOUT_S", "120"))  # as in conftest.py
MS = int(TIMEOUT_S * 1000)
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
BAD_TEXTS = ("Loading widget", "Error displaying widget", "Failed to load model class",
             "Error loading script", "Javascript Error")


class _Run:
    def __init__(self, page, ctx, console, page_errors, cells, lab, artifacts):
        self.page, self.ctx, self.console, self.page_errors = page, ctx, console, page_errors
        self.cells, self.lab, self.artifacts = cells, lab, artifacts

    def code_cell(self, i: int):
        return self.page.locator(".jp-Notebook .jp-CodeCell").nth(i)

    def dump(self) -> None:
        print("[browser console]\n" + "\n".join(self.console[-60:]))
        print("[jupyter log]\n" + self.lab.log())

    @contextlib.contextmanager
    def shot(self, name: str):
        """Screenshot <name>.png on success, <name>.FAILED.png + console + server log on failure."""
        try:
            yield
            assert not self.page_errors, f"JavaScript page errors: {self.page_errors}"
        except BaseException:
            try:
                self.page.screenshot(path=str(self.artifacts / f"{name}.FAILED.png"), full_page=True)
            except Exception as e:
                print(f"[failure screenshot not taken: {e}]")
            self.dump()
            raise
        self.page.screenshot(path=str(self.artifacts / f"{name}.png"))


def _dismiss_kernel_dialog(page, wait_ms: int = 1500) -> None:
    dialog = page.locator(".jp-Dialog")
    try:
        dialog.wait_for(state="visible", timeout=wait_ms)
    except Exception:
        return
    print("[note] accepting dialog: " + dialog.inner_text().replace("\n", " ")[:120])
    page.locator(".jp-Dialog .jp-mod-accept").click()
    dialog.wait_for(state="detached", timeout=10_000)


def _run_all_cells(page, attempts: int = 3) -> None:
    # Started: a prompt shows [*] or [n], or the kernel is busy. A retry runs the notebook a
    # second time over the first (widgets of the first run closed while they initialise), so
    # it waits long: on a loaded machine the first prompt can take many seconds to change.
    started = page.locator(".jp-InputArea-prompt", has_text=re.compile(r"\[(\*|\d+)\]")).or_(
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='busy']"))
    for attempt in range(attempts):
        _dismiss_kernel_dialog(page, wait_ms=500)
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        try:
            expect(started.first).to_be_visible(timeout=60_000)
            return
        except AssertionError:
            print(f"[note] Run All Cells attempt {attempt + 1} started no cell; retrying")
    raise AssertionError("Run All Cells never started a cell")


@contextlib.contextmanager
def run_notebook(browser, lab, artifacts, nb_rel: str, cells: dict, *, offline: bool = False,
                 workspace: str | None = None):
    """Open ``nb_rel`` in JupyterLab, run every cell from the Run menu, wait until all
    ``cells["n_code"]`` prompts are numbered; yields a :class:`_Run`. With ``offline``,
    every request to a host other than this machine is aborted from before the page
    loads, and recorded in ``r.blocked``. ``workspace``: a JupyterLab workspace of its
    own, so notebooks opened earlier by the same server are not reopened beside it."""
    # clipboard permissions: the widgets' copy buttons are checked by reading it back
    ctx = browser.new_context(viewport={"width": 1280, "height": 1100},
                              permissions=["clipboard-read", "clipboard-write"])
    blocked: list[str] = []

    def gate(route):
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("internetdisconnected")

    if offline:
        ctx.route("**/*", gate)
    page = ctx.new_page()
    console, page_errors = [], []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: (console.append(f"pageerror: {e}"), page_errors.append(str(e))))
    r = _Run(page, ctx, console, page_errors, cells, lab, artifacts)
    r.blocked = blocked
    t0 = time.monotonic()
    with r.shot(f"{Path(nb_rel).stem}-00-run-all"):
        where = f"lab/workspaces/{workspace}/tree" if workspace else "lab/tree"
        page.goto(f"{lab.base}/{where}/{nb_rel}?token={lab.token}", timeout=MS)
        expect(page.locator(".jp-NotebookPanel .jp-Cell").first).to_be_visible(timeout=MS)
        _dismiss_kernel_dialog(page)
        expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(1, timeout=MS)
        _run_all_cells(page)
        numbered = page.locator(".jp-CodeCell .jp-InputArea-prompt", has_text=re.compile(r"^\s*\[\d+\]"))
        deadline = time.monotonic() + TIMEOUT_S
        while numbered.count() < cells["n_code"]:  # fail at once on a JS error
            assert not page_errors, f"JavaScript page errors while running: {page_errors}"
            assert time.monotonic() < deadline, (
                f"only {numbered.count()}/{cells['n_code']} cells ran: "
                f"{page.locator('.jp-CodeCell .jp-InputArea-prompt').all_inner_texts()}")
            page.wait_for_timeout(250)
        expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(1, timeout=MS)
    print(f"[timing] notebook opened and executed in {time.monotonic() - t0:.1f}s")
    try:
        yield r
    finally:
        if blocked:
            print("[blocked requests]\n" + "\n".join(blocked))
        ctx.close()


def keep_fake_server(path: Path) -> list:
    """The notebook's code cells. (Notebooks once stopped their fake server in a last
    cell, which is dropped here if present; now the server lives as long as the kernel.)"""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    if nb.cells and "server.stop()" in nb.cells[-1].source:
        nb.cells.pop()
        nbformat.write(nb, path)
    return [c for c in nb.cells if c.cell_type == "code"]


def assert_clean(r: "_Run") -> None:
    """No traceback or stderr output, no widget-loading failure text, no page error."""
    page = r.page
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0, "stderr/traceback output:\n" + "\n".join(errors.all_inner_texts())
    body = page.locator(".jp-NotebookPanel").inner_text()
    for bad in BAD_TEXTS:
        assert bad not in body, f"{bad!r} in notebook:\n{body[:3000]}"
    assert not r.page_errors, r.page_errors


def widget(r: "_Run", i: int):
    """The painted trace-tree widget in code cell ``i``, scrolled into view."""
    cell = r.code_cell(i)
    cell.evaluate("e => e.scrollIntoView({block: 'start'})")
    w = cell.locator(".jp-OutputArea-output .llmdebug-tt")
    expect(w).to_have_count(1)
    expect(w).to_have_attribute("data-painted", "1")
    return w
