"""The dashboard's operational-health and scores rows in a real JupyterLab + headless
Chromium (offline), at 1400 px with the file browser open: rate-limit headroom falling,
calls in flight, a failure streak with its breaker period shaded, llmdebug's own queue, and
the scores; every chart draws inside its cell; a filter that leaves a row without data
turns it into one line; a click on the breaker period reaches the kernel and opens its calls."""

from __future__ import annotations

import re

import pytest

from jlab import assert_clean, run_notebook  # skips without a browser

import nbformat  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

NB_REL = "notebooks/ops-dashboard-check.ipynb"
DB = "ops-dashboard-check.db"

SETUP = f'''
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import anthropic, openai
import llmdebug as ld
from llmdebug.testing import FakeLLMServer

# 40 requests an hour: the headroom falls as the calls below use them up
server = FakeLLMServer(rate_limits={{"requests": 40, "tokens": 1_000_000, "window_s": 3600}}).start()
for suffix in ("", "-wal", "-shm"):
    Path("{DB}" + suffix).unlink(missing_ok=True)
ld.init("{DB}")
client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-fake", max_retries=0)
claude = anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="sk-fake", max_retries=0)
ask = lambda i: client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": f"q{{i}}"}}])
for i in range(12):
    ask(i)
with ThreadPoolExecutor(4) as pool:  # four at a time
    list(pool.map(ask, range(12, 24)))
server.inject("500", times=6, model="gpt-4o-mini")  # an outage: six failures in a row
for i in range(6):
    try:
        ask(100 + i)
    except openai.InternalServerError:
        pass
for i in range(3):
    ask(200 + i)
claude.messages.create(model="claude-3-5-haiku-latest", max_tokens=20, messages=[{{"role": "user", "content": "hi"}}])
ld.feedback(ld.calls(model="gpt-4o-mini").iloc[0]["id"], "thumbs", True)
ld.feedback(ld.calls(model="gpt-4o-mini").iloc[1]["id"], "thumbs", False)
ld.flush()'''.strip()
DASH = "dash = ld.dashboard()\ndash"
PROBE = ('print("rows:", {t: r.shown for t, r in dash.rows.items()}, "opened:", '
         'None if dash.opened is None else len(dash.opened), "failed:", '
         'None if dash.opened is None else int((dash.opened["status"] == "error").sum()))')
SOURCES = [SETUP, DASH, PROBE]
OPS = ("headroom", "in_flight", "breaker", "writer_health")


def _write_notebook(path) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Operational health in the dashboard")]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in SOURCES]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return {"n_code": len(SOURCES), "dash": SOURCES.index(DASH), "probe": SOURCES.index(PROBE)}


@pytest.fixture(scope="module")
def run(browser, lab, lab_root, artifacts):
    cells = _write_notebook(lab_root / NB_REL)
    with run_notebook(browser, lab, artifacts, NB_REL, cells, offline=True, workspace="ops") as r:
        r.page.set_viewport_size({"width": 1400, "height": 1100})
        fb = r.page.locator("#filebrowser")  # the file browser open in the sidebar, as a user has it
        if not fb.is_visible():
            r.page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='filebrowser']").click()
        expect(fb).to_be_visible()
        yield r


def _dashboard(run):
    cell = run.code_cell(run.cells["dash"])
    d = cell.locator(".jp-OutputArea-output .llmdebug-dashboard")
    expect(d).to_have_count(1)
    return d


def _row(d, title: str):
    return d.locator(".llmdebug-dashboard-row").filter(has=d.page.locator(".llmdebug-dashboard-row-title",
                                                                          has_text=title))


def _drawn(chart) -> None:
    expect(chart).to_have_attribute("data-rendered", "1", timeout=30_000)
    assert chart.get_attribute("data-error") is None, chart.inner_text()
    assert chart.locator("svg").count() >= 1


def _probe(run, text: str) -> str:
    probe = run.code_cell(run.cells["probe"])
    probe.locator(".jp-InputArea-editor").click()
    run.page.keyboard.press("Escape")
    run.page.keyboard.press("Control+Enter")  # run it, stay on it
    out = probe.locator(".jp-OutputArea-output")
    expect(out).to_contain_text(text, timeout=30_000)
    return out.inner_text()


