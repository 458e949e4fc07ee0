"""Human feedback in the trace tree, in a real JupyterLab + headless Chromium (offline), at
1400 px with the file browser open: select a call, 👍, a score and a comment, Save; the row's
badge and the detail pane show them, the kernel and the db file hold them as human scores; a
second save from the keyboard alone; a judge's score opens the judge's call; the dark theme;
and ld.charts.scores draws."""

from __future__ import annotations

import re
import sqlite3

import pytest

from jlab import assert_clean, run_notebook, widget  # skips without a browser

import nbformat  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

NB_REL = "notebooks/feedback-check.ipynb"
DB = "feedback-check.db"
COMMENT = "<script>alert('x')</script> clear answer"

SETUP = f'''
from pathlib import Path
import openai
import llmdebug as ld
from llmdebug.testing import FakeLLMServer

server = FakeLLMServer().start()  # deterministic, on 127.0.0.1
for suffix in ("", "-wal", "-shm"):
    Path("{DB}" + suffix).unlink(missing_ok=True)
ld.init("{DB}")
client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-fake")
with ld.trace("support answer") as t:
    client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "Where is order 3310?"}}])
    client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "And order 2231?"}}])
with ld.trace("judge") as jt:  # an LLM judge's own call, in a trace of its own
    client.chat.completions.create(model="gpt-4o", messages=[{{"role": "user", "content": "Rate the answer."}}])
ld.flush()
first, judge = ld.calls(trace_id=t.trace_id).iloc[0], ld.last()
from llmdebug.query.writes import score
score(first["id"], "relevance", 0.5, label="partly", source="llm", comment="misses the date", judge_span=judge)'''.strip()
TREE = "ld.show(t.trace_id)"
PROBE = 'print(ld.scores(source="human")[["name", "value", "label", "comment"]].to_dict("records"))'
CHART = 'ld.charts.scores(by="source")'
SOURCES = [SETUP, TREE, PROBE, CHART]
KEYS = {"tree": TREE, "probe": PROBE, "chart": CHART}


def _write_notebook(path) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Feedback in the trace tree")]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in SOURCES]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return {"n_code": len(SOURCES), **{k: SOURCES.index(v) for k, v in KEYS.items()}}


@pytest.fixture(scope="module")
def run(browser, lab, lab_root, artifacts):
    cells = _write_notebook(lab_root / NB_REL)
    with run_notebook(browser, lab, artifacts, NB_REL, cells, offline=True, workspace="feedback") as r:
        r.page.set_viewport_size({"width": 1400, "height": 1100})
        fb = r.page.locator("#filebrowser")  # the file browser open in the sidebar, as a user has it
        if not fb.is_visible():
            r.page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='filebrowser']").click()
        expect(fb).to_be_visible()
        r.db = lab_root / "notebooks" / DB
        yield r


def _probe(run, text: str) -> str:
    probe = run.code_cell(run.cells["probe"])
    probe.locator(".jp-InputArea-editor").click()
    run.page.keyboard.press("Control+Enter")  # run it, stay on it
    out = probe.locator(".jp-OutputArea-output")
    expect(out).to_contain_text(text, timeout=30_000)
    return out.inner_text()


def _tree(run):
    """The trace tree of the tree cell (the judge's tree may be open under it)."""
    cell = run.code_cell(run.cells["tree"])
    cell.evaluate("e => e.scrollIntoView({block: 'start'})")
    return cell.locator(".jp-OutputArea-output .llmdebug-tt").first


def _fits(el) -> list:
    """Parts of ``el`` wider than their box (a layout break), by class."""
    return el.evaluate("""e => [e, ...e.querySelectorAll('*')]
        .filter((x) => x.clientWidth && x.scrollWidth > x.clientWidth + 1 && getComputedStyle(x).overflowX !== 'auto')
        .map((x) => x.tagName + '.' + x.className + ' ' + x.scrollWidth + '/' + x.clientWidth)""")


def test_feedback_is_saved_shown_and_stored(run):
    with run.shot("feedback-01-saved"):
        assert_clean(run)
        w = widget(run, run.cells["tree"])
        rows = w.locator(".ldt-span")
        call = rows.filter(has=run.page.locator(".ldt-kind-llm")).first
        # the judge's score is on the row before any feedback
        badge = call.locator(".ldt-score-badge")
        expect(badge).to_have_text("⌀0.5")
        call.click()
        detail = w.locator(".ldt-detail")
        part = detail.locator(".ldt-scores-section")
        expect(part.locator(".ldt-section-title")).to_have_text("Scores (1)", timeout=30_000)
        judged = part.locator(".ldt-score").first
        expect(judged.locator(".ldt-score-name")).to_have_text("relevance")
        expect(judged.locator(".ldt-score-value")).to_have_text("0.5 (partly)")
        expect(judged.locator(".ldt-score-source")).to_have_text("llm")
        up = part.locator("button.ldt-thumb-up")
        up.click()
        expect(up).to_have_attribute("aria-pressed", "true")
        part.locator("input.ldt-fb-score").fill("4")
        part.locator("textarea.ldt-fb-comment").fill(COMMENT)
        part.locator("button.ldt-fb-save").click()
        expect(part.locator(".ldt-fb-status")).to_have_text("Saved thumbs 👍 and score 4 with the comment.",
                                                            timeout=30_000)
        # the form empties; the span shows the new scores at once
        expect(up).to_have_attribute("aria-pressed", "false")
        expect(part.locator("input.ldt-fb-score")).to_have_value("")
        expect(part.locator(".ldt-section-title")).to_have_text("Scores (3)")
        expect(badge).to_have_text("👍1 +2")  # the judge's 0-1 and the 1-5 score are not averaged
        assert "score: 4 · human" in badge.get_attribute("title")
        comments = part.locator(".ldt-score-comment")
        expect(comments).to_have_count(3)
        expect(comments.nth(1)).to_have_text(COMMENT)  # as characters, never markup
        assert w.locator("script").count() == 0
        assert not _fits(part), _fits(part)
        assert badge.evaluate("e => e.scrollWidth <= e.clientWidth"), "the badge is cut"
        w.screenshot(path=str(run.artifacts / "feedback-01-widget-1400.png"))
    # in the kernel, and in the db file
    out = _probe(run, "'thumbs'")
    assert "'value': 1.0, 'label': 'up'" in out and "'value': 4.0" in out and "clear answer" in out
    with sqlite3.connect(f"file:{run.db}?mode=ro", uri=True) as db:
        stored = db.execute("SELECT name, value, label, source, comment FROM scores WHERE source = 'human' "
                            "ORDER BY id").fetchall()
    assert stored == [("thumbs", 1.0, "up", "human", COMMENT), ("score", 4.0, None, "human", COMMENT)]


