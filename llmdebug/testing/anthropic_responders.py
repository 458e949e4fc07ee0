"""Anthropic-shaped responses: the Messages API (JSON and SSE) and its error bodies."""

from __future__ import annotations

import json
from typing import Any

from . import judge_responders
from .plausible import plausible_value
from .sse import Reply, json_reply, named_event, sse_reply
from .synth import (
    approx_tokens,
    content_text,
    json_answer,
    make_id,
    reply_text,
    split_chunks,
    split_fragments,
)

_ERRORS = {
    400: ("invalid_request_error", "Invalid request (injected by the llmdebug fake server)."),
    401: ("authentication_error", "invalid x-api-key (fake server)."),
    404: ("not_found_error", "Not found."),
    429: ("rate_limit_error", "Rate limit reached for requests (llmdebug fake server)."),
    500: ("api_error", "Internal server error (fake)."),
    529: ("overloaded_error", "Overloaded (fake)."),
}


def error(status: int, request_id: str, message: str | None = None) -> dict[str, Any]:
    typ, default = _ERRORS.get(status, ("api_error", "Error"))
    return {"type": "error", "error": {"type": typ, "message": message or default}, "request_id": request_id}


def _is_tool_result(message: dict[str, Any]) -> str | None:
    """The tool result text if this user message carries ``tool_result`` blocks."""
    content = message.get("content")
    if message.get("role") != "user" or not isinstance(content, list):
        return None
    results = [content_text(b.get("content")) for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
    return " ".join(results) if results else None


def _user_text(messages: list[dict[str, Any]]) -> str:
    """Text of the last user message that is not just a tool result."""
    for m in reversed(messages):
        if m.get("role") != "user":
            continue
        content = m.get("content")
        if isinstance(content, list):
            content = [b for b in content if not (isinstance(b, dict) and b.get("type") == "tool_result")]
        text = content_text(content)
        if text:
            return text
    return ""


def _plan(body: dict[str, Any]) -> tuple[list[dict[str, Any]], str, int]:
    """(content blocks, stop_reason, input_tokens) for a Messages request."""
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    user_text = _user_text(messages)
    input_tokens = approx_tokens(
        content_text(body.get("system"))
        + " ".join(content_text(m.get("content")) for m in messages)
        + json.dumps(body.get("tools") or "")
    )
    tool_result = _is_tool_result(last)
    if tool_result is not None:
        return [{"type": "text", "text": reply_text(user_text, tool_result)}], "end_turn", input_tokens
    if (verdict := judge_responders.anthropic_verdict(body)) is not None:  # an ld.judge prompt
        return verdict, "tool_use" if verdict[-1]["type"] == "tool_use" else "end_turn", input_tokens
    tools = [t for t in body.get("tools") or [] if "input_schema" in t]
    choice = body.get("tool_choice") or {"type": "auto"}
    if tools and choice.get("type") != "none":
        tool = next((t for t in tools if choice.get("type") == "tool" and t["name"] == choice.get("name")), tools[0])
        blocks = [
            {"type": "text", "text": f"I'll use the {tool['name']} tool to answer that."},
            {
                "type": "tool_use",
                "id": make_id("toolu_", body, tool["name"]),
                "name": tool["name"],
                "input": plausible_value(tool.get("input_schema") or {}, user_text),
            },
        ]
        return blocks, "tool_use", input_tokens
    fmt = body.get("output_format") or (body.get("output_config") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":
        return [{"type": "text", "text": json_answer(fmt.get("schema"), user_text)}], "end_turn", input_tokens
    return [{"type": "text", "text": reply_text(user_text)}], "end_turn", input_tokens


def _usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "service_tier": "standard",
    }


def messages(body: dict[str, Any]) -> Reply:
    temperature = body.get("temperature")
    if isinstance(temperature, (int, float)) and not 0 <= temperature <= 1:  # the API's range
        return json_reply(error(400, make_id("req_", body), "temperature: range: 0..1"), 400)
    blocks, stop_reason, input_tokens = _plan(body)
    output_tokens = approx_tokens(
        " ".join(b["text"] if b["type"] == "text" else json.dumps(b["input"]) for b in blocks)
    )
    message = {
        "id": make_id("msg_", body),
        "type": "message",
        "role": "assistant",
        "model": body.get("model") or "claude-fake",
        "content": blocks,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": _usage(input_tokens, output_tokens),
    }
    if not body.get("stream"):
        return json_reply(message)
    events = [
        named_event(
            "message_start",
            {"type": "message_start", "message": {**message, "content": [], "stop_reason": None, "usage": _usage(input_tokens, 1)}},
        )
    ]
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            start = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": t} for t in split_chunks(block["text"])]
        else:
            start = {**block, "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": f} for f in split_fragments(json.dumps(block["input"]))]
        events.append(named_event("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}))
        if index == 0:
            events.append(named_event("ping", {"type": "ping"}))
        events += [named_event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas]
        events.append(named_event("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        named_event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        )
    )
    events.append(named_event("message_stop", {"type": "message_stop"}))
    return sse_reply(events)


def models() -> Reply:
    names = ["claude-3-5-haiku-latest", "claude-sonnet-4-5", "claude-fake"]
    data = [{"type": "model", "id": m, "display_name": m, "created_at": "2024-10-22T00:00:00Z"} for m in names]
    return json_reply({"data": data, "has_more": False, "first_id": names[0], "last_id": names[-1]})
