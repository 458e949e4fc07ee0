"""notebooks/04-costs-and-latency.ipynb in a real JupyterLab + headless Chromium with the
network cut off (every request to a host other than 127.0.0.1 is aborted and recorded, from
before the page loads): the simulated week runs clean, the dashboard draws every chart, a
filter change redraws them, and a click on a cost bar opens the calls behind it."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from jlab import BAD_TEXTS, run_notebook  # skips without a browser

import nbformat  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

NB_REL = "notebooks/04-costs-and-latency.ipynb"
PROBE_SRC = '''\
import json
print("selection:", json.dumps(dash.charts["cost"].selection, sort_keys=True))
print("opened:", None if dash.opened is None else len(dash.opened))'''


def _prepare(path: Path) -> dict:
    """Add a probe cell; code-cell indices."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE_SRC))
    nbformat.write(nb, path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    find = lambda pred: next(i for i, c in enumerate(code) if pred(c.source.strip()))  # noqa: E731
    return {
        "n_code": len(code),
        "traffic": find(lambda s: "simulate_traffic(client" in s),
        "dash": find(lambda s: s.startswith("dash = ld.dashboard()")),
        "dash_model": find(lambda s: s == 'ld.dashboard(model="gpt-4o")'),
        "charts": [find(lambda s, c=c: s == c) for c in ("ld.charts.cost()", "ld.charts.latency()",
                                                         "ld.charts.errors()", "ld.charts.ttft()",
                                                         'ld.charts.top_traces("cost")')],
        "restyle": find(lambda s: "Spend per day" in s),
        "budget": find(lambda s: "ld.budget(" in s),
        "alert": find(lambda s: "ld.alert(" in s),
        "probe": find(lambda s: s == PROBE_SRC),
    }


@pytest.fixture(scope="module")
def run(browser, lab, lab_root, artifacts):
    cells = _prepare(lab_root / NB_REL)
    with run_notebook(browser, lab, artifacts, NB_REL, cells, offline=True) as r:
        yield r


def _dashboard(run, key: str = "dash"):
    cell = run.code_cell(run.cells[key])
    cell.evaluate("e => e.scrollIntoView({block: 'start'})")
    d = cell.locator(".jp-OutputArea-output .llmdebug-dashboard")
    expect(d).to_have_count(1)
    return d


def _charts_drawn(d, n: int = 12) -> None:  # 8, and the operational-health row's 4 (no scores here: one line)
    charts = d.locator(".llmdebug-chart")
    expect(charts).to_have_count(n, timeout=30_000)
    for i in range(n):
        c = charts.nth(i)
        expect(c).to_have_attribute("data-rendered", "1", timeout=30_000)
        assert c.get_attribute("data-error") is None, c.inner_text()
        assert c.locator("svg, canvas").count() >= 1, f"chart {i} drew nothing"


def _rerun(run, key: str):
    cell = run.code_cell(run.cells[key])
    cell.locator(".jp-InputArea-editor").click()
    run.page.keyboard.press("Escape")
    run.page.keyboard.press("Control+Enter")  # run it, stay on it
    return cell.locator(".jp-OutputArea-output")


def test_the_week_runs_clean_offline(run):
    page = run.page
    with run.shot("dashboard-01-clean"):
        # stderr only where a budget or an alert fires, and there only their warning
        stderr = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        texts = stderr.all_inner_texts()
        assert texts and all("LLMDebugAlert" in t for t in texts), texts
        for key in ("budget", "alert"):
            cell = run.code_cell(run.cells[key])
            expect(cell.locator(".llmdebug-alert")).to_have_count(1)
            expect(cell.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")) \
                .to_contain_text("LLMDebugAlert")
        body = page.locator(".jp-NotebookPanel").inner_text()
        for bad in BAD_TEXTS:
            assert bad not in body, f"{bad!r} in notebook:\n{body[:3000]}"
        assert not run.page_errors, run.page_errors
        assert run.blocked == [], run.blocked  # nothing tried a CDN
        traffic = run.code_cell(run.cells["traffic"]).locator(".jp-OutputArea-output").first.inner_text()
        assert "'calls': 1" in traffic and "made in" in traffic, traffic
        # the charts outside the dashboard draw too
        for i in run.cells["charts"] + [run.cells["restyle"]]:
            cell = run.code_cell(i)
            c = cell.locator(".jp-OutputArea-output .llmdebug-chart")
            expect(c).to_have_attribute("data-rendered", "1", timeout=30_000)
            assert c.locator("svg").count() >= 1
        restyled = run.code_cell(run.cells["restyle"]).locator(".llmdebug-chart")
        expect(restyled.locator("text", has_text="Spend per day")).to_have_count(1)
        run.code_cell(run.cells["budget"]).evaluate("e => e.scrollIntoView({block: 'start'})")


def test_the_dashboard_draws_every_chart(run):
    with run.shot("dashboard-02-drawn"):
        d = _dashboard(run)
        _charts_drawn(d)
        head = d.locator(".llmdebug-dash .lld-headline")
        expect(head.locator(".lld-stat")).to_have_count(6)
        expect(head).to_contain_text("rate-limit hits")
        expect(d.locator(".llmdebug-dash select")).to_have_count(4)
        cost = d.locator(".llmdebug-chart").nth(0)
        expect(cost.locator("text", has_text=re.compile(r"^Cost per (\d+ )?hours? by model"))).to_have_count(1)  # 3-hour bars over a week
        assert cost.locator("g.mark-rect.role-mark path").count() > 100  # hours x models
        # the lower charts: errors, time to first token, costliest and slowest traces, cells
        for i in (3, 5, 7):
            d.locator(".llmdebug-chart").nth(i).scroll_into_view_if_needed()
            run.page.screenshot(path=str(run.artifacts / f"dashboard-02-drawn-{i}.png"))
        # the filtered dashboard further down: one model only
        m = _dashboard(run, "dash_model")
        _charts_drawn(m)
        expect(m.locator(".llmdebug-dash select[aria-label='model']")).to_have_value("gpt-4o")
        _dashboard(run)


def test_a_filter_change_redraws_the_charts(run):
    with run.shot("dashboard-03-filtered"):
        d = _dashboard(run)
        root = d.locator(".llmdebug-dash")
        before = int(root.get_attribute("data-refreshes"))
        calls_before = root.locator(".lld-stat").first.inner_text()
        cost = d.locator(".llmdebug-chart").nth(0)
        svg_before = cost.locator("svg").inner_html()
        bars_before = cost.locator("g.mark-rect.role-mark path").count()
        root.locator("select[aria-label='model']").select_option("claude-3-5-haiku-latest")
        expect(root).to_have_attribute("data-refreshes", str(before + 1), timeout=30_000)
        expect(root).to_have_attribute("data-pending", "0")
        expect(root.locator(".lld-stat").first).not_to_have_text(calls_before)
        expect(cost).to_have_attribute("data-rendered", "1")
        deadline = time.monotonic() + 30
        while cost.locator("svg").inner_html() == svg_before:
            assert time.monotonic() < deadline, "the cost chart was not redrawn"
            run.page.wait_for_timeout(200)
        assert 0 < cost.locator("g.mark-rect.role-mark path").count() < bars_before
        legend = cost.locator("g.role-legend").text_content()
        assert "claude-3-5-haiku-latest" in legend and "gpt-4o-mini" not in legend, legend
        _charts_drawn(d)
    # back to every model, for the next test
    root.locator("select[aria-label='model']").select_option("")
    expect(root).to_have_attribute("data-refreshes", str(before + 2), timeout=30_000)
    # every model again: at least the bars of before (cells that ran after the dashboard's
    # first drawing made calls of their own, which a redraw now includes)
    deadline = time.monotonic() + 30
    while cost.locator("g.mark-rect.role-mark path").count() < bars_before:
        assert time.monotonic() < deadline, "the cost chart did not come back to every model"
        run.page.wait_for_timeout(200)


def test_a_click_on_a_cost_bar_opens_the_calls_behind_it(run):
    with run.shot("dashboard-04-click"):
        d = _dashboard(run)
        cost = d.locator(".llmdebug-chart").nth(0)
        expect(cost).to_have_attribute("data-rendered", "1")
        # the tallest gpt-4o bar: an hour that cost something
        bars = cost.locator("g.mark-rect.role-mark path[aria-label*='gpt-4o;'], "
                            "g.mark-rect.role-mark path[aria-label*='model: gpt-4o;']")
        if bars.count() == 0:
            bars = cost.locator("g.mark-rect.role-mark path")
        label = bars.first.get_attribute("aria-label")
        print("[clicked bar]", label)
        bars.first.click()
        expect(cost).to_have_attribute("data-selected", "1")
        out = d.locator(":scope > .widget-output")  # the dashboard's own (the trace tree has one too)
        expect(out).to_have_count(1)
        expect(out).to_contain_text("behind this cost mark", timeout=30_000)
        expect(out.locator("table.dataframe")).to_have_count(1)
        tree = out.locator(".llmdebug-tt")
        expect(tree).to_have_count(1, timeout=30_000)
        expect(tree).to_have_attribute("data-painted", "1", timeout=30_000)
        shown = int(re.search(r"([\d,]+) calls? behind", out.inner_text()).group(1).replace(",", ""))
        # Python got the clicked datum and opened exactly those calls
        probe = _rerun(run, "probe")
        expect(probe).to_contain_text("opened:", timeout=30_000)
        text = probe.inner_text()
        print("[probe]", text)
        selection = json.loads(re.search(r"selection: (\{.*\})", text).group(1))
        assert selection.get("model"), selection
        assert f"opened: {shown}" in text, text
        # one bar is one hour of one model: its tooltip's call count is what opens
        m = re.search(r"calls: ([\d,]+)", label or "")
        if m:
            assert shown == int(m.group(1).replace(",", "")), (shown, label, selection)
        out.scroll_into_view_if_needed()
