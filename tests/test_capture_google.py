"""The real google-genai SDK over HTTP to the fake server's Gemini API, with llmdebug
capturing: sync (httpx2) and ``client.aio`` (aiohttp), streams, function calls and
automatic function calling, usage, errors; then the same calls through diff, replay,
the trace tree and pricing. Each call is also made without llmdebug and compared."""

from __future__ import annotations

import asyncio
import json

import pytest

import llmdebug as ld

genai = pytest.importorskip("google.genai")
from google.genai import errors, types  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning")

MODEL = "gemini-2.0-flash"
WEATHER = types.FunctionDeclaration(
    name="get_weather", description="Current weather for a city.",
    parameters=types.Schema(type="OBJECT", properties={"location": types.Schema(type="STRING")},
                            required=["location"]))


def _dump(r) -> dict:
    return r.model_dump(exclude={"sdk_http_response"})


def test_generate_content_captured_and_unchanged(trace_db, llm_gemini_client):
    config = types.GenerateContentConfig(system_instruction="Be terse.", temperature=0.2, max_output_tokens=64)
    bare = llm_gemini_client.models.generate_content(model=MODEL, contents="Name three rivers.", config=config)
    ld.init(trace_db)
    r = llm_gemini_client.models.generate_content(model=MODEL, contents="Name three rivers.", config=config)
    assert _dump(r) == _dump(bare)
    c = ld.last()
    assert (c.provider, c.endpoint, c.name, c.model, c.status) == ("google", "generate_content",
                                                                    "google.generate_content", MODEL, "ok")
    assert c.output_text == r.text
    u = r.usage_metadata
    assert c.input_tokens == u.prompt_token_count and c.output_tokens == u.candidates_token_count
    assert c.total_tokens == u.total_token_count
    assert c.cost_usd is not None and c.cost_usd > 0 and c.priced
    assert c.messages[0] == {"role": "system", "content": "Be terse."}
    assert c.messages[1]["parts"][0]["text"] == "Name three rivers."
    assert c.base_url and c.base_url.startswith("http://127.0.0.1")
    assert c.events[0]["status"] == 200


def test_stream_sync_and_async(ld_on, llm_gemini_client, llm_async_gemini_client):
    chunks = list(llm_gemini_client.models.generate_content_stream(model=MODEL, contents="Stream a story."))
    c = ld.last()
    assert c.stream and c.output_text == "".join(ch.text or "" for ch in chunks)
    assert c.ttft_ms is not None and c.output_tokens == chunks[-1].usage_metadata.candidates_token_count

    async def run():
        out = []
        async for ch in await llm_async_gemini_client.models.generate_content_stream(model=MODEL, contents="Async story."):
            out.append(ch.text or "")
        return "".join(out)

    text = asyncio.run(run())
    c = ld.last()
    assert c.stream and c.output_text == text and c.ttft_ms is not None
    assert len(ld.calls()) == 2


def test_async_generate_content_through_aiohttp(ld_on, llm_async_gemini_client):
    r = asyncio.run(llm_async_gemini_client.models.generate_content(model=MODEL, contents="Hello from aio"))
    c = ld.last()
    assert c.output_text == r.text and c.input_tokens == r.usage_metadata.prompt_token_count
    assert c.events and c.events[0]["status"] == 200  # the aiohttp attempt was seen
    assert c.request["contents"][0]["parts"][0]["text"] == "Hello from aio"


def test_function_call_is_a_tool_call(ld_on, llm_gemini_client):
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])],
                                         automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))
    r = llm_gemini_client.models.generate_content(model=MODEL, contents="Weather in Paris?", config=config)
    fc = r.function_calls[0]
    c = ld.last()
    assert c.tool_calls[0]["name"] == fc.name == "get_weather"
    assert json.loads(c.tool_calls[0]["arguments"]) == fc.args
    from llmdebug import providers

    assert providers.tools(c)[0]["name"] == "get_weather"


