"""Recorded real API exchanges (../shared/fixtures) through the real SDKs with llmdebug on.

For every OpenAI(-compatible) and Anthropic cassette: the SDK's results (objects,
stream events, exceptions) are the same with and without llmdebug, and each stored
record carries the recorded model, token usage and HTTP status.
"""

from __future__ import annotations

import json

import pytest
from test_cassette_replay_server import (  # shared cassette -> SDK mapping
    FIXTURES,
    _client_and_endpoints,
    _sdk_params,
)

import llmdebug as ld
from llmdebug import providers
from llmdebug.capture.extract import parse_sse
from llmdebug.providers import normalize_usage
from llmdebug.testing import load_cassette
from llmdebug.testing.cassettes import decoded_body

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")


def _dump(x):
    return x.model_dump() if hasattr(x, "model_dump") else repr(x)


def _replay(entry, llm_server):
    """Run every interaction through the SDK; return comparable outcomes."""
    import inspect

    interactions = load_cassette(FIXTURES / entry["file"])
    llm_server.load(interactions)
    out = []
    for it in interactions:
        client, endpoints = _client_and_endpoints(entry, it, llm_server.url)
        method = next(get(client) for suffix, get in endpoints if it["path"].endswith(suffix))
        body = json.loads(it["request_body"])
        params = inspect.signature(method).parameters
        known = {k: v for k, v in body.items() if k in params}
        extra = {k: v for k, v in body.items() if k not in params}
        try:
            result = method(**known, **({"extra_body": extra} if extra else {}))
            out.append([_dump(e) for e in result] if body.get("stream") else _dump(result))
        except (openai.APIError, anthropic.APIError) as e:
            out.append((type(e).__name__, str(e), getattr(e, "status_code", None)))
        finally:
            client.close()
    return interactions, out


def _recorded_usage(it, flavor):
    """Model and usage as recorded, read independently of llmdebug's stream assembly."""
    body = decoded_body(it)
    if not body:
        return None, None
    if body.lstrip()[:1] == b"{":
        data = json.loads(body)
        return data.get("model"), data.get("usage")
    model, usage = None, None
    for _, _, d in parse_sse([(0.0, body)]):
        if not isinstance(d, dict):
            continue
        if flavor == "anthropic":
            if d.get("type") == "message_start":
                model = d["message"].get("model")
                usage = dict(d["message"].get("usage") or {})
            elif d.get("type") == "message_delta" and d.get("usage"):
                usage = {**(usage or {}), **{k: v for k, v in d["usage"].items() if v is not None}}
        elif flavor == "openai-responses":
            if d.get("type") == "response.completed":
                model, usage = d["response"].get("model"), d["response"].get("usage")
        else:
            model = d.get("model") or model
            usage = d.get("usage") or usage
    return model, usage


@pytest.mark.parametrize("entry", _sdk_params())
def test_cassette_captured_faithfully(entry, llm_server, trace_db):
    _, bare = _replay(entry, llm_server)
    ld.init(trace_db)
    interactions, captured = _replay(entry, llm_server)
    assert captured == bare, "llmdebug changed what the SDK returned"

    calls = ld.calls()
    assert len(calls) == len(interactions)
    for it, span_id in zip(interactions, calls["id"]):
        s = ld.get(span_id)
        wire, _ = providers.wire_for_path(it["path"])
        flavor = wire.id if wire else None
        assert s.http_status == it["status"], it["uri"]
        if it["status"] >= 400:
            assert s.status == "error", it["uri"]
            continue
        model, usage = _recorded_usage(it, flavor)
        if model:
            assert s.model == model
        if usage and flavor in ("openai-chat", "openai-responses", "openai-embeddings", "anthropic"):
            want = normalize_usage(usage, flavor)
            for k in ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens"):
                assert getattr(s, k) == want[k], (k, it["uri"])
        body = decoded_body(it) or b""
        in_stream_error = body.lstrip()[:1] != b"{" and any(
            isinstance(d, dict) and (d.get("error") or d.get("type") == "error") for _, _, d in parse_sse([(0.0, body)])
        )
        assert s.status == ("error" if in_stream_error else "ok"), it["uri"]
