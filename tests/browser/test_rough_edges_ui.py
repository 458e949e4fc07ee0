"""The rough edges of issue 12 at an ordinary width: a 1280 px window with the file browser
open, in the light and the dark theme, in a real JupyterLab + headless Chromium with the
network cut off. Each edge is checked by measuring what is drawn: a failed row's name and
model keep several characters, no text is broken inside a word, nothing is wider than its
box, the budget notice shows its "$", an alert warning names the user's cell, a failed
replay's card has the error colour, cost bars are wide enough to click, axis labels do not
overlap, and a model keeps its colour when a filter changes.
"""

from __future__ import annotations

import re
import time

import pytest

from jlab import run_notebook  # skips without a browser

import nbformat  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

NB_REL = "notebooks/rough-edges.ipynb"

SETUP = r'''
from pathlib import Path
import anthropic
import openai
import llmdebug as ld
from llmdebug.testing import FakeLLMServer, simulate_traffic

server = FakeLLMServer().start()  # on 127.0.0.1
for suffix in ("", "-wal", "-shm"):
    Path("rough-edges.db" + suffix).unlink(missing_ok=True)
ld.init("rough-edges.db")
client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-fake", max_retries=0)
claude = anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="sk-fake")
week = simulate_traffic(client, anthropic_client=claude, server=server, days=7, calls=500)
print(week["models"])'''.strip()
LOAD = "%load_ext llmdebug"
TRIAGE = r'''
PROMPT_V1 = ('You triage customer support tickets. Reply in JSON with two keys: "intent" '
             '(one of "refund", "shipping", "cancel", "other") and "order_id" (a string, or null).')
PROMPT_V2 = "Triage the support ticket: give its intent (refund, shipping, cancel or other) and its order id."
TICKETS = ["Please cancel order 3310 before it ships.", "Where is order 2231? It has been two weeks."]
calls = []
with ld.trace("triage") as t:
    for i, ticket in enumerate(TICKETS):
        server.inject("400", model="gpt-4o-mini")
        try:
            client.chat.completions.create(model="gpt-4o-mini", response_format={"type": "json_object"},
                messages=[{"role": "system", "content": PROMPT_V1 if i == 0 else PROMPT_V2},
                          {"role": "user", "content": ticket}])
        except openai.BadRequestError:
            pass
        calls.append(ld.last())
    ok = client.chat.completions.create(model="gpt-4o-mini", messages=[
        {"role": "system", "content": PROMPT_V2}, {"role": "user", "content": TICKETS[0]}])
ld.flush()
print("failed:", [c.status for c in calls])'''.strip()
TREE = "ld.show(t.trace_id)"
DIFF = "ld.diff(calls[0], calls[1])"
PLAY = r'''
other = FakeLLMServer().start()  # stopped below: the Run button's replay then fails
client2 = openai.OpenAI(base_url=other.openai_base_url, api_key="sk-fake", max_retries=0)
client2.chat.completions.create(model="gpt-4o-mini", messages=[
    {"role": "system", "content": PROMPT_V1}, {"role": "user", "content": TICKETS[0]}])
pg = ld.playground(ld.last())
pg.run()
pg'''.strip()
STOP = "other.stop()"
BUDGET = r'''
ld.budget(usd=0.0001, per="session")
_ = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Over budget?"}])'''.strip()
ALERT = r'''
retrying = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-fake", max_retries=2)
rule = ld.alert(rate_limit_events=1, window="15m", min_calls=1)
server.inject("429", times=2, model="gpt-4o-mini")  # two rate-limit events, then the retry works
_ = retrying.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Status?"}])'''.strip()
COST = "ld.charts.cost()"
TTFT = "ld.charts.ttft()"
DASH = "dash = ld.dashboard()\ndash"
SOURCES = [SETUP, LOAD, TRIAGE, TREE, DIFF, PLAY, STOP, BUDGET, ALERT, COST, TTFT, DASH]
KEYS = {"tree": TREE, "diff": DIFF, "play": PLAY, "budget": BUDGET, "alert": ALERT, "cost": COST,
        "ttft": TTFT, "dash": DASH}


def _write_notebook(path) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Rough edges at 1280 px")]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in SOURCES]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return {"n_code": len(SOURCES), **{k: SOURCES.index(v) for k, v in KEYS.items()}}


@pytest.fixture(scope="module")
def run(browser, lab, lab_root, artifacts):
    cells = _write_notebook(lab_root / NB_REL)
    with run_notebook(browser, lab, artifacts, NB_REL, cells, offline=True) as r:
        page = r.page
        assert page.viewport_size["width"] == 1280
        # the file browser open in the left sidebar, as a user has it
        fb = page.locator("#filebrowser")
        if not fb.is_visible():
            page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='filebrowser']").click()
        expect(fb).to_be_visible()
        assert fb.bounding_box()["width"] > 150
        yield r


