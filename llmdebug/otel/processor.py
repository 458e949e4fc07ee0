"""OpenTelemetry spans of this process, stored as llmdebug spans, in one tree with llmdebug's own.

:class:`SpanProcessor` stores every span an OTel instrumentation ends. The bridge keeps
the two tracers' "current span" in step, so nesting works both ways: an ``ld.span`` (or
a captured SDK call) opened inside an OTel span becomes its child, and an OTel span
opened inside an ``ld.span`` becomes the ld span's child. When llmdebug's own capture and
an instrumentation both see one LLM call, one span is stored: llmdebug's (it has the
whole request, response and HTTP attempts), in the instrumentation span's place in the
tree, so tokens and cost count once.

The caller's thread only notes ids and hands the span over; reading its attributes
(messages, tokens, price) happens on the store's writer thread.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.sdk._logs import LogRecordProcessor as _SdkLogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace import SpanProcessor as _SdkSpanProcessor
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from .. import session, tracing
from .._guard import report
from ..tracing import Span
from .conventions import is_llm
from .ingest import Mapped
from .record import OtelEvent, from_readable

__all__ = ["SpanProcessor", "LogProcessor", "install", "uninstall", "installed"]

_REMEMBERED = 100_000  # ids of live llmdebug spans kept for OTel children that end late
# Instrumentations that start spans without making them OTel's current span (LangChain's
# callbacks cannot promise to detach a context): a call made while one of their spans is
# open on this thread is placed under the innermost such span.
DETACHED_SCOPES = {"openinference.instrumentation.langchain"}


class _LdSpan(NonRecordingSpan):
    """An llmdebug span as OTel's current span: OTel children made under it point at it."""

    def __init__(self, context: SpanContext, ld_id: str, kind: str):
        super().__init__(context)
        self.ld_id = ld_id
        self.ld_kind = kind


def _hex16(n: int) -> str:
    return format(n, "016x")


class _Ids:
    """OTel span id (16 hex) -> the llmdebug id that stands for it, bounded."""

    def __init__(self):
        self._map: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, otel_id: str, ld_id: str) -> None:
        with self._lock:
            self._map[otel_id] = ld_id
            if len(self._map) > _REMEMBERED:
                self._map.popitem(last=False)

    def get(self, otel_id: str | None) -> str | None:
        if otel_id is None:
            return None
        return self._map.get(otel_id, otel_id)


class Bridge(tracing.Bridge):
    """Keeps llmdebug's current span and OTel's in step (see the module docstring)."""

    def __init__(self):
        self.ids = _Ids()
        self.skip: set[str] = set()  # OTel spans whose call llmdebug's capture stores instead
        self.open = threading.local()  # .spans: this thread's open spans of DETACHED_SCOPES
        # OTel span id -> the GenAI log events emitted under it before it ended (messages an
        # instrumentation sends as events rather than span attributes)
        self.details: OrderedDict[str, list] = OrderedDict()

    def opened(self, span: Any) -> None:
        stack = getattr(self.open, "spans", None)
        if stack is None:
            stack = self.open.spans = []
        stack.append(span)

    def closed(self, span_id: int) -> None:
        stack = getattr(self.open, "spans", None)
        if stack:
            stack[:] = [x for x in stack if x.get_span_context().span_id != span_id]

    def adopt(self, s: Span, parent: Span | None) -> None:
        cur = otel_trace.get_current_span()
        if isinstance(cur, _LdSpan):
            return  # llmdebug's own parent is the innermost
        detached = False
        if not cur.is_recording():
            stack = getattr(self.open, "spans", None)
            if not stack:
                return
            cur, detached = stack[-1], True
        ctx = cur.get_span_context()
        if not ctx.is_valid:
            return
        s.trace_id = format(ctx.trace_id, "032x")
        otel_id = _hex16(ctx.span_id)
        same_call = _detached_is_llm(cur) if detached else is_llm(getattr(cur, "attributes", None) or {})
        if s.kind == "llm" and same_call:
            # the instrumentation's span of this very call: llmdebug's span takes its place
            s.id = otel_id
            up = getattr(cur, "parent", None)
            s.parent_id = self.ids.get(_hex16(up.span_id)) if up is not None and up.span_id else None
            self.skip.add(otel_id)
        else:
            s.parent_id = self.ids.get(otel_id)

    def enter(self, s: Span) -> Any:
        sid = int(s.id[-16:], 16)
        ctx = SpanContext(trace_id=int(s.trace_id, 16), span_id=sid, is_remote=False,
                          trace_flags=TraceFlags(TraceFlags.SAMPLED))
        self.ids.put(_hex16(sid), s.id)
        return otel_context.attach(otel_trace.set_span_in_context(_LdSpan(ctx, s.id, s.kind)))

    def leave(self, token: Any) -> None:
        otel_context.detach(token)


