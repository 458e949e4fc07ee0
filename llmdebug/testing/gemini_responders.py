"""Gemini Developer API responses (what the ``google-genai`` SDK talks to): JSON, SSE, errors.

What the SDK does on the wire (read from google-genai 3.6.1, checked against the
recorded Gemini exchanges in ``shared/fixtures``):

- Base URL: ``genai.Client(api_key=..., http_options=types.HttpOptions(base_url=srv.url))``,
  or the env var ``GOOGLE_GEMINI_BASE_URL`` (``GOOGLE_VERTEX_BASE_URL`` for Vertex;
  ``google.genai._base_url.set_default_base_urls`` too). The key comes from
  ``api_key=`` or ``GOOGLE_API_KEY`` (wins) / ``GEMINI_API_KEY``, and is sent as the
  ``x-goog-api-key`` header (never in the URL). ``GOOGLE_GENAI_USE_VERTEXAI=1``
  switches the client to Vertex paths, so the env fixture unsets it.
- Paths: ``POST /{version}/models/{model}:generateContent``,
  ``:streamGenerateContent?alt=sse``, ``:countTokens``, ``:batchEmbedContents``
  (``embed_content`` always uses the batch method on this API; ``:embedContent`` is
  answered too), ``GET /{version}/models`` and ``/{version}/models/{model}``.
  The version is ``v1`` by default from SDK 3.0 (``v1beta`` up to 2.34; set it with
  ``HttpOptions(api_version=...)`` or ``GOOGLE_GENAI_API_VERSION``); any version is
  accepted here. The model is only in the URL, never in the body.
- HTTP library: sync calls go through **httpx2** (``google.genai._api_client.SyncHttpx2Client``,
  a subclass of ``httpx2.Client``; httpx2 is pydantic's fork of httpx under its own
  import name, so patching ``httpx`` does not see them). ``httpx`` is used instead
  when httpx2 is missing, when ``GOOGLE_GENAI_HTTP_CLIENT=httpx``, or when
  ``http_options`` carries httpx objects (``httpx_client``, ``client_args`` values).
  Async calls (``client.aio``), streaming or not, go through **aiohttp** whenever
  ``import aiohttp`` works (``has_aiohttp``), unless ``http_options.httpx_async_client``
  or ``async_client_args={"transport": ...}`` is given; then through
  ``httpx2.AsyncClient`` (``AsyncHttpx2Client``, one pool per event loop). The aiohttp
  session is created with ``trust_env=True`` (proxy env vars apply).
  Older SDKs: httpx (not httpx2) up to 2.x (httpx2 an optional extra in late 2.x,
  the required default from 3.0); aiohttp for async from 1.21 (1.21-1.22 split its
  SSE on network reads, not lines, and break when events arrive together).
  ``GOOGLE_GEMINI_BASE_URL`` is read from 1.13; 1.24 is the oldest release that
  passes the checks here (the ``google`` extra's lower bound).
- Retries: none by default (``stop_after_attempt(1)``). With
  ``HttpOptions(retry_options=types.HttpRetryOptions(attempts=N, initial_delay=...,
  jitter=...))`` tenacity retries 408/429/500/502/503/504 and connection errors with
  exponential backoff; ``retry-after`` is ignored. Without retry_options the aiohttp
  path still retries a dropped connection once, after sleeping 1-10 s.
- Request JSON (camelCase at the top level; nested config objects often keep the
  SDK's snake_case, e.g. ``parameters_json_schema``, ``thinkingConfig: {"thinking_budget":
  ..}``, ``property_ordering``: proto JSON accepts both, and so does this module)::

    {"contents": [{"role": "user"|"model", "parts": [{"text"}|{"inlineData": {"mimeType", "data"}}
                   |{"fileData"}|{"functionCall": {"name", "args"}}|{"functionResponse": {"name", "response"}}]}],
     "systemInstruction": {"role": "user", "parts": [{"text"}]},
     "tools": [{"functionDeclarations": [{"name", "description", "parameters" (OpenAPI subset,
                "type": "OBJECT"/"STRING"...) | "parametersJsonSchema" (JSON schema)}]} | {"googleSearch": {}}...],
     "toolConfig": {"functionCallingConfig": {"mode": "AUTO"|"ANY"|"NONE", "allowedFunctionNames": [...]}},
     "generationConfig": {"temperature", "topP", "maxOutputTokens", "stopSequences", "candidateCount",
                          "seed", "responseMimeType", "responseSchema" | "responseJsonSchema",
                          "thinkingConfig": {"thinkingBudget", "includeThoughts", "thinkingLevel"}},
     "cachedContent": "cachedContents/...", "safetySettings": [...]}

- Response JSON (``application/json; charset=UTF-8``, pretty-printed by Google)::

    {"candidates": [{"content": {"role": "model", "parts": [{"text"} | {"text", "thought": true}
                     | {"functionCall": {"name", "args"}, "thoughtSignature": base64}]},
                     "finishReason": "STOP"|"MAX_TOKENS"|..., "index": 0}],
     "usageMetadata": {"promptTokenCount", "candidatesTokenCount", "totalTokenCount",
                       "thoughtsTokenCount"?, "cachedContentTokenCount"?, "toolUsePromptTokenCount"?,
                       "promptTokensDetails": [{"modality": "TEXT", "tokenCount"}], "candidatesTokensDetails"},
     "modelVersion": "gemini-2.5-flash", "responseId": "<23 chars>"}

  A function call ends with finishReason ``STOP`` too; the SDK exposes it as
  ``response.function_calls``. totalTokenCount = prompt + candidates + thoughts + toolUse
  (cached tokens are part of promptTokenCount).
- Stream: ``text/event-stream``, each event ``data: <partial GenerateContentResponse>\\r\\n\\r\\n``,
  no event names, no ``[DONE]``. Every event repeats ``modelVersion`` and ``responseId``
  and carries a ``usageMetadata`` with the prompt (and thoughts) counts only; the last
  event has the last text, ``finishReason`` and the full usage (take the last one, do
  not sum). A function call arrives whole in one event.
- Errors: ``{"error": {"code": 429, "message": "...", "status": "RESOURCE_EXHAUSTED",
  "details": [...]}}``; 4xx raise ``google.genai.errors.ClientError``, 5xx ``ServerError``
  (both ``APIError`` with ``.code``, ``.status``, ``.message``, ``.details``). No
  ``retry-after`` header: a 429 says ``RetryInfo.retryDelay`` in ``details``. Gemini has
  no 529: the "overloaded" fault is sent as 503 UNAVAILABLE, as the real API does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from .plausible import plausible_value
from .sse import Reply
from .synth import approx_tokens, embedding, quote, reply_text, split_chunks

# ``/v1beta/models/gemini-2.5-flash:generateContent`` (also tunedModels/, Vertex publishers/.../models/).
PATH = re.compile(r"/(?:models|tunedModels)/([^/:]+):([A-Za-z]+)$")
MODEL_PATH = re.compile(r"/v1(?:alpha|beta)?\d?/models(?:/([^/:]+))?$")

_STATUS = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument. (injected by the llmdebug fake server)"),
    401: (
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
        "or other valid authentication credential. (fake server)",
    ),
    403: ("PERMISSION_DENIED", "The caller does not have permission. (fake server)"),
    404: ("NOT_FOUND", "Not found."),
    429: (
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details. (llmdebug fake server)",
    ),
    500: ("INTERNAL", "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
}
_JSON = [("Content-Type", "application/json; charset=UTF-8")]
_SSE = [("Content-Type", "text/event-stream"), ("Content-Disposition", "attachment")]


def wire_status(status: int) -> int:
    """The status Gemini would send for a fault (no 529 there: overloaded is 503)."""
    return 503 if status == 529 else status


def error(status: int, message: str | None = None, retry_after: float = 0.0) -> dict[str, Any]:
    name, default = _STATUS.get(status, ("UNKNOWN", "Error"))
    err: dict[str, Any] = {"code": status, "message": message or default, "status": name}
    if status == 429:
        err["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                        "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                    }
                ],
            },
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{max(0, round(retry_after))}s"},
        ]
    return {"error": err}


def error_reply(status: int, message: str | None = None, retry_after: float = 0.0) -> Reply:
    return _json(error(status, message, retry_after), status)


def _json(obj: Any, status: int = 200) -> Reply:
    return Reply(status=status, body=json.dumps(obj, indent=2, ensure_ascii=False).encode(), headers=list(_JSON))


def _event(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ": "), ensure_ascii=False).encode() + b"\r\n\r\n"


# ---------------------------------------------------------------- request reading


def _get(obj: Any, camel: str, default: Any = None) -> Any:
    """A field by its proto JSON name or its snake_case name (the SDK sends both)."""
    if not isinstance(obj, dict):
        return default
    if camel in obj:
        return obj[camel]
    snake = re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower()
    return obj.get(snake, default)


def _parts(content: Any) -> list[dict[str, Any]]:
    return [p for p in _get(content, "parts") or [] if isinstance(p, dict)]


def _part_text(part: dict[str, Any]) -> str:
    if isinstance(part.get("text"), str):
        return part["text"]
    for key in ("functionCall", "functionResponse", "executableCode", "codeExecutionResult"):
        if (value := _get(part, key)) is not None:
            return json.dumps(value, sort_keys=True)
    return ""


def _media(part: dict[str, Any]) -> str | None:
    """The modality of an inline or file part (``IMAGE``...), None for text."""
    blob = _get(part, "inlineData") or _get(part, "fileData")
    if not isinstance(blob, dict):
        return None
    mime = str(_get(blob, "mimeType") or "")
    return {"image": "IMAGE", "audio": "AUDIO", "video": "VIDEO"}.get(mime.split("/")[0], "DOCUMENT")


def _user_text(contents: list[dict[str, Any]]) -> str:
    """Text of the last user turn that says something (not only function responses)."""
    for content in reversed(contents):
        if _get(content, "role", "user") != "user":
            continue
        text = " ".join(p["text"] for p in _parts(content) if isinstance(p.get("text"), str) and not p.get("thought"))
        if text.strip():
            return text
    return ""


def _function_result(contents: list[dict[str, Any]]) -> str | None:
    """The function responses of the last turn, if that turn answers a function call."""
    if not contents:
        return None
    responses = [_get(p, "functionResponse") for p in _parts(contents[-1]) if _get(p, "functionResponse") is not None]
    if not responses:
        return None
    return " ".join(json.dumps(_get(r, "response", r), sort_keys=True) for r in responses)


def _prompt_tokens(body: dict[str, Any], contents: list[dict[str, Any]]) -> tuple[int, dict[str, int]]:
    """(prompt tokens, per-modality counts): ~4 characters a token, 258 per image or media part."""
    text = " ".join(_part_text(p) for p in _parts(_get(body, "systemInstruction")))
    by_modality: dict[str, int] = {}
    for content in contents:
        for part in _parts(content):
            if modality := _media(part):
                by_modality[modality] = by_modality.get(modality, 0) + 258
            else:
                text += " " + _part_text(part)
    decls = [d for tool in _get(body, "tools") or [] for d in _get(tool, "functionDeclarations") or []]
    if decls:
        text += json.dumps(decls, sort_keys=True)
    by_modality = {"TEXT": approx_tokens(text), **by_modality}
    return sum(by_modality.values()), by_modality


# ---------------------------------------------------------------- schemas and values

def _json_schema(schema: Any) -> Any:
    """Gemini's OpenAPI-style Schema (``"type": "OBJECT"``, ``nullable``) as a JSON schema."""
    if isinstance(schema, list):
        return [_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _json_schema(v) for k, v in schema.items()}
    if isinstance(out.get("type"), str):
        out["type"] = out["type"].lower()
    for camel in ("anyOf", "propertyOrdering", "minItems", "maxItems"):
        if (value := _get(out, camel)) is not None:
            out[camel] = value
    return out



