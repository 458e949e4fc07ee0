"""Langfuse trace exports as llmdebug spans.

A Langfuse export is ``{"trace": {...}, "observations": [...]}`` (the UI's download and
the public API's trace with its observations). The trace becomes a root span of kind
``trace`` (id = the trace id, as for ``ld.trace()``); each observation its child or
grandchild, kind from its type (GENERATION -> llm, SPAN -> span, EVENT -> event, AGENT,
TOOL, CHAIN, RETRIEVER -> retrieval, EVALUATOR -> eval, EMBEDDING, GUARDRAIL).

Tokens and cost are the export's (Langfuse priced them); a call it left unpriced is priced
by llmdebug. A generation's input and output, in whatever shape the framework logged them
(OpenAI, Anthropic, Gemini, Responses API, GenAI parts, Vercel AI SDK, "role: text" lines),
become the request its provider's API would have been sent and a response, like an OTel
span's (``conventions.py``).
"""

from __future__ import annotations

import ast
import json
import re
from datetime import datetime
from typing import Any

from .. import pricing, providers, session
from ..tracing import Span
from .conventions import MAX_ATTRIBUTE_CHARS, chat_message, tool_call
from .ingest import stored_ids

__all__ = ["is_export", "parse", "scores", "store", "messages", "span_id", "KINDS"]

KINDS = {"GENERATION": "llm", "SPAN": "span", "EVENT": "event", "AGENT": "agent", "TOOL": "tool",
         "CHAIN": "chain", "RETRIEVER": "retrieval", "EVALUATOR": "eval", "EMBEDDING": "embedding",
         "GUARDRAIL": "guardrail"}
