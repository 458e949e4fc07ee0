"""OTLP/HTTP trace bodies in and responses out, protobuf and JSON.

A request becomes a list of :class:`OtelSpan` plus the spans that could not be taken
(no valid ids), which the response reports as ``partial_success``. A body that is not
an export request at all raises :class:`Malformed`.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import orjson
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from .record import KINDS, STATUS, OtelEvent, OtelSpan, from_otlp_json, hex_id

__all__ = ["Decoded", "Malformed", "PROTOBUF", "JSON", "decode", "response", "status"]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

_HEX32 = re.compile(r"[0-9a-f]{32}\Z")
_HEX16 = re.compile(r"[0-9a-f]{16}\Z")
_ZERO_TRACE = b"\0" * 16
_ZERO_SPAN = b"\0" * 8


class Malformed(ValueError):
    """The body is not an OTLP trace export request."""


class Decoded:
    """The spans of one request, and how many were refused (with the first reason)."""

    __slots__ = ("spans", "rejected", "reason")

    def __init__(self, spans: list[OtelSpan], rejected: int = 0, reason: str | None = None):
        self.spans = spans
        self.rejected = rejected
        self.reason = reason


# -- protobuf ------------------------------------------------------------------------

_SCALARS = frozenset(("string_value", "bool_value", "int_value", "double_value"))


def _value(v: Any) -> Any:
    """An ``AnyValue`` as a Python value (bytes as base64 text, as OTLP/JSON has them)."""
    which = v.WhichOneof("value")
    if which in _SCALARS:
        return getattr(v, which)
    if which == "array_value":
        return [_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in v.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(v.bytes_value).decode("ascii")
    return None


def _attributes(kvs: Any) -> dict[str, Any]:
    out = {}
    for kv in kvs:
        v = kv.value
        which = v.WhichOneof("value")
        # the common case inline: most attributes are plain strings and numbers
        out[kv.key] = getattr(v, which) if which in _SCALARS else _value(v)
    return out


def _from_protobuf(body: bytes) -> Decoded:
    req = ExportTraceServiceRequest()
    try:
        req.ParseFromString(body)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise Malformed(f"the body is not a protobuf ExportTraceServiceRequest ({e})") from None
    spans: list[OtelSpan] = []
    rejected, reason = 0, None
    for rs in req.resource_spans:
        resource = _attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            scope = ss.scope.name or None
            for sp in ss.spans:
                tid, sid, pid = sp.trace_id, sp.span_id, sp.parent_span_id
                if len(tid) != 16 or len(sid) != 8 or tid == _ZERO_TRACE or sid == _ZERO_SPAN \
                        or (pid and len(pid) != 8):
                    rejected += 1
                    reason = reason or f"span {sp.name!r}: trace_id must be 16 bytes and span_id 8, not all zero"
                    continue
                st = sp.status
                end = sp.end_time_unix_nano
                spans.append(OtelSpan(
                    trace_id=tid.hex(),
                    span_id=sid.hex(),
                    parent_id=pid.hex() if pid and pid != _ZERO_SPAN else None,
                    name=sp.name,
                    start_ns=sp.start_time_unix_nano,
                    end_ns=end or None,
                    attributes=_attributes(sp.attributes),
                    events=[OtelEvent(e.name, e.time_unix_nano, _attributes(e.attributes)) for e in sp.events],
                    status=STATUS.get(st.code, "unset"),
                    status_message=st.message or None,
                    kind=KINDS.get(sp.kind, "internal"),
                    resource=resource,
                    scope=scope,
                ))
    return Decoded(spans, rejected, reason)


# -- JSON ----------------------------------------------------------------------------


def _ids_ok(sp: Any) -> bool:
    if not isinstance(sp, dict):
        return False
    tid, sid = hex_id(sp.get("traceId"), 32), hex_id(sp.get("spanId"), 16)
    if tid is None or sid is None or not _HEX32.match(tid) or not _HEX16.match(sid):
        return False
    pid = sp.get("parentSpanId")
    return not pid or (p := hex_id(pid, 16)) is None or bool(_HEX16.match(p))


def _from_json(body: bytes) -> Decoded:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise Malformed(f"the body is not JSON ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("resourceSpans", []), list):
        raise Malformed("not an OTLP trace request (no resourceSpans list)")
    # spans without valid ids are taken out and counted, so the rest is still stored
    rejected, reason = 0, None
    try:
        for rs in doc.get("resourceSpans") or ():
            for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or ():
                kept = [sp for sp in ss.get("spans") or () if _ids_ok(sp)]
                n = len(ss.get("spans") or ()) - len(kept)
                if n:
                    rejected += n
                    reason = reason or "a span without a valid traceId (32 hex digits) or spanId (16)"
                ss["spans"] = kept
        return Decoded(list(from_otlp_json(doc)), rejected, reason)
    except (AttributeError, TypeError, ValueError) as e:
        raise Malformed(f"not an OTLP trace request ({type(e).__name__}: {e})") from None


def decode(body: bytes, content_type: str) -> Decoded:
    """The spans of an export request body in ``content_type`` (PROTOBUF or JSON)."""
    return _from_json(body) if content_type == JSON else _from_protobuf(body)


# -- responses -----------------------------------------------------------------------


def response(content_type: str, rejected: int = 0, reason: str | None = None) -> bytes:
    """An ``ExportTraceServiceResponse``; ``partial_success`` set when spans were refused."""
    if content_type == JSON:
        if not rejected:
            return b"{}"
        # proto3's JSON mapping writes int64 as a string
        return orjson.dumps({"partialSuccess": {"rejectedSpans": str(rejected), "errorMessage": reason or ""}})
    msg = ExportTraceServiceResponse()
    if rejected:
        msg.partial_success.rejected_spans = rejected
        msg.partial_success.error_message = reason or ""
    return msg.SerializeToString()


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def status(content_type: str, code: int, message: str) -> bytes:
    """A ``google.rpc.Status`` (``code`` a google.rpc.Code) in ``content_type``."""
    if content_type == JSON:
        return orjson.dumps({"code": code, "message": message})
    # encoded by hand (fields 1 and 2): googleapis-common-protos is not a dependency of
    # opentelemetry-proto, and two fields do not need it
    text = message.encode("utf-8")
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text