# ---------------------------------------------------------------- generateContent


def _hash(*parts: Any) -> bytes:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()


def response_id(model: str, body: Any) -> str:
    return base64.urlsafe_b64encode(_hash("responseId", model, body)).decode()[:23]


def _thinking(config: dict[str, Any], user_text: str) -> int:
    """Thought tokens for a ``thinkingConfig`` (0 when absent or ``thinkingBudget: 0``)."""
    tc = _get(config, "thinkingConfig")
    if not isinstance(tc, dict):
        return 0
    budget = _get(tc, "thinkingBudget")
    if budget == 0:
        return 0
    level = str(_get(tc, "thinkingLevel") or "").lower()
    tokens = int((64 + 8 * approx_tokens(user_text)) * {"minimal": 0.25, "low": 1, "high": 4}.get(level, 2))
    return max(1, min(tokens, budget)) if isinstance(budget, int) and budget > 0 else tokens


def _function_call(body: dict[str, Any], user_text: str) -> dict[str, Any] | None:
    decls = [d for tool in _get(body, "tools") or [] for d in _get(tool, "functionDeclarations") or []]
    fcc = _get(_get(body, "toolConfig") or {}, "functionCallingConfig") or {}
    if not decls or str(_get(fcc, "mode") or "AUTO").upper() == "NONE":
        return None
    allowed = _get(fcc, "allowedFunctionNames") or []
    decl = next((d for d in decls if not allowed or d.get("name") in allowed), decls[0])
    schema = _get(decl, "parametersJsonSchema")
    if schema is None:
        schema = _json_schema(_get(decl, "parameters"))
    args = plausible_value(schema, user_text) if schema else {}
    return {"name": decl.get("name"), "args": args if isinstance(args, dict) else {}}


