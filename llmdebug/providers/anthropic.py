"""Anthropic: the Messages API through the ``anthropic`` SDK (``messages.create``, sync and
async, ``stream=True``, the ``messages.stream()`` helpers, ``beta.messages.create``).
Everything llmdebug knows about this API is here."""

from __future__ import annotations

import json
import os
from typing import Any, Callable

from .._json import loads
from ..pricing import PriceKey
from . import _ratelimits, _usage
from .base import (Endpoint, ProviderError, Reading, Target, Wire, captured_base_url, default_price_key,
                   error_of, sdk_method)

NAME = "anthropic"
SDK = "anthropic"
ALIASES = ()
OTEL_NAMES = ("anthropic",)  # gen_ai.provider.name values meaning this provider
KEY_ENV = "ANTHROPIC_API_KEY"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"

MESSAGES = Endpoint(NAME, "messages", "anthropic")
_M = "anthropic.resources.messages.messages"
_B = "anthropic.resources.beta.messages.messages"

TARGETS = [
    Target(_M, "Messages.create", MESSAGES),
    Target(_M, "AsyncMessages.create", MESSAGES, is_async=True),
    # stream() builds a manager that sends the request on __enter__.
    Target(_M, "Messages.stream", MESSAGES, deferred="_MessageStreamManager__api_request"),
    Target(_M, "AsyncMessages.stream", MESSAGES, is_async=True, deferred="_AsyncMessageStreamManager__api_request"),
    Target(_B, "Messages.create", MESSAGES),
    Target(_B, "AsyncMessages.create", MESSAGES, is_async=True),
]


def usage(block: Any) -> dict:
    """``input_tokens`` (uncached only: cache reads and writes are added), ``output_tokens``,
    ``cache_read_input_tokens``, ``cache_creation_input_tokens`` (or its per-TTL breakdown)."""
    out = _usage.empty()
    if not isinstance(block, dict):
        return out
    uncached = _usage.get(block, "input_tokens")
    cache_read = _usage.get(block, "cache_read_input_tokens")
    cache_write = _usage.get(block, "cache_creation_input_tokens")
    if cache_write is None:  # newer responses may carry only the per-TTL breakdown
        cc = _usage.sub(block, "cache_creation")
        cache_write = _usage.add(_usage.get(cc, "ephemeral_5m_input_tokens"), _usage.get(cc, "ephemeral_1h_input_tokens"))
    # input_tokens is required for a meaningful total: with only cache counters we
    # would under-report, so leave it None in that case.
    inp = _usage.add(uncached, cache_read, cache_write) if uncached is not None else None
    outp = _usage.get(block, "output_tokens")
    out.update(input_tokens=inp, output_tokens=outp, cached_tokens=cache_read, cache_write_tokens=cache_write,
               reasoning_tokens=_usage.get(_usage.sub(block, "output_tokens_details"), "thinking_tokens"),
               total_tokens=_usage.total(inp, outp, None))
    return out


def _assemble_anthropic(events) -> tuple[dict, float | None]:
    msg: dict = {"type": "message", "role": "assistant", "content": []}
    blocks: dict[int, dict] = {}
    partial: dict[int, str] = {}
    first = None
    for t, name, d in events:
        if not isinstance(d, dict):
            continue
        kind = d.get("type") or name
        if kind == "message_start":
            msg.update({k: v for k, v in (d.get("message") or {}).items() if k != "content"})
        elif kind == "content_block_start":
            blocks[d.get("index", len(blocks))] = dict(d.get("content_block") or {})
        elif kind == "content_block_delta":
            first = first or t
            i, delta = d.get("index", 0), d.get("delta") or {}
            b = blocks.setdefault(i, {"type": "text", "text": ""})
            dt = delta.get("type")
            if dt == "text_delta":
                b["text"] = (b.get("text") or "") + delta.get("text", "")
            elif dt == "input_json_delta":
                partial[i] = partial.get(i, "") + delta.get("partial_json", "")
            elif dt == "thinking_delta":
                b["thinking"] = (b.get("thinking") or "") + delta.get("thinking", "")
        elif kind == "message_delta":
            msg.update(d.get("delta") or {})
            if d.get("usage"):
                usage = dict(msg.get("usage") or {})
                usage.update({k: v for k, v in d["usage"].items() if v is not None})
                msg["usage"] = usage
        elif kind == "error":
            msg["error"] = d.get("error") or d
    for i, js in partial.items():
        try:
            parsed = loads(js) if js else None
        except ValueError:
            parsed = None
        blocks[i]["input"] = parsed if parsed is not None else js
    msg["content"] = [blocks[i] for i in sorted(blocks)]
    return msg, first


