"""Scores in the trace tree: the feedback form's message (as the browser sends it) stores
human scores, and every view shows them (row badge, detail-pane list, text fallback, static
HTML), as text. Clicks and rendering: tests/browser/test_feedback_ui.py."""

import html

import pytest

import llmdebug as ld
from llmdebug.query.writes import add_scores, score
from llmdebug.widgets import span_scores
from llmdebug.widgets.trace_tree import TraceTree

NASTY = "<script>alert('x')</script> fine \u202eevil"


@pytest.fixture
def call_trace(ld_on, llm_openai_client):
    """A trace: a root span around one OpenAI call to the fake server."""
    with ld.trace("answer") as t:
        llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    ld.flush()
    return t


def _open(trace) -> tuple[TraceTree, int]:
    """The tree of ``trace`` with its LLM call selected, as a click does."""
    w = ld.show(trace.trace_id)
    i = next(k for k, r in enumerate(w.span_rows()) if r["kind"] == "llm")
    w.selected = i
    return w, i


def _send(w: TraceTree, i: int, n: int, **form) -> dict:
    """What the browser sends on Save (trace_scores.js feedbackForm)."""
    w.action = {"kind": "feedback", "index": i, "thumbs": None, "score": "", "comment": "", "n": n, **form}
    return w.feedback_reply


def test_save_stores_human_scores_and_every_view_shows_them(call_trace):
    w, i = _open(call_trace)
    assert w.span_scores == {}
    reply = _send(w, i, 1, thumbs=True, score="4", comment=NASTY)
    assert reply == {"index": i, "n": 1, "ok": True, "text": "Saved thumbs 👍 and score 4 with the comment."}

    df = ld.scores()
    span_id = w.span_rows()[i]["id"]
    assert list(df["name"]) == ["thumbs", "score"] and set(df["source"]) == {"human"}
    assert list(df["value"]) == [1.0, 4.0] and df["label"].iloc[0] == "up"
    assert list(df["span_id"]) == [span_id] * 2 and list(df["comment"]) == [NASTY] * 2

    # the row's badge and the detail pane's list (synced as is: the browser writes it as text)
    entry = w.span_scores[str(i)]
    assert entry["badge"] == "👍1 ⌀4"
    assert [(s["name"], s["text"], s["source"], s["comment"]) for s in entry["items"]] == [
        ("thumbs", "👍 up", "human", NASTY), ("score", "4", "human", NASTY)]
    assert entry["tip"].startswith("2 scores:\nthumbs: 👍 up · human · “<script>")
    assert "⟨U+202E⟩" in entry["tip"] and "\u202e" not in entry["tip"]

    # the text fallback: the badge on the span's line, one line per score under it
    lines = repr(w).splitlines()
    call_line = next(k for k, line in enumerate(lines) if "[llm]" in line)
    assert lines[call_line].endswith("· 👍1 ⌀4")
    assert lines[call_line + 1].strip() == "◦ thumbs: 👍 up · human · “<script>alert('x')</script> fine ⟨U+202E⟩evil”"
    assert lines[call_line + 2].strip().startswith("◦ score: 4 · human")

    # the static HTML: escaped, never markup
    page = w._repr_mimebundle_()[0]["text/html"]
    assert "<script>" not in page and "\u202e" not in page
    assert html.escape("“<script>alert('x')</script> fine ⟨U+202E⟩evil”") in page
    assert ">👍1 ⌀4</small>" in page


def test_thumbs_down_a_comment_alone_and_mistakes(call_trace):
    w, i = _open(call_trace)
    assert _send(w, i, 1, thumbs=False)["text"] == "Saved thumbs 👎."
    assert _send(w, i, 2, comment="  too long  ")["text"] == "Saved the comment."
    for n, form, says in [(3, {"score": "abc"}, "Not saved: score 'abc' is not a number"),
                          (4, {"score": "inf"}, "Not saved: score 'inf': give a finite number"),
                          (5, {}, "Not saved: nothing to save: choose 👍 or 👎, type a score or write a comment"),
                          (6, {"thumbs": "yes"}, "Not saved: thumbs='yes': true, false or null")]:
        assert _send(w, i, n, **form) == {"index": i, "n": n, "ok": False, "text": says}
    df = ld.scores()
    assert list(zip(df["name"], df["value"].fillna(-1), df["label"].fillna(""), df["comment"].fillna(""))) == [
        ("thumbs", 0.0, "down", ""), ("comment", -1, "", "too long")]
    entry = w.span_scores[str(i)]
    assert entry["badge"] == "👎1 +1" and [s["text"] for s in entry["items"]] == ["👎 down", "–"]
    assert _send(w, i, 7, score="2,5")["text"] == "Saved score 2.5."  # a decimal comma, as typed


