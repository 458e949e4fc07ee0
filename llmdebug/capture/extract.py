"""Turn what a call left behind (HTTP bodies, stream bytes, SDK objects) into span fields.

Runs on the writer thread, never on the user's. Generic: the provider module of the
call (see :mod:`llmdebug.providers`) says how its wire format's requests, responses,
streams and usage read, so the same code reads every API, live or from a recording.
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import accumulate, repeat
from typing import Any

from .. import pricing, providers
from .._json import loads
from ..redaction import redact_body, redact_kwargs, redact_url
from . import clients

# Reading rate-limit headers can be switched off (bench/ratelimit_headers.py measures it).
READ_RATE_LIMITS = True


def _loads(data: bytes | str | None) -> Any:
    if not data:
        return None
    try:
        return loads(data)
    except (ValueError, UnicodeDecodeError):
        return None


# -- server-sent events ------------------------------------------------------------------
def parse_sse(chunks: list[tuple[float, bytes]]) -> list[tuple[int, str | None, Any]]:
    """(event number, event name, parsed data) of each complete SSE event
    (``event_end`` turns a number into a position in the stream, ``time_at`` that into
    an arrival time: only the first token's is ever needed).

    Streams run to hundreds of events, so this works on the joined bytes: events are
    split in one call and every event's JSON is decoded in one call. When that does not
    parse (an event whose data spans several lines, data that is not JSON), the general
    path reads events one by one. Event names are kept only there: the APIs repeat them
    as the data's ``type``.
    """
    return parse_sse_bytes(sse_bytes(chunks))


def sse_bytes(chunks: list[tuple[float, bytes]]) -> bytes:
    """A stream's chunks joined, with ``\\n`` line ends."""
    raw = b"".join(c if type(c) is bytes else bytes(c) for _, c in chunks)
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n")  # offsets shift slightly: only timing, never content
    return raw


def _data_blocks(raw: bytes) -> list[bytes]:
    """The data of each event (from its ``data:`` line; several data lines in one event
    fail to decode as one value and send the stream to the general path)."""
    datas = []
    for block in raw.split(b"\n\n"):
        if block[:5] == b"data:":
            datas.append(block[5:])
        else:
            i = block.find(b"\ndata:")  # after "event:" or "id:" lines
            if i >= 0:
                datas.append(block[i + 6:])
    if datas and datas[-1].strip() == b"[DONE]":  # OpenAI's end marker
        datas.pop()
    return datas


def parse_sse_bytes(raw: bytes) -> list[tuple[int, str | None, Any]]:
    """:func:`parse_sse` of the joined stream."""
    datas = _data_blocks(raw)
    if not datas:
        return []
    try:
        values = loads(b"[" + b",".join(datas) + b"]")
        if len(values) == len(datas):
            return list(zip(range(len(values)), repeat(None), values))
    except ValueError:
        pass
    stops, names, datas = _parse_sse_general(raw)
    values = []
    for d in datas:
        v = _loads(d)
        values.append(d.decode("utf-8", "replace") if v is None else v)
    return list(zip(range(len(values)), names, values))


def event_end(raw: bytes, number: int) -> int:
    """Where event ``number`` (of :func:`parse_sse_bytes`) ends in the stream."""
    pos = 0
    for block in raw.split(b"\n\n"):
        pos += len(block) + 2
        if block[:5] == b"data:" or b"\ndata:" in block:
            if number == 0:
                return pos - 2
            number -= 1
    return len(raw)


def _parse_sse_general(raw: bytes) -> tuple[list, list, list]:
    stops, names, datas = [], [], []
    stop = -2
    for block in raw.split(b"\n\n"):
        stop += len(block) + 2
        name, lines = None, []
        for line in block.split(b"\n"):
            field, _, value = line.partition(b":")
            if field == b"event":
                name = value.strip()
            elif field == b"data":
                lines.append(value[1:] if value[:1] == b" " else value)
        if not lines:
            continue
        data = b"\n".join(lines)
        if data.strip() == b"[DONE]":
            continue
        stops.append(stop)
        names.append(name.decode("utf-8", "replace") if name else None)
        datas.append(data)
    return stops, names, datas


def time_at(chunks: list[tuple[float, bytes]], position: int) -> float:
    """The arrival time of the chunk holding byte ``position`` of the stream."""
    ends = list(accumulate(len(c) for _, c in chunks))
    return chunks[min(bisect_left(ends, position), len(ends) - 1)][0]


def _sdk_dict(obj: Any) -> Any:
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json", exclude_unset=True)
        except Exception:
            return None
    return obj if isinstance(obj, dict) else None


def _is_sse(call) -> bool:
    headers = call.attempts[-1][3] if call.attempts else None
    ctype = (headers.get("content-type") or "") if headers is not None else ""
    if ctype:
        return "event-stream" in ctype
    return call.chunks[0][1][:1] != b"{"


def finalize(span, call) -> None:
    """Fill tokens, model, output, tool calls, messages, events and cost of ``span``."""
    endpoint = call.endpoint
    mod = providers.module(endpoint.provider)
    response_wire = providers.wire(endpoint.wire)
    body: bytes | None = None
    if call.request is not None:
        url = str(call.request.url).partition("?")[0]
        path_wire, base_url = providers.wire_for_path(url)
        span.base_url = redact_url(base_url)
        clients.remember(endpoint.provider, span.base_url, call.client)
        response_wire = response_wire or path_wire
        try:
            body = call.request.content
        except Exception:  # a streamed request body has no .content
            body = None
    mod.adjust(span)
    # The request is stored as sent (no second JSON encoding); the conversation is
    # derived from it when read. An SDK that wraps another (litellm) keeps the user's
    # own keyword arguments.
    if endpoint.wire is not None and body and body[:1] == b"{":
        span.request = redact_body(body, loads)
    else:
        span.request = redact_kwargs(call.kwargs, getattr(mod, "SAFE_HEADERS", frozenset()))
        request_wire = providers.wire(mod.ENDPOINT_WIRES.get(endpoint.name))
        span.messages = request_wire.messages(span.request) if request_wire is not None else None

    resp: Any = None
    first = None
    if call.chunks and not _is_sse(call):
        # A whole JSON body read incrementally (e.g. ``with_streaming_response``).
        call.body, call.chunks = b"".join(c for _, c in call.chunks), None
    if call.chunks:
        span.stream = True
        raw = sse_bytes(call.chunks)
        events = parse_sse_bytes(raw)  # event numbers, not times: only the first token's is needed
        if response_wire is not None:
            resp, first = response_wire.assemble(events)
            if first is not None:
                first = event_end(raw, first)
        else:
            resp = {"events": [d for _, _, d in events]}
    elif call.body is not None:
        resp = _loads(call.body)
        if resp is None:
            resp = call.body[:2000].decode("utf-8", "replace")
    if resp is None and call.result is not None:
        resp = _sdk_dict(call.result)
        if resp is not None and endpoint.wire is None:
            response_wire = providers.wire(getattr(mod, "RESULT_WIRES", {}).get(endpoint.name)) or response_wire

    if isinstance(resp, dict):
        reading = (response_wire or providers.DEFAULT_WIRE).read(resp)
        span.model = reading.model or span.request_model
        for k, v in reading.usage.items():
            setattr(span, k, v)
        span.output_text, span.tool_calls = reading.output_text, reading.tool_calls
        if span.status == "ok" and reading.error:
            span.status, (span.error_type, span.error_message) = "error", reading.error
        stored = response_wire.stored(resp) if response_wire is not None else resp
    else:
        span.model = span.request_model
        stored = resp
    # A whole JSON body is stored as received; assembled streams and summaries as built.
    span.response = call.body if (call.body is not None and isinstance(resp, dict) and stored is resp) else stored

    if call.stream_error is not None and span.status == "ok":
        span.record_error(call.stream_error)
    if first is not None:
        span.ttft_ms = (time_at(call.chunks, first) - call.t0) * 1000.0

    events = []
    event_headers, limit_headers = providers.header_names()
    # Headroom is the last response's (a 429 retried into a success keeps the success's; the
    # 429's retry-after stays in its event): one pass over its headers collects them.
    last = max((i for i, a in enumerate(call.attempts) if a[3] is not None), default=-1) if READ_RATE_LIMITS else -1
    found: dict = {}
    for i, (t0, t1, outcome, headers) in enumerate(call.attempts):
        ev = {"type": "http_attempt", "attempt": i + 1, "offset_ms": round((t0 - call.t0) * 1000, 3),
              "duration_ms": round((t1 - t0) * 1000, 3)}
        if isinstance(outcome, int):
            ev["status"] = outcome
            if headers is not None:
                for k, v in headers.raw:
                    name = k.lower()
                    if name in event_headers:
                        ev[name.decode("latin-1")] = v.decode("latin-1")
                    if i == last and name in limit_headers:
                        found[name] = v
        else:
            ev["error"] = outcome
        events.append(ev)
    if found:
        # when the response arrived, on the span's clock (resets given as times count from it)
        at = span.started_at + (call.attempts[last][1] - call.t0)
        for k, v in providers.rate_limits(found, at).items():
            setattr(span, k, v)
    span.events = events
    span.retries = max(len(events) - 1, 0)
    span.rate_limit_hits = sum(1 for e in events if e.get("status") == 429)
    if span.http_status is None and events and "status" in events[-1]:
        span.http_status = events[-1]["status"]
    if span.http_status == 429 and span.status == "error":
        span.rate_limit_hits = max(span.rate_limit_hits, 1)

    if span.input_tokens is not None or span.output_tokens is not None:
        span.cost_usd = pricing.cost(
            span.model,
            provider=span.provider,
            input_tokens=span.input_tokens,
            output_tokens=span.output_tokens,
            cached_tokens=span.cached_tokens,
            cache_write_tokens=span.cache_write_tokens,
            base_url=span.base_url,
            reasoning_tokens=span.reasoning_tokens,
            timestamp=span.started_at,
            key=providers.price_key(span.provider, span.model) if span.model else None,
        )
        span.priced = span.cost_usd is not None if span.input_tokens is not None else None
    else:
        span.cost_usd = None
        span.priced = None
