"""notebooks/01-quickstart.ipynb in a real JupyterLab + headless Chromium, run like a user.

One server, one browser and one executed notebook for the whole module (see conftest.py);
the tests below then look at what the user sees: no errors, the per-cell llmdebug summary,
and that hostile prompt / trace-name text shows as characters and never runs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from jlab import assert_clean, run_notebook, widget  # skips without a browser

import nbformat  # noqa: E402
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError  # noqa: E402
from playwright.sync_api import expect  # noqa: E402



NB_REL = "notebooks/01-quickstart.ipynb"
HOSTILE_TRACE = "<script>window.__pwned=2</script>"
HOSTILE_PROMPT = "<img src=x onerror=window.__pwned=1>"
HOSTILE_SRC = f'''
with ld.trace({HOSTILE_TRACE!r}):
    client.chat.completions.create(model=MODEL, messages=[{{"role": "user", "content": {HOSTILE_PROMPT!r}}}])
%llmdebug show
'''.strip()
PROBE_SRC = 'import sys, llmdebug\nprint(f"KERNEL_PREFIX={sys.prefix} LLMDEBUG={llmdebug.__file__}")'


def _prepare_notebook(path: Path) -> dict[str, int]:
    """Add the hostile cell and a kernel probe cell at the end. Returns code-cell indices by role."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(HOSTILE_SRC))
    nb.cells.append(nbformat.v4.new_code_cell(PROBE_SRC))
    nbformat.write(nb, path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    idx = {"n_code": len(code)}
    idx["hostile"] = next(i for i, c in enumerate(code) if c.source == HOSTILE_SRC)
    idx["probe"] = next(i for i, c in enumerate(code) if c.source == PROBE_SRC)
    idx["load_ext"] = next(i for i, c in enumerate(code) if "%load_ext llmdebug" in c.source)
    # cells that call an LLM (and so get a summary); everything else must not get one
    idx["llm"] = [i for i, c in enumerate(code) if "chat.completions.create(" in c.source]
    idx["show_all"] = next(i for i, c in enumerate(code) if c.source.strip() == "ld.show()")
    idx["show_last"] = next(i for i, c in enumerate(code) if c.source.startswith("ld.show(ld.last())"))
    return idx


@pytest.fixture(scope="module")
def run(browser, lab, lab_root, artifacts):
    """The quickstart notebook opened and executed through Run > Run All Cells."""
    cells = _prepare_notebook(lab_root / NB_REL)
    with run_notebook(browser, lab, artifacts, NB_REL, cells) as r:
        yield r


def test_notebook_runs_clean_in_this_venv(run):
    with run.shot("01-clean"):
        assert_clean(run)
        # the kernel is this venv's python, and llmdebug imports in it
        probe = run.code_cell(run.cells["probe"]).locator(".jp-OutputArea-output")
        expect(probe).to_contain_text(f"KERNEL_PREFIX={sys.prefix} ", timeout=10_000)
        expect(probe).to_contain_text("llmdebug/__init__.py")
        expect(run.code_cell(run.cells["load_ext"]).locator(".jp-OutputArea-output")).to_contain_text(
            "llmdebug: capturing openai")
    # the notebook's store landed in the temp copy, not the repo
    assert (run.lab.root / "notebooks" / "01-quickstart.db").exists()
    assert not (run.lab.root / "notebooks" / "llmdebug.db").exists()  # its own file, and only that


def test_cell_summary_renders_and_expands(run):
    page = run.page
    with run.shot("02-summary"):
        llm_cells = set(run.cells["llm"])
        assert len(llm_cells) >= 4, run.cells  # 3 in the quickstart + the hostile one
        for i in range(run.cells["n_code"]):
            summaries = run.code_cell(i).locator(".jp-OutputArea-output details.llmdebug-summary")
            if i not in llm_cells:
                assert summaries.count() == 0, f"code cell {i} made no LLM call but shows a summary"
                continue
            expect(summaries).to_have_count(1)
            head = summaries.locator("> summary")
            text = head.inner_text()
            assert text.startswith("llmdebug: ") and "LLM call" in text, text
            tree = summaries.locator(".llmdebug-tree pre").first
            expect(tree).to_be_hidden()
            head.click()
            expect(summaries).to_have_attribute("open", "")
            expect(tree).to_be_visible()
            expect(tree).to_contain_text("openai.chat.completions")
        first = run.code_cell(min(llm_cells))
        first.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(300)


def test_hostile_prompt_and_trace_name_show_as_text(run):
    page = run.page
    with run.shot("03-hostile"):
        cell = run.code_cell(run.cells["hostile"])
        cell.evaluate("e => e.scrollIntoView({block: 'start'})")
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator(".jp-OutputArea-output img[src='x']").count() == 0
        assert page.locator(".jp-OutputArea-output script").count() == 0
        # %llmdebug show: the widget's title shows the trace name's characters
        widget = cell.locator(".jp-OutputArea-output .llmdebug-tt")
        expect(widget).to_have_count(1)
        expect(widget.locator(".ldt-title")).to_have_text(HOSTILE_TRACE)
        # and the prompt, once its span is opened, shows as characters in the detail pane
        widget.locator(".ldt-span", has_text="openai.chat.completions").click()
        expect(widget.locator(".ldt-detail .ldt-msg-user")).to_contain_text(HOSTILE_PROMPT, timeout=30_000)
        # and so does the expanded summary tree of that cell
        summary = cell.locator("details.llmdebug-summary")
        if summary.get_attribute("open") is None:
            summary.locator("> summary").click()
        expect(summary.locator(".llmdebug-tree pre")).to_contain_text(HOSTILE_TRACE)
        page.wait_for_timeout(300)
        assert page.evaluate("typeof window.__pwned") == "undefined"


def test_traces_browser_opens_a_trace_and_its_spans(run):
    with run.shot("04-traces-browser"):
        w = widget(run, run.cells["show_all"])
        table = w.locator(".ldt-traces .ldt-trace-row")
        # quickstart, weather agent, the flaky call, the failed call (the cell runs before the hostile one)
        assert table.count() == 4, table.all_inner_texts()
        expect(table.first).to_have_class(re.compile("ldt-current"))  # newest first, and open
        # a click on a trace row reaches Python, which answers with that trace's spans
        table.filter(has_text="weather agent").click()
        expect(w.locator(".ldt-title")).to_have_text("weather agent", timeout=30_000)
        expect(w.locator(".ldt-span")).to_have_count(3)  # trace > plan (agent) > llm call
        expect(w.locator(".ldt-span").nth(1)).to_contain_text("plan")
        # clicking the LLM span loads its payload: the prompt, the tool offered, the tool call
        w.locator(".ldt-span", has_text="openai.chat.completions").click()
        detail = w.locator(".ldt-detail")
        expect(detail.locator(".ldt-msg-user")).to_contain_text("Weather in Paris?", timeout=30_000)
        expect(detail).to_contain_text("Tools offered (1)")
        expect(detail.locator(".ldt-toolcall-name").first).to_contain_text("get_weather")
        expect(detail).to_contain_text("HTTP attempts (1)")
        # filters go to Python and come back as a shorter table: only the failed call's trace
        w.locator(".ldt-filters select").first.select_option("error")
        expect(table).to_have_count(1, timeout=30_000)
        expect(table.first).to_contain_text("openai.chat.completions")
        expect(table.first).to_contain_text("1 error")


def test_last_call_selected_keyboard_and_search(run):
    page = run.page
    with run.shot("05-last-call"):
        w = widget(run, run.cells["show_last"])
        # ld.show(ld.last()): the failed call, selected, its error and attempts in the detail pane
        expect(w.locator(".ldt-span.ldt-selected")).to_contain_text("BadRequestError")
        detail = w.locator(".ldt-detail")
        expect(detail.locator(".ldt-error-box")).to_contain_text("BadRequestError (HTTP 400)")
        expect(detail.locator(".ldt-msg-user")).to_contain_text("bad request")
        expect(detail).to_contain_text("HTTP attempts (1)")
        # clicking the row Python selected changes nothing the kernel sees: the detail stays
        w.locator(".ldt-span.ldt-selected").click()
        expect(detail.locator(".ldt-error-box")).to_contain_text("BadRequestError (HTTP 400)")
        # the copy buttons put the conversation and the output on the clipboard
        detail.locator("button", has_text="Copy prompt").click()
        expect(detail.locator("button", has_text="Copied")).to_have_count(1)
        assert page.evaluate("navigator.clipboard.readText()") == "[user]\nbad request"
    with run.shot("06-keyboard-search"):
        w = widget(run, run.cells["show_all"])
        w.locator(".ldt-filters select").first.select_option("")
        w.locator(".ldt-trace-row", has_text="quickstart").click()
        expect(w.locator(".ldt-title")).to_have_text("quickstart", timeout=30_000)
        rows = w.locator(".ldt-span")
        expect(rows).to_have_count(3)
        expect(rows.first).to_contain_text("quickstart")
        rows.first.click()
        tree = w.locator(".ldt-tree")
        expect(tree).to_be_focused()
        # as a user would, wait for the click to land (the row selected, its detail loaded)
        # before the next key: a key pressed mid-reload of the trace would start from nothing
        expect(rows.first).to_have_class(re.compile("ldt-selected"))
        expect(w.locator(".ldt-detail")).not_to_contain_text("loading", timeout=30_000)
        page.keyboard.press("ArrowDown")
        expect(rows.nth(1)).to_have_class(re.compile("ldt-selected"))
        expect(w.locator(".ldt-detail .ldt-msg-user")).to_contain_text("Give me one tip", timeout=30_000)
        page.keyboard.press("ArrowDown")
        expect(w.locator(".ldt-detail .ldt-msg-user")).to_contain_text("Count to five.", timeout=30_000)
        expect(w.locator(".ldt-detail")).to_contain_text("first token")  # a stream has a TTFT
        w.locator(".ldt-detail button", has_text="Copy output").click()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied and copied == w.locator(".ldt-detail .ldt-output").inner_text()
        tree.focus()  # the button took the focus
        page.keyboard.press("ArrowLeft")  # to the parent
        expect(rows.nth(0)).to_have_class(re.compile("ldt-selected"))
        page.keyboard.press("Enter")  # collapse it
        expect(rows).to_have_count(1)
        page.keyboard.press("Enter")
        expect(rows).to_have_count(3)
        # search matches prompt text in Python (FTS), and keeps the matching span's ancestors
        search = w.locator(".ldt-search")
        search.fill("five")
        expect(rows).to_have_count(2, timeout=30_000)
        expect(rows.nth(1)).to_contain_text("openai.chat.completions")
        expect(rows.nth(0)).to_have_class(re.compile("ldt-context"))
        search.fill("")
        expect(rows).to_have_count(3)


def test_widget_follows_the_dark_theme(run):
    page = run.page

    def background() -> tuple[int, ...]:
        css = widget(run, run.cells["show_all"]).evaluate("e => getComputedStyle(e).backgroundColor")
        return tuple(int(x) for x in re.findall(r"\d+", css)[:3])

    light = background()
    with run.shot("07-dark-theme"):
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Settings$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).hover()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^JupyterLab Dark$")).click()
        expect(page.locator("body[data-jp-theme-light='false']")).to_have_count(1, timeout=30_000)
        # the widget's own colours follow once the theme's CSS variables apply: wait for that
        # (a deadline only against a hang), then read them
        try:
            page.wait_for_function(
                "e => (getComputedStyle(e).backgroundColor.match(/\\d+/g) || []).slice(0, 3)"
                ".reduce((a, b) => a + Number(b), 0) < 200",
                arg=widget(run, run.cells["show_all"]).element_handle(), timeout=30_000)
        except PlaywrightTimeoutError:
            pass  # the assertion below says which colours it kept
        dark = background()
        assert sum(light) > 600 and sum(dark) < 200, (light, dark)
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Settings$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).hover()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^JupyterLab Light$")).click()
    expect(page.locator("body[data-jp-theme-light='true']")).to_have_count(1, timeout=30_000)
