"""The fake server's Gemini Developer API, exercised through the real google-genai SDK."""

from __future__ import annotations

import asyncio
import enum
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

genai = pytest.importorskip("google.genai")
from google.genai import errors, types  # noqa: E402
from pydantic import BaseModel  # noqa: E402

# google-genai subclasses aiohttp.ClientSession, which aiohttp 3.14 frowns upon.
pytestmark = pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning")

MODEL = "gemini-2.5-flash"
PROMPT = "What is the weather in Paris today?"
FIXTURES = Path(
    os.environ.get("LLMDEBUG_FIXTURES") or Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
)
WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="Current weather for a city.",
    parameters=types.Schema(
        type="OBJECT",
        properties={
            "location": types.Schema(type="STRING", description="City name"),
            "unit": types.Schema(type="STRING", enum=["celsius", "fahrenheit"]),
            "days": types.Schema(type="INTEGER"),
        },
        required=["location"],
    ),
)
WEATHER_TOOL = types.Tool(function_declarations=[WEATHER])


class City(BaseModel):
    city: str
    population: int
    coastal: bool


def _same(a: types.GenerateContentResponse, b: types.GenerateContentResponse) -> bool:
    # sdk_http_response holds the Date header, the only thing allowed to differ
    return a.model_dump(exclude={"sdk_http_response"}) == b.model_dump(exclude={"sdk_http_response"})


def _retrying(llm_server, attempts: int = 3) -> genai.Client:
    retry = types.HttpRetryOptions(attempts=attempts, initial_delay=0.01, max_delay=0.02, jitter=0)
    return genai.Client(api_key="k", http_options=types.HttpOptions(base_url=llm_server.gemini_base_url, retry_options=retry))


# ---------------------------------------------------------------- text, determinism, request log


def test_generate_content_is_deterministic_and_logged(llm_gemini_client, llm_server):
    a = llm_gemini_client.models.generate_content(model=MODEL, contents=PROMPT)
    b = llm_gemini_client.models.generate_content(model=MODEL, contents=PROMPT)
    assert _same(a, b) and "weather in Paris" in a.text
    assert a.candidates[0].finish_reason == types.FinishReason.STOP and a.candidates[0].content.role == "model"
    assert a.model_version == MODEL and len(a.response_id) == 23
    other = llm_gemini_client.models.generate_content(model=MODEL, contents="hi")
    assert other.response_id != a.response_id and other.text != a.text
    assert llm_gemini_client.models.generate_content(model="gemini-2.0-flash", contents=PROMPT).response_id != a.response_id
    req = llm_server.requests[0]
    assert req["method"] == "POST" and req["path"] == f"/v1/models/{MODEL}:generateContent" and req["query"] == ""
    assert req["headers"]["x-goog-api-key"] == "REDACTED" and "google-genai-sdk" in req["headers"]["x-goog-api-client"]
    assert req["json"] == {"contents": [{"parts": [{"text": PROMPT}], "role": "user"}]}
    # byte-identical on the wire, any API version, key in the query redacted in the log
    body = {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]}
    raw = [httpx.post(f"{llm_server.url}/v1beta/models/{MODEL}:generateContent?key=secret", json=body) for _ in range(2)]
    assert raw[0].content == raw[1].content and raw[0].headers["content-type"] == "application/json; charset=UTF-8"
    assert raw[0].json()["candidates"][0]["content"]["parts"][0]["text"] == a.text
    assert llm_server.requests[-1]["query"] == "key=REDACTED"


