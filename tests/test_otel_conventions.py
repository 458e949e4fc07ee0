"""llmdebug.otel.conventions: each convention's attributes onto an llmdebug Span."""

from __future__ import annotations

import json

import pytest

from llmdebug.otel.conventions import is_llm, kind_of, to_span
from llmdebug.otel.record import OtelEvent, OtelSpan
from llmdebug.providers import chat_messages


def otel(attrs: dict, events: list | None = None, name: str = "span", **kw) -> OtelSpan:
    return OtelSpan(trace_id="ab" * 16, span_id="cd" * 8, parent_id=None, name=name, start_ns=1_700_000_000 * 10**9,
                    end_ns=1_700_000_001 * 10**9, attributes=attrs, events=events or [], **kw)


def msgs(span) -> list[tuple]:
    return [(m["role"], m["text"], [(c["name"], c["arguments"]) for c in m["tool_calls"] or ()], m["tool_call_id"])
            for m in chat_messages(span)]


LLM = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini", "gen_ai.provider.name": "openai",
       "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20}


# -- messages ----------------------------------------------------------------------------


def test_genai_input_messages_parts():
    s = to_span(otel({**LLM,
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
        "gen_ai.input.messages": json.dumps([
            {"role": "user", "parts": [{"type": "text", "content": "weather?"}]},
            {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "weather",
                                             "arguments": {"city": "Paris"}}]},
            {"role": "user", "parts": [{"type": "tool_call_response", "id": "c1", "response": "sunny"}]},
        ]),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "finish_reason": "stop",
                                               "parts": [{"type": "text", "content": "It is sunny."}]}]),
    }))
    assert msgs(s) == [("system", "Be brief.", [], None), ("user", "weather?", [], None),
                       ("assistant", "", [("weather", '{"city": "Paris"}')], None),
                       ("tool", "sunny", [], "c1")]  # a tool result is a tool message, whatever role carried it
    assert s.output_text == "It is sunny." and s.response["finish_reason"] == "stop"


def test_genai_messages_as_tuples_from_log_events():
    """Log-event attributes arrive as tuples of dicts, not JSON text."""
    s = to_span(otel({**LLM, "gen_ai.input.messages": ({"role": "user", "parts": ({"type": "text", "content": "hi"},)},),
                      "gen_ai.output.messages": ({"role": "assistant", "parts": ({"type": "text", "content": "yo"},)},)}))
    assert msgs(s) == [("user", "hi", [], None)] and s.output_text == "yo"


def test_genai_output_tool_call():
    s = to_span(otel({**LLM, "gen_ai.input.messages": "[]", "gen_ai.output.messages": json.dumps(
        [{"role": "assistant", "parts": [{"type": "tool_call", "id": "c9", "name": "f", "arguments": "{}"}]}])}))
    assert s.tool_calls == [{"id": "c9", "type": "function", "function": {"name": "f", "arguments": "{}"}}]


def test_older_genai_events():
    s = to_span(otel(LLM, [
        OtelEvent("gen_ai.system.message", 0, {"content": "sys"}),
        OtelEvent("gen_ai.user.message", 0, {"content": "hello"}),
        OtelEvent("gen_ai.assistant.message", 0, {"tool_calls": json.dumps(
            [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}])}),
        OtelEvent("gen_ai.tool.message", 0, {"content": "42", "id": "c1"}),
        OtelEvent("gen_ai.choice", 0, {"finish_reason": "stop", "message": json.dumps({"content": "done"})}),
    ]))
    assert msgs(s) == [("system", "sys", [], None), ("user", "hello", [], None),
                       ("assistant", "", [("f", "{}")], None), ("tool", "42", [], "c1")]
    assert s.output_text == "done" and s.response["finish_reason"] == "stop"


def test_gen_ai_prompt_json():
    s = to_span(otel({**LLM, "gen_ai.prompt": json.dumps([{"role": "user", "content": "q"}]),
                      "gen_ai.completion": json.dumps([{"role": "assistant", "content": "a"}])}))
    assert msgs(s) == [("user", "q", [], None)] and s.output_text == "a"


