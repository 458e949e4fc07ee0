"""Spans as they were captured: ``calls()`` and ``spans()`` frames, full-text ``search()``,
one ``Span`` record with its payload (``get``, ``last``), and the resolvers that turn
whatever a user passed (a Span, an id or prefix, a row, a DataFrame) into a span or trace.
"""

from __future__ import annotations

import re
import sqlite3
from typing import TYPE_CHECKING, Any

from .. import providers
from ..session import flush, get_store
from ..store.rows import decode_json, from_iso
from ..tracing import Span
from .filters import SPAN_COLS, check_limit, frame, where

if TYPE_CHECKING:
    import pandas as pd


def _id_of(x: Any) -> str:
    if isinstance(x, Span):
        return x.id
    if not isinstance(x, (str, dict)) and hasattr(x, "get") and x.get("id") is not None:
        return str(x.get("id"))  # a calls() / spans() row
    return str(x)


def _select_spans(filters: dict, extra_where: str = "", text: bool = True) -> "pd.DataFrame":
    return frame(*_select_rows(filters, extra_where, text))


def span_rows(**filters: Any) -> list[dict]:
    """``spans(**filters)`` as plain dicts (times as stored, ISO text), without pandas."""
    rows, names = _select_rows(filters)
    return [dict(zip(names, r)) for r in rows]


def _select_rows(filters: dict, extra_where: str = "", text: bool = True) -> tuple[list, list[str]]:
    flush()
    limit = check_limit(filters.pop("limit", None))
    w, params = where(filters)
    if extra_where:
        w = f"{w} AND {extra_where}"
    cols = ", ".join(f"s.{c}" for c in SPAN_COLS)
    names = list(SPAN_COLS)
    join = ""
    if text:
        cols += ", p.output_text"
        names.append("output_text")
        join = "LEFT JOIN payloads p ON p.span_id = s.id"
    sql = f"SELECT {cols} FROM spans s {join} WHERE {w} ORDER BY s.started_at DESC, s.id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    rows = get_store().read(sql, params)
    rows.reverse()  # chronological, newest last
    return rows, names


SEARCH_SYNTAXES = ("plain", "fts")
_SEARCHABLE = re.compile(r"[^\W_]")  # a letter or digit: what FTS5's unicode61 tokenizer keeps


def _plain_query(text: str) -> str | None:
    """Plain words as an FTS5 query: each word one quoted phrase (its tokens in order,
    so ``gpt-4o`` is "gpt" then "4o"), every word required. None: no searchable word."""
    words = [w for w in text.split() if _SEARCHABLE.search(w)]
    return " AND ".join('"' + w.replace('"', '""') + '"' for w in words) or None


