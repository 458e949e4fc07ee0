"""Turn Span records into SQLite rows, safely: any Python object, any size, any bytes.

Runs on the writer thread. Payloads are JSON text; what cannot be JSON becomes its
repr, bytes become a short summary, strings over ``MAX_FIELD_CHARS`` are cut with a
visible marker and inline base64 images over ``MAX_INLINE_DATA`` are summarised, so
one pathological call cannot bloat the file or stop the writer.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import re
from time import gmtime as _gmtime
from typing import Any, Callable

from .._json import STRICT_UTF8, dumps, loads
from .. import providers
from ..redaction import redact_fields, redact_text, redact_url
from ..tracing import Span
from .migrations import PAYLOAD_COLUMNS, SPAN_COLUMNS

MAX_FIELD_CHARS = int(os.environ.get("LLMDEBUG_MAX_FIELD_CHARS", 1_000_000))
MAX_INLINE_DATA = 64 * 1024
MAX_SEARCH_CHARS = 100_000
_DATA_URL = re.compile(r"^data:([\w/+.-]+);base64,", re.I)

SPAN_FIELDS = tuple(SPAN_COLUMNS)
PAYLOAD_FIELDS = tuple(PAYLOAD_COLUMNS)


def iso(ts: float | None) -> str | None:
    """Epoch seconds -> ISO-8601 UTC text that sorts lexicographically."""
    if ts is None:
        return None
    whole = int(ts // 1)
    t = _gmtime(whole)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (
        t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, min(int((ts - whole) * 1e6 + 0.5), 999_999))


_EPOCH = _dt.datetime(1970, 1, 1)


def from_iso(text: str | None) -> float | None:
    """The stored ISO text back to epoch seconds (``fromisoformat``: ~20x faster than strptime)."""
    if not text:
        return None
    return (_dt.datetime.fromisoformat(text.rstrip("Z")) - _EPOCH).total_seconds()


def _summarise_bytes(b: bytes) -> str:
    return f"<{len(b)} bytes, sha256:{hashlib.sha256(b).hexdigest()[:16]}>"


def clip(s: str, limit: int = MAX_FIELD_CHARS) -> str:
    if len(s) <= limit:
        return s
    return s[:limit] + f"…[llmdebug: truncated {len(s) - limit} of {len(s)} chars]"


def _clean_str(s: str) -> str:
    if len(s) > MAX_INLINE_DATA:
        m = _DATA_URL.match(s)
        if m:
            raw_len = (len(s) - m.end()) * 3 // 4
            digest = hashlib.sha256(s.encode("ascii", "replace")).hexdigest()[:16]
            return f"<{m.group(1)} base64 data, {raw_len} bytes, sha256:{digest} (summarised by llmdebug)>"
        return clip(s)
    return s


def jsonable(obj: Any, _depth: int = 0) -> Any:
    """A JSON-safe copy of ``obj``: pydantic models dumped, bytes summarised, the rest repr'd."""
    if obj is None or isinstance(obj, (bool, int, float)):
        if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
            return None  # NaN and Infinity are not JSON (SQLite's json functions reject them)
        return obj
    if isinstance(obj, str):
        return _clean_str(obj)
    if _depth > 40:
        return "<nested too deep>"
    if isinstance(obj, dict):
        return {str(k): jsonable(v, _depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v, _depth + 1) for v in obj]
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return _summarise_bytes(bytes(obj))
    try:  # a broken proxy may raise anything from __getattr__
        dump = getattr(obj, "model_dump", None)
    except Exception:
        dump = None
    if callable(dump):
        try:
            return jsonable(dump(mode="json", exclude_unset=True), _depth + 1)
        except Exception:
            pass
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        try:
            return jsonable(dataclasses.asdict(obj), _depth + 1)
        except Exception:
            pass
    if isinstance(obj, (_dt.datetime, _dt.date)):
        return obj.isoformat()
    try:
        tolist = getattr(obj, "tolist", None)  # numpy arrays and scalars
    except Exception:
        tolist = None
    if callable(tolist):
        try:
            return jsonable(tolist(), _depth + 1)
        except Exception:
            pass
    try:
        return clip(repr(obj), 10_000)
    except Exception:
        return f"<unrepresentable {type(obj).__name__}>"


def safe_text(s: str) -> str:
    """SQLite wants valid UTF-8: lone surrogates (broken unicode) become escapes."""
    if s.isascii():  # O(1) in CPython: most text, and no surrogate can hide in it
        return s
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "backslashreplace").decode("utf-8")


def to_json(obj: Any) -> str | None:
    if obj is None:
        return None
    if isinstance(obj, (bytes, bytearray)):
        # Raw HTTP bodies: keep them as text when they are text.
        try:
            text = bytes(obj).decode("utf-8")
        except UnicodeDecodeError:
            return json.dumps(_summarise_bytes(bytes(obj)))
        if len(text) <= MAX_INLINE_DATA:
            return text  # decoded strictly: valid UTF-8 already
        try:
            obj = json.loads(text)
        except ValueError:
            return json.dumps(clip(text))
    try:
        text = dumps(obj)
        if len(text) <= MAX_INLINE_DATA:
            return text if STRICT_UTF8 else safe_text(text)
    except (TypeError, ValueError, RecursionError):
        pass
    return safe_text(json.dumps(jsonable(obj), ensure_ascii=False, separators=(",", ":")))


