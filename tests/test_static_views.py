"""The static views in each widget's mimebundle (what saved and exported notebooks show):
escaping, visible bidi characters, the span cap, errors, SVG charts from vl-convert, the
dashboard's numbers, and the nbconvert preprocessor. In a browser: tests/browser/test_saved_notebooks.py."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import unquote

import altair as alt
import nbformat
import pandas as pd
import pytest

import llmdebug as ld
from llmdebug.widgets import static
from llmdebug.widgets.diff_view import DiffView
from llmdebug.widgets.trace_tree import TraceTree
from llmdebug.widgets.vega import ChartView, LLMDebugChart

VIEW = "application/vnd.jupyter.widget-view+json"
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="alert(1)">'
RLO = "gpt\u202e-4o\u200b"


def bundle(w) -> dict:
    out = w._repr_mimebundle_()
    return out[0] if isinstance(out, tuple) else out


class _Tags(HTMLParser):
    """Every start tag and its attributes, as a browser's parser sees them."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def assert_inert(page: str) -> None:
    """No script element, no event handler attribute: user text stayed text."""
    tags = _Tags(page).tags
    assert not [t for t, _ in tags if t in ("script", "iframe", "object", "embed", "style", "svg")]
    assert not [(t, a) for t, attrs in tags for a in attrs if a.startswith("on")]


def svg_of(page: str) -> list[str]:
    """The SVG documents of the <img> data URLs in ``page``."""
    return [unquote(a["src"].split(",", 1)[1]) for t, a in _Tags(page).tags
            if t == "img" and a.get("src", "").startswith("data:image/svg+xml,")]


@pytest.fixture
def hostile_trace(ld_on, llm_openai_client):
    with ld.trace(HOSTILE) as t:
        with ld.span("step " + RLO, kind="tool"):
            llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        try:
            llm_openai_client.with_options(max_retries=0).chat.completions.create(
                model="fail-400", messages=[{"role": "user", "content": "bad"}])
        except Exception:
            pass
    ld.flush()
    return t


def test_tree_view_escapes_names_and_shows_bidi_characters(hostile_trace):
    page = bundle(ld.show(hostile_trace.trace_id))["text/html"]
    assert 'class="llmdebug-static llmdebug-static-tree"' in page
    assert_inert(page)
    text = "".join(_Tags(page).text)
    assert HOSTILE in text  # shown as the characters it holds
    assert "step gpt⟨U+202E⟩-4o⟨U+200B⟩" in text
    assert "\u202e" not in page and "\u200b" not in page


def test_tree_view_has_kinds_models_tokens_cost_latency_bars_and_errors(hostile_trace):
    w = ld.show(hostile_trace.trace_id)
    page = bundle(w)["text/html"]
    text = " ".join(_Tags(page).text)
    for want in ("tool", "llm", "gpt-4o-mini", "fail-400", "BadRequestError", "● error inside", "✗", "✓"):
        assert want in text, want
    rows = w.span_rows()
    llm = next(r for r in rows if r["model"] == "gpt-4o-mini")
    assert f"{llm['input_tokens']}→{llm['output_tokens']}" in text
    assert re.search(r"\$\d\.\d+", text)  # a cost
    assert re.search(r"\d+ ms", text)  # latencies
    bars = re.findall(r"margin-left:([\d.]+)%;width:([\d.]+)%", page)
    assert len(bars) == len(rows)  # one waterfall bar per span, on the trace's timeline
    assert all(0 <= float(a) <= 100 and 0 <= float(b) <= 100 for a, b in bars)
    assert "#d62728" in page  # the failed span's bar and message are red


def test_tree_view_caps_the_spans(ld_on):
    with ld.trace("big") as t:
        for i in range(static.TREE_CAP + 30):
            with ld.span(f"step {i}", kind="tool"):
                pass
    ld.flush()
    page = bundle(ld.show(t.trace_id))["text/html"]
    assert page.count("margin-left:") == static.TREE_CAP
    assert f"first {static.TREE_CAP} of {static.TREE_CAP + 31} spans" in page
    assert "step 0<" in page and f"step {static.TREE_CAP + 29}<" not in page


def test_browser_view_lists_recent_traces_and_opens_the_newest(hostile_trace):
    page = bundle(ld.show())["text/html"]
    assert "Recent traces" in page and page.count("llmdebug-static-tree") == 1
    assert_inert(page)
    assert html_text(page).count(HOSTILE) >= 2  # the list row and the open tree's title


def html_text(page: str) -> str:
    return "".join(_Tags(page).text)


def test_empty_tree_view():
    page = bundle(TraceTree())["text/html"]
    assert "llmdebug-static" in page and "empty" in page


