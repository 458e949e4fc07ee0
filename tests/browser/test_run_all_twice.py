"""Every demo notebook survives a second Run All in the same kernel, and Replay… from a
trace afterwards sends the call again (the fake server lives as long as the kernel; the
replay goes where the call went, through the client that made it).

Run like a user: Run > Run All Cells, wait for every prompt, Run All Cells again, wait
for every prompt to be renumbered, no traceback or stderr anywhere; then in a trace tree
click an LLM call, Replay…, Run in the playground, and read the new attempt.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from jlab import BAD_TEXTS, MS, TIMEOUT_S, _run_all_cells, run_notebook, widget  # skips without a browser

import nbformat  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

# notebook -> the cell whose trace tree the replay starts from (04 has none: the test adds one)
NOTEBOOKS = {
    "notebooks/01-quickstart.ipynb": "ld.show(ld.last())",
    "notebooks/02-debug-an-agent.ipynb": "ld.show(TRACE)",
    "notebooks/03-replay-failures.ipynb": "ld.show(TRACE)",
    "notebooks/04-costs-and-latency.ipynb": None,
    "notebooks/05-frameworks.ipynb": "ld.show(TRACE)",  # a pydantic-ai agent: needs pydantic-ai ([dev])
}
ADDED_SHOW = "ld.show(ld.last())  # added by the test: a trace to replay from"
_PROMPT = re.compile(r"\[(\d+)\]")


def _prepare(path: Path, show: str | None) -> dict:
    nb = nbformat.read(path, as_version=4)
    assert not any("server.stop()" in c.source for c in nb.cells)  # the server lives as long as the kernel
    if show is None:
        nb.cells.append(nbformat.v4.new_code_cell(ADDED_SHOW))
        nbformat.write(nb, path)
        show = ADDED_SHOW
    code = [c for c in nb.cells if c.cell_type == "code"]
    shows = (i for i, c in enumerate(code) if any(line.startswith(show) for line in c.source.splitlines()))
    return {"n_code": len(code), "show": next(shows)}


def assert_clean(run) -> None:
    """No traceback or stderr (but llmdebug's alert warnings, which 04 sets off on purpose),
    no widget-loading failure, no page error."""
    page = run.page
    stderr = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
    bad = [t for t in stderr if "LLMDebugAlert:" not in t or "Traceback" in t]
    assert not bad, "stderr/traceback output:\n" + "\n".join(bad)
    body = page.locator(".jp-NotebookPanel").inner_text()
    for text in BAD_TEXTS:
        assert text not in body, f"{text!r} in notebook:\n{body[:3000]}"
    assert not run.page_errors, run.page_errors


def _numbers(page) -> list[int | None]:
    texts = page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
    return [int(m.group(1)) if (m := _PROMPT.search(t)) else None for t in texts]


def _run_all_again(run) -> None:
    """Run All Cells a second time; wait until every code cell ran again."""
    page = run.page
    first = max(n for n in _numbers(page) if n is not None)
    _run_all_cells(page)
    deadline = time.monotonic() + TIMEOUT_S  # only against a hang
    while True:
        numbers = _numbers(page)
        if len(numbers) == run.cells["n_code"] and all(n is not None and n > first for n in numbers):
            break
        assert not run.page_errors, f"JavaScript page errors while running again: {run.page_errors}"
        assert time.monotonic() < deadline, f"second Run All did not finish in {TIMEOUT_S}s: {numbers}"
        page.wait_for_timeout(250)
    expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(1, timeout=MS)


@pytest.mark.parametrize("nb_rel", list(NOTEBOOKS))
def test_run_all_twice_then_replay(nb_rel, browser, lab, lab_root, artifacts):
    stem = Path(nb_rel).stem
    if stem == "05-frameworks":
        pytest.importorskip("pydantic_ai")
    cells = _prepare(lab_root / nb_rel, NOTEBOOKS[nb_rel])
    # a workspace per notebook: the notebooks opened before this one stay closed
    with run_notebook(browser, lab, artifacts, nb_rel, cells, offline=True, workspace=f"twice-{stem}") as run:
        with run.shot(f"twice-{stem}-1-first-run"):
            assert_clean(run)
        with run.shot(f"twice-{stem}-2-second-run"):
            _run_all_again(run)
            assert_clean(run)
            setup = run.code_cell(0).locator(".jp-OutputArea-output")
            expect(setup).to_contain_text("fake LLM server at http://127.0.0.1:")
        with run.shot(f"twice-{stem}-3-replay"):
            w = widget(run, run.cells["show"])
            llm = w.locator(".ldt-span", has=w.page.locator(".ldt-kind-llm"))
            expect(llm.first).to_be_visible()
            healthy = w.locator(".ldt-span:not(.ldt-bad)", has=w.page.locator(".ldt-kind-llm"))
            row = healthy.first if healthy.count() else llm.first
            fix_model = not healthy.count()  # only a failed call here (01's last): replay it with a good model
            # a row already selected (ld.show(call) selects it) is not clicked again: the tree
            # would ask the kernel for a selection that does not change, and wait for ever
            if "ldt-selected" not in (row.get_attribute("class") or ""):
                row.click()
            w.locator(".ldt-detail button", has_text="Replay…").click()
            pg = run.code_cell(run.cells["show"]).locator(".llmdebug-pg")
            expect(pg).to_have_count(1, timeout=30_000)
            if fix_model:
                pg.locator(".ldp-param input").first.fill("gpt-4o-mini")
            pg.locator("button.ldp-run").click()
            expect(pg.locator(".ldp-hrow")).to_have_count(2, timeout=60_000)
            expect(pg).to_have_attribute("data-running", "0", timeout=60_000)
            expect(pg.locator(".ldp-latest")).to_contain_text("attempt 1 · ok")
            expect(pg).not_to_contain_text("could not connect")
            expect(pg).not_to_contain_text("is not set")
            pg.locator(".ldp-latest").scroll_into_view_if_needed()
            assert_clean(run)
