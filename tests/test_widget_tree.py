"""The trace-tree widget's state (what is synced to the browser), lazy detail loading,
the traces browser and the text fallback. Rendering and clicks: tests/browser/."""

import json
import sqlite3

import pytest

import llmdebug as ld
from llmdebug.widgets.trace_tree import ROW_FIELDS, TraceTree
from llmdebug import providers

_ENDPOINTS = {"anthropic": ("anthropic", "messages"), "openai-responses": ("openai", "responses"),
              "openai-chat": ("openai", "chat.completions"), "openai-embeddings": ("openai", "embeddings")}


def chat_messages(wire_id, request):
    provider, endpoint = _ENDPOINTS[wire_id]
    return providers.chat_messages(request=request, provider=provider, endpoint=endpoint)

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]


def _data_bytes(w: TraceTree) -> int:
    state = w.get_state()
    return len(json.dumps({k: v for k, v in state.items() if k not in ("_esm", "_css")}))


@pytest.fixture
def agent_trace(ld_on, llm_openai_client, llm_anthropic_client):
    """A trace with nested user spans, an OpenAI tool call, a 429-retried call, an
    Anthropic call and a failed call."""
    with ld.trace("agent") as t:
        with ld.span("retrieve", kind="retrieval") as s:
            s.set_input("refund policy")
            s.set_output(["doc-1", "doc-2"])
        with ld.span("plan", kind="agent"):
            llm_openai_client.chat.completions.create(
                model="gpt-4o-mini", tools=TOOLS, temperature=0.2,
                messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"}])
            llm_openai_client.chat.completions.create(model="gpt-4o-mini-flaky-2", messages=[{"role": "user", "content": "again"}])
        llm_anthropic_client.messages.create(model="claude-3-5-haiku-latest", max_tokens=20,
                                         messages=[{"role": "user", "content": "hi claude"}])
        try:
            llm_openai_client.with_options(max_retries=0).chat.completions.create(
                model="fail-400", messages=[{"role": "user", "content": "bad"}])
        except Exception:
            pass
    ld.flush()
    return t


def test_tree_state_is_depth_first_summaries_with_interned_strings(agent_trace):
    w = ld.show(agent_trace.trace_id)
    assert isinstance(w, TraceTree) and not w.browser and w.title == "agent"
    rows = w.span_rows()
    assert [(r["name"], r["kind"]) for r in rows] == [
        ("agent", "trace"), ("retrieve", "retrieval"), ("plan", "agent"),
        ("openai.chat.completions", "llm"), ("openai.chat.completions", "llm"),
        ("anthropic.messages", "llm"), ("openai.chat.completions", "llm")]
    assert [r["parent"] for r in rows] == [-1, 0, 0, 2, 2, 0, 0]
    # every synced row has the summary fields, and nothing else
    assert all(len(r) == len(ROW_FIELDS) for r in w.rows)
    assert w.strings.count("openai.chat.completions") == 1  # interned
    flaky, failed = rows[4], rows[6]
    assert flaky["retries"] == 2 and flaky["rate_limit_hits"] == 2 and flaky["status"] == "ok"
    assert failed["status"] == "error" and failed["error_type"] == "BadRequestError"
    assert rows[3]["input_tokens"] > 0 and rows[3]["cost_usd"] > 0
    # a shared timeline: offsets from the trace start, within the trace's duration
    assert rows[0]["start_ms"] == 0.0 and w.total_ms >= rows[0]["latency_ms"] - 1
    # the text fallback marks the root as holding a failure, as the widget does
    assert repr(w).splitlines()[1].endswith("● error inside")
    assert all(0 <= r["start_ms"] <= w.total_ms for r in rows)
    assert rows[4]["start_ms"] >= rows[3]["start_ms"]


def test_payload_is_synced_only_when_a_span_is_selected(agent_trace):
    w = ld.show(agent_trace.trace_id)
    state = json.dumps(w.get_state(), ensure_ascii=False)
    assert "Weather in Paris?" not in state and w.detail == {}
    w.selected = 3  # what a click in the browser does
    d = w.detail
    assert d["index"] == 3 and d["model"] == "gpt-4o-mini"
    assert [(m["role"], m["text"]) for m in d["messages"]] == [("system", "Be brief."), ("user", "Weather in Paris?")]
    assert d["tools"][0]["name"] == "get_weather" and d["tools"][0]["description"] == "Weather by city"
    assert d["params"] == {"model": "gpt-4o-mini", "temperature": "0.2"}
    assert d["output_tool_calls"][0]["name"] == "get_weather"
    assert '"city"' in d["output_tool_calls"][0]["arguments"]
    assert "[user]\nWeather in Paris?" in d["prompt_text"]
    assert json.loads(d["request_json"])["messages"][1]["content"] == "Weather in Paris?"
    assert d["events"] and d["events"][0]["status"] == 200
    assert "Weather in Paris?" in json.dumps(w.get_state(), ensure_ascii=False)
    # the 429s of the flaky call are HTTP attempts in its detail
    w.selected = 4
    assert [e["status"] for e in w.detail["events"]] == [429, 429, 200]
    # a failed call: error type, HTTP status, message
    w.selected = 6
    assert w.detail["error_type"] == "BadRequestError" and w.detail["http_status"] == 400
    assert "Invalid request" in w.detail["error_message"]
    # a user span: input and output instead of messages
    w.selected = 1
    assert "messages" not in w.detail and json.loads(w.detail["output"]) == ["doc-1", "doc-2"]
    assert w.detail["input"] == "refund policy"
    w.selected = -1
    assert w.detail == {}


def test_huge_prompt_is_clipped_in_the_detail_not_in_the_store(ld_on, llm_openai_client):
    big = "x" * 2_000_000
    with ld.trace("big") as t:
        llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": big}])
    w = ld.show(t.trace_id)
    w.selected = 1
    text = w.detail["messages"][0]["text"]
    assert len(text) < 200_000 and "more characters" in text and "ld.get(" in text
    # the store keeps the first million characters (rows.to_json); the widget a tenth of that
    assert ld.get(w.span_rows()[1]["id"]).messages[0]["content"].startswith("x" * 1_000_000)


def test_show_accepts_ids_prefixes_spans_rows_and_frames(agent_trace):
    calls = ld.calls()
    failed = calls[calls.status == "error"].iloc[0]
    for x in (failed["id"], failed["id"][:20], ld.get(failed["id"]), failed, calls[calls.status == "error"]):
        w = ld.show(x)
        assert w.trace_id == agent_trace.trace_id
        assert w.selected == 6 and w.detail["error_type"] == "BadRequestError", type(x)
    w = ld.show(ld.traces())
    assert w.trace_id == agent_trace.trace_id and w.selected == -1
    with pytest.raises(KeyError, match="no span with id"):
        ld.show("nope")
    with pytest.raises(LookupError, match="no rows"):
        ld.show(calls.iloc[0:0])


def test_show_without_argument_is_the_traces_browser_with_the_newest_open(ld_on, llm_openai_client):
    w = ld.show()
    assert w.browser and w.traces == [] and w.rows == [] and "no traces captured yet" in w.message
    names = ["alpha 100%", "beta_1", "gamma"]
    for n in names:
        with ld.trace(n):
            try:
                llm_openai_client.chat.completions.create(
                    model="fail-400" if n == "gamma" else "gpt-4o-mini", messages=[{"role": "user", "content": n}])
            except Exception:
                pass
    try:
        llm_openai_client.with_options(max_retries=0).chat.completions.create(
            model="claude-fail-400", messages=[{"role": "user", "content": "x"}])
    except Exception:
        pass
    w = ld.show()
    assert w.browser and len(w.traces) == 4
    assert [r[1] for r in w.traces] == ["openai.chat.completions", "gamma", "beta_1", "alpha 100%"]  # newest first
    assert w.trace_id == w.traces[0][0] and w.rows  # the newest trace is open
    # filters, as the browser sends them: LIKE wildcards are literal
    w.filters = {"name": "100%"}
    assert [r[1] for r in w.traces] == ["alpha 100%"]
    w.filters = {"name": "_"}
    assert [r[1] for r in w.traces] == ["beta_1"]
    w.filters = {"status": "error"}
    assert {r[1] for r in w.traces} == {"gamma", "openai.chat.completions"}
    assert all(r[-1] == "error" and r[9] == 1 for r in w.traces)
    w.filters = {"model": "claude"}
    assert [r[1] for r in w.traces] == ["openai.chat.completions"]
    w.filters = {"since": "1h", "name": "zzz"}
    assert w.traces == [] and w.message == "no traces match"
    # a click on a row: Python loads that trace's spans
    w.filters = {}
    beta = next(r for r in w.traces if r[1] == "beta_1")
    w.trace_id = beta[0]
    assert w.title == "beta_1" and [r["name"] for r in w.span_rows()] == ["beta_1", "openai.chat.completions"]
    assert w.message == ""
    # hiding the table and showing it again refreshes it
    w.browser = False
    with ld.trace("delta"):
        pass
    w.browser = True
    assert w.traces[0][1] == "delta"


def test_search_finds_prompt_and_output_text_inside_the_trace(agent_trace):
    w = ld.show(agent_trace.trace_id)
    w.query = "paris"
    assert w.text_matches == [3]
    w.query = 'claude "'  # stray quote: never FTS syntax, never an error
    assert w.text_matches == [5]
    w.query = ""
    assert w.text_matches == []


def test_text_fallback_for_saved_notebooks_and_nbval(ld_on, llm_openai_client):
    hostile = "<img src=x onerror=alert(1)>"
    with ld.trace(hostile) as t:
        llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": hostile}])
    w = ld.show(t.trace_id)
    data, _ = w._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    text = data["text/plain"]
    assert text.startswith(f"trace {t.trace_id[:12]} · {hostile}") and "openai.chat.completions" in text
    assert " object at 0x" not in text and repr(w) == text
    assert "<img" not in data["text/html"] and "&lt;img src=x" in data["text/html"]
    # the browser view (no trace open yet) lists traces in text too
    b = TraceTree(browser=True)
    assert "llmdebug traces: 1 recent" in repr(b) and hostile in repr(b)
    assert "<img" not in b._repr_mimebundle_()[0]["text/html"]


def test_a_span_that_vanished_gives_a_message_not_an_exception(agent_trace):
    from llmdebug import session

    w = ld.show(agent_trace.trace_id)
    sid = w.span_rows()[3]["id"]
    with sqlite3.connect(session.get_store().path) as db:
        db.execute("DELETE FROM spans WHERE id = ?", [sid])
    w.selected = 3
    assert w.detail["load_error"].startswith("could not load this span: no span with id") and w.detail["index"] == 3


def test_five_thousand_spans_sync_compact_summaries(ld_on):
    with ld.trace("big") as t:
        for i in range(100):
            with ld.span(f"step {i}", kind="agent"):
                for j in range(49):
                    with ld.span("tool call", kind="tool") as s:
                        s.set_input({"i": i, "j": j, "pad": "p" * 200})
    w = ld.show(t.trace_id)
    assert len(w.rows) == 5001  # root + 100 steps + 4,900 tool calls
    assert len(w.strings) == 106  # 100 step names, 'big', 'tool call', 3 kinds, 'ok': each sent once
    # summaries only, ~70 bytes of JSON a span; the 200-byte inputs stay in the store
    assert _data_bytes(w) < 5001 * 80
    assert "pad" not in json.dumps(w.rows)
    w.selected = 5000
    assert '"pad"' in w.detail["input"]
    # the fallback a saved notebook keeps is the first 300 spans, and says so
    data, _ = w._repr_mimebundle_()
    assert "first 300 of 5,001 spans" in data["text/plain"] and data["text/plain"].count("\n") == 300
    assert len(data["text/html"]) < 60_000


def test_chat_messages_normalise_every_provider_shape():
    anth = {"system": "sys", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "look"},
                                     {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}}]},
        {"role": "assistant", "content": [{"type": "text", "text": "calling"},
                                          {"type": "tool_use", "id": "tu1", "name": "f", "input": {"a": 1}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu1", "content": "42"}]}]}
    m = chat_messages("anthropic", anth)
    assert [(x["role"], x["text"]) for x in m] == [
        ("system", "sys"), ("user", "look\n[image image/png]"), ("assistant", "calling"), ("tool", "42")]
    assert m[2]["tool_calls"] == [{"id": "tu1", "name": "f", "arguments": '{"a": 1}'}]
    assert m[3]["tool_call_id"] == "tu1"
    resp = {"instructions": "be nice", "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {"type": "function_call", "call_id": "c1", "name": "g", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "done"}]}
    m = chat_messages("openai-responses", resp)
    assert [(x["role"], x["text"]) for x in m] == [("system", "be nice"), ("user", "hi"), ("assistant", ""), ("tool", "done")]
    assert m[2]["tool_calls"][0]["name"] == "g"
    chat = {"messages": [{"role": "user", "content": [{"type": "text", "text": "what is"},
                                                      {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
                         {"role": "assistant", "content": None, "tool_calls": [
                             {"id": "t", "type": "function", "function": {"name": "h", "arguments": "{\"q\": 1}"}}]},
                         {"role": "tool", "tool_call_id": "t", "content": "r"}]}
    m = chat_messages("openai-chat", chat)
    assert m[0]["text"] == "what is\n[image: https://x/y.png]"
    assert m[1]["tool_calls"] == [{"id": "t", "name": "h", "arguments": '{"q": 1}'}] and m[2]["tool_call_id"] == "t"
    assert chat_messages("openai-embeddings", {"input": ["a", "b"]})[0]["role"] == "user"
    assert chat_messages("openai-chat", None) == []


def test_names_and_models_with_bidi_and_invisible_characters_are_drawn_visibly(ld_on, llm_openai_client):
    from llmdebug.widgets.text import CellSummary, span_line

    with ld.trace("agent\u202eevil") as t:
        with ld.span("step\u200b1", kind="tool"):
            llm_openai_client.chat.completions.create(
                model="gpt-4o-mini\u202e-x\u200b",
                messages=[{"role": "user", "content": "hi \u202eworld 👨\u200d👩"}])
    ld.flush()
    w = ld.show(t.trace_id)
    # synced values stay real (search, filters and copy use them); the JavaScript draws them
    rows = w.span_rows()
    assert w.title == "agent\u202eevil" and rows[1]["name"] == "step\u200b1"
    assert rows[2]["model"] == "gpt-4o-mini\u202e-x\u200b"
    w.selected = 2
    assert w.detail["messages"][0]["text"] == "hi \u202eworld 👨\u200d👩"
    # the text and HTML fallbacks show them
    data, _ = w._repr_mimebundle_()
    for text in (data["text/plain"], data["text/html"]):
        assert "agent⟨U+202E⟩evil" in text and "step⟨U+200B⟩1" in text
        assert "gpt-4o-mini⟨U+202E⟩-x⟨U+200B⟩" in text
        assert "\u202e" not in text and "\u200b" not in text
    # the traces browser's text, the cell summary, and a failed span's line
    b = TraceTree(browser=True)
    assert "agent⟨U+202E⟩evil" in repr(b) and "\u202e" not in repr(b)
    calls = [dict(r, input_tokens=1, output_tokens=1) for r in w.span_rows() if r["kind"] == "llm"]
    summary = CellSummary(calls, {t.trace_id: w._rows_plain})
    assert "(gpt-4o-mini⟨U+202E⟩-x⟨U+200B⟩)" in repr(summary)
    assert "⟨U+202E⟩" in summary._repr_html_() and "\u202e" not in summary._repr_html_()
    line = span_line({"status": "error", "kind": "llm", "name": "n", "error_type": "Bad\u200dError",
                      "error_message": "model \u202eX\u202c said 👨\u200d👩 no"})
    # the error type is a label (every character shown); its message is content (a ZWJ stays)
    assert line.endswith("· Bad⟨U+200D⟩Error: model ⟨U+202E⟩X⟨U+202C⟩ said 👨\u200d👩 no")


def test_text_search_matches_word_prefixes(ld_on):
    from llmdebug.widgets.trace_tree import TraceTree

    with ld.trace("weather") as t:
        with ld.span("lookup", kind="tool") as s:
            s.set_output("Sunny in Paris today")
        with ld.span("other", kind="tool") as s:
            s.set_output("nothing here")
    ld.flush()
    w = TraceTree(t.trace_id)
    w.query = "par"  # typing: the word is not finished yet
    assert [w._ids[i] for i in w.text_matches] == [ld.spans(name="lookup")["id"].iloc[0]]
    w.query = "C++ 50%"  # never FTS syntax errors
    assert w.text_matches == []
