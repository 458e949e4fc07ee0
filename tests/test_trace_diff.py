"""ld.diff(trace_a, trace_b): spans aligned by depth, kind, name and order; changed, added
and dropped calls; totals side by side; the call diff of a pair one click away. With
notebook 02's agent (examples/agent.py) re-run by ld.replay_trace on the fake server."""

import html
import importlib.util
from pathlib import Path

import pytest

import llmdebug as ld
from llmdebug.widgets.diff_view import DiffView

ROOT = Path(__file__).resolve().parents[1]
FIX = "Quote the refund policy's 30-day rule word for word, then answer."


@pytest.fixture
def refund_agent(trace_db, monkeypatch):
    """examples/agent.py imported as a module: its own fake server, ld.init on this test's store."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "unset")  # restored after: the script writes both
    spec = importlib.util.spec_from_file_location("refund_agent_example", ROOT / "examples" / "agent.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    yield mod
    mod.server.stop()


def _run(agent):
    def run(question):
        with ld.trace("refund agent", user="demo"):
            agent.classify(question)
            final = agent.answer(question)
            agent.ticket_note(final)
        return final

    return run


def test_replay_trace_and_trace_diff_on_the_agent_of_notebook_02(refund_agent):
    question = "Can I get a refund for order 1042? The jacket is unused."
    run = _run(refund_agent)
    run(question)
    ld.flush()
    original = ld.traces().iloc[-1]
    calls = ld.calls(trace_id=original["trace_id"])
    assert len(calls) == 4 and list(calls["status"]) == ["error", "ok", "ok", "ok"]
    follow_up = calls.iloc[2]  # the agent loop's call with the tool result
    sent_before = len(refund_agent.server.requests)

    new = ld.replay_trace(original["trace_id"], run, question, at=follow_up["id"], edits={"system": FIX})
    assert new.replay_of == original["trace_id"] and new.name == "refund agent"
    sent = refund_agent.server.requests[sent_before:]
    # the classifier (a recorded 400) and the tool-asking call came from the recording
    assert [r["json"]["messages"][0]["content"] for r in sent][0] == FIX
    assert all("fail-400" not in r["json"]["model"] for r in sent)
    replayed = ld.calls(trace_id=new.trace_id)
    assert list(replayed["status"]) == ["error", "ok", "ok", "ok"]  # the SDK raised the recorded 400 again

    w = ld.diff(original, new)  # a traces() row and the root span replay_trace returned
    d = w.diff
    names = [(r["kind"], r["name"], r["op"]) for r in d["rows"]]
    assert names[:4] == [("trace", "refund agent", "equal"), ("chain", "classify", "equal"),
                         ("llm", "openai.chat.completions", "equal"), ("agent", "agent loop", "equal")]
    edited = [r for r in d["rows"] if r["op"] == "changed" and r["kind"] == "llm"]
    assert edited and edited[0]["a"]["id"] == follow_up["id"] and "messages" in edited[0]["changes"]
    assert d["summary"]["added"] == d["summary"]["dropped"] == 0
    for side, trace_id in (("a", original["trace_id"]), ("b", new.trace_id)):
        assert d[side]["trace_id"] == trace_id and d[side]["calls"] == 4 and d[side]["errors"] >= 1
        assert d[side]["input_tokens"] > 0 and d[side]["latency_ms"] > 0
    assert d["b"]["replay_of"] == original["trace_id"]

    # the per-call diff, one click away
    i = d["rows"].index(edited[0])
    assert w.calls.layout.display == "none"
    w.table.selected = i  # what a click on the row does
    assert w.calls.layout.display is None and w.calls.diff["system"]["op"] == "changed"
    assert w.calls.diff["system"]["b"] == FIX

    text = repr(w)
    assert "refund agent" in text and "changed (messages" in text and "cost_usd" in text
    bundle, _ = w._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and "<table>" in bundle["text/html"]


@pytest.fixture
def two_traces(ld_on, llm_openai_client):
    def agent(extra=False, name="t"):
        with ld.trace(name):
            llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "a"}])
            with ld.span("<b>step</b>", kind="tool") as s:
                s.set_output("<script>alert(1)</script>")
            if extra:
                llm_openai_client.chat.completions.create(model="gpt-4o-mini",
                                                          messages=[{"role": "user", "content": "b"}])

    agent()
    agent(extra=True)
    ld.flush()
    return list(ld.traces()["trace_id"])


def test_added_and_dropped_calls(two_traces):
    a, b = two_traces
    d = ld.diff(a, b).diff
    assert [r["op"] for r in d["rows"]] == ["equal", "equal", "equal", "added"]
    assert d["summary"]["calls_changed"] == 1 and d["b"]["calls"] == 2 and d["a"]["calls"] == 1
    d = ld.diff(b, a).diff
    assert d["rows"][-1]["op"] == "dropped" and d["rows"][-1]["b"] is None


def test_static_views_are_escaped_text(two_traces):
    a, b = two_traces
    w = ld.diff(a, b)
    page = w._repr_mimebundle_()[0]["text/html"]
    assert "<script>" not in page and "<b>step" not in page
    assert html.escape("<script>alert(1)</script>") in page
    assert "<b>step</b>" in repr(w)  # plain text keeps the name as it is


def test_what_was_passed_decides_calls_or_traces(two_traces):
    a, b = two_traces
    calls = ld.calls()
    assert isinstance(ld.diff(calls.iloc[0], calls.iloc[1]), DiffView)
    assert isinstance(ld.diff(calls.iloc[0]["id"], calls.iloc[1]["id"]), DiffView)
    traces = ld.traces()
    assert not isinstance(ld.diff(traces.iloc[0], traces.iloc[1]), DiffView)
    assert not isinstance(ld.diff(ld.get(a), ld.get(b)), DiffView)
    with pytest.raises(TypeError, match="not a call with a trace"):
        ld.diff(calls.iloc[0], a)
    with pytest.raises(KeyError, match="no span with id"):
        ld.diff("nope", a)