def test_usage_metadata(llm_gemini_client):
    u = llm_gemini_client.models.generate_content(model=MODEL, contents=PROMPT).usage_metadata
    assert u.prompt_token_count > 0 and u.candidates_token_count > 0
    assert u.total_token_count == u.prompt_token_count + u.candidates_token_count
    assert u.prompt_tokens_details[0].modality == types.MediaModality.TEXT
    assert u.prompt_tokens_details[0].token_count == u.prompt_token_count
    assert u.thoughts_token_count is None and u.cached_content_token_count is None and u.tool_use_prompt_token_count is None
    # an image is 258 prompt tokens of its own modality
    image = types.Part.from_bytes(data=b"\x89PNG fake", mime_type="image/png")
    ui = llm_gemini_client.models.generate_content(model=MODEL, contents=[image, PROMPT]).usage_metadata
    assert ui.prompt_token_count == u.prompt_token_count + 258
    assert {d.modality.value: d.token_count for d in ui.prompt_tokens_details}["IMAGE"] == 258
    # cached content is counted inside the prompt and reported on its own
    uc = llm_gemini_client.models.generate_content(
        model=MODEL, contents=PROMPT, config=types.GenerateContentConfig(cached_content="cachedContents/abc")
    ).usage_metadata
    assert uc.cached_content_token_count >= 1024 and uc.prompt_token_count == u.prompt_token_count + uc.cached_content_token_count
    # built-in tools add tool-use prompt tokens, part of the total
    ug = llm_gemini_client.models.generate_content(
        model=MODEL, contents=PROMPT, config=types.GenerateContentConfig(tools=[types.Tool(google_search=types.GoogleSearch())])
    ).usage_metadata
    assert ug.tool_use_prompt_token_count > 0
    assert ug.total_token_count == ug.prompt_token_count + ug.candidates_token_count + ug.tool_use_prompt_token_count


def test_thinking_config(llm_gemini_client):
    def ask(**thinking):
        config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(**thinking))
        return llm_gemini_client.models.generate_content(model=MODEL, contents=PROMPT, config=config)

    plain = llm_gemini_client.models.generate_content(model=MODEL, contents=PROMPT)
    r = ask(thinking_budget=100)
    u = r.usage_metadata
    assert 0 < u.thoughts_token_count <= 100
    assert u.total_token_count == u.prompt_token_count + u.candidates_token_count + u.thoughts_token_count
    assert [p.thought for p in r.candidates[0].content.parts] == [None] and r.text == plain.text
    shown = ask(include_thoughts=True)
    parts = shown.candidates[0].content.parts
    assert parts[0].thought is True and "Understanding the request" in parts[0].text
    assert shown.text == plain.text  # the SDK leaves thoughts out of .text
    assert shown.usage_metadata.thoughts_token_count > 0
    assert ask(thinking_budget=0).usage_metadata.thoughts_token_count is None
    low, high = ask(thinking_level="LOW"), ask(thinking_level="HIGH")
    assert low.usage_metadata.thoughts_token_count < high.usage_metadata.thoughts_token_count


def test_system_instruction_and_generation_config(llm_gemini_client, llm_server):
    config = types.GenerateContentConfig(
        system_instruction="You are a terse assistant who answers in French.", temperature=0.2, max_output_tokens=500
    )
    r = llm_gemini_client.models.generate_content(model=MODEL, contents=PROMPT, config=config)
    plain = llm_gemini_client.models.generate_content(model=MODEL, contents=PROMPT)
    sent = llm_server.requests[0]["json"]
    assert sent["systemInstruction"] == {"parts": [{"text": "You are a terse assistant who answers in French."}], "role": "user"}
    assert sent["generationConfig"] == {"temperature": 0.2, "maxOutputTokens": 500}
    assert r.usage_metadata.prompt_token_count > plain.usage_metadata.prompt_token_count
    assert r.text == plain.text  # the instruction is counted, not obeyed
    short = llm_gemini_client.models.generate_content(
        model=MODEL, contents=PROMPT, config=types.GenerateContentConfig(max_output_tokens=5)
    )
    assert short.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert short.usage_metadata.candidates_token_count <= 5 and plain.text.startswith(short.text)
    two = llm_gemini_client.models.generate_content(model=MODEL, contents=PROMPT, config={"candidate_count": 2})
    assert [c.index for c in two.candidates] == [0, 1]
    assert two.usage_metadata.candidates_token_count == 2 * plain.usage_metadata.candidates_token_count


