"""The fake server's rate limits: headers in each API's names and formats, counting down per
API and model within a window and starting again after it; limits it is given are
enforced with 429 and retry-after; simulated traffic uses its windows up in simulated time.
Windows run on a clock the tests move by hand, so nothing here depends on timing."""

from __future__ import annotations

import datetime as dt
import json
import math

import httpx
import pytest

import llmdebug as ld
from llmdebug.providers._ratelimits import duration_s
from llmdebug.testing import FakeLLMServer, simulate_traffic
from llmdebug.testing.ratelimits import RateLimits, go_duration

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")


class Clock:
    def __init__(self, t: float = 1_800_000_000.0):  # a window boundary for 60 s windows
        self.t = t

    def __call__(self) -> float:
        return self.t


def _post(srv, path: str, body: dict, **headers) -> httpx.Response:
    return httpx.post(srv.url + path, content=json.dumps(body).encode(), headers=headers, timeout=30)


CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 30}
MESSAGES = {"model": "claude-3-5-haiku-latest", "max_tokens": 25, "messages": [{"role": "user", "content": "hi"}]}


def _cost(body: dict) -> int:
    return sum(RateLimits.cost(body, json.dumps(body).encode()))


def test_openai_headers_count_down_and_reset():
    clock = Clock()
    limits = RateLimits(requests=5, tokens=1_000, window_s=60, enforce=False, clock=clock)
    with FakeLLMServer(rate_limits=limits) as srv:
        seen = []
        for step in (0, 10, 20):
            clock.t += step
            r = _post(srv, "/v1/chat/completions", CHAT)
            assert r.status_code == 200
            seen.append(r.headers)
        h = seen[-1]
        assert (h["x-ratelimit-limit-requests"], h["x-ratelimit-limit-tokens"]) == ("5", "1000")
        assert [int(x["x-ratelimit-remaining-requests"]) for x in seen] == [4, 3, 2]
        assert [int(x["x-ratelimit-remaining-tokens"]) for x in seen] == [1000 - k * _cost(CHAT) for k in (1, 2, 3)]
        assert [x["x-ratelimit-reset-requests"] for x in seen] == ["1m0s", "50s", "30s"]
        assert seen[0]["x-ratelimit-reset-tokens"] == "1m0s"
        # another model has its own window; the same model's starts again after 60 s
        other = _post(srv, "/v1/chat/completions", dict(CHAT, model="gpt-4o")).headers
        assert other["x-ratelimit-remaining-requests"] == "4"
        clock.t += 30
        again = _post(srv, "/v1/chat/completions", CHAT).headers
        assert again["x-ratelimit-remaining-requests"] == "4" and again["x-ratelimit-reset-requests"] == "1m0s"
        # never refused when not enforced: the counts stop at 0
        for _ in range(6):
            r = _post(srv, "/v1/chat/completions", CHAT)
        assert r.status_code == 200 and r.headers["x-ratelimit-remaining-requests"] == "0"


