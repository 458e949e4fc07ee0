"""What an OpenTelemetry span means, as an llmdebug span.

Three conventions describe LLM work in OTel attributes, and frameworks mix them:

- the OpenTelemetry **GenAI semantic conventions**: ``gen_ai.operation.name``,
  ``gen_ai.provider.name`` (``gen_ai.system`` before it), ``gen_ai.request.*``,
  ``gen_ai.response.*``, ``gen_ai.usage.*``; messages as ``gen_ai.input.messages`` /
  ``gen_ai.output.messages`` / ``gen_ai.system_instructions`` (current), as span events
  ``gen_ai.user.message`` … ``gen_ai.choice`` (older), or as ``gen_ai.prompt`` /
  ``gen_ai.completion`` JSON (oldest); tools as ``gen_ai.tool.*``, agents as
  ``gen_ai.agent.*``;
- **OpenInference** (Arize Phoenix): ``openinference.span.kind``, ``llm.*``,
  ``llm.input_messages.N.message.*``, ``input.value`` / ``output.value``,
  ``retrieval.documents.N.document.*``, ``tool.*``;
- **OpenLLMetry** (Traceloop): ``traceloop.span.kind``, ``traceloop.entity.*``,
  ``gen_ai.prompt.N.*`` / ``gen_ai.completion.N.*``, ``llm.usage.*``.

An LLM span's messages are rebuilt into the request its API would have been sent (the
provider module's ``request_from_chat``; OpenAI's chat shape by default), so the detail pane, diff and replay read it
like a captured call. Everything else keeps its kind, name, input, output and attributes.
"""

from __future__ import annotations

import json
from typing import Any

from .. import pricing, providers
from .._json import loads as _json_loads
from ..tracing import Span
from .record import OtelSpan

__all__ = ["to_span", "is_llm", "kind_of", "chat_message", "tool_call", "SOURCE_KEY"]

SOURCE_KEY = "otel"  # Span.metadata[SOURCE_KEY]: where an ingested span came from

_OPENINFERENCE_KINDS = {
    "LLM": "llm", "CHAIN": "chain", "TOOL": "tool", "AGENT": "agent", "RETRIEVER": "retrieval",
    "EMBEDDING": "embedding", "RERANKER": "reranker", "GUARDRAIL": "guardrail", "EVALUATOR": "eval",
    "PROMPT": "prompt",
}
_GENAI_OPERATIONS = {
    "chat": "llm", "text_completion": "llm", "generate_content": "llm", "completion": "llm",
    "responses": "llm", "embeddings": "embedding", "embedding": "embedding", "execute_tool": "tool",
    "invoke_agent": "agent", "create_agent": "agent",
}
_TRACELOOP_KINDS = {"workflow": "chain", "task": "chain", "agent": "agent", "tool": "tool"}
_TRACELOOP_REQUEST_TYPES = {"chat": "llm", "completion": "llm", "embedding": "embedding", "rerank": "reranker"}

# first key present wins
_MODEL = ("gen_ai.response.model", "llm.model_name", "gen_ai.request.model", "embedding.model_name")
_REQUEST_MODEL = ("gen_ai.request.model", "llm.model_name", "embedding.model_name")
_PROVIDER = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
_INPUT = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt",
          "llm.usage.prompt_tokens")
_OUTPUT = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion",
           "llm.usage.completion_tokens")
_TOTAL = ("gen_ai.usage.total_tokens", "llm.token_count.total", "llm.usage.total_tokens")
_CACHED = ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
           "gen_ai.usage.input_tokens.cached", "llm.token_count.prompt_details.cache_read",
           "gen_ai.usage.cached_tokens")
_CACHE_WRITE = ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens",
                "gen_ai.usage.input_tokens.cache_write", "llm.token_count.prompt_details.cache_write")
_REASONING = ("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.output_tokens.reasoning",
              "llm.token_count.completion_details.reasoning", "gen_ai.usage.reasoning_tokens")
_COST = ("llm.cost.total", "gen_ai.usage.cost", "gen_ai.cost.total", "operation.cost")
# request parameters under their OpenAI names
_PARAMS = {
    "gen_ai.request.temperature": "temperature", "gen_ai.request.max_tokens": "max_tokens",
    "gen_ai.request.top_p": "top_p", "gen_ai.request.top_k": "top_k",
    "gen_ai.request.frequency_penalty": "frequency_penalty",
    "gen_ai.request.presence_penalty": "presence_penalty", "gen_ai.request.seed": "seed",
    "gen_ai.request.stop_sequences": "stop", "gen_ai.request.choice.count": "n",
}
_EVENT_ROLES = {"gen_ai.system.message": "system", "gen_ai.user.message": "user",
                "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool"}