def _answer(body: dict[str, Any], config: dict[str, Any], contents: list[dict[str, Any]], user_text: str) -> str:
    result = _function_result(contents)
    if result is not None:
        return reply_text(user_text, result)
    mime = _get(config, "responseMimeType")
    schema = _get(config, "responseJsonSchema")
    if schema is None and _get(config, "responseSchema") is not None:
        schema = _json_schema(_get(config, "responseSchema"))
    if mime == "text/x.enum" and isinstance(schema, dict) and schema.get("enum"):
        return str(schema["enum"][0])
    if mime == "application/json":
        return json.dumps(plausible_value(schema, user_text) if schema else {"answer": reply_text(user_text)})
    return reply_text(user_text)


def _usage(prompt: int, by_modality: dict[str, int], out: int, thoughts: int, tool_use: int, cached: int,
           final: bool) -> dict[str, Any]:
    usage: dict[str, Any] = {"promptTokenCount": prompt}
    if final:
        usage["candidatesTokenCount"] = out
    usage["totalTokenCount"] = prompt + thoughts + tool_use + (out if final else 0)
    usage["promptTokensDetails"] = [{"modality": m, "tokenCount": n} for m, n in by_modality.items()]
    if cached:
        usage["cachedContentTokenCount"] = cached
        usage["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": cached}]
    if final:
        usage["candidatesTokensDetails"] = [{"modality": "TEXT", "tokenCount": out}]
    if tool_use:
        usage["toolUsePromptTokenCount"] = tool_use
        usage["toolUsePromptTokensDetails"] = [{"modality": "TEXT", "tokenCount": tool_use}]
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return usage


