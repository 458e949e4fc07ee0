"""ld.cassette: real SDKs record against the fake server, then replay with the server
stopped (no network), returning what they returned live; misses, ordering, matching,
secrets, captured spans, VCR cassettes from shared/fixtures."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

import llmdebug as ld
from llmdebug.cassettes import Interaction, read_cassette, write_cassette
from llmdebug.testing import FakeLLMServer

# as tests/conftest.py finds them (a "from conftest import" picks whichever conftest loaded last)
FIXTURES = Path(os.environ.get("LLMDEBUG_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "fixtures"))


pytestmark = pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning")
openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")

KEY = "sk-cassette-secret-0123456789"
MSG = [{"role": "user", "content": "Say hi"}]
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


@pytest.fixture
def server():
    """A server of the test's own, so the test can stop it before replaying."""
    srv = FakeLLMServer().start()
    yield srv
    srv.stop()


def _oa(srv, **kw):
    return openai.OpenAI(base_url=srv.openai_base_url, api_key=KEY, max_retries=2, **kw)


def _record_then_replay(tmp_path, server, calls):
    """Run ``calls(srv)`` recording, stop the server, run it again replaying; both results."""
    path = tmp_path / "c.json"
    with ld.cassette(path, "record") as rec:
        live = calls(server)
    server.stop()
    with ld.cassette(path, "replay") as rep:
        played = calls(server)
    assert rep.played == rec.recorded > 0 and rep.unplayed == []
    return live, played, path


def _no_secret(path):
    text = path.read_text()
    assert KEY not in text and "authorization" not in text.lower() and "x-api-key" not in text.lower()


# ---------------------------------------------------------------- openai
def test_openai_sync_stream_tools(tmp_path, server):
    def calls(srv):
        c = _oa(srv)
        r = c.chat.completions.create(model="gpt-4o-mini", messages=MSG)
        chunks = [ch.model_dump() for ch in c.chat.completions.create(model="gpt-4o-mini", messages=MSG, stream=True)]
        tool = c.chat.completions.create(model="gpt-4o-mini", tools=[WEATHER_TOOL],
                                         messages=[{"role": "user", "content": "Weather in Paris?"}])
        raw = c.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MSG)
        return r.model_dump(), chunks, tool.model_dump(), (raw.http_response.content, dict(raw.headers))

    live, played, path = _record_then_replay(tmp_path, server, calls)
    assert played == live  # same objects, same stream chunks, same raw bytes and headers
    assert len(live[1]) > 2 and live[2]["choices"][0]["message"]["tool_calls"]
    _no_secret(path)
    doc = json.loads(path.read_text())
    stream = doc["interactions"][1]["response"]
    assert stream["chunks"][0].startswith("data: ") and len(stream["chunks"]) == len(live[1]) + 1  # + [DONE]
    assert doc["interactions"][0]["request"]["json"]["messages"] == MSG


async def test_openai_async_and_stream(tmp_path, server):
    path = tmp_path / "a.json"

    async def calls(srv):
        c = openai.AsyncOpenAI(base_url=srv.openai_base_url, api_key=KEY, max_retries=0)
        r = await c.chat.completions.create(model="gpt-4o-mini", messages=MSG)
        s = await c.chat.completions.create(model="gpt-4o-mini", messages=MSG, stream=True)
        chunks = [ch.model_dump() async for ch in s]
        await c.close()
        return r.model_dump(), chunks

    with ld.cassette(path, "record"):
        live = await calls(server)
    server.stop()
    with ld.cassette(path, "replay"):
        assert await calls(server) == live


