"""Turn what a call left behind (HTTP bodies, stream bytes, SDK objects) into span fields.

Runs on the writer thread, never on the user's. Works on plain JSON dicts in each
provider's wire format, so the same code reads live calls and recorded cassettes.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from datetime import datetime, timezone
from itertools import accumulate
from typing import Any

from .. import pricing
from .._json import loads
from ..redaction import redact_body, redact_kwargs, redact_url
from ..wire import messages_of
from .usage import normalize_usage

_PATH_FLAVORS = (
    ("/chat/completions", "openai-chat"),
    ("/responses", "openai-responses"),
    ("/embeddings", "openai-embeddings"),
    ("/messages", "anthropic"),
    ("/completions", "openai-completions"),
    ("/images/generations", "openai-images"),
)


def flavor_for_path(path: str) -> tuple[str | None, str]:
    """(flavor, base path) from an HTTP path such as ``/v1/chat/completions``."""
    for suffix, flavor in _PATH_FLAVORS:
        if path.endswith(suffix):
            return flavor, path[: -len(suffix)]
    return None, path


def _loads(data: bytes | str | None) -> Any:
    if not data:
        return None
    try:
        return loads(data)
    except (ValueError, UnicodeDecodeError):
        return None


# -- server-sent events ------------------------------------------------------------------
def parse_sse(chunks: list[tuple[float, bytes]]) -> list[tuple[float, str | None, Any]]:
    """(arrival time, event name, parsed data) for each complete SSE event.

    Streams run to hundreds of events, so this works on the joined bytes and decodes
    every event's JSON in one call; each event is stamped with the arrival time of
    the chunk that completed it.
    """
    parts = [c if type(c) is bytes else bytes(c) for _, c in chunks]
    ends = list(accumulate(map(len, parts)))
    raw = b"".join(parts)
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n")  # offsets shift slightly: only timing, never content
    stops, names, datas = [], [], []
    stop = -2
    for block in raw.split(b"\n\n"):
        stop += len(block) + 2
        if block[:6] == b"data: " and b"\n" not in block:
            name, data = None, block[6:]  # the common one-line event
        else:
            name, lines = None, []
            for line in block.split(b"\n"):
                field, _, value = line.partition(b":")
                if field == b"event":
                    name = value.strip()
                elif field == b"data":
                    lines.append(value[1:] if value[:1] == b" " else value)
            if not lines:
                continue
            data = b"\n".join(lines)
        if data == b"[DONE]" or data.strip() == b"[DONE]":
            continue
        stops.append(stop)
        names.append(name.decode("utf-8", "replace") if name else None)
        datas.append(data)
    if not datas:
        return []
    try:
        values = loads(b"[" + b",".join(datas) + b"]")
        if len(values) != len(datas):
            raise ValueError("an event held more than one JSON value")
    except ValueError:
        values = []
        for d in datas:
            v = _loads(d)
            values.append(d.decode("utf-8", "replace") if v is None else v)
    last = len(ends) - 1
    times = [chunks[min(bisect_left(ends, s), last)][0] for s in stops]
    return list(zip(times, names, values))


_CHAT_META = ("id", "model", "created", "system_fingerprint", "service_tier")


def _assemble_chat(events) -> tuple[dict, float | None]:
    resp: dict = {"object": "chat.completion", "choices": []}
    texts: dict[int, list] = {}
    choices: dict[int, dict] = {}
    first = None
    dicts = [e for e in events if type(e[2]) is dict]
    for _, _, d in dicts[:1] + dicts[-1:]:  # the same in every chunk: read the ends only
        for k in _CHAT_META:
            if d.get(k) is not None:
                resp[k] = d[k]
    for t, _, d in dicts:
        if "error" in d:
            resp["error"] = d["error"]
        if d.get("usage"):
            resp["usage"] = d["usage"]
        for ch in d.get("choices") or ():
            idx = ch.get("index", 0)
            c = choices.get(idx)
            if c is None:
                c = choices[idx] = {"index": idx, "message": {"role": "assistant", "content": None}}
                texts[idx] = []
            delta = ch.get("delta")
            if delta:
                content = delta.get("content")
                if content:
                    texts[idx].append(content)
                    if first is None:
                        first = t
                if "tool_calls" in delta or "refusal" in delta:
                    first = _rare_delta(c["message"], delta, t, first)
            if ch.get("finish_reason"):
                c["finish_reason"] = ch["finish_reason"]
    for idx, c in choices.items():
        if texts[idx]:
            c["message"]["content"] = "".join(texts[idx])
    resp["choices"] = [choices[i] for i in sorted(choices)]
    return resp, first


def _rare_delta(msg: dict, delta: dict, t: float, first: float | None) -> float | None:
    """Refusals and tool-call fragments of a chat stream delta."""
    if delta.get("refusal"):
        msg["refusal"] = (msg.get("refusal") or "") + delta["refusal"]
        first = first or t
    for tc in delta.get("tool_calls") or ():
        first = first or t
        calls = msg.setdefault("tool_calls", [])
        i = tc.get("index", len(calls))
        while len(calls) <= i:
            calls.append({"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
        slot = calls[i]
        if tc.get("id"):
            slot["id"] = tc["id"]
        fn = tc.get("function") or {}
        slot["function"]["name"] += fn.get("name") or ""
        slot["function"]["arguments"] += fn.get("arguments") or ""
    return first


def _assemble_responses(events) -> tuple[dict, float | None]:
    final, text, first = None, [], None
    for t, name, d in events:
        if not isinstance(d, dict):
            continue
        kind = d.get("type") or name or ""
        if kind in ("response.output_text.delta", "response.function_call_arguments.delta", "response.refusal.delta"):
            first = first or t
            if kind == "response.output_text.delta":
                text.append(d.get("delta") or "")
        elif kind in ("response.created", "response.in_progress") and final is None:
            final = d.get("response")
        elif kind in ("response.completed", "response.failed", "response.incomplete"):
            final = d.get("response")
        elif kind == "error" or "error" in d and kind not in ("response.failed",):
            final = dict(final or {}, error=d.get("error") or d)
    resp = dict(final or {"object": "response"})
    if not resp.get("output") and text:
        resp["output"] = [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "".join(text)}]}]
    return resp, first


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
        parsed = _loads(js)
        blocks[i]["input"] = parsed if parsed is not None else js
    msg["content"] = [blocks[i] for i in sorted(blocks)]
    return msg, first


_ASSEMBLERS = {
    "openai-chat": _assemble_chat,
    "openai-completions": _assemble_chat,
    "openai-responses": _assemble_responses,
    "anthropic": _assemble_anthropic,
}


# -- reading a response in each wire format ---------------------------------------------
def _chat_output(resp: dict) -> tuple[str | None, list | None]:
    texts, calls = [], []
    for ch in resp.get("choices") or ():
        if not isinstance(ch, dict):
            continue
        m = ch.get("message") or {}
        if "text" in ch and not m:
            texts.append(ch.get("text") or "")  # legacy completions
        if m.get("content"):
            texts.append(m["content"] if isinstance(m["content"], str) else json.dumps(m["content"]))
        elif m.get("refusal"):
            texts.append(m["refusal"])
        for tc in m.get("tool_calls") or ():
            fn = tc.get("function") or {}
            calls.append({"id": tc.get("id"), "name": fn.get("name"), "arguments": fn.get("arguments")})
        if m.get("function_call"):
            fc = m["function_call"]
            calls.append({"id": None, "name": fc.get("name"), "arguments": fc.get("arguments")})
    return ("\n\n".join(texts) if texts else None), (calls or None)


def _responses_output(resp: dict) -> tuple[str | None, list | None]:
    texts, calls = [], []
    for item in resp.get("output") or ():
        if not isinstance(item, dict):
            continue
        if item.get("type") == "message":
            for part in item.get("content") or ():
                if isinstance(part, dict) and part.get("type") in ("output_text", "refusal"):
                    texts.append(part.get("text") or part.get("refusal") or "")
        elif item.get("type") == "function_call":
            calls.append({"id": item.get("call_id"), "name": item.get("name"), "arguments": item.get("arguments")})
        elif item.get("type", "").endswith("_call"):
            calls.append({"id": item.get("id"), "name": item.get("type"), "arguments": item.get("arguments") or item.get("action")})
    return ("".join(texts) if texts else None), (calls or None)


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


def _error_of(resp: Any) -> tuple[str | None, str | None]:
    if not isinstance(resp, dict):
        return None, None
    err = resp.get("error")
    if not err and resp.get("type") == "error":
        err = resp
    if isinstance(err, dict):
        inner = err.get("error") if isinstance(err.get("error"), dict) else err
        return (inner.get("type") or inner.get("code") or "error"), str(inner.get("message") or inner)
    if err:
        return "error", str(err)
    if resp.get("status") == "failed":
        return "response_failed", str(resp.get("error") or "")
    return None, None


def _summarise_embeddings(resp: dict) -> dict:
    out = dict(resp)
    data = []
    for item in resp.get("data") or ():
        emb = item.get("embedding") if isinstance(item, dict) else None
        dims = len(emb) if isinstance(emb, list) else (len(emb) * 3 // 4 // 4 if isinstance(emb, str) else None)
        data.append({"index": item.get("index"), "dimensions": dims, "embedding": "<omitted by llmdebug>"})
    out["data"] = data
    return out


def _sdk_dict(obj: Any) -> Any:
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json", exclude_unset=True)
        except Exception:
            return None
    return obj if isinstance(obj, dict) else None


_EVENT_HEADERS = frozenset({"retry-after", "retry-after-ms", "x-request-id", "request-id", "x-ratelimit-remaining-requests"})

_USAGE_FLAVOR = {
    "openai-chat": "openai-chat",
    "openai-completions": "openai-chat",
    "openai-responses": "openai-responses",
    "openai-embeddings": "openai-embeddings",
    "anthropic": "anthropic",
}


def _is_sse(call) -> bool:
    headers = call.attempts[-1][3] if call.attempts else None
    ctype = (headers.get("content-type") or "") if headers is not None else ""
    if ctype:
        return "event-stream" in ctype
    return call.chunks[0][1][:1] != b"{"


def finalize(span, call) -> None:
    """Fill tokens, model, output, tool calls, messages, events and cost of ``span``."""
    flavor = call.endpoint.flavor
    body: bytes | None = None
    if call.request is not None:
        url = str(call.request.url).partition("?")[0]
        path_flavor, base_url = flavor_for_path(url)
        span.base_url = redact_url(base_url)
        flavor = flavor or path_flavor
        try:
            body = call.request.content
        except Exception:  # a streamed request body has no .content
            body = None
    if span.provider == "openai" and span.base_url and ".azure.com" in span.base_url:
        span.provider = "azure"
    # The request is stored as sent (no second JSON encoding); the conversation is
    # derived from it when read. litellm keeps the user's own (OpenAI-style) kwargs.
    if call.endpoint.provider != "litellm" and body and body[:1] == b"{":
        span.request = redact_body(body, loads)
    else:
        span.request = redact_kwargs(call.kwargs)
        span.messages = messages_of(None if call.endpoint.provider == "litellm" else flavor, span.request)

    resp: Any = None
    first = None
    if call.chunks and not _is_sse(call):
        # A whole JSON body read incrementally (e.g. ``with_streaming_response``).
        call.body, call.chunks = b"".join(c for _, c in call.chunks), None
    if call.chunks:
        events = parse_sse(call.chunks)
        assemble = _ASSEMBLERS.get(flavor or "")
        if assemble is not None:
            resp, first = assemble(events)
        else:
            resp = {"events": [d for _, _, d in events]}
        span.stream = True
    elif call.body is not None:
        resp = _loads(call.body)
        if resp is None:
            resp = call.body[:2000].decode("utf-8", "replace")
    if resp is None and call.result is not None:
        resp = _sdk_dict(call.result)
        if resp is not None and flavor is None and call.endpoint.provider == "litellm":
            flavor = "openai-chat"  # litellm returns OpenAI-shaped objects

    if isinstance(resp, dict):
        if flavor == "openai-embeddings":
            resp = _summarise_embeddings(resp)
        span.model = resp.get("model") or span.request_model
        usage_flavor = _USAGE_FLAVOR.get(flavor or "openai-chat")
        if usage_flavor is not None:
            for k, v in normalize_usage(resp.get("usage"), usage_flavor).items():
                setattr(span, k, v)
        if flavor == "openai-responses":
            span.output_text, span.tool_calls = _responses_output(resp)
        elif flavor == "anthropic":
            span.output_text, span.tool_calls = _anthropic_output(resp)
        elif flavor in ("openai-chat", "openai-completions"):
            span.output_text, span.tool_calls = _chat_output(resp)
        if span.status == "ok":
            etype, emsg = _error_of(resp)
            if etype:
                span.status, span.error_type, span.error_message = "error", etype, emsg
    else:
        span.model = span.request_model
    # A whole JSON body is stored as received; assembled streams and summaries as built.
    span.response = call.body if (call.body is not None and isinstance(resp, dict)
                                  and flavor != "openai-embeddings") else resp

    if call.stream_error is not None and span.status == "ok":
        span.record_error(call.stream_error)
    if first is not None:
        span.ttft_ms = (first - call.t0) * 1000.0

    events = []
    for i, (t0, t1, outcome, headers) in enumerate(call.attempts):
        ev = {"type": "http_attempt", "attempt": i + 1, "offset_ms": round((t0 - call.t0) * 1000, 3),
              "duration_ms": round((t1 - t0) * 1000, 3)}
        if isinstance(outcome, int):
            ev["status"] = outcome
            if headers is not None:
                for k, v in headers.raw:
                    name = k.decode("latin-1").lower()
                    if name in _EVENT_HEADERS:
                        ev[name] = v.decode("latin-1")
        else:
            ev["error"] = outcome
        events.append(ev)
    span.events = events
    span.retries = max(len(events) - 1, 0)
    span.rate_limit_hits = sum(1 for e in events if e.get("status") == 429)
    if span.http_status is None and events and "status" in events[-1]:
        span.http_status = events[-1]["status"]
    if span.http_status == 429 and span.status == "error":
        span.rate_limit_hits = max(span.rate_limit_hits, 1)

    span.cost_usd = pricing.cost(
        span.model,
        provider=span.provider,
        input_tokens=span.input_tokens,
        output_tokens=span.output_tokens,
        cached_tokens=span.cached_tokens,
        cache_write_tokens=span.cache_write_tokens,
        base_url=span.base_url,
        reasoning_tokens=span.reasoning_tokens,
        timestamp=datetime.fromtimestamp(span.started_at, timezone.utc),
    ) if span.input_tokens is not None or span.output_tokens is not None else None
    span.priced = span.cost_usd is not None if span.input_tokens is not None else None