def test_empty_contents_and_unknown_method_are_gemini_errors(llm_gemini_client, llm_server):
    r = httpx.post(f"{llm_server.url}/v1beta/models/{MODEL}:generateContent", json={"contents": []})
    assert r.status_code == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT"
    r = httpx.post(f"{llm_server.url}/v1beta/models/{MODEL}:predictLongRunning", json={})
    assert r.status_code == 404 and r.json()["error"] == {
        "code": 404,
        "message": f"Method not found: POST /v1beta/models/{MODEL}:predictLongRunning (llmdebug fake server).",
        "status": "NOT_FOUND",
    }


# ---------------------------------------------------------------- streaming


def test_stream_sync(llm_gemini_client, llm_server):
    whole = llm_gemini_client.models.generate_content(model=MODEL, contents="Tell me a joke about penguins")
    chunks = list(llm_gemini_client.models.generate_content_stream(model=MODEL, contents="Tell me a joke about penguins"))
    assert len(chunks) > 3 and "".join(c.text for c in chunks) == whole.text
    assert {c.response_id for c in chunks} == {whole.response_id}
    assert [c.candidates[0].finish_reason for c in chunks] == [None] * (len(chunks) - 1) + [types.FinishReason.STOP]
    # usage: prompt counts on every event, the full usage on the last one only
    assert all(c.usage_metadata.prompt_token_count == whole.usage_metadata.prompt_token_count for c in chunks)
    assert all(c.usage_metadata.candidates_token_count is None for c in chunks[:-1])
    assert chunks[-1].usage_metadata == whole.usage_metadata
    req = llm_server.requests[-1]
    assert req["path"] == f"/v1/models/{MODEL}:streamGenerateContent" and req["query"] == "alt=sse"
    # the wire format: data-only SSE events separated by CRLF CRLF, no [DONE]
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    raw = httpx.post(f"{llm_server.url}/v1beta/models/{MODEL}:streamGenerateContent?alt=sse", json=body)
    assert raw.headers["content-type"] == "text/event-stream"
    events = raw.text.split("\r\n\r\n")
    assert events[-1] == "" and all(e.startswith("data: {") for e in events[:-1])
    assert "finishReason" in json.loads(events[-2][len("data: "):])["candidates"][0]


def test_stream_with_thoughts_and_function_call(llm_gemini_client):
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True), tools=[WEATHER_TOOL])
    chunks = list(llm_gemini_client.models.generate_content_stream(model=MODEL, contents=PROMPT, config=config))
    assert len(chunks) == 2 and chunks[0].candidates[0].content.parts[0].thought is True
    assert chunks[1].function_calls[0].name == "get_weather"
    assert chunks[1].candidates[0].content.parts[0].thought_signature  # bytes, as with real thinking models
    assert chunks[1].usage_metadata.thoughts_token_count == chunks[0].usage_metadata.thoughts_token_count > 0


async def test_async_generate_and_stream(llm_async_gemini_client, llm_gemini_client):
    r = await llm_async_gemini_client.models.generate_content(model=MODEL, contents=PROMPT)
    assert _same(r, llm_gemini_client.models.generate_content(model=MODEL, contents=PROMPT))
    stream = await llm_async_gemini_client.models.generate_content_stream(model=MODEL, contents=PROMPT)
    chunks = [c async for c in stream]
    assert len(chunks) > 3 and "".join(c.text for c in chunks) == r.text
    assert chunks[-1].usage_metadata == r.usage_metadata
    chat = llm_async_gemini_client.chats.create(model=MODEL)
    assert "hello" in (await chat.send_message("hello")).text
    await llm_async_gemini_client.aclose()


