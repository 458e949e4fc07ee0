"""What a widget shows when a span is opened: its payload as JSON-safe, display-ready data.

Built on the kernel side so the browser never parses provider formats: messages come
normalised per role (see :func:`llmdebug.providers.chat_messages`), every value is text or a
number, and very long texts are clipped with a note saying where the rest is.
"""

from __future__ import annotations

import json
from typing import Any

from ..tracing import Span
from ..store.rows import iso
from .. import providers
from .. import formatting as fmt

# A 2 MB prompt is stored whole; the browser gets the first part of it.
TEXT_LIMIT = 100_000
JSON_LIMIT = 200_000


def clip(text: Any, limit: int = TEXT_LIMIT, span_id: str = "") -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    if len(text) <= limit:
        return text
    where = f"ld.get({span_id[:12]!r})" if span_id else "the store"
    return f"{text[:limit]}\n… [{fmt.count(len(text) - limit)} more characters; {where} has the stored text]"


def pretty(value: Any, limit: int = JSON_LIMIT, span_id: str = "") -> str:
    """Indented JSON of any stored value (strings stay as they are)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return clip(value, limit, span_id)
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return clip(text, limit, span_id)


def _args(arguments: str) -> str:
    """Tool-call arguments, indented when they are JSON."""
    try:
        return json.dumps(json.loads(arguments), indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        return arguments or ""


def prompt_text(messages: list[dict]) -> str:
    """The conversation as plain text, for the copy button."""
    parts = []
    for m in messages:
        head = m["role"] + (f" ({m['name']})" if m.get("name") else "")
        body = m["text"]
        for c in m.get("tool_calls") or []:
            body += f"\n→ {c['name']}({c['arguments']})"
        parts.append(f"[{head}]\n{body}")
    return "\n\n".join(parts)


def span_detail(s: Span) -> dict:
    """Everything the detail pane shows for one span."""
    sid = s.id
    d: dict[str, Any] = {
        "id": sid, "trace_id": s.trace_id, "parent_id": s.parent_id, "name": clip(s.name, 2000),
        "kind": s.kind, "provider": s.provider, "model": s.model, "request_model": s.request_model,
        "endpoint": s.endpoint, "base_url": s.base_url, "status": s.status,
        "error_type": s.error_type, "error_message": clip(s.error_message, 20_000, sid),
        "http_status": s.http_status, "started_at": iso(s.started_at) if s.started_at else None,
        "latency_ms": s.latency_ms, "ttft_ms": s.ttft_ms, "stream": bool(s.stream),
        "input_tokens": s.input_tokens, "output_tokens": s.output_tokens, "total_tokens": s.total_tokens,
        "cached_tokens": s.cached_tokens, "cache_write_tokens": s.cache_write_tokens,
        "reasoning_tokens": s.reasoning_tokens, "cost_usd": s.cost_usd, "priced": s.priced,
        "retries": s.retries, "rate_limit_hits": s.rate_limit_hits, "replay_of": s.replay_of,
        "tags": [str(t) for t in (s.tags or [])],
        "metadata": {str(k): pretty(v, 2000) for k, v in (s.metadata or {}).items()},
        "attributes": {str(k): pretty(v, 20_000, sid) for k, v in (s.attributes or {}).items()},
        "events": [{str(k): (v if isinstance(v, (int, float)) or v is None else clip(v, 2000))
                    for k, v in e.items()} for e in (s.events or []) if isinstance(e, dict)],
    }
    if s.kind == "llm":
        req = s.request if isinstance(s.request, dict) else {}
        messages = providers.chat_messages(s, request=req)
        d["messages"] = [dict(m, text=clip(m["text"], TEXT_LIMIT, sid),
                              tool_calls=[dict(c, arguments=clip(_args(c["arguments"]), 20_000, sid))
                                          for c in m["tool_calls"]])
                         for m in messages]
        d["tools"] = [{"name": str(t["name"]), "description": clip(t["description"], 4000),
                       "parameters": pretty(t["parameters"], 20_000)} for t in providers.tools(s, request=req)]
        d["params"] = {k: pretty(v, 20_000, sid) for k, v in providers.settings(s, request=req).items()}
        d["output_text"] = clip(s.output_text, TEXT_LIMIT, sid)
        d["output_tool_calls"] = [
            {"id": c.get("id"), "name": c.get("name"), "arguments": clip(_args(c.get("arguments") or ""), 20_000, sid)}
            for c in (s.tool_calls or []) if isinstance(c, dict)]
        d["prompt_text"] = clip(prompt_text(messages), 1_000_000, sid)
        d["request_json"] = pretty(s.request, JSON_LIMIT, sid)
        d["response_json"] = pretty(s.response, JSON_LIMIT, sid)
    else:
        d["input"] = pretty(s.input, TEXT_LIMIT, sid)
        d["output"] = pretty(s.output, TEXT_LIMIT, sid)
    return d
