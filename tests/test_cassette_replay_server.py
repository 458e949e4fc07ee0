"""Replay every recorded cassette in shared/fixtures through the fake server.

First with raw httpx (status and decoded body must match the recording), then,
for OpenAI(-compatible) and Anthropic cassettes, through the real SDK clients.
Fixtures live beside the repo (``../shared/fixtures``); override the location
with ``LLMDEBUG_FIXTURES``. Everything is skipped cleanly if they are absent.
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs

import httpx
import pytest

from llmdebug.testing import FakeLLMServer, load_cassette
from llmdebug.testing.cassettes import decoded_body

FIXTURES = Path(
    os.environ.get("LLMDEBUG_FIXTURES") or Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
)
# Providers whose SDK we drive; the OpenAI-compatible ones go through openai.OpenAI.
OPENAI_COMPATIBLE = {"OpenAI", "Azure OpenAI", "DeepSeek (OpenAI-compatible)", "Groq", "OpenRouter"}
SDK_PROVIDERS = OPENAI_COMPATIBLE | {"Anthropic"}
# Path suffix -> how to call it, in match order ("/chat/completions" before "/completions").
OPENAI_ENDPOINTS: list[tuple[str, Callable[[Any], Any]]] = [
    ("/chat/completions", lambda c: c.chat.completions.create),
    ("/responses", lambda c: c.responses.create),
    ("/embeddings", lambda c: c.embeddings.create),
    ("/images/generations", lambda c: c.images.generate),
    ("/completions", lambda c: c.completions.create),
]
ANTHROPIC_ENDPOINTS: list[tuple[str, Callable[[Any], Any]]] = [
    ("/v1/messages", lambda c: c.messages.create),
    ("/v1/complete", lambda c: c.completions.create),
]


def _entries() -> list[dict[str, Any]]:
    index = FIXTURES / "index.json"
    if not index.is_file():
        return []
    return [e for e in json.loads(index.read_text()) if e.get("kind") == "cassette"]


def _params(entries: list[dict[str, Any]]) -> list[Any]:
    if not entries:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"fixtures not found at {FIXTURES}"))]
    return [pytest.param(e, id="/".join(e["file"].split("/")[-2:])) for e in entries]


ENTRIES = _entries()


@pytest.mark.parametrize("entry", _params(ENTRIES))
def test_raw_replay_matches_recording(entry, llm_server):
    interactions = load_cassette(FIXTURES / entry["file"])
    assert [i["status"] for i in interactions] == entry["status_codes"]
    llm_server.load(interactions)
    with httpx.Client(base_url=llm_server.url, timeout=10) as client:
        for it in interactions:
            target = it["path"] + ("?" + it["query"] if it["query"] else "")
            body = it["request_body"].encode() if it["request_body"] is not None else None
            r = client.request(it["method"], target, content=body)
            assert r.status_code == it["status"], it["uri"]
            assert r.content == decoded_body(it), it["uri"]
    assert llm_server.unmatched == [] and llm_server.remaining == []


def test_unmatched_request_gets_418(llm_server):
    llm_server.load([])
    r = httpx.post(llm_server.url + "/v1/chat/completions", json={"model": "m"})
    assert r.status_code == 418 and "POST /v1/chat/completions" in r.json()["error"]["message"]
    assert llm_server.unmatched[0]["path"] == "/v1/chat/completions"


@pytest.mark.skipif(not ENTRIES, reason=f"fixtures not found at {FIXTURES}")
def test_constructor_cassette_and_swap():
    openai = pytest.importorskip("openai")
    path = FIXTURES / next(e["file"] for e in ENTRIES if e["file"].endswith("test_chat_completion_with_content.yaml"))
    with FakeLLMServer(cassette=path) as srv:
        client = openai.OpenAI(base_url=srv.openai_base_url, api_key="x", max_retries=0)
        body = json.loads(load_cassette(path)[0]["request_body"])
        assert client.chat.completions.create(**body).choices[0].message.content
        with pytest.raises(openai.APIStatusError) as exc:  # cassette used up -> 418
            client.chat.completions.create(**body)
        assert exc.value.status_code == 418 and len(srv.unmatched) == 1
        srv.load(None)  # back to synthesized answers on the same running server
        assert client.chat.completions.create(**body).id.startswith("chatcmpl-")
        client.close()


def test_chunked_request_body(llm_server):
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "chunked hello"}]}).encode()
    r = httpx.post(llm_server.url + "/v1/chat/completions", content=iter([body[:10], body[10:]]))
    assert r.status_code == 200 and "chunked hello" in r.json()["choices"][0]["message"]["content"]


# ---------------------------------------------------------------- through the SDKs


def _call(fn: Callable[..., Any], body: dict[str, Any]) -> Any:
    """Call an SDK method with a recorded body; keys it doesn't know go in extra_body."""
    params = inspect.signature(fn).parameters
    known = {k: v for k, v in body.items() if k in params}
    extra = {k: v for k, v in body.items() if k not in params}
    result = fn(**known, **({"extra_body": extra} if extra else {}))
    if body.get("stream"):
        for _ in result:  # consume the whole stream so every event is parsed
            pass
    return result