def test_openllmetry_indexed_prompt():
    s = to_span(otel({"llm.request.type": "chat", "gen_ai.system": "OpenAI", "gen_ai.request.model": "gpt-4o",
                      "gen_ai.response.model": "gpt-4o-2024-08-06",
                      "gen_ai.prompt.0.role": "system", "gen_ai.prompt.0.content": "sys",
                      "gen_ai.prompt.1.role": "user", "gen_ai.prompt.1.content": "q",
                      "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.finish_reason": "tool_calls",
                      "gen_ai.completion.0.tool_calls.0.id": "c1", "gen_ai.completion.0.tool_calls.0.name": "f",
                      "gen_ai.completion.0.tool_calls.0.arguments": "{}",
                      "llm.usage.prompt_tokens": 10, "llm.usage.completion_tokens": 3}))
    assert s.kind == "llm" and s.provider == "openai"
    assert (s.model, s.request_model) == ("gpt-4o-2024-08-06", "gpt-4o")
    assert msgs(s) == [("system", "sys", [], None), ("user", "q", [], None)]
    assert s.tool_calls[0]["function"]["name"] == "f"
    assert (s.input_tokens, s.output_tokens, s.total_tokens) == (10, 3, 13)


def test_openinference_indexed_messages():
    s = to_span(otel({"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini", "llm.provider": "openai",
                      "llm.input_messages.0.message.role": "user",
                      "llm.input_messages.0.message.contents.0.message_content.type": "text",
                      "llm.input_messages.0.message.contents.0.message_content.text": "look",
                      "llm.input_messages.1.message.role": "assistant",
                      "llm.input_messages.1.message.tool_calls.0.tool_call.id": "c1",
                      "llm.input_messages.1.message.tool_calls.0.tool_call.function.name": "f",
                      "llm.input_messages.1.message.tool_calls.0.tool_call.function.arguments": "{}",
                      "llm.input_messages.2.message.role": "tool",
                      "llm.input_messages.2.message.tool_call_id": "c1",
                      "llm.input_messages.2.message.content": "r",
                      "llm.output_messages.0.message.role": "assistant",
                      "llm.output_messages.0.message.content": "ok",
                      "llm.tools.0.tool.json_schema": json.dumps({"type": "function", "function": {"name": "f"}}),
                      "llm.invocation_parameters": json.dumps({"temperature": 0.2, "model": "x"}),
                      "llm.token_count.prompt": 50, "llm.token_count.completion": 5}))
    assert msgs(s) == [("user", "look", [], None), ("assistant", "", [("f", "{}")], None), ("tool", "r", [], "c1")]
    assert s.output_text == "ok"
    assert s.request["temperature"] == 0.2 and s.request["tools"][0]["function"]["name"] == "f"


def test_anthropic_request_shape():
    s = to_span(otel({**LLM, "gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-sonnet-4-5",
                      "gen_ai.input.messages": json.dumps([{"role": "system", "parts": [{"type": "text", "content": "s"}]},
                                                           {"role": "user", "parts": [{"type": "text", "content": "q"}]}])}))
    assert s.endpoint == "messages" and s.request["system"] == "s"
    assert [m["role"] for m in s.request["messages"]] == ["user"] and s.request["max_tokens"] == 1024


# -- tokens, provider, cost, errors -----------------------------------------------------------


def test_tokens_cached_and_reasoning():
    s = to_span(otel({**LLM, "gen_ai.usage.cache_read.input_tokens": 60, "gen_ai.usage.reasoning.output_tokens": 8}))
    assert (s.input_tokens, s.output_tokens, s.cached_tokens, s.reasoning_tokens) == (100, 20, 60, 8)
    s = to_span(otel({"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini",
                      "llm.token_count.prompt": 100, "llm.token_count.completion": 20,
                      "llm.token_count.prompt_details.cache_read": 40,
                      "llm.token_count.completion_details.reasoning": 5}))
    assert (s.cached_tokens, s.reasoning_tokens) == (40, 5)


def test_cache_tokens_reported_beside_input_are_added():
    """Anthropic's usage counts cache reads/writes beside input_tokens; llmdebug inside it."""
    s = to_span(otel({**LLM, "gen_ai.provider.name": "anthropic", "gen_ai.usage.input_tokens": 10,
                      "gen_ai.usage.cache_read_input_tokens": 500, "gen_ai.usage.cache_creation_input_tokens": 100}))
    assert (s.input_tokens, s.cached_tokens, s.cache_write_tokens) == (610, 500, 100)


@pytest.mark.parametrize("name,expected", [("openai", "openai"), ("azure.ai.openai", "openai"),
                                           ("anthropic", "anthropic"), ("gcp.gemini", "google"),
                                           ("gcp.vertex_ai", "google"), ("OpenAI", "openai"),
                                           ("mistral_ai", "mistral_ai")])
def test_provider_names(name, expected):
    assert to_span(otel({**LLM, "gen_ai.provider.name": name})).provider == expected
    assert to_span(otel({**{k: v for k, v in LLM.items() if k != "gen_ai.provider.name"},
                         "gen_ai.system": name})).provider == expected