def _detached_is_llm(span: Any) -> bool:
    """Whether an open span of a DETACHED_SCOPES instrumentation is a model call (its
    attributes come only at its end, so the framework's own run is asked)."""
    mod = sys.modules.get("openinference.instrumentation.langchain")
    tracer = getattr(mod.LangChainInstrumentor(), "_tracer", None) if mod is not None else None
    if tracer is None:
        return False
    sid = span.get_span_context().span_id
    for run_id, sp in list(getattr(tracer, "_spans_by_run", {}).items()):
        if sp.get_span_context().span_id == sid:
            run = tracer.run_map.get(str(run_id))
            return getattr(run, "run_type", None) in ("llm", "chat_model")
    return False


class _Pending(Mapped):
    """An ended SDK span (and the GenAI log events of it), read on the writer thread."""

    __slots__ = ("span", "logged")

    def __init__(self, span: ReadableSpan, logged: list | None = None):
        self.span = span
        self.logged = logged

    def approx_bytes(self) -> int:
        a = self.span.attributes or {}
        return 64 * len(a) + sum(len(v) for v in a.values() if isinstance(v, str))

    def finalize(self, s: Span) -> None:
        o = from_readable(self.span)
        for name, attrs, body, ts in self.logged or ():
            if name == OPERATION_DETAILS:  # the span's own attributes win
                for k, v in attrs.items():
                    o.attributes.setdefault(k, v)
            else:
                o.events.append(OtelEvent(name, ts or 0, {**attrs, **(body if isinstance(body, dict) else {})}))
        self.otel = o
        super().finalize(s)


OPERATION_DETAILS = "gen_ai.client.inference.operation.details"
GENAI_EVENTS = frozenset({OPERATION_DETAILS, "gen_ai.system.message", "gen_ai.user.message",
                          "gen_ai.assistant.message", "gen_ai.tool.message", "gen_ai.choice"})
_LOGGED_SPANS = 10_000  # spans with events waiting for their end (one that never ends is dropped)


class LogProcessor(_SdkLogRecordProcessor):
    """Keeps the GenAI log events (messages sent as events, e.g. by
    opentelemetry-instrumentation-openai-v2 in ``EVENT_ONLY`` mode) for the span they
    were emitted under, which is stored with them when it ends."""

    def __init__(self, bridge: Bridge):
        self.bridge = bridge

    def on_emit(self, log_data: Any) -> None:
        try:
            rec = getattr(log_data, "log_record", log_data)
            attrs = dict(rec.attributes or {})
            name = getattr(rec, "event_name", None) or attrs.pop("event.name", None)
            if name not in GENAI_EVENTS or not rec.span_id:
                return
            details = self.bridge.details
            details.setdefault(_hex16(rec.span_id), []).append((name, attrs, rec.body, rec.timestamp))
            while len(details) > _LOGGED_SPANS:
                details.popitem(last=False)
        except Exception:
            report("keeping an OpenTelemetry log event")

    emit = on_emit  # the SDK's newer name

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


_bridge = Bridge()


