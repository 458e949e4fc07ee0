"""llmdebug's spans out as OTLP: live (``start_export``) or stored traces after the fact (``export``).

Spans are converted to the OTel SDK's ``ReadableSpan`` and sent by the SDK's own
``OTLPSpanExporter`` (OTLP/HTTP protobuf), live through its ``BatchSpanProcessor``. Each
span carries both conventions backends read: the OpenTelemetry GenAI semantic conventions
(``gen_ai.*``, messages in the current parts format) and OpenInference (``llm.*``,
``openinference.span.kind``, ``input.value`` ...), so Phoenix and Langfuse show LLM calls
as LLM spans with tokens, cost and messages.

Ids: a trace id is kept (32 hex digits). An llmdebug span id (32 hex) becomes its last 16
hex digits, the same rule for a span and for the parent ids pointing at it, and the
bridge to in-process OTel uses it too; a 16-hex id (an ingested OTel span) is kept. The
full llmdebug id goes along as ``llmdebug.span_id``.

Spans that came from OpenTelemetry (``metadata["source"] == "otel"``: in-process
instrumentations, a receiver, a file) are exported too, with their own ids, attributes and
service name, so a tree mixing them with llmdebug's stays whole at the backend and a
receiver can relay to Phoenix. That cannot loop: their ids are kept, and an llmdebug
receiver skips span ids it has stored, so a receiver exporting to itself (or two exporting
to each other) stores each span once and the cycle ends after one hop.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import threading
import time
from typing import Any, Iterable, Sequence
from urllib.parse import urlsplit, urlunsplit

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from .. import providers, query, session
from .._guard import log, report, warn_once
from ..store import writer as _writer
from ..tracing import Span

__all__ = ["start_export", "stop_export", "export", "flush", "to_readable", "ExportError", "capture_content_default"]

CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_OFF = ("false", "0", "no", "off", "no_content")
_BATCH = 512  # spans per request of ld.export (the batch processor's default batch too)
_STOP_S = 5.0  # stop_export / interpreter exit wait at most this long for the last batches

_OI_KINDS = {"llm": "LLM", "chain": "CHAIN", "tool": "TOOL", "agent": "AGENT", "retrieval": "RETRIEVER",
             "embedding": "EMBEDDING", "reranker": "RERANKER", "guardrail": "GUARDRAIL", "eval": "EVALUATOR",
             "prompt": "PROMPT"}  # anything else (trace, span, http...) is a CHAIN step to OpenInference
_OPERATIONS = {"chat.completions": "chat", "responses": "chat", "messages": "chat",
               "completion": "chat", "completions": "text_completion", "generate_content": "generate_content",
               "embeddings": "embeddings", "embedding": "embeddings"}
_PARAMS = {"temperature": "gen_ai.request.temperature", "max_tokens": "gen_ai.request.max_tokens",
           "top_p": "gen_ai.request.top_p", "top_k": "gen_ai.request.top_k",
           "frequency_penalty": "gen_ai.request.frequency_penalty",
           "presence_penalty": "gen_ai.request.presence_penalty", "seed": "gen_ai.request.seed",
           "stop": "gen_ai.request.stop_sequences", "n": "gen_ai.request.choice.count"}
# attributes of an ingested OTel span that hold content (left out with capture_content=False)
_CONTENT_KEYS = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
                 "gen_ai.prompt", "gen_ai.completion", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result",
                 "gen_ai.tool.definitions", "llm.input_messages.", "llm.output_messages.", "llm.prompts",
                 "llm.tools.", "input.value", "output.value", "input.mime_type", "output.mime_type",
                 "retrieval.documents.", "traceloop.entity.input", "traceloop.entity.output", "tool.parameters",
                 "pydantic_ai.all_messages", "final_result")
# loggers through which the SDK reports each failed batch / dropped span (names vary by version)
_SDK_LOGGERS = ("opentelemetry.exporter.otlp.common.http", "opentelemetry.exporter.otlp.proto.http.trace_exporter",
                "opentelemetry.exporter.otlp.proto.http._common", "opentelemetry.sdk._shared_internal",
                "opentelemetry.sdk.trace.export")


class ExportError(RuntimeError):
    """The endpoint did not take the spans (unreachable, refused, or an error status)."""


def capture_content_default() -> bool:
    """Message content goes out unless ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` says no."""
    return os.environ.get(CONTENT_ENV, "").strip().lower() not in _OFF


# -- ids, values ------------------------------------------------------------------------


def _int_id(text: str | None, digits: int) -> int:
    """An id as OTel's int: the last ``digits`` hex digits of a hex id; any other text hashed."""
    if not text:
        return 0
    t = text.lower()
    tail = t[-digits:]
    if len(t) >= digits and all(c in "0123456789abcdef" for c in tail) and int(tail, 16):
        return int(tail, 16)
    return int.from_bytes(hashlib.sha256(t.encode()).digest()[: digits // 2], "big") or 1


def otel_span_id(ld_id: str | None) -> str | None:
    """The 16-hex OTel span id an llmdebug span id is exported as."""
    return format(_int_id(ld_id, 16), "016x") if ld_id else None


def _json(v: Any) -> str:
    try:
        return json.dumps(v, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(v)


def _text(v: Any) -> str:
    return v if isinstance(v, str) else _json(v)


def _value(v: Any) -> Any:
    """A value OTel attributes take: scalars and lists of one scalar type; the rest as JSON."""
    if isinstance(v, (str, bool, int, float)):
        return v
    if isinstance(v, (list, tuple)) and v:
        kinds = {type(x) for x in v}
        if len(kinds) == 1 and kinds <= {str, bool, int, float}:
            return list(v)
    return _json(v)


def _as_dict(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray, memoryview)):
        v = bytes(v).decode("utf-8", "replace")
    if isinstance(v, str) and v[:1] in ("{", "["):
        try:
            return json.loads(v)
        except ValueError:
            return None
    return v


def _args(a: Any) -> Any:
    """Tool-call arguments as the object they encode (the GenAI parts format), else as given."""
    if isinstance(a, str):
        try:
            parsed = json.loads(a)
        except ValueError:
            return a
        return parsed if isinstance(parsed, dict) else a
    return a


# -- one llmdebug span as attributes ------------------------------------------------------


def _finish_reasons(resp: Any) -> list[str]:
    """Finish reasons of an OpenAI, Anthropic or Gemini response body."""
    if not isinstance(resp, dict):
        return []
    out = [c.get("finish_reason") for c in resp.get("choices") or () if isinstance(c, dict)]
    out += [c.get("finishReason") or c.get("finish_reason") for c in resp.get("candidates") or ()
            if isinstance(c, dict)]
    if resp.get("stop_reason"):
        out.append(resp["stop_reason"])
    if not out and resp.get("object") == "response" and resp.get("status"):
        out.append(resp["status"])
    return [str(r) for r in out if r]


def _calls(s: Span) -> list[dict]:
    """The span's output tool calls as ``{"id", "name", "arguments"}`` (captured or OpenAI-shaped)."""
    out = []
    for c in s.tool_calls or ():
        if isinstance(c, dict):
            fn = c.get("function") if isinstance(c.get("function"), dict) else c
            out.append({"id": c.get("id"), "name": fn.get("name"), "arguments": fn.get("arguments")})
    return out


def _genai_message(m: dict) -> dict:
    """One normalised message in the GenAI parts format."""
    parts: list[dict] = []
    if m["role"] == "tool":
        parts.append({"type": "tool_call_response", "id": m.get("tool_call_id"), "response": m.get("text") or ""})
    elif m.get("text"):
        parts.append({"type": "text", "content": m["text"]})
    for c in m.get("tool_calls") or ():
        parts.append({"type": "tool_call", "id": c.get("id"), "name": c.get("name"), "arguments": _args(c.get("arguments"))})
    out: dict[str, Any] = {"role": m["role"], "parts": parts}
    if m.get("name"):
        out["name"] = m["name"]
    if m.get("finish_reason"):
        out["finish_reason"] = m["finish_reason"]
    return out


def _openinference_messages(a: dict, prefix: str, messages: list[dict]) -> None:
    for i, m in enumerate(messages):
        p = f"{prefix}.{i}.message."
        a[p + "role"] = m["role"]
        if m.get("text"):
            a[p + "content"] = m["text"]
        if m.get("tool_call_id"):
            a[p + "tool_call_id"] = m["tool_call_id"]
        if m.get("name"):
            a[p + "name"] = m["name"]
        for j, c in enumerate(m.get("tool_calls") or ()):
            q = f"{p}tool_calls.{j}.tool_call."
            if c.get("id"):
                a[q + "id"] = c["id"]
            a[q + "function.name"] = c.get("name") or ""
            a[q + "function.arguments"] = _text(c.get("arguments") if c.get("arguments") is not None else {})


def _llm_attributes(s: Span, a: dict, content: bool) -> None:
    provider = s.provider or ""
    op = "embeddings" if s.kind == "embedding" else _OPERATIONS.get(s.endpoint or "", "chat")
    a["gen_ai.operation.name"] = op
    if provider:
        a["gen_ai.provider.name"] = a["gen_ai.system"] = providers.otel_name(provider)
        a["llm.provider"] = provider
        a["llm.system"] = provider
    req_model = s.request_model or s.model
    if req_model:
        a["gen_ai.request.model"] = req_model
    if s.model:
        a["gen_ai.response.model"] = s.model
        a["llm.model_name" if s.kind != "embedding" else "embedding.model_name"] = s.model
    a["gen_ai.request.stream"] = a["llm.is_streaming"] = bool(s.stream)
    if s.base_url:
        u = urlsplit(s.base_url)
        if u.hostname:
            a["server.address"] = u.hostname
            a["server.port"] = u.port or (443 if u.scheme == "https" else 80)
    for key, oi, n in (("gen_ai.usage.input_tokens", "llm.token_count.prompt", s.input_tokens),
                       ("gen_ai.usage.output_tokens", "llm.token_count.completion", s.output_tokens),
                       (None, "llm.token_count.total", s.total_tokens),
                       ("gen_ai.usage.cache_read.input_tokens", "llm.token_count.prompt_details.cache_read",
                        s.cached_tokens),
                       ("gen_ai.usage.cache_creation.input_tokens", "llm.token_count.prompt_details.cache_write",
                        s.cache_write_tokens),
                       ("gen_ai.usage.reasoning.output_tokens", "llm.token_count.completion_details.reasoning",
                        s.reasoning_tokens)):
        if n is not None:
            if key:
                a[key] = n
            a[oi] = n
    if s.cost_usd is not None:
        a["llm.cost.total"] = float(s.cost_usd)
    resp = _as_dict(s.response)
    if isinstance(resp, dict) and isinstance(resp.get("id"), str):
        a["gen_ai.response.id"] = resp["id"]
    reasons = _finish_reasons(resp)
    if reasons:
        a["gen_ai.response.finish_reasons"] = reasons
    try:
        params = providers.params(s) if s.request is not None else {}
        settings = providers.settings(s) if s.request is not None else {}
    except Exception:  # an odd request body: the span still goes out, without its parameters
        params, settings = {}, {}
    for name, key in _PARAMS.items():
        v = params.get(name)
        if isinstance(v, (int, float, str)) and not isinstance(v, bool):
            a[key] = [v] if name == "stop" and isinstance(v, str) else v
        elif name == "stop" and isinstance(v, list) and all(isinstance(x, str) for x in v):
            a[key] = v
    if settings:
        a["llm.invocation_parameters"] = _json(settings)
    if not content:
        return
    request = _as_dict(s.request)
    if s.kind == "embedding":
        if request is not None:
            a["input.value"], a["input.mime_type"] = _text(request), "application/json"
        return
    try:
        inp = providers.chat_messages(s)
    except Exception:
        inp = []
    out_msg = {"role": "assistant", "text": s.output_text or "", "tool_calls": _calls(s)}
    if reasons:
        out_msg["finish_reason"] = reasons[0]
    outs = [out_msg] if (s.output_text or out_msg["tool_calls"]) else []
    if inp:
        a["gen_ai.input.messages"] = _json([_genai_message(m) for m in inp])
        _openinference_messages(a, "llm.input_messages", inp)
    if outs:
        a["gen_ai.output.messages"] = _json([_genai_message(m) for m in outs])
        _openinference_messages(a, "llm.output_messages", outs)
    try:
        tools = providers.tools(s) if s.request is not None else []
    except Exception:
        tools = []
    for i, t in enumerate(tools):
        a[f"llm.tools.{i}.tool.json_schema"] = _json({"type": "function", "function": t})
    if request is not None:
        a["input.value"], a["input.mime_type"] = _text(request), "application/json"
    if s.output_text is not None:
        a["output.value"], a["output.mime_type"] = s.output_text, "text/plain"
    elif s.response is not None:
        a["output.value"], a["output.mime_type"] = _text(_as_dict(s.response)), "application/json"


def _is_content(key: str) -> bool:
    return any(key == k or (k.endswith(".") and key.startswith(k)) for k in _CONTENT_KEYS)


def _attributes(s: Span, content: bool, from_otel: bool) -> dict:
    a: dict[str, Any] = {}
    for k, v in (s.attributes or {}).items():  # the user's (or the instrumentation's) first: ours win
        if v is not None and (content or not from_otel or not _is_content(k)):
            a[str(k)] = _value(v)
    if from_otel:
        a["llmdebug.span_id"] = s.id
        return a
    a["openinference.span.kind"] = _OI_KINDS.get(s.kind, "CHAIN")
    a["llmdebug.kind"] = s.kind
    a["llmdebug.span_id"] = s.id
    if s.kind in ("llm", "embedding"):
        _llm_attributes(s, a, content)
    else:
        if s.kind == "tool":
            a["gen_ai.operation.name"] = "execute_tool"
            a["gen_ai.tool.name"] = a["tool.name"] = s.name
        elif s.kind == "agent":
            a["gen_ai.operation.name"] = "invoke_agent"
            a["gen_ai.agent.name"] = s.name
        if content:
            for key, v in (("input", s.input), ("output", s.output)):
                if v is not None:
                    a[f"{key}.value"] = _text(v)
                    a[f"{key}.mime_type"] = "text/plain" if isinstance(v, str) else "application/json"
    if s.http_status is not None:
        a["http.response.status_code"] = s.http_status
    if s.ttft_ms is not None:
        a["llmdebug.ttft_ms"] = float(s.ttft_ms)
    if s.retries:
        a["llmdebug.retries"] = s.retries
    if s.tags:
        a["tag.tags"] = [str(t) for t in s.tags]
    meta = {k: v for k, v in (s.metadata or {}).items() if k not in ("source", "scope", "service")}
    if meta:
        a["metadata"] = _json(meta)
    if s.replay_of:
        a["llmdebug.replay_of"] = s.replay_of
    if s.cell is not None:
        a["llmdebug.cell"] = s.cell
    if s.status == "error" and s.error_type:
        a["error.type"] = s.error_type
    return a


_resources: dict[str, Resource] = {}
_scopes: dict[str, InstrumentationScope] = {}


def _service() -> str:
    return os.environ.get("OTEL_SERVICE_NAME") or "llmdebug"


def _resource(service: str) -> Resource:
    r = _resources.get(service)
    if r is None:
        r = _resources[service] = Resource.create({"service.name": service})
    return r


def _scope(name: str) -> InstrumentationScope:
    sc = _scopes.get(name)
    if sc is None:
        sc = _scopes[name] = InstrumentationScope(name, _version() if name == "llmdebug" else None)
    return sc


def _version() -> str:
    from .._version import __version__  # the distribution is named differently: ask the package

    return __version__


def to_readable(s: Span, *, capture_content: bool = True, service: str | None = None) -> ReadableSpan:
    """``s`` as the OTel SDK's ``ReadableSpan`` (see the module docstring for ids and attributes)."""
    meta = s.metadata or {}
    from_otel = meta.get("source") == "otel"
    flags = TraceFlags(TraceFlags.SAMPLED)
    trace_id = _int_id(s.trace_id or s.id, 32)
    ctx = SpanContext(trace_id=trace_id, span_id=_int_id(s.id, 16), is_remote=False, trace_flags=flags)
    parent = (SpanContext(trace_id=trace_id, span_id=_int_id(s.parent_id, 16), is_remote=False, trace_flags=flags)
              if s.parent_id else None)
    start = int((s.started_at or 0.0) * 1e9)
    if s.ended_at is not None:
        end = int(s.ended_at * 1e9)
    else:
        end = start + int((s.latency_ms or 0.0) * 1e6)
    events = []
    if s.status == "error":
        status = Status(StatusCode.ERROR, s.error_message or s.error_type or None)
        events.append(Event("exception", {"exception.type": s.error_type or "Error",
                                          "exception.message": s.error_message or ""}, end))
    else:
        status = Status(StatusCode.OK) if not from_otel else Status(StatusCode.UNSET)
    svc = str(meta.get("service")) if from_otel and meta.get("service") else (service or _service())
    return ReadableSpan(
        name=s.name or s.kind,
        context=ctx,
        parent=parent,
        resource=_resource(svc),
        attributes=_attributes(s, capture_content, from_otel),
        events=events,
        kind=SpanKind.CLIENT if s.kind in ("llm", "embedding") and not from_otel else SpanKind.INTERNAL,
        status=status,
        start_time=start,
        end_time=max(end, start),
        instrumentation_scope=_scope(str(meta.get("scope") or "llmdebug") if from_otel else "llmdebug"),
    )


# -- the SDK's own reports, said once ------------------------------------------------------

_quiet = threading.local()


class _OnceFilter(logging.Filter):
    """Drops the SDK's per-batch / per-span failure logs while llmdebug exports (this
    thread only), keeping the last message for our one warning or error."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(_quiet, "on", False):
            return True
        try:
            _quiet.last = record.getMessage()
        except Exception:
            _quiet.last = str(record.msg)
        log.debug("opentelemetry: %s", _quiet.last)
        return False


_filter = _OnceFilter()
_filter_lock = threading.Lock()
_filtered = False


def _install_filter() -> None:
    global _filtered
    with _filter_lock:
        if not _filtered:
            for name in _SDK_LOGGERS:
                logging.getLogger(name).addFilter(_filter)
            _filtered = True


class _Quietly:
    def __enter__(self):
        self.prev = getattr(_quiet, "on", False)
        _quiet.on, _quiet.last = True, None
        return self

    def __exit__(self, *exc):
        self.last = getattr(_quiet, "last", None)
        _quiet.on = self.prev
        return False


def _url(endpoint: str | None) -> str | None:
    """An OTLP/HTTP base URL (``http://host:4318``, Langfuse's ``.../api/public/otel``) gets
    ``/v1/traces``; a URL already ending in it is kept. None: the SDK's env variables."""
    if not endpoint:
        return None
    u = urlsplit(endpoint.strip())
    path = u.path.rstrip("/")
    if not path.endswith("/v1/traces"):
        path += "/v1/traces"
    return urlunsplit((u.scheme or "http", u.netloc, path, u.query, ""))


def _exporter(endpoint: str | None, headers: dict | None, timeout: float | None):
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as e:
        raise ImportError("llmdebug's OTLP export uses the OpenTelemetry SDK's exporter: "
                          "pip install opentelemetry-exporter-otlp-proto-http") from e

    return OTLPSpanExporter(endpoint=_url(endpoint), headers=dict(headers) if headers else None, timeout=timeout)


# -- live export ------------------------------------------------------------------------------


class _Live(SpanExporter):
    """The OTLP exporter behind the batch processor: a failure is one warning, not a log line
    per batch, and after ``stop`` nothing more is attempted."""

    def __init__(self, endpoint: str | None, headers: dict | None):
        self.inner = _exporter(endpoint, headers, None)
        self.where = getattr(self.inner, "_endpoint", endpoint) or "the OTLP endpoint"
        self.deadline: float | None = None  # set by stop: past it, batches are dropped unsent
        self.sent = self.failed = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.failed += len(spans)
            return SpanExportResult.FAILURE
        with _Quietly() as q:
            result = self.inner.export(spans)
        if result is SpanExportResult.SUCCESS:
            self.sent += len(spans)
        else:
            self.failed += len(spans)
            warn_once(f"otel-export:{self.where}",
                      f"llmdebug: could not export spans to {self.where} ({q.last or 'no answer'}); spans that "
                      "cannot be sent are dropped (they stay in the trace file; ld.export can send them later). "
                      "Your calls are not affected. This warning is shown once.")
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class _Export:
    def __init__(self, key: tuple, endpoint: str | None, headers: dict | None, capture_content: bool):
        self.key = key
        self.capture_content = capture_content
        self.exporter = _Live(endpoint, headers)
        self.processor = BatchSpanProcessor(self.exporter)

    def take(self, batch: list) -> None:
        # on the store's writer thread, after the batch was written
        with _Quietly():  # "queue full, dropping span" per span: the queue is bounded on purpose
            for s in batch:
                try:
                    self.processor.on_end(to_readable(s, capture_content=self.capture_content))
                except Exception:
                    report("exporting a span as OpenTelemetry")

    def stop(self, timeout: float) -> bool:
        self.exporter.deadline = time.monotonic() + timeout
        t = threading.Thread(target=self.processor.shutdown, name="llmdebug-export-stop", daemon=True)
        t.start()
        t.join(timeout)
        return not t.is_alive()


_lock = threading.Lock()
_live: _Export | None = None
_hooked = False


def _on_stored(batch: list, conn: Any) -> None:
    # Exported from the store's on_stored hook, not from the tracing sink: the writer thread
    # has finalised these spans (tokens, cost, messages read from the raw response), and the
    # conversion runs there, so the user's call only ever paid for handing the span over.
    live = _live
    if live is not None:
        live.take(batch)


def start_export(endpoint: str | None, *, capture_content: bool | None = None, headers: dict | None = None) -> None:
    """Send every span llmdebug stores from now on to ``endpoint`` as OTLP/HTTP, in the
    background (``http://host:4318``; ``/v1/traces`` is added unless there). ``None``: the
    ``OTEL_EXPORTER_OTLP_*`` variables. ``capture_content=False`` leaves messages, inputs
    and outputs out (default: ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, else
    in). An unreachable endpoint costs the calls nothing: batches are dropped, one warning."""
    global _live, _hooked
    content = capture_content_default() if capture_content is None else bool(capture_content)
    key = (_url(endpoint), content, tuple(sorted((headers or {}).items())))
    with _lock:
        if _live is not None and _live.key == key:
            return
        _install_filter()
        new = _Export(key, endpoint, headers, content)  # raises (no exporter package) before anything changes
        old = _live
        if not _hooked:
            _writer.on_stored(_on_stored)
            atexit.register(_at_exit)
            _hooked = True
        _live = new
    if old is not None:
        old.stop(_STOP_S)


def flush(timeout: float = 30.0) -> bool:
    """Write what was captured so far, then send what the live export holds. False if
    either did not finish (a store that cannot be written, an endpoint that did not answer)."""
    ok = session.flush(timeout)
    live = _live
    if live is None:
        return ok
    with _Quietly():
        done = live.processor.force_flush(int(timeout * 1000))
    return ok and done and live.exporter.failed == 0


def stop_export(timeout: float = _STOP_S) -> bool:
    """Stop the live export, sending what was captured so far first (waiting at most
    ``timeout`` seconds). True if everything queued was sent or given up on in time."""
    global _live
    if _live is None:
        return True
    session.flush(timeout)  # spans captured so far reach the hook while this export is current
    with _lock:
        live, _live = _live, None
    return True if live is None else live.stop(timeout)


def _at_exit() -> None:
    # Registered after the store's own exit drain, so it runs first (atexit is LIFO): the
    # store is flushed here so the last spans go out, bounded so a dead endpoint cannot
    # hold the interpreter.
    try:
        stop_export(_STOP_S)
    except Exception:
        pass


# -- after the fact --------------------------------------------------------------------------


def _stored_spans(filters: dict) -> Iterable[Span]:
    frame = query.spans(**filters)
    for sid in frame["id"].tolist() if len(frame) else ():
        try:
            yield query.get(sid)
        except KeyError:  # deleted since the listing
            continue


def export(endpoint: str | None = None, *, capture_content: bool | None = None, headers: dict | None = None,
           timeout: float = 10.0, **filters: Any) -> int:
    """Send stored spans to ``endpoint`` as OTLP/HTTP now and return how many were sent.
    ``filters`` are those of ``ld.spans`` (``trace_id=``, ``since=``, ``name=`` ...); none
    sends everything. Raises :class:`ExportError` if the endpoint does not take them."""
    content = capture_content_default() if capture_content is None else bool(capture_content)
    exporter = _exporter(endpoint, headers, timeout)
    where = getattr(exporter, "_endpoint", endpoint)
    _install_filter()
    sent = 0
    batch: list[ReadableSpan] = []

    def send() -> None:
        nonlocal sent
        with _Quietly() as q:
            result = exporter.export(batch)
        if result is not SpanExportResult.SUCCESS:
            raise ExportError(f"{where} did not take the spans ({q.last or 'no answer'}); "
                              f"{sent} of them were sent before")
        sent += len(batch)
        batch.clear()

    try:
        for s in _stored_spans(dict(filters)):
            batch.append(to_readable(s, capture_content=content))
            if len(batch) >= _BATCH:
                send()
        if batch:
            send()
    finally:
        exporter.shutdown()
    return sent