def test_scores_made_elsewhere_show_on_load_and_on_selection(call_trace, llm_openai_client):
    with ld.trace("judge") as jt:  # the judge's own call, in a trace of its own
        llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "judge"}])
    ld.flush()
    call = ld.calls(trace_id=call_trace.trace_id).iloc[0]
    judge = ld.calls(trace_id=jt.trace_id).iloc[0]
    ld.feedback(call["id"], "thumbs", True, comment="from a cell")
    w = ld.show(call_trace.trace_id)
    i = next(k for k, r in enumerate(w.span_rows()) if r["id"] == call["id"])
    assert w.span_scores[str(i)]["badge"] == "👍1"

    # scored by a judge after the tree was drawn: the span shows it when selected
    score(call["id"], "relevance", 0.5, label="partly", source="llm", comment="misses the date", judge_span=judge["id"])
    w.selected = i
    items = w.span_scores[str(i)]["items"]
    assert [(s["name"], s["text"], s["source"], s["judge_span_id"]) for s in items] == [
        ("thumbs", "👍 up", "human", None), ("relevance", "0.5 (partly)", "llm", judge["id"])]
    assert w.span_scores[str(i)]["badge"] == "👍1 ⌀0.5"
    assert "judge call " + judge["id"][:12] in w.span_scores[str(i)]["tip"]

    # "judge's call ↗": another trace opens in its own tree under this one, the call selected
    w.action = {"kind": "open_span", "span_id": judge["id"], "n": 1}
    assert isinstance(w.opened, TraceTree) and w.opened.trace_id == jt.trace_id
    assert w.opened.span_rows()[w.opened.selected]["id"] == judge["id"]
    # ... and one in this trace is selected here
    root = w.span_rows()[0]["id"]
    w.action = {"kind": "open_span", "span_id": root, "n": 2}
    assert w.selected == 0 and w.detail["id"] == root
    w.action = {"kind": "open_span", "span_id": "no-such-span", "n": 3}
    assert w.message.startswith("KeyError")


def test_badge_and_lines_of_many_scores(call_trace):
    call = ld.calls(trace_id=call_trace.trace_id).iloc[0]
    rows = [{"span_id": call["id"], "name": "thumbs", "value": v, "label": lab, "source": "human"}
            for v, lab in ((1.0, "up"), (1.0, "up"), (0.0, "down"))]
    rows += [{"span_id": call["id"], "name": "relevance", "value": v, "source": "llm"} for v in (0.5, 1.0)]
    rows += [{"span_id": call["id"], "name": "tone", "label": "polite", "source": "code", "comment": "x" * 5000}]
    add_scores(rows)
    w = ld.show(call_trace.trace_id)
    entry = next(iter(w.span_scores.values()))
    assert entry["badge"] == "👍2 👎1 ⌀0.75 +1"
    # numbers of two names are not averaged together (their scales differ): counted instead
    assert span_scores.badge(entry["items"] + [dict(entry["items"][3], name="rating", value=4.0)]) == "👍2 👎1 +4"
    long = entry["items"][-1]["comment"]  # the browser gets the first part of a long comment
    assert long.startswith("x" * span_scores.COMMENT_LIMIT) and long.endswith("[3,000 more characters in ld.scores()]")
    assert len(ld.scores(name="tone")["comment"].iloc[0]) == 5000
    text = repr(w)
    assert text.count("◦ ") == 6 and "◦ … 1 more (ld.scores(span_id=...))" in text
    assert entry["tip"].endswith("tone: polite · code · “" + "x" * span_scores.TIP_COMMENT + "…”")  # beyond the 5 lines
    page = w._repr_mimebundle_()[0]["text/html"]
    assert "… 1 more" in page and page.count("relevance: ") == 2 * 2  # tooltip + list, for both scores