def _anthropic_output(resp: dict) -> tuple[str | None, list | None]:
    texts, calls = [], []
    for b in resp.get("content") or ():
        if not isinstance(b, dict):
            continue
        if b.get("type") == "text":
            texts.append(b.get("text") or "")
        elif b.get("type") in ("tool_use", "server_tool_use"):
            calls.append({"id": b.get("id"), "name": b.get("name"), "arguments": json.dumps(b.get("input"))})
    return ("".join(texts) if texts else None), (calls or None)



def _message_events(resp: dict) -> list[bytes]:
    """A message as its stream: message_start, each block whole, message_delta, message_stop."""
    def event(name: str, data: dict) -> bytes:
        return f"event: {name}\ndata: {json.dumps(dict(data, type=name))}\n\n".encode()

    usage = dict(resp.get("usage") or {})
    start = {k: v for k, v in resp.items() if k not in ("content", "stop_reason", "stop_sequence")}
    out = [event("message_start", {"message": dict(start, content=[], stop_reason=None, stop_sequence=None,
                                                   usage=dict(usage, output_tokens=0))})]
    for i, block in enumerate(resp.get("content") or ()):
        if block.get("type") in ("tool_use", "server_tool_use"):
            out.append(event("content_block_start", {"index": i, "content_block": dict(block, input={})}))
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block.get("input") or {})}
        elif block.get("type") == "text":
            out.append(event("content_block_start", {"index": i, "content_block": dict(block, text="")}))
            delta = {"type": "text_delta", "text": block.get("text") or ""}
        else:
            out.append(event("content_block_start", {"index": i, "content_block": block}))
            delta = None
        if delta is not None:
            out.append(event("content_block_delta", {"index": i, "delta": delta}))
        out.append(event("content_block_stop", {"index": i}))
    out.append(event("message_delta", {"delta": {"stop_reason": resp.get("stop_reason"),
                                                 "stop_sequence": resp.get("stop_sequence")},
                                       "usage": {"output_tokens": usage.get("output_tokens", 0)}}))
    return out + [event("message_stop", {})]


class MessagesWire(Wire):
    id = "anthropic"
    conversational = True
    param_names = {"max_tokens_to_sample": "max_tokens", "stop_sequences": "stop", "output_format": "response_format"}

    def messages(self, request: Any) -> Any:
        if not isinstance(request, dict):
            return None
        head = [{"role": "system", "content": request["system"]}] if request.get("system") else []
        return head + list(request.get("messages") or [])

    def set_messages(self, request: dict, conversation: list) -> None:
        system = [m for m in conversation if isinstance(m, dict) and m.get("role") == "system"]
        request.pop("system", None)
        if system and system[0].get("content"):
            request["system"] = system[0]["content"]
        request["messages"] = [m for m in conversation if not (isinstance(m, dict) and m.get("role") == "system")]

    def assemble(self, events: list) -> tuple[dict, float | None]:
        return _assemble_anthropic(events)

    def events(self, response: dict) -> list[bytes] | None:
        return _message_events(response)

    def usage(self, block: Any) -> dict:
        return usage(block)

    def read(self, response: dict) -> Reading:
        text, calls = _anthropic_output(response)
        return Reading(response.get("model"), usage(response.get("usage")), text, calls, error_of(response))