# attributes that carry a call's messages (mapped into its request and response)
_MESSAGE_ATTRIBUTES = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
                       "llm.input_messages.", "llm.output_messages.", "gen_ai.prompt", "gen_ai.completion",
                       "input.value", "output.value")
MAX_ATTRIBUTE_CHARS = 20_000  # one attribute kept in Span.attributes (the mapped fields keep everything)


def _first(attrs: dict, keys: tuple[str, ...]) -> Any:
    for k in keys:
        v = attrs.get(k)
        if v is not None and v != "":
            return v
    return None


def _count(attrs: dict, keys: tuple[str, ...]) -> int | None:
    v = _first(attrs, keys)
    if isinstance(v, bool):
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, str) and v.isdigit():
        v = int(v)
    return v if isinstance(v, int) and v >= 0 else None


def _loads(v: Any) -> Any:
    """A JSON attribute's value (text that is not JSON stays text)."""
    if isinstance(v, (str, bytes)) and v[:1] in ("{", "[", b"{", b"["):
        try:
            return _json_loads(v)
        except ValueError:
            return v
    return v


def kind_of(attrs: dict, name: str = "") -> str:
    """llmdebug's kind for a span with these attributes: llm, embedding, tool, agent, chain,
    retrieval, reranker, guardrail, eval, prompt, http or span."""
    v = attrs.get("openinference.span.kind")
    if isinstance(v, str) and v.upper() in _OPENINFERENCE_KINDS:
        return _OPENINFERENCE_KINDS[v.upper()]
    v = attrs.get("gen_ai.operation.name")
    if isinstance(v, str) and v in _GENAI_OPERATIONS:
        return _GENAI_OPERATIONS[v]
    v = attrs.get("traceloop.span.kind")
    if isinstance(v, str) and v in _TRACELOOP_KINDS:
        return _TRACELOOP_KINDS[v]
    v = attrs.get("llm.request.type")
    if isinstance(v, str) and v in _TRACELOOP_REQUEST_TYPES:
        return _TRACELOOP_REQUEST_TYPES[v]
    if "gen_ai.tool.name" in attrs or "tool.name" in attrs and "llm.model_name" not in attrs:
        return "tool"
    if "gen_ai.agent.name" in attrs:
        return "agent"
    if "gen_ai.request.model" in attrs or "llm.model_name" in attrs:
        return "llm"
    if "http.request.method" in attrs or "http.method" in attrs:
        return "http"
    return "span"


def is_llm(attrs: dict) -> bool:
    """Whether these attributes describe one LLM call (what llmdebug's own capture sees too)."""
    return kind_of(attrs) == "llm"


# -- indexed attributes (llm.input_messages.0.message.role = ...) -------------------------


# attribute families spelled prefix.N.rest; which ones a span has is found in one pass
_FAMILIES = ("llm.input_messages.", "llm.output_messages.", "gen_ai.prompt.", "gen_ai.completion.", "llm.tools.",
             "llm.request.functions.", "retrieval.documents.")


def _families(attrs: dict) -> frozenset[str]:
    found = set()
    for k in attrs:
        if k.startswith(_FAMILIES):
            found.update(f for f in _FAMILIES if k.startswith(f))
    return frozenset(found)


def _indexed(attrs: dict, prefix: str) -> list[dict]:
    """``prefix.N.rest = v`` attributes as a list of ``{rest: v}`` dicts, in index order."""
    found: dict[int, dict] = {}
    n = len(prefix)
    for k, v in attrs.items():
        if not k.startswith(prefix):
            continue
        idx, _, rest = k[n:].partition(".")
        if idx.isdigit():
            found.setdefault(int(idx), {})[rest] = v
    return [found[i] for i in sorted(found)]


def _sub(flat: dict, prefix: str) -> list[dict]:
    return _indexed(flat, prefix)


# -- messages: each {"role", "content", "tool_calls": [{"id","name","arguments"}], "tool_call_id", "name"}


def tool_call(id_: Any, name: Any, arguments: Any) -> dict:
    """One tool call in the neutral message shape (arguments as JSON text)."""
    if arguments is not None and not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False, default=str)
    return {"id": id_, "name": name, "arguments": arguments}


