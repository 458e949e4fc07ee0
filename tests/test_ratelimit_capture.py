"""Rate-limit headroom captured per call: the stored ``ratelimit_*`` and ``retry_after_s``
columns are what the response headers the SDK received said (OpenAI, Anthropic, litellm;
sync, async, streams), the last response's when the SDK retried, NULL without headers,
and malformed values never break a call."""

from __future__ import annotations

import asyncio
import json

import pandas as pd
import pytest

import llmdebug as ld
from llmdebug.providers._ratelimits import duration_s, seconds_until
from llmdebug.testing import FakeLLMServer

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")

USER = [{"role": "user", "content": "How close am I to my rate limit?"}]
HAIKU = "claude-3-5-haiku-latest"
COLUMNS = ("ratelimit_limit_requests", "ratelimit_remaining_requests", "ratelimit_limit_tokens",
           "ratelimit_remaining_tokens", "ratelimit_reset_requests_s", "ratelimit_reset_tokens_s", "retry_after_s")


def _stored() -> dict:
    """The rate-limit columns of the only LLM call stored."""
    assert ld.flush(10)
    calls = ld.calls()
    assert len(calls) == 1
    row = calls.iloc[0]
    return {c: (None if pd.isna(row[c]) else row[c]) for c in COLUMNS}


def _openai_expected(h) -> dict:
    return {"ratelimit_limit_requests": int(h["x-ratelimit-limit-requests"]),
            "ratelimit_remaining_requests": int(h["x-ratelimit-remaining-requests"]),
            "ratelimit_limit_tokens": int(h["x-ratelimit-limit-tokens"]),
            "ratelimit_remaining_tokens": int(h["x-ratelimit-remaining-tokens"]),
            "ratelimit_reset_requests_s": duration_s(h["x-ratelimit-reset-requests"]),
            "ratelimit_reset_tokens_s": duration_s(h["x-ratelimit-reset-tokens"]),
            "retry_after_s": None}


def _check_anthropic(got: dict, h, started_at: float) -> None:
    want = {"ratelimit_limit_requests": int(h["anthropic-ratelimit-requests-limit"]),
            "ratelimit_remaining_requests": int(h["anthropic-ratelimit-requests-remaining"]),
            "ratelimit_limit_tokens": int(h["anthropic-ratelimit-tokens-limit"]),
            "ratelimit_remaining_tokens": int(h["anthropic-ratelimit-tokens-remaining"]),
            "retry_after_s": None}
    assert {k: got[k] for k in want} == want
    # a reset time, read against when the response arrived: within the call's own duration of
    # the same time read against its start
    for kind in ("requests", "tokens"):
        at_start = seconds_until(h[f"anthropic-ratelimit-{kind}-reset"], started_at)
        assert at_start - 5 <= got[f"ratelimit_reset_{kind}_s"] <= at_start


def _started_at() -> float:
    return ld.calls().iloc[0]["started_at"].timestamp()


# -- OpenAI ---------------------------------------------------------------------------------
def test_openai_sync(ld_on, llm_openai_client):
    raw = llm_openai_client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=USER,
                                                                      max_tokens=40)
    assert raw.parse().choices
    got = _stored()
    assert got == _openai_expected(raw.headers)
    assert got["ratelimit_remaining_requests"] < got["ratelimit_limit_requests"]  # the server counted it


def test_openai_stream(ld_on, llm_openai_client):
    raw = llm_openai_client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=USER,
                                                                      stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert _stored() == _openai_expected(raw.headers)


def test_openai_async_and_async_stream(ld_on, llm_server):
    async def main():
        async with openai.AsyncOpenAI(base_url=llm_server.openai_base_url, api_key="sk-fake") as client:
            plain = await client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=USER)
            streamed = await client.chat.completions.with_raw_response.create(model="gpt-4o", messages=USER,
                                                                              stream=True)
            async for _ in streamed.parse():
                pass
            return {"gpt-4o-mini": plain.headers, "gpt-4o": streamed.headers}

    headers = asyncio.run(main())
    assert ld.flush(10)
    calls = ld.calls().set_index("model")
    for model, h in headers.items():
        got = {c: (None if pd.isna(calls.loc[model, c]) else calls.loc[model, c]) for c in COLUMNS}
        assert got == _openai_expected(h)


# -- Anthropic ------------------------------------------------------------------------------
def test_anthropic_sync(ld_on, llm_anthropic_client):
    raw = llm_anthropic_client.messages.with_raw_response.create(model=HAIKU, max_tokens=64, messages=USER)
    assert raw.parse().content
    _check_anthropic(_stored(), raw.headers, _started_at())


def test_anthropic_stream_helper(ld_on, llm_anthropic_client):
    with llm_anthropic_client.messages.stream(model=HAIKU, max_tokens=64, messages=USER) as stream:
        assert stream.get_final_text()
        headers = stream.response.headers
    _check_anthropic(_stored(), headers, _started_at())