_TEXT_KEYS = ("text", "content", "input", "output", "arguments", "thinking")


def _text_of(content: Any, out: list[str], budget: list[int], _depth: int = 0) -> None:
    if budget[0] <= 0 or content is None or _depth > 40:  # 40: self-referencing lists
        return
    if isinstance(content, str):
        if content.startswith("data:") and _DATA_URL.match(content):
            return  # an inline image or file: nothing to search for in base64
        piece = content[: budget[0]]
        out.append(piece)
        budget[0] -= len(piece)
    elif isinstance(content, dict):
        # Message parts: their text only (not "role", "type", ids). Anything else: every value.
        keys = [k for k in _TEXT_KEYS if k in content] or list(content)
        for key in keys:
            _text_of(content[key], out, budget, _depth + 1)
    elif isinstance(content, (list, tuple)):
        for item in content:
            _text_of(item, out, budget, _depth + 1)


def search_text(messages: Any) -> str | None:
    """Plain text of a message list (or any payload) for full-text search."""
    if messages is None:
        return None
    out: list[str] = []
    _text_of(messages, out, [MAX_SEARCH_CHARS])
    return safe_text("\n".join(out)) if out else None


_INT64 = (-(2**63), 2**63 - 1)


def _cell(v: Any) -> Any:
    """A value SQLite can bind: a bad value in one column must not fail the whole batch
    (a lone surrogate in ``kind`` or ``model``, an object passed as ``kind=``...)."""
    if v is None or isinstance(v, float):
        return v
    if isinstance(v, int):
        return int(v) if _INT64[0] <= v <= _INT64[1] else str(v)
    if isinstance(v, str):
        return safe_text(v)
    v = jsonable(v)
    return safe_text(clip(v if isinstance(v, str) else to_json(v), 20_000))


def _t(v: Any) -> Any:
    """A text column: ASCII strings and None pass as they are (the common case)."""
    return v if v is None or (type(v) is str and v.isascii()) else _cell(v)


def _n(v: Any) -> Any:
    """A number column."""
    return v if v is None or type(v) is float or (type(v) is int and -(2**63) <= v < 2**63) else _cell(v)


def _name(v: Any) -> Any:
    return _cell(clip(str(v), 2000))


def _url(v: Any) -> Any:
    return _t(redact_url(v))


def _error_message(v: Any) -> Any:
    return _cell(clip(redact_text(v), 20_000)) if v else None


def _flag(v: Any) -> int:
    return int(bool(v))


def _flag_or_none(v: Any) -> int | None:
    return None if v is None else int(bool(v))


def _json_or_none(v: Any) -> str | None:
    return to_json(v) if v else None


def _redacted_json_or_none(v: Any) -> str | None:
    return to_json(redact_fields(v)) if v else None


# How each ``spans`` column is made from the Span attribute of the same name. Odd values
# (objects, broken unicode, huge ints) go through :func:`_cell`, so one bad span cannot
# fail a whole batch. A new column: add it to SPAN_COLUMNS (and a migration) and here.
SPAN_CELLS: dict[str, Callable[[Any], Any]] = {
    "id": _t,
    "trace_id": _t,
    "parent_id": _t,
    "name": _name,
    "kind": _t,
    "provider": _t,
    "model": _t,
    "request_model": _t,
    "endpoint": _t,
    "base_url": _url,
    "status": _t,
    "error_type": _t,
    "error_message": _error_message,
    "http_status": _n,
    "input_tokens": _n,
    "output_tokens": _n,
    "total_tokens": _n,
    "cached_tokens": _n,
    "cache_write_tokens": _n,
    "reasoning_tokens": _n,
    "cost_usd": _n,
    "priced": _flag_or_none,
    "latency_ms": _n,
    "ttft_ms": _n,
    "started_at": iso,
    "ended_at": iso,
    "stream": _flag,
    "retries": _n,
    "rate_limit_hits": _n,
    "replay_of": _t,
    "tags": _json_or_none,
    "metadata": _redacted_json_or_none,
    "cell": _n,
    "ratelimit_limit_requests": _n,
    "ratelimit_remaining_requests": _n,
    "ratelimit_limit_tokens": _n,
    "ratelimit_remaining_tokens": _n,
    "ratelimit_reset_requests_s": _n,
    "ratelimit_reset_tokens_s": _n,
    "retry_after_s": _n,
    "in_flight": _n,
}


def _redacted_json(v: Any) -> str | None:
    return to_json(redact_fields(v))


def _messages_json(s: Span) -> str | None:
    return None if s.kind == "llm" else to_json(s.messages)  # llm: derived from the request on read