def chat_message(role: Any, content: Any = None, tool_calls: list | None = None, tool_call_id: Any = None,
                 name: Any = None) -> dict:
    """One message in the neutral shape both importers build requests from."""
    m: dict[str, Any] = {"role": str(role or "user"), "content": content}
    if tool_calls:
        m["tool_calls"] = tool_calls
    if tool_call_id:
        m["tool_call_id"] = tool_call_id
    if name:
        m["name"] = name
    return m


def _text_of_parts(parts: Any) -> str | None:
    if isinstance(parts, str):
        return parts
    if isinstance(parts, tuple):
        parts = list(parts)
    if not isinstance(parts, list):
        return None if parts is None else json.dumps(parts, ensure_ascii=False, default=str)
    texts = [str(p.get("content") if "content" in p else p.get("text", "")) for p in parts
             if isinstance(p, dict) and p.get("type") in ("text", "thinking", "reasoning", None)]
    return "".join(texts) if texts else None


def _genai_messages(value: Any) -> list[dict]:
    """``gen_ai.input.messages`` / ``gen_ai.output.messages`` (parts-based, current spec)."""
    out = []
    for m in _loads(value) or ():
        if not isinstance(m, dict):
            continue
        parts = m.get("parts")
        if parts is None:  # an OpenAI-shaped message under the new key
            out.append(_openai_message(m))
            continue
        calls, texts, results = [], [], []
        for p in parts if isinstance(parts, (list, tuple)) else ():
            if not isinstance(p, dict):
                continue
            t = p.get("type")
            if t == "tool_call":
                calls.append(tool_call(p.get("id"), p.get("name"), p.get("arguments")))
            elif t == "tool_call_response":
                r = p.get("response", p.get("result"))
                r = r if isinstance(r, str) else json.dumps(r, ensure_ascii=False, default=str)
                results.append(chat_message("tool", r, tool_call_id=p.get("id"), name=p.get("name")))
            elif t in ("text", "thinking", "reasoning") or "content" in p:
                c = p.get("content")
                texts.append(c if isinstance(c, str) else json.dumps(c, ensure_ascii=False, default=str))
        # each tool result is its own message (OpenAI's shape), whatever role carried it
        out.extend(results)
        if results and not texts and not calls:
            continue
        role = m.get("role") or "assistant"
        msg = chat_message(role, "".join(texts) if texts else None, calls, None, m.get("name"))
        if m.get("finish_reason"):
            msg["finish_reason"] = m["finish_reason"]
        out.append(msg)
    return out


def _openai_message(m: dict) -> dict:
    content = m.get("content")
    if isinstance(content, list):
        content = _text_of_parts(content)
    calls = []
    for c in m.get("tool_calls") or ():
        if isinstance(c, dict):
            fn = c.get("function") or {}
            calls.append(tool_call(c.get("id"), fn.get("name", c.get("name")), fn.get("arguments", c.get("arguments"))))
    fc = m.get("function_call")
    if isinstance(fc, dict):
        calls.append(tool_call(None, fc.get("name"), fc.get("arguments")))
    return chat_message(m.get("role"), content, calls, m.get("tool_call_id") or m.get("id") if m.get("role") == "tool"
                    else m.get("tool_call_id"), m.get("name"))


def _openinference_messages(attrs: dict, prefix: str) -> list[dict]:
    out = []
    for m in _indexed(attrs, prefix):
        content = m.get("message.content")
        if content is None:
            parts = [p.get("message_content.text") for p in _sub(m, "message.contents.")
                     if p.get("message_content.type", "text") == "text"]
            content = "".join(x for x in parts if isinstance(x, str)) or None
        calls = [tool_call(c.get("tool_call.id"), c.get("tool_call.function.name"), c.get("tool_call.function.arguments"))
                 for c in _sub(m, "message.tool_calls.")]
        out.append(chat_message(m.get("message.role"), content, calls, m.get("message.tool_call_id"),
                            m.get("message.name")))
    return out


def _traceloop_messages(attrs: dict, prefix: str) -> list[dict]:
    out = []
    for m in _indexed(attrs, prefix):
        calls = [tool_call(c.get("id"), c.get("name"), c.get("arguments")) for c in _sub(m, "tool_calls.")]
        if m.get("function_call.name"):
            calls.append(tool_call(None, m.get("function_call.name"), m.get("function_call.arguments")))
        content = _loads(m.get("content"))
        if isinstance(content, list):
            content = _text_of_parts(content)
        msg = chat_message(m.get("role") or ("assistant" if "completion" in prefix else "user"), content, calls,
                       m.get("tool_call_id"))
        if m.get("finish_reason"):
            msg["finish_reason"] = m["finish_reason"]
        out.append(msg)
    return out


