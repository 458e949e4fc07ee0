"""The real openai SDK over HTTP to the fake server, with llmdebug capturing."""

import asyncio
import json

import pytest

import llmdebug as ld

openai = pytest.importorskip("openai")

MSG = [{"role": "user", "content": "What is the capital of France?"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]


def test_chat_completion_is_captured(ld_on, llm_openai_client, llm_server):
    r = llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=MSG, temperature=0.2)
    c = ld.last()
    assert c.kind == "llm" and c.provider == "openai" and c.endpoint == "chat.completions"
    assert c.model == r.model and c.request_model == "gpt-4o-mini"
    assert c.status == "ok" and c.http_status == 200
    assert c.input_tokens == r.usage.prompt_tokens and c.output_tokens == r.usage.completion_tokens
    assert c.total_tokens == r.usage.total_tokens
    assert c.output_text == r.choices[0].message.content
    assert c.messages == MSG
    assert c.request["temperature"] == 0.2 and c.request["messages"] == MSG
    assert c.response["id"] == r.id
    assert c.base_url == llm_server.openai_base_url
    assert c.cost_usd is not None and c.cost_usd > 0 and c.priced is True
    assert c.latency_ms > 0 and c.retries == 0
    assert [e["status"] for e in c.events] == [200]


def test_stream_with_usage(ld_on, llm_openai_client):
    stream = llm_openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=MSG, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    usage = chunks[-1].usage
    c = ld.last()
    assert c.stream is True and c.status == "ok"
    assert c.output_text == text
    assert c.input_tokens == usage.prompt_tokens and c.output_tokens == usage.completion_tokens
    assert c.ttft_ms is not None and 0 < c.ttft_ms <= c.latency_ms


def test_stream_without_usage_leaves_tokens_unknown(ld_on, llm_openai_client):
    list(llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=MSG, stream=True))
    c = ld.last()
    assert c.output_text and c.input_tokens is None and c.cost_usd is None


def test_stream_abandoned_is_recorded_when_closed(ld_on, llm_openai_client):
    stream = llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=MSG, stream=True)
    first = next(iter(stream))
    stream.close()
    assert first.choices
    calls = ld.calls()
    assert len(calls) == 1 and calls.iloc[0]["status"] == "ok"


def test_tool_calls_plain_and_streamed(ld_on, llm_openai_client):
    r = llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=MSG, tools=TOOLS)
    call = r.choices[0].message.tool_calls[0]
    c = ld.last()
    assert c.tool_calls == [{"id": call.id, "name": "get_weather", "arguments": call.function.arguments}]
    assert c.request["tools"] == TOOLS

    chunks = list(llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=MSG, tools=TOOLS, stream=True))
    args = "".join(
        tc.function.arguments or "" for ch in chunks if ch.choices for tc in (ch.choices[0].delta.tool_calls or [])
    )
    s = ld.last()
    assert s.tool_calls[0]["name"] == "get_weather"
    assert json.loads(s.tool_calls[0]["arguments"]) == json.loads(args)


async def test_async_chat_and_stream(ld_on, llm_async_openai_client):
    r = await llm_async_openai_client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
    stream = await llm_async_openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=MSG, stream=True, stream_options={"include_usage": True}
    )
    parts = [ch async for ch in stream]
    df = ld.calls()
    assert list(df["status"]) == ["ok", "ok"]
    assert df.iloc[0]["output_text"] == r.choices[0].message.content
    assert df.iloc[1]["output_text"] == "".join(p.choices[0].delta.content or "" for p in parts if p.choices)
    assert bool(df.iloc[1]["stream"]) is True


