"""llmdebug's charts in a real JupyterLab + headless Chromium with the network cut off.

A scratch notebook draws LLMDebugCharts (a bar chart, a line chart over time, a layered
chart made with ``+``, and a ChartView kept for click-through). Every request the page makes
to a host other than 127.0.0.1 is aborted and recorded, from before the page loads. The
tests check that every chart draws an SVG, that the Vega runtime was sent and evaluated
once for the page (counters its wrapper keeps on ``globalThis``), that a click on a bar
reaches Python, that the dark theme recolours the charts, and what a saved notebook holds.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} missing (apt-get install chromium)", allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="playwright not installed")

import nbformat  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

from jlab import assert_clean, run_notebook  # noqa: E402

NB_REL = "notebooks/chart-check.ipynb"

SETUP = '''\
import json
import altair as alt
import pandas as pd
from ipywidgets.widgets.widget import _instances
from llmdebug.widgets.vega import LLMDebugChart, VegaRuntime

before = (alt.renderers.active, dict(alt.renderers.options), alt.theme.active)
costs = pd.DataFrame({"model": ["gpt-4o-mini", "claude-haiku", "llama-3"],
                      "cost_usd": [0.012, 0.034, 0.006]})
latency = pd.DataFrame({"hour": pd.date_range("2025-01-01", periods=24, freq="h"),
                        "p95_ms": [400 + 35 * ((7 * i) % 11) for i in range(24)]})'''
BAR = '''\
bar = LLMDebugChart(costs).mark_bar().encode(
    x="model:N", y=alt.Y("cost_usd:Q", title="cost (USD)"), tooltip=["model", "cost_usd"]
).properties(title="Cost by model", width=300, height=160)
bar'''
LINE = '''\
LLMDebugChart(latency).mark_line(point=True).encode(
    x=alt.X("hour:T", title="hour"), y=alt.Y("p95_ms:Q", title="p95 latency (ms)")
).properties(title="p95 latency", width=420, height=160)'''
LAYER = '''\
layered = bar + alt.Chart(costs).mark_rule(color="firebrick", strokeWidth=2).encode(y="mean(cost_usd):Q")
layered'''
CLICK = '''\
w = bar.properties(title="Click a bar").widget()
w'''
PROBE = 'print("selection:", json.dumps(w.selection, sort_keys=True))'
FACTS = '''\
runtimes = [x for x in list(_instances.values()) if isinstance(x, VegaRuntime)]
print("runtimes:", len(runtimes), "| globals unchanged:",
      (alt.renderers.active, dict(alt.renderers.options), alt.theme.active) == before)
print("state bytes:", len(json.dumps(w.get_state(), default=str)),
      "runtime state bytes:", len(json.dumps(runtimes[0].get_state())))'''
SCRATCH = "# the tests type code here"
SOURCES = [SETUP, BAR, LINE, LAYER, CLICK, PROBE, FACTS, SCRATCH]
CHARTS = {"bar": SOURCES.index(BAR), "line": SOURCES.index(LINE), "layer": SOURCES.index(LAYER),
          "click": SOURCES.index(CLICK)}


def _write_notebook(path: Path) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# llmdebug charts, offline")]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in SOURCES]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return {"n_code": len(SOURCES), "probe": SOURCES.index(PROBE), "facts": SOURCES.index(FACTS),
            "scratch": SOURCES.index(SCRATCH), **CHARTS}


@pytest.fixture(scope="module")
def run(browser, lab, lab_root, artifacts):
    cells = _write_notebook(lab_root / NB_REL)
    with run_notebook(browser, lab, artifacts, NB_REL, cells, offline=True) as r:
        yield r


def _chart(run, name: str):
    cell = run.code_cell(run.cells[name])
    cell.evaluate("e => e.scrollIntoView({block: 'start'})")
    c = cell.locator(".jp-OutputArea-output .llmdebug-chart")
    expect(c).to_have_count(1)
    expect(c).to_have_attribute("data-rendered", "1", timeout=30_000)
    return c


def _rerun(run, name: str):
    cell = run.code_cell(run.cells[name])
    cell.locator(".jp-InputArea-editor").click()
    run.page.keyboard.press("Control+Enter")  # run it, stay on it
    return cell.locator(".jp-OutputArea-output")


def test_every_chart_draws_offline_with_one_runtime(run):
    page = run.page
    with run.shot("chart-01-offline"):
        assert_clean(run)
        for name in CHARTS:
            c = _chart(run, name)
            expect(c.locator("svg.marks")).to_have_count(1)
            assert c.get_attribute("data-error") is None, c.inner_text()
        bar, line, layer = _chart(run, "bar"), _chart(run, "line"), _chart(run, "layer")
        expect(bar.locator("g.mark-rect.role-mark path")).to_have_count(3)
        expect(bar.locator("text", has_text="Cost by model")).to_have_count(1)
        expect(line.locator("g.mark-line.role-mark path")).to_have_count(1)
        expect(line.locator("g.mark-symbol.role-mark path")).to_have_count(24)
        expect(layer.locator("g.mark-rule.role-mark line")).to_have_count(1)  # the mean, not the grid
        # the runtime: one model on the page, its bundle evaluated once, no CDN tried
        g = page.evaluate("""async () => ({
            runtimes: globalThis.__llmdebugVegaRuntimes, loads: globalThis.__llmdebugVegaLoads,
            versions: Object.keys(globalThis.__llmdebugVegaByVersion || {}),
            vega: (await globalThis.__llmdebugVega).vega.version,
            vegaLite: (await globalThis.__llmdebugVega).vegaLite.version})""")
        print("[runtime]", g)
        assert g["runtimes"] == 1 and g["loads"] == 1 and len(g["versions"]) == 1, g
        assert g["vegaLite"] == "6.4.1" and g["vega"].startswith("6."), g
        assert bar.get_attribute("data-vega") == g["versions"][0]
        facts = run.code_cell(run.cells["facts"]).locator(".jp-OutputArea-output").inner_text()
        print("[kernel]", facts)
        assert "runtimes: 1 | globals unchanged: True" in facts
        assert run.blocked == [], run.blocked
        assert "Error loading script" not in page.locator(".jp-NotebookPanel").inner_text()
        _chart(run, "bar").evaluate("e => e.scrollIntoView({block: 'start'})")


def test_a_click_on_a_bar_reaches_python(run):
    page = run.page
    with run.shot("chart-02-click"):
        c = _chart(run, "click")
        bars = c.locator("g.mark-rect.role-mark path")
        expect(bars).to_have_count(3)
        bars.and_(c.locator("[aria-label*='claude-haiku']")).click()
        expect(c).to_have_attribute("data-selected", "1")
        out = _rerun(run, "probe")
        expect(out).to_have_text('selection: {"cost_usd": 0.034, "model": "claude-haiku"}', timeout=30_000)
        bars.and_(c.locator("[aria-label*='llama-3']")).click()
        out = _rerun(run, "probe")
        expect(out).to_have_text('selection: {"cost_usd": 0.006, "model": "llama-3"}', timeout=30_000)
        # a click on anything that is not a data mark (here the empty plot above a short bar) clears it
        box = bars.and_(c.locator("[aria-label*='llama-3']")).bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] - 40)
        expect(c).to_have_attribute("data-selected", "0")
        out = _rerun(run, "probe")
        expect(out).to_have_text("selection: {}", timeout=30_000)
        llama = bars.and_(c.locator("[aria-label*='llama-3']"))
        llama.click()
        expect(c).to_have_attribute("data-selected", "1")
        expect(llama).to_have_class(re.compile("ldc-picked"))  # the clicked bar is outlined
        expect(c.locator(".ldc-picked")).to_have_count(1)
        out = _rerun(run, "probe")
        expect(out).to_have_text('selection: {"cost_usd": 0.006, "model": "llama-3"}', timeout=30_000)
        c.evaluate("e => e.scrollIntoView({block: 'start'})")
        assert_clean(run)
        assert run.blocked == [], run.blocked


def _luminance(css_color: str) -> float:
    m = re.match(r"#([0-9a-f]{6})$", css_color.strip().lower())
    if m:
        rgb = [int(m.group(1)[i:i + 2], 16) for i in (0, 2, 4)]
    else:
        rgb = [float(x) for x in re.findall(r"[\d.]+", css_color)[:3]]
    return (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255


def _label_colour(chart) -> str:
    return chart.locator("g.role-axis-label text").first.evaluate("e => getComputedStyle(e).fill")


def _switch_theme(page, name: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Settings$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).hover()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{name}$")).click()


def test_dark_theme_recolours_the_charts(run):
    page = run.page
    bar = _chart(run, "bar")
    expect(bar).to_have_attribute("data-theme", "light")
    assert _luminance(_label_colour(bar)) < 0.5
    with run.shot("chart-03-dark"):
        _switch_theme(page, "JupyterLab Dark")
        expect(page.locator("body[data-jp-theme-light='false']")).to_have_count(1, timeout=30_000)
        for name in CHARTS:
            expect(_chart(run, name)).to_have_attribute("data-theme", "dark", timeout=30_000)
        bar = _chart(run, "bar")
        colour = _label_colour(bar)
        assert _luminance(colour) > 0.5, f"axis labels {colour} on a dark background"
        assert bar.locator("g.mark-rect.role-mark path").count() == 3
        assert_clean(run)
    _switch_theme(page, "JupyterLab Light")
    expect(page.locator("body[data-jp-theme-light='true']")).to_have_count(1, timeout=30_000)
    expect(_chart(run, "bar")).to_have_attribute("data-theme", "light", timeout=30_000)
    assert run.blocked == [], run.blocked


def _run_scratch(run, source: str):
    """Type ``source`` into the scratch cell and run it; returns its output area."""
    cell = run.code_cell(run.cells["scratch"])
    cell.evaluate("e => e.scrollIntoView({block: 'start'})")
    cell.locator(".jp-InputArea-editor .cm-content").click()
    run.page.keyboard.press("Control+a")
    run.page.keyboard.insert_text(source)
    run.page.keyboard.press("Control+Enter")
    return cell.locator(".jp-OutputArea-output")


def test_python_updates_redraw_and_a_bad_spec_shows_its_error(run):
    # (the browser's reply reaches the kernel between cells, so each check is its own run)
    with run.shot("chart-04-update"):
        _run_scratch(run, 'w.spec = {"mark": "no-such-mark"}')
        c = _chart(run, "click")
        expect(c).to_have_attribute("data-error", "1", timeout=30_000)
        expect(c.locator(".ldc-message")).to_contain_text("could not draw this chart")
        out = _run_scratch(run, 'print("error:", w.error)')
        expect(out).to_have_text(re.compile(r"^error: \S"), timeout=30_000)  # Vega-Lite's own message
        _run_scratch(run, 'w.spec = bar.mark_point(size=120, filled=True).properties(title="Updated").to_dict()')
        c = _chart(run, "click")
        expect(c.locator("g.mark-symbol.role-mark path")).to_have_count(3, timeout=30_000)
        expect(c.locator("g.role-title text")).to_have_text("Updated")
        expect(c).not_to_have_attribute("data-error", "1")
        expect(c.locator(".ldc-message")).to_be_hidden()
        out = _run_scratch(run, 'print("error:", repr(w.error))')
        expect(out).to_have_text("error: ''", timeout=30_000)
        c.evaluate("e => e.scrollIntoView({block: 'start'})")
        assert_clean(run)


def test_saved_notebook_holds_no_vega_code(run, lab_root):
    """Save from the browser: each chart's output is a widget reference plus its static
    views (text, and the chart as an SVG picture for exports and viewers); the Vega bundle
    is in no output (and, with JupyterLab's default of not saving widget state, nowhere in
    the file)."""
    page = run.page
    path = lab_root / NB_REL
    mtime = path.stat().st_mtime
    with run.shot("chart-04-saved"):
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^File$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Save Notebook$")).click()
        deadline = time.monotonic() + 30
        while path.stat().st_mtime == mtime:
            assert time.monotonic() < deadline, "the notebook was not saved"
            page.wait_for_timeout(200)
    page.wait_for_timeout(500)  # never time.sleep here: the request gate runs on this thread
    raw = path.read_bytes()
    nb = json.loads(raw)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    sizes = {}
    for name, i in CHARTS.items():
        outs = code[i]["outputs"]
        assert len(outs) == 1, outs
        data = outs[0]["data"]
        assert "application/vnd.jupyter.widget-view+json" in data
        text = "".join(data["text/plain"])  # nbformat stores multi-line strings as lists of lines
        assert text.startswith("llmdebug chart") and " at 0x" not in text, text
        assert "data:image/svg+xml" in "".join(data["text/html"])  # the picture a saved notebook shows
        sizes[name] = len(json.dumps(outs[0]))
    print(f"[saved] notebook {len(raw):,} bytes; per chart output: {sizes}; "
          f"widget state saved: {'widgets' in nb['metadata']}")
    # a small SVG per chart, never the 900 KB Vega runtime
    assert "vegaEmbed" not in raw.decode() and len(raw) < 120_000, len(raw)
    assert max(sizes.values()) < 40_000, sizes


def test_the_network_block_is_real(run):
    """The control for every `blocked == []` above: a CDN fetch from the page is refused and recorded."""
    n = len(run.blocked)
    got = run.page.evaluate("""() => fetch("https://cdn.jsdelivr.net/npm/vega@6").then(
        () => "fetched", () => "refused")""")
    assert got == "refused" and run.blocked[n:] == ["https://cdn.jsdelivr.net/npm/vega@6"], run.blocked
    del run.blocked[n:]