def _client_and_endpoints(entry: dict[str, Any], it: dict[str, Any], url: str) -> tuple[Any, Any]:
    provider = entry["providers"][0]
    if provider == "Anthropic":
        anthropic = pytest.importorskip("anthropic")
        return anthropic.Anthropic(base_url=url, api_key="x", max_retries=0), ANTHROPIC_ENDPOINTS
    openai = pytest.importorskip("openai")
    if provider == "Azure OpenAI":
        version = parse_qs(it["query"]).get("api-version", ["2024-02-01"])[0]
        # The deployment comes from the body's model, exactly as the SDK builds the URL.
        return openai.AzureOpenAI(azure_endpoint=url, api_version=version, api_key="x", max_retries=0), OPENAI_ENDPOINTS
    # OpenAI-compatible: base URL = recorded path up to the endpoint (/v1, /beta, /openai/v1, /api/v1).
    for suffix, _ in OPENAI_ENDPOINTS:
        if it["path"].endswith(suffix):
            base = url + it["path"][: -len(suffix)]
            return openai.OpenAI(base_url=base, api_key="x", max_retries=0), OPENAI_ENDPOINTS
    return None, []


def _sdk_params() -> list[Any]:
    entries = [e for e in ENTRIES if e["providers"][0] in SDK_PROVIDERS]
    params = _params(entries)
    for i, entry in enumerate(entries):
        if "/v1/complete" in entry["endpoints"]:
            reason = "anthropic SDK 2.x removed the legacy Text Completions client (/v1/complete); raw replay covers it"
            params[i] = pytest.param(entry, id=params[i].id, marks=pytest.mark.skip(reason=reason))
    return params


@pytest.mark.parametrize("entry", _sdk_params())
def test_sdk_replay(entry, llm_server):
    openai = pytest.importorskip("openai")
    anthropic = pytest.importorskip("anthropic")
    interactions = load_cassette(FIXTURES / entry["file"])
    llm_server.load(interactions)
    for it in interactions:
        client, endpoints = _client_and_endpoints(entry, it, llm_server.url)
        method = next((get(client) for suffix, get in endpoints if it["path"].endswith(suffix)), None)
        assert method is not None and it["request_body"], f"no SDK mapping for {it['method']} {it['path']}"
        try:
            result = _call(method, json.loads(it["request_body"]))
        except (openai.APIStatusError, anthropic.APIStatusError) as exc:
            assert exc.status_code == it["status"], it["uri"]
        except (openai.APIError, anthropic.APIError):
            # A 200 stream whose recorded SSE carries an error event (OpenRouter's
            # "Token limit reached"): the SDK raises a plain APIError mid-stream, as live.
            assert it["status"] == 200 and b'"error"' in decoded_body(it), it["uri"]
        else:
            assert it["status"] < 400 and result is not None, it["uri"]
        finally:
            client.close()
    assert llm_server.unmatched == [] and llm_server.remaining == []