class SpanProcessor(_SdkSpanProcessor):
    """Stores the spans of an OTel ``TracerProvider`` in llmdebug's store::

        provider.add_span_processor(llmdebug.otel.SpanProcessor())

    ``ld.init(otel=True)`` adds one to the global provider. Also makes llmdebug's own
    spans and OTel's nest with each other."""

    def __init__(self):
        self.bridge = _bridge
        tracing.set_bridge(_bridge)

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        try:
            scope = getattr(span, "instrumentation_scope", None)
            if scope is not None and scope.name in DETACHED_SCOPES:
                self.bridge.opened(span)
            parent = otel_trace.get_current_span(parent_context)
            if isinstance(parent, _LdSpan) and parent.ld_kind == "llm" and is_llm(span.attributes or {}):
                # an instrumentation's span of a call llmdebug is capturing: one span is stored,
                # llmdebug's, and the instrumentation's children hang under it
                otel_id = _hex16(span.context.span_id)
                self.bridge.skip.add(otel_id)
                self.bridge.ids.put(otel_id, parent.ld_id)
        except Exception:
            report("noting an OpenTelemetry span's start")

    def on_end(self, span: ReadableSpan) -> None:
        try:
            ctx = span.context
            otel_id = _hex16(ctx.span_id)
            self.bridge.closed(ctx.span_id)
            details = self.bridge.details.pop(otel_id, None) if self.bridge.details else None
            if otel_id in self.bridge.skip:
                self.bridge.skip.discard(otel_id)
                return
            up = span.parent
            s = Span(id=otel_id, trace_id=format(ctx.trace_id, "032x"),
                     parent_id=self.bridge.ids.get(_hex16(up.span_id)) if up is not None and up.span_id else None,
                     name=span.name or "", kind="span", started_at=(span.start_time or 0) / 1e9)
            s._raw = _Pending(span, details)
            session.submit(s)
        except Exception:
            report("storing an OpenTelemetry span")

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return session.flush(timeout_millis / 1000.0)


_installed: list[tuple[Any, SpanProcessor]] = []


def install() -> SpanProcessor:
    """Add llmdebug's processor to the global TracerProvider (an SDK one is set up if
    there is none yet). Idempotent."""
    from opentelemetry.sdk.trace import TracerProvider

    provider = otel_trace.get_tracer_provider()
    for p, proc in _installed:
        if p is provider:
            return proc
    if not isinstance(provider, TracerProvider):
        if not hasattr(provider, "add_span_processor"):  # the API's proxy: nobody set one up
            provider = TracerProvider()
            otel_trace.set_tracer_provider(provider)
            provider = otel_trace.get_tracer_provider()
    proc = SpanProcessor()
    provider.add_span_processor(proc)
    _installed.append((provider, proc))
    _install_logs()
    return proc


def _install_logs() -> None:
    """Add the GenAI event keeper to the global LoggerProvider (an SDK one if none is set)."""
    try:
        from opentelemetry import _logs
        from opentelemetry.sdk._logs import LoggerProvider

        lp = _logs.get_logger_provider()
        if not hasattr(lp, "add_log_record_processor"):
            _logs.set_logger_provider(LoggerProvider())
            lp = _logs.get_logger_provider()
        if hasattr(lp, "add_log_record_processor") and not _logs_installed:
            proc = LogProcessor(_bridge)
            lp.add_log_record_processor(proc)
            _logs_installed.append((lp, proc))
    except Exception:
        report("joining the OpenTelemetry logs")


_logs_installed: list[tuple[Any, LogProcessor]] = []


def installed() -> bool:
    return bool(_installed)


def uninstall() -> None:
    """Stop storing OTel spans (the processor stays registered but does nothing) and unbridge."""
    for _, proc in _installed:
        proc.on_end = lambda span: None  # type: ignore[method-assign]
        proc.on_start = lambda span, parent_context=None: None  # type: ignore[method-assign]
    _installed.clear()
    for _, logs in _logs_installed:
        logs.on_emit = lambda log_data: None  # type: ignore[method-assign]
        logs.emit = logs.on_emit  # type: ignore[method-assign]
    _logs_installed.clear()
    tracing.set_bridge(None)
