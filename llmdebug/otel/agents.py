"""The OpenAI Agents SDK's traces, stored as llmdebug spans.

The Agents SDK has its own tracing (not OpenTelemetry). Add llmdebug's processor::

    from agents import add_trace_processor   # or set_trace_processors([...]) to send nothing to OpenAI
    add_trace_processor(llmdebug.otel.agents.TracingProcessor())

Its trace, agent, turn, function (tool), handoff, guardrail and response/generation
spans become llmdebug spans (kinds trace, agent, chain, tool, handoff, guardrail, llm).
The model calls are llm spans with tokens and cost; when llmdebug's own capture sees
the same OpenAI call, its span (whole request, response, HTTP attempts) takes the
response span's place, so each call is stored once. An ``ld.span`` or captured call made
inside an Agents SDK span (a tool body, say) becomes its child, and an agent run inside
an ``ld.span`` becomes the ld span's child.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from datetime import datetime
from typing import Any

from agents.tracing import TracingProcessor as _AgentsProcessor
from agents.tracing import get_current_span

from .. import pricing, providers, session, tracing
from ..providers import openai as _openai
from .._guard import report
from ..tracing import Span

__all__ = ["TracingProcessor"]

SOURCE = "agents-sdk"  # Span.metadata["source"]

_REMEMBERED = 100_000
# span_data.type -> llmdebug kind
_KINDS = {"agent": "agent", "function": "tool", "handoff": "handoff", "guardrail": "guardrail",
          "response": "llm", "generation": "llm", "custom": "span", "mcp_tools": "tool",
          "transcription": "llm", "speech": "llm", "speech_group": "chain", "turn": "chain", "task": "chain"}


def _hex(agents_id: str | None) -> str | None:
    """``trace_<32 hex>`` / ``span_<24 hex>`` -> the hex part (llmdebug ids are hex)."""
    if not agents_id:
        return None
    return agents_id.partition("_")[2] or agents_id


def _epoch(iso: str | None) -> float | None:
    try:
        return datetime.fromisoformat(iso).timestamp() if iso else None
    except ValueError:
        return None


def _loads(v: Any) -> Any:
    if isinstance(v, str) and v[:1] in "{[":
        try:
            return json.loads(v)
        except ValueError:
            pass
    return v


def _plain(v: Any) -> Any:
    """SDK objects (pydantic models) as plain JSON data."""
    dump = getattr(v, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json", exclude_none=True)
        except Exception:
            return str(v)
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


class _Ids:
    """Agents SDK span/trace id -> the llmdebug span that stands for it, bounded."""

    def __init__(self):
        self._map: OrderedDict[str, Span] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: str, s: Span) -> None:
        with self._lock:
            self._map[key] = s
            if len(self._map) > _REMEMBERED:
                self._map.popitem(last=False)

    def get(self, key: str | None) -> Span | None:
        return self._map.get(key) if key else None

    def pop(self, key: str | None) -> Span | None:
        with self._lock:
            return self._map.pop(key, None) if key else None


class _Bridge(tracing.Bridge):
    """Places llmdebug's own spans under the Agents SDK's current span; wraps whatever
    bridge was there (OpenTelemetry's) for everything else."""

    def __init__(self, proc: "TracingProcessor", inner: tracing.Bridge | None):
        self.proc, self.inner = proc, inner

    def adopt(self, s: Span, parent: Span | None) -> None:
        cur = get_current_span()
        mine = self.proc.ids.get(getattr(cur, "span_id", None)) if cur is not None else None
        if mine is None or (parent is not None and self.proc.inside.get(parent.id) == mine.id):
            # no Agents SDK span open here, or an llmdebug span inside it is the innermost
            if self.inner is not None and mine is None:
                self.inner.adopt(s, parent)
            elif mine is not None:
                self.proc.note_inside(s.id, mine.id)
            return
        s.trace_id = mine.trace_id
        if s.kind == "llm" and mine.kind == "llm" and mine.id not in self.proc.taken:
            # llmdebug's capture of the very call this response span stands for
            s.id, s.parent_id = mine.id, mine.parent_id
            self.proc.taken.add(mine.id)
        else:
            s.parent_id = mine.id
        self.proc.note_inside(s.id, mine.id)

    def enter(self, s: Span) -> Any:
        return self.inner.enter(s) if self.inner is not None else None

    def leave(self, token: Any) -> None:
        if self.inner is not None:
            self.inner.leave(token)


class TracingProcessor(_AgentsProcessor):
    """An Agents SDK trace processor that stores traces and spans in llmdebug's store."""

    def __init__(self):
        self.ids = _Ids()
        self.taken: set[str] = set()  # response spans whose call llmdebug's capture stored
        self.inside: OrderedDict[str, str] = OrderedDict()  # llmdebug span id -> the Agents span it is in
        self._bridged()

    # -- bridge ------------------------------------------------------------------
    def _bridged(self) -> None:
        b = tracing.bridge()
        if not (isinstance(b, _Bridge) and b.proc is self):
            tracing.set_bridge(_Bridge(self, b))  # re-wrapped if another bridge replaced ours

    def note_inside(self, ld_id: str, agents_ld_id: str) -> None:
        self.inside[ld_id] = agents_ld_id
        while len(self.inside) > _REMEMBERED:
            self.inside.popitem(last=False)

    # -- traces ------------------------------------------------------------------
    def on_trace_start(self, trace: Any) -> None:
        try:
            self._bridged()
            outer = tracing.current_span()
            tid = _hex(trace.trace_id) or tracing.new_id()
            s = Span(id=tid, trace_id=outer.trace_id if outer is not None else tid,
                     parent_id=outer.id if outer is not None else None,
                     name=getattr(trace, "name", None) or "Agent workflow", kind="trace", started_at=time.time())
            data = trace.export() or {}
            meta = {"source": SOURCE}
            if data.get("group_id"):
                meta["group_id"] = data["group_id"]
            if data.get("metadata"):
                meta["trace_metadata"] = data["metadata"]
            s.metadata = meta
            self.ids.put(trace.trace_id, s)
        except Exception:
            report("noting an Agents SDK trace")

    def on_trace_end(self, trace: Any) -> None:
        try:
            s = self.ids.pop(trace.trace_id)
            if s is None:
                return
            s.ended_at = time.time()
            s.latency_ms = (s.ended_at - s.started_at) * 1000.0
            session.submit(s)
        except Exception:
            report("storing an Agents SDK trace")

    # -- spans -------------------------------------------------------------------
    def on_span_start(self, span: Any) -> None:
        try:
            self._bridged()
            data = span.span_data
            kind = _KINDS.get(data.type, "span")
            parent = self.ids.get(span.parent_id) or self.ids.get(span.trace_id)
            if data.type == "task" and span.parent_id is None and parent is not None:
                # the run's task span repeats its trace: its children hang under the trace
                self.ids.put(span.span_id, parent)
                parent.set_attribute("agents.task", True)
                return
            outer = tracing.current_span()
            if outer is not None and parent is not None and self.inside.get(outer.id) == parent.id:
                parent = outer  # an llmdebug span opened inside the parent is the innermost
            sid = _hex(span.span_id) or tracing.new_id()
            tid = parent.trace_id if parent is not None else (_hex(span.trace_id) or sid)
            s = Span(id=sid, trace_id=tid, parent_id=parent.id if parent is not None else None,
                     name=_name(data), kind=kind, started_at=_epoch(span.started_at) or time.time())
            s.metadata = {"source": SOURCE, "type": data.type}
            self.ids.put(span.span_id, s)
        except Exception:
            report("noting an Agents SDK span")

    def on_span_end(self, span: Any) -> None:
        try:
            s = self.ids.pop(span.span_id)
            if s is None or s.id == _hex(span.trace_id):  # unknown, or the folded task span
                if s is not None:
                    _usage_attributes(s, span.span_data)
                return
            if s.id in self.taken:
                self.taken.discard(s.id)
                return
            s.ended_at = _epoch(span.ended_at) or time.time()
            s.latency_ms = (s.ended_at - s.started_at) * 1000.0
            err = span.error
            if err:
                s.status = "error"
                s.error_type = "AgentsError"
                s.error_message = str(err.get("message") or err)[:4000]
                if err.get("data"):
                    s.set_attribute("error.data", _plain(err["data"]))
            s._raw = _Finish(span.span_data)
            session.submit(s)
        except Exception:
            report("storing an Agents SDK span")

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        session.flush()


def _name(data: Any) -> str:
    t = data.type
    if t == "handoff":
        return f"handoff → {data.to_agent or '?'}"
    if t == "turn":
        return f"turn {getattr(data, 'turn', '')}".strip()
    if t == "response":
        return "response"
    if t == "generation":
        return "generation"
    if t == "mcp_tools":
        return f"mcp list tools {getattr(data, 'server', '') or ''}".strip()
    return str(getattr(data, "name", None) or t)


def _usage_attributes(s: Span, data: Any) -> None:
    usage = getattr(data, "usage", None)
    if usage:
        s.set_attribute("agents.usage", _plain(usage))


class _Finish:
    """An ended Agents SDK span's data, read on the store's writer thread."""

    __slots__ = ("data",)

    def __init__(self, data: Any):
        self.data = data

    def approx_bytes(self) -> int:
        return 4096

    def finalize(self, s: Span) -> None:
        d = self.data
        t = d.type
        if t == "response":
            _response(s, d)
        elif t == "generation":
            _generation(s, d)
        elif t == "function":
            s.input, s.output = _loads(d.input), _loads(_plain(d.output))
            if d.mcp_data:
                s.set_attribute("mcp_data", _plain(d.mcp_data))
        elif t == "agent":
            s.input = None
            for k in ("tools", "handoffs", "output_type"):
                v = getattr(d, k, None)
                if v:
                    s.set_attribute(f"agent.{k}", _plain(v))
        elif t == "handoff":
            s.input, s.output = d.from_agent, d.to_agent
        elif t == "guardrail":
            s.output = {"triggered": d.triggered}
        elif t == "custom":
            s.output = _plain(d.data)
        else:
            exported = d.export() or {}
            data = exported.get("data") if exported.get("type") == "custom" else exported
            if isinstance(data, dict):
                s.set_attribute("agents.data", _plain(data))
        if getattr(d, "usage", None) and s.kind != "llm":
            _usage_attributes(s, d)


def _response(s: Span, d: Any) -> None:
    """A Responses API call as llmdebug's capture stores one (request, response, usage)."""
    resp = _plain(d.response) if d.response is not None else None
    s.provider, s.endpoint = _openai.RESPONSES.provider, _openai.RESPONSES.name
    req: dict[str, Any] = {}
    if isinstance(resp, dict):
        req["model"] = resp.get("model")
        for k in ("instructions", "tools", "tool_choice", "temperature", "top_p", "max_output_tokens",
                  "previous_response_id", "reasoning", "text", "parallel_tool_calls"):
            if resp.get(k) not in (None, [], {}):
                req[k] = resp[k]
    req["input"] = _plain(d.input)
    s.request = req
    s.request_model = req.get("model")
    if isinstance(resp, dict):
        reading = providers.wire(_openai.RESPONSES.wire).read(resp)
        s.model = reading.model or s.request_model
        for k, v in reading.usage.items():
            setattr(s, k, v)
        s.output_text, s.tool_calls = reading.output_text, reading.tool_calls
        if reading.error and s.status == "ok":
            s.status, (s.error_type, s.error_message) = "error", reading.error
        s.response = resp
    _price(s)


def _generation(s: Span, d: Any) -> None:
    """A Chat Completions call (``OpenAIChatCompletionsModel``, LiteLLM models)."""
    s.provider, s.endpoint = _openai.CHAT.provider, _openai.CHAT.name
    s.model = s.request_model = str(d.model) if d.model else None
    req: dict[str, Any] = {"model": s.model, "messages": _plain(d.input) or []}
    cfg = _plain(d.model_config) or {}
    if isinstance(cfg, dict):
        req.update({k: v for k, v in cfg.items() if v is not None and k != "base_url"})
    s.request = req
    out = _plain(d.output) or []
    s.response = {"output": out}
    texts = [m.get("content") for m in out if isinstance(m, dict) and isinstance(m.get("content"), str)]
    s.output_text = "\n".join(texts) if texts else None
    calls = [c for m in out if isinstance(m, dict) for c in m.get("tool_calls") or ()]
    s.tool_calls = calls or None
    u = d.usage or {}
    s.input_tokens, s.output_tokens = u.get("input_tokens"), u.get("output_tokens")
    details = u.get("input_tokens_details") or {}
    s.cached_tokens = details.get("cached_tokens") if isinstance(details, dict) else None
    details = u.get("output_tokens_details") or {}
    s.reasoning_tokens = details.get("reasoning_tokens") if isinstance(details, dict) else None
    if s.input_tokens is not None or s.output_tokens is not None:
        s.total_tokens = (s.input_tokens or 0) + (s.output_tokens or 0)
    _price(s)


def _price(s: Span) -> None:
    if s.model and (s.input_tokens is not None or s.output_tokens is not None):
        s.cost_usd = pricing.cost(s.model, provider=s.provider, input_tokens=s.input_tokens,
                                  output_tokens=s.output_tokens, cached_tokens=s.cached_tokens,
                                  cache_write_tokens=s.cache_write_tokens, reasoning_tokens=s.reasoning_tokens,
                                  timestamp=s.started_at or None, key=providers.price_key(s.provider, s.model))
        s.priced = s.cost_usd is not None
