"""The comparison of two calls, :func:`diff_calls`: system prompt, messages, tools,
parameters, outputs and the token, cost and latency deltas (the dict is described in
:mod:`llmdebug.diffing`). What a request means is asked of :mod:`llmdebug.providers`."""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable
from typing import Any

from .. import providers
from ..tracing import Span
from .messages import diff_messages, tool_call_diffs
from .structure import json_diff, json_safe, parse_json, pretty
from .text import word_diff

__all__ = ["PARAM_ORDER", "diff_calls", "request_params"]


def _request(s: Span) -> dict:
    req = s.request
    if isinstance(req, (bytes, bytearray, memoryview)):
        req = bytes(req).decode("utf-8", "replace")
    if isinstance(req, str):
        try:
            req = json.loads(req)
        except ValueError:
            req = None
    return req if isinstance(req, dict) else {}


_SYSTEM_ROLES = ("system", "developer")


def _conversation(s: Span) -> tuple[str, list[dict]]:
    """(system prompt, the other messages) of a call, whatever its provider."""
    req = _request(s)
    if not req and s.kind != "llm":
        msgs = [] if s.input is None else [
            {"role": "input", "text": s.input if isinstance(s.input, str) else pretty(s.input),
             "tool_calls": [], "tool_call_id": None, "name": None}]
        return "", msgs
    msgs = providers.chat_messages(s, request=req)
    k = 0
    while k < len(msgs) and msgs[k]["role"] in _SYSTEM_ROLES and not msgs[k]["tool_calls"]:
        k += 1
    return "\n\n".join(m["text"] for m in msgs[:k]), msgs[k:]


def _tools_diff(ta: list[dict], tb: list[dict]) -> list[dict]:
    by_a = {str(t["name"]): t for t in ta}
    by_b = {str(t["name"]): t for t in tb}
    out = []
    for name in list(by_a) + [n for n in by_b if n not in by_a]:
        a, b = by_a.get(name), by_b.get(name)
        e = {"op": "equal", "name": name, "a": a, "b": b, "description": None, "parameters": []}
        if a is None:
            e["op"] = "added"
        elif b is None:
            e["op"] = "removed"
        else:
            params = json_diff(a.get("parameters"), b.get("parameters"))
            desc_changed = (a.get("description") or "") != (b.get("description") or "")
            if params or desc_changed:
                e["op"] = "changed"
                e["parameters"] = params
                if desc_changed:
                    e["description"] = word_diff(a.get("description") or "", b.get("description") or "")
        out.append(e)
    return out


PARAM_ORDER = providers.PARAM_ORDER


def request_params(s: Span | dict) -> dict:
    """The parameters of a call under provider-neutral names (see
    :func:`llmdebug.providers.params`); accepts a Span or a raw request dict."""
    if isinstance(s, dict):
        return providers.params(request=s)
    out = providers.params(s, request=_request(s))
    if "model" not in out and (s.request_model or s.model):
        out = {"model": s.request_model or s.model, **out}
    return out


def _params_diff(pa: dict, pb: dict) -> list[dict]:
    keys = list(pa) + [k for k in pb if k not in pa]
    order = {k: i for i, k in enumerate(PARAM_ORDER)}
    keys.sort(key=lambda k: (order.get(k, len(order)), k))
    out = []
    for k in keys:
        old, new = pa.get(k), pb.get(k)
        if k not in pb:
            op = "removed"
        elif k not in pa:
            op = "added"
        else:
            op = "changed" if json_diff(old, new) else "equal"
        changes = json_diff(old, new) if op == "changed" and isinstance(old, (dict, list)) and isinstance(new, (dict, list)) else []
        out.append({"key": k, "op": op, "old": old, "new": new, "changes": changes})
    return out


def _status(s: Span) -> dict:
    return {"status": s.status, "error_type": s.error_type, "error_message": s.error_message,
            "http_status": s.http_status}


def _output_text(s: Span) -> str:
    if s.output_text is not None:
        return str(s.output_text)
    if s.kind != "llm" and s.output is not None:
        return s.output if isinstance(s.output, str) else pretty(s.output)
    return ""


def _output_diff(a: Span, b: Span) -> dict:
    at, bt = _output_text(a), _output_text(b)
    ok_a, va = parse_json(at)
    ok_b, vb = parse_json(bt)
    if ok_a and ok_b:
        changes = json_diff(va, vb)
        mode, text_same = "json", not changes
        text = word_diff(pretty(va), pretty(vb))
    else:
        changes, mode, text_same = None, "text", at == bt
        text = word_diff(at, bt)
    calls = tool_call_diffs(a.tool_calls or [], b.tool_calls or [])
    sa, sb = _status(a), _status(b)
    status_same = (sa["status"], sa["error_type"], sa["error_message"]) == (sb["status"], sb["error_type"], sb["error_message"])
    same = text_same and all(c["op"] == "equal" for c in calls) and status_same
    if same:
        op = "equal"
    elif not at and not a.tool_calls and (bt or b.tool_calls) and status_same:
        op = "added"
    elif not bt and not b.tool_calls and (at or a.tool_calls) and status_same:
        op = "removed"
    else:
        op = "changed"
    return {"op": op, "mode": mode, "a_text": at, "b_text": bt, "text": text, "json": changes,
            "tool_calls": calls, "status": {"op": "equal" if status_same else "changed", "a": sa, "b": sb}}


