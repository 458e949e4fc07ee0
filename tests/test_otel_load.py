"""ld.load(): OTLP JSON files (made here from real OTel SDK spans) and the 20 Langfuse trace
exports under ../shared/fixtures (or $LLMDEBUG_FIXTURES; skipped when absent), checked
against values read from the export JSON here, then used by search, metrics, calls, the
trace widget and the call diff."""

import gzip
import json
import math
import os
import warnings
from pathlib import Path

import pytest

import llmdebug as ld
from llmdebug import pricing, providers, session
from llmdebug.diffing import diff_calls

FIXTURES = Path(os.environ.get("LLMDEBUG_FIXTURES") or Path(__file__).resolve().parents[1].parent / "shared" / "fixtures")
LANGFUSE = FIXTURES / "langfuse" / "worker" / "src" / "__tests__" / "chatml" / "framework-traces"
EXPORTS = sorted(LANGFUSE.glob("*.trace.json")) if LANGFUSE.is_dir() else []
needs_fixtures = pytest.mark.skipif(not EXPORTS, reason=f"Langfuse exports not found under {LANGFUSE}")

TYPE_KINDS = {"GENERATION": "llm", "SPAN": "span", "EVENT": "event", "AGENT": "agent", "TOOL": "tool",
              "CHAIN": "chain", "RETRIEVER": "retrieval", "EVALUATOR": "eval", "EMBEDDING": "embedding",
              "GUARDRAIL": "guardrail"}


def _spans(trace_id):
    ld.flush()
    return {s["id"]: s for s in ld.spans(trace_id=trace_id).to_dict("records")}


def _none(v):
    return v is None or (isinstance(v, float) and math.isnan(v))


def _n(v):
    """A DataFrame cell as a count (NaN: None)."""
    return None if _none(v) else int(v)


# -- Langfuse exports --------------------------------------------------------------------------


@needs_fixtures
def test_all_twenty_exports_are_there():
    assert len(EXPORTS) == 20


@needs_fixtures
@pytest.mark.parametrize("path", EXPORTS, ids=[p.name.removesuffix(".trace.json") for p in EXPORTS])
def test_langfuse_export_loads_as_in_the_export(path):
    export = json.loads(path.read_text())
    trace, observations = export["trace"], export["observations"]
    tid = trace["id"]

    assert ld.load(path) == [tid]
    got = _spans(tid)

    # the tree: the trace on top, each observation under its parent (or the trace when the
    # export lacks the parent)
    present = {o["id"] for o in observations}
    expected_parent = {o["id"]: o["parentObservationId"] if o["parentObservationId"] in present else tid
                       for o in observations}
    assert set(got) == {tid} | present
    assert got[tid]["kind"] == "trace" and _none(got[tid]["parent_id"]) and got[tid]["name"] == (trace["name"] or "trace")
    assert {i: got[i]["parent_id"] for i in present} == expected_parent
    assert {i: got[i]["kind"] for i in present} == {o["id"]: TYPE_KINDS[o["type"]] for o in observations}

    for o in observations:
        s = got[o["id"]]
        assert s["name"] == o["name"]
        if o["model"]:
            assert s["model"] == o["model"]
        usage = {k: v for k, v in (o.get("usageDetails") or {}).items() if isinstance(v, int)}
        if usage.get("total") is not None:
            assert _n(s["total_tokens"]) == usage["total"]
            rest = sum(v for k, v in usage.items() if k != "total")
            if rest == usage["total"]:  # Langfuse kept breakdowns as buckets beside input/output
                assert (_n(s["input_tokens"]) or 0) + (_n(s["output_tokens"]) or 0) == usage["total"]
            else:  # breakdowns inside input/output (or some usage not itemised)
                assert (_n(s["input_tokens"]), _n(s["output_tokens"])) == (usage.get("input"), usage.get("output"))
        cost = (o.get("costDetails") or {}).get("total")
        if cost is not None:
            assert s["cost_usd"] == pytest.approx(cost, rel=1e-9) and s["priced"]
    export_cost = sum((o.get("costDetails") or {}).get("total", 0) for o in observations)
    assert sum(0 if _none(s["cost_usd"]) else s["cost_usd"] for s in got.values()) == pytest.approx(export_cost)
    gens = [o for o in observations if o["type"] == "GENERATION"]
    assert sorted(c for c in ld.calls(trace_id=tid).id) == sorted(o["id"] for o in gens)

    # a generation's input is its request's conversation, so the detail pane and the diff show it
    for o in gens:
        s = ld.get(o["id"])
        if o["input"] not in (None, ""):
            assert providers.chat_messages(s), o["name"]
        assert s.request["model"] in (o["model"], s.request_model)

    # loading again adds nothing and answers the same
    assert ld.load(path) == [tid]
    assert len(_spans(tid)) == len(got)