def test_cost_from_genai_prices_when_absent_and_kept_when_given():
    s = to_span(otel(LLM))
    assert s.priced and s.cost_usd == pytest.approx(100 * 0.15e-6 + 20 * 0.6e-6)
    s = to_span(otel({**LLM, "llm.cost.total": 0.5}))
    assert (s.cost_usd, s.priced) == (0.5, True)
    s = to_span(otel({**LLM, "operation.cost": 0.25}))  # pydantic-ai's
    assert s.cost_usd == 0.25
    s = to_span(otel({**LLM, "gen_ai.request.model": "no-such-model-xyz"}))
    assert s.cost_usd is None and s.priced is False


def test_errors():
    s = to_span(otel(LLM, [OtelEvent("exception", 0, {"exception.type": "openai.RateLimitError",
                                                    "exception.message": "slow down"})], status="error"))
    assert (s.status, s.error_type, s.error_message) == ("error", "RateLimitError", "slow down")
    s = to_span(otel({**LLM, "error.type": "timeout"}, status="error", status_message="timed out"))
    assert (s.status, s.error_type, s.error_message) == ("error", "timeout", "timed out")
    s = to_span(otel(LLM, [OtelEvent("exception", 0, {"exception.type": "ValueError"})]))  # status unset
    assert s.status == "error"
    s = to_span(otel(LLM, [OtelEvent("exception", 0, {"exception.type": "ValueError"})], status="ok"))
    assert s.status == "ok"


# -- non-LLM kinds ------------------------------------------------------------------------


@pytest.mark.parametrize("attrs,kind", [
    ({"openinference.span.kind": "AGENT"}, "agent"),
    ({"openinference.span.kind": "CHAIN"}, "chain"),
    ({"openinference.span.kind": "TOOL"}, "tool"),
    ({"openinference.span.kind": "RETRIEVER"}, "retrieval"),
    ({"openinference.span.kind": "EMBEDDING"}, "embedding"),
    ({"openinference.span.kind": "RERANKER"}, "reranker"),
    ({"gen_ai.operation.name": "invoke_agent"}, "agent"),
    ({"gen_ai.operation.name": "execute_tool"}, "tool"),
    ({"gen_ai.operation.name": "embeddings"}, "embedding"),
    ({"traceloop.span.kind": "workflow"}, "chain"),
    ({"traceloop.span.kind": "tool"}, "tool"),
    ({"llm.request.type": "embedding"}, "embedding"),
    ({"gen_ai.tool.name": "f"}, "tool"),
    ({"gen_ai.agent.name": "a"}, "agent"),
    ({"http.request.method": "GET"}, "http"),
    ({}, "span"),
])
def test_kinds(attrs, kind):
    assert kind_of(attrs) == kind
    assert is_llm(attrs) is (kind == "llm")


def test_tool_agent_chain_retriever_embedding_http_fields():
    tool = to_span(otel({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "weather",
                         "gen_ai.tool.call.arguments": '{"city": "Paris"}', "gen_ai.tool.call.result": "sunny"}))
    assert (tool.kind, tool.input, tool.output) == ("tool", {"city": "Paris"}, "sunny")
    agent = to_span(otel({"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "a",
                          "pydantic_ai.all_messages": json.dumps([{"role": "user", "parts": [
                              {"type": "text", "content": "q"}]}]), "final_result": "the answer"}))
    assert (agent.kind, agent.input, agent.output) == ("agent", "q", "the answer")
    chain = to_span(otel({"openinference.span.kind": "CHAIN", "input.value": '{"q": 1}',
                          "input.mime_type": "application/json", "output.value": "plain", "tag.tags": ("a", "b")}))
    assert (chain.input, chain.output, chain.tags) == ({"q": 1}, "plain", ["a", "b"])
    ret = to_span(otel({"openinference.span.kind": "RETRIEVER", "input.value": "q",
                        "retrieval.documents.0.document.content": "doc", "retrieval.documents.0.document.score": 0.9}))
    assert ret.output == {"documents": [{"content": "doc", "score": 0.9}]}
    emb = to_span(otel({"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "text-embedding-3-small",
                        "gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": 1000}))
    assert (emb.kind, emb.endpoint, emb.input_tokens) == ("embedding", "embeddings", 1000) and emb.cost_usd > 0
    http = to_span(otel({"http.request.method": "POST", "http.response.status_code": 503}, status="error"))
    assert (http.kind, http.http_status, http.status) == ("http", 503, "error")


def test_metadata_and_long_attributes():
    s = to_span(otel({**LLM, "big": "x" * 30_000}, resource={"service.name": "svc"}, scope="my.instr"))
    assert s.metadata == {"source": "otel", "scope": "my.instr", "service": "svc"}
    assert len(s.attributes["big"]) < 20_100 and s.attributes["big"].endswith("more characters]")
    assert s.latency_ms == pytest.approx(1000.0)
