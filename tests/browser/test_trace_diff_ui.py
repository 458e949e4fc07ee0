"""ld.diff of two traces in a real JupyterLab + headless Chromium: an agent's trace and its
ld.replay_trace with the second call edited; the aligned rows and totals draw, and a click
on the changed call opens its call diff below (the click reaches the kernel)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jlab import assert_clean, run_notebook  # skips without a browser

import nbformat  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

NB_REL = "notebooks/trace-diff-check.ipynb"

SETUP = '''\
from llmdebug.testing import FakeLLMServer

server = FakeLLMServer().start()

import llmdebug as ld
ld.init("trace-diff-check.db")

import openai
client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-fake")


@ld.traced(name="lookup", kind="tool")
def lookup(order_id):
    return {"order": order_id, "status": "<b>shipped</b>"}


def agent(question, system="You are terse."):
    with ld.trace("support agent"):
        first = client.chat.completions.create(model="gpt-4o-mini", messages=[
            {"role": "system", "content": system}, {"role": "user", "content": question}])
        found = lookup("1042")
        return client.chat.completions.create(model="gpt-4o-mini", messages=[
            {"role": "system", "content": system}, {"role": "user", "content": f"{first.choices[0].message.content} {found}"}])'''

RUN = '''\
agent("Where is order 1042?")
original = ld.traces().iloc[-1]["trace_id"]
second = ld.calls(trace_id=original).iloc[-1]["id"]
new = ld.replay_trace(original, agent, "Where is order 1042?", at=second, edits={"model": "gpt-4o"})'''

DIFF = "w = ld.diff(original, new)\nw"
PROBE = 'print("selected:", w.table.selected, "call diff:", bool(w.calls.diff))'


def _write_notebook(path: Path) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    sources = [SETUP, RUN, DIFF, PROBE]
    nb.cells = [nbformat.v4.new_markdown_cell("# trace diff check")] + [nbformat.v4.new_code_cell(s) for s in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return {"n_code": len(sources), "diff": sources.index(DIFF), "probe": sources.index(PROBE)}


@pytest.fixture(scope="module")
def run(browser, lab, lab_root, artifacts):
    cells = _write_notebook(lab_root / NB_REL)
    with run_notebook(browser, lab, artifacts, NB_REL, cells, workspace="trace-diff") as r:
        yield r


def test_trace_diff_draws_and_a_click_opens_the_call_diff(run):
    page = run.page
    with run.shot("trace-diff-01"):
        assert_clean(run)
        cell = run.code_cell(run.cells["diff"])
        cell.evaluate("e => e.scrollIntoView({block: 'start'})")
        w = cell.locator(".jp-OutputArea-output .llmdebug-trace-diff")
        expect(w).to_have_count(1)
        rows = w.locator("tr.ldtd-row")
        expect(rows).to_have_count(4)
        expect(w.locator(".ldtd-summary")).to_have_text("1 changed · 0 added · 0 dropped · 3 unchanged")
        changed = w.locator("tr.ldtd-row[data-op='changed']")
        expect(changed).to_contain_text("gpt-4o")
        expect(changed.locator(".ldtd-changes")).to_contain_text("model")
        expect(w.locator(".ldtd-totals")).to_contain_text("cost usd")
        expect(rows.nth(2)).to_contain_text("<b>shipped</b>")  # a tool output, as text
        assert w.locator("b").count() == 0
        expect(cell.locator(".llmdebug-diff")).to_be_hidden()
        changed.click()
        expect(changed).to_have_class(__import__("re").compile("ldtd-selected"))
        call_diff = cell.locator(".llmdebug-diff")
        expect(call_diff).to_be_visible(timeout=30_000)
        expect(call_diff.locator(".ldd-summary")).to_contain_text("model")
    probe = run.code_cell(run.cells["probe"])
    probe.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    expect(probe.locator(".jp-OutputArea-output")).to_have_text("selected: 3 call diff: True", timeout=30_000)
    assert_clean(run)
