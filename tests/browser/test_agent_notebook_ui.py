"""notebooks/02-debug-an-agent.ipynb in a real JupyterLab + headless Chromium, run like a
user, then investigated the way the notebook tells: open the agent's trace, click the
failed call, the retrieval step and the tool round trip."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jlab import assert_clean, keep_fake_server, run_notebook, widget  # skips without a browser

from playwright.sync_api import expect  # noqa: E402


NB_REL = "notebooks/02-debug-an-agent.ipynb"


def _cells(path: Path) -> dict:
    code = keep_fake_server(path)  # the playground test replays through it after Run All
    return {
        "n_code": len(code),
        "run": next(i for i, c in enumerate(code) if 'with ld.trace("refund agent"' in c.source),
        "show_trace": next(i for i, c in enumerate(code) if c.source.strip() == "ld.show(TRACE)"),
        "show_bad": next(i for i, c in enumerate(code) if c.source.strip() == "ld.show(bad)"),
        "traces": next(i for i, c in enumerate(code) if c.source.strip() == "ld.traces(limit=3)"),
    }


@pytest.fixture(scope="module")
def run(browser, lab, lab_root, artifacts):
    with run_notebook(browser, lab, artifacts, NB_REL, _cells(lab_root / NB_REL)) as r:
        yield r


def test_agent_notebook_runs_clean_and_summarises_the_run(run):
    with run.shot("agent-01-clean"):
        assert_clean(run)
        summary = run.code_cell(run.cells["run"]).locator("details.llmdebug-summary > summary")
        expect(summary).to_contain_text("1 error")
        expect(summary).to_contain_text("2 retries")


def test_investigate_the_agent_trace_by_clicking(run):
    with run.shot("agent-02-trace"):
        w = widget(run, run.cells["show_trace"])
        expect(w.locator(".ldt-title")).to_have_text("refund agent")
        rows = w.locator(".ldt-span")
        # the root holds a failure, the flaky call shows its retries, the failed call is red
        expect(rows.first.locator(".ldt-err-below")).to_have_count(1)
        expect(w.locator(".ldt-span.ldt-retried .ldt-retry")).to_have_text("↻2")
        failed = w.locator(".ldt-span.ldt-bad")
        expect(failed).to_have_count(1)
        failed.click()
        detail = w.locator(".ldt-detail")
        expect(detail.locator(".ldt-error-box")).to_contain_text("BadRequestError (HTTP 400)", timeout=30_000)
        expect(detail.locator(".ldt-kv", has_text="temperature")).to_contain_text("5")
    with run.shot("agent-03-retrieval"):
        w.locator(".ldt-span", has_text="retrieve faq").click()
        expect(detail.locator(".ldt-section", has_text="Input")).to_contain_text("Can I get a refund", timeout=30_000)
        expect(detail.locator(".ldt-section", has_text="Output")).to_contain_text("Return shipping")
    with run.shot("agent-04-tool-round-trip"):
        llm_rows = w.locator(".ldt-span", has=w.page.locator(".ldt-kind-llm"))
        # the follow-up call is the one whose prompt carries the tool's result
        for k in range(llm_rows.count()):
            llm_rows.nth(k).click()
            expect(detail.locator(".ldt-detail-title")).to_have_count(1, timeout=30_000)
            expect(w.locator(".ldt-span.ldt-selected")).to_have_count(1)
            run.page.wait_for_timeout(200)
            if detail.locator(".ldt-msg-tool").count():
                break
        tool_msg = detail.locator(".ldt-msg-tool")
        expect(tool_msg).to_have_count(1)
        expect(tool_msg).to_contain_text("rain jacket")
        expect(detail.locator(".ldt-msg-assistant .ldt-toolcall-name").first).to_contain_text("lookup_order")
        tool_msg.scroll_into_view_if_needed()


def test_show_of_a_call_opens_with_that_call_selected(run):
    with run.shot("agent-05-show-bad"):
        w = widget(run, run.cells["show_bad"])
        expect(w.locator(".ldt-span.ldt-selected")).to_have_class(re.compile("ldt-bad"))
        expect(w.locator(".ldt-detail .ldt-error-box")).to_contain_text("BadRequestError")


def test_replay_from_the_tree_in_a_playground_while_the_kernel_stays_free(run):
    page = run.page
    with run.shot("agent-06-playground-open"):
        w = widget(run, run.cells["show_trace"])
        w.locator(".ldt-span.ldt-bad").click()
        detail = w.locator(".ldt-detail")
        detail.locator("button", has_text="Replay…").click()
        pg = run.code_cell(run.cells["show_trace"]).locator(".llmdebug-pg")
        expect(pg).to_have_count(1, timeout=30_000)
        texts = pg.locator(".ldp-text")
        expect(texts).to_have_count(1)
        expect(texts.first).to_have_value(re.compile("^One word, the intent of: Can I get a refund"))
        pg.scroll_into_view_if_needed()
    with run.shot("agent-07-playground-run"):
        # fix the call: a valid temperature, a slow healthy model (so the run takes a while)
        texts.first.fill("One word, the intent of: I want my money back")
        params = pg.locator(".ldp-param input")
        params.nth(0).fill("gpt-4o-mini-slow-3000")
        params.nth(1).fill("0.2")
        pg.locator("button.ldp-run").click()
        expect(pg).to_have_attribute("data-running", "1", timeout=10_000)
        # meanwhile the kernel runs a cell
        cell = run.code_cell(run.cells["traces"])
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Escape")
        page.keyboard.press("Control+Enter")
        expect(pg).to_have_attribute("data-running", "1")  # still replaying...
        expect(cell.locator(".jp-InputArea-prompt")).to_have_text(re.compile(r"\[\d+\]"), timeout=10_000)
        # ...and then the new answer, the history and the diff against the original
        expect(pg).to_have_attribute("data-running", "0", timeout=60_000)
        expect(pg.locator(".ldp-latest")).to_contain_text("attempt 1 · ok")
        expect(pg.locator(".ldp-latest .ldp-output")).to_contain_text("money back")
        expect(pg.locator(".ldp-hrow")).to_have_count(2)
        diff = pg.locator(".ldp-diff")
        expect(diff).to_contain_text("gpt-4o-mini-slow-3000")
        expect(diff.locator("ins, .ldd-ins, [class*='ins']").first).to_be_visible()
        pg.locator(".ldp-latest").scroll_into_view_if_needed()


def test_compare_two_calls_from_the_tree(run):
    with run.shot("agent-08-compare"):
        w = widget(run, run.cells["show_trace"])
        llm = w.locator(".ldt-span", has=w.page.locator(".ldt-kind-llm"))
        expect(llm).to_have_count(4)
        llm.nth(1).click()  # the agent's first call (it asks for the tool)
        w.locator(".ldt-detail button", has_text="Compare with…").click()
        expect(w.locator(".ldt-message")).to_contain_text("Click another LLM call")
        llm.nth(2).click()  # the follow-up call, with the tool's result
        diff = run.code_cell(run.cells["show_trace"]).locator(".llmdebug-diff")
        expect(diff).to_have_count(1, timeout=30_000)
        expect(run.code_cell(run.cells["show_trace"]).locator(".llmdebug-pg")).to_have_count(0)  # replaced
        expect(diff).to_contain_text("2 added")  # the assistant's tool call and the tool result
        expect(diff).to_contain_text("rain jacket")
        diff.scroll_into_view_if_needed()
