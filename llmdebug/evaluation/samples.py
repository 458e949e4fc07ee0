"""What a scorer sees of a span: its output, input, messages and tool calls, and the
per-sample values ``ld.evaluate`` was given (expected, context, item)."""

from __future__ import annotations

import json
from typing import Any

from .. import providers
from ..session import get_store
from ..store.rows import decode_json
from ..tracing import Span

PARAMETERS = ("span", "output", "expected", "context", "input", "item", "messages")


def sample(span: Span, *, expected: Any = None, context: Any = None, item: Any = None) -> dict[str, Any]:
    """What a scorer may ask for, for one span. An LLM call's ``output`` is its text and its
    ``input`` the last user message; another span's are what it recorded (``set_output``)."""
    if span.kind == "llm":
        messages = providers.chat_messages(span) if span.request is not None else []
        user = [m for m in messages if m.get("role") == "user"]
        text_in: Any = user[-1].get("text") if user else None
        output = span.output_text
    else:
        messages = span.messages
        text_in = span.input
        output = span.output if span.output is not None else span.output_text
    return {"span": span, "output": output, "expected": expected, "context": context, "input": text_in,
            "item": item, "messages": messages}


def as_text(value: Any) -> str:
    """A value as text for matching and prompts: a string as it is, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def tool_calls(span: Span) -> list[dict]:
    """The tool calls of an LLM span; for another span, those of the LLM calls and tool
    spans under it (one query over its trace)."""
    if span.kind == "llm":
        return list(span.tool_calls or [])
    rows = get_store().read("SELECT s.id, s.parent_id, s.kind, s.name, p.tool_calls_json, p.input_json "
                            "FROM spans s LEFT JOIN payloads p ON p.span_id = s.id WHERE s.trace_id = ? "
                            "ORDER BY s.started_at", [span.trace_id])
    children: dict[str | None, list[tuple]] = {}
    for row in rows:
        children.setdefault(row[1], []).append(row)
    out: list[dict] = []
    stack = [span.id]
    while stack:
        for sid, _, kind, sname, calls_json, input_json in children.get(stack.pop(), ()):
            stack.append(sid)
            if kind == "llm":
                out.extend(decode_json(calls_json) or [])
            elif kind == "tool":
                out.append({"name": sname, "arguments": decode_json(input_json)})
    return out