@needs_fixtures
def test_langfuse_messages_tools_and_reasoning():
    autogen = LANGFUSE / "autogen-2025-06-06.trace.json"
    ld.load(autogen)
    call = ld.get("83517f9062f5ada4")
    assert [(m["role"], m["text"]) for m in providers.chat_messages(call)] == [
        ("system", "You are a helpful AI assistant. Solve tasks using your tools. Reply with TERMINATE when the task has been completed."),
        ("user", "Say 'Hello World!'")]
    # no provider attribute in this export: none is guessed, the request is OpenAI chat's
    assert call.output_text == "Hello World!" and call.provider is None and call.endpoint == "chat.completions"

    # Anthropic content blocks: an Anthropic request, the tool_use as a tool call
    claude = json.loads((LANGFUSE / "claude-agent-2025-12-22.trace.json").read_text())
    ld.load(LANGFUSE / "claude-agent-2025-12-22.trace.json")
    turn = next(o for o in claude["observations"] if o["type"] == "GENERATION" and "tool_use" in (o["output"] or ""))
    s = ld.get(turn["id"])
    assert s.provider == "anthropic" and s.endpoint == "messages"
    assert [c["function"]["name"] for c in s.tool_calls] == ["mcp__weather__get_weather"]

    # LangChain.js: reasoning kept beside the output in Langfuse's usage, inside it here
    js = json.loads((LANGFUSE / "langgraph-js-2025-10-30.trace.json").read_text())
    ld.load(LANGFUSE / "langgraph-js-2025-10-30.trace.json")
    gen = next(o for o in js["observations"] if o["usageDetails"].get("output_reasoning"))
    s = ld.get(gen["id"])
    u = gen["usageDetails"]
    assert (s.output_tokens, s.reasoning_tokens) == (u["output"] + u["output_reasoning"], u["output_reasoning"])
    # its earlier turn's tool call and the tool result, in OpenAI chat shape
    roles = [m["role"] for m in providers.chat_messages(s)]
    assert roles == ["user", "assistant", "tool"]

    # Gemini (google-genai): reasoning already inside the output count
    gem = json.loads((LANGFUSE / "google-gemini-2025-08-01.trace.json").read_text())["observations"][0]
    ld.load(LANGFUSE / "google-gemini-2025-08-01.trace.json")
    s = ld.get(gem["id"])
    assert (s.input_tokens, s.output_tokens, s.reasoning_tokens) == (6, 2055, 1104)
    assert [m["text"] for m in providers.chat_messages(s)] == ["What is Langfuse?"]
    assert s.output_text.startswith("**Langfuse**")


@needs_fixtures
def test_langfuse_scores_become_scores_once():
    path = LANGFUSE / "openai-agents-2025-09-30.trace.json"
    scores = json.loads(path.read_text())["trace"]["scores"]
    ld.load(path)
    ld.load(path)
    got = ld.scores()
    assert sorted(zip(got["name"], got["value"])) == sorted((s["name"], float(s["value"])) for s in scores)
    assert set(got["span_id"]) == {scores[0]["traceId"]}
    assert set(got["source"]) == {"llm"}  # Langfuse's EVAL scores were made by an LLM judge
    assert got["comment"].str.len().min() > 20


@needs_fixtures
def test_langfuse_export_without_cost_is_priced_by_llmdebug(tmp_path):
    export = json.loads((LANGFUSE / "autogen-2025-06-06.trace.json").read_text())
    for o in export["observations"]:
        o["costDetails"], o["totalCost"], o["providedCostDetails"] = {}, None, {}
    path = tmp_path / "unpriced.json"
    path.write_text(json.dumps(export))
    ld.load(path)
    s = ld.get("83517f9062f5ada4")
    expected = pricing.cost("gpt-4o", input_tokens=41, output_tokens=3, timestamp=s.started_at)
    assert expected is not None and s.priced and s.cost_usd == pytest.approx(expected)