def _event_messages(events: list) -> tuple[list[dict], list[dict]]:
    """The older GenAI form: one span event per message, ``gen_ai.choice`` per output."""
    inp, out = [], []
    for e in events:
        a = e.attributes
        if e.name in _EVENT_ROLES:
            calls = []
            for c in _loads(a.get("tool_calls")) or ():
                if isinstance(c, dict):
                    fn = c.get("function") or {}
                    calls.append(tool_call(c.get("id"), fn.get("name"), fn.get("arguments")))
            content = _loads(a.get("content"))
            if isinstance(content, list):
                content = _text_of_parts(content)
            inp.append(chat_message(a.get("role") or _EVENT_ROLES[e.name], content, calls,
                                a.get("id") if e.name == "gen_ai.tool.message" else None))
        elif e.name == "gen_ai.choice":
            m = _loads(a.get("message")) or {}
            if not isinstance(m, dict):
                m = {"content": m}
            msg = _openai_message({"role": "assistant", **m})
            if a.get("finish_reason"):
                msg["finish_reason"] = a["finish_reason"]
            out.append(msg)
        elif e.name == "gen_ai.content.prompt":
            inp.extend(_json_messages(a.get("gen_ai.prompt")))
        elif e.name == "gen_ai.content.completion":
            out.extend(_json_messages(a.get("gen_ai.completion"), role="assistant"))
    return inp, out


def _json_messages(value: Any, role: str = "user") -> list[dict]:
    v = _loads(value)
    if isinstance(v, list):
        return [_openai_message(m) if isinstance(m, dict) else chat_message(role, str(m)) for m in v]
    if isinstance(v, dict):
        return [_openai_message({"role": role, **v})]
    return [chat_message(role, v)] if v is not None else []


def _conversation(o: OtelSpan, fams: frozenset[str] | None = None) -> tuple[list[dict], list[dict]]:
    a = o.attributes
    if fams is None:
        fams = _families(a)
    if "gen_ai.input.messages" in a or "gen_ai.output.messages" in a:
        inp = _genai_messages(a.get("gen_ai.input.messages"))
        system = a.get("gen_ai.system_instructions")
        if system is not None:
            inp.insert(0, chat_message("system", _text_of_parts(_loads(system))))
        return inp, _genai_messages(a.get("gen_ai.output.messages"))
    if "llm.input_messages." in fams or "llm.output_messages." in fams:
        return _openinference_messages(a, "llm.input_messages."), _openinference_messages(a, "llm.output_messages.")
    if "gen_ai.prompt." in fams or "gen_ai.completion." in fams:
        return _traceloop_messages(a, "gen_ai.prompt."), _traceloop_messages(a, "gen_ai.completion.")
    if "gen_ai.prompt" in a or "gen_ai.completion" in a:
        return _json_messages(a.get("gen_ai.prompt")), _json_messages(a.get("gen_ai.completion"), "assistant")
    inp, out = _event_messages(o.events)
    if not inp and not out and "input.value" in a:  # an LLM span with only OpenInference's input/output
        v = _loads(a.get("input.value"))
        if isinstance(v, dict) and isinstance(v.get("messages"), list):
            inp = _json_messages(v["messages"])
        else:
            inp = [chat_message("user", v if isinstance(v, str) else json.dumps(v, default=str))]
        w = _loads(a.get("output.value"))
        if isinstance(w, dict) and isinstance(w.get("choices"), list):
            out = [_openai_message((c or {}).get("message") or {}) for c in w["choices"]]
        elif w is not None:
            out = [chat_message("assistant", w if isinstance(w, str) else json.dumps(w, default=str))]
    return inp, out


def _tools(a: dict, fams: frozenset[str]) -> list[dict]:
    tools = []
    for t in _indexed(a, "llm.tools.") if "llm.tools." in fams else ():
        schema = _loads(t.get("tool.json_schema"))
        if isinstance(schema, dict):
            tools.append(schema if "type" in schema else {"type": "function", "function": schema})
    for t in _indexed(a, "llm.request.functions.") if "llm.request.functions." in fams else ():
        tools.append({"type": "function", "function": {
            "name": t.get("name"), "description": t.get("description"),
            "parameters": _loads(t.get("parameters")) or {}}})
    defs = _loads(a.get("gen_ai.tool.definitions"))
    if isinstance(defs, list):
        for d in defs:
            if isinstance(d, dict):
                tools.append(d if "function" in d else {"type": "function", "function": {
                    "name": d.get("name"), "description": d.get("description"),
                    "parameters": d.get("parameters") or {}}})
    return tools