def test_anthropic_async_stream(ld_on, llm_server):
    async def main():
        async with anthropic.AsyncAnthropic(base_url=llm_server.anthropic_base_url, api_key="sk-ant-fake") as client:
            raw = await client.messages.with_raw_response.create(model=HAIKU, max_tokens=64, messages=USER,
                                                                stream=True)
            async for _ in await raw.parse():
                pass
            return raw.headers

    headers = asyncio.run(main())
    assert headers.get("anthropic-ratelimit-requests-remaining") is not None  # the server sent them
    _check_anthropic(_stored(), headers, _started_at())


# -- litellm: the headers of the API it called -----------------------------------------------
def test_litellm_through_openai_and_anthropic(ld_on, llm_server):
    litellm = pytest.importorskip("litellm")
    litellm.completion(model="openai/gpt-4o-mini", messages=USER, api_base=llm_server.openai_base_url,
                       api_key="sk-fake")
    litellm.completion(model=f"anthropic/{HAIKU}", messages=USER, api_base=llm_server.anthropic_base_url,
                       api_key="sk-ant-fake", max_tokens=50)
    assert ld.flush(10)
    calls = ld.calls(provider="litellm").set_index("model")
    assert len(calls) == 2
    for model in calls.index:
        row = calls.loc[model]
        assert row["ratelimit_limit_requests"] == 10_000 and row["ratelimit_limit_tokens"] == 2_000_000
        assert row["ratelimit_remaining_requests"] < 10_000 and row["ratelimit_remaining_tokens"] < 2_000_000
        assert 0 <= row["ratelimit_reset_requests_s"] <= 60


# -- retries, 429s ----------------------------------------------------------------------------
def test_a_429_retried_keeps_the_final_responses_headroom(ld_on, llm_server, llm_openai_client):
    llm_server.inject("429", times=1, retry_after=0.0)
    raw = llm_openai_client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=USER)
    got = _stored()
    assert got == _openai_expected(raw.headers) and got["retry_after_s"] is None
    span = ld.last()
    attempts = [e for e in span.events if e["type"] == "http_attempt"]
    assert [e["status"] for e in attempts] == [429, 200]
    assert attempts[0]["retry-after"] == "0" and attempts[0]["retry-after-ms"] == "1"  # the 429's, in its event
    assert attempts[0]["x-ratelimit-remaining-requests"] == "0"
    assert span.rate_limit_hits == 1 and span.retries == 1


def test_a_429_that_fails_stores_its_retry_after(ld_on, llm_server):
    client = openai.OpenAI(base_url=llm_server.openai_base_url, api_key="sk-fake", max_retries=0)
    llm_server.inject("429", times=1, retry_after=2.5)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    got = _stored()
    assert got["retry_after_s"] == 2.5  # retry-after-ms is read first, as the SDKs do
    assert got["ratelimit_remaining_requests"] == 0  # the 429 said so
    assert got["ratelimit_limit_requests"] == 10_000
    row = ld.calls().iloc[0]
    assert row["http_status"] == 429 and row["status"] == "error"


def test_enforced_limits_refuse_then_the_retry_succeeds(ld_on):
    # 2 requests a window; the third is refused with a retry-after until the window's end
    # (at most 1 s here), and the SDK's retry lands in the next window.
    with FakeLLMServer(rate_limits={"requests": 2, "tokens": 100_000, "window_s": 1.0}) as srv:
        client = openai.OpenAI(base_url=srv.openai_base_url, api_key="sk-fake", max_retries=5)
        for _ in range(3):
            client.chat.completions.create(model="gpt-4o-mini", messages=USER)
        client.close()
    assert ld.flush(10)
    calls = ld.calls()
    assert len(calls) == 3 and (calls["status"] == "ok").all()
    assert (calls["ratelimit_limit_requests"] == 2).all()
    assert calls["ratelimit_remaining_requests"].min() == 0
    refused = [e for s in calls["id"] for e in ld.get(s).events if e.get("status") == 429]
    # windows are aligned to the clock: the first two calls may straddle two windows
    assert len(refused) == calls["rate_limit_hits"].sum()
    for e in refused:
        assert 1 <= int(e["retry-after-ms"]) <= 1000 and e["retry-after"] == "1"


# -- no headers, bad headers ------------------------------------------------------------------
def test_no_rate_limit_headers_store_null(ld_on):
    with FakeLLMServer(rate_limits=None) as srv:
        client = openai.OpenAI(base_url=srv.openai_base_url, api_key="sk-fake")
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=USER)
        assert "x-ratelimit-remaining-requests" not in raw.headers
        client.close()
    assert _stored() == dict.fromkeys(COLUMNS)


def _interaction(path: str, body: dict, headers: list) -> dict:
    return {"method": "POST", "path": path, "status": 200, "body": json.dumps(body).encode(),
            "headers": [("Content-Type", "application/json")] + headers}