def test_http_libraries(llm_gemini_client, llm_async_gemini_client, monkeypatch):
    """What the capture side has to hook: httpx2 for sync calls, aiohttp for async ones."""
    aiohttp = pytest.importorskip("aiohttp")
    httpx2 = pytest.importorskip("httpx2")
    seen: list[str] = []
    send, request = httpx2.Client.send, aiohttp.ClientSession._request
    monkeypatch.setattr(httpx2.Client, "send", lambda self, *a, **k: seen.append("httpx2") or send(self, *a, **k))

    async def counted(self, *a, **k):
        seen.append("aiohttp")
        return await request(self, *a, **k)

    monkeypatch.setattr(aiohttp.ClientSession, "_request", counted)
    llm_gemini_client.models.generate_content(model=MODEL, contents="hi")
    list(llm_gemini_client.models.generate_content_stream(model=MODEL, contents="hi"))

    async def both():
        await llm_async_gemini_client.models.generate_content(model=MODEL, contents="hi")
        async for _ in await llm_async_gemini_client.models.generate_content_stream(model=MODEL, contents="hi"):
            pass
        await llm_async_gemini_client.aclose()

    asyncio.run(both())
    assert seen == ["httpx2", "httpx2", "aiohttp", "aiohttp"]


# ---------------------------------------------------------------- function calling


def test_function_call_from_declared_schema(llm_gemini_client, llm_server):
    config = types.GenerateContentConfig(tools=[WEATHER_TOOL])
    r = llm_gemini_client.models.generate_content(model=MODEL, contents="Weather in San Francisco for 3 days?", config=config)
    (call,) = r.function_calls
    assert call.name == "get_weather" and call.args == {"location": "San Francisco", "unit": "celsius", "days": 3}
    assert r.candidates[0].finish_reason == types.FinishReason.STOP and r.text is None
    assert llm_server.requests[-1]["json"]["tools"][0]["functionDeclarations"][0]["parameters"]["type"] == "OBJECT"
    # a JSON-schema declaration (parameters_json_schema on the wire), nested objects and arrays
    decl = types.FunctionDeclaration(
        name="book_trip",
        parameters_json_schema={
            "type": "object",
            "properties": {
                "traveller": {"type": "object", "properties": {"name": {"type": "string"}, "email": {"type": "string", "format": "email"}}},
                "stops": {"type": "array", "items": {"type": "string"}},
                "date": {"type": "string", "format": "date"},
                "flexible": {"type": "boolean"},
                "seats": {"type": "integer", "default": 2},
            },
        },
    )
    r = llm_gemini_client.models.generate_content(
        model=MODEL, contents="Book me a trip to Rome next week", config=types.GenerateContentConfig(tools=[types.Tool(function_declarations=[decl])])
    )
    assert r.function_calls[0].args == {
        "traveller": {"name": "Rome", "email": "user@example.com"},
        "stops": ["Rome"],
        "date": "2024-01-01",
        "flexible": True,
        "seats": 2,
    }


def test_tool_config_modes_and_function_response(llm_gemini_client):
    other = types.FunctionDeclaration(name="get_time", parameters=types.Schema(type="OBJECT", properties={"tz": types.Schema(type="STRING")}))
    tools = [types.Tool(function_declarations=[other, WEATHER])]

    def ask(contents, mode=None, allowed=None):
        tool_config = types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode=mode, allowed_function_names=allowed)) if mode else None
        return llm_gemini_client.models.generate_content(model=MODEL, contents=contents, config=types.GenerateContentConfig(tools=tools, tool_config=tool_config))

    assert ask(PROMPT).function_calls[0].name == "get_time"
    assert ask(PROMPT, "ANY", ["get_weather"]).function_calls[0].name == "get_weather"
    none = ask(PROMPT, "NONE")
    assert none.function_calls is None and "weather in Paris" in none.text
    first = ask(PROMPT, "ANY", ["get_weather"])
    history = [
        types.Content(role="user", parts=[types.Part(text=PROMPT)]),
        first.candidates[0].content,
        types.Content(role="user", parts=[types.Part.from_function_response(name="get_weather", response={"forecast": "Sunny, 21 C"})]),
    ]
    final = ask(history, "ANY", ["get_weather"])
    assert final.function_calls is None and "Sunny, 21 C" in final.text