def _params(a: dict) -> dict:
    params = {}
    inv = _loads(a.get("llm.invocation_parameters"))
    if isinstance(inv, dict):
        params.update({k: v for k, v in inv.items() if k not in ("messages", "model", "tools", "input")})
    for k, name in _PARAMS.items():
        if a.get(k) is not None:
            params[name] = list(a[k]) if isinstance(a[k], tuple) else a[k]
    return params


# -- the request a call would have been sent ---------------------------------------------


def _provider(a: dict) -> str | None:
    v = _first(a, _PROVIDER)
    if not isinstance(v, str):
        return None
    return providers.from_otel_name(v)


def _output_text(out: list[dict]) -> str | None:
    texts = [m["content"] for m in out if isinstance(m.get("content"), str)]
    return "\n".join(texts) if texts else None


def _error(o: OtelSpan, s: Span) -> None:
    a = o.attributes
    exc = next((e for e in o.events if e.name == "exception"), None)
    # an exception event with the status left unset is still a failure; status OK wins
    if not (o.status == "error" or (exc is not None and o.status == "unset")):
        return
    s.status = "error"
    ea = exc.attributes if exc is not None else {}
    s.error_type = str(ea.get("exception.type") or a.get("error.type") or "Error").rsplit(".", 1)[-1]
    s.error_message = str(ea.get("exception.message") or o.status_message or s.error_type)[:4000]


def _value(a: dict, key: str) -> Any:
    v = a.get(key)
    if v is None:
        return None
    mime = a.get(key.replace(".value", ".mime_type"))
    return _loads(v) if mime in (None, "application/json") else v


def _documents(a: dict, fams: frozenset[str]) -> list[dict] | None:
    if "retrieval.documents." not in fams:
        return None
    docs = [{k.removeprefix("document."): v for k, v in d.items()} for d in _indexed(a, "retrieval.documents.")]
    return docs or None


def _kept_attributes(a: dict, drop: tuple[str, ...] = ()) -> dict:
    kept = {}
    for k, v in a.items():
        if drop and k.startswith(drop):
            continue
        if isinstance(v, tuple):
            v = list(v)
        if isinstance(v, str) and len(v) > MAX_ATTRIBUTE_CHARS:
            v = v[:MAX_ATTRIBUTE_CHARS] + f"… [{len(v) - MAX_ATTRIBUTE_CHARS} more characters]"
        kept[k] = v
    return kept


def to_span(o: OtelSpan, *, span_id: str | None = None, parent_id: str | None = None) -> Span:
    """The llmdebug span an OTel span stands for (ids may be overridden: the in-process
    processor re-parents spans under llmdebug's own)."""
    a = o.attributes
    start = o.start_ns / 1e9 if o.start_ns else 0.0
    end = o.end_ns / 1e9 if o.end_ns else None
    kind = kind_of(a, o.name)
    own = a.get("llmdebug.kind")  # a span llmdebug exported: its own kind (trace, span, ...) round-trips
    if isinstance(own, str) and own and kind != "llm":
        kind = own
    s = Span(
        id=span_id or o.span_id,
        trace_id=o.trace_id,
        parent_id=parent_id if parent_id is not None else o.parent_id,
        name=o.name or kind,
        kind=kind,
        started_at=start,
        ended_at=end,
        latency_ms=(end - start) * 1000.0 if end is not None and start else None,
    )
    meta: dict[str, Any] = {"source": "otel"}
    if o.scope:
        meta["scope"] = o.scope
    service = o.resource.get("service.name")
    if service:
        meta["service"] = service
    s.metadata = meta
    fams = _families(a)
    status = a.get("http.response.status_code", a.get("http.status_code"))
    if isinstance(status, int):
        s.http_status = status
    _error(o, s)
    if kind in ("llm", "embedding"):
        # the messages, once in the request and response, are not stored a second time
        s.attributes = _kept_attributes(a, _MESSAGE_ATTRIBUTES if _llm(o, s, fams) else ())
    else:
        s.attributes = _kept_attributes(a)
        s.input = _value(a, "input.value")
        if s.input is None:
            s.input = _loads(a.get("gen_ai.tool.call.arguments", a.get("traceloop.entity.input",
                                                                       a.get("tool.parameters"))))
        s.output = _value(a, "output.value")
        if s.output is None:
            s.output = _loads(a.get("gen_ai.tool.call.result", a.get("traceloop.entity.output")))
        docs = _documents(a, fams)
        if docs is not None:
            s.output = {"documents": docs} if s.output is None else s.output
        if kind in ("agent", "chain") and s.input is None:
            inp, out = _conversation(o, fams)
            if inp or out:
                s.input, s.output = inp or None, out or s.output
        if kind == "agent":
            _agent(a, s)
    tags = a.get("tag.tags")
    if isinstance(tags, (list, tuple)) and tags:
        s.add_tag(*[str(t) for t in tags])
    return s