def test_anthropic_headers():
    clock = Clock(1_800_000_000.0 + 15)
    with FakeLLMServer(rate_limits=RateLimits(50, 40_000, 60, enforce=False, clock=clock)) as srv:
        h = _post(srv, "/v1/messages", MESSAGES, **{"anthropic-version": "2023-06-01"}).headers
    assert "x-ratelimit-remaining-requests" not in h
    reset = dt.datetime.fromtimestamp(1_800_000_060, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    inp, out = RateLimits.cost(MESSAGES, json.dumps(MESSAGES).encode())
    assert out == 25
    want = {"requests": (50, 49), "tokens": (40_000, 40_000 - inp - out), "input-tokens": (40_000, 40_000 - inp),
            "output-tokens": (40_000, 40_000 - out)}
    for name, (limit, left) in want.items():
        assert h[f"anthropic-ratelimit-{name}-limit"] == str(limit)
        assert h[f"anthropic-ratelimit-{name}-remaining"] == str(left)
        assert h[f"anthropic-ratelimit-{name}-reset"] == reset


def test_enforced_limits_refuse_with_retry_after_and_do_not_charge():
    clock = Clock(1_800_000_000.0 + 42.5)
    with FakeLLMServer(rate_limits=RateLimits(2, 10_000, 60, clock=clock)) as srv:
        assert [_post(srv, "/v1/chat/completions", CHAT).status_code for _ in range(2)] == [200, 200]
        refused = _post(srv, "/v1/chat/completions", CHAT)
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limit_exceeded"
        h = refused.headers
        assert (h["retry-after"], h["retry-after-ms"]) == ("18", "17500")
        assert h["x-ratelimit-remaining-requests"] == "0" and h["x-ratelimit-reset-requests"] == "17.5s"
        assert int(h["x-ratelimit-remaining-tokens"]) == 10_000 - 2 * _cost(CHAT)  # the refused one is not charged
        a = _post(srv, "/v1/messages", MESSAGES, **{"anthropic-version": "2023-06-01"})
        assert a.status_code == 200  # another API, another window
        # tokens: a request asking for more than what is left is refused too
        big = dict(CHAT, model="gpt-4o", max_tokens=20_000)
        r = _post(srv, "/v1/chat/completions", big)
        assert r.status_code == 429 and r.headers["x-ratelimit-remaining-requests"] == "2"
        clock.t += 17.5  # the next window
        assert _post(srv, "/v1/chat/completions", CHAT).status_code == 200
        # the SDKs read the refusal as theirs
        srv.rate_limits.requests = 1
        client = anthropic.Anthropic(base_url=srv.anthropic_base_url, api_key="sk-ant", max_retries=0)
        client.messages.create(**MESSAGES)
        with pytest.raises(anthropic.RateLimitError) as e:
            client.messages.create(**MESSAGES)
        assert e.value.response.headers["anthropic-ratelimit-requests-remaining"] == "0"
        assert e.value.response.headers["retry-after"] == "60"
        client.close()


def test_defaults_off_switch_and_what_sends_no_headers(llm_server):
    srv = llm_server  # the default server: reports only
    assert srv.rate_limits.enforce is False and srv.rate_limits.requests == 10_000
    r = _post(srv, "/v1/chat/completions", CHAT)
    assert r.headers["x-ratelimit-remaining-requests"] == "9999"
    srv.reset()  # a fresh window
    assert _post(srv, "/v1/chat/completions", CHAT).headers["x-ratelimit-remaining-requests"] == "9999"
    # an injected 429 keeps its own "nothing left"
    srv.inject("429")
    assert _post(srv, "/v1/chat/completions", CHAT).headers["x-ratelimit-remaining-requests"] == "0"
    # GET /models, Gemini and cassette replies carry none
    assert "x-ratelimit-limit-requests" not in httpx.get(srv.url + "/v1/models").headers
    g = _post(srv, "/v1beta/models/gemini-2.0-flash:generateContent", {"contents": [{"parts": [{"text": "hi"}]}]})
    assert g.status_code == 200 and not any("ratelimit" in k for k in g.headers)
    srv.load([{"method": "POST", "path": "/v1/chat/completions", "status": 200, "body": b"{}",
               "headers": [("Content-Type", "application/json")]}])
    assert not any("ratelimit" in k for k in _post(srv, "/v1/chat/completions", CHAT).headers)
    with FakeLLMServer(rate_limits=None) as off:
        assert not any("ratelimit" in k for k in _post(off, "/v1/chat/completions", CHAT).headers)
    with pytest.raises(TypeError):
        FakeLLMServer(rate_limits=60)
    with pytest.raises(ValueError):
        FakeLLMServer(rate_limits={"requests": 0})


def test_a_simulated_clock_jumps_instead_of_the_sdk_waiting():
    class SimClock(Clock):
        def advance(self, seconds):
            self.t += seconds

    clock = SimClock(1_800_000_000.0 + 20)
    with FakeLLMServer(rate_limits=RateLimits(1, 10_000, 60, clock=clock)) as srv:
        assert _post(srv, "/v1/chat/completions", CHAT).status_code == 200
        refused = _post(srv, "/v1/chat/completions", CHAT)
        assert refused.status_code == 429
        assert (refused.headers["retry-after"], refused.headers["retry-after-ms"]) == ("40", "1")
        assert clock.t == 1_800_000_060.0  # the client "waited" for the window's end
        assert _post(srv, "/v1/chat/completions", CHAT).status_code == 200


@pytest.mark.parametrize("seconds, text", [(0.12, "120ms"), (0.0, "0ms"), (1, "1s"), (17.28, "17.28s"),
                                           (60, "1m0s"), (360, "6m0s"), (3723.5, "1h2m3.5s")])
def test_go_durations_read_back(seconds, text):
    assert go_duration(seconds) == text
    assert math.isclose(duration_s(text), seconds)


def test_simulated_traffic_uses_its_windows_up_before_the_429s(ld_on, llm_openai_client):
    # 2 requests a minute per model: the nightly eval's burst and the afternoon incident use
    # a window up; the server then refuses, the SDK retries in the next (simulated) minute
    with FakeLLMServer(rate_limits={"requests": 2, "tokens": 4_000, "window_s": 60}) as srv:
        client = openai.OpenAI(base_url=srv.openai_base_url, api_key="sk-fake")
        summary = simulate_traffic(client, server=srv, days=1, calls=150, seed=2,
                                   end=dt.datetime(2026, 3, 4, 18, tzinfo=dt.timezone.utc))
        client.close()
        assert srv.rate_limits.clock is not None and srv.rate_limits.clock.__name__ == "time"  # given back
    calls = ld.calls().sort_values("started_at")
    assert len(calls) == summary["calls"]
    assert (calls["ratelimit_limit_requests"] == 2).all()
    limited = calls[calls["rate_limit_hits"] > 0]
    assert len(limited) >= 3 and calls["rate_limit_hits"].sum() == summary["rate_limit_hits"]
    assert (calls["status"] == "error").sum() == summary["errors"] == summary["failed_429"]
    # the headroom fell before each 429: the call before it, for the same model, left nothing
    for _, row in limited.iterrows():
        before = calls[(calls["model"] == row["model"]) & (calls["started_at"] < row["started_at"])]
        assert not before.empty and before.iloc[-1]["ratelimit_remaining_requests"] == 0


def test_rate_limits_set_on_a_running_server_and_from_the_command_line(llm_server):
    import argparse

    from llmdebug.testing.__main__ import _rate_limits

    llm_server.rate_limits = {"requests": 1, "tokens": 50_000, "window_s": 3600}
    assert isinstance(llm_server.rate_limits, RateLimits) and llm_server.rate_limits.enforce
    assert [_post(llm_server, "/v1/chat/completions", CHAT).status_code for _ in range(2)] == [200, 429]
    llm_server.rate_limits = None
    assert "x-ratelimit-limit-requests" not in _post(llm_server, "/v1/chat/completions", CHAT).headers
    parser = argparse.ArgumentParser()
    assert _rate_limits(parser, None) is True and _rate_limits(parser, "off") is None
    got = _rate_limits(parser, "60,40000")
    assert (got.requests, got.tokens, got.window_s, got.enforce) == (60, 40_000, 60.0, True)
    assert _rate_limits(parser, "5,100,1.5").window_s == 1.5
    for bad in ("5", "5,x", "0,10", "1,2,3,4"):
        with pytest.raises(SystemExit):
            _rate_limits(parser, bad)