def _switch_theme(page, name: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Settings$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).hover()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{name}$")).click()


@pytest.fixture(scope="module", params=["light", "dark"])
def theme(run, request):
    """Every test once per theme (pytest groups the tests by this fixture's value)."""
    light = request.param == "light"
    if run.page.locator(f"body[data-jp-theme-light='{str(light).lower()}']").count() == 0:
        _switch_theme(run.page, "JupyterLab Light" if light else "JupyterLab Dark")
        expect(run.page.locator(f"body[data-jp-theme-light='{str(light).lower()}']")).to_have_count(1, timeout=30_000)
    return request.param


def _cell(run, key: str):
    cell = run.code_cell(run.cells[key])
    cell.evaluate("e => e.scrollIntoView({block: 'start'})")
    return cell


def _chart(cell, nth: int = 0):
    c = cell.locator(".jp-OutputArea-output .llmdebug-chart").nth(nth)
    expect(c).to_have_attribute("data-rendered", "1", timeout=30_000)
    return c


# Elements (under root) whose content is wider than their box without a way to scroll to
# it, and text broken inside a word: [(what, detail)].
OVERFLOWS_JS = r'''
root => {
  const bad = [];
  const rootBox = root.getBoundingClientRect();
  for (const el of root.querySelectorAll("*")) {
    const cs = getComputedStyle(el);
    if (cs.display === "none" || el.closest("svg")) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0) continue;
    const scrolls = /(auto|scroll)/.test(cs.overflowX);
    const clips = cs.overflowX !== "visible";
    const ellipsis = cs.textOverflow === "ellipsis";
    // sticking out of the widget
    if (r.right > rootBox.right + 1 && !el.closest("[data-scroll-x]"))
      bad.push(["outside the widget", el.className + " " + Math.round(r.right - rootBox.right) + "px"]);
    // content wider than the box, neither scrollable nor ellipsised
    if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0 && !scrolls && !ellipsis && !(clips && el.closest(".ldt-row")))
      bad.push(["content wider than its box", el.className + " " + el.scrollWidth + ">" + el.clientWidth]);
  }
  return bad;
}'''

# Words split over two lines: for each text node, a letter whose line box differs from the
# previous letter's with no space between them.
BROKEN_WORDS_JS = r'''
root => {
  const out = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const t = n.textContent;
    if (!n.parentElement || n.parentElement.closest("textarea, svg, [hidden]")) continue;
    let prevTop = null;
    for (let i = 0; i < t.length && i < 4000; i++) {
      range.setStart(n, i); range.setEnd(n, i + 1);
      const rects = range.getClientRects();
      if (!rects.length) continue;
      const top = rects[0].top;
      if (prevTop !== null && top > prevTop + 2 && /\w/.test(t[i]) && /\w/.test(t[i - 1])) {
        const cs = getComputedStyle(n.parentElement);
        out.push(t.slice(Math.max(0, i - 12), i) + "|" + t.slice(i, i + 12) +
                 ` <${n.parentElement.tagName.toLowerCase()}.${n.parentElement.className} ${cs.whiteSpace}/${cs.overflowWrap}/${cs.wordBreak} ${Math.round(n.parentElement.getBoundingClientRect().width)}px>`);
      }
      prevTop = top;
    }
  }
  return out;
}'''