def test_the_rows_draw_inside_the_cell(run):
    with run.shot("ops-dashboard-01-rows"):
        assert_clean(run)
        d = _dashboard(run)
        ops, scores = _row(d, "Operational health"), _row(d, "Scores")
        ops.scroll_into_view_if_needed()
        charts = ops.locator(".llmdebug-chart")
        expect(charts).to_have_count(4)
        for i in range(4):
            _drawn(charts.nth(i))
        expect(d.locator(".llmdebug-chart")).to_have_count(13)
        texts = [charts.nth(i).locator("svg").first.text_content() for i in range(4)]
        assert "Rate-limit headroom" in texts[0] and "in flight" in texts[1], texts[:2]
        assert "breaker open (5 in 30s, 60s cooldown)" in texts[2] and "writer" in texts[3], texts[2:]
        # the breaker period is shaded, and the failed calls are bars
        breaker = charts.nth(2)
        assert breaker.locator("g.layer_1_marks path").count() == 1, "one breaker period"
        assert breaker.locator("g.layer_0_marks path").count() >= 1
        _drawn(scores.locator(".llmdebug-chart"))
        # nothing wider than the output area: charts sit inside their grid cells
        area = d.evaluate("e => e.getBoundingClientRect().right")
        for chart in (charts.nth(1), charts.nth(3), scores.locator(".llmdebug-chart")):
            right = chart.locator("svg").first.evaluate("e => e.getBoundingClientRect().right")
            assert right <= area + 1, (right, area)
        run.page.mouse.move(5, 5)
        ops.screenshot(path=str(run.artifacts / "ops-dashboard-01-row-1400.png"))
        scores.screenshot(path=str(run.artifacts / "ops-dashboard-01-scores-1400.png"))


def test_a_row_without_data_is_one_line(run):
    with run.shot("ops-dashboard-02-filtered"):
        d = _dashboard(run)
        root = d.locator(".llmdebug-dash")
        before = int(root.get_attribute("data-refreshes"))
        root.locator("select[aria-label='model']").select_option("claude-3-5-haiku-latest")
        expect(root).to_have_attribute("data-refreshes", str(before + 1), timeout=30_000)
        scores = _row(d, "Scores")
        expect(scores.locator(".llmdebug-dashboard-row-note")).to_contain_text("No scores for these filters")
        expect(scores.locator(".llmdebug-chart")).to_have_count(0)
        ops = _row(d, "Operational health")
        expect(ops.locator(".llmdebug-chart")).to_have_count(4)  # Claude's headers, and the writer's samples
        for i in range(4):
            _drawn(ops.locator(".llmdebug-chart").nth(i))
        scores.scroll_into_view_if_needed()
        run.page.screenshot(path=str(run.artifacts / "ops-dashboard-02-no-scores.png"))
        assert "'Scores': False" in _probe(run, "rows:")
        root.locator("select[aria-label='model']").select_option("")
        expect(root).to_have_attribute("data-refreshes", str(before + 2), timeout=30_000)
        expect(scores.locator(".llmdebug-chart")).to_have_count(1)


def test_a_click_on_the_breaker_period_opens_its_calls(run):
    with run.shot("ops-dashboard-03-click"):
        d = _dashboard(run)
        breaker = _row(d, "Operational health").locator(".llmdebug-chart").nth(2)
        _drawn(breaker)
        breaker.scroll_into_view_if_needed()
        breaker.locator("g.layer_1_marks path").first.click()
        expect(breaker).to_have_attribute("data-selected", "1")
        out = d.locator(":scope > .widget-output")
        expect(out).to_contain_text("behind this breaker mark", timeout=30_000)
        shown = int(re.search(r"([\d,]+) calls? behind", out.inner_text()).group(1).replace(",", ""))
        # the fifth failure opened it; the sixth and the three calls after it came within the cooldown
        assert shown == 5, out.inner_text()[:500]
        text = _probe(run, "opened: 5")
        assert "failed: 2" in text, text