CHAT_BODY = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
             "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}
MESSAGE_BODY = {"id": "msg_1", "type": "message", "role": "assistant", "model": HAIKU,
                "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
                "usage": {"input_tokens": 3, "output_tokens": 1}}


def test_malformed_headers_never_raise(ld_on, llm_server, llm_openai_client, llm_anthropic_client):
    llm_server.load([
        _interaction("/v1/chat/completions", CHAT_BODY, [
            ("x-ratelimit-limit-requests", "lots"), ("x-ratelimit-remaining-requests", "-3"),
            ("x-ratelimit-limit-tokens", "9" * 40), ("x-ratelimit-remaining-tokens", "12.5"),
            ("x-ratelimit-reset-requests", "soon"), ("x-ratelimit-reset-tokens", "1h-2m"),
            ("retry-after", "whenever"), ("retry-after-ms", "nan")]),
        _interaction("/v1/messages", MESSAGE_BODY, [
            ("anthropic-ratelimit-requests-limit", ""), ("anthropic-ratelimit-requests-remaining", "0x10"),
            ("anthropic-ratelimit-requests-reset", "yesterday"), ("anthropic-ratelimit-tokens-reset", "2026-13-45"),
            ("retry-after", "Wed, 99 Foo 2015 07:28:00 GMT")]),
    ])
    assert llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER).choices[0].message.content
    assert llm_anthropic_client.messages.create(model=HAIKU, max_tokens=10, messages=USER).content
    assert ld.flush(10)
    calls = ld.calls()
    assert len(calls) == 2 and (calls["status"] == "ok").all()
    for c in COLUMNS:
        assert calls[c].isna().all(), c


def test_anthropic_tokens_fall_back_to_input_tokens(ld_on, llm_server, llm_anthropic_client):
    llm_server.load([_interaction("/v1/messages", MESSAGE_BODY, [
        ("anthropic-ratelimit-requests-limit", "50"), ("anthropic-ratelimit-requests-remaining", "49"),
        ("anthropic-ratelimit-requests-reset", "2099-01-01T00:00:00Z"),
        ("anthropic-ratelimit-input-tokens-limit", "40000"), ("anthropic-ratelimit-input-tokens-remaining", "39000"),
        ("anthropic-ratelimit-input-tokens-reset", "2099-01-01T00:00:00Z"),
        ("anthropic-ratelimit-output-tokens-limit", "8000"), ("anthropic-ratelimit-output-tokens-remaining", "7990"),
        ("retry-after", "7")])])
    llm_anthropic_client.messages.create(model=HAIKU, max_tokens=10, messages=USER)
    got = _stored()
    assert (got["ratelimit_limit_requests"], got["ratelimit_remaining_requests"]) == (50, 49)
    assert (got["ratelimit_limit_tokens"], got["ratelimit_remaining_tokens"]) == (40_000, 39_000)
    assert got["ratelimit_reset_tokens_s"] > 86400 * 365  # a reset time far ahead, read as seconds from now
    assert got["retry_after_s"] == 7.0


def test_a_cassette_keeps_the_rate_limit_headers(ld_on, tmp_path):
    # recorded and replayed whole: "tokens" in a header name does not make it a credential here
    path = tmp_path / "c.json"
    with FakeLLMServer() as srv:
        client = openai.OpenAI(base_url=srv.openai_base_url, api_key="sk-fake")
        with ld.cassette(path, "record"):
            live = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=USER).headers
        with ld.cassette(path, "replay"):
            played = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=USER).headers
        client.close()
    for name in ("x-ratelimit-remaining-tokens", "x-ratelimit-limit-tokens", "x-ratelimit-reset-tokens"):
        assert played[name] == live[name]


def test_retry_after_as_an_http_date(ld_on, llm_server):
    import email.utils
    import time

    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    body = {"error": {"message": "Rate limit reached", "type": "requests", "param": None, "code": "rate_limit_exceeded"}}
    llm_server.load([dict(_interaction("/v1/chat/completions", body, [("retry-after", when)]), status=429)])
    client = openai.OpenAI(base_url=llm_server.openai_base_url, api_key="sk-fake", max_retries=0)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    client.close()
    got = _stored()
    assert 25 <= got["retry_after_s"] <= 31  # seconds from the response's arrival to that date (1 s resolution)
    assert got["ratelimit_remaining_requests"] is None  # no rate-limit headers in this one


@pytest.mark.parametrize("text, seconds", [("1s", 1), ("6m0s", 360), ("120ms", 0.12), ("1h2m3.5s", 3723.5),
                                           ("17.28s", 17.28), ("0s", 0), ("2", 2), ("3µs", 3e-6), ("", None),
                                           ("soon", None), ("-1s", None), ("1.2.3s", None), ("5x", None)])
def test_reset_durations(text, seconds):
    got = duration_s(text.encode("utf-8"))
    assert got == pytest.approx(seconds) if seconds is not None else got is None