def test_failed_rows_show_their_name_and_model(run, theme):
    with run.shot(f"rough-01-tree-{theme}"):
        assert_clean_but_alerts(run)
        w = _cell(run, "tree").locator(".jp-OutputArea-output .llmdebug-tt")
        expect(w).to_have_attribute("data-painted", "1")
        bad = w.locator(".ldt-span.ldt-bad")
        expect(bad).to_have_count(2)
        # 1280 px, and 1400 px (the window), where the detail pane was beside the
        # tree and the rows were narrowest
        try:
            for width in (1400, 1280):
                run.page.set_viewport_size({"width": width, "height": 1100})
                w.evaluate("e => e.scrollIntoView({block: 'start'})")
                for i in range(2):
                    for part in (".ldt-name", ".ldt-model"):
                        el = bad.nth(i).locator(part)
                        text = el.inner_text()
                        m = el.evaluate("""e => ({sw: e.scrollWidth, cw: e.clientWidth,
                          clipped: e.getBoundingClientRect().right - e.closest(".ldt-cell-name").getBoundingClientRect().right})""")
                        assert m["clipped"] <= 1, (width, part, text, m)  # not cut off by the cell's edge
                        # the whole text, or an ellipsis after at least 8 characters
                        shown = _chars_shown(el) if m["sw"] > m["cw"] + 1 else len(text)
                        print(f"[{theme} {width}px] failed row {i} {part}: {text!r} {m['cw']}/{m['sw']} px, {shown} chars shown")
                        assert shown >= min(len(text), 8), (width, part, text, m)
                if width == 1400:
                    w.screenshot(path=str(run.artifacts / f"rough-01-tree-{theme}-1400.png"))
        finally:  # the other tests' width
            run.page.set_viewport_size({"width": 1280, "height": 1100})
        # the search box shows its whole placeholder
        search = w.locator("input.ldt-search")
        need = search.evaluate(r'''e => {
          const c = document.createElement("canvas").getContext("2d");
          const cs = getComputedStyle(e);
          c.font = cs.font;
          return {text: c.measureText(e.placeholder).width,
                  room: e.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight),
                  placeholder: e.placeholder};
        }''')
        print(f"[{theme}] search placeholder", need)
        assert need["text"] <= need["room"], need
        assert "(" not in need["placeholder"] or ")" in need["placeholder"]
        w.evaluate("e => e.scrollIntoView({block: 'start'})")


def _chars_shown(el) -> int:
    """How many characters of ``el``'s text fit before the ellipsis."""
    return el.evaluate(r'''e => {
      const room = e.clientWidth;
      const range = document.createRange();
      const n = e.firstChild;
      if (!n) return 0;
      const left = e.getBoundingClientRect().left;
      let k = 0;
      for (let i = 0; i < n.textContent.length; i++) {
        range.setStart(n, i); range.setEnd(n, i + 1);
        if (range.getBoundingClientRect().right - left > room - 8) break;  // room for the "…"
        k = i + 1;
      }
      return k;
    }''')


def assert_clean_but_alerts(run) -> None:
    """No traceback or stderr output but the alert warnings, no widget-loading failure."""
    errors = run.page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    texts = errors.all_inner_texts()
    assert all("LLMDebugAlert" in t for t in texts), texts
    assert not run.page_errors, run.page_errors


def test_diff_breaks_no_word_and_fits(run, theme):
    with run.shot(f"rough-02-diff-{theme}"):
        d = _cell(run, "diff").locator(".jp-OutputArea-output .llmdebug-diff")
        expect(d).to_have_count(1)
        broken = d.evaluate(BROKEN_WORDS_JS)
        print(f"[{theme}] diff broken words:", broken)
        assert broken == [], broken
        over = d.evaluate(OVERFLOWS_JS)
        assert over == [], over
        expect(d).to_contain_text("cancel")


def test_playground_fits_and_a_failed_replay_is_red(run, theme):
    with run.shot(f"rough-03-playground-{theme}"):
        cell = _cell(run, "play")
        pg = cell.locator(".jp-OutputArea-output .llmdebug-pg")
        expect(pg).to_have_count(1)
        card = pg.locator(".ldp-latest .ldp-attempt")
        if theme == "light":  # the server is stopped: this Run fails (once is enough)
            expect(pg.locator(".ldp-hrow")).to_have_count(2)
            pg.locator(".ldp-run").click()
            expect(pg.locator(".ldp-status")).to_contain_text("could not connect", timeout=30_000)
        expect(card).to_have_count(1)
        colours = card.evaluate(r'''e => {
          const probe = document.createElement("span");
          probe.style.color = "var(--ld-error)";
          e.append(probe);
          const want = getComputedStyle(probe).color;
          probe.remove();
          return {border: getComputedStyle(e).borderLeftColor, error: want};
        }''')
        print(f"[{theme}] failed replay card", colours)
        assert colours["border"] == colours["error"], colours
        expect(card).to_contain_text("could not connect")
        over = pg.evaluate(OVERFLOWS_JS)
        assert over == [], over
        table = pg.locator("table.ldp-history")
        tb, pb = table.bounding_box(), pg.bounding_box()
        assert tb["x"] + tb["width"] <= pb["x"] + pb["width"] + 1, (tb, pb)
        broken = pg.evaluate(BROKEN_WORDS_JS)
        print(f"[{theme}] playground broken words:", broken)
        assert broken == [], broken
        cell.evaluate("e => e.scrollIntoView({block: 'start'})")