@needs_fixtures
def test_langfuse_list_jsonl_and_gzip_in_file_order(tmp_path):
    a, b = EXPORTS[0], EXPORTS[1]
    da, db = json.loads(a.read_text()), json.loads(b.read_text())
    listed = tmp_path / "two.json"
    listed.write_text(json.dumps([db, da]))
    assert ld.load(listed) == [db["trace"]["id"], da["trace"]["id"]]
    lines = tmp_path / "lines.data"  # the name says nothing: the content decides
    lines.write_bytes(gzip.compress((json.dumps(da) + "\n" + json.dumps(db) + "\n").encode()))
    assert ld.load(lines) == [da["trace"]["id"], db["trace"]["id"]]
    assert len(_spans(da["trace"]["id"])) == len(da["observations"]) + 1


# -- OTLP JSON from real OTel SDK spans --------------------------------------------------------------


def _otel_batches():
    """Two export batches of real SDK spans: an agent with a GenAI chat call and a tool, and
    an OpenInference LLM call; as the JSON of ExportTraceServiceRequest."""
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "weather-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("invoke_agent weather", attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "weather"}):
        with tracer.start_as_current_span("chat gpt-4o-mini", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                "gen_ai.usage.input_tokens": 52, "gen_ai.usage.output_tokens": 9,
                "gen_ai.input.messages": json.dumps([
                    {"role": "system", "parts": [{"type": "text", "content": "Answer briefly."}]},
                    {"role": "user", "parts": [{"type": "text", "content": "Is it raining in Lisbon?"}]}]),
                "gen_ai.output.messages": json.dumps([
                    {"role": "assistant", "finish_reason": "tool_call", "parts": [
                        {"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Lisbon"}}]}])}):
            pass
        with tracer.start_as_current_span("execute_tool get_weather", attributes={
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather",
                "gen_ai.tool.call.arguments": '{"city": "Lisbon"}', "gen_ai.tool.call.result": '"drizzle"'}):
            pass
    first = exporter.get_finished_spans()
    exporter.clear()
    with tracer.start_as_current_span("ChatCompletion", attributes={
            "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini", "llm.provider": "openai",
            "llm.input_messages.0.message.role": "system", "llm.input_messages.0.message.content": "Answer briefly.",
            "llm.input_messages.1.message.role": "user",
            "llm.input_messages.1.message.content": "Is it raining in Porto?",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": "Yes, light drizzle in Porto.",
            "llm.token_count.prompt": 50, "llm.token_count.completion": 8}):
        pass
    second = exporter.get_finished_spans()
    return [MessageToDict(encode_spans(batch)) for batch in (first, second)]