def test_automatic_function_calling(llm_gemini_client, llm_server):
    calls = []

    def get_weather(location: str, unit: str = "celsius") -> dict:
        """Current weather for a city."""
        calls.append((location, unit))
        return {"forecast": f"Foggy in {location}"}

    r = llm_gemini_client.models.generate_content(model=MODEL, contents=PROMPT, config=types.GenerateContentConfig(tools=[get_weather]))
    assert calls == [("Paris", "celsius")] and "Foggy in Paris" in r.text
    assert [c.role for c in r.automatic_function_calling_history] == ["user", "model", "user"]
    assert len(llm_server.requests) == 2


# ---------------------------------------------------------------- JSON mode


def test_json_mode_with_schema(llm_gemini_client):
    config = types.GenerateContentConfig(response_mime_type="application/json", response_schema=City)
    r = llm_gemini_client.models.generate_content(model=MODEL, contents="Describe Lisbon with 3 facts", config=config)
    assert r.parsed == City(city="Lisbon", population=3, coastal=True) and json.loads(r.text)["city"] == "Lisbon"
    chunks = list(llm_gemini_client.models.generate_content_stream(model=MODEL, contents="Describe Lisbon with 3 facts", config=config))
    assert City.model_validate_json("".join(c.text for c in chunks)) == r.parsed
    # JSON schema form, and list[...] schemas
    js = llm_gemini_client.models.generate_content(
        model=MODEL, contents="Lisbon", config={"response_mime_type": "application/json", "response_json_schema": City.model_json_schema()}
    )
    assert City.model_validate_json(js.text) == City(city="Lisbon", population=1, coastal=True)
    many = llm_gemini_client.models.generate_content(
        model=MODEL, contents="Lisbon", config={"response_mime_type": "application/json", "response_schema": list[City]}
    )
    assert many.parsed == [City(city="Lisbon", population=1, coastal=True)]
    free = llm_gemini_client.models.generate_content(model=MODEL, contents="hi", config={"response_mime_type": "application/json"})
    assert isinstance(json.loads(free.text), dict)


def test_enum_mode(llm_gemini_client):
    class Mood(enum.Enum):
        HAPPY = "happy"
        SAD = "sad"

    r = llm_gemini_client.models.generate_content(model=MODEL, contents="How do I feel?", config={"response_mime_type": "text/x.enum", "response_schema": Mood})
    assert r.text == "happy" and r.parsed == Mood.HAPPY


# ---------------------------------------------------------------- other endpoints


def test_count_tokens_embeddings_and_models(llm_gemini_client, llm_server):
    usage = llm_gemini_client.models.generate_content(model=MODEL, contents=PROMPT).usage_metadata
    assert llm_gemini_client.models.count_tokens(model=MODEL, contents=PROMPT).total_tokens == usage.prompt_token_count
    assert llm_server.requests[-1]["path"] == f"/v1/models/{MODEL}:countTokens"
    e = llm_gemini_client.models.embed_content(model="gemini-embedding-001", contents=["hello", "world"])
    assert [len(x.values) for x in e.embeddings] == [8, 8] and e.embeddings[0].values != e.embeddings[1].values
    assert llm_server.requests[-1]["path"] == "/v1/models/gemini-embedding-001:batchEmbedContents"
    e16 = llm_gemini_client.models.embed_content(model="gemini-embedding-001", contents="hello", config={"output_dimensionality": 16})
    assert len(e16.embeddings[0].values) == 16 and e16.embeddings[0].values[:8] != e.embeddings[0].values
    assert MODEL in [m.name.split("/")[-1] for m in llm_gemini_client.models.list()]
    assert llm_gemini_client.models.get(model=MODEL).name == f"models/{MODEL}"


