"""ld.compare in a real JupyterLab + headless Chromium: the comparison of a two-prompt
experiment renders (variants with intervals, items side by side, a prompt holding
<script> shown as text), "most disagreement first" reorders the items, an item's diff
button opens the word diff under it and the call diff below (the click reaches the
kernel); and notebook 07 runs clean in the browser with its comparison drawn."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jlab import assert_clean, keep_fake_server, run_notebook  # skips without a browser

import nbformat  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

NB_REL = "notebooks/comparison-check.ipynb"

SETUP = '''\
from llmdebug.testing import FakeLLMServer

server = FakeLLMServer().start()

import llmdebug as ld
ld.init("comparison-check.db")

import openai
client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-fake")'''

RUN = '''\
ITEMS = [
    {"id": "norway", "question": "Do you ship to Norway?", "context": "We ship to Norway in 5 days.",
     "expected": "Norway"},
    {"id": "shoes", "question": "Can I return shoes?", "context": "Shoes can be returned within 30 days.",
     "expected": "30 days"},
    {"id": "script", "question": "<script>alert(1)</script> refund?", "context": "Refunds take 5 days.",
     "expected": "5 days"},
]


def mentions(output, expected):
    return expected.lower() in (output or "").lower()


results = ld.experiment(ITEMS, {"terse": "Answer briefly: {question}", "grounded": "{context}\\nQuestion: {question}"},
                        [mentions], client=client, model="gpt-4o-mini", name="check", progress=False)'''

WIDGET = "w = ld.compare(results)\nw"
PROBE = ('print("sort:", w.table.sort, "| selected:", w.table.selected, "| diff:", w.table.item_diff.get("a"), '
         '"->", w.table.item_diff.get("b"), "| call diff shown:", w.calls.layout.display != "none")')


def _write_notebook(path: Path) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    sources = [SETUP, RUN, WIDGET, PROBE]
    nb.cells = [nbformat.v4.new_markdown_cell("# comparison check")] + [nbformat.v4.new_code_cell(s) for s in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return {"n_code": len(sources), "widget": sources.index(WIDGET), "probe": sources.index(PROBE)}


@pytest.fixture(scope="module")
def run(browser, lab, lab_root, artifacts):
    cells = _write_notebook(lab_root / NB_REL)
    with run_notebook(browser, lab, artifacts, NB_REL, cells, workspace="comparison") as r:
        yield r


def _rows(w):
    return w.locator("tr.ldc-item")


def test_the_comparison_renders_sorts_and_opens_a_diff(run):
    page = run.page
    cell = run.code_cell(run.cells["widget"])
    with run.shot("comparison-01-rendered"):
        assert_clean(run)
        cell.evaluate("e => e.scrollIntoView({block: 'start'})")
        w = cell.locator(".jp-OutputArea-output .llmdebug-comparison")
        expect(w).to_have_count(1)
        expect(w.locator(".ldc-title")).to_contain_text("check · 3 items · 2 variants")
        variants = w.locator("tr.ldc-variant")
        expect(variants).to_have_count(2)
        # terse mentions 1 answer of 3, grounded all 3: the means and their intervals
        expect(variants.nth(0).locator(".ldc-mean")).to_have_text("0.33")
        expect(variants.nth(1).locator(".ldc-mean")).to_have_text("1.00")
        expect(variants.nth(1).locator(".ldc-ci")).to_have_text("[1.00, 1.00]")
        expect(w.locator(".ldc-pair")).to_contain_text("terse − grounded: mentions -0.67")
        rows = _rows(w)
        expect(rows).to_have_count(3)
        assert [rows.nth(i).get_attribute("data-item") for i in range(3)] == ["norway", "shoes", "script"]
        # a prompt holding <script> is text in the page, never an element
        expect(rows.nth(2).locator(".ldc-input")).to_contain_text("<script>alert(1)</script> refund?")
        assert w.locator("script").count() == 0
        expect(rows.nth(1).locator("td.ldc-out").nth(1).locator(".ldc-badge")).to_have_text("mentions 1.00")

    with run.shot("comparison-02-sorted"):
        w.locator("button.ldc-sort[data-sort='disagreement']").click()
        expect(w.locator("button.ldc-sort[data-sort='disagreement']")).to_have_class(re.compile("ldc-active"))
        expect(rows.first).to_have_attribute("data-item", "shoes", timeout=30_000)
        assert [rows.nth(i).get_attribute("data-item") for i in range(3)] == ["shoes", "script", "norway"]
        expect(rows.nth(2).locator(".ldc-spread")).to_have_text("0.00")

    with run.shot("comparison-03-diff"):
        expect(cell.locator(".llmdebug-diff")).to_be_hidden()
        rows.first.locator("button.ldc-diff-btn").click()
        diff = w.locator("tr.ldc-diff-row .ldc-diff")
        expect(diff).to_be_visible(timeout=30_000)
        expect(diff.locator(".ldc-diff-head")).to_contain_text("terse ↔ grounded")
        expect(diff.locator("ins.ldc-ins").first).to_contain_text("Shoes can be returned")
        expect(diff.locator("del.ldc-del").first).to_contain_text("Answer briefly")
        call_diff = cell.locator(".llmdebug-diff")
        expect(call_diff).to_be_visible(timeout=30_000)
        call_diff.scroll_into_view_if_needed()
        expect(call_diff).to_contain_text("Shoes can be returned")

    probe = run.code_cell(run.cells["probe"])
    probe.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    expect(probe.locator(".jp-OutputArea-output")).to_have_text(
        "sort: disagreement | selected: shoes | diff: terse -> grounded | call diff shown: True", timeout=30_000)
    assert_clean(run)


NB07 = "notebooks/07-evaluate-and-compare.ipynb"


def test_notebook_07_runs_in_the_browser_with_its_comparison(browser, lab, lab_root, artifacts):
    code = keep_fake_server(lab_root / NB07)
    widget_cell = next(i for i, c in enumerate(code) if c.source.startswith("comparison = ld.compare"))
    cells = {"n_code": len(code)}
    with run_notebook(browser, lab, artifacts, NB07, cells, workspace="nb07") as r:
        with r.shot("comparison-04-notebook-07"):
            assert_clean(r)
            cell = r.code_cell(widget_cell)
            cell.evaluate("e => e.scrollIntoView({block: 'start'})")
            w = cell.locator(".jp-OutputArea-output .llmdebug-comparison")
            expect(w).to_have_count(1)
            expect(w.locator("tr.ldc-variant")).to_have_count(2)
            expect(_rows(w)).to_have_count(12)
            expect(r.page.locator(".llmdebug-pg")).to_have_count(1)  # the playground of the first miss
            body = r.page.locator(".jp-NotebookPanel").inner_text()
            assert "pandas agrees with the experiment and the widget" in body
            assert "no request sent" in body
