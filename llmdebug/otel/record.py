"""One neutral OpenTelemetry span record, whatever it came from.

The OTel SDK's ``ReadableSpan`` (in-process), OTLP/JSON (files, the receiver) and
OTLP/protobuf (the receiver) are all turned into :class:`OtelSpan` first, so the
mapping onto llmdebug spans (``conventions.py``) is written once.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any, Iterator

__all__ = ["OtelSpan", "OtelEvent", "from_readable", "from_otlp_json", "hex_id"]

# OTLP's SpanKind enum, by number and by its JSON name
KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
STATUS = {0: "unset", 1: "ok", 2: "error"}


@dataclass(slots=True)
class OtelEvent:
    name: str
    time_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class OtelSpan:
    """A finished OTel span: ids in lowercase hex (trace 32 digits, span 16)."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int
    end_ns: int | None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[OtelEvent] = field(default_factory=list)
    status: str = "unset"  # unset | ok | error
    status_message: str | None = None
    kind: str = "internal"
    resource: dict[str, Any] = field(default_factory=dict)
    scope: str | None = None


def hex_id(value: Any, digits: int) -> str | None:
    """An OTel id as lowercase hex: from an int (SDK), hex text (OTLP/JSON) or base64
    (protobuf's JSON mapping, which some exporters write). None for an empty/zero id."""
    if value is None or value == "" or value == 0 or value == b"":
        return None
    if isinstance(value, int):
        return format(value, f"0{digits}x")
    if isinstance(value, (bytes, bytearray)):
        h = bytes(value).hex()
    else:
        text = str(value).strip()
        if len(text) == digits and all(c in "0123456789abcdefABCDEF" for c in text):
            h = text.lower()
        else:
            try:
                h = base64.b64decode(text, validate=True).hex()
            except (binascii.Error, ValueError):
                h = text.lower()
    if not h or set(h) == {"0"}:
        return None
    return h


def from_readable(span: Any) -> OtelSpan:
    """An SDK ``ReadableSpan`` (what a SpanProcessor's ``on_end`` gets)."""
    ctx = span.context
    parent = span.parent
    status = span.status
    code = getattr(status.status_code, "name", "UNSET").lower() if status is not None else "unset"
    res = span.resource
    scope = span.instrumentation_scope
    return OtelSpan(
        trace_id=format(ctx.trace_id, "032x"),
        span_id=format(ctx.span_id, "016x"),
        parent_id=format(parent.span_id, "016x") if parent is not None and parent.span_id else None,
        name=span.name or "",
        start_ns=span.start_time or 0,
        end_ns=span.end_time,
        attributes=dict(span.attributes or {}),
        events=[OtelEvent(e.name, e.timestamp or 0, dict(e.attributes or {})) for e in (span.events or ())],
        status=code,
        status_message=(status.description or None) if status is not None else None,
        kind=getattr(span.kind, "name", "internal").lower(),
        resource=dict(res.attributes) if res is not None else {},
        scope=scope.name if scope is not None else None,
    )


# -- OTLP/JSON ----------------------------------------------------------------------


def any_value(v: Any) -> Any:
    """An OTLP ``AnyValue`` in its JSON form as a Python value."""
    if not isinstance(v, dict):
        return v
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        try:
            return int(v["intValue"])
        except (TypeError, ValueError):
            return v["intValue"]
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "arrayValue" in v:
        return [any_value(x) for x in (v["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in v:
        return attributes((v["kvlistValue"] or {}).get("values", []))
    if "bytesValue" in v:
        return v["bytesValue"]
    return None


def attributes(kvs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in kvs or ():
        if isinstance(kv, dict) and "key" in kv:
            out[str(kv["key"])] = any_value(kv.get("value"))
    return out


def _int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def _enum(v: Any, names: dict[int, str], prefix: str, default: str) -> str:
    if isinstance(v, int):
        return names.get(v, default)
    if isinstance(v, str):
        t = v.lower()
        return t[len(prefix):] if t.startswith(prefix) else t
    return default


def from_otlp_json(request: dict) -> Iterator[OtelSpan]:
    """Every span of one OTLP ``ExportTraceServiceRequest`` in its JSON form. Raises
    ValueError for a document that is not one."""
    if not isinstance(request, dict) or not isinstance(request.get("resourceSpans", []), list):
        raise ValueError("not an OTLP trace request (no resourceSpans list)")
    for rs in request.get("resourceSpans") or ():
        resource = attributes(((rs or {}).get("resource") or {}).get("attributes"))
        for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or ():
            scope = (ss.get("scope") or ss.get("instrumentationLibrary") or {}).get("name")
            for sp in ss.get("spans") or ():
                trace_id = hex_id(sp.get("traceId"), 32)
                span_id = hex_id(sp.get("spanId"), 16)
                if not trace_id or not span_id:
                    raise ValueError("a span without traceId or spanId")
                status = sp.get("status") or {}
                end = _int(sp.get("endTimeUnixNano"))
                yield OtelSpan(
                    trace_id=trace_id,
                    span_id=span_id,
                    parent_id=hex_id(sp.get("parentSpanId"), 16),
                    name=str(sp.get("name") or ""),
                    start_ns=_int(sp.get("startTimeUnixNano")),
                    end_ns=end or None,
                    attributes=attributes(sp.get("attributes")),
                    events=[OtelEvent(str(e.get("name") or ""), _int(e.get("timeUnixNano")),
                                      attributes(e.get("attributes"))) for e in sp.get("events") or ()],
                    status=_enum(status.get("code"), STATUS, "status_code_", "unset"),
                    status_message=status.get("message") or None,
                    kind=_enum(sp.get("kind"), KINDS, "span_kind_", "internal"),
                    resource=resource,
                    scope=scope,
                )