def _agent(a: dict, s: Span) -> None:
    """pydantic-ai's agent run: the conversation as ``pydantic_ai.all_messages``, the answer
    as ``final_result``."""
    if s.input is None and "pydantic_ai.all_messages" in a:
        first = next((m for m in _genai_messages(a["pydantic_ai.all_messages"]) if m["role"] == "user"), None)
        s.input = first["content"] if first is not None else None
    if s.output is None and a.get("final_result") is not None:
        s.output = _loads(a["final_result"])


def _llm(o: OtelSpan, s: Span, fams: frozenset[str]) -> bool:
    """Fill an LLM or embedding span; True when its messages were read."""
    a = o.attributes
    s.provider = _provider(a) or None
    model = _first(a, _MODEL)
    s.model = str(model) if model is not None else None
    req_model = _first(a, _REQUEST_MODEL)
    s.request_model = str(req_model) if req_model is not None else s.model
    s.stream = bool(a.get("gen_ai.request.stream") or a.get("llm.is_streaming"))
    s.input_tokens = _count(a, _INPUT)
    s.output_tokens = _count(a, _OUTPUT)
    s.cached_tokens = _count(a, _CACHED)
    s.cache_write_tokens = _count(a, _CACHE_WRITE)
    s.reasoning_tokens = _count(a, _REASONING)
    # llmdebug counts cache reads/writes inside input_tokens; an instrumentation that
    # reports them beside it (Anthropic's own usage shape) has them added
    extra = (s.cached_tokens or 0) + (s.cache_write_tokens or 0)
    if s.input_tokens is not None and extra > s.input_tokens:
        s.input_tokens += extra
    if s.input_tokens is not None or s.output_tokens is not None:
        s.total_tokens = (s.input_tokens or 0) + (s.output_tokens or 0)
    else:
        s.total_tokens = _count(a, _TOTAL)
    inp, out = _conversation(o, fams)
    tools = _tools(a, fams)
    params = _params(a)
    if s.kind == "llm":
        s.endpoint, s.request = providers.request_from_chat(s.provider, s.request_model or s.model, inp, tools, params)
        s.messages = None  # read from the request, as for a captured call
        s.output_text = _output_text(out)
        calls = [c for m in out for c in m.get("tool_calls") or ()]
        s.tool_calls = [{"id": c["id"], "type": "function", "function": {"name": c["name"],
                                                                         "arguments": c["arguments"]}}
                        for c in calls] or None
        finish = next((m.get("finish_reason") for m in out if m.get("finish_reason")), None)
        if finish is None:
            reasons = a.get("gen_ai.response.finish_reasons")
            finish = reasons[0] if isinstance(reasons, (list, tuple)) and reasons else None
        s.response = {"id": a.get("gen_ai.response.id"), "model": s.model, "finish_reason": finish,
                      "output": out, "usage": {"input_tokens": s.input_tokens, "output_tokens": s.output_tokens}}
    else:
        s.endpoint = "embeddings"
        s.input = _value(a, "input.value")
    cost = _first(a, _COST)
    if isinstance(cost, (int, float)) and not isinstance(cost, bool):
        s.cost_usd, s.priced = float(cost), True
    elif s.model and (s.input_tokens is not None or s.output_tokens is not None):
        s.cost_usd = pricing.cost(s.model, provider=s.provider, input_tokens=s.input_tokens,
                                  output_tokens=s.output_tokens, cached_tokens=s.cached_tokens,
                                  cache_write_tokens=s.cache_write_tokens, reasoning_tokens=s.reasoning_tokens,
                                  timestamp=s.started_at or None,
                                  key=providers.price_key(s.provider, s.model) if s.provider else None)
        s.priced = s.cost_usd is not None
    return bool(inp or out)
