"""The fake LLM server, exercised through the real openai / anthropic / litellm SDKs."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time

import httpx
import pytest

anthropic = pytest.importorskip("anthropic")
openai = pytest.importorskip("openai")

from llmdebug.testing import FakeLLMServer  # noqa: E402

USER = [{"role": "user", "content": "What is the weather in Paris today?"}]
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "location": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer"},
        "detailed": {"type": "boolean"},
    },
    "required": ["location"],
}
OAI_TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}}]
ANT_TOOLS = [{"name": "get_weather", "description": "Weather", "input_schema": WEATHER_SCHEMA}]
# what a model would fill in: the city named in the prompt, not the prompt itself
EXPECTED_ARGS = {"location": "Paris", "unit": "celsius", "days": 1, "detailed": True}


# ---------------------------------------------------------------- OpenAI chat


def test_chat_completion_is_deterministic_and_quotes_user(llm_openai_client, llm_server):
    a = llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    b = llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert a.model_dump() == b.model_dump()
    assert "weather in Paris" in a.choices[0].message.content
    assert a.choices[0].finish_reason == "stop"
    assert a.usage.total_tokens == a.usage.prompt_tokens + a.usage.completion_tokens > 0
    assert a.usage.prompt_tokens_details.cached_tokens == 0
    other = llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert other.id != a.id
    req = llm_server.requests[0]
    assert req["method"] == "POST" and req["path"] == "/v1/chat/completions"
    assert req["headers"]["authorization"] == "REDACTED" and req["json"]["messages"] == USER


def test_chat_n_choices(llm_openai_client):
    r = llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, n=2)
    assert [c.index for c in r.choices] == [0, 1]


def test_chat_stream_with_usage(llm_openai_client):
    stream = llm_openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "weather in Paris" in text
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_chat_stream_without_usage(llm_openai_client):
    chunks = list(llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True))
    assert all(c.usage is None for c in chunks) and all(c.choices for c in chunks)


def test_chat_tool_call_and_tool_result(llm_openai_client):
    r = llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, tools=OAI_TOOLS)
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == EXPECTED_ARGS
    history = USER + [
        r.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21 C"},
    ]
    final = llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=history, tools=OAI_TOOLS)
    assert final.choices[0].message.tool_calls is None
    assert "Sunny, 21 C" in final.choices[0].message.content
    none = llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, tools=OAI_TOOLS, tool_choice="none")
    assert none.choices[0].message.content


def test_chat_tool_choice_picks_named_tool(llm_openai_client):
    tools = [{"type": "function", "function": {"name": "other", "parameters": {}}}] + OAI_TOOLS
    choice = {"type": "function", "function": {"name": "get_weather"}}
    r = llm_openai_client.chat.completions.create(model="m", messages=USER, tools=tools, tool_choice=choice)
    assert r.choices[0].message.tool_calls[0].function.name == "get_weather"


def test_chat_stream_tool_call_deltas(llm_openai_client):
    chunks = list(llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, tools=OAI_TOOLS, stream=True))
    deltas = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert all(d.index == 0 for d in deltas) and deltas[0].id and deltas[0].function.name == "get_weather"
    assert len(deltas) > 2  # the arguments arrive in several fragments
    assert json.loads("".join(d.function.arguments or "" for d in deltas)) == EXPECTED_ARGS
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_chat_response_format(llm_openai_client):
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "score": {"type": "number"}}}
    rf = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": True}}
    r = llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, response_format=rf)
    assert set(json.loads(r.choices[0].message.content)) == {"city", "score"}
    json_mode = [{"role": "system", "content": "Answer in JSON."}, *USER]
    r2 = llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=json_mode, response_format={"type": "json_object"})
    assert isinstance(json.loads(r2.choices[0].message.content), dict)


def test_json_mode_needs_the_word_json(llm_openai_client):
    # as the real API: JSON mode is refused unless a message mentions JSON
    with pytest.raises(openai.BadRequestError, match="must contain the word 'json'") as e:
        llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, response_format={"type": "json_object"})
    assert e.value.body["param"] == "messages"
    with pytest.raises(openai.BadRequestError, match="must contain the word 'json'"):
        llm_openai_client.responses.create(model="gpt-4o-mini", input="hi", text={"format": {"type": "json_object"}})
    r = llm_openai_client.responses.create(model="gpt-4o-mini", input="hi", instructions="Reply in JSON.",
                                       text={"format": {"type": "json_object"}})
    assert isinstance(json.loads(r.output_text), dict)


def test_legacy_completions_and_models(llm_openai_client):
    r = llm_openai_client.completions.create(model="davinci-002", prompt="Say hello")
    assert r.choices[0].text and r.usage.total_tokens > 0
    assert "gpt-4o-mini" in [m.id for m in llm_openai_client.models.list()]


# ---------------------------------------------------------------- OpenAI Responses


def test_responses_create_and_stream(llm_openai_client):
    r = llm_openai_client.responses.create(model="gpt-4o-mini", input="Tell me a joke", instructions="Be brief")
    assert r.status == "completed" and "Tell me a joke" in r.output_text
    assert r.usage.input_tokens_details.cached_tokens == 0 and r.usage.output_tokens_details.reasoning_tokens == 0
    events = list(llm_openai_client.responses.create(model="gpt-4o-mini", input="Tell me a joke", stream=True))
    types = [e.type for e in events]
    assert types[:4] == ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]
    assert types[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == r.output_text
    assert events[-1].response.usage.output_tokens == r.usage.output_tokens
    with llm_openai_client.responses.stream(model="gpt-4o-mini", input="Tell me a joke") as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    assert final.output_text == r.output_text


def test_responses_tools_and_json(llm_openai_client):
    tools = [{"type": "function", "name": "get_weather", "parameters": WEATHER_SCHEMA}]
    r = llm_openai_client.responses.create(model="gpt-4o-mini", input=USER, tools=tools)
    call = r.output[0]
    assert call.type == "function_call" and call.name == "get_weather" and call.call_id
    assert json.loads(call.arguments) == EXPECTED_ARGS
    follow = USER + [call.model_dump(exclude_none=True), {"type": "function_call_output", "call_id": call.call_id, "output": "Rainy"}]
    assert "Rainy" in llm_openai_client.responses.create(model="gpt-4o-mini", input=follow, tools=tools).output_text
    events = list(llm_openai_client.responses.create(model="gpt-4o-mini", input=USER, tools=tools, stream=True))
    args = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    assert json.loads(args) == EXPECTED_ARGS and events[-1].response.output[0].type == "function_call"
    fmt = {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object", "properties": {"a": {"type": "boolean"}}}}}
    assert json.loads(llm_openai_client.responses.create(model="gpt-4o-mini", input="x", text=fmt).output_text) == {"a": True}


# ---------------------------------------------------------------- embeddings


def test_embeddings_float_base64_and_list(llm_openai_client, llm_server):
    floats = llm_openai_client.embeddings.create(model="text-embedding-3-small", input="hello", encoding_format="float")
    assert len(floats.data[0].embedding) == 8 and floats.usage.prompt_tokens > 0
    # Without encoding_format the SDK asks for base64 and decodes it itself: same values.
    default = llm_openai_client.embeddings.create(model="text-embedding-3-small", input="hello")
    assert llm_server.requests[-1]["json"]["encoding_format"] == "base64"
    assert default.data[0].embedding == floats.data[0].embedding
    many = llm_openai_client.embeddings.create(model="text-embedding-3-small", input=["a", "b"], dimensions=16, encoding_format="float")
    assert [len(d.embedding) for d in many.data] == [16, 16] and many.data[0].embedding != many.data[1].embedding
    raw = httpx.post(llm_server.url + "/v1/embeddings", json={"model": "m", "input": "hello", "encoding_format": "base64"}).json()
    decoded = list(struct.unpack("<8f", base64.b64decode(raw["data"][0]["embedding"])))
    assert decoded == floats.data[0].embedding


# ---------------------------------------------------------------- Anthropic


def test_anthropic_message_and_stream(llm_anthropic_client):
    kw = {"model": "claude-3-5-haiku-latest", "max_tokens": 100, "messages": USER}
    m = llm_anthropic_client.messages.create(**kw)
    assert m.type == "message" and m.stop_reason == "end_turn" and "weather in Paris" in m.content[0].text
    assert m.usage.cache_read_input_tokens == 0 and m.usage.cache_creation_input_tokens == 0
    with llm_anthropic_client.messages.stream(**kw) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == m.content[0].text and final.content[0].text == m.content[0].text and final.usage.output_tokens == m.usage.output_tokens
    types = [e.type for e in llm_anthropic_client.messages.create(**kw, stream=True)]
    assert types[:3] == ["message_start", "content_block_start", "content_block_delta"]  # SDK hides ping
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]


def test_anthropic_sse_has_event_lines(llm_server):
    body = {"model": "claude-x", "max_tokens": 10, "messages": USER, "stream": True}
    text = httpx.post(llm_server.url + "/v1/messages", json=body).text
    blocks = [b for b in text.split("\n\n") if b.strip()]
    assert all(b.startswith("event: ") and "\ndata: {" in b for b in blocks)
    names = [b.split("\n")[0][len("event: "):] for b in blocks]
    assert names[:3] == ["message_start", "content_block_start", "ping"] and names[-1] == "message_stop"


def test_anthropic_tool_use_stream_and_result(llm_anthropic_client):
    kw = {"model": "claude-3-5-haiku-latest", "max_tokens": 100, "messages": USER, "tools": ANT_TOOLS}
    m = llm_anthropic_client.messages.create(**kw)
    tool = m.content[-1]
    assert m.stop_reason == "tool_use" and tool.type == "tool_use" and tool.id.startswith("toolu_")
    assert tool.name == "get_weather" and tool.input == EXPECTED_ARGS
    with llm_anthropic_client.messages.stream(**kw) as stream:
        final = stream.get_final_message()
    assert final.content[-1].input == EXPECTED_ARGS
    raw = [e for e in llm_anthropic_client.messages.create(**kw, stream=True) if e.type == "content_block_delta"]
    assert {e.delta.type for e in raw} == {"text_delta", "input_json_delta"}
    history = USER + [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in m.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool.id, "content": "Foggy, 12 C"}]},
    ]
    answer = llm_anthropic_client.messages.create(**{**kw, "messages": history})
    assert answer.stop_reason == "end_turn" and "Foggy, 12 C" in answer.content[0].text


# ---------------------------------------------------------------- async clients


async def test_async_openai(llm_async_openai_client):
    r = await llm_async_openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert r.choices[0].message.content
    stream = await llm_async_openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    assert "".join([c.choices[0].delta.content or "" async for c in stream]) == r.choices[0].message.content
    resp = await llm_async_openai_client.responses.create(model="gpt-4o-mini", input="hi")
    assert resp.output_text
    await llm_async_openai_client.close()


async def test_async_anthropic(llm_async_anthropic_client):
    kw = {"model": "claude-3-5-haiku-latest", "max_tokens": 100, "messages": USER}
    m = await llm_async_anthropic_client.messages.create(**kw)
    async with llm_async_anthropic_client.messages.stream(**kw) as stream:
        final = await stream.get_final_message()
    assert final.content[0].text == m.content[0].text
    await llm_async_anthropic_client.close()


# ---------------------------------------------------------------- faults and retries


def test_flaky_model_succeeds_after_retries(llm_openai_client, llm_anthropic_client, llm_server):
    r = llm_openai_client.chat.completions.create(model="fake-flaky-2", messages=USER)
    assert r.choices[0].message.content and len(llm_server.requests) == 3
    llm_server.reset()
    llm_anthropic_client.messages.create(model="claude-flaky-2", max_tokens=10, messages=USER)
    assert len(llm_server.requests) == 3


def test_flaky_model_fails_again_when_the_same_call_is_made_again(llm_openai_client, llm_server):
    """A re-run notebook cell sends the same request again: it sees its two 429s again."""
    for _ in range(2):
        llm_server.reset()
        llm_openai_client.chat.completions.create(model="fake-flaky-2", messages=USER)
        assert [r["path"] for r in llm_server.requests] == ["/v1/chat/completions"] * 3


def test_out_of_range_temperature_is_refused_as_the_apis_do(llm_openai_client, llm_anthropic_client, llm_server):
    with pytest.raises(openai.BadRequestError) as e:
        llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, temperature=5)
    assert e.value.body["message"] == ("Invalid 'temperature': decimal above maximum value. "
                                       "Expected a value <= 2, but got 5 instead.")
    assert e.value.body["param"] == "temperature" and e.value.body["code"] == "decimal_above_max_value"
    with pytest.raises(openai.BadRequestError, match="Expected a value >= 0, but got -0.5"):
        llm_openai_client.responses.create(model="gpt-4o-mini", input="hi", temperature=-0.5)
    with pytest.raises(anthropic.BadRequestError, match="temperature: range: 0..1"):
        llm_anthropic_client.messages.create(model="claude-3-5-haiku-latest", max_tokens=10, messages=USER,
                                             extra_body={"temperature": 1.5})
    assert len(llm_server.requests) == 3  # 400s: not retried
    assert llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, temperature=2).choices


def test_tool_arguments_are_what_a_model_would_fill_in(llm_openai_client, llm_anthropic_client):
    order = {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}
    question = [{"role": "user", "content": "Can I get a refund for order 1042? The jacket is unused."}]
    r = llm_openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=question, tools=[{"type": "function", "function": {"name": "lookup_order", "parameters": order}}])
    assert json.loads(r.choices[0].message.tool_calls[0].function.arguments) == {"order_id": "1042"}
    city = {"type": "object", "properties": {"city": {"type": "string"}}}
    m = llm_anthropic_client.messages.create(model="claude-3-5-haiku-latest", max_tokens=50, tools=[
        {"name": "get_weather", "input_schema": city}], messages=[{"role": "user", "content": "Weather in Paris?"}])
    assert [b.input for b in m.content if b.type == "tool_use"] == [{"city": "Paris"}]


def test_demo_server_is_one_per_process_and_comes_back_after_a_stop(tmp_path):
    from llmdebug.testing import demo_db, demo_server

    srv = demo_server()
    url = srv.url
    assert demo_server() is srv
    srv.stop()  # e.g. an old notebook's clean-up cell
    assert demo_server() is srv and srv.url == url  # same port: clients made earlier still reach it
    client = openai.OpenAI(base_url=srv.openai_base_url, api_key=srv.api_key)
    assert client.chat.completions.create(model="gpt-4o-mini", messages=USER).choices
    client.close()
    # a demo notebook's trace file: an earlier process's file removed once, then kept
    db = tmp_path / "demo.db"
    db.write_text("from an earlier kernel")
    assert demo_db(db) == db and not db.exists()
    db.write_text("this kernel's")
    assert demo_db(db) == db and db.read_text() == "this kernel's"


def test_fail_429_raises_after_three_attempts(llm_openai_client, llm_anthropic_client, llm_server):
    with pytest.raises(openai.RateLimitError) as exc:
        llm_openai_client.chat.completions.create(model="fake-fail-429", messages=USER)
    assert exc.value.body["code"] == "rate_limit_exceeded" and len(llm_server.requests) == 3
    assert exc.value.response.headers["x-ratelimit-remaining-requests"] == "0"
    llm_server.reset()
    with pytest.raises(anthropic.RateLimitError) as aexc:
        llm_anthropic_client.messages.create(model="claude-fail-429", max_tokens=10, messages=USER)
    assert aexc.value.body["error"]["type"] == "rate_limit_error" and len(llm_server.requests) == 3


@pytest.mark.parametrize(
    ("code", "oai_exc", "ant_exc"),
    [
        ("500", openai.InternalServerError, anthropic.InternalServerError),
        ("400", openai.BadRequestError, anthropic.BadRequestError),
        ("401", openai.AuthenticationError, anthropic.AuthenticationError),
        ("529", openai.InternalServerError, anthropic.OverloadedError),
    ],
)
def test_error_status_maps_to_sdk_exception(llm_openai_client, llm_anthropic_client, llm_server, code, oai_exc, ant_exc):
    with pytest.raises(oai_exc) as exc:
        llm_openai_client.chat.completions.create(model=f"fake-fail-{code}", messages=USER)
    assert exc.value.status_code == int(code)
    llm_server.inject(code, times=3)
    with pytest.raises(ant_exc) as aexc:
        llm_anthropic_client.messages.create(model="claude", max_tokens=10, messages=USER)
    assert aexc.value.status_code == int(code)


def test_inject_once_is_retried_and_model_filter(llm_openai_client, llm_server):
    llm_server.inject("429", times=1, retry_after=0.01)
    assert llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER).choices
    assert len(llm_server.requests) == 2
    llm_server.inject("400", model="other-model")
    assert llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER).choices
    with pytest.raises(openai.BadRequestError):
        llm_openai_client.chat.completions.create(model="other-model", messages=USER)
    with pytest.raises(ValueError):
        llm_server.inject("418")


def test_cut_stream_raises(llm_openai_client, llm_anthropic_client, llm_server):
    # Observed with openai 3.57: openai.APIConnectionError whose __cause__ is httpx's
    # RemoteProtocolError ("peer closed connection without sending complete message
    # body (incomplete chunked read)"). anthropic 2.14 (on httpx2) lets the
    # httpx2.RemoteProtocolError escape its stream iterator unwrapped.
    got = []
    with pytest.raises(openai.APIConnectionError) as exc:
        for chunk in llm_openai_client.chat.completions.create(model="fake-cut", messages=USER, stream=True):
            got.append(chunk)
    assert got and type(exc.value.__cause__).__name__ == "RemoteProtocolError"
    with pytest.raises(Exception) as aexc:
        with llm_anthropic_client.messages.stream(model="claude-cut", max_tokens=10, messages=USER) as stream:
            stream.get_final_message()
    assert type(aexc.value).__name__ == "RemoteProtocolError"
    # Non-stream cut: the socket closes without a reply -> APIConnectionError (no retries here).
    llm_server.inject("cut")
    with pytest.raises(openai.APIConnectionError):
        llm_openai_client.with_options(max_retries=0).chat.completions.create(model="gpt-4o-mini", messages=USER)


def test_latency_chunk_delay_and_timeout(llm_openai_client, llm_server):
    llm_server.chunk_delay = 0.05
    start = time.perf_counter()
    stream = llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    first = next(iter(stream))
    ttft = time.perf_counter() - start
    list(stream)
    total = time.perf_counter() - start
    assert first.choices[0].delta.role == "assistant" and total - ttft > 0.2
    llm_server.chunk_delay = 0.0
    start = time.perf_counter()
    llm_openai_client.chat.completions.create(model="fake-slow-200", messages=USER)
    assert time.perf_counter() - start >= 0.2
    llm_server.inject("timeout", retry_after=1.0)
    with pytest.raises(openai.APITimeoutError):
        llm_openai_client.with_options(max_retries=0, timeout=0.2).chat.completions.create(model="gpt-4o-mini", messages=USER)


def test_unknown_path_404_in_provider_shape(llm_server):
    r = httpx.post(llm_server.url + "/v1/nope", json={})
    assert r.status_code == 404 and r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.get(llm_server.url + "/v1/models/x/y", headers={"anthropic-version": "2023-06-01"})
    assert r.status_code == 404 and r.json()["type"] == "error"
    assert httpx.post(llm_server.url + "/chat/completions", json={"messages": USER}).status_code == 200  # no /v1
    bad = httpx.post(llm_server.url + "/v1/chat/completions", json={"messages": "not a list"})
    assert bad.status_code == 500 and "fake server error" in bad.json()["error"]["message"]


def test_stop_is_idempotent_and_does_not_hang():
    srv = FakeLLMServer(latency=0.0).start()
    client = openai.OpenAI(base_url=srv.openai_base_url, api_key="sk-test")
    client.chat.completions.create(model="m", messages=USER)  # leaves a keep-alive connection open
    start = time.perf_counter()
    srv.stop()
    srv.stop()
    assert time.perf_counter() - start < 2
    client.close()


# ---------------------------------------------------------------- env fixture, litellm, CLI


def test_fake_llm_env_configures_default_clients(llm_server_env):
    assert openai.OpenAI().chat.completions.create(model="m", messages=USER).choices
    assert anthropic.Anthropic().messages.create(model="c", max_tokens=5, messages=USER).content


@pytest.mark.parametrize("stream", [False, True])
def test_litellm(llm_server, stream):
    litellm = pytest.importorskip("litellm")
    calls = [
        ("openai/gpt-4o-mini", llm_server.openai_base_url),
        ("anthropic/claude-3-5-haiku-latest", llm_server.anthropic_base_url),
        ("anthropic/claude-3-5-haiku-latest", llm_server.url + "/v1/messages"),
    ]
    for model, base in calls:
        r = litellm.completion(model=model, api_base=base, api_key="sk-test", messages=USER, stream=stream)
        text = "".join(c.choices[0].delta.content or "" for c in r) if stream else r.choices[0].message.content
        assert "weather in Paris" in text, (model, base)
    assert [q["path"] for q in llm_server.requests] == ["/v1/chat/completions", "/v1/messages", "/v1/messages"]


def test_cli_serves_until_terminated():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmdebug.testing", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        banner = ""
        deadline = time.monotonic() + 15
        while "ANTHROPIC_BASE_URL" not in banner and time.monotonic() < deadline:
            banner += proc.stdout.readline()
        assert f"export OPENAI_BASE_URL=http://127.0.0.1:{port}/v1" in banner
        r = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json={"model": "m", "messages": USER}, timeout=5)
        assert r.status_code == 200 and r.json()["object"] == "chat.completion"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
        proc.stdout.close()


def test_a_client_resetting_its_connection_prints_nothing(llm_server, capfd, monkeypatch):
    # SDK clients drop idle keep-alive connections; in a notebook a server traceback for
    # that would show as an error output under some unrelated cell.
    # Know when the server has finished with each connection (its handler thread returned,
    # after any traceback it would print): socketserver runs process_request_thread per connection.
    httpd = llm_server._httpd
    finished, cond = set(), threading.Condition()
    process_request_thread = httpd.process_request_thread

    def watched(request, client_address):
        try:
            process_request_thread(request, client_address)
        finally:
            with cond:
                finished.add(client_address[1])
                cond.notify_all()

    monkeypatch.setattr(httpd, "process_request_thread", watched)
    host, port = llm_server.url.split("//")[1].split(":")
    ports = set()
    for _ in range(3):
        s = socket.create_connection((host, int(port)))
        ports.add(s.getsockname()[1])
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
        s.close()
    with cond:  # a deadline only against a hang
        assert cond.wait_for(lambda: ports <= finished, timeout=30), "the server never finished those connections"
    with httpx.Client() as c:  # and the server still answers
        assert c.get(f"{llm_server.url}/v1/models").status_code in (200, 404)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "ConnectionResetError" not in err, err
