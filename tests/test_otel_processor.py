"""llmdebug's OTel span processor on a provider the user builds: llmdebug's spans and OTel's
nest both ways, and everything downstream works on an ingested LLM span (search, the
detail, replay through a real SDK, the diff against the replay, metrics, the dashboard)."""

import json

import pytest

pytest.importorskip("opentelemetry.sdk.trace")

from opentelemetry.sdk.trace import TracerProvider  # noqa: E402

import llmdebug as ld  # noqa: E402
from llmdebug import providers  # noqa: E402
from llmdebug.diffing import diff_calls  # noqa: E402
from llmdebug.otel import SpanProcessor  # noqa: E402


@pytest.fixture
def tracer(trace_db):
    """A TracerProvider of the test's own (never the global one) with llmdebug's processor."""
    ld.init(trace_db, instrument=False)
    provider = TracerProvider()
    provider.add_span_processor(SpanProcessor())
    yield provider.get_tracer("app")
    provider.shutdown()


def stored() -> dict:
    """name -> row of every stored span, and the parent's name under "parent"."""
    assert ld.flush(30)
    df = ld.spans()
    names = dict(zip(df["id"], df["name"]))
    return {r["name"]: dict(r, parent=names.get(r["parent_id"])) for r in df.to_dict("records")}


def test_ld_spans_and_otel_spans_nest_both_ways(tracer, llm_openai_client):
    ld.instrument()
    with tracer.start_as_current_span("handle request", attributes={"openinference.span.kind": "AGENT"}):
        with ld.span("plan"):
            llm_openai_client.chat.completions.create(model="gpt-4o-mini",
                                                      messages=[{"role": "user", "content": "Plan a trip"}])
            with tracer.start_as_current_span("lookup", attributes={"openinference.span.kind": "TOOL"}):
                with ld.span("parse") as inner:
                    inner.set_output("ok")
    rows = stored()
    assert rows["plan"]["parent"] == "handle request"  # ld span inside an OTel span
    assert rows["openai.chat.completions"]["parent"] == "plan"
    assert rows["lookup"]["parent"] == "plan"  # OTel span inside an ld span
    assert rows["parse"]["parent"] == "lookup"  # and back again
    assert rows["handle request"]["kind"] == "agent" and rows["lookup"]["kind"] == "tool"
    assert len({r["trace_id"] for r in rows.values()}) == 1


def test_ld_trace_inside_an_otel_span_and_otel_spans_inside_ld_trace(tracer):
    with tracer.start_as_current_span("web request"):
        with ld.trace("job"):
            with tracer.start_as_current_span("db query"):
                pass
    rows = stored()
    assert rows["job"]["parent"] == "web request"
    assert rows["db query"]["parent"] == "job"
    assert rows["job"]["trace_id"] == rows["web request"]["trace_id"] == rows["db query"]["trace_id"]


def llm_span_attributes(question: str) -> dict:
    return {
        "openinference.span.kind": "LLM",
        "llm.provider": "openai",
        "llm.model_name": "gpt-4o-mini",
        "llm.input_messages.0.message.role": "system",
        "llm.input_messages.0.message.content": "Answer in one word.",
        "llm.input_messages.1.message.role": "user",
        "llm.input_messages.1.message.content": question,
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": "Lisbon",
        "llm.invocation_parameters": json.dumps({"temperature": 0.2}),
        "llm.token_count.prompt": 21,
        "llm.token_count.completion": 2,
    }


def test_everything_downstream_works_on_an_ingested_llm_span(tracer, llm_openai_client):
    with tracer.start_as_current_span("ChatCompletion", attributes=llm_span_attributes("Capital of Portugal?")):
        pass
    row = stored()["ChatCompletion"]
    assert (row["kind"], row["model"], row["input_tokens"], row["output_tokens"]) == ("llm", "gpt-4o-mini", 21, 2)
    assert row["cost_usd"] > 0  # priced by genai-prices: the span carried no cost

    span = ld.get(row["id"])
    chat = providers.chat_messages(span)
    assert [(m["role"], m["text"]) for m in chat] == [("system", "Answer in one word."),
                                                     ("user", "Capital of Portugal?")]
    assert span.output_text == "Lisbon" and span.request["temperature"] == 0.2

    assert list(ld.search("Portugal")["id"]) == [row["id"]]
    assert ld.metrics(by=None)["calls"].iloc[0] == 1

    # replay rebuilds the request from the recorded messages and sends it through the SDK
    ld.instrument()
    again = ld.replay(span, client=llm_openai_client, temperature=0.0)
    assert again.replay_of == row["id"] and again.status == "ok" and again.output_text
    d = diff_calls(span, ld.get(again.id))
    assert d["params"]  # temperature 0.2 -> 0.0 shows as a parameter change
    ld.dashboard()  # builds over ingested and captured calls alike
