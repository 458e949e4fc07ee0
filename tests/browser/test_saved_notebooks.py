"""Saved notebooks, without a kernel or a network: notebooks 01 and 04 executed by
``jupyter nbconvert --execute`` (in a temp copy, their stores in tmp), exported to HTML and
opened in Chromium with every non-file request aborted; then the saved notebooks opened
in JupyterLab without running them. The trees must read as text (span names, models,
errors) and the charts must be pictures (SVG with marks), never a blank or an error."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest

from jlab import BAD_TEXTS, MS  # skips without a browser

import nbformat  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = {"01": "01-quickstart.ipynb", "04": "04-costs-and-latency.ipynb"}
PREPROCESSOR = "llmdebug.widgets.nbconvert.StaticViews"
# 04's two dashboards (8 charts and the operational-health row's 4 each; no scores: one line),
# its six ld.charts cells and the four of its rate-limit, breaker and writer section
N_CHARTS_04 = 2 * 12 + 6 + 4


def _nbconvert(*args: str, cwd: Path, env: dict) -> None:
    r = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", *args], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"nbconvert {args} failed:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"


@pytest.fixture(scope="module")
def saved(tmp_path_factory, lab_root) -> dict:
    """Per notebook: the executed .ipynb (widget state saved, nbconvert's default), a copy
    without widget state (as JupyterLab saves by default), and their HTML exports."""
    work = tmp_path_factory.mktemp("saved-notebooks")
    env = dict(os.environ, LLMDEBUG_RAISE_ERRORS="1", LLMDEBUG_DB=str(work / "llmdebug.db"),
               JUPYTER_PLATFORM_DIRS="1")
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        env.pop(var, None)  # the notebooks run against their built-in fake server
    out: dict = {}
    for key, name in NOTEBOOKS.items():
        shutil.copy(REPO / "notebooks" / name, work / name)
        _nbconvert("--to", "notebook", "--execute", "--ExecutePreprocessor.timeout=600",
                   "--output", f"executed-{key}.ipynb", name, cwd=work, env=env)
        executed = work / f"executed-{key}.ipynb"
        nb = nbformat.read(executed, as_version=4)
        assert "widgets" in nb.metadata, "nbconvert --execute saved no widget state"
        del nb.metadata["widgets"]
        nbformat.write(nb, work / f"nostate-{key}.ipynb")
        # with saved state, as documented: the preprocessor makes nbconvert export the static views
        _nbconvert("--to", "html", f"--HTMLExporter.preprocessors={PREPROCESSOR}", "--output",
                   f"static-{key}", executed.name, cwd=work, env=env)
        # without state, nbconvert picks the text/html by itself
        _nbconvert("--to", "html", "--output", f"nostate-{key}", f"nostate-{key}.ipynb", cwd=work, env=env)
        out[key] = {"executed": executed, "nostate": work / f"nostate-{key}.ipynb",
                    "html": {"static": work / f"static-{key}.html", "nostate": work / f"nostate-{key}.html"}}
        (lab_root / "saved").mkdir(exist_ok=True)
        shutil.copy(executed, lab_root / "saved" / f"executed-{key}.ipynb")
        shutil.copy(work / f"nostate-{key}.ipynb", lab_root / "saved" / f"nostate-{key}.ipynb")
    return out


class _Offline:
    """A page that may load file: and data: URLs only; everything else is aborted and recorded."""

    def __init__(self, browser):
        self.ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
        self.blocked: list[str] = []
        self.ctx.route("**/*", self._gate)
        self.page = self.ctx.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _gate(self, route) -> None:
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort("internetdisconnected")


def _outputs_text(page) -> str:
    return "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())


def _svg_marks(page, img) -> dict:
    """The SVG behind a chart <img>, parsed by the browser: its marks by kind."""
    src = img.get_attribute("src")
    assert src and src.startswith("data:image/svg+xml,"), src[:80] if src else src
    return page.evaluate("""(svg) => {
        const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
        if (doc.querySelector("parsererror") || doc.documentElement.nodeName !== "svg") return {error: true};
        const out = {};
        for (const g of doc.querySelectorAll("g.role-mark")) {  // data marks, not axes or legends
            const kind = [...g.classList].find((c) => c.startsWith("mark-"));
            out[kind] = (out[kind] || 0) + g.children.length;
        }
        return out;
    }""", unquote(src.split(",", 1)[1]))


def _check_img_drawn(img) -> None:
    drawn = img.evaluate("i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0")
    assert drawn, "chart picture not drawn"


@pytest.mark.parametrize("form", ["static", "nostate"])
def test_exported_quickstart_trees_read_offline(saved, browser, artifacts, form):
    o = _Offline(browser)
    try:
        o.page.goto(saved["01"]["html"][form].as_uri(), timeout=MS)
        trees = o.page.locator(".jp-OutputArea-output .llmdebug-static-tree")
        expect(trees).to_have_count(2, timeout=MS)  # ld.show() and ld.show(ld.last())
        for i in range(2):
            expect(trees.nth(i)).to_be_visible()
            trees.nth(i).screenshot(path=str(artifacts / f"saved-01-{form}-tree{i}.png"))
        browser_view = trees.nth(0).inner_text()
        for name in ("Recent traces", "quickstart", "weather agent", "openai.chat.completions"):
            assert name in browser_view, name
        last = trees.nth(1).inner_text()
        assert "fail-400" in last and "BadRequestError" in last  # model and error as text
        # the waterfall bar of each span is drawn (has a size)
        bars = trees.nth(1).locator("td > div")
        assert bars.count() >= 1 and bars.first.bounding_box()["width"] >= 2
        text = _outputs_text(o.page)
        for bad in BAD_TEXTS:
            assert bad not in text
        assert not [u for u in o.blocked if "widget" in u or "unpkg" in u], o.blocked  # no widget manager asked for
        assert not o.errors, o.errors
        o.page.screenshot(path=str(artifacts / f"saved-01-{form}.png"), full_page=True)
    except BaseException:
        o.page.screenshot(path=str(artifacts / f"saved-01-{form}.FAILED.png"), full_page=True)
        print("[blocked]", o.blocked)
        raise
    finally:
        o.ctx.close()


@pytest.mark.parametrize("form", ["static", "nostate"])
def test_exported_costs_charts_are_pictures_offline(saved, browser, artifacts, form):
    o = _Offline(browser)
    try:
        o.page.goto(saved["04"]["html"][form].as_uri(), timeout=MS)
        dash = o.page.locator(".jp-OutputArea-output .llmdebug-static-dashboard")
        expect(dash).to_have_count(2, timeout=MS)
        head = dash.first.inner_text()
        for want in ("calls", "cost", "error rate", "rate-limit hits", "latency p50 / p95 / p99"):
            assert want in head, want
        assert re.search(r"calls\s+1,\d{3}", head) and re.search(r"\$\d+\.\d+", head)  # ~1,500 simulated calls
        imgs = o.page.locator(".jp-OutputArea-output .llmdebug-static-chart img")
        expect(imgs).to_have_count(N_CHARTS_04, timeout=MS)
        kinds: dict = {}
        for i in range(imgs.count()):
            img = imgs.nth(i)
            img.scroll_into_view_if_needed()
            _check_img_drawn(img)
            marks = _svg_marks(o.page, img)
            assert marks and not marks.get("error"), (i, marks)
            for k, n in marks.items():
                kinds[k] = kinds.get(k, 0) + n
        assert kinds.get("mark-rect", 0) > 100 and kinds.get("mark-line", 0) >= 1 and kinds.get("mark-rule", 0) >= 3, kinds
        dash.first.scroll_into_view_if_needed()
        dash.first.screenshot(path=str(artifacts / f"saved-04-{form}-dashboard.png"))
        single = o.page.locator(".jp-OutputArea-output .llmdebug-static-chart").nth(24)  # ld.charts.cost()
        single.scroll_into_view_if_needed()
        single.screenshot(path=str(artifacts / f"saved-04-{form}-cost-chart.png"))
        assert not o.errors, o.errors
    except BaseException:
        o.page.screenshot(path=str(artifacts / f"saved-04-{form}.FAILED.png"), full_page=True)
        print("[blocked]", o.blocked)
        raise
    finally:
        o.ctx.close()


@pytest.mark.parametrize("form", ["executed", "nostate"])
def test_saved_notebooks_show_in_jupyterlab_without_running(saved, lab, browser, artifacts, form):
    """A saved notebook opened, not run: whatever JupyterLab picks (the widget from its
    saved state, or the static HTML), the trees and charts show, not an error."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        for key in ("01", "04"):
            # ?reset: only this notebook open (the server keeps the last test's tabs otherwise)
            page.goto(f"{lab.base}/lab/tree/saved/{form}-{key}.ipynb?reset&token={lab.token}", timeout=MS)
            panel = page.locator(".jp-NotebookPanel:visible")
            expect(panel.locator(".jp-Cell").first).to_be_visible(timeout=MS)
            outputs = panel.locator(".jp-OutputArea-output")
            if key == "01":
                trees = panel.locator(".jp-OutputArea-output .llmdebug-static-tree, .jp-OutputArea-output .llmdebug-tt")
                expect(trees).to_have_count(2, timeout=MS)
                trees.first.scroll_into_view_if_needed()
                expect(trees.first).to_contain_text("weather agent")
                expect(trees.nth(1)).to_contain_text("fail-400")
                trees.first.screenshot(path=str(artifacts / f"saved-lab-{form}-01-tree.png"))
            else:
                charts = panel.locator(".jp-OutputArea-output .llmdebug-static-chart img")
                expect(charts).to_have_count(N_CHARTS_04, timeout=MS)
                for i in (0, N_CHARTS_04 - 1):
                    charts.nth(i).scroll_into_view_if_needed()
                    _check_img_drawn(charts.nth(i))
                    assert _svg_marks(page, charts.nth(i))
                dash = panel.locator(".jp-OutputArea-output .llmdebug-static-dashboard").first
                dash.scroll_into_view_if_needed()
                expect(dash).to_contain_text("error rate")
                page.screenshot(path=str(artifacts / f"saved-lab-{form}-04.png"))
            text = "\n".join(outputs.all_inner_texts())
            for bad in BAD_TEXTS:
                assert bad not in text, bad
            assert "<script>" not in text
        assert not errors, errors
    except BaseException:
        page.screenshot(path=str(artifacts / f"saved-lab-{form}.FAILED.png"), full_page=True)
        print("[jupyter log]\n" + lab.log())
        raise
    finally:
        ctx.close()
