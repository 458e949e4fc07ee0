"""Google Gen AI (Gemini): ``client.models.generate_content`` and ``generate_content_stream``,
sync and ``client.aio``, through the ``google-genai`` SDK.

One span per model request: the SDK's private ``_generate_content`` and
``_generate_content_stream`` are wrapped, so automatic function calling (the SDK calling
a Python tool between two model requests inside one ``generate_content``) shows every
model request. The sync client sends with httpx2, the async one with aiohttp when it is
installed (both observed at the HTTP layer, see ``capture/``). Requests and responses
are the REST API's JSON (camelCase; the SDK keeps some nested keys snake_case, and its
own objects dump snake_case, so both spellings are read).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Callable

from ..pricing import PriceKey
from . import _usage
from .base import (Endpoint, ProviderError, Reading, Target, Wire, captured_base_url, default_price_key,
                   error_of)

NAME = "google"
SDK = "google.genai"
ALIASES = ("gemini",)
OTEL_NAMES = ("gcp.gemini", "gcp.vertex_ai", "gcp.gen_ai", "vertex_ai", "vertexai", "gemini", "google")
KEY_ENVS = ("GOOGLE_API_KEY", "GEMINI_API_KEY")
KEY_ENV = KEY_ENVS[0]
BASE_URL_ENV = "GOOGLE_GEMINI_BASE_URL"

GENERATE = Endpoint(NAME, "generate_content", "gemini")
_M = "google.genai.models"

TARGETS = [
    Target(_M, "Models._generate_content", GENERATE),
    Target(_M, "Models._generate_content_stream", GENERATE, stream=True, generator=True),
    Target(_M, "AsyncModels._generate_content", GENERATE, is_async=True),
    # an async method that sends the request, then returns an async iterator of chunks
    Target(_M, "AsyncModels._generate_content_stream", GENERATE, is_async=True, stream=True),
]

_PATH = re.compile(r"^(.*?)/v1[a-z0-9]*/(?:projects/[^/]+/locations/[^/]+/)?(?:publishers/google/)?"
                   r"models/[^/:]+:(?:generateContent|streamGenerateContent)$")


def _get(d: Any, key: str) -> Any:
    """``d[key]`` in camelCase or snake_case."""
    if not isinstance(d, dict):
        return None
    v = d.get(key)
    if v is None:
        v = d.get(re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), key))
    return v


def usage(meta: Any) -> dict:
    """``usageMetadata``: ``promptTokenCount`` (cached tokens included) plus
    ``toolUsePromptTokenCount`` in, ``candidatesTokenCount`` plus ``thoughtsTokenCount``
    out (Gemini reports thinking apart from the answer), ``cachedContentTokenCount``."""
    out = _usage.empty()
    if not isinstance(meta, dict):
        return out
    prompt = _usage.count(_get(meta, "promptTokenCount"))
    tool_prompt = _usage.count(_get(meta, "toolUsePromptTokenCount"))
    answer = _usage.count(_get(meta, "candidatesTokenCount"))
    thoughts = _usage.count(_get(meta, "thoughtsTokenCount"))
    inp = _usage.add(prompt, tool_prompt) if prompt is not None else None
    outp = _usage.add(answer, thoughts) if (answer is not None or thoughts is not None) else None
    out.update(input_tokens=inp, output_tokens=outp, cached_tokens=_usage.count(_get(meta, "cachedContentTokenCount")),
               reasoning_tokens=thoughts, total_tokens=_usage.total(inp, outp, _usage.count(_get(meta, "totalTokenCount"))))
    return out


def _output(resp: dict) -> tuple[str | None, list | None]:
    texts, calls = [], []
    candidates = _get(resp, "candidates") or []
    first = candidates[0] if candidates and isinstance(candidates[0], dict) else {}
    for part in (_get(first, "content") or {}).get("parts") or ():
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("text"), str) and not part.get("thought"):
            texts.append(part["text"])
        fc = _get(part, "functionCall")
        if isinstance(fc, dict):
            calls.append({"id": fc.get("id"), "name": fc.get("name"), "arguments": json.dumps(fc.get("args") or {})})
    return ("".join(texts) if texts else None), (calls or None)


def _assemble(events: list) -> tuple[dict, float | None]:
    """Stream chunks (each a partial response) as one response: parts joined per
    candidate (consecutive text merged), usage and finish reason from the last."""
    resp: dict = {}
    cands: dict[int, dict] = {}
    first = None
    for t, _, d in events:
        if not isinstance(d, dict):
            continue
        if "error" in d:
            resp["error"] = d["error"]
        for key in ("modelVersion", "responseId", "usageMetadata", "promptFeedback", "createTime"):
            v = _get(d, key)
            if v is not None:
                resp[key] = v
        for i, c in enumerate(_get(d, "candidates") or []):
            if not isinstance(c, dict):
                continue
            slot = cands.setdefault(c.get("index", i), {"content": {"role": "model", "parts": []}})
            for part in (_get(c, "content") or {}).get("parts") or ():
                if not isinstance(part, dict):
                    continue
                parts = slot["content"]["parts"]
                if first is None and (part.get("text") or _get(part, "functionCall")) and not part.get("thought"):
                    first = t
                if (isinstance(part.get("text"), str) and parts and isinstance(parts[-1].get("text"), str)
                        and bool(parts[-1].get("thought")) == bool(part.get("thought")) and len(part) == 1 + ("thought" in part)):
                    parts[-1] = dict(parts[-1], text=parts[-1]["text"] + part["text"])
                else:
                    parts.append(dict(part))
            for key in ("finishReason", "safetyRatings", "citationMetadata"):
                v = _get(c, key)
                if v is not None:
                    slot[key] = v
    resp["candidates"] = [dict(cands[i], index=i) for i in sorted(cands)]
    return resp, first


class GeminiWire(Wire):
    id = "gemini"
    conversational = True
    conversation_keys = frozenset({"contents", "systemInstruction", "system_instruction", "tools"})
    param_aliases = {"max_tokens": "maxOutputTokens", "temperature": "temperature", "top_p": "topP",
                     "top_k": "topK", "stop": "stopSequences"}
    param_names = {"generationConfig.maxOutputTokens": "max_tokens", "generationConfig.temperature": "temperature",
                   "generationConfig.topP": "top_p", "generationConfig.topK": "top_k",
                   "generationConfig.stopSequences": "stop", "generationConfig.seed": "seed",
                   "generationConfig.candidateCount": "n", "generationConfig.responseMimeType": "response_format",
                   "generationConfig.presencePenalty": "presence_penalty",
                   "generationConfig.frequencyPenalty": "frequency_penalty", "toolConfig": "tool_choice"}

    def messages(self, request: Any) -> Any:
        if not isinstance(request, dict):
            return None
        system = _get(request, "systemInstruction")
        head = []
        if isinstance(system, dict):
            text = "\n".join(p.get("text", "") for p in system.get("parts") or () if isinstance(p, dict))
            head = [{"role": "system", "content": text}]
        elif isinstance(system, str):
            head = [{"role": "system", "content": system}]
        return head + list(_get(request, "contents") or [])

    def set_messages(self, request: dict, conversation: list) -> None:
        system = [m for m in conversation if isinstance(m, dict) and m.get("role") == "system"]
        request.pop("systemInstruction", None)
        request.pop("system_instruction", None)
        if system and system[0].get("content"):
            request["systemInstruction"] = {"parts": [{"text": str(system[0]["content"])}]}
        contents = []
        for m in conversation:
            if not isinstance(m, dict) or m.get("role") == "system":
                continue
            role = {"assistant": "model"}.get(str(m.get("role") or "user"), str(m.get("role") or "user"))
            if "content" in m:  # an edited message: its text replaces the parts
                content = m["content"]
                parts = content if isinstance(content, list) else [{"text": str(content)}]
            else:
                parts = m.get("parts") or []
            contents.append({"role": role, "parts": parts})
        request["contents"] = contents

    def tools(self, request: Any) -> list[dict]:
        out = []
        for t in (_get(request, "tools") or []) if isinstance(request, dict) else []:
            for fn in (_get(t, "functionDeclarations") or []) if isinstance(t, dict) else []:
                if isinstance(fn, dict):
                    out.append({"name": fn.get("name"), "description": fn.get("description"),
                                "parameters": fn.get("parameters") or _get(fn, "parametersJsonSchema")})
        return out

    def usage(self, block: Any) -> dict:
        return usage(block)

    def assemble(self, events: list) -> tuple[dict, float | None]:
        return _assemble(events)

    def read(self, response: dict) -> Reading:
        text, calls = _output(response)
        model = _get(response, "modelVersion")
        return Reading(model, usage(_get(response, "usageMetadata")), text, calls, error_of(response))

    def sdk_kwargs(self, request: dict, span: Any) -> dict:
        """The REST body back as ``generate_content`` arguments: ``model``, ``contents``
        and a ``config`` holding generation settings, system instruction and tools."""
        config = dict(_get(request, "generationConfig") or {})
        for key in ("systemInstruction", "tools", "toolConfig", "safetySettings", "cachedContent", "labels"):
            v = _get(request, key)
            if v is not None:
                config[key] = v
        for key, v in request.items():  # parameters set by a replay edit (max_tokens=...)
            if key not in self.conversation_keys and key not in config and key not in (
                    "generationConfig", "generation_config", "model", "stream", "toolConfig", "tool_config",
                    "safetySettings", "cachedContent", "labels"):
                config[key] = v
        model = request.get("model") or span.request_model or span.model
        return {"model": model, "contents": _get(request, "contents") or [], "config": config or None}


WIRES = {"gemini": GeminiWire()}
ENDPOINT_WIRES = {"generate_content": "gemini"}
PATHS = ()


def match_path(path: str) -> tuple[str, str] | None:
    """(wire, base URL) of a Gemini REST URL (the model is in the path)."""
    m = _PATH.match(path)
    return ("gemini", m.group(1)) if m else None


def adjust(span: Any) -> None:
    if span.model and span.model.startswith("models/"):
        span.model = span.model[len("models/"):]
    if span.request_model and span.request_model.startswith("models/"):
        span.request_model = span.request_model[len("models/"):]


def price_key(provider: str | None, model: str) -> PriceKey:
    return default_price_key("google", model)


def replay_callable(span: Any, client: Any = None, base_url: str | None = None) -> Callable:
    """``client.models.generate_content`` (``_stream`` for a streamed call), taking the
    REST body back as SDK arguments."""
    if span.endpoint != "generate_content":
        raise ProviderError(f"replay of google {span.endpoint} calls is not supported")
    if client is None:
        base_url = base_url or captured_base_url(span)
        key = next((os.environ[k] for k in KEY_ENVS if os.environ.get(k)), None)
        if not key:
            raise ProviderError(f"{KEY_ENV} is not set: set it, or pass client= (a genai.Client with a key) "
                                f"to replay this google call to {base_url or 'the API'}")
        from google import genai

        options = genai.types.HttpOptions(base_url=base_url) if base_url else None
        client = genai.Client(api_key=key, http_options=options)
    wire = WIRES["gemini"]

    def send(**request: Any) -> Any:
        # ``client`` is used here, not just its bound method: genai.Client closes its
        # HTTP client when it is collected.
        method = client.models.generate_content_stream if span.stream else client.models.generate_content
        return method(**wire.sdk_kwargs(request, span))

    return send