WIRES = {"anthropic": MessagesWire()}
ENDPOINT_WIRES = {"messages": "anthropic"}
PATHS = (("/messages", "anthropic"),)


def _limit(name: str) -> _ratelimits.Limit:
    head = f"anthropic-ratelimit-{name}-".encode()
    return _ratelimits.Limit(head + b"limit", head + b"remaining", head + b"reset")


# Rate-limit headers; resets are RFC 3339 times. Tokens: the most restrictive limit
# (tokens-*) when sent, else the input tokens limit.
RATE_LIMITS = _ratelimits.Family(requests=(_limit("requests"),), tokens=(_limit("tokens"), _limit("input-tokens")),
                                 reset=_ratelimits.seconds_until)
# Response headers kept in each HTTP attempt's event.
EVENT_HEADERS = (b"request-id", b"anthropic-ratelimit-requests-remaining")


def adjust(span: Any) -> None:
    pass


def price_key(provider: str | None, model: str) -> PriceKey:
    return default_price_key(provider, model)


def replay_callable(span: Any, client: Any = None, base_url: str | None = None) -> Callable:
    """``client.messages.create``; without a client, one for ``base_url`` (default: where
    the call went) with the environment's key."""
    if span.endpoint != "messages":
        raise ProviderError(f"replay of anthropic {span.endpoint} calls is not supported")
    if client is None:
        if base_url is None and (base_url := captured_base_url(span)):
            base_url = base_url.removesuffix("/v1")  # stored as ".../v1" (the path less /messages); the SDK adds it
        if not os.environ.get(KEY_ENV):
            raise ProviderError(f"{KEY_ENV} is not set: set it, or pass client= (an anthropic.Anthropic with a key) "
                                f"to replay this anthropic call to {base_url or 'the API'}")
        import anthropic

        client = anthropic.Anthropic(base_url=base_url) if base_url else anthropic.Anthropic()
    return sdk_method(client, ("messages", "create"))


def sync_client(client: Any) -> Any:
    """A sync client with an async client's credentials and base URL (replays run synchronously)."""
    import anthropic

    return anthropic.Anthropic(api_key=client.api_key, auth_token=client.auth_token, base_url=client.base_url,
                               max_retries=client.max_retries, timeout=client.timeout)


def _arguments(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) and text else (text or {})
    except ValueError:
        return {"arguments": text}


def request_from_chat(model: Any, messages: list[dict], tools: list, params: dict) -> tuple[str, dict]:
    """The request this API would have been sent for a conversation recorded elsewhere
    (OpenTelemetry messages: ``{"role", "content", "tool_calls": [{"id", "name", "arguments"}],
    "tool_call_id", "name"}``), and its endpoint."""
    system = "\n".join(str(m.get("content") or "") for m in messages if m["role"] == "system") or None
    wire = []
    for m in messages:
        if m["role"] == "system":
            continue
        if m["role"] == "tool":
            wire.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": m.get("tool_call_id"),
                                                      "content": m.get("content") or ""}]})
            continue
        blocks: list[dict] = []
        if m.get("content"):
            blocks.append({"type": "text", "text": str(m["content"])})
        for c in m.get("tool_calls") or ():
            blocks.append({"type": "tool_use", "id": c["id"], "name": c["name"], "input": _arguments(c["arguments"])})
        wire.append({"role": m["role"], "content": blocks if m.get("tool_calls") else (m.get("content") or "")})
    params = dict(params)
    params.setdefault("max_tokens", 1024)
    params.pop("n", None)
    req: dict[str, Any] = {"model": model, "messages": wire, **params}
    if system:
        req["system"] = system
    if tools:
        req["tools"] = [{"name": (t.get("function") or t).get("name"),
                         "description": (t.get("function") or t).get("description") or "",
                         "input_schema": (t.get("function") or t).get("parameters") or {"type": "object"}}
                        for t in tools]
    return "messages", req