def test_openai_429_retries_and_400_error(tmp_path, server, trace_db):
    ld.init(trace_db)

    def calls(srv):
        c = _oa(srv)
        r = c.chat.completions.create(model="gpt-4o-mini-flaky-1", messages=MSG)  # 429, then 200
        with pytest.raises(openai.BadRequestError) as err:
            c.chat.completions.create(model="fail-400", messages=MSG)
        return r.model_dump(), (type(err.value), err.value.status_code, err.value.body, str(err.value))

    live, played, path = _record_then_replay(tmp_path, server, calls)
    assert played == live
    statuses = [i["response"]["status"] for i in json.loads(path.read_text())["interactions"]]
    assert statuses == [429, 200, 400]
    ld.flush()
    df = ld.calls()
    assert list(df["retries"]) == [1, 0, 1, 0] and list(df["status"]) == ["ok", "error", "ok", "error"]
    assert [("cassette" in t) for t in df["tags"]] == [False, False, True, True]
    replayed = ld.get(df["id"].iloc[2])
    assert replayed.attributes["cassette"] == {"path": str(path), "interaction": 2}  # the 200 answered it
    assert replayed.output_text == ld.get(df["id"].iloc[0]).output_text


# ---------------------------------------------------------------- anthropic, litellm, google-genai
def test_anthropic_messages_and_stream(tmp_path, server):
    def calls(srv):
        c = anthropic.Anthropic(base_url=srv.anthropic_base_url, api_key=KEY, max_retries=0)
        r = c.messages.create(model="claude-3-5-haiku-latest", max_tokens=50, messages=MSG)
        with c.messages.stream(model="claude-3-5-haiku-latest", max_tokens=50, messages=MSG) as s:
            events = [e.model_dump() for e in s]
            final = s.get_final_message().model_dump()
        return r.model_dump(), events, final

    live, played, path = _record_then_replay(tmp_path, server, calls)
    assert played == live
    _no_secret(path)


def test_litellm_openai_path(tmp_path, server):
    litellm = pytest.importorskip("litellm")

    def calls(srv):
        r = litellm.completion(model="openai/gpt-4o-mini", api_base=srv.openai_base_url, api_key=KEY, messages=MSG)
        s = litellm.completion(model="openai/gpt-4o-mini", api_base=srv.openai_base_url, api_key=KEY, messages=MSG,
                               stream=True)
        text = "".join(ch.choices[0].delta.content or "" for ch in s if ch.choices)
        return r.choices[0].message.content, r.usage.total_tokens, text

    live, played, path = _record_then_replay(tmp_path, server, calls)
    assert played == live
    _no_secret(path)


def test_google_genai_sync_and_async(tmp_path, server):
    genai = pytest.importorskip("google.genai")
    gkey = "AIzaFakeGeminiKey0123456789"

    def dump(r):
        return r.model_dump()  # sdk_http_response included: the headers come back too

    def calls(srv):
        c = genai.Client(api_key=gkey, http_options={"base_url": srv.gemini_base_url})

        async def aio():
            r = await c.aio.models.generate_content(model="gemini-2.0-flash", contents="hi")
            s = [x.text async for x in await c.aio.models.generate_content_stream(model="gemini-2.0-flash",
                                                                                 contents="hi")]
            return dump(r), s

        r = c.models.generate_content(model="gemini-2.0-flash", contents="yo")
        s = [x.text for x in c.models.generate_content_stream(model="gemini-2.0-flash", contents="yo")]
        return dump(r), s, asyncio.run(aio())

    live, played, path = _record_then_replay(tmp_path, server, calls)
    assert played == live
    assert gkey not in path.read_text() and "x-goog-api-key" not in path.read_text().lower()


