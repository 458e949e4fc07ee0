"""Real agent frameworks and OTel instrumentations, offline against the fake LLM server: each
framework's tree lands in llmdebug with its LLM calls inside it, once each, with tokens,
model, messages and cost, whether llmdebug's own capture is on or off.

OpenTelemetry's TracerProvider can be set once per process: one SDK provider for the
session, ``ld.init(otel=True)`` adds llmdebug's processor to it, and every test removes
the instrumentors it added.
"""

from __future__ import annotations

import asyncio

import pytest

import llmdebug as ld
from llmdebug.providers import chat_messages

pytest.importorskip("opentelemetry.sdk.trace")
from opentelemetry import trace as otel_trace  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402

# the frameworks' agents and chains, shared with tests/browser/test_frameworks_trees_ui.py
from helpers.frameworks import (  # noqa: E402
    MODEL,
    QUESTION,
    agents_sdk_agent,
    agents_sdk_usage,
    langchain_chain,
    pydantic_ai_agent,
    pydantic_ai_usage,
    run_tool_loop,
    weather,
)

CAPTURE = pytest.mark.parametrize("capture", [True, False], ids=["ld-capture-on", "ld-capture-off"])


@pytest.fixture(scope="session")
def otel_provider():
    """The process's one SDK TracerProvider (kept when another test set one already)."""
    provider = otel_trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        otel_trace.set_tracer_provider(TracerProvider())
        provider = otel_trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    return provider


@pytest.fixture
def ld_otel(trace_db, otel_provider):
    """``ld.init(otel=True)``; call with ``capture=False`` for llmdebug's own capture off."""

    def start(capture: bool = True):
        ld.init(trace_db, otel=True, instrument=capture)

    return start


def tree(trace_id: str | None = None) -> list[tuple[str, str, str | None]]:
    """(name, kind, parent's name) of every stored span, oldest first."""
    assert ld.flush(30)
    df = ld.spans(trace_id) if trace_id else ld.spans()
    names = dict(zip(df["id"], df["name"]))
    return [(r.name, r.kind, names.get(r.parent_id)) for r in df.sort_values("started_at").itertuples()]


def llm_rows():
    assert ld.flush(30)
    return ld.calls().sort_values("started_at")


def check_calls(expected_tokens: list[tuple[int, int]], *, trace_rows: int | None = None) -> None:
    """One LLM span per call with the framework's own token counts, the model, a price, the
    messages (a tool result in the second), the metrics counting each call once, one trace
    whose tree widget has a row per span."""
    calls = llm_rows()
    assert len(calls) == len(expected_tokens)
    assert [(int(r.input_tokens), int(r.output_tokens)) for r in calls.itertuples()] == expected_tokens
    assert set(calls["model"]) == {MODEL}
    assert calls["cost_usd"].notna().all() and (calls["cost_usd"] > 0).all()
    for i, row in enumerate(calls.itertuples()):
        msgs = chat_messages(ld.get(row.id))
        assert any(m["role"] == "user" and QUESTION in (m["text"] or "") for m in msgs), msgs
        if i > 0:  # the answer after the tool ran sees the tool call and its result
            assert any(m["tool_calls"] for m in msgs if m["role"] == "assistant"), msgs
            assert any(m["role"] == "tool" and "sunny in" in (m["text"] or "") for m in msgs), msgs
    m = ld.metrics(by=None)
    assert int(m["calls"].iloc[0]) == len(expected_tokens)
    assert int(m["input_tokens"].iloc[0]) == sum(t[0] for t in expected_tokens)
    assert int(m["output_tokens"].iloc[0]) == sum(t[1] for t in expected_tokens)
    traces = ld.spans()["trace_id"].unique()
    assert len(traces) == 1
    widget = ld.show(traces[0])
    assert len(widget.rows) == (trace_rows if trace_rows is not None else len(ld.spans(traces[0])))


# -- a. OpenInference's OpenAI instrumentation -------------------------------------------