def _prompt_text(s: Span) -> str | None:
    """The search text of what the span was given: an LLM call's conversation (read from
    the request once, here, so indexing never rewrites the row), a user span's messages
    or input."""
    if s.kind != "llm":
        return search_text(redact_fields(s.messages if s.messages is not None else s.input))
    req = s.request
    if isinstance(req, (bytes, bytearray, str)):
        try:
            req = loads(req)
        except (ValueError, UnicodeDecodeError):
            return None
    if isinstance(req, dict):
        return search_text(providers.conversation(s, request=req))
    return search_text(s.messages)


def _output_text(s: Span) -> str | None:
    text = s.output_text
    if text is None and s.kind != "llm" and s.output is not None:
        text = search_text(s.output)
    return safe_text(clip(text)) if text is not None else None


# How each ``payloads`` column is made: (the Span attribute it comes from, or None for the
# whole Span; the function making the value, or None to store the attribute as it is).
PAYLOAD_CELLS: dict[str, tuple[str | None, Callable[[Any], Any] | None]] = {
    "span_id": ("id", None),
    "request_json": ("request", to_json),
    "response_json": ("response", to_json),
    "messages_json": (None, _messages_json),
    "tool_calls_json": ("tool_calls", to_json),
    "events_json": ("events", _json_or_none),
    "input_json": ("input", _redacted_json),
    "output_json": ("output", to_json),
    "attributes_json": ("attributes", _redacted_json_or_none),
    "prompt_text": (None, _prompt_text),
    "output_text": (None, _output_text),
}


class RowShapeError(RuntimeError):
    """A row builder and its table's columns disagree: a bug in llmdebug, not a file problem."""


def row_builder(name: str, table: str, columns: tuple[str, ...], cells: dict, doc: str) -> Callable[[Span], tuple]:
    """A function ``name(span)`` making the row of ``table`` in ``columns`` order, each
    value as ``cells[column]`` says: ``(attribute, function)``, see PAYLOAD_CELLS.

    Every column must have exactly one cell and every cell a column, or this raises
    :class:`RowShapeError` naming them (at import, so a row can never be short or long).
    The function is compiled from generated source, as ``namedtuple`` and ``dataclasses``
    build theirs: it runs for every captured span on the writer thread, where a loop over
    the columns would cost 2-3 µs a span (3-5 % of ingest) and this costs nothing."""
    missing = [c for c in columns if c not in cells]
    unknown = [c for c in cells if c not in columns]
    if missing or unknown:
        problems = ([f"no cell for column {c!r}" for c in missing] + [f"cell {c!r} is not a column" for c in unknown])
        raise RowShapeError(f"rows.py cannot build {table} rows: {'; '.join(problems)}. Give each column of {table} "
                            f"exactly one cell (columns: {', '.join(columns)}).")
    env: dict[str, Any] = {"__name__": __name__}
    values = []
    for i, column in enumerate(columns):
        attribute, make = cells[column]
        if attribute is not None and not attribute.isidentifier():
            raise RowShapeError(f"the cell of {table}.{column} names {attribute!r}, not a Span attribute")
        source = "s" if attribute is None else f"s.{attribute}"
        if make is None:
            values.append(source)
        else:
            env[f"_make{i}"] = make
            values.append(f"_make{i}({source})")
    exec(f"def {name}(s):\n    return ({', '.join(values)},)\n", env)  # noqa: S102 - our own names
    fn = env[name]
    fn.__doc__ = doc
    return fn


span_row = row_builder("span_row", "spans", SPAN_FIELDS, {c: (c, make) for c, make in SPAN_CELLS.items()},
                       "The ``spans`` row of a span, in ``SPAN_FIELDS`` order (see ``SPAN_CELLS``).")
_payload_cells = row_builder("_payload_cells", "payloads", PAYLOAD_FIELDS, PAYLOAD_CELLS,
                             "The ``payloads`` row of a span that has a payload (see ``payload_row``).")

_WIDTHS = {"spans": SPAN_FIELDS, "payloads": PAYLOAD_FIELDS}


def check_width(row: tuple, table: str) -> tuple:
    """``row`` if it holds one value per column of ``table``; a :class:`RowShapeError`
    saying so if not (SQLite's "Incorrect number of bindings" would read as a file problem)."""
    columns = _WIDTHS[table]
    if len(row) != len(columns):
        raise RowShapeError(f"a {table} row of {len(row)} values for its {len(columns)} columns "
                            f"({', '.join(columns)}): rows.py must make one value per column")
    return row


def payload_row(s: Span) -> tuple | None:
    """The ``payloads`` row of a span (``PAYLOAD_FIELDS`` order; see ``PAYLOAD_CELLS``),
    or None when it has no payload."""
    if (
        s.request is None
        and s.response is None
        and s.messages is None
        and s.output_text is None
        and s.input is None
        and s.output is None
        and not s.events
        and not s.attributes
        and s.tool_calls is None
    ):
        return None
    return _payload_cells(s)


def decode_json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return loads(text)
    except ValueError:
        return text

