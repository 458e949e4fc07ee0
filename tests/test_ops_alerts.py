"""ld.alert(consecutive_failures=N) and ld.alert(rate_limit_headroom=x): per provider and
model, call by call, recorded in the alerts table, handed to callbacks, armed again."""

from __future__ import annotations

import anthropic
import openai
import pytest

import llmdebug as ld
from llmdebug import budgets
from llmdebug.session import get_store
from llmdebug.tracing import Span, new_id

MSG = [{"role": "user", "content": "hello there"}]


@pytest.fixture(autouse=True)
def fresh_rules(monkeypatch):
    budgets.reset()
    monkeypatch.setattr(budgets, "_deliver_now", False)  # delivered below, on this thread
    yield
    budgets.reset()


@pytest.fixture
def clients(ld_on, llm_server):
    oai = openai.OpenAI(base_url=llm_server.openai_base_url, api_key="sk-fake", max_retries=0)
    ant = anthropic.Anthropic(base_url=llm_server.anthropic_base_url, api_key="sk-ant-fake", max_retries=0)
    yield oai, ant
    oai.close()
    ant.close()


def _chat(client, fault=None, server=None, model="gpt-4o-mini"):
    if fault:
        server.inject(fault, model=model)
    try:
        client.chat.completions.create(model=model, messages=MSG)
    except openai.OpenAIError:
        pass


def _message(client, fault=None, server=None):
    if fault:
        server.inject(fault, model="claude-3-5-haiku-latest")
    try:
        client.messages.create(model="claude-3-5-haiku-latest", max_tokens=20, messages=MSG)
    except anthropic.AnthropicError:
        pass


def _settle():
    ld.flush()
    budgets.wait_for_callbacks(10)


def test_consecutive_failures_per_provider_and_model(clients, llm_server):
    oai, ant = clients
    seen = []
    rule = ld.alert(consecutive_failures=3, callback=seen.append)
    _chat(oai, "500", llm_server)
    _message(ant)  # another model's success does not end gpt-4o-mini's streak
    _chat(oai, "429", llm_server)
    _settle()
    assert rule.fired == 0
    _chat(oai, "500", llm_server)  # the third in a row
    _settle()
    assert rule.fired == 1 and len(seen) == 1
    ev = seen[0]
    assert (ev["kind"], ev["value"], ev["threshold"], ev["provider"], ev["model"]) == (
        "consecutive_failures", 3.0, 3.0, "openai", "gpt-4o-mini")
    assert ev["span_id"] == ld.calls(model="gpt-4o-mini").iloc[-1]["id"]
    assert "3 calls in a row failed for openai gpt-4o-mini" in ev["message"] and "500" in ev["message"]
    _chat(oai, "500", llm_server)  # the same streak goes on: no second alert
    _settle()
    assert rule.fired == 1
    for _ in range(3):  # Anthropic's own streak (529 overloaded)
        _message(ant, "529", llm_server)
    _settle()
    assert rule.fired == 2 and seen[1]["provider"] == "anthropic" and "529" in seen[1]["message"]
    _chat(oai)  # a success arms it again for gpt-4o-mini
    for _ in range(3):
        _chat(oai, "500", llm_server)
    _settle()
    assert rule.fired == 3
    with pytest.warns(ld.LLMDebugAlert, match="calls in a row failed"):
        assert len(budgets.deliver()) == 3
    got = ld.alerts()
    assert list(got["kind"]) == ["consecutive_failures"] * 3 and list(got["value"]) == [3.0, 3.0, 3.0]
    assert repr(rule).startswith("<llmdebug rule 'consecutive_failures ≥ 3'")


def _call_with_room(store, model, remaining, limit=100, tokens=None):
    s = Span(id=new_id(), trace_id=new_id(), name="chat", kind="llm", provider="openai", model=model,
             status="ok", started_at=1.0, ratelimit_remaining_requests=remaining, ratelimit_limit_requests=limit)
    if tokens is not None:
        s.ratelimit_remaining_tokens, s.ratelimit_limit_tokens = tokens
    store.put(s)


def test_rate_limit_headroom_fires_below_the_share_left(ld_on):
    seen = []
    rule = ld.alert(rate_limit_headroom=0.1, callback=seen.append)
    store = get_store()
    _call_with_room(store, "m1", 50)
    store.put(Span(id=new_id(), trace_id="t", name="chat", kind="llm", model="m1", started_at=1.0))  # no headers
    _settle()
    assert rule.fired == 0
    _call_with_room(store, "m1", 9)  # 9 % of the requests left
    _call_with_room(store, "m1", 5)  # still under: the same episode
    _settle()
    assert rule.fired == 1 and seen[0]["value"] == pytest.approx(0.09) and seen[0]["model"] == "m1"
    assert "9 of 100 requests left" in seen[0]["message"]
    _call_with_room(store, "m2", 80, tokens=(500, 10_000))  # tokens are the tighter limit: 5 %
    _settle()
    assert rule.fired == 2 and "500 of 10,000 tokens left" in seen[1]["message"]
    _call_with_room(store, "m1", 100)  # the window reset: armed again
    _call_with_room(store, "m1", 1)
    _settle()
    assert rule.fired == 3
    assert list(ld.alerts()["kind"]) == ["rate_limit_headroom"] * 3
    with pytest.raises(ValueError, match="0 < rate_limit_headroom"):
        ld.alert(rate_limit_headroom=0)
    with pytest.raises(ValueError, match="whole number"):
        ld.alert(consecutive_failures=2.5)
    with pytest.raises(ValueError, match="exactly one"):
        ld.alert(consecutive_failures=2, rate_limit_headroom=0.5)


def test_rate_limit_headroom_from_the_servers_headers(clients, llm_server, monkeypatch):
    """The fake server's rate-limit headers (10 requests a window, a clock that stands still so
    the window never turns over mid-test) reach the alert through the real SDKs."""
    from llmdebug.testing.ratelimits import RateLimits

    monkeypatch.setattr(llm_server, "rate_limits", RateLimits(10, 1_000_000, 60.0, clock=lambda: 600.0))
    oai, ant = clients
    seen = []
    rule = ld.alert(rate_limit_headroom=0.25, callback=seen.append)
    for _ in range(7):  # 3 of 10 left: 30 %
        _chat(oai)
    _settle()
    assert rule.fired == 0 and ld.last().ratelimit_remaining_requests == 3
    _chat(oai)  # 2 left: 20 %
    _chat(oai)  # 1 left: the same episode
    _settle()
    assert rule.fired == 1 and seen[0]["value"] == pytest.approx(0.2) and seen[0]["model"] == "gpt-4o-mini"
    assert "2 of 10 requests left" in seen[0]["message"]
    for _ in range(8):  # Anthropic's own limits, counted apart
        _message(ant)
    _settle()
    assert rule.fired == 2 and seen[1]["provider"] == "anthropic" and "2 of 10 requests left" in seen[1]["message"]
    llm_server.rate_limits.reset()  # a new window: room again, the rule is armed again
    _chat(oai)
    for _ in range(7):
        _chat(oai)
    _settle()
    assert rule.fired == 3 and list(ld.alerts()["kind"]) == ["rate_limit_headroom"] * 3