def _hex_ids(request):
    """The Collector's file exporter writes ids in hex; protobuf's JSON mapping in base64."""
    import base64

    for rs in request["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for sp in ss["spans"]:
                for k in ("traceId", "spanId", "parentSpanId"):
                    if sp.get(k):
                        sp[k] = base64.b64decode(sp[k]).hex()
    return request


@pytest.fixture
def otlp_file(tmp_path):
    first, second = _otel_batches()
    path = tmp_path / "otel-traces.jsonl"
    path.write_text(json.dumps(first) + "\n\n" + json.dumps(_hex_ids(second)) + "\n")
    return path, first, second


def test_otlp_json_lines_load_and_work_downstream(otlp_file):
    path, first, second = otlp_file
    ids = ld.load(path)
    assert len(ids) == 2 and len(set(ids)) == 2
    agent_trace, porto_trace = ids
    tree = _spans(agent_trace)
    by_name = {s["name"]: s for s in tree.values()}
    agent, chat, tool = by_name["invoke_agent weather"], by_name["chat gpt-4o-mini"], by_name["execute_tool get_weather"]
    assert (agent["kind"], chat["kind"], tool["kind"]) == ("agent", "llm", "tool")
    assert chat["parent_id"] == agent["id"] and tool["parent_id"] == agent["id"] and _none(agent["parent_id"])
    assert (chat["model"], chat["input_tokens"], chat["output_tokens"]) == ("gpt-4o-mini-2024-07-18", 52, 9)
    assert chat["cost_usd"] > 0

    # loading again adds nothing
    assert ld.load(path) == ids
    assert len(_spans(agent_trace)) == 3 and len(_spans(porto_trace)) == 1

    # search, calls, metrics
    hits = ld.search("raining Porto")
    assert len(hits) == 1 and hits.iloc[0]["trace_id"] == porto_trace
    assert len(ld.search("raining Lisbon")) == 1
    calls = ld.calls()
    assert sorted(calls.model) == ["gpt-4o-mini", "gpt-4o-mini-2024-07-18"]
    assert int(ld.metrics(by=None)["calls"].iloc[0]) == 2

    # the trace widget and the diff of the two calls
    w = ld.show(agent_trace)
    rows = w.span_rows()
    assert [(r["name"], r["parent"]) for r in rows][0] == ("invoke_agent weather", -1)
    assert sorted(r["name"] for r in rows[1:]) == ["chat gpt-4o-mini", "execute_tool get_weather"]
    porto = calls[calls.trace_id == porto_trace].id.iloc[0]
    d = diff_calls(chat["id"], porto)
    changed = [m for m in d["messages"] if m["op"] != "equal"]
    assert d["system"]["op"] == "equal" and changed and "Porto" in json.dumps(changed)
    assert d["output"]["op"] != "equal"


def test_otlp_single_document_and_gzip(tmp_path):
    first, second = _otel_batches()
    doc = tmp_path / "export.json"
    doc.write_text(json.dumps(first, indent=2))  # one pretty-printed request
    ids = ld.load(doc)
    assert len(ids) == 1 and len(_spans(ids[0])) == 3
    gz = tmp_path / "export.json.gz"
    gz.write_bytes(gzip.compress((json.dumps(first) + "\n" + json.dumps(second) + "\n").encode()))
    both = ld.load(gz)
    assert both[0] == ids[0] and len(both) == 2 and len(_spans(both[1])) == 1


def test_otlp_logs_and_metrics_lines_are_skipped_with_a_warning(tmp_path):
    first, _ = _otel_batches()
    path = tmp_path / "all-signals.jsonl"
    path.write_text(json.dumps({"resourceMetrics": []}) + "\n" + json.dumps(first) + "\n")
    with pytest.warns(UserWarning, match="skipped 1 OTLP logs/metrics"):
        assert len(ld.load(path)) == 1


# -- bad input -----------------------------------------------------------------------------------------


def test_bad_files_raise_naming_the_file_and_what_was_expected(tmp_path):
    cases = {
        "notes.txt": b"hello, not traces\n",
        "other.json": json.dumps({"data": [1, 2]}).encode(),
        "empty.jsonl": b"\n  \n",
        "cut.gz": gzip.compress(b'{"resourceSpans": []}')[:-6],
        "latin1.json": "caf\xe9".encode("latin-1"),
        "spanless.json": json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "x"}]}]}]}).encode(),
        "no-trace-id.json": json.dumps({"trace": {"name": "t"}, "observations": []}).encode(),
    }
    for name, data in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(ValueError) as e:
            ld.load(p)
        assert str(p) in str(e.value), name
        if name in ("notes.txt", "other.json", "empty.jsonl"):
            assert "OTLP JSON" in str(e.value) and "Langfuse" in str(e.value), name
    with pytest.raises(TypeError, match="file path"):
        ld.load(42)
    with pytest.raises(FileNotFoundError):
        ld.load(tmp_path / "missing.jsonl")


def test_a_bad_line_names_its_number_and_nothing_is_stored(tmp_path):
    first, second = _otel_batches()
    path = tmp_path / "cut.jsonl"
    path.write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n" + json.dumps(second)[:40] + "\n")
    with pytest.raises(ValueError, match=r"line 3 is not JSON.*nothing from the file was stored"):
        ld.load(path)
    path.write_text(json.dumps(first) + "\n" + json.dumps({"hello": 1}) + "\n")
    with pytest.raises(ValueError, match=r"line 2: expected"):
        ld.load(path)
    ld.flush()
    assert len(ld.spans()) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path.write_text(json.dumps(first) + "\n")
        assert len(ld.load(path)) == 1
