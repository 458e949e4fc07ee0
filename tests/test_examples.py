"""examples/agent.py runs on the fake server and leaves the trace the agent notebook
(notebooks/02-debug-an-agent.ipynb) tells a story about: retrieval, a tool call and
its follow-up, a call rescued by the SDK's retries and a call that fails outright."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import llmdebug as ld

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def agent_run(tmp_path_factory):
    """Run the agent script once, in a subprocess, on the fake server (no OPENAI_* env)."""
    tmp = tmp_path_factory.mktemp("agent")
    db = tmp / "agent.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(LLMDEBUG_DB=str(db), LLMDEBUG_RAISE_ERRORS="1")
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "agent.py")], capture_output=True, text=True,
                         env=env, cwd=tmp, timeout=120, check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "LLMDebugWarning" not in out.stderr, out.stderr[-2000:]
    return db, out.stdout


@pytest.fixture
def agent_db(agent_run):
    """The file the agent wrote, opened read-only in spirit (the autouse trace_db fixture closes it)."""
    db, _ = agent_run
    ld.init(db, instrument=False)
    return db


def test_agent_prints_answer_and_tree(agent_run):
    _, stdout = agent_run
    assert "classifier failed (BadRequestError)" in stdout
    assert "answer: " in stdout
    for name in ("refund agent", "retrieve faq", "lookup_order", "agent loop", "ticket_note"):
        assert name in stdout


def _ancestors(spans, span_id):
    parent = spans.set_index("id")["parent_id"].to_dict()
    chain, p = [], parent[span_id]
    while isinstance(p, str):
        chain.append(p)
        p = parent[p]
    return chain


def test_agent_trace_shape(agent_db):
    traces = ld.traces()
    assert len(traces) == 1
    trace = traces.iloc[0]
    assert trace["name"] == "refund agent"
    assert (trace["calls"], trace["errors"], trace["status"]) == (4, 1, "error")

    spans = ld.spans()
    assert set(spans["trace_id"]) == {trace["trace_id"]}
    roots = spans[spans["parent_id"].isna()]
    assert len(roots) == 1 and roots.iloc[0]["kind"] == "trace"
    root_id = roots.iloc[0]["id"]

    retrieval = spans[spans["kind"] == "retrieval"]
    tool = spans[spans["kind"] == "tool"]
    assert len(retrieval) == 1 and len(tool) == 1
    for sid in (retrieval.iloc[0]["id"], tool.iloc[0]["id"]):
        chain = _ancestors(spans, sid)
        assert chain[-1] == root_id
        assert spans.set_index("id").loc[chain[0], "kind"] == "agent"

    r = ld.get(retrieval.iloc[0]["id"])
    assert "refund" in r.input and "1042" in r.input
    assert r.output and all(isinstance(d, str) for d in r.output)

    t = ld.get(tool.iloc[0]["id"])
    assert t.name == "lookup_order"
    assert "1042" in t.input["order_id"]
    assert t.output["item"] == "rain jacket"


def test_tool_call_round_trip(agent_db):
    calls = [ld.get(i) for i in ld.calls()["id"]]
    assert len(calls) == 4

    asked = [c for c in calls if c.tool_calls]
    assert len(asked) == 1
    (tc,) = asked[0].tool_calls
    assert tc["name"] == "lookup_order" and "order_id" in json.loads(tc["arguments"])
    assert asked[0].request["tools"][0]["function"]["name"] == "lookup_order"

    followups = [c for c in calls if any(m.get("role") == "tool" for m in c.messages or [])]
    assert len(followups) == 1
    follow = followups[0]
    tool_msg = next(m for m in follow.messages if m.get("role") == "tool")
    assert tool_msg["tool_call_id"] == tc["id"]
    assert json.loads(tool_msg["content"])["item"] == "rain jacket"
    assert follow.status == "ok" and not follow.tool_calls and follow.output_text
    # both turns of the loop sit under the agent span, next to the tool span
    spans = ld.spans()
    tool_span = spans[spans["kind"] == "tool"].iloc[0]
    assert asked[0].parent_id == follow.parent_id == tool_span["parent_id"]


def test_flaky_call_succeeds_through_sdk_retries(agent_db):
    flaky = ld.calls(status="ok")
    flaky = flaky[flaky["model"].str.contains("flaky-2")]
    assert len(flaky) == 1
    row = flaky.iloc[0]
    assert row["retries"] >= 2 and row["rate_limit_hits"] >= 2
    events = ld.get(row["id"]).events
    assert [e["status"] for e in events if e.get("type") == "http_attempt"][-1] == 200
    assert sum(e.get("status") == 429 for e in events) >= 2


def test_failed_call_is_in_the_trace(agent_db):
    failed = ld.calls(status="error")
    assert len(failed) == 1
    s = ld.get(failed.iloc[0]["id"])
    assert (s.status, s.http_status, s.error_type) == ("error", 400, "BadRequestError")
    assert s.error_message
    assert [e["status"] for e in s.events] == [400]  # max_retries=0: one attempt
    parent = ld.get(s.parent_id)
    assert parent.name == "classify" and parent.status == "ok"  # the agent caught it and carried on