def _check_fts(text: str) -> None:
    """Parse an FTS5 query against an empty table of the same columns, so a syntax error
    is told apart from any other database error."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE VIRTUAL TABLE q USING fts5(prompt_text, output_text)")
        conn.execute("SELECT 1 FROM q WHERE q MATCH ?", [text]).fetchall()
    except sqlite3.OperationalError as e:
        raise ValueError(f"invalid full-text query {text!r} ({e}): FTS5 syntax takes words, \"phrases\", "
                         "OR, NOT, AND, prefix* and NEAR(...); drop syntax='fts' to search plain words") from None
    finally:
        conn.close()


def search(text: str, *, syntax: str = "plain", **filters: Any) -> "pd.DataFrame":
    """Spans whose prompt or output holds every word of ``text``, best match first, with a
    ``snippet`` column (``limit`` defaults to 50).

    Words are taken literally: ``gpt-4o``, ``don't``, ``user@example.com`` match those
    words in that order; case and accents are ignored. Text with no letter or digit
    matches nothing. ``syntax="fts"`` takes SQLite FTS5 query syntax instead: ``OR``,
    ``NOT``, ``"exact phrases"``, ``prefix*``, ``NEAR(a b)``, ``output_text: word``; an
    invalid query is a ValueError.

    Example::

        ld.search("gpt-4o timeout", model="gpt-4o-mini", limit=20)
        ld.search("refund OR chargeback NOT policy", syntax="fts")
    """
    if not isinstance(text, str):
        raise TypeError(f"search text must be a string, not {type(text).__name__}")
    if syntax not in SEARCH_SYNTAXES:
        raise ValueError(f"syntax={syntax!r}: use 'plain' (words taken literally) or 'fts' (SQLite FTS5 syntax)")
    limit = check_limit(filters.pop("limit", 50))
    w, params = where(filters)
    if syntax == "fts":
        _check_fts(text)
        match: str | None = text
    else:
        match = _plain_query(text)
    columns = list(SPAN_COLS) + ["output_text", "snippet"]
    if match is None or limit == 0:
        return frame([], columns)
    store = get_store()
    store.writer.index_now()
    cols = ", ".join(f"s.{c}" for c in SPAN_COLS)
    sql = f"""
        SELECT {cols}, p.output_text, snippet(payloads_fts, -1, '[', ']', '…', 12)
        FROM payloads_fts f JOIN payloads p ON p.rowid = f.rowid JOIN spans s ON s.id = p.span_id
        WHERE payloads_fts MATCH ? AND {w}
        ORDER BY f.rank LIMIT ?"""
    rows = store.read(sql, [match] + params + [-1 if limit is None else limit])  # LIMIT -1: no limit
    return frame(rows, columns)


def calls(**filters: Any) -> "pd.DataFrame":
    """One row per LLM call (oldest first; ``limit`` keeps the most recent)."""
    return _select_spans(dict(filters, kind="llm"))


def spans(trace_id: Any = None, **filters: Any) -> "pd.DataFrame":
    """Every span (LLM calls and user spans), optionally of one trace."""
    if trace_id is not None:
        filters["trace_id"] = trace_id
    return _select_spans(filters)


# the payload columns a span is rebuilt from: JSON ones decoded, output_text as stored
_PAYLOAD_JSON = {"request_json": "request", "response_json": "response", "messages_json": "messages",
                 "tool_calls_json": "tool_calls", "events_json": "events", "input_json": "input",
                 "output_json": "output", "attributes_json": "attributes"}
_PAYLOAD_COLS = (*_PAYLOAD_JSON, "output_text")


def _span_from_row(row: tuple, payload: tuple | None) -> Span:
    d = dict(zip(SPAN_COLS, row))
    d["started_at"] = from_iso(d["started_at"]) or 0.0
    d["ended_at"] = from_iso(d["ended_at"])
    d["tags"] = decode_json(d["tags"]) or []
    d["metadata"] = decode_json(d["metadata"]) or {}
    d["stream"] = bool(d["stream"])
    d["priced"] = None if d["priced"] is None else bool(d["priced"])
    s = Span(**d)
    s.events, s.attributes = [], {}
    if payload:
        cells = dict(zip(_PAYLOAD_COLS, payload))
        for column, field_name in _PAYLOAD_JSON.items():
            setattr(s, field_name, decode_json(cells[column]))
        s.output_text = cells["output_text"]
        if s.messages is None and s.kind == "llm":
            s.messages = providers.conversation(s)
        s.events = s.events or []
        s.attributes = s.attributes or {}
    return s


def _resolve(span_id: Any) -> tuple:
    """The ``spans`` row of a span id or unique id prefix; KeyError if there is none."""
    sid = _id_of(span_id)
    store = get_store()
    cols = ", ".join(SPAN_COLS)
    rows = store.read(f"SELECT {cols} FROM spans WHERE id = ?", [sid])
    if not rows and sid:
        rows = store.read(f"SELECT {cols} FROM spans WHERE id >= ? AND id < ? LIMIT 2", [sid, sid + "\uffff"])
        if len(rows) > 1:
            raise KeyError(f"span id prefix {sid!r} is ambiguous; give more characters")
    if not rows:
        raise KeyError(f"no span with id {sid!r} in {store.path}")
    return rows[0]


def _newest_row(x: Any, who: str) -> Any:
    """A DataFrame stands for its newest (last) row."""
    if hasattr(x, "columns") and hasattr(x, "iloc"):
        if len(x) == 0:
            raise LookupError(f"the DataFrame passed to {who} has no rows")
        return x.iloc[-1]
    return x


def _row_value(x: Any, key: str) -> str | None:
    """``x[key]`` of a calls()/spans()/traces() row (a pandas Series or a dict), if set."""
    if isinstance(x, (str, Span)) or not hasattr(x, "get"):
        return None
    v = x.get(key)
    return None if v is None or v != v else str(v)  # v != v: NaN / <NA>


def resolve_span(x: Any, *, who: str = "this function") -> Span:
    """The full span (payload loaded) meant by what a user passed: a Span, a span id or
    unique id prefix, a ``calls()``/``spans()`` row, or a DataFrame (its newest row).
    The one resolver behind ``ld.diff``, ``ld.replay``, ``ld.playground``, ``ld.feedback``."""
    x = _newest_row(x, who)
    if isinstance(x, Span):
        if x.request is not None or x.response is not None or x.output_text is not None or not x.id:
            return x
        try:  # a record without its payload (a summary row): load it whole
            return get(x.id)
        except (KeyError, LookupError):
            return x
    sid = _row_value(x, "id")
    if sid is not None:
        return get(sid)
    if isinstance(x, str):
        return get(x)
    if _row_value(x, "trace_id") is not None:
        raise TypeError(f"{who} takes a call, not a trace: pass a calls() row, a Span or a span id")
    raise TypeError(f"{who} cannot use {type(x).__name__}: pass a Span, a span id (or prefix) or a calls() row")


def resolve_trace(x: Any, *, who: str = "this function") -> tuple[str, str | None]:
    """(trace id, span id to select or None) meant by a trace id, a span id or prefix, a
    Span, a ``calls()``/``spans()``/``traces()`` row, or a DataFrame (its newest row)."""
    x = _newest_row(x, who)
    if isinstance(x, Span):
        return x.trace_id, x.id
    tid = _row_value(x, "trace_id")
    if tid is not None:
        return tid, _row_value(x, "id")
    if not isinstance(x, str):
        tid = getattr(x, "trace_id", None)
        if not isinstance(tid, str):
            raise TypeError(f"{who} cannot use {type(x).__name__}: pass a trace or span id, a Span or a row")
        x = tid
    if get_store().read("SELECT 1 FROM spans WHERE trace_id = ? LIMIT 1", [x]):
        return x, None
    s = get(x)  # a span id or unique prefix; KeyError says what is missing
    return s.trace_id, s.id


def get(span_id: Any) -> Span:
    """The span with this id (or a unique id prefix), with its full request and response."""
    flush()
    row = _resolve(span_id)
    payload = get_store().read(f"SELECT {', '.join(_PAYLOAD_COLS)} FROM payloads WHERE span_id = ?", [row[0]])
    return _span_from_row(row, payload[0] if payload else None)


def last(**filters: Any) -> Span:
    """The most recent LLM call (matching the filters), with request and response."""
    flush()
    w, params = where(dict(filters, kind="llm"))
    rows = get_store().read(f"SELECT s.id FROM spans s WHERE {w} ORDER BY s.started_at DESC LIMIT 1", params)
    if not rows:
        raise LookupError("no LLM call captured yet" + (f" matching {filters}" if filters else ""))
    return get(rows[0][0])

