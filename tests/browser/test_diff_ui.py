"""ld.diff() in a real JupyterLab + headless Chromium: a small notebook makes two calls
to the fake server (different system prompt, one changed message holding a hostile
string, different temperature) and shows their diff; the test looks at the highlights,
switches views, opens a folded run and checks that the switch reached the kernel."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jlab import assert_clean, run_notebook  # skips without a browser

import nbformat  # noqa: E402
from playwright.sync_api import expect  # noqa: E402


NB_REL = "notebooks/diff-check.ipynb"
HOSTILE = "<img src=x onerror=window.__pwned=1>"

SETUP = '''\
import os
from llmdebug.testing import FakeLLMServer

server = FakeLLMServer().start()  # deterministic, on 127.0.0.1
os.environ.update(OPENAI_BASE_URL=server.openai_base_url, OPENAI_API_KEY="sk-fake")

import llmdebug as ld
ld.init()

import openai
client = openai.OpenAI()
HISTORY = [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi! How can I help?"},
           {"role": "user", "content": "I need help planning a trip."},
           {"role": "assistant", "content": "Happy to help. Where to?"}]
RULES = "\\n".join(f"Rule {k}: keep answer number {k} short." for k in range(1, 21))'''

CALL_A = '''\
client.chat.completions.create(model="gpt-4o-mini", temperature=0.2, messages=[
    {"role": "system", "content": "You are a terse travel agent.\\n" + RULES}, *HISTORY,
    {"role": "user", "content": "What should I see in Paris?"}])
a = ld.last()'''

CALL_B = f'''\
client.chat.completions.create(model="gpt-4o-mini", temperature=0.9, messages=[
    {{"role": "system", "content": "You are a friendly travel agent.\\n" + RULES}}, *HISTORY,
    {{"role": "user", "content": "What should I see in Rome? {HOSTILE}"}}])
b = ld.last()'''

DIFF = "w = ld.diff(a, b)\nw"
PROBE = 'print("view:", w.view)'


def _write_notebook(path: Path) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    sources = [SETUP, CALL_A, CALL_B, DIFF, PROBE]
    nb.cells = [nbformat.v4.new_markdown_cell("# ld.diff check")] + [nbformat.v4.new_code_cell(s) for s in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return {"n_code": len(sources), "diff": sources.index(DIFF), "probe": sources.index(PROBE)}


@pytest.fixture(scope="module")
def run(browser, lab, lab_root, artifacts):
    cells = _write_notebook(lab_root / NB_REL)
    with run_notebook(browser, lab, artifacts, NB_REL, cells) as r:
        yield r


def _widget(run):
    cell = run.code_cell(run.cells["diff"])
    cell.evaluate("e => e.scrollIntoView({block: 'start'})")
    w = cell.locator(".jp-OutputArea-output .llmdebug-diff")
    expect(w).to_have_count(1)
    expect(w).to_have_attribute("data-painted", "1")
    return w


def test_diff_renders_highlights_and_keeps_hostile_text_as_text(run):
    with run.shot("diff-01-side-by-side"):
        assert_clean(run)
        w = _widget(run)
        expect(w).to_have_attribute("data-view", "side")
        expect(w.locator(".ldd-call-a .ldd-model")).to_have_text("gpt-4o-mini")
        expect(w.locator(".ldd-summary")).to_contain_text("system prompt")
        expect(w.locator(".ldd-summary")).to_contain_text("temperature")
        # system prompt: the old word struck on the left, the new one inserted on the right
        system = w.locator(".ldd-sec-system")
        expect(system.locator(".ldd-cell-a del.ldd-del")).to_have_text("terse")
        expect(system.locator(".ldd-cell-b ins.ldd-ins")).to_have_text("friendly")
        # the 20 shared rule lines are folded
        expect(system.locator(".ldd-fold").first).to_contain_text("unchanged lines")
        # the changed message, with the hostile string shown as characters
        changed = w.locator(".ldd-sec-messages .ldd-row[data-op='changed']")
        expect(changed).to_have_count(1)
        expect(changed.locator(".ldd-cell-a del.ldd-del").first).to_contain_text("Paris")
        expect(changed.locator(".ldd-cell-b ins.ldd-ins").first).to_contain_text(HOSTILE)
        temp = w.locator("tr.ldd-param[data-key='temperature']")
        expect(temp).to_have_attribute("data-op", "changed")
        expect(temp.locator("del.ldd-del")).to_have_text("0.2")
        expect(temp.locator("ins.ldd-ins")).to_have_text("0.9")
        expect(w.locator(".ldd-sec-output del.ldd-del").first).to_be_visible()
        # the deltas row is colour-coded per sign
        expect(w.locator(".ldd-delta[data-key='input_tokens']")).to_have_class(re.compile(r"ldd-(worse|better|same)"))
        assert run.page.evaluate("typeof window.__pwned") == "undefined"
        assert w.locator("img").count() == 0 and w.locator("script").count() == 0


def test_unchanged_runs_fold_and_expand(run):
    with run.shot("diff-02-expanded"):
        w = _widget(run)
        msgs = w.locator(".ldd-sec-messages")
        fold = msgs.locator("button.ldd-fold-rows")
        expect(fold).to_have_text("… 4 unchanged messages")
        expect(msgs.locator(".ldd-row[data-op='equal']")).to_have_count(0)
        fold.click()
        expect(msgs.locator(".ldd-row[data-op='equal']")).to_have_count(4)
        expect(msgs.locator(".ldd-row[data-op='equal']").nth(2)).to_contain_text("I need help planning a trip.")
        # folded lines inside the system prompt open in place, in both columns at once
        left, right = w.locator(".ldd-sec-system .ldd-cell-a"), w.locator(".ldd-sec-system .ldd-cell-b")
        expect(right).not_to_contain_text("Rule 10: keep answer number 10 short.")
        right.locator(".ldd-fold").first.click()
        expect(right).to_contain_text("Rule 10: keep answer number 10 short.")
        expect(left).to_contain_text("Rule 10: keep answer number 10 short.")
        expect(w.locator(".ldd-sec-system .ldd-fold")).to_have_count(0)
        assert right.locator("pre").inner_text().startswith("You are a friendly travel agent.\nRule 1: keep")


def test_switch_to_unified_and_back_reaches_the_kernel(run):
    page = run.page
    with run.shot("diff-03-unified"):
        w = _widget(run)
        w.locator(".ldd-view-btn[data-view='unified']").click()
        expect(w).to_have_attribute("data-view", "unified")
        expect(w.locator(".ldd-view-btn[data-view='unified']")).to_have_class(re.compile("ldd-active"))
        expect(w.locator(".ldd-row")).to_have_count(0)
        changed = w.locator(".ldd-sec-messages .ldd-urow[data-op='changed']")
        expect(changed).to_have_count(1)
        expect(changed.locator("del.ldd-del").first).to_contain_text("Paris")
        expect(changed.locator("ins.ldd-ins").first).to_contain_text(HOSTILE)
        # what the user opened stays open in the other view
        expect(w.locator(".ldd-sec-messages .ldd-urow[data-op='equal']")).to_have_count(4)
        expect(w.locator(".ldd-sec-system")).to_contain_text("Rule 10: keep answer number 10 short.")
        expect(w.locator("tr.ldd-param[data-key='temperature'] .ldd-pval")).to_contain_text("0.2→0.9")
        # the kernel got the switch: re-run the probe cell
        probe = run.code_cell(run.cells["probe"])
        probe.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Control+Enter")  # run it, stay on it
        expect(probe.locator(".jp-OutputArea-output")).to_have_text("view: unified", timeout=30_000)
        w.evaluate("e => e.scrollIntoView({block: 'start'})")
    with run.shot("diff-04-back-to-side"):
        w.locator(".ldd-view-btn[data-view='side']").click()
        expect(w).to_have_attribute("data-view", "side")
        expect(w.locator(".ldd-sec-messages .ldd-row[data-op='changed']")).to_have_count(1)
        probe.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Control+Enter")  # run it, stay on it
        expect(probe.locator(".jp-OutputArea-output")).to_have_text("view: side", timeout=30_000)
        w.evaluate("e => e.scrollIntoView({block: 'start'})")
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert_clean(run)