@pytest.fixture
def openinference_openai():
    mod = pytest.importorskip("openinference.instrumentation.openai")
    inst = mod.OpenAIInstrumentor()
    inst.instrument()
    yield inst
    inst.uninstrument()


@CAPTURE
def test_openinference_openai(ld_otel, openinference_openai, llm_openai_client, capture):
    ld_otel(capture)
    usage = run_tool_loop(llm_openai_client, otel_trace.get_tracer("tests"))
    t = tree()
    llm_name = "openai.chat.completions" if capture else "ChatCompletion"
    assert [(n, k, p) for n, k, p in t] == [
        ("weather agent", "agent", None),
        (llm_name, "llm", "weather agent"),
        ("weather", "tool", "weather agent"),
        (llm_name, "llm", "weather agent"),
    ]
    check_calls(usage)


# -- b. the official opentelemetry-instrumentation-openai-v2 ----------------------------


@pytest.fixture
def openai_v2(monkeypatch):
    pytest.importorskip("opentelemetry.instrumentation.openai_v2")

    def instrument(mode: str):
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", mode)
        monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
        inst = OpenAIInstrumentor()
        inst.instrument()
        made.append(inst)

    made: list = []
    yield instrument
    for inst in made:
        inst.uninstrument()


@pytest.mark.parametrize("mode", ["SPAN_ONLY", "EVENT_ONLY"])
@CAPTURE
def test_openai_v2(ld_otel, openai_v2, llm_openai_client, capture, mode):
    """Messages as span attributes (SPAN_ONLY) or as log events (EVENT_ONLY, kept by
    llmdebug's log processor for their span): both reach the stored call."""
    ld_otel(capture)
    openai_v2(mode)
    usage = run_tool_loop(llm_openai_client, otel_trace.get_tracer("tests"))
    llm_name = "openai.chat.completions" if capture else f"chat {MODEL}"
    assert tree() == [
        ("weather agent", "agent", None),
        (llm_name, "llm", "weather agent"),
        ("weather", "tool", "weather agent"),
        (llm_name, "llm", "weather agent"),
    ]
    check_calls(usage)


# -- c. pydantic-ai's own OTel spans ------------------------------------------------------


@CAPTURE
def test_pydantic_ai(ld_otel, llm_server, capture):
    pytest.importorskip("pydantic_ai")
    ld_otel(capture)
    agent = pydantic_ai_agent(llm_server.openai_base_url)
    result = agent.run_sync(QUESTION)
    assert "sunny in" in result.output
    llm_name = "openai.chat.completions" if capture else f"chat {MODEL}"
    assert tree() == [
        ("invoke_agent forecaster", "agent", None),
        (llm_name, "llm", "invoke_agent forecaster"),
        ("execute_tool weather", "tool", "invoke_agent forecaster"),
        (llm_name, "llm", "invoke_agent forecaster"),
    ]
    check_calls(pydantic_ai_usage(result))
    df = ld.spans()
    agent_span = ld.get(df[df.kind == "agent"].id.iloc[0])
    assert agent_span.input == QUESTION and "sunny in" in agent_span.output
    tool_span = ld.get(df[df.kind == "tool"].id.iloc[0])
    assert tool_span.input == {"city": QUESTION} or "city" in str(tool_span.input)
    system = chat_messages(ld.get(df[df.kind == "llm"].id.iloc[0]))[0]
    assert system["role"] == "system" and system["text"] == "Answer with the weather."


# -- d. the OpenAI Agents SDK (its own tracing, not OTel) --------------------------------


@pytest.fixture
def agents_sdk():
    agents = pytest.importorskip("agents")
    from llmdebug.otel.agents import TracingProcessor

    agents.set_trace_processors([TracingProcessor()])  # and nothing sent to OpenAI
    yield agents
    agents.set_trace_processors([])


