"""OpenAI-shaped responses: chat completions, Responses API, embeddings, legacy completions."""

from __future__ import annotations

import json
from typing import Any

from . import judge_responders
from .plausible import plausible_value
from .sse import Reply, data_event, json_reply, named_event, sse_reply
from .synth import (
    CREATED,
    approx_tokens,
    content_text,
    embedding,
    embedding_base64,
    json_answer,
    make_id,
    reply_text,
    split_chunks,
    split_fragments,
)

_ERRORS = {
    400: ("invalid_request_error", None, "Invalid request (injected by the llmdebug fake server)."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided (fake server)."),
    404: ("invalid_request_error", "unknown_url", "Unknown request URL."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests (llmdebug fake server). Please try again later.",
    ),
    500: ("server_error", None, "The server had an error while processing your request (fake)."),
    529: ("overloaded_error", None, "The fake server is overloaded."),
}


def error(status: int, message: str | None = None, param: str | None = None) -> dict[str, Any]:
    typ, code, default = _ERRORS.get(status, ("server_error", None, "Error"))
    return {"error": {"message": message or default, "type": typ, "param": param, "code": code}}


def _json_word_missing(fmt: Any, texts: list[Any]) -> bool:
    """OpenAI rejects JSON mode unless the word "json" appears somewhere in the prompt."""
    return isinstance(fmt, dict) and fmt.get("type") == "json_object" and \
        "json" not in " ".join(content_text(t) for t in texts).lower()


def out_of_range(body: dict[str, Any], name: str = "temperature", high: float = 2.0) -> Reply | None:
    """The API's 400 for a ``temperature`` outside 0 to 2, in its words."""
    value = body.get(name)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or 0 <= value <= high:
        return None
    above = value > high
    message = (f"Invalid '{name}': decimal {'above maximum' if above else 'below minimum'} value. "
               f"Expected a value {'<=' if above else '>='} {high if above else 0:g}, but got {value:g} instead.")
    body = error(400, message, name)
    body["error"]["code"] = "decimal_above_max_value" if above else "decimal_below_min_value"
    return json_reply(body, 400)


# ---------------------------------------------------------------- planning


def _tool_spec(tool: dict[str, Any]) -> tuple[str, Any] | None:
    """(name, parameters) of a chat (``function`` nested) or Responses (flat) tool."""
    if tool.get("type", "function") != "function":
        return None
    fn = tool.get("function", tool)
    return (fn.get("name"), fn.get("parameters") or {}) if fn.get("name") else None


def _choose_tool(tools: list[dict[str, Any]], tool_choice: Any) -> tuple[str, Any] | None:
    specs = [s for s in map(_tool_spec, tools or []) if s]
    if not specs or tool_choice == "none":
        return None
    if isinstance(tool_choice, dict):
        wanted = (tool_choice.get("function") or tool_choice).get("name")
        for spec in specs:
            if spec[0] == wanted:
                return spec
    return specs[0]


def _usage_chat(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _chat_plan(body: dict[str, Any]) -> tuple[str | None, list[tuple[str, str, str]], str, int]:
    """Decide the answer: (text, [(call_id, name, arguments)], finish_reason, prompt_tokens)."""
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    user_text = next(
        (content_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
    )
    prompt_tokens = approx_tokens(
        " ".join(content_text(m.get("content")) for m in messages)
        + json.dumps(body.get("tools") or body.get("functions") or "")
    )
    if last.get("role") in ("tool", "function"):
        return reply_text(user_text, content_text(last.get("content"))), [], "stop", prompt_tokens
    if (verdict := judge_responders.openai_verdict(body)) is not None:  # an ld.judge prompt
        return verdict, [], "stop", prompt_tokens
    tools = body.get("tools") or [{"type": "function", "function": f} for f in body.get("functions") or []]
    choice = body.get("tool_choice", body.get("function_call"))
    spec = _choose_tool(tools, choice)
    if spec:
        name, params = spec
        args = json.dumps(plausible_value(params, user_text))
        finish = "tool_calls" if body.get("tools") else "function_call"
        return None, [(make_id("call_", body, name), name, args)], finish, prompt_tokens
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return json_answer((fmt.get("json_schema") or {}).get("schema"), user_text), [], "stop", prompt_tokens
    if fmt.get("type") == "json_object":
        return json_answer(None, user_text), [], "stop", prompt_tokens
    return reply_text(user_text), [], "stop", prompt_tokens


# ---------------------------------------------------------------- chat


def chat_completions(body: dict[str, Any]) -> Reply:
    if bad := out_of_range(body):
        return bad
    if _json_word_missing(body.get("response_format"), [m.get("content") for m in body.get("messages") or []]):
        message = "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'."
        return json_reply(error(400, message, "messages"), 400)
    model = body.get("model") or "fake-model"
    text, calls, finish, prompt_tokens = _chat_plan(body)
    n = max(1, int(body.get("n") or 1))
    completion_tokens = approx_tokens(text or "".join(c[2] for c in calls)) * n
    cid = make_id("chatcmpl-", body)
    legacy_fn = finish == "function_call"
    if body.get("stream"):
        return _chat_stream(body, cid, model, text, calls, finish, n, prompt_tokens, completion_tokens)
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
    if calls and legacy_fn:
        message["function_call"] = {"name": calls[0][1], "arguments": calls[0][2]}
    elif calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": nm, "arguments": a}} for i, nm, a in calls
        ]
    return json_reply(
        {
            "id": cid,
            "object": "chat.completion",
            "created": CREATED,
            "model": model,
            "choices": [
                {"index": k, "message": message, "logprobs": None, "finish_reason": finish} for k in range(n)
            ],
            "usage": _usage_chat(prompt_tokens, completion_tokens),
            "service_tier": "default",
            "system_fingerprint": "fp_llmdebug",
        }
    )


def _chat_stream(body, cid, model, text, calls, finish, n, prompt_tokens, completion_tokens) -> Reply:
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def chunk(choices: list[dict[str, Any]], usage: Any = None) -> bytes:
        obj: dict[str, Any] = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": "fp_llmdebug",
            "choices": choices,
        }
        if include_usage:
            obj["usage"] = usage
        return data_event(obj)

    def delta(k: int, d: dict[str, Any], fin: str | None = None) -> list[dict[str, Any]]:
        return [{"index": k, "delta": d, "logprobs": None, "finish_reason": fin}]

    events: list[bytes] = []
    for k in range(n):
        events.append(chunk(delta(k, {"role": "assistant", "content": "" if text is not None else None, "refusal": None})))
        if text is not None:
            events += [chunk(delta(k, {"content": piece})) for piece in split_chunks(text)]
        for t, (call_id, name, args) in enumerate(calls):
            if finish == "function_call":
                events.append(chunk(delta(k, {"function_call": {"name": name, "arguments": ""}})))
                events += [chunk(delta(k, {"function_call": {"arguments": f}})) for f in split_fragments(args)]
                continue
            head = {"index": t, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
            events.append(chunk(delta(k, {"tool_calls": [head]})))
            events += [
                chunk(delta(k, {"tool_calls": [{"index": t, "function": {"arguments": f}}]}))
                for f in split_fragments(args)
            ]
        events.append(chunk(delta(k, {}, finish)))
    if include_usage:
        events.append(chunk([], _usage_chat(prompt_tokens, completion_tokens)))
    events.append(data_event("[DONE]"))
    return sse_reply(events)


# ---------------------------------------------------------------- legacy completions


def completions(body: dict[str, Any]) -> Reply:
    prompt = body.get("prompt") or ""
    prompt_text = content_text(prompt) if not isinstance(prompt, list) else " ".join(map(str, prompt))
    text = " " + reply_text(prompt_text)
    pt, ct = approx_tokens(prompt_text), approx_tokens(text)
    obj = {
        "id": make_id("cmpl-", body),
        "object": "text_completion",
        "created": CREATED,
        "model": body.get("model") or "fake-model",
        "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct},
    }
    if body.get("stream"):
        events = []
        for piece in split_chunks(text):
            events.append(data_event({**obj, "choices": [{**obj["choices"][0], "text": piece, "finish_reason": None}], "usage": None}))
        events.append(data_event({**obj, "choices": [{**obj["choices"][0], "text": ""}], "usage": None}))
        return sse_reply(events + [data_event("[DONE]")])
    return json_reply(obj)


# ---------------------------------------------------------------- embeddings


def embeddings(body: dict[str, Any]) -> Reply:
    raw = body.get("input", "")
    if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)):
        inputs = [raw]
    else:
        inputs = list(raw) or [""]
    dims = int(body.get("dimensions") or 8)
    b64 = body.get("encoding_format") == "base64"
    data, tokens = [], 0
    for i, item in enumerate(inputs):
        text = item if isinstance(item, str) else json.dumps(item)
        vec = embedding(text, dims)
        tokens += len(item) if isinstance(item, list) else approx_tokens(text)
        data.append({"object": "embedding", "index": i, "embedding": embedding_base64(vec) if b64 else vec})
    return json_reply(
        {
            "object": "list",
            "data": data,
            "model": body.get("model") or "fake-embedding",
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def models() -> Reply:
    names = ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small", "fake-model"]
    return json_reply(
        {"object": "list", "data": [{"id": m, "object": "model", "created": CREATED, "owned_by": "llmdebug"} for m in names]}
    )


# ---------------------------------------------------------------- Responses API


def _responses_plan(body: dict[str, Any]) -> tuple[str | None, tuple[str, str, str] | None, int]:
    items = body.get("input")
    items = [{"role": "user", "content": items}] if isinstance(items, str) else list(items or [])
    last = items[-1] if items else {}
    user_text = next(
        (content_text(i.get("content")) for i in reversed(items) if i.get("role") == "user"), ""
    )
    prompt_tokens = approx_tokens(
        (body.get("instructions") or "")
        + " ".join(content_text(i.get("content", i.get("output"))) for i in items)
        + json.dumps(body.get("tools") or "")
    )
    if last.get("type") == "function_call_output":
        return reply_text(user_text, content_text(last.get("output"))), None, prompt_tokens
    spec = _choose_tool(body.get("tools") or [], body.get("tool_choice"))
    if spec:
        name, params = spec
        return None, (make_id("call_", body, name), name, json.dumps(plausible_value(params, user_text))), prompt_tokens
    fmt = (body.get("text") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":
        return json_answer(fmt.get("schema"), user_text), None, prompt_tokens
    if fmt.get("type") == "json_object":
        return json_answer(None, user_text), None, prompt_tokens
    return reply_text(user_text), None, prompt_tokens


def responses(body: dict[str, Any]) -> Reply:
    if bad := out_of_range(body):
        return bad
    items = body.get("input")
    items = [items] if isinstance(items, str) else [i.get("content") for i in items or [] if isinstance(i, dict)]
    if _json_word_missing((body.get("text") or {}).get("format"), [body.get("instructions"), *items]):
        message = ("Response input messages must contain the word 'json' in some form "
                   "to use 'text.format' of type 'json_object'.")
        return json_reply(error(400, message, "input"), 400)
    text, call, prompt_tokens = _responses_plan(body)
    completion_tokens = approx_tokens(text if text is not None else call[2])  # type: ignore[index]
    rid = make_id("resp_", body, length=32)
    if call:
        item: dict[str, Any] = {
            "type": "function_call",
            "id": make_id("fc_", body),
            "call_id": call[0],
            "name": call[1],
            "arguments": call[2],
            "status": "completed",
        }
    else:
        part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
        item = {"type": "message", "id": make_id("msg_", body), "status": "completed", "role": "assistant", "content": [part]}
    final = {
        "id": rid,
        "object": "response",
        "created_at": CREATED,
        "status": "completed",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": body.get("model") or "fake-model",
        "output": [item],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": {
            "input_tokens": prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": completion_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "user": None,
        "metadata": body.get("metadata") or {},
    }
    if not body.get("stream"):
        return json_reply(final)
    return sse_reply(_responses_events(final, item))


def _responses_events(final: dict[str, Any], item: dict[str, Any]) -> list[bytes]:
    seq = iter(range(1_000_000))
    events: list[bytes] = []

    def emit(kind: str, **fields: Any) -> None:
        events.append(named_event(kind, {"type": kind, "sequence_number": next(seq), **fields}))

    pending = {**final, "status": "in_progress", "output": [], "usage": None}
    emit("response.created", response=pending)
    emit("response.in_progress", response=pending)
    iid = item["id"]
    if item["type"] == "function_call":
        emit("response.output_item.added", output_index=0, item={**item, "arguments": "", "status": "in_progress"})
        for frag in split_fragments(item["arguments"]):
            emit("response.function_call_arguments.delta", item_id=iid, output_index=0, delta=frag)
        emit(
            "response.function_call_arguments.done",
            item_id=iid, output_index=0, name=item["name"], arguments=item["arguments"],
        )
    else:
        part = item["content"][0]
        emit("response.output_item.added", output_index=0, item={**item, "status": "in_progress", "content": []})
        emit("response.content_part.added", item_id=iid, output_index=0, content_index=0, part={**part, "text": ""})
        for piece in split_chunks(part["text"]):
            emit("response.output_text.delta", item_id=iid, output_index=0, content_index=0, delta=piece, logprobs=[])
        emit("response.output_text.done", item_id=iid, output_index=0, content_index=0, text=part["text"], logprobs=[])
        emit("response.content_part.done", item_id=iid, output_index=0, content_index=0, part=part)
    emit("response.output_item.done", output_index=0, item=item)
    emit("response.completed", response=final)
    return events
