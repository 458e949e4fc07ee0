"""OpenAI: chat completions, Responses, embeddings, legacy completions and images, through
the ``openai`` SDK (``OpenAI``, ``AzureOpenAI`` and any OpenAI-compatible server).

``with_raw_response`` / ``with_streaming_response`` call the same methods, so they are
captured too; streams are observed at the HTTP layer. Everything llmdebug knows about
these APIs is here: what to wrap, how requests, responses, streams and usage read, how
a request is rebuilt for replay, and parameter names for the diff.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable

from ..pricing import PriceKey
from . import _ratelimits, _usage
from .base import (Endpoint, ProviderError, Reading, Target, Wire, captured_base_url, default_price_key,
                   error_of, sdk_method)

NAME = "openai"
SDK = "openai"
ALIASES = ("azure",)
# gen_ai.provider.name (OpenTelemetry GenAI conventions) values meaning this provider
OTEL_NAMES = ("openai", "azure.ai.openai", "azure_openai", "azure")
KEY_ENV = "OPENAI_API_KEY"
BASE_URL_ENV = "OPENAI_BASE_URL"

CHAT = Endpoint(NAME, "chat.completions", "openai-chat")
RESPONSES = Endpoint(NAME, "responses", "openai-responses")
EMBEDDINGS = Endpoint(NAME, "embeddings", "openai-embeddings")
COMPLETIONS = Endpoint(NAME, "completions", "openai-completions")
IMAGES = Endpoint(NAME, "images.generate", "openai-images")

_M_CHAT = "openai.resources.chat.completions.completions"
_M_RESP = "openai.resources.responses.responses"

TARGETS = [
    Target(_M_CHAT, "Completions.create", CHAT),
    Target(_M_CHAT, "AsyncCompletions.create", CHAT, is_async=True),
    Target(_M_CHAT, "Completions.parse", CHAT),
    Target(_M_CHAT, "AsyncCompletions.parse", CHAT, is_async=True),
    Target(_M_RESP, "Responses.create", RESPONSES),
    Target(_M_RESP, "AsyncResponses.create", RESPONSES, is_async=True),
    Target(_M_RESP, "Responses.parse", RESPONSES),
    Target(_M_RESP, "AsyncResponses.parse", RESPONSES, is_async=True),
    Target("openai.resources.embeddings", "Embeddings.create", EMBEDDINGS),
    Target("openai.resources.embeddings", "AsyncEmbeddings.create", EMBEDDINGS, is_async=True),
    Target("openai.resources.completions", "Completions.create", COMPLETIONS),
    Target("openai.resources.completions", "AsyncCompletions.create", COMPLETIONS, is_async=True),
    Target("openai.resources.images", "Images.generate", IMAGES),
    Target("openai.resources.images", "AsyncImages.generate", IMAGES, is_async=True),
]

# Span.endpoint -> how the SDK method is reached from a client, for replay.
_METHODS = {
    "chat.completions": ("chat", "completions", "create"),
    "responses": ("responses", "create"),
    "embeddings": ("embeddings", "create"),
    "completions": ("completions", "create"),
    "images.generate": ("images", "generate"),
}


# -- usage ---------------------------------------------------------------------------
def chat_usage(usage: Any) -> dict:
    """chat.completions and legacy completions: ``prompt_tokens``, ``completion_tokens``,
    ``prompt_tokens_details.cached_tokens``, ``completion_tokens_details.reasoning_tokens``
    (DeepSeek's ``prompt_cache_hit_tokens`` as a fallback for cached tokens)."""
    out = _usage.empty()
    if not isinstance(usage, dict):
        return out
    inp, outp = _usage.get(usage, "prompt_tokens"), _usage.get(usage, "completion_tokens")
    pdet, cdet = _usage.sub(usage, "prompt_tokens_details"), _usage.sub(usage, "completion_tokens_details")
    cached = _usage.get(pdet, "cached_tokens")
    if cached is None:  # DeepSeek
        cached = _usage.get(usage, "prompt_cache_hit_tokens")
    out.update(input_tokens=inp, output_tokens=outp, cached_tokens=cached,
               cache_write_tokens=_usage.get(pdet, "cache_write_tokens"),
               reasoning_tokens=_usage.get(cdet, "reasoning_tokens"),
               total_tokens=_usage.total(inp, outp, _usage.get(usage, "total_tokens")))
    return out


def responses_usage(usage: Any) -> dict:
    """The Responses API: ``input_tokens``, ``output_tokens``, ``input_tokens_details.cached_tokens``,
    ``output_tokens_details.reasoning_tokens``."""
    out = _usage.empty()
    if not isinstance(usage, dict):
        return out
    inp, outp = _usage.get(usage, "input_tokens"), _usage.get(usage, "output_tokens")
    idet, odet = _usage.sub(usage, "input_tokens_details"), _usage.sub(usage, "output_tokens_details")
    out.update(input_tokens=inp, output_tokens=outp, cached_tokens=_usage.get(idet, "cached_tokens"),
               cache_write_tokens=_usage.get(idet, "cache_write_tokens"),
               reasoning_tokens=_usage.get(odet, "reasoning_tokens"),
               total_tokens=_usage.total(inp, outp, _usage.get(usage, "total_tokens")))
    return out


def embeddings_usage(usage: Any) -> dict:
    """Embeddings: ``prompt_tokens`` only (no output)."""
    out = _usage.empty()
    if not isinstance(usage, dict):
        return out
    inp = _usage.get(usage, "prompt_tokens")
    out["input_tokens"] = inp
    out["total_tokens"] = inp if inp is not None else _usage.get(usage, "total_tokens")
    return out


# -- streams -------------------------------------------------------------------------
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


def _chat_events(resp: dict) -> list[bytes]:
    """A chat completion as its stream: one delta per choice, its finish, usage, [DONE]."""
    meta = {k: resp[k] for k in ("id", "created", "model", "system_fingerprint") if k in resp}
    meta["object"] = "chat.completion.chunk"

    def chunk(**fields: Any) -> bytes:
        return b"data: " + json.dumps(dict(meta, **fields)).encode() + b"\n\n"

    out = []
    for c in resp.get("choices") or ():
        msg = c.get("message") or {}
        delta = {"role": msg.get("role", "assistant"), "content": msg.get("content")}
        if msg.get("tool_calls"):
            delta["tool_calls"] = [dict(tc, index=i) for i, tc in enumerate(msg["tool_calls"])]
        if msg.get("refusal"):
            delta["refusal"] = msg["refusal"]
        out.append(chunk(choices=[{"index": c.get("index", 0), "delta": delta, "finish_reason": None}]))
        out.append(chunk(choices=[{"index": c.get("index", 0), "delta": {}, "finish_reason": c.get("finish_reason")}]))
    if resp.get("usage"):
        out.append(chunk(choices=[], usage=resp["usage"]))
    return out + [b"data: [DONE]\n\n"]


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



# -- outputs -------------------------------------------------------------------------
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


def _summarise_embeddings(resp: dict) -> dict:
    out = dict(resp)
    data = []
    for item in resp.get("data") or ():
        emb = item.get("embedding") if isinstance(item, dict) else None
        dims = len(emb) if isinstance(emb, list) else (len(emb) * 3 // 4 // 4 if isinstance(emb, str) else None)
        data.append({"index": item.get("index"), "dimensions": dims, "embedding": "<omitted by llmdebug>"})
    out["data"] = data
    return out



# -- wire formats ---------------------------------------------------------------------
class ChatWire(Wire):
    """Chat completions (and the OpenAI-shaped requests litellm takes)."""

    id = "openai-chat"
    conversational = True
    param_names = {"max_completion_tokens": "max_tokens"}

    def messages(self, request: Any) -> Any:
        if not isinstance(request, dict):
            return None
        msgs = request.get("messages")
        if msgs is not None and "system" in request:  # an anthropic-style request through litellm
            return [{"role": "system", "content": request["system"]}] + list(msgs)
        return msgs

    def set_messages(self, request: dict, conversation: list) -> None:
        system = [m for m in conversation if isinstance(m, dict) and m.get("role") == "system"]
        rest = [m for m in conversation if not (isinstance(m, dict) and m.get("role") == "system")]
        if "system" in request:  # keep an anthropic-style request anthropic-style
            request.pop("system", None)
            if system and system[0].get("content"):
                request["system"] = system[0]["content"]
            request["messages"] = rest
        else:
            request["messages"] = system[:1] + rest

    def assemble(self, events: list) -> tuple[dict, float | None]:
        return _assemble_chat(events)

    def events(self, response: dict) -> list[bytes] | None:
        return _chat_events(response)

    def usage(self, block: Any) -> dict:
        return chat_usage(block)

    def read(self, response: dict) -> Reading:
        text, calls = _chat_output(response)
        return Reading(response.get("model"), chat_usage(response.get("usage")), text, calls, error_of(response))


class CompletionsWire(ChatWire):
    """The legacy completions API (a prompt, choices with ``text``)."""

    id = "openai-completions"
    conversational = False

    def messages(self, request: Any) -> Any:
        return [{"role": "user", "content": request.get("prompt")}] if isinstance(request, dict) else None

    def set_messages(self, request: dict, conversation: list) -> None:
        Wire.set_messages(self, request, conversation)


class ResponsesWire(Wire):
    id = "openai-responses"
    conversational = True
    param_aliases = {"max_tokens": "max_output_tokens"}
    param_names = {"max_output_tokens": "max_tokens", "text.format": "response_format"}

    def messages(self, request: Any) -> Any:
        if not isinstance(request, dict):
            return None
        head = [{"role": "system", "content": request["instructions"]}] if request.get("instructions") else []
        inp = request.get("input")
        return head + (list(inp) if isinstance(inp, list) else [{"role": "user", "content": inp}])

    def set_messages(self, request: dict, conversation: list) -> None:
        system = [m for m in conversation if isinstance(m, dict) and m.get("role") == "system"]
        request.pop("instructions", None)
        if system and system[0].get("content"):
            request["instructions"] = system[0]["content"]
        request["input"] = [m for m in conversation if not (isinstance(m, dict) and m.get("role") == "system")]

    def assemble(self, events: list) -> tuple[dict, float | None]:
        return _assemble_responses(events)

    def usage(self, block: Any) -> dict:
        return responses_usage(block)

    def read(self, response: dict) -> Reading:
        text, calls = _responses_output(response)
        return Reading(response.get("model"), responses_usage(response.get("usage")), text, calls, error_of(response))


class EmbeddingsWire(Wire):
    id = "openai-embeddings"

    def messages(self, request: Any) -> Any:
        return request.get("input") if isinstance(request, dict) else None

    def usage(self, block: Any) -> dict:
        return embeddings_usage(block)

    def stored(self, response: Any) -> Any:
        return _summarise_embeddings(response) if isinstance(response, dict) else response


class ImagesWire(Wire):
    id = "openai-images"

    def messages(self, request: Any) -> Any:
        return [{"role": "user", "content": request.get("prompt")}] if isinstance(request, dict) else None


WIRES = {w.id: w for w in (ChatWire(), CompletionsWire(), ResponsesWire(), EmbeddingsWire(), ImagesWire())}
ENDPOINT_WIRES = {e.name: e.wire for e in (CHAT, RESPONSES, EMBEDDINGS, COMPLETIONS, IMAGES)}
# HTTP path suffixes (checked in order: /chat/completions before /completions).
PATHS = (
    ("/chat/completions", "openai-chat"),
    ("/responses", "openai-responses"),
    ("/embeddings", "openai-embeddings"),
    ("/completions", "openai-completions"),
    ("/images/generations", "openai-images"),
)
# Rate-limit headers (OpenAI, Azure OpenAI and the many servers that copy them); resets
# are durations such as "6m0s" or "120ms".
RATE_LIMITS = _ratelimits.Family(
    requests=(_ratelimits.Limit(b"x-ratelimit-limit-requests", b"x-ratelimit-remaining-requests",
                                b"x-ratelimit-reset-requests"),),
    tokens=(_ratelimits.Limit(b"x-ratelimit-limit-tokens", b"x-ratelimit-remaining-tokens",
                              b"x-ratelimit-reset-tokens"),),
    reset=_ratelimits.duration_s,
)
# Response headers kept in each HTTP attempt's event.
EVENT_HEADERS = (b"x-request-id", b"x-ratelimit-remaining-requests")


def adjust(span: Any) -> None:
    if span.provider == NAME and span.base_url and ".azure.com" in span.base_url:
        span.provider = "azure"


def price_key(provider: str | None, model: str) -> PriceKey:
    return default_price_key(provider, model)


def replay_callable(span: Any, client: Any = None, base_url: str | None = None) -> Callable:
    """``client.<endpoint method>``; without a client, one for ``base_url`` (default: where
    the call went) with the environment's key."""
    path = _METHODS.get(span.endpoint or "")
    if path is None:
        raise ProviderError(f"replay of openai {span.endpoint} calls is not supported")
    if client is None:
        base_url = base_url or captured_base_url(span)
        if span.provider == "azure":  # deployments and api-version: only an AzureOpenAI client knows them
            raise ProviderError(f"replaying an Azure call needs its client: pass client=openai.AzureOpenAI(...) "
                                f"(the call went to {base_url or 'Azure'})")
        if not os.environ.get(KEY_ENV):
            raise ProviderError(f"{KEY_ENV} is not set: set it, or pass client= (an openai.OpenAI with a key) "
                                f"to replay this {span.provider} call to {base_url or 'the API'}")
        import openai

        client = openai.OpenAI(base_url=base_url) if base_url else openai.OpenAI()
    return sdk_method(client, path)


def sync_client(client: Any) -> Any:
    """A sync client with an async client's key and base URL (replays run synchronously)."""
    import openai

    return openai.OpenAI(api_key=client.api_key, base_url=client.base_url, organization=client.organization,
                         project=client.project, max_retries=client.max_retries, timeout=client.timeout)


def request_from_chat(model: Any, messages: list[dict], tools: list, params: dict) -> tuple[str, dict]:
    """The request this API would have been sent for a conversation recorded elsewhere
    (OpenTelemetry messages: ``{"role", "content", "tool_calls": [{"id", "name", "arguments"}],
    "tool_call_id", "name"}``), and its endpoint."""
    wire = []
    for m in messages:
        w: dict[str, Any] = {"role": m["role"], "content": m.get("content")}
        if m.get("tool_calls"):
            w["tool_calls"] = [{"id": c["id"] or f"call_{i}", "type": "function",
                                "function": {"name": c["name"], "arguments": c["arguments"] or "{}"}}
                               for i, c in enumerate(m["tool_calls"])]
        if m.get("tool_call_id"):
            w["tool_call_id"] = m["tool_call_id"]
        if m.get("name") and m["role"] != "tool":
            w["name"] = m["name"]
        wire.append(w)
    req: dict[str, Any] = {"model": model, "messages": wire, **params}
    if tools:
        req["tools"] = tools
    return "chat.completions", req