# ---------------------------------------------------------------- matching, misses, ordering
def test_repeated_requests_answered_in_recorded_order(tmp_path):
    path = tmp_path / "order.json"
    url = "https://api.openai.com/v1/chat/completions"
    body = {"model": "gpt-4o-mini", "messages": MSG}

    def answer(text):
        return {"id": text, "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}

    write_cassette(path, [Interaction("POST", url, body, 200, [("content-type", "application/json")], answer(t))
                          for t in ("first", "second")])
    c = openai.OpenAI(api_key=KEY, max_retries=0)  # api.openai.com: never reached
    with ld.cassette(path, "replay"):
        got = [c.chat.completions.create(**body).choices[0].message.content for _ in range(2)]
        assert got == ["first", "second"]
        with pytest.raises(ld.CassetteMiss) as miss:
            c.chat.completions.create(**body)
    assert "all 2 recorded answers to this same request were already played" in str(miss.value)


def test_miss_shows_closest_request_and_diff(tmp_path, server):
    path = tmp_path / "miss.json"
    c = _oa(server)
    with ld.cassette(path, "record"):
        c.chat.completions.create(model="gpt-4o-mini", messages=MSG, temperature=0.2)
        c.embeddings.create(model="text-embedding-3-small", input="hello")
    server.stop()
    with ld.cassette(path, "replay"), pytest.raises(ld.CassetteMiss) as info:
        c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Say bye"}],
                                  temperature=0.2)
    e = info.value
    text = str(e)
    assert "no recorded answer for POST /v1/chat/completions" in text
    assert "closest recorded request: #1 POST /v1/chat/completions (not played yet)" in text
    assert '-      "content": "Say hi",' in text and '+      "content": "Say bye",' in text
    assert "temperature" not in e.diff  # only what differs, with a little context
    assert e.closest.request_body["messages"] == MSG and e.request["body"]["messages"][0]["content"] == "Say bye"
    assert not isinstance(e, Exception)  # the SDK neither retried it nor wrapped it in APIConnectionError


def test_ignored_fields_and_auto_mode(tmp_path, server):
    path = tmp_path / "auto.json"
    c = _oa(server)
    with ld.cassette(path) as cas:  # auto: nothing on file, so recorded
        a = c.chat.completions.create(model="gpt-4o-mini", messages=MSG, user="alice", metadata={"run": "1"})
    assert (cas.recorded, cas.played) == (1, 0)
    with ld.cassette(path) as cas:  # the default ignore list: user and metadata vary freely
        b = c.chat.completions.create(model="gpt-4o-mini", messages=MSG, user="bob", metadata={"run": "2"})
        c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "new"}])
    assert (cas.recorded, cas.played) == (1, 1) and a.model_dump() == b.model_dump()
    assert len(read_cassette(path)) == 2
    server.stop()
    with ld.cassette(path, "replay", ignore=["messages.*.content"]):  # any content matches now
        with pytest.raises(ld.CassetteMiss):  # user and metadata are compared again when ignore= replaces them
            c.chat.completions.create(model="gpt-4o-mini", messages=MSG, user="carol")
        c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "other"}])  # "new"'s


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="choose one of record, replay, auto, off"):
        ld.cassette(tmp_path / "x.json", "play")
    with pytest.raises(TypeError, match="ignore takes a list"):
        ld.cassette(tmp_path / "x.json", ignore="user")
    with pytest.raises(FileNotFoundError, match="record it first"):
        ld.cassette(tmp_path / "missing.json", "replay").start()
    with pytest.raises(ValueError, match="played back only"):
        ld.cassette(tmp_path / "x.yaml", "record")
    (tmp_path / "bad.json").write_text('{"interactions": 3}')
    with pytest.raises(ValueError, match="not a cassette"):
        ld.cassette(tmp_path / "bad.json", "replay").start()
    with pytest.raises(TypeError):
        ld.cassette(42)


def test_other_http_is_left_alone(tmp_path, server):
    httpx = pytest.importorskip("httpx")
    path = tmp_path / "other.json"
    with ld.cassette(path, "record"):
        assert httpx.get(server.url + "/v1/models").status_code == 200  # not an LLM call: not recorded
    assert read_cassette(path) == []


def test_secrets_never_written(tmp_path, server):
    """A key echoed by the API and a credential in the body are blanked; no request headers."""
    c = openai.OpenAI(base_url=server.openai_base_url, api_key=KEY, max_retries=0,
                      default_headers={"x-custom-token": "tok-abcdefghijkl"})
    path = tmp_path / "s.json"
    with ld.cassette(path, "record"):
        c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"my key is {KEY}"}],
                                  extra_body={"api_key": "sk-in-the-body-123456"})
    text = path.read_text()
    for secret in (KEY, "tok-abcdefghijkl", "sk-in-the-body-123456"):
        assert secret not in text
    assert "[llmdebug: redacted]" in text


