"""Names holding bidi controls and invisible characters, in a real JupyterLab + headless
Chromium with the network cut off: a trace tree, charts and the dashboard draw them as
``⟨U+XXXX⟩`` (a model named "gpt-4o-mini\\u202e-x" never shows reversed), and the
dashboard's model filter still sends the real name to Python.

The calls are real OpenAI SDK calls to llmdebug's fake server, started by the notebook.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jlab import assert_clean, run_notebook, widget  # skips without a browser

import nbformat  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

NB_REL = "notebooks/visible-check.ipynb"
RLO, ZWSP = "\u202e", "\u200b"

SETUP = r'''
from pathlib import Path
import openai
import llmdebug as ld
from llmdebug.testing import FakeLLMServer

server = FakeLLMServer().start()  # on 127.0.0.1
for suffix in ("", "-wal", "-shm"):
    Path("visible-check.db" + suffix).unlink(missing_ok=True)
ld.init("visible-check.db")
client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-fake", max_retries=0)
TROJAN, HIDDEN = "gpt-4o-mini\u202e-x", "gpt\u200b-4o"  # drawn raw: "gpt-4o-minix-", "gpt-4o"
for m in (TROJAN, HIDDEN):
    ld.register_price(m, input_per_mtok=1.0, output_per_mtok=4.0)
with ld.trace("agent\u202eevil") as t:
    with ld.span("step\u200b1", kind="tool"):
        client.chat.completions.create(model=TROJAN, messages=[{"role": "user", "content": "hi \u202eworld 👨\u200d👩"}])
        client.chat.completions.create(model=HIDDEN, messages=[{"role": "user", "content": "hello"}])
for i in range(2):  # traces of their own
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"plain {i}"}])
ld.flush()
print("calls:", len(ld.calls()))'''.strip()
TREE = "tree = ld.show(t.trace_id)\ntree"
TOKENS = "ld.charts.tokens()"
COST = 'ld.charts.cost(bucket="minute")'
DASH = "dash = ld.dashboard()\ndash"
PROBE = 'print("filters:", ascii(dash.filters), "| calls:", dash.controls.summary.get("calls"))'
SOURCES = [SETUP, TREE, TOKENS, COST, DASH, PROBE]


def _write_notebook(path: Path) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Names with bidi and invisible characters")]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in SOURCES]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return {"n_code": len(SOURCES), **{k: SOURCES.index(v) for k, v in
                                       (("tree", TREE), ("tokens", TOKENS), ("cost", COST), ("dash", DASH),
                                        ("probe", PROBE))}}


@pytest.fixture(scope="module")
def run(browser, lab, lab_root, artifacts):
    cells = _write_notebook(lab_root / NB_REL)
    with run_notebook(browser, lab, artifacts, NB_REL, cells, offline=True) as r:
        yield r


def _chart(run, key: str):
    cell = run.code_cell(run.cells[key])
    cell.evaluate("e => e.scrollIntoView({block: 'start'})")
    c = cell.locator(".jp-OutputArea-output .llmdebug-chart")
    expect(c).to_have_count(1)
    expect(c).to_have_attribute("data-rendered", "1", timeout=30_000)
    return c


def test_tree_rows_and_detail_draw_the_characters_visibly(run):
    with run.shot("visible-01-tree"):
        assert_clean(run)
        assert run.blocked == [], run.blocked
        w = widget(run, run.cells["tree"])
        rows = w.locator(".ldt-span")
        expect(rows).to_have_count(4)  # the trace, the tool span, two calls
        text = rows.all_inner_texts()
        print("[tree rows]", text)
        joined = "\n".join(text)
        assert "agent⟨U+202E⟩evil" in joined and "step⟨U+200B⟩1" in joined
        assert "gpt-4o-mini⟨U+202E⟩-x" in joined and "gpt⟨U+200B⟩-4o" in joined
        assert RLO not in joined and ZWSP not in joined
        # the row tooltips and the header too
        titles = [rows.nth(i).get_attribute("title") for i in range(rows.count())]
        assert not any(RLO in x or ZWSP in x for x in titles), titles
        expect(w.locator(".ldt-title")).to_have_text("agent⟨U+202E⟩evil")
        # the detail pane of the trojan model's call: a label, and a prompt (content rule)
        rows.filter(has_text="gpt-4o-mini⟨U+202E⟩-x").first.click()
        detail = w.locator(".ldt-detail-body")
        expect(detail.locator(".ldt-model")).to_have_text("gpt-4o-mini⟨U+202E⟩-x", timeout=30_000)
        expect(detail.locator(".ldt-msg").first).to_contain_text("hi ⟨U+202E⟩world 👨\u200d👩")
        assert RLO not in detail.inner_text()
        # search still finds the span by its real name, and by what is drawn
        search = w.locator("input.ldt-search")
        search.fill("U+200B")
        expect(w.locator(".ldt-span:not(.ldt-context)")).to_have_count(2)  # the tool span and the hidden model
        search.fill("")
        w.evaluate("e => e.scrollIntoView({block: 'start'})")
        w.locator(".ldt-tree-col").screenshot(path=str(run.artifacts / "visible-01-tree-rows.png"))


def test_chart_axis_and_legend_draw_the_characters_visibly(run):
    with run.shot("visible-02-charts"):
        tokens = _chart(run, "tokens")
        axis = tokens.locator("g.role-axis").all_text_contents()
        print("[tokens axis]", axis)
        assert any("gpt-4o-mini⟨U+202E⟩-x" in a for a in axis) and any("gpt⟨U+200B⟩-4o" in a for a in axis)
        cost = _chart(run, "cost")
        legend = cost.locator("g.role-legend").text_content()
        print("[cost legend]", legend)
        assert "gpt-4o-mini⟨U+202E⟩-x" in legend and "gpt⟨U+200B⟩-4o" in legend
        for c in (tokens, cost):
            svg = c.locator("svg").inner_html()
            assert RLO not in svg and ZWSP not in svg
        run.code_cell(run.cells["tokens"]).evaluate("e => e.scrollIntoView({block: 'start'})")


def test_dashboard_filter_shows_the_name_visibly_and_sends_the_real_one(run):
    with run.shot("visible-03-dashboard"):
        cell = run.code_cell(run.cells["dash"])
        cell.evaluate("e => e.scrollIntoView({block: 'start'})")
        root = cell.locator(".llmdebug-dash")
        expect(root).to_have_count(1)
        select = root.locator("select[aria-label='model']")
        options = select.locator("option").all_inner_texts()
        print("[model options]", options)
        assert "gpt-4o-mini⟨U+202E⟩-x" in options and "gpt⟨U+200B⟩-4o" in options
        assert not any(RLO in o or ZWSP in o for o in options)
        before = int(root.get_attribute("data-refreshes"))
        select.select_option(label="gpt-4o-mini⟨U+202E⟩-x")
        expect(root).to_have_attribute("data-refreshes", str(before + 1), timeout=30_000)
        cost = cell.locator(".llmdebug-chart").nth(0)
        expect(cost).to_have_attribute("data-rendered", "1", timeout=30_000)
        # Python got the real model name: the probe prints it escaped
        probe = run.code_cell(run.cells["probe"])
        probe.locator(".jp-InputArea-editor").click()
        run.page.keyboard.press("Escape")
        run.page.keyboard.press("Control+Enter")
        out = probe.locator(".jp-OutputArea-output")
        expect(out).to_contain_text("filters:", timeout=30_000)
        text = out.inner_text()
        print("[probe]", text)
        assert re.search(r"'model': 'gpt-4o-mini\\u202e-x'", text), text
        assert "| calls: 1.0" in text or "| calls: 1" in text, text
        cell.evaluate("e => e.scrollIntoView({block: 'start'})")