def _delta(a: Any, b: Any, digits: int) -> dict:
    a, b = _finite(a), _finite(b)
    d = None if a is None or b is None else round(b - a, digits)
    return {"a": a, "b": b, "delta": d}


def _finite(v: Any) -> Any:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    if math.isnan(f) or math.isinf(f):
        return None
    return int(v) if isinstance(v, numbers.Integral) else f


def _side(s: Span) -> dict:
    return {"id": s.id, "name": s.name, "kind": s.kind, "provider": s.provider, "model": s.model,
            "endpoint": s.endpoint, "status": s.status, "error_type": s.error_type,
            "input_tokens": _finite(s.input_tokens), "output_tokens": _finite(s.output_tokens),
            "cost_usd": _finite(s.cost_usd), "latency_ms": _finite(s.latency_ms), "replay_of": s.replay_of}


def _system_diff(a: str, b: str) -> dict:
    op = "equal" if a == b else "added" if not a else "removed" if not b else "changed"
    return {"op": op, "a": a, "b": b, "text": word_diff(a, b)}


def diff_calls(a: Any, b: Any) -> dict:
    """The message-aware diff of two calls (Spans, span ids or prefixes, calls() rows).

    See :mod:`llmdebug.diffing` for the shape. ``summary.same`` is True when the system
    prompt, messages, tools, parameters and outputs (text, tool calls, status) all
    match; token, cost and latency differences alone do not count.
    """
    from .. import query  # diff_calls itself works on Span records without a store

    sa, sb = query.resolve_span(a, who="ld.diff()"), query.resolve_span(b, who="ld.diff()")
    sys_a, msgs_a = _conversation(sa)
    sys_b, msgs_b = _conversation(sb)
    system = _system_diff(sys_a, sys_b)
    messages = diff_messages(msgs_a, msgs_b)
    tools = _tools_diff(providers.tools(sa, request=_request(sa)), providers.tools(sb, request=_request(sb)))
    params = _params_diff(request_params(sa), request_params(sb))
    output = _output_diff(sa, sb)
    deltas = {
        "input_tokens": _delta(sa.input_tokens, sb.input_tokens, 0),
        "output_tokens": _delta(sa.output_tokens, sb.output_tokens, 0),
        "cost_usd": _delta(sa.cost_usd, sb.cost_usd, 12),
        "latency_ms": _delta(sa.latency_ms, sb.latency_ms, 3),
    }
    d = {"version": 1, "a": _side(sa), "b": _side(sb), "system": system, "messages": messages,
         "tools": tools, "params": params, "output": output, "deltas": deltas}
    d["summary"] = _summary(d)
    return json_safe(d)


def _count(entries: list[dict], ops: Iterable[str]) -> dict:
    c = {op: 0 for op in ops}
    for e in entries:
        c[e["op"]] = c.get(e["op"], 0) + 1
    return c


def _summary(d: dict) -> dict:
    msgs = _count(d["messages"], ("equal", "changed", "added", "removed", "moved"))
    tools = _count(d["tools"], ("equal", "changed", "added", "removed"))
    params = [p["key"] for p in d["params"] if p["op"] != "equal"]
    out = d["output"]
    calls = sum(1 for c in out["tool_calls"] if c["op"] != "equal")
    parts: list[str] = []
    if d["system"]["op"] != "equal":
        parts.append("system prompt")
    for op in ("changed", "added", "removed", "moved"):
        if msgs[op]:
            parts.append(f"{msgs[op]} message{'s' if msgs[op] != 1 else ''} {op}")
    for op in ("changed", "added", "removed"):
        if tools[op]:
            parts.append(f"{tools[op]} tool{'s' if tools[op] != 1 else ''} {op}")
    parts.extend(params)
    if out["status"]["op"] != "equal":
        parts.append("status")
    if out["json"] if out["mode"] == "json" else any(op != "equal" for op, _ in out["text"]):
        parts.append("output")
    if calls:
        parts.append(f"{calls} output tool call{'s' if calls != 1 else ''}")
    changes = ((d["system"]["op"] != "equal") + sum(v for k, v in msgs.items() if k != "equal")
               + sum(v for k, v in tools.items() if k != "equal") + len(params)
               + (out["op"] != "equal"))
    return {"same": changes == 0, "changes": changes, "parts": parts, "system": d["system"]["op"] != "equal",
            "messages": msgs, "tools": tools, "params": len(params), "output": out["op"] != "equal",
            "tool_calls": calls, "status": out["status"]["op"] != "equal"}