def test_budget_notice_shows_dollars_and_warnings_name_the_cell(run, theme):
    with run.shot(f"rough-04-notices-{theme}"):
        cell = _cell(run, "budget")
        notice = cell.locator(".llmdebug-alert")
        expect(notice).to_have_count(1)
        text = notice.inner_text()
        print(f"[{theme}] notice:", text)
        assert re.search(r"\$0\.\d+ spent this session, over the \$0\.0001 budget", text), text
        assert notice.locator("mjx-container, .MathJax").count() == 0
        for key in ("budget", "alert"):
            err = _cell(run, key).locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            expect(err).to_have_count(1)
            warning = err.inner_text()
            print(f"[{theme}] {key} warning:", warning)
            assert "LLMDebugAlert" in warning and "llmdebug/" not in warning, warning
            assert re.search(r"ipykernel_\d+/\d+\.py:\d+", warning), warning
        cell.evaluate("e => e.scrollIntoView({block: 'start'})")


def test_cost_bars_are_wide_enough_to_click(run, theme):
    with run.shot(f"rough-05-cost-{theme}"):
        c = _chart(_cell(run, "cost"))
        widths = c.locator("g.mark-rect.role-mark path").evaluate_all(
            "ps => ps.map(p => p.getBoundingClientRect().width)")
        print(f"[{theme}] cost bars: {len(widths)}, narrowest {min(widths):.1f} px")
        assert len(widths) > 10 and min(widths) >= 8, widths[:20]


def _overlaps(boxes: list) -> list:
    out = []
    for a, b in zip(boxes, boxes[1:]):
        if a["right"] > b["left"] + 0.5 and a["left"] < b["right"] - 0.5 and a["bottom"] > b["top"] + 0.5 and a["top"] < b["bottom"] - 0.5:
            out.append((a["text"], b["text"]))
    return out


LABEL_BOXES_JS = r'''
c => [...c.querySelectorAll("g.role-axis-label text")].filter(t => getComputedStyle(t).opacity !== "0" && t.textContent)
  .map(t => { const r = t.getBoundingClientRect();
              return {text: t.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom,
                      axis: t.closest("g.role-axis").getAttribute("aria-label") || ""}; })'''


def test_time_axis_labels_do_not_overlap(run, theme):
    with run.shot(f"rough-06-axes-{theme}"):
        for key in ("ttft", "cost"):
            c = _chart(_cell(run, key))
            boxes = c.evaluate(LABEL_BOXES_JS)
            x = [b for b in boxes if "X-axis" in b["axis"] or "x-axis" in b["axis"].lower()]
            print(f"[{theme}] {key} x labels:", [b["text"] for b in x])
            assert len(x) >= 3, boxes
            assert _overlaps(sorted(x, key=lambda b: b["left"])) == []
        _cell(run, "ttft")


def test_model_colours_stay_when_a_filter_changes(run, theme):
    with run.shot(f"rough-07-colours-{theme}"):
        d = _cell(run, "dash").locator(".jp-OutputArea-output .llmdebug-dashboard")
        root = d.locator(".llmdebug-dash")
        cost = d.locator(".llmdebug-chart").nth(0)
        expect(cost).to_have_attribute("data-rendered", "1", timeout=30_000)
        legend = r'''c => {
          const labels = [...c.querySelectorAll("g.role-legend-label text")].map(t => t.textContent);
          const fills = [...c.querySelectorAll("g.role-legend-symbol path")].map(p => p.getAttribute("fill") || getComputedStyle(p).fill);
          return Object.fromEntries(labels.map((l, i) => [l, fills[i]]));
        }'''
        before = cost.evaluate(legend)
        print(f"[{theme}] colours, every model:", before)
        assert len(before) >= 3, before
        n = int(root.get_attribute("data-refreshes"))
        root.locator("select[aria-label='model']").select_option("gpt-4o")
        expect(root).to_have_attribute("data-refreshes", str(n + 1), timeout=30_000)
        expect(root).to_have_attribute("data-pending", "0")
        expect(cost).to_have_attribute("data-rendered", "1", timeout=30_000)
        deadline = time.monotonic() + 30
        while list(after := cost.evaluate(legend)) != ["gpt-4o"]:  # the redraw lands
            assert time.monotonic() < deadline, after
            run.page.wait_for_timeout(200)
        print(f"[{theme}] colours, gpt-4o only:", after)
        assert after.get("gpt-4o") == before["gpt-4o"], (before, after)
        cost.scroll_into_view_if_needed()
        run.page.screenshot(path=str(run.artifacts / f"rough-07-colours-{theme}-filtered.png"))
        root.locator("select[aria-label='model']").select_option("")
        expect(root).to_have_attribute("data-refreshes", str(n + 2), timeout=30_000)
