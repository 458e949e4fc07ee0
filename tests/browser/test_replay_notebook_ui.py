"""notebooks/03-replay-failures.ipynb in a real JupyterLab + headless Chromium, run like a
user: the failed calls are red in the trace, the playground opens on the failed call with
its history, the diff renders, and clicking Run in the playground replays the call (an
edit that keeps the bug fails again, the fixed prompt succeeds)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jlab import assert_clean, keep_fake_server, run_notebook, widget  # skips without a browser

from playwright.sync_api import expect  # noqa: E402


NB_REL = "notebooks/03-replay-failures.ipynb"
JSON_RULE = "must contain the word 'json'"


def _cells(path: Path) -> dict:
    code = keep_fake_server(path)  # the playground test replays through it after Run All
    return {
        "n_code": len(code),
        "run": next(i for i, c in enumerate(code) if 'with ld.trace("triage", batch="monday")' in c.source),
        "show": next(i for i, c in enumerate(code) if c.source.strip() == "ld.show(TRACE)"),
        "pg": next(i for i, c in enumerate(code) if c.source.startswith("pg = ld.playground(bad)")),
        "diff": next(i for i, c in enumerate(code) if c.source.strip() == "ld.diff(bad, fixed)"),
        "ship": next(i for i, c in enumerate(code) if c.source.startswith("PROMPT_V2 = FIXED_V2")),
    }


@pytest.fixture(scope="module")
def run(browser, lab, lab_root, artifacts):
    with run_notebook(browser, lab, artifacts, NB_REL, _cells(lab_root / NB_REL)) as r:
        yield r


def test_replay_notebook_runs_clean_and_counts_the_errors(run):
    with run.shot("replay-01-clean"):
        assert_clean(run)
        summary = run.code_cell(run.cells["run"]).locator("details.llmdebug-summary > summary")
        expect(summary).to_contain_text("6 LLM calls")
        expect(summary).to_contain_text("3 errors")
        # the fixed batch at the end: no errors
        expect(run.code_cell(run.cells["ship"]).locator(".jp-OutputArea-output").first).to_contain_text(
            "manual queue: 0")


def test_trace_shows_the_three_failed_calls(run):
    with run.shot("replay-02-trace"):
        w = widget(run, run.cells["show"])
        expect(w.locator(".ldt-title")).to_have_text("triage")
        expect(w.locator(".ldt-span").first.locator(".ldt-err-below")).to_have_count(1)
        failed = w.locator(".ldt-span.ldt-bad")
        expect(failed).to_have_count(3)
        failed.first.click()
        detail = w.locator(".ldt-detail")
        expect(detail.locator(".ldt-error-box")).to_contain_text("BadRequestError (HTTP 400)", timeout=30_000)
        expect(detail.locator(".ldt-error-box")).to_contain_text(JSON_RULE)


def test_playground_opens_on_the_failed_call_with_its_history(run):
    with run.shot("replay-03-playground"):
        cell = run.code_cell(run.cells["pg"])
        cell.evaluate("e => e.scrollIntoView({block: 'start'})")
        pg = cell.locator(".jp-OutputArea-output .llmdebug-pg")
        expect(pg).to_have_count(1)
        texts = pg.locator(".ldp-text")
        expect(texts).to_have_count(2)  # the system prompt and the ticket, as the failed call sent them
        expect(texts.nth(0)).to_have_value(re.compile(r"^Triage the support ticket: .*order id\.$"))
        expect(texts.nth(1)).to_have_value("Where is order 2231? It has been two weeks.")
        expect(pg.locator(".ldp-param input").first).to_have_value("gpt-4o-mini")
        # the original and the notebook's pg.run(...) attempt
        rows = pg.locator(".ldp-hrow")
        expect(rows).to_have_count(2)
        expect(rows.nth(0)).to_have_class(re.compile("ldp-bad"))
        expect(rows.nth(0)).to_contain_text(JSON_RULE)
        expect(rows.nth(1)).to_contain_text("attempt 1")
        expect(rows.nth(1)).not_to_have_class(re.compile("ldp-bad"))
        expect(pg.locator(".ldp-latest")).to_contain_text("attempt 1 · ok")
        # the diff under the history: original against attempt 1, the added sentence highlighted
        expect(pg.locator(".ldp-diff .llmdebug-diff")).to_have_count(1, timeout=30_000)
        expect(pg.locator(".ldp-diff")).to_contain_text("Reply in JSON")
        pg.locator(".ldp-history").scroll_into_view_if_needed()


def test_diff_of_the_failed_and_the_fixed_call(run):
    with run.shot("replay-04-diff"):
        cell = run.code_cell(run.cells["diff"])
        cell.evaluate("e => e.scrollIntoView({block: 'start'})")
        diff = cell.locator(".jp-OutputArea-output .llmdebug-diff")
        expect(diff).to_have_count(1)
        expect(diff).to_contain_text("Reply in JSON")
        expect(diff).to_contain_text("BadRequestError")
        expect(diff.locator("ins, .ldd-ins, [class*='ins']").first).to_be_visible()


def test_run_in_the_playground_after_editing(run):
    cell = run.code_cell(run.cells["pg"])
    pg = cell.locator(".jp-OutputArea-output .llmdebug-pg")
    texts = pg.locator(".ldp-text")
    rows = pg.locator(".ldp-hrow")
    with run.shot("replay-05-playground-run-still-broken"):
        # another ticket, same v2 prompt: JSON mode still refuses it
        texts.nth(1).fill("Order 7777 never arrived. Where is it?")
        pg.locator("button.ldp-run").click()
        expect(rows).to_have_count(3, timeout=60_000)
        expect(pg).to_have_attribute("data-running", "0", timeout=60_000)
        expect(pg.locator(".ldp-latest")).to_contain_text("attempt 2 · error")
        expect(pg.locator(".ldp-latest .ldp-err")).to_contain_text(JSON_RULE)
        expect(rows.nth(2)).to_have_class(re.compile("ldp-bad"))
        pg.locator(".ldp-latest").scroll_into_view_if_needed()
    with run.shot("replay-06-playground-run-fixed"):
        texts.nth(0).fill(texts.nth(0).input_value() + " Reply in JSON.")
        pg.locator("button.ldp-run").click()
        expect(rows).to_have_count(4, timeout=60_000)
        expect(pg).to_have_attribute("data-running", "0", timeout=60_000)
        expect(pg.locator(".ldp-latest")).to_contain_text("attempt 3 · ok")
        expect(pg.locator(".ldp-latest .ldp-output")).to_contain_text("Order 7777 never arrived")
        expect(rows.nth(3)).not_to_have_class(re.compile("ldp-bad"))
        # the diff follows the newest attempt: original against attempt 3
        diff = pg.locator(".ldp-diff")
        expect(diff).to_contain_text("Order 7777")
        expect(diff).to_contain_text("Reply in JSON")
        pg.locator(".ldp-latest").scroll_into_view_if_needed()