def test_responses_api_sync_stream_and_tools(ld_on, llm_openai_client):
    r = llm_openai_client.responses.create(model="gpt-4o-mini", input="Tell me a joke", instructions="Be brief")
    c = ld.last()
    assert c.endpoint == "responses" and c.output_text == r.output_text
    assert c.input_tokens == r.usage.input_tokens and c.output_tokens == r.usage.output_tokens
    assert c.messages[0] == {"role": "system", "content": "Be brief"}

    events = list(llm_openai_client.responses.create(model="gpt-4o-mini", input="stream please", stream=True))
    done = [e for e in events if e.type == "response.completed"][0]
    s = ld.last()
    assert s.stream and s.output_text == done.response.output_text and s.output_tokens == done.response.usage.output_tokens
    assert s.ttft_ms is not None

    tools = [{"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]
    t = llm_openai_client.responses.create(model="gpt-4o-mini", input="look it up", tools=tools)
    fc = [o for o in t.output if o.type == "function_call"][0]
    assert ld.last().tool_calls[0] == {"id": fc.call_id, "name": "lookup", "arguments": fc.arguments}


async def test_async_responses(ld_on, llm_async_openai_client):
    r = await llm_async_openai_client.responses.create(model="gpt-4o-mini", input="hi")
    assert ld.last().output_text == r.output_text


def test_embeddings_float_and_base64(ld_on, llm_openai_client):
    e = llm_openai_client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    c = ld.last()
    assert c.endpoint == "embeddings" and c.input_tokens == e.usage.prompt_tokens
    assert c.messages == ["a", "b"]
    assert [d["dimensions"] for d in c.response["data"]] == [len(e.data[0].embedding)] * 2
    llm_openai_client.embeddings.create(model="text-embedding-3-small", input="c", encoding_format="base64")
    assert ld.last().status == "ok"


def test_with_raw_response_and_streaming_response(ld_on, llm_openai_client):
    raw = llm_openai_client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MSG)
    parsed = raw.parse()
    assert ld.last().output_text == parsed.choices[0].message.content
    with llm_openai_client.chat.completions.with_streaming_response.create(model="gpt-4o-mini", messages=MSG) as resp:
        body = json.loads(resp.read())
    assert ld.last().output_text == body["choices"][0]["message"]["content"]
    assert len(ld.calls()) == 2


@pytest.mark.parametrize(
    "model, exc, status",
    [
        ("fail-400", "BadRequestError", 400),
        ("fail-401", "AuthenticationError", 401),
        ("fail-500", "InternalServerError", 500),
        ("fail-429", "RateLimitError", 429),
    ],
)
def test_errors_are_recorded_and_reraised(ld_on, llm_openai_client, model, exc, status):
    with pytest.raises(getattr(openai, exc)) as info:
        llm_openai_client.chat.completions.create(model=model, messages=MSG)
    c = ld.last()
    assert c.status == "error" and c.error_type == exc and c.http_status == status
    assert c.error_message == str(info.value)
    retried = status in (429, 500)
    assert c.retries == (2 if retried else 0)
    assert len(c.events) == c.retries + 1 and all(e["status"] == status for e in c.events)
    assert c.rate_limit_hits == (3 if status == 429 else 0)


def test_retried_429_then_success_counts_rate_limits(ld_on, llm_openai_client, llm_server):
    r = llm_openai_client.chat.completions.create(model="gpt-4o-mini-flaky-2", messages=MSG)
    c = ld.last()
    assert r.choices[0].message.content
    assert c.status == "ok" and c.retries == 2 and c.rate_limit_hits == 2
    assert [e["status"] for e in c.events] == [429, 429, 200]
    # the delay the server asked for, as the SDK reads it (retry-after-ms wins over retry-after)
    assert c.events[0]["retry-after-ms"] == "1" and "retry-after-ms" not in c.events[2]
    m = ld.metrics(by="model")
    assert m.loc["gpt-4o-mini-flaky-2", "rate_limit_hits"] == 2
    assert m.loc["gpt-4o-mini-flaky-2", "retries"] == 2


def test_injected_fault_and_cut_stream(ld_on, llm_openai_client, llm_server):
    llm_server.inject("429", times=1)
    llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
    assert ld.last().rate_limit_hits == 1

    with pytest.raises(Exception) as info:
        list(llm_openai_client.chat.completions.create(model="fake-cut", messages=MSG, stream=True))
    c = ld.last()
    assert c.status == "error" and c.stream
    assert c.error_type  # the transport error that cut the stream
    assert info.value is not None


def test_connection_error_is_recorded(ld_on):
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk-x", max_retries=1)
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
    c = ld.last()
    assert c.status == "error" and c.error_type == "APIConnectionError" and c.retries == 1
    assert all("error" in e for e in c.events)


def _dump(x):
    return x.model_dump() if hasattr(x, "model_dump") else x


def _run_all(client):
    """Every call kind once; returns comparable results (objects, chunks, errors)."""
    out = [_dump(client.chat.completions.create(model="gpt-4o-mini", messages=MSG))]
    out.append([_dump(c) for c in client.chat.completions.create(model="gpt-4o-mini", messages=MSG, stream=True,
                                                                 stream_options={"include_usage": True})])
    out.append(_dump(client.chat.completions.create(model="gpt-4o-mini", messages=MSG, tools=TOOLS)))
    out.append(_dump(client.responses.create(model="gpt-4o-mini", input="hi")))
    out.append([_dump(e) for e in client.responses.create(model="gpt-4o-mini", input="hi", stream=True)])
    out.append(_dump(client.embeddings.create(model="text-embedding-3-small", input="x")))
    for model in ("fail-400", "fail-429"):
        try:
            client.with_options(max_retries=0).chat.completions.create(model=model, messages=MSG)
        except openai.APIStatusError as e:
            out.append((type(e), str(e), e.status_code, e.body))
    return out


def test_results_identical_with_and_without_llmdebug(llm_openai_client):
    bare = _run_all(llm_openai_client)
    ld.init()
    captured = _run_all(llm_openai_client)
    assert captured == bare
    assert len(ld.calls()) == 8


def test_nesting_and_concurrent_tasks(ld_on, llm_async_openai_client):
    async def agent(i):
        with ld.span(f"agent-{i}", kind="agent"):
            await llm_async_openai_client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
            await asyncio.sleep(0.01)
            await llm_async_openai_client.chat.completions.create(model="gpt-4o-mini", messages=MSG)

    async def main():
        with ld.trace("fan-out") as t:
            await asyncio.gather(*(agent(i) for i in range(3)))
        return t

    t = asyncio.run(main())
    df = ld.spans(trace_id=t.trace_id)
    agents = df[df["kind"] == "agent"].set_index("id")
    llm = df[df["kind"] == "llm"]
    assert len(agents) == 3 and len(llm) == 6
    assert set(agents["parent_id"]) == {t.id}
    assert llm.groupby("parent_id").size().to_dict() == {a: 2 for a in agents.index}


def test_uninstrument_restores_sdk_methods():
    from openai.resources.chat.completions.completions import Completions
    from openai.resources.responses.responses import Responses

    before = (Completions.__dict__["create"], Responses.__dict__["create"])
    ld.instrument("openai")
    assert Completions.__dict__["create"] is not before[0]
    ld.uninstrument()
    assert (Completions.__dict__["create"], Responses.__dict__["create"]) == before
    import httpx2

    assert not hasattr(httpx2.Client.send, "__wrapped__")


def test_stream_and_parse_helpers(ld_on, llm_openai_client):
    with llm_openai_client.chat.completions.stream(model="gpt-4o-mini", messages=MSG) as s:
        final = s.get_final_completion()
    assert ld.last().output_text == final.choices[0].message.content and ld.last().stream
    with llm_openai_client.responses.stream(model="gpt-4o-mini", input="hello") as s:
        resp = s.get_final_response()
    assert ld.last().output_text == resp.output_text
    p = llm_openai_client.chat.completions.parse(model="gpt-4o-mini", messages=MSG)
    assert ld.last().output_text == p.choices[0].message.content
    assert len(ld.calls()) == 3


def test_stream_dropped_without_close_is_recorded_on_collection(ld_on, llm_openai_client):
    import gc

    stream = llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=MSG, stream=True)
    it = iter(stream)
    next(it)
    del stream, it
    gc.collect()
    df = ld.calls()
    assert len(df) == 1 and bool(df.iloc[0]["stream"])