_ROLES = {"human": "user", "ai": "assistant", "model": "assistant", "bot": "assistant"}
_ROLE_LINE = re.compile(r"^(system|developer|user|assistant|tool|function|model|human|ai): ", re.M)
_AGNO_MESSAGE = re.compile(r"role='(\w+)' content=(None|'.*?'|\".*?\") name=", re.S)
_HEX = re.compile(r"[0-9a-fA-F]{16}|[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_PROVIDER_KEYS = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
# modelParameters keys that are not request parameters (Vercel AI SDK's "system" is the provider)
_NOT_PARAMS = {"model", "stream", "is_stream", "messages", "tools", "system", "finishReason", "maxRetries", "maxSteps"}
_KNOWN_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
_TOOL_DEFINITION = "tool definition"  # a pseudo-role: LangChain logs the tools offered as messages


def is_export(doc: Any) -> bool:
    """Whether ``doc`` is one Langfuse trace export."""
    if not isinstance(doc, dict):
        return False
    if isinstance(doc.get("trace"), dict) and isinstance(doc.get("observations"), list):
        return True
    # the public API's trace, observations inlined
    return isinstance(doc.get("observations"), list) and "id" in doc and "timestamp" in doc


def parse(doc: dict) -> list[Span]:
    """The spans of one export, root first. Raises ValueError for one that is not whole."""
    trace = doc["trace"] if isinstance(doc.get("trace"), dict) else doc
    observations = doc["observations"]
    trace_id = trace.get("id")
    if not isinstance(trace_id, str) or not trace_id:
        raise ValueError("a Langfuse trace without an id")
    root = _trace_span(trace, observations)
    ids = {}
    for o in observations:
        if not isinstance(o, dict) or not isinstance(o.get("id"), str) or not o["id"]:
            raise ValueError(f"trace {trace_id}: an observation without an id")
        ids[o["id"]] = span_id(trace_id, o["id"])
    spans = [root]
    for o in observations:
        s = _observation(o, trace_id)
        s.id = ids[o["id"]]
        # a parent the export does not hold (a partial trace): under the trace, as Langfuse shows it
        s.parent_id = ids.get(o.get("parentObservationId") or "", root.id)
        spans.append(s)
    return spans


def span_id(trace_id: str, observation_id: str) -> str:
    """The stored id of an observation: its own when random (an OTel span id, a UUID), so the
    same span loaded from OTLP too is stored once; else scoped by the trace, to stay unique."""
    if _HEX.fullmatch(observation_id) and observation_id != trace_id:
        return observation_id.lower()
    return f"{trace_id}.{observation_id}"


def store(spans: list[Span], trace_scores: list[dict] | None = None) -> int:
    """Write the spans the store lacks; returns how many. Scores (see :func:`scores`) of
    newly stored spans go to the ``scores`` table, with Langfuse's source (EVAL: ``llm``,
    ANNOTATION: ``human``, API and others: ``code``)."""
    st = session.get_store()
    known = stored_ids([s.id for s in spans])
    new = [s for s in spans if s.id not in known]
    for s in new:
        st.writer.put(s)
    if trace_scores and new:
        from ..query.writes import add_scores, score_value

        added = {s.id: s.trace_id for s in new}
        rows = []
        for sc in trace_scores:
            if sc["span_id"] in added:
                try:
                    value, label = score_value(sc["value"])
                except (TypeError, ValueError):
                    value, label = None, str(sc["value"])
                rows.append({"span_id": sc["span_id"], "trace_id": added[sc["span_id"]], "name": sc["name"],
                             "value": value, "label": label, "comment": sc.get("comment"),
                             "source": _SCORE_SOURCES.get(sc.get("source"), "code"), "created_at": sc.get("created_at")})
        add_scores(rows)
    return len(new)


_SCORE_SOURCES = {"EVAL": "llm", "ANNOTATION": "human", "API": "code"}


def _iso_or_none(text: Any) -> str | None:
    from ..store.rows import from_iso, iso

    return iso(from_iso(text)) if isinstance(text, str) and from_iso(text) is not None else None


def scores(doc: dict) -> list[dict]:
    """The trace's scores, each ``{"span_id", "name", "value", "comment", "source", "created_at"}``."""
    trace = doc["trace"] if isinstance(doc.get("trace"), dict) else doc
    out = []
    for sc in trace.get("scores") or ():
        if not isinstance(sc, dict) or not sc.get("name"):
            continue
        value = sc.get("stringValue") if sc.get("value") is None else sc.get("value")
        target = sc.get("observationId")
        out.append({"span_id": span_id(trace["id"], target) if target else trace["id"], "name": str(sc["name"]),
                    "value": value, "comment": sc.get("comment"), "source": sc.get("source"),
                    "created_at": _iso_or_none(sc.get("timestamp"))})
    return out


# -- messages and attributes in conventions.py's shapes ----------------------------------------


def _kept_attributes(a: dict) -> dict:
    def clip(v: Any) -> Any:
        if isinstance(v, str) and len(v) > MAX_ATTRIBUTE_CHARS:
            return v[:MAX_ATTRIBUTE_CHARS] + f"… [{len(v) - MAX_ATTRIBUTE_CHARS} more characters]"
        return v

    return {k: clip(v) for k, v in a.items()}


# -- the trace and its observations ----------------------------------------------------------


def _time(v: Any) -> float | None:
    if not isinstance(v, str) or not v:
        return None
    try:
        return datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _decoded(v: Any) -> Any:
    """A value Langfuse stored as JSON text (sometimes twice) as the value itself."""
    for _ in range(2):
        if isinstance(v, str) and v[:1] in ('"', "{", "["):
            try:
                v = json.loads(v)
            except ValueError:
                break
        else:
            break
    return v


def _metadata(v: Any) -> dict:
    v = _decoded(v)
    return v if isinstance(v, dict) else ({} if v is None else {"metadata": v})


def _trace_span(trace: dict, observations: list) -> Span:
    start = _time(trace.get("timestamp"))
    ends = [e for e in (_time(o.get("endTime")) for o in observations if isinstance(o, dict)) if e is not None]
    latency = trace.get("latency")
    if isinstance(latency, (int, float)) and not isinstance(latency, bool) and start is not None:
        end: float | None = start + latency
    else:
        end = max(ends) if ends else None
    s = Span(id=trace["id"], trace_id=trace["id"], name=str(trace.get("name") or "trace"), kind="trace",
             started_at=start or 0.0, ended_at=end,
             latency_ms=(end - start) * 1000.0 if end is not None and start is not None else None)
    s.input = _decoded(trace.get("input"))
    s.output = _decoded(trace.get("output"))
    meta: dict[str, Any] = {"source": "langfuse"}
    for key, name in (("userId", "user_id"), ("sessionId", "session_id"), ("environment", "environment"),
                      ("release", "release"), ("version", "version")):
        if trace.get(key):
            meta[name] = trace[key]
    s.metadata = meta
    md = _metadata(trace.get("metadata"))
    s.attributes = _kept_attributes({k: v for k, v in md.items() if k not in ("resourceAttributes", "scope")}) or None
    tags = trace.get("tags")
    if isinstance(tags, list) and tags:
        s.add_tag(*[str(t) for t in tags])
    return s


def _observation(o: dict, trace_id: str) -> Span:
    typ = str(o.get("type") or "SPAN").upper()
    kind = KINDS.get(typ, typ.lower())
    start = _time(o.get("startTime"))
    end = _time(o.get("endTime"))
    s = Span(trace_id=trace_id, name=str(o.get("name") or kind), kind=kind, started_at=start or 0.0, ended_at=end,
             latency_ms=(end - start) * 1000.0 if end is not None and start is not None else None)
    md = _metadata(o.get("metadata"))
    attrs = md.get("attributes") if isinstance(md.get("attributes"), dict) else {}
    meta: dict[str, Any] = {"source": "langfuse", "langfuse_type": typ}
    scope = md.get("scope")
    if isinstance(scope, dict) and scope.get("name"):
        meta["scope"] = scope["name"]
    service = (md.get("resourceAttributes") or {}).get("service.name") if isinstance(md.get("resourceAttributes"), dict) else None
    if service:
        meta["service"] = service
    for key in ("level", "environment", "version", "promptName", "promptVersion"):
        if o.get(key) and not (key == "level" and o[key] == "DEFAULT"):
            meta[key] = o[key]
    s.metadata = meta
    # the OTel attributes, and what else the framework put in the metadata (LangChain's ls_*)
    extra = {k: v for k, v in md.items() if k not in ("attributes", "resourceAttributes", "scope")}
    s.attributes = _kept_attributes({**extra, **attrs}) or None
    if o.get("level") == "ERROR":
        s.status = "error"
        s.error_type = "Error"
        s.error_message = str(o.get("statusMessage") or "error")[:4000]
    model = o.get("model")
    s.model = str(model) if model else None
    _usage(o, s)
    if kind == "llm":
        _generation(o, s, attrs, md)
    else:
        s.input = _decoded(o.get("input"))
        s.output = _decoded(o.get("output"))
        if kind == "embedding":
            s.endpoint = "embeddings"
    _cost(o, s)
    return s


# -- usage and cost ---------------------------------------------------------------------------


def _int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return v if isinstance(v, int) and v >= 0 else None


def _usage(o: dict, s: Span) -> None:
    """Langfuse's usage keys onto llmdebug's counts (input includes cache reads and writes,
    output includes reasoning). Langfuse keeps some breakdowns as buckets beside ``input`` /
    ``output`` (its total is then their sum) and others inside them; the total tells which."""
    u = o.get("usageDetails")
    if not isinstance(u, dict) or not u:
        u = {"input": o.get("inputUsage") or o.get("promptTokens"), "output": o.get("outputUsage") or o.get("completionTokens"),
             "total": o.get("totalUsage") or o.get("totalTokens")}
    counts = {k: n for k, v in u.items() if (n := _int(v)) is not None}
    inp, out, total = counts.get("input"), counts.get("output"), counts.get("total")
    if inp is None and out is None and total is None:
        return
    details = {k: n for k, n in counts.items() if k not in ("input", "output", "total")}
    beside = total is not None and sum(details.values()) > 0 and (inp or 0) + (out or 0) + sum(details.values()) == total

    def pick(*words: str) -> int | None:
        found = [n for k, n in details.items() if all(w in k for w in words)]
        return sum(found) if found else None

    s.cached_tokens = pick("cache_read") or pick("cached")
    s.cache_write_tokens = pick("cache_creation") or pick("cache_write")
    s.reasoning_tokens = pick("reasoning")
    if beside:
        side_in = sum(n for k, n in details.items() if k.startswith(("input", "prompt", "cache")))
        side_out = sum(n for k, n in details.items() if k.startswith(("output", "completion")))
        inp, out = (inp or 0) + side_in, (out or 0) + side_out
    s.input_tokens, s.output_tokens = inp, out
    s.total_tokens = total if total is not None else (inp or 0) + (out or 0)


def _cost(o: dict, s: Span) -> None:
    c = o.get("costDetails")
    total = c.get("total") if isinstance(c, dict) else None
    if total is None and isinstance(c, dict) and c:
        total = sum(v for v in c.values() if isinstance(v, (int, float)) and not isinstance(v, bool))
    if total is None and (o.get("totalCost") or o.get("calculatedTotalCost")):
        total = o.get("totalCost") or o.get("calculatedTotalCost")
    if isinstance(total, (int, float)) and not isinstance(total, bool):
        s.cost_usd, s.priced = float(total), True
        return
    if s.model and (s.input_tokens is not None or s.output_tokens is not None):
        model = s.model.rsplit("/", 1)[-1]  # Vertex AI's projects/…/models/NAME
        s.cost_usd = pricing.cost(model, provider=s.provider, input_tokens=s.input_tokens,
                                  output_tokens=s.output_tokens, cached_tokens=s.cached_tokens,
                                  cache_write_tokens=s.cache_write_tokens, reasoning_tokens=s.reasoning_tokens,
                                  timestamp=s.started_at or None,
                                  key=providers.price_key(s.provider, model) if s.provider else None)
        s.priced = s.cost_usd is not None


# -- a generation: request and response ---------------------------------------------------------


def _provider(attrs: dict, md: dict) -> str | None:
    """From the OTel attributes Langfuse kept, or LangChain's ``ls_provider`` (never guessed
    from the model's name)."""
    named = [str(attrs[k]).lower() for k in _PROVIDER_KEYS if isinstance(attrs.get(k), str) and attrs[k]]
    if isinstance(md.get("ls_provider"), str):
        named.append(md["ls_provider"].lower())
    for v in named:
        name = providers.from_otel_name(v)
        try:
            providers.module(name)
            return name
        except KeyError:  # not a provider llmdebug knows (gcp.vertex.agent): the next one may be
            pass
    return providers.from_otel_name(named[0]) if named else None


def _params(o: dict) -> dict:
    p = o.get("modelParameters")
    if not isinstance(p, dict):
        return {}
    return {k: v for k, v in p.items() if k not in _NOT_PARAMS and v is not None and v != ""
            and isinstance(v, (str, int, float, bool))}


def _tools(o: dict, inp: Any, offered: list) -> list:
    defs = o.get("toolDefinitions")
    found = list(defs.values()) if isinstance(defs, dict) else list(defs) if isinstance(defs, list) else []
    if not found and isinstance(inp, dict) and isinstance(inp.get("tools"), list):
        found = inp["tools"]
    found = found or offered
    tools = []
    for t in found:
        t = _decoded(t)
        if not isinstance(t, dict):
            continue
        fn = t.get("function") if isinstance(t.get("function"), dict) else t
        if fn.get("name"):
            tools.append({"type": "function", "function": {"name": fn["name"], "description": fn.get("description") or "",
                                                           "parameters": fn.get("parameters") or fn.get("input_schema")
                                                           or {"type": "object"}}})
    return tools


def _generation(o: dict, s: Span, attrs: dict, md: dict) -> None:
    s.provider = _provider(attrs, md)
    req_model = attrs.get("gen_ai.request.model") or attrs.get("llm.model_name") or md.get("ls_model_name")
    s.request_model = str(req_model) if req_model else s.model
    params = _params(o)
    s.stream = str(params.pop("is_stream", (o.get("modelParameters") or {}).get("stream", ""))).lower() == "true"
    raw_in, raw_out = _decoded(o.get("input")), _decoded(o.get("output"))
    inp = messages(raw_in, "user")
    offered = [m["definition"] for m in inp if m["role"] == _TOOL_DEFINITION]
    inp = [m for m in inp if m["role"] != _TOOL_DEFINITION]
    out = messages(raw_out, "assistant")
    for m in out:
        if m["role"] == "user" and len(out) == 1:  # a bare output
            m["role"] = "assistant"
    tools = _tools(o, raw_in, offered)
    s.endpoint, s.request = providers.request_from_chat(s.provider, s.request_model or s.model, inp, tools, params)
    texts = [m["content"] for m in out if isinstance(m.get("content"), str) and m["role"] != "tool"]
    s.output_text = "\n".join(texts) if texts else None
    calls = [c for m in out for c in m.get("tool_calls") or ()]
    if not calls:  # Langfuse's own extraction (ids and arguments; names beside them)
        names = o.get("toolCallNames") or []
        for i, c in enumerate(o.get("toolCalls") or ()):
            c = _decoded(c)
            if isinstance(c, dict):
                calls.append(tool_call(c.get("id"), c.get("name") or (names[i] if i < len(names) else None),
                                   c.get("arguments")))
    s.tool_calls = [{"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                    for c in calls] or None
    finish = next((m.get("finish_reason") for m in out if m.get("finish_reason")),
                  (o.get("modelParameters") or {}).get("finishReason"))
    s.response = {"model": s.model, "finish_reason": finish, "output": out,
                  "usage": {"input_tokens": s.input_tokens, "output_tokens": s.output_tokens}}
    ttft = _time(o.get("completionStartTime"))
    if ttft is not None and s.started_at:
        s.ttft_ms = max(0.0, (ttft - s.started_at) * 1000.0)


# -- messages, from every shape frameworks log ----------------------------------------------------


def _json_text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)


def _role(r: Any, default: str) -> str:
    r = str(r or default).lower()
    return _ROLES.get(r, r)


def messages(value: Any, role: str = "user") -> list[dict]:
    """``value`` (a framework's input or output) as messages ``{"role", "content",
    "tool_calls", "tool_call_id", "name"}``; what is not understood is kept as text."""
    value = _decoded(value)
    if value is None:
        return []
    if isinstance(value, str):
        return _text_messages(value, role)
    if isinstance(value, list):
        return [m for item in value for m in _item(item, role)]
    return _item(value, role)


def _text_messages(text: str, role: str) -> list[dict]:
    agno = _AGNO_MESSAGE.match(text)
    if agno:  # Agno's repr of its Message objects
        content = agno.group(2)
        return [chat_message(agno.group(1), None if content == "None" else _literal(content))]
    if not _ROLE_LINE.match(text):
        return [chat_message(role, text)]
    # "system: …\nuser: …" (how some instrumentations flatten a conversation)
    out = []
    starts = [m.start() for m in _ROLE_LINE.finditer(text)] + [len(text)]
    for a, b in zip(starts, starts[1:]):
        r, _, content = text[a:b].rstrip("\n").partition(": ")
        out.append(chat_message(_role(r, role), None if content == "None" else content))
    return out


def _literal(v: str) -> str:
    try:
        return str(ast.literal_eval(v))
    except (ValueError, SyntaxError):
        return v.strip("'\"")


def _parts(parts: Any) -> tuple[str | None, list[dict], list[tuple[Any, str]]]:
    """Content parts of any API: (text, tool calls, tool results as (call id, text))."""
    if isinstance(parts, str) or parts is None:
        return parts, [], []
    if isinstance(parts, dict):
        parts = [parts]
    if not isinstance(parts, list):
        return _json_text(parts), [], []
    texts: list[str] = []
    calls: list[dict] = []
    results: list[tuple[Any, str]] = []
    for p in parts:
        if isinstance(p, str):
            texts.append(p)
            continue
        if not isinstance(p, dict):
            continue
        t = str(p.get("type") or "")
        fc = p.get("function_call") or p.get("functionCall")
        fr = p.get("function_response") or p.get("functionResponse")
        if t in ("tool_call", "tool_use", "tool-call", "function_call") or isinstance(fc, dict) or "toolName" in p:
            c = fc if isinstance(fc, dict) else p
            calls.append(tool_call(c.get("id") or c.get("toolCallId") or c.get("call_id"), c.get("name") or c.get("toolName"),
                               c.get("arguments", c.get("input", c.get("args")))))
        elif t in ("tool_call_response", "tool_result", "tool-result", "function_call_output") or isinstance(fr, dict):
            r = fr if isinstance(fr, dict) else p
            body = next((r[k] for k in ("response", "result", "content", "output") if k in r), None)
            results.append((r.get("id") or r.get("tool_use_id") or r.get("toolCallId") or r.get("call_id"),
                            _parts(body)[0] or "" if isinstance(body, list) else _json_text(body)))
        elif t in ("thinking", "reasoning", "redacted_thinking") or "Reasoning" in t:
            continue  # the model's hidden reasoning is not part of the conversation
        elif isinstance(p.get("text"), str):
            texts.append(p["text"])
        elif "content" in p:
            texts.append(_json_text(p["content"]))
        elif t:
            texts.append(f"[{t}]")
    return ("".join(texts) if texts else None), calls, results


def _from_parts(role: str, parts: Any, name: Any = None) -> list[dict]:
    text, calls, results = _parts(parts)
    out = [chat_message("tool", body, tool_call_id=cid) for cid, body in results]
    if text is not None or calls or not results:
        out.insert(0, chat_message(role, text, calls, None, name))
    return out


def _item(m: Any, role: str) -> list[dict]:
    if isinstance(m, str):
        return _text_messages(m, role)
    if not isinstance(m, dict):
        return [chat_message(role, _json_text(m))]
    if isinstance(m.get("messages"), list):  # {"messages": [...], ...}: a request body
        system = m.get("system")
        head = [chat_message("system", _parts(system)[0])] if system else []
        return head + messages(m["messages"], role)
    if isinstance(m.get("choices"), list):  # an OpenAI chat completion
        return [x for c in m["choices"] for x in _item(c, "assistant")]
    if isinstance(m.get("message"), dict):  # a choice
        out = _item(m["message"], "assistant")
        if m.get("finish_reason") and out:
            out[-1]["finish_reason"] = m["finish_reason"]
        return out
    if isinstance(m.get("candidates"), list):  # a Gemini response
        return [x for c in m["candidates"] if isinstance(c, dict) for x in _item(c, "assistant")]
    if "contents" in m:  # a Gemini request
        cfg = m.get("config") if isinstance(m.get("config"), dict) else {}
        system = cfg.get("system_instruction") or cfg.get("systemInstruction") or m.get("system_instruction")
        head = [chat_message("system", _parts(system.get("parts") if isinstance(system, dict) else system)[0])] if system else []
        return head + messages(m["contents"], "user")
    if isinstance(m.get("content"), dict) and "parts" in m["content"]:  # a Gemini candidate / ADK event
        out = _from_parts(_role(m["content"].get("role"), role), m["content"]["parts"])
        if m.get("finish_reason") or m.get("finishReason"):
            out[-1]["finish_reason"] = str(m.get("finish_reason") or m.get("finishReason")).lower()
        return out
    if isinstance(m.get("output"), list) and ("object" in m or "status" in m):  # a Responses API response
        return messages(m["output"], "assistant")
    t = m.get("type")
    if t in ("function_call", "tool-call") or ("toolCallId" in m and "toolName" in m and "output" not in m):
        return [chat_message("assistant", None, _parts(m)[1])]
    if t in ("function_call_output", "tool-result"):
        return [chat_message("tool", _json_text(m.get("output", m.get("result"))), tool_call_id=m.get("call_id") or m.get("toolCallId"))]
    if t == "reasoning":
        return []
    if "parts" in m:  # GenAI semconv / Gemini content
        out = _from_parts(_role(m.get("role"), role), m["parts"], m.get("name"))
        if m.get("finish_reason") and out:
            out[-1]["finish_reason"] = m["finish_reason"]
        return out
    if "role" in m or "content" in m:  # OpenAI, Anthropic, LangChain, Vercel AI SDK messages
        r = _role(m.get("role") or m.get("type"), role)
        content = m.get("content")
        if r == "tool" and isinstance(content, dict) and isinstance(content.get("function"), dict):
            return [{"role": _TOOL_DEFINITION, "definition": content}]
        listed = _decoded(content) if isinstance(content, str) else None
        if isinstance(listed, list) and listed and all(isinstance(c, dict) and isinstance(c.get("function"), dict)
                                                       for c in listed):
            # tool calls logged as the message's text (Koog), sometimes under role "tool"
            r, content = "assistant", None
            m = {**m, "tool_calls": listed}
        if r not in _KNOWN_ROLES:  # LangChain.js names a tool result's role after the tool
            r, m = "tool", {**m, "name": m.get("role")}
        text, calls, results = _parts(content)
        for c in m.get("tool_calls") or (m.get("additional_kwargs") or {}).get("tool_calls") or ():
            if isinstance(c, dict):
                fn = c.get("function") if isinstance(c.get("function"), dict) else c
                calls.append(tool_call(c.get("id"), fn.get("name"), fn.get("arguments", fn.get("args"))))
        if r == "tool" and not results:
            return [chat_message("tool", text, tool_call_id=m.get("tool_call_id"), name=m.get("name"))]
        out = [chat_message("tool", body, tool_call_id=cid) for cid, body in results]
        if text is not None or calls or not results:
            out.insert(0, chat_message(r, text, calls, None, m.get("name")))
        if m.get("finish_reason") and out:
            out[-1]["finish_reason"] = m["finish_reason"]
        return out
    if "prompt" in m:  # Vercel AI SDK's {"prompt": …, "system": …}
        head = [chat_message("system", _json_text(m["system"]))] if m.get("system") else []
        return head + messages(m["prompt"], role)
    if isinstance(m.get("args"), list) and m["args"]:  # a wrapped function's arguments (LlamaIndex)
        return [x for a in m["args"] for x in messages(a, role)]
    return [chat_message(role, _json_text(m))]