def test_chart_view_is_an_svg_picture_from_vl_convert():
    df = pd.DataFrame({"model": ["gpt-4o-mini", RLO, HOSTILE], "cost_usd": [0.012, 0.034, 0.006]})
    chart = LLMDebugChart(df).mark_bar().encode(x="model:N", y="cost_usd:Q").properties(title="Cost " + HOSTILE)
    page = bundle(chart)["text/html"]
    assert_inert(page)
    [svg] = svg_of(page)
    assert svg.startswith("<svg") and svg.count('class="mark-rect') == 1
    assert len(re.findall(r"<path[^>]*d=\"M", svg.split('class="mark-rect', 1)[1].split("</g>", 1)[0])) == 3  # bars
    assert "&lt;script&gt;" in svg and "<script" not in svg  # Vega writes text escaped
    assert not re.search(r'\d\.\d{2,}', re.sub(r">[^<]*<", "><", svg))  # geometry rounded to 0.1 px
    assert "aria-label" not in svg


def test_chart_for_container_width_specs_and_failures():
    spec = LLMDebugChart(pd.DataFrame({"x": [1, 2]})).mark_line().encode(x="x:Q", y="x:Q").properties(
        width="container").to_dict()
    [svg] = svg_of(bundle(ChartView(spec))["text/html"])
    assert 'width="' in svg
    bad = bundle(ChartView({"mark": "nonsense", "data": {"values": []}}))["text/html"]
    assert "no picture" in bad and "llmdebug-static-chart" in bad and not svg_of(bad)


def test_dashboard_view_has_headline_numbers_and_every_chart(ld_on, llm_openai_client):
    for m in ("gpt-4o-mini", "gpt-4o"):
        llm_openai_client.chat.completions.create(model=m, messages=[{"role": "user", "content": "hi"}])
    ld.flush()
    d = ld.dashboard()
    page = bundle(d)["text/html"]
    assert_inert(page)
    text = html_text(page)
    for want in ("calls", "cost", "error rate", "latency p50 / p95 / p99", "tokens in → out"):
        assert want in text
    assert re.search(r"calls\s*2", text)
    svgs = svg_of(page)
    collapsed = sum(len(r.views) for r in d.rows.values() if not r.shown)  # a row with no data is one line
    assert len(svgs) == len([v for v in d.charts.values() if v.spec]) - collapsed
    assert all(s.startswith("<svg") for s in svgs)


def test_diff_view_is_escaped_html(ld_on, llm_openai_client):
    a = llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": HOSTILE}])
    b = llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x" + RLO}])
    ld.flush()
    df = ld.calls()
    page = bundle(ld.diff(df.iloc[0], df.iloc[1]))["text/html"]
    assert "llmdebug-static-diff" in page
    assert_inert(page)
    assert HOSTILE in html_text(page) and "⟨U+202E⟩" in page
    assert "llmdebug-static" in bundle(DiffView())["text/html"]


def _nb(outputs: list[dict], state: dict) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("display_data", data=d) for d in outputs]
    nb.cells.append(cell)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": state, "version_major": 2,
                                                                             "version_minor": 0}}
    return nb


def test_nbconvert_preprocessor_exports_the_static_views():
    pytest.importorskip("nbconvert")
    from nbconvert import HTMLExporter

    from llmdebug.widgets.nbconvert import StaticViews

    ours = {VIEW: {"model_id": "a", "version_major": 2, "version_minor": 0},
            "text/html": static.wrap("tree", "<b>our tree</b>"), "text/plain": "tree"}
    other = {VIEW: {"model_id": "b", "version_major": 2, "version_minor": 0}, "text/plain": "slider"}
    state = {"a": {"model_name": "AnyModel", "state": {}}, "b": {"model_name": "IntSliderModel", "state": {}}}

    plain, _ = HTMLExporter().from_notebook_node(_nb([ours], state))
    assert "our tree" not in plain and "unpkg.com" in plain  # what nbconvert does by itself

    exporter = HTMLExporter()
    exporter.register_preprocessor(StaticViews, enabled=True)
    html_out, _ = exporter.from_notebook_node(_nb([ours], state))
    assert "our tree" in html_out and "unpkg.com" not in html_out  # nothing from a CDN

    mixed, _ = exporter.from_notebook_node(_nb([ours, other], state))
    assert "our tree" in mixed and '"model_id": "b"' in mixed  # another widget keeps its view and state


def test_static_helpers_escape():
    assert static.label("a<b>\u202e") == "a&lt;b&gt;⟨U+202E⟩"
    assert static.content("x\u200dy<") == "x\u200dy&lt;"  # ZWJ kept in content
    img = static.svg_img('<svg><text>a&amp;b "#%</text></svg>', 'alt "x"')
    [(tag, attrs)] = _Tags(img).tags
    assert unquote(attrs["src"].split(",", 1)[1]) == '<svg><text>a&amp;b "#%</text></svg>'
    assert attrs["alt"] == 'alt "x"'