# ---------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("fault", "exc", "code", "status"),
    [
        ("429", errors.ClientError, 429, "RESOURCE_EXHAUSTED"),
        ("400", errors.ClientError, 400, "INVALID_ARGUMENT"),
        ("401", errors.ClientError, 401, "UNAUTHENTICATED"),
        ("500", errors.ServerError, 500, "INTERNAL"),
        ("529", errors.ServerError, 503, "UNAVAILABLE"),  # Gemini's "overloaded"
    ],
)
async def test_faults_raise_the_sdk_errors(llm_gemini_client, llm_async_gemini_client, llm_server, fault, exc, code, status):
    with pytest.raises(exc) as e:
        llm_gemini_client.models.generate_content(model=f"gemini-fail-{fault}", contents=PROMPT)
    assert (e.value.code, e.value.status) == (code, status) and e.value.message
    assert e.value.details["error"]["code"] == code
    llm_server.inject(fault, model=MODEL)
    assert llm_gemini_client.models.generate_content(model="gemini-2.0-flash", contents=PROMPT).text  # other model untouched
    with pytest.raises(exc) as e:
        list(llm_gemini_client.models.generate_content_stream(model=MODEL, contents=PROMPT))
    assert e.value.code == code
    llm_server.inject(fault)
    with pytest.raises(exc) as e:  # the async path parses aiohttp responses
        await llm_async_gemini_client.models.generate_content(model=MODEL, contents=PROMPT)
    assert (e.value.code, e.value.status) == (code, status)
    await llm_async_gemini_client.aclose()
    assert "retry-after" not in e.value.response.headers