def test_automatic_function_calling_shows_each_model_request(ld_on, llm_gemini_client):
    def get_weather(location: str) -> str:
        """Current weather for a city."""
        return f"Sunny in {location}"

    with ld.trace("agent") as t:
        r = llm_gemini_client.models.generate_content(model=MODEL, contents="Weather in Rome?",
                                                  config=types.GenerateContentConfig(tools=[get_weather]))
    assert r.text
    spans = ld.spans(trace_id=t.trace_id)
    calls = spans[spans["kind"] == "llm"]
    assert len(calls) == 2  # the model asked for the tool, then answered with its result
    first, second = (ld.get(i) for i in calls["id"])
    assert first.tool_calls[0]["name"] == "get_weather"
    assert any(m["role"] == "tool" and "Sunny in" in m["text"] for m in
               __import__("llmdebug").providers.chat_messages(second))
    assert second.output_text == r.text


@pytest.mark.parametrize("fault, exc, code", [("429", errors.ClientError, 429), ("500", errors.ServerError, 500),
                                              ("400", errors.ClientError, 400)])
def test_errors_are_recorded_and_raised_unchanged(ld_on, llm_gemini_client, llm_server, fault, exc, code):
    llm_server.inject(fault)
    with pytest.raises(exc) as info:
        llm_gemini_client.models.generate_content(model=MODEL, contents="hi")
    assert info.value.code == code
    c = ld.last()
    assert c.status == "error" and c.http_status == code and c.error_type == type(info.value).__name__
    assert c.rate_limit_hits == (1 if code == 429 else 0)


def test_async_error_through_aiohttp(ld_on, llm_async_gemini_client, llm_server):
    llm_server.inject("429")
    with pytest.raises(errors.ClientError):
        asyncio.run(llm_async_gemini_client.models.generate_content(model=MODEL, contents="hi"))
    c = ld.last()
    assert c.status == "error" and c.http_status == 429 and c.rate_limit_hits == 1


def test_tree_diff_search_and_metrics(ld_on, llm_gemini_client):
    with ld.trace("two questions") as t:
        llm_gemini_client.models.generate_content(model=MODEL, contents="Capital of France?")
        llm_gemini_client.models.generate_content(model=MODEL, contents="Capital of Italy?",
                                              config=types.GenerateContentConfig(temperature=0.9))
    a, b = (ld.get(i) for i in ld.calls()["id"])
    from llmdebug.diffing import diff_calls

    d = diff_calls(a, b)
    assert any(p["key"] == "temperature" and p["op"] == "added" for p in d["params"])
    assert any(m["op"] == "changed" for m in d["messages"])
    tree = ld.show(t.trace_id)
    assert len(tree.rows) == 3
    tree.selected = 1
    assert tree.detail["messages"][0]["text"] == "Capital of France?"
    assert "temperature" not in tree.detail["params"] and "generationConfig" not in tree.detail["params"]
    assert len(ld.search("Italy")) == 1
    m = ld.metrics(by="provider")
    assert m.loc["google", "calls"] == 2 and m.loc["google", "cost_usd"] > 0


def test_replay_with_an_edit_and_a_new_parameter(ld_on, llm_server_env):
    client = genai.Client()  # from the environment, as a user would
    client.models.generate_content(model=MODEL, contents="Say hi", config=types.GenerateContentConfig(
        system_instruction="Be formal."))
    original = ld.last()
    new = ld.replay(original, system="Be casual.", max_tokens=5, messages=ld.edit.message(-1, "Say hello"))
    assert new.replay_of == original.id and new.status == "ok"
    assert new.request["systemInstruction"]["parts"][0]["text"] == "Be casual."
    assert new.request["contents"][-1]["parts"][0]["text"] == "Say hello"
    assert new.request["generationConfig"]["maxOutputTokens"] == 5
    streamed = ld.replay(ld.get(original.id), model="gemini-2.5-flash")
    assert streamed.model == "gemini-2.5-flash"


def test_replay_of_a_stream_streams(ld_on, llm_server_env):
    client = genai.Client()
    list(client.models.generate_content_stream(model=MODEL, contents="Stream it"))
    new = ld.replay(ld.last())
    assert new.stream and new.output_text and new.replay_of