def generate_content(model: str, body: dict[str, Any], stream: bool) -> Reply:
    contents = [c for c in _get(body, "contents") or [] if isinstance(c, dict)]
    if not contents:
        return error_reply(400, "* GenerateContentRequest.contents: contents is not specified\n")
    config = _get(body, "generationConfig") or {}
    user_text = _user_text(contents)
    prompt, by_modality = _prompt_tokens(body, contents)
    cached = 1024 + approx_tokens(str(_get(body, "cachedContent"))) if _get(body, "cachedContent") else 0
    prompt += cached
    search = [t for t in _get(body, "tools") or [] if any(_get(t, k) is not None for k in ("googleSearch", "urlContext"))]
    tool_use = 96 * len(search)
    thoughts = _thinking(config, user_text)
    include_thoughts = bool(_get(_get(config, "thinkingConfig") or {}, "includeThoughts")) and thoughts > 0

    call = None if _function_result(contents) is not None else _function_call(body, user_text)
    finish = "STOP"
    parts: list[dict[str, Any]] = []
    if call is not None:
        part: dict[str, Any] = {"functionCall": call}
        if thoughts:
            part["thoughtSignature"] = base64.b64encode(_hash("signature", model, body)).decode()
        parts.append(part)
        out = approx_tokens(json.dumps(call))
    else:
        text = _answer(body, config, contents, user_text)
        limit = _get(config, "maxOutputTokens")
        if isinstance(limit, int) and limit > 0 and approx_tokens(text) > limit:
            text, finish = text[: limit * 4], "MAX_TOKENS"
        parts.append({"text": text})
        out = approx_tokens(text)
    thought_text = ""
    if include_thoughts:
        plan = f"call the `{call['name']}` function" if call else "answer directly"
        thought_text = f'**Understanding the request**\n\nThe user asked "{quote(user_text)}". I will {plan}.\n\n'
        thoughts = max(thoughts, approx_tokens(thought_text))
    n = max(1, int(_get(config, "candidateCount") or 1))
    rid, version = response_id(model, body), model.split("/")[-1]

    def response(cand_parts: list[dict[str, Any]], finish_reason: str | None, final: bool) -> dict[str, Any]:
        cands = []
        for i in range(n):
            cand: dict[str, Any] = {"content": {"parts": cand_parts, "role": "model"}}
            if finish_reason:
                cand["finishReason"] = finish_reason
            cand["index"] = i
            cands.append(cand)
        usage = _usage(prompt, by_modality, out * n, thoughts, tool_use, cached, final)
        return {"candidates": cands, "usageMetadata": usage, "modelVersion": version, "responseId": rid}

    thought_parts = [{"text": thought_text, "thought": True}] if thought_text else []
    if not stream:
        return _json(response(thought_parts + parts, finish, True))
    events = [_event(response(thought_parts, None, False))] if thought_parts else []
    if call is not None:
        events.append(_event(response(parts, finish, True)))
    else:
        pieces = split_chunks(parts[0]["text"])
        events += [_event(response([{"text": p}], None, False)) for p in pieces[:-1]]
        events.append(_event(response([{"text": pieces[-1]}], finish, True)))
    return Reply(status=200, events=events, headers=list(_SSE))