def test_429_details_say_retry_delay(llm_gemini_client, llm_server):
    llm_server.inject("429", retry_after=7)
    with pytest.raises(errors.ClientError) as e:
        llm_gemini_client.models.generate_content(model=MODEL, contents=PROMPT)
    details = e.value.details["error"]["details"]
    assert {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"} in details


def test_retries_only_with_retry_options(llm_gemini_client, llm_server):
    with pytest.raises(errors.ClientError):
        llm_gemini_client.models.generate_content(model="gemini-flaky-1", contents=PROMPT)
    assert len(llm_server.requests) == 1  # the SDK does not retry by default
    llm_server.reset()
    client = _retrying(llm_server)
    assert client.models.generate_content(model="gemini-flaky-2", contents=PROMPT).text
    assert len(llm_server.requests) == 3
    llm_server.reset()
    with pytest.raises(errors.ClientError) as e:
        client.models.generate_content(model="gemini-fail-429", contents=PROMPT)
    assert e.value.code == 429 and len(llm_server.requests) == 3
    llm_server.reset()
    llm_server.inject("500", times=2)
    assert [c.text for c in client.models.generate_content_stream(model=MODEL, contents="hi")]
    assert len(llm_server.requests) == 3
    llm_server.reset()
    with pytest.raises(errors.ClientError):  # 400 is not retried
        client.models.generate_content(model="gemini-fail-400", contents=PROMPT)
    assert len(llm_server.requests) == 1
    client.close()


async def test_async_retries(llm_server):
    client = _retrying(llm_server).aio
    assert (await client.models.generate_content(model="gemini-flaky-2", contents=PROMPT)).text
    assert len(llm_server.requests) == 3
    await client.aclose()


async def test_cut_streams_and_replies(llm_gemini_client, llm_server):
    # Observed with google-genai 3.6.1: nothing is wrapped; the transport's own error escapes.
    got = []
    with pytest.raises(Exception) as e:
        for chunk in llm_gemini_client.models.generate_content_stream(model="gemini-cut", contents="Tell me a long joke please"):
            got.append(chunk.text)
    assert got and type(e.value).__name__ == "RemoteProtocolError" and type(e.value).__module__.startswith("httpx")
    llm_server.inject("cut")
    with pytest.raises(Exception) as e:
        llm_gemini_client.models.generate_content(model=MODEL, contents=PROMPT)
    assert type(e.value).__name__ == "RemoteProtocolError"
    # async (aiohttp). A non-stream cut is retried once after a 1-10 s sleep unless
    # retry_options are set, so this client sets them (attempts=1: no retries).
    client = genai.Client(
        api_key="k", http_options={"base_url": llm_server.gemini_base_url, "retry_options": {"attempts": 1}}
    ).aio
    got = []
    with pytest.raises(Exception) as e:
        async for chunk in await client.models.generate_content_stream(model="gemini-cut", contents="Tell me a long joke please"):
            got.append(chunk.text)
    assert got and type(e.value).__name__ == "ClientPayloadError"
    llm_server.inject("cut")
    with pytest.raises(Exception) as e:
        await client.models.generate_content(model=MODEL, contents=PROMPT)
    assert type(e.value).__name__ == "ServerDisconnectedError"
    await client.aclose()


async def test_slow_and_timeout(llm_gemini_client, llm_async_gemini_client, llm_server):
    start = time.perf_counter()
    llm_gemini_client.models.generate_content(model="gemini-slow-200", contents=PROMPT)
    assert time.perf_counter() - start >= 0.2
    llm_server.chunk_delay = 0.05
    start = time.perf_counter()
    stream = llm_gemini_client.models.generate_content_stream(model=MODEL, contents=PROMPT)
    next(iter(stream))
    ttft = time.perf_counter() - start
    list(stream)
    assert time.perf_counter() - start - ttft > 0.2
    llm_server.chunk_delay = 0.0
    quick = types.GenerateContentConfig(http_options=types.HttpOptions(timeout=200))  # milliseconds
    llm_server.inject("timeout", retry_after=1.0)
    with pytest.raises(Exception) as e:
        llm_gemini_client.models.generate_content(model=MODEL, contents=PROMPT, config=quick)
    assert type(e.value).__name__ == "ReadTimeout"
    llm_server.inject("timeout", retry_after=1.0)
    with pytest.raises(asyncio.TimeoutError):  # aiohttp's total timeout (TimeoutError on 3.11+)
        await llm_async_gemini_client.models.generate_content(model=MODEL, contents=PROMPT, config=quick)
    await llm_async_gemini_client.aclose()


# ---------------------------------------------------------------- env, cassettes, CLI


def test_fake_llm_env_configures_a_default_client(llm_server_env, monkeypatch):
    client = genai.Client()
    assert "weather in Paris" in client.models.generate_content(model=MODEL, contents=PROMPT).text
    assert llm_server_env.requests[-1]["path"].endswith(":generateContent")
    client.close()


def _fixture(name: str) -> Path:
    path = FIXTURES / "openinference/python/instrumentation/openinference-instrumentation-google-genai/tests/cassettes/test_instrumentation" / name
    if not path.is_file():
        pytest.skip(f"fixtures not found at {FIXTURES}")
    return path


def test_recorded_gemini_exchanges_replay_through_the_sdk(llm_server):
    pytest.importorskip("yaml")
    client = genai.Client(api_key="k", http_options={"base_url": llm_server.gemini_base_url, "api_version": "v1beta"})

    def get_weather(location: str, unit: str = "fahrenheit") -> dict:
        """This function will be automatically executed by Google GenAI."""
        return {"location": location, "temperature": 65, "unit": unit, "condition": "foggy", "humidity": "85%"}

    llm_server.load(_fixture("test_generate_content_with_automatic_tool_calling.yaml"))
    r = client.models.generate_content(model="gemini-2.0-flash", contents="What's the weather like in San Francisco?",
                                       config=types.GenerateContentConfig(tools=[get_weather]))
    assert "foggy" in r.text and r.usage_metadata.total_token_count == 112 and llm_server.remaining == []
    llm_server.load(_fixture("test_streaming_content_with_tool.yaml"))
    (chunk,) = client.models.generate_content_stream(model="gemini-2.0-flash", contents="x", config={"tools": [WEATHER_TOOL]})
    assert chunk.function_calls[0].args == {"location": "San Francisco"} and chunk.usage_metadata.prompt_token_count == 63
    with pytest.raises(errors.ClientError) as e:  # nothing left: a 418 in Gemini's error shape
        client.models.generate_content(model="gemini-2.0-flash", contents="x")
    assert e.value.code == 418 and "no recorded interaction" in e.value.message
    client.close()


def test_cli_prints_gemini_exports():
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
        while "Ctrl-C" not in banner and time.monotonic() < deadline:
            banner += proc.stdout.readline()
        assert f"export GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:{port}\n" in banner
        assert "export GOOGLE_API_KEY=" in banner
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
        proc.stdout.close()