def test_keyboard_only_and_the_judges_call(run):
    with run.shot("feedback-02-keyboard-judge"):
        w = widget(run, run.cells["tree"])
        call = w.locator(".ldt-span").filter(has=run.page.locator(".ldt-kind-llm")).first
        call.click()
        part = w.locator(".ldt-detail .ldt-scores-section")
        down = part.locator("button.ldt-thumb-down")
        down.focus()
        run.page.keyboard.press("Space")
        expect(down).to_have_attribute("aria-pressed", "true")
        run.page.keyboard.press("Tab")  # to the score box
        run.page.keyboard.type("2")
        run.page.keyboard.press("Enter")
        expect(part.locator(".ldt-fb-status")).to_have_text("Saved thumbs 👎 and score 2.", timeout=30_000)
        expect(call.locator(".ldt-score-badge")).to_contain_text("👎1")
        # a mistake is said in place and nothing is stored
        part.locator("textarea.ldt-fb-comment").focus()
        run.page.keyboard.press("Control+Enter")
        expect(part.locator(".ldt-fb-status")).to_have_text(re.compile("^Choose 👍 or 👎"))
        # the judge's score opens the judge's call, in a tree of its own under this one
        part.locator("button.ldt-judge").click()
        cell = run.code_cell(run.cells["tree"])
        trees = cell.locator(".jp-OutputArea-output .llmdebug-tt")
        expect(trees).to_have_count(2, timeout=30_000)
        judge = trees.nth(1)
        expect(judge.locator(".ldt-title")).to_have_text("judge")
        expect(judge.locator(".ldt-detail .ldt-detail-title")).to_have_text("openai.chat.completions",
                                                                           timeout=30_000)
        expect(judge.locator(".ldt-span.ldt-selected .ldt-model")).to_have_text("gpt-4o")
        assert_clean(run)
    out = _probe(run, "'down'")
    assert "{'name': 'score', 'value': 2.0, 'label': nan, 'comment': nan}" in out


def test_dark_theme_and_the_scores_chart(run):
    page = run.page
    with run.shot("feedback-03-dark"):
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Settings$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).hover()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^JupyterLab Dark$")).click()
        expect(page.locator("body[data-jp-theme-light='false']")).to_have_count(1, timeout=30_000)
        w = _tree(run)
        form = w.locator(".ldt-detail .ldt-fb")
        colours = form.evaluate("""e => ({bg: getComputedStyle(e).backgroundColor,
            fg: getComputedStyle(e.querySelector('.ldt-fb-title')).color,
            input: getComputedStyle(e.querySelector('.ldt-fb-comment')).backgroundColor})""")
        print("[dark] feedback form colours", colours)
        # a dark box with light text (not the light theme's white)
        assert colours["bg"] != "rgb(255, 255, 255)" and colours["input"] != "rgb(255, 255, 255)"
        assert _lum(colours["fg"]) > _lum(colours["bg"]) + 0.3
        assert not _fits(form), _fits(form)
        w.screenshot(path=str(run.artifacts / "feedback-03-widget-dark-1400.png"))
        cell = run.code_cell(run.cells["chart"])
        prompt = cell.locator(".jp-InputArea-prompt")
        before = prompt.inner_text()
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Control+Enter")  # again: the scores saved in the other tests too
        expect(prompt).not_to_have_text(before, timeout=30_000)
        expect(prompt).not_to_have_text(re.compile(r"\*"), timeout=30_000)
        chart = cell.locator(".jp-OutputArea-output .llmdebug-chart")
        expect(chart).to_have_attribute("data-rendered", "1", timeout=30_000)
        cell.evaluate("e => e.scrollIntoView({block: 'start'})")
        expect(chart.locator("text", has_text="relevance: distribution")).to_have_count(1)
        expect(chart.locator("text", has_text="relevance: mean per minute")).to_have_count(1)
        expect(chart.locator("text", has_text=re.compile("^source$"))).to_have_count(1)  # the legend's title
        chart.screenshot(path=str(run.artifacts / "feedback-04-scores-chart-dark.png"))
        assert_clean(run)


def _lum(css: str) -> float:
    r, g, b = (int(x) for x in re.findall(r"\d+", css)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255