# ---------------------------------------------------------------- tokens, embeddings, models


def count_tokens(body: dict[str, Any]) -> Reply:
    inner = _get(body, "generateContentRequest") or body
    contents = [c for c in _get(inner, "contents") or [] if isinstance(c, dict)]
    total, by_modality = _prompt_tokens(inner, contents)
    return _json({"totalTokens": total, "promptTokensDetails": [{"modality": m, "tokenCount": n} for m, n in by_modality.items()]})


def _embedding(request: dict[str, Any]) -> dict[str, Any]:
    text = " ".join(_part_text(p) for p in _parts(_get(request, "content")))
    dims = int(_get(request, "outputDimensionality") or 8)
    return {"values": embedding(text, dims)}


def embed_content(body: dict[str, Any]) -> Reply:
    return _json({"embedding": _embedding(body)})


def batch_embed_contents(body: dict[str, Any]) -> Reply:
    return _json({"embeddings": [_embedding(r) for r in _get(body, "requests") or [] if isinstance(r, dict)]})


_MODELS = ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash", "gemini-embedding-001"]


def model_info(name: str) -> dict[str, Any]:
    embed = "embedding" in name
    return {
        "name": f"models/{name}",
        "version": "001",
        "displayName": name,
        "description": "A model served by the llmdebug fake server.",
        "inputTokenLimit": 2048 if embed else 1048576,
        "outputTokenLimit": 1 if embed else 65536,
        "supportedGenerationMethods": ["embedContent", "countTokens"] if embed else
        ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"],
        **({} if embed else {"temperature": 1, "topP": 0.95, "topK": 64, "maxTemperature": 2, "thinking": True}),
    }


def models(name: str | None) -> Reply:
    if name:
        return _json(model_info(name))
    return _json({"models": [model_info(m) for m in _MODELS]})


def route(method: str, path: str, body: dict[str, Any]) -> Reply:
    """The reply for a Gemini path (``PATH`` or ``MODEL_PATH`` matched)."""
    if method == "POST" and (m := PATH.search(path)):
        model, action = m.group(1), m.group(2)
        if action in ("generateContent", "streamGenerateContent"):
            return generate_content(model, body, action == "streamGenerateContent")
        if action == "countTokens":
            return count_tokens(body)
        if action == "embedContent":
            return embed_content(body)
        if action == "batchEmbedContents":
            return batch_embed_contents(body)
    if method == "GET" and (m := MODEL_PATH.search(path)):
        return models(m.group(1))
    return error_reply(404, f"Method not found: {method} {path} (llmdebug fake server).")