# ---------------------------------------------------------------- VCR cassettes from shared/fixtures
VCR = [
    ("openinference/python/instrumentation/openinference-instrumentation-openai/tests/openinference/"
     "instrumentation/openai/cassettes/test_tool_calls/test_cached_tokens.yaml", "openai"),
    ("openllmetry/packages/opentelemetry-instrumentation-openai/tests/traces/cassettes/test_chat/test_chat.yaml",
     "openai"),
    ("openllmetry/packages/opentelemetry-instrumentation-openai/tests/traces/cassettes/test_functions/"
     "test_open_ai_function_calls_tools_streaming_parallel.yaml", "openai"),
    ("openllmetry/packages/opentelemetry-instrumentation-anthropic/tests/cassettes/test_messages/"
     "test_anthropic_message_create_legacy.yaml", "anthropic"),
    ("openinference/python/instrumentation/openinference-instrumentation-anthropic/tests/openinference/anthropic/"
     "cassettes/test_instrumentor/test_anthropic_instrumentation_messages_streaming.yaml", "anthropic"),
]


@pytest.mark.parametrize("rel, sdk", [pytest.param(r, s, id=r.rsplit("/", 1)[-1]) for r, s in VCR])
def test_vcr_cassettes_replay_through_the_sdks(rel, sdk):
    path = FIXTURES / rel
    if not path.is_file():
        pytest.skip(f"fixtures not found at {FIXTURES}")
    recorded = read_cassette(path)
    client = (openai.OpenAI(api_key="x", max_retries=0) if sdk == "openai"
              else anthropic.Anthropic(api_key="x", max_retries=0))  # the real hosts: never reached
    with ld.cassette(path, "replay") as cas:
        for it in recorded:
            body = dict(it.request_body)
            if sdk == "openai":
                result = client.chat.completions.create(**body)
            else:
                result = client.messages.create(**body)
            if body.get("stream"):
                events = list(result)
                assert events
            else:
                expected = json.loads(b"".join(it.response_chunks()))
                assert result.id == expected["id"]
    assert cas.played == len(recorded) and cas.unplayed == []


# ---------------------------------------------------------------- %llmdebug cassette
def test_magic_cassette_for_the_whole_notebook(tmp_path, trace_db, server, monkeypatch, capsys):
    pytest.importorskip("IPython")
    from IPython.testing.globalipapp import get_ipython

    ip = get_ipython()
    monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    ip.run_line_magic("load_ext", "llmdebug")
    try:
        path = tmp_path / "nb.json"
        ip.run_cell("import openai\nclient = openai.OpenAI(max_retries=0)")
        ask = "client.chat.completions.create(model='gpt-4o-mini', messages=[{'role': 'user', 'content': 'hi'}])"
        ip.run_line_magic("llmdebug", f"cassette {path} record")
        live = ip.run_cell(ask).result.model_dump()
        ip.run_line_magic("llmdebug", "cassette")  # status
        ip.run_line_magic("llmdebug", "cassette off")
        out = capsys.readouterr().out
        assert f"cassette {path} (record; 0 recorded exchanges)" in out and "1 recorded>" in out
        assert "cassette off" in out
        server.stop()
        ip.run_line_magic("llmdebug", f"cassette {path} replay")
        assert ip.run_cell(ask).result.model_dump() == live
        assert "1 recorded exchange)" in capsys.readouterr().out
        ip.run_line_magic("llmdebug", f"cassette {path} sometimes")
        assert "choose one of record, replay, auto, off" in capsys.readouterr().out
    finally:
        ip.run_line_magic("unload_ext", "llmdebug")  # stops the cassette too
    from llmdebug.cassettes import current

    assert current() is None
