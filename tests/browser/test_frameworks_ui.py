"""notebooks/05-frameworks.ipynb in a real JupyterLab + headless Chromium: a pydantic-ai
agent's own OpenTelemetry tree (agent > llm, tool, llm) drawn by the trace widget, each
model call one row with its tokens, and its messages in the detail pane."""

from __future__ import annotations

from pathlib import Path

import pytest

from jlab import assert_clean, keep_fake_server, run_notebook, widget  # skips without a browser

from playwright.sync_api import expect  # noqa: E402

pytest.importorskip("pydantic_ai")

NB_REL = "notebooks/05-frameworks.ipynb"


def _cells(path: Path) -> dict:
    code = keep_fake_server(path)
    return {
        "n_code": len(code),
        "show": next(i for i, c in enumerate(code) if c.source.strip().endswith("ld.show(TRACE)")),
    }


@pytest.fixture(scope="module")
def run(browser, lab, lab_root, artifacts):
    with run_notebook(browser, lab, artifacts, NB_REL, _cells(lab_root / NB_REL)) as r:
        yield r


def test_frameworks_notebook_shows_the_agent_tree(run):
    with run.shot("frameworks-01-tree"):
        assert_clean(run)
        w = widget(run, run.cells["show"])
        expect(w.locator(".ldt-title")).to_have_text("invoke_agent forecaster")
        rows = w.locator(".ldt-span")
        expect(rows).to_have_count(4)
        kinds = [rows.nth(i).locator(".ldt-kind").inner_text().strip().lower() for i in range(4)]
        assert kinds == ["agent", "llm", "tool", "llm"], kinds
        expect(rows.nth(2)).to_contain_text("execute_tool weather")
        for i in (1, 3):
            expect(rows.nth(i)).to_contain_text("gpt-4o-mini")
    with run.shot("frameworks-02-llm-detail"):
        rows.nth(3).click()
        detail = w.locator(".ldt-detail")
        expect(detail).to_contain_text("What is the weather in Paris?", timeout=30_000)
        expect(detail).to_contain_text("sunny and 24°C")  # the tool result sent back