@CAPTURE
def test_openai_agents_sdk(ld_otel, agents_sdk, llm_server, capture):
    ld_otel(capture)
    agent, client = agents_sdk_agent(llm_server.openai_base_url)
    result = agents_sdk.Runner.run_sync(agent, QUESTION)
    asyncio.run(client.close())
    assert "sunny in" in result.final_output
    llm_name = "openai.responses" if capture else "response"
    assert tree() == [
        ("Agent workflow", "trace", None),
        ("Forecaster", "agent", "Agent workflow"),
        ("turn 1", "chain", "Forecaster"),
        (llm_name, "llm", "turn 1"),
        ("weather_tool", "tool", "turn 1"),
        ("lookup", "retrieval", "weather_tool"),
        ("turn 2", "chain", "Forecaster"),
        (llm_name, "llm", "turn 2"),
    ]
    check_calls(agents_sdk_usage(result))
    df = ld.spans()
    tool_span = ld.get(df[df.kind == "tool"].id.iloc[0])
    assert tool_span.output == weather(QUESTION) or "sunny in" in str(tool_span.output)


def test_openai_agents_sdk_inside_ld_trace(ld_otel, agents_sdk, llm_server):
    """An agent run inside ``ld.trace`` is that trace's child, not a trace of its own."""
    import openai
    from agents.models.openai_chatcompletions import OpenAIChatCompletionsModel

    ld_otel(True)
    client = openai.AsyncOpenAI(base_url=llm_server.openai_base_url, api_key="sk-test")
    agent = agents_sdk.Agent(name="Echo", instructions="Be brief.",
                             model=OpenAIChatCompletionsModel(model=MODEL, openai_client=client))
    with ld.trace("my app"):
        agents_sdk.Runner.run_sync(agent, QUESTION)
    asyncio.run(client.close())
    assert tree() == [
        ("my app", "trace", None),
        ("Agent workflow", "trace", "my app"),
        ("Echo", "agent", "Agent workflow"),
        ("turn 1", "chain", "Echo"),
        ("openai.chat.completions", "llm", "turn 1"),
    ]


def test_openai_agents_sdk_chat_completions_without_capture(ld_otel, agents_sdk, llm_server):
    """With llmdebug's capture off, the SDK's generation span is the LLM span."""
    import openai
    from agents.models.openai_chatcompletions import OpenAIChatCompletionsModel

    ld_otel(False)
    client = openai.AsyncOpenAI(base_url=llm_server.openai_base_url, api_key="sk-test")
    agent = agents_sdk.Agent(name="Echo", instructions="Be brief.",
                             model=OpenAIChatCompletionsModel(model=MODEL, openai_client=client))
    result = agents_sdk.Runner.run_sync(agent, QUESTION)
    asyncio.run(client.close())
    (call,) = llm_rows().itertuples()
    u = result.raw_responses[0].usage
    assert (call.name, call.model, call.input_tokens, call.output_tokens) == ("generation", MODEL,
                                                                               u.input_tokens, u.output_tokens)
    msgs = chat_messages(ld.get(call.id))
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert ld.get(call.id).output_text == result.final_output


# -- e. LangChain through OpenInference ----------------------------------------------------


@pytest.fixture
def langchain_instrumented():
    mod = pytest.importorskip("openinference.instrumentation.langchain")
    pytest.importorskip("langchain_openai")
    inst = mod.LangChainInstrumentor()
    inst.instrument()
    yield inst
    inst.uninstrument()


@CAPTURE
def test_langchain(ld_otel, langchain_instrumented, llm_server, capture):
    ld_otel(capture)
    chain, usage = langchain_chain(llm_server.openai_base_url)
    out = chain.invoke(QUESTION)
    assert "sunny in" in out
    llm_name = "openai.chat.completions" if capture else "ChatOpenAI"
    assert tree() == [
        ("weather chain", "chain", None),
        (llm_name, "llm", "weather chain"),
        ("weather", "tool", "weather chain"),
        (llm_name, "llm", "weather chain"),
    ]
    check_calls(usage)
