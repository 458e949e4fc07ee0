"""The read side: captured spans as pandas DataFrames, Span records and SQL aggregates.

Every function takes the same keyword filters: ``model``, ``provider``, ``status``,
``trace_id``, ``name``, ``since``, ``until``, ``tag`` and ``limit``. The value filters
take a string or a list of strings (any of them matches; an empty list matches
nothing); ``status`` is ``"ok"`` or ``"error"``. ``since`` and ``until`` take a
datetime, an ISO string, epoch seconds, a ``timedelta`` or a string such as ``"15m"``,
``"2h"``, ``"7d"``, ``"1w"`` (that long ago). ``limit`` is a whole number ≥ 0. A bad
value is a ValueError or TypeError saying what is accepted. Aggregates run in SQLite
over the narrow ``spans`` table, never by loading every row into Python.
"""

from __future__ import annotations

import datetime as _dt
import itertools
from contextvars import ContextVar
import json
import math
import numbers
import re
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from . import durations, providers
from .session import flush, get_store
from .tracing import Span
from .store.migrations import SPAN_COLUMNS
from .store import rollup
from .store.rows import decode_json, from_iso, iso

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["calls", "spans", "traces", "metrics", "last", "get", "feedback", "search", "resolve_span",
           "resolve_trace"]

FILTERS = ("model", "provider", "status", "trace_id", "name", "since", "until", "tag", "limit")
_BY = {
    "model": "s.model",
    "provider": "s.provider",
    "name": "s.name",
    "endpoint": "s.endpoint",
    "status": "s.status",
    "day": "substr(s.started_at, 1, 10)",
    "hour": "substr(s.started_at, 1, 13) || ':00'",
    "tag": "t.value",
    "trace_id": "s.trace_id",
    "minute": "substr(s.started_at, 1, 16)",
    "cell": "s.cell",
}
# Groupings the hourly rollup cannot answer: read from the raw spans.
_SPAN_ONLY = ("trace_id", "minute", "cell")
_TIME_DIMS = ("minute", "hour", "day")
_SPAN_COLS = list(SPAN_COLUMNS)
_INT_COLS = [c for c, t in SPAN_COLUMNS.items() if t is int] + [
    "spans", "calls", "errors", "input_tokens", "output_tokens", "retries", "rate_limit_hits"]
STATUSES = ("ok", "error")
_TIME_FORMS = ("a datetime, an ISO-8601 string ('2026-11-20T12:00Z'), epoch seconds (finite, years 1-9999), "
               "a timedelta ≥ 0, or a duration ago such as '90s', '15m', '2h', '7d', '1w'")


def _when(value: Any, name: str = "since") -> str:
    """Any supported time value -> the stored ISO text form (UTC)."""
    try:
        if isinstance(value, _dt.timedelta):
            return _epoch(time.time() - durations.seconds(value, name=name, allow_zero=True))
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, numbers.Real):
            return _epoch(float(value))
        if isinstance(value, str):
            try:
                ago = durations.seconds(value, name=name, allow_zero=True)
            except ValueError:
                value = _dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            else:
                return _epoch(time.time() - ago)
        if hasattr(value, "to_pydatetime"):  # pandas Timestamp
            value = value.to_pydatetime()
        if isinstance(value, _dt.datetime):
            if value.tzinfo is None:
                value = value.astimezone()  # naive means local time, as datetime.now() gives
            return iso(value.timestamp())
        if isinstance(value, _dt.date):
            return iso(_dt.datetime(value.year, value.month, value.day).astimezone().timestamp())
    except (ValueError, OverflowError, OSError):  # garbage text, NaN, a time before year 1 or after 9999
        raise ValueError(f"{name}={value!r} is not a time: give {_TIME_FORMS}") from None
    except TypeError:
        pass
    raise TypeError(f"{name}={value!r} is not a time: give {_TIME_FORMS}")


def _epoch(ts: float) -> str:
    # Years 1-9999 only: the stored ISO text compares as text (epoch milliseconds passed
    # as seconds would otherwise silently select nothing).
    _dt.datetime.fromtimestamp(ts, _dt.timezone.utc)  # raises for NaN, inf and years out of range
    return iso(ts)


def _limit(value: Any) -> int | None:
    """``limit`` as an int (None: no limit)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"limit={value!r}: give a whole number ≥ 0 (0 returns no rows), or None for no limit")
    return int(value)


def _choices(key: str, value: Any) -> list[str]:
    """A value filter as the strings it matches (any of them)."""
    if isinstance(value, (list, tuple, set, frozenset)):
        values = list(value)
    elif not isinstance(value, str) and callable(getattr(value, "tolist", None)):  # a Series / array of ids
        values = value.tolist()
        values = values if isinstance(values, list) else [values]
    else:
        values = [value]
    if key == "trace_id":
        values = [v.trace_id if isinstance(v, Span) else v for v in values]
    if not all(isinstance(v, str) for v in values):
        raise TypeError(f"{key}={value!r}: give a string or a list of strings (any of them matches)")
    if key == "status" and not set(values) <= set(STATUSES):
        raise ValueError(f"status={value!r}: use 'ok' or 'error' (or a list of them)")
    return values


def _value_clauses(filters: dict, alias: str, keys: tuple) -> tuple[list[str], list]:
    """``IN`` clauses of the value filters among ``keys``; an empty list matches nothing."""
    clauses, params = [], []
    for key in keys:
        if filters.get(key) is None:
            continue
        values = _choices(key, filters[key])
        if not values:
            clauses.append("0")
            continue
        test = "= ?" if len(values) == 1 else f"IN ({', '.join('?' * len(values))})"
        if key == "tag":
            clauses.append(f"EXISTS (SELECT 1 FROM json_each({alias}.tags) WHERE json_each.value {test})")
        else:
            clauses.append(f"{alias}.{key} {test}")
        params.extend(values)
    return clauses, params


def _id_of(x: Any) -> str:
    if isinstance(x, Span):
        return x.id
    if not isinstance(x, (str, dict)) and hasattr(x, "get") and x.get("id") is not None:
        return str(x.get("id"))  # a calls() / spans() row
    return str(x)


def where(filters: dict, *, alias: str = "s") -> tuple[str, list]:
    """SQL WHERE clause (without the keyword) and parameters for the shared filters.
    Every value is checked: a bad one is a ValueError/TypeError saying what is accepted."""
    unknown = set(filters) - set(FILTERS) - {"kind"}
    if unknown:
        raise TypeError(f"unknown filter(s) {sorted(unknown)}; filters are {', '.join(FILTERS)}")
    _limit(filters.get("limit"))
    clauses, params = _value_clauses(filters, alias, ("model", "provider", "status", "name", "kind", "trace_id",
                                                      "tag"))
    for key, op in (("since", ">="), ("until", "<")):
        if filters.get(key) is not None:
            clauses.append(f"{alias}.started_at {op} ?")
            params.append(_when(filters[key], key))
    return (" AND ".join(clauses) or "1"), params


def _frame(rows: list, columns: list[str]) -> "pd.DataFrame":
    import pandas as pd

    df = pd.DataFrame.from_records(rows, columns=columns)
    for col in ("started_at", "ended_at"):
        if col in df:
            df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601")
    for col in ("tags", "metadata"):
        if col in df:
            df[col] = [decode_json(v) if isinstance(v, str) else ([] if col == "tags" else {}) for v in df[col]]
    for col in ("stream", "priced"):
        if col in df:
            df[col] = df[col].astype("boolean")
    for col in _INT_COLS:
        if col in df:
            df[col] = df[col].astype("Int64")  # nullable: "not reported" stays <NA>, not NaN
    return df


def _select_spans(filters: dict, extra_where: str = "", text: bool = True) -> "pd.DataFrame":
    flush()
    limit = _limit(filters.pop("limit", None))
    w, params = where(filters)
    if extra_where:
        w = f"{w} AND {extra_where}"
    cols = ", ".join(f"s.{c}" for c in _SPAN_COLS)
    names = list(_SPAN_COLS)
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
    return _frame(rows, names)


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
    limit = _limit(filters.pop("limit", 50))
    w, params = where(filters)
    if syntax == "fts":
        _check_fts(text)
        match: str | None = text
    else:
        match = _plain_query(text)
    columns = list(_SPAN_COLS) + ["output_text", "snippet"]
    if match is None or limit == 0:
        return _frame([], columns)
    store = get_store()
    store.writer.index_now()
    cols = ", ".join(f"s.{c}" for c in _SPAN_COLS)
    sql = f"""
        SELECT {cols}, p.output_text, snippet(payloads_fts, -1, '[', ']', '…', 12)
        FROM payloads_fts f JOIN payloads p ON p.rowid = f.rowid JOIN spans s ON s.id = p.span_id
        WHERE payloads_fts MATCH ? AND {w}
        ORDER BY f.rank LIMIT ?"""
    rows = store.read(sql, [match] + params + [-1 if limit is None else limit])  # LIMIT -1: no limit
    return _frame(rows, columns)


def calls(**filters: Any) -> "pd.DataFrame":
    """One row per LLM call (oldest first; ``limit`` keeps the most recent)."""
    return _select_spans(dict(filters, kind="llm"))


def spans(trace_id: Any = None, **filters: Any) -> "pd.DataFrame":
    """Every span (LLM calls and user spans), optionally of one trace."""
    if trace_id is not None:
        filters["trace_id"] = trace_id
    return _select_spans(filters)


def traces(**filters: Any) -> "pd.DataFrame":
    """One row per trace: name, start, duration, spans, calls, tokens, cost, errors, status.

    Filters select traces holding at least one matching span; ``name`` matches the
    root span. With ``limit``, only the newest traces are aggregated.
    """
    flush()
    limit = _limit(filters.pop("limit", None))
    name = filters.pop("name", None)
    w, params = where(filters)
    if name is not None:
        root_name, root_params = _value_clauses({"name": name}, "r", ("name",))
        w += f" AND s.trace_id IN (SELECT r.trace_id FROM spans r WHERE r.parent_id IS NULL AND {root_name[0]})"
        params += root_params
    store = get_store()
    if limit == 0:
        rows = []
    elif limit is not None:
        # Walk the started_at index from the newest span and stop at `limit` traces.
        ids: dict[str, None] = {}
        with store.reading() as db:
            cur = db.execute(f"SELECT s.trace_id FROM spans s WHERE {w} ORDER BY s.started_at DESC", params)
            for (tid,) in cur:
                ids[tid] = None
                if len(ids) >= limit:
                    break
            cur.close()
        rows = trace_summaries(list(ids))
    else:
        rows = _trace_summaries(f"s.trace_id IN (SELECT s.trace_id FROM spans s WHERE {w})", params)
    df = _frame(rows, TRACE_COLUMNS)
    df.insert(4, "duration_ms", (df["ended_at"] - df["started_at"]).dt.total_seconds() * 1000.0)
    df.insert(len(df.columns), "status", ["error" if e else "ok" for e in df["errors"]])
    return df


TRACE_COLUMNS = ["trace_id", "name", "started_at", "ended_at", "spans", "calls", "errors", "input_tokens",
                 "output_tokens", "cost_usd", "retries", "rate_limit_hits", "models"]


def _trace_summaries(chosen: str, params: list) -> list[tuple]:
    sql = f"""
        SELECT s.trace_id,
               COALESCE(MAX(CASE WHEN s.parent_id IS NULL THEN s.name END), MIN(s.name)) AS name,
               MIN(s.started_at) AS started_at, MAX(s.ended_at) AS ended_at,
               COUNT(*) AS spans, SUM(s.kind = 'llm') AS calls,
               SUM(s.status = 'error') AS errors,
               SUM(s.input_tokens) AS input_tokens, SUM(s.output_tokens) AS output_tokens,
               SUM(s.cost_usd) AS cost_usd, SUM(s.retries) AS retries,
               SUM(s.rate_limit_hits) AS rate_limit_hits,
               group_concat(DISTINCT s.model) AS models
        FROM spans s
        WHERE {chosen}
        GROUP BY s.trace_id
        ORDER BY started_at"""
    return get_store().read(sql, params)


def trace_summaries(trace_ids: list[str]) -> list[tuple]:
    """Aggregate rows (``TRACE_COLUMNS``, oldest first) of the given traces."""
    if not trace_ids:
        return []
    return _trace_summaries(f"s.trace_id IN ({', '.join('?' * len(trace_ids))})", list(trace_ids))


def top_traces(order: str = "cost", n: int = 10, **filters: Any) -> "pd.DataFrame":
    """The ``n`` costliest traces (LLM cost summed per trace) or slowest (root span
    duration), as ``traces()`` rows. Filters select the LLM calls that count."""
    flush()
    if order not in ("cost", "duration"):
        raise ValueError(f"order={order!r}: use 'cost' or 'duration'")
    _limit(filters.pop("limit", None))  # n says how many; a limit is checked, not used
    w, params = where(dict(filters, kind="llm"))
    store = get_store()
    if order == "cost":
        sql = (f"SELECT s.trace_id FROM spans s WHERE {w} AND s.cost_usd IS NOT NULL "
               "GROUP BY s.trace_id ORDER BY SUM(s.cost_usd) DESC LIMIT ?")
        found = store.read(sql, params + [int(n)])
    else:
        found = _slowest_roots(store, filters, w, params, int(n))
    ids = [r[0] for r in found]
    df = _frame(trace_summaries(ids), TRACE_COLUMNS)
    df.insert(4, "duration_ms", (df["ended_at"] - df["started_at"]).dt.total_seconds() * 1000.0)
    if order == "duration":  # the root span's own latency is the trace's duration
        df["duration_ms"] = df["trace_id"].map(dict(found)).astype(float)
    df["status"] = ["error" if e else "ok" for e in df["errors"]]
    key = "cost_usd" if order == "cost" else "duration_ms"
    return df.sort_values(key, ascending=False, kind="stable").reset_index(drop=True)


def _slowest_roots(store, filters: dict, w: str, params: list, n: int) -> list[tuple]:
    """(trace_id, duration) of the slowest root spans whose trace holds a matching call.

    Root spans come longest first in growing batches (a bounded top-k sort each); only
    the candidates are checked against the filters, through the trace_id index. (One
    correlated EXISTS over every root made SQLite scan the table once per root.)"""
    time_only = {k for k, v in filters.items() if v is not None} <= {"since", "until"}
    rw, rparams = where({k: filters[k] for k in ("since", "until") if filters.get(k) is not None}, alias="r")
    check = f"SELECT 1 FROM spans s INDEXED BY idx_spans_trace_id WHERE s.trace_id = ? AND {w} LIMIT 1"
    found: list[tuple] = []
    batch = max(4 * n, 64)
    while batch <= 4096:
        rows = store.read(f"SELECT r.trace_id, r.latency_ms FROM spans r WHERE r.parent_id IS NULL AND "
                          f"r.latency_ms IS NOT NULL AND {rw} ORDER BY r.latency_ms DESC LIMIT ?", rparams + [batch])
        found = [r for r in rows if time_only or store.read(check, [r[0]] + params)][:n]
        if len(found) >= n or len(rows) < batch:
            return found
        batch *= 8
    # A selective filter: from the matching calls to their roots instead.
    return store.read(
        f"SELECT r.trace_id, r.latency_ms FROM spans s JOIN spans r INDEXED BY idx_spans_trace_id "
        f"ON r.trace_id = s.trace_id AND r.parent_id IS NULL WHERE {w} AND r.latency_ms IS NOT NULL "
        "GROUP BY r.trace_id ORDER BY r.latency_ms DESC LIMIT ?", params + [n])


def _like(text: str) -> str:
    """A LIKE pattern (with ESCAPE '\\') matching ``text`` anywhere, wildcards taken literally."""
    return "%" + re.sub(r"([%_\\])", r"\\\1", text) + "%"


def recent_trace_ids(*, name: str = "", status: str = "", model: str = "", since: Any = None,
                     limit: int = 200) -> list[str]:
    """Newest traces first whose root name contains ``name`` and which hold a span of
    ``status`` / a model containing ``model`` (the traces browser's filters)."""
    flush()
    clauses, params = ["s.parent_id IS NULL"], []
    if name:
        clauses.append("s.name LIKE ? ESCAPE '\\'")
        params.append(_like(name))
    if since not in (None, ""):
        clauses.append("s.started_at >= ?")
        params.append(_when(since))
    for col, value, op in (("status", status, "= ?"), ("model", model, "LIKE ? ESCAPE '\\'")):
        if value:
            clauses.append(f"EXISTS (SELECT 1 FROM spans m WHERE m.trace_id = s.trace_id AND m.{col} {op})")
            params.append(value if col == "status" else _like(value))
    sql = f"SELECT s.trace_id FROM spans s WHERE {' AND '.join(clauses)} ORDER BY s.started_at DESC LIMIT ?"
    return [r[0] for r in get_store().read(sql, params + [int(limit)])]


METRIC_COLUMNS = [
    "calls", "errors", "error_rate", "rate_limit_hits", "rate_limited_calls", "rate_limit_rate", "retries",
    "latency_mean_ms", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "ttft_p50_ms",
    "input_tokens", "output_tokens", "total_tokens", "cached_tokens", "cost_usd", "cost_per_call",
    "unpriced_calls",
]


EXACT_PERCENTILES_UP_TO = 20_000


def metrics(by: str | None = "model", **filters: Any) -> "pd.DataFrame":
    """Health of the LLM calls, grouped ``by`` model, provider, name, endpoint, status, tag,
    day, hour, minute, cell or trace_id, or a tuple of them such as ``("hour", "model")``
    (None: one total row): count, error and rate-limit rates, latency p50/p95/p99, time to
    first token, tokens, cost total and per priced call, retries.

    Sums come from the store's hourly rollup (plus raw spans for partial hours at the
    edges of ``since``/``until``). Percentiles are exact (nearest rank) when at most
    ``EXACT_PERCENTILES_UP_TO`` calls match, and read from 1 %-wide log histograms
    (within 0.5 %) beyond that.
    """
    import pandas as pd

    flush()
    dims = _dims(by) if by is None or isinstance(by, (str, tuple, list)) else None
    if dims is None or not all(isinstance(d, str) and d in _BY for d in dims) or len(set(dims)) != len(dims):
        raise ValueError(f"by={by!r} is not supported; use one of {', '.join(map(repr, sorted(_BY)))}, "
                         "a tuple of different ones such as ('hour', 'model'), or None for one total row")
    by = dims[0] if len(dims) == 1 else (dims or None)
    _limit(filters.pop("limit", None))  # one row per group: a limit is checked, not used
    where(filters)  # every filter checked before any work
    groups = metric_groups(by, filters)
    total = sum(a[0] for a in groups.values())
    exact = _exact_percentiles(by, filters) if 0 < total <= EXACT_PERCENTILES_UP_TO else None
    out = []
    for k, a in groups.items():
        (n, rl_hits, rl_calls, retries, lat_sum, lat_n, tin, tout, ttot, tcached, cost, cost_n, unpriced,
         lat_hist, ttft_hist, errors) = a
        if exact is not None:
            p50, p95, p99, ttft50 = exact.get(k, (None, None, None, None))
        else:
            p50, p95, p99 = (rollup.percentile(lat_hist, lat_n, p) for p in (0.5, 0.95, 0.99))
            ttft50 = rollup.percentile(ttft_hist, sum(ttft_hist.values()), 0.5)
        out.append([k, n, errors, errors / n if n else None, rl_hits, rl_calls, rl_calls / n if n else None,
                    retries, lat_sum / lat_n if lat_n else None, p50, p95, p99, ttft50, tin, tout, ttot, tcached,
                    cost if cost_n else None, cost / cost_n if cost_n else None, unpriced])
    if len(dims) > 1:
        out = [list(row[0]) + row[1:] for row in out]
    names = list(dims) or ["all"]
    df = pd.DataFrame(out, columns=names + METRIC_COLUMNS)
    if not dims:
        return df.drop(columns="all")
    if any(d in _TIME_DIMS for d in dims):  # a time series reads in time order
        df = df.sort_values(names, kind="stable", na_position="first")
    else:
        df = df.sort_values("calls", ascending=False, kind="stable")
    return df.reset_index(drop=True).set_index(names[0] if len(names) == 1 else names)


# Set by llmdebug.charts.shared_queries(): charts drawn together reuse each other's passes.
groups_memo: ContextVar[dict | None] = ContextVar("llmdebug_groups_memo", default=None)


def metric_groups(by: Any, filters: dict) -> dict:
    """Per-group accumulators (sums and latency histograms) of the matching LLM calls."""
    memo = groups_memo.get()
    fkey = tuple(sorted((k, repr(v)) for k, v in filters.items()))
    key = (by, fkey)
    if memo is not None and key in memo:
        return memo[key]
    if memo is not None and by is None:  # the total of a finer grouping already computed
        finer = next((g for (b, f), g in memo.items() if f == fkey and b is not None and "tag" not in _dims(b)), None)
        if finer is not None:
            total = rollup.new_acc() + [0]
            for acc in finer.values():
                rollup.merge(total, acc)
                total[15] += acc[15]
            memo[key] = groups = {"all": total} if total[0] else {}
            return groups
    if filters.get("trace_id") is not None or any(d in _SPAN_ONLY for d in _dims(by)):
        groups = _groups_from_spans(by, filters)
    else:
        groups = _groups_from_rollup(by, filters)
    if memo is not None:
        memo[key] = groups
    return groups


_ROLLUP_KEYS = {"model", "provider", "name", "endpoint", "status"}


def _dims(by: Any) -> tuple:
    if by is None:
        return ()
    return (by,) if isinstance(by, str) else tuple(by)


def _dim_values(dim: str, key: tuple, extra: dict | None) -> list:
    if dim in _SPAN_ONLY:
        return [(extra or {}).get(dim)]
    if dim in _ROLLUP_KEYS:
        return [key[rollup.KEY_COLS.index(dim)] or None]
    if dim == "day":
        return [key[0][:10]]
    if dim == "hour":
        return [key[0] + ":00"]
    if dim == "tag":
        return decode_json(key[7]) or []
    raise ValueError(dim)


def _group_key(by: Any, key: tuple, extra: dict | None = None) -> list:
    """The ``by`` values one rollup key counts towards (several for tags; tuples for
    several dimensions)."""
    dims = _dims(by)
    if not dims:
        return ["all"]
    if len(dims) == 1:
        return _dim_values(dims[0], key, extra)
    return list(itertools.product(*(_dim_values(d, key, extra) for d in dims)))


def _add_group(groups: dict, by: Any, key: tuple, a: list, extra: dict | None = None) -> None:
    errors = a[0] if key[6] == "error" else 0
    for g in _group_key(by, key, extra):
        acc = groups.get(g)
        if acc is None:
            acc = groups[g] = rollup.new_acc() + [0]
        rollup.merge(acc, a)
        acc[15] += errors


def _groups_from_spans(by, filters: dict, *, extra: str = "", params=()) -> dict:
    """Aggregate raw spans (with the rollup's own code) into per-group accumulators."""
    w, p = where(dict(filters, kind="llm"))
    if extra:
        w, p = f"{w} AND {extra}", p + list(params)
    cols = ", ".join(f"s.{c}" for c in rollup.SPAN_FIELDS)
    span_dims = [d for d in _dims(by) if d in _SPAN_ONLY]
    head = "".join(f"{_BY[d]}, " for d in span_dims)
    n = len(span_dims)
    per_extra: dict = {}
    for row in get_store().read(f"SELECT {head}{cols} FROM spans s WHERE {w}", p):
        rollup.add_row(per_extra.setdefault(row[:n], {}), row[n:])
    groups: dict = {}
    for extras, acc in per_extra.items():
        values = dict(zip(span_dims, extras))
        for key, a in acc.items():
            _add_group(groups, by, key, a, values)
    return groups


def _hour_floor(iso_text: str) -> str:
    return iso_text[:13] + ":00:00.000000Z"


def _groups_from_rollup(by, filters: dict) -> dict:
    f = dict(filters)
    since = _when(f.pop("since"), "since") if f.get("since") is not None else None
    until = _when(f.pop("until"), "until") if f.get("until") is not None else None
    # Full hours come from the rollup; the partial hours at the edges from raw spans.
    lo = None if since is None else (since if since == _hour_floor(since) else _next_hour(since))
    hi = None if until is None else _hour_floor(until)
    groups: dict = {}
    clauses, params = _value_clauses(f, "r", ("model", "provider", "status", "name", "tag"))
    if lo is not None:
        clauses.append("r.hour >= ?")
        params.append(lo[:13])
    if hi is not None:
        clauses.append("r.hour < ?")
        params.append(hi[:13])
    if lo is not None and hi is not None and lo >= hi:
        # The whole range sits inside one or two partial hours: raw spans only.
        return _groups_from_spans(by, filters)
    store = get_store()
    with store.reading() as db:
        conn = db.conn
        if _tail(conn) > ROLLUP_CATCH_UP_AT:
            store.writer.index_now()  # fold a large tail into the rollup once
        conn.execute("BEGIN")  # one snapshot: rollup rows and watermark agree
        try:
            mark = rollup.watermark(conn)
            sql = (f"SELECT {', '.join(rollup.COLUMNS)} FROM rollup r "
                   f"WHERE r.kind = 'llm' AND {' AND '.join(clauses) or '1'}")
            nk, ns = len(rollup.KEY_COLS), len(rollup.SUM_COLS)
            for row in conn.execute(sql, params):
                a = list(row[nk:nk + ns]) + [rollup.parse_hist(row[-2]), rollup.parse_hist(row[-1])]
                _add_group(groups, by, row[:nk], a)
            # Spans the rollup has not counted yet, inside the full hours.
            tail = ["s.rowid > ?"]
            tparams: list = [mark]
            if lo is not None:
                tail.append("s.started_at >= ?")
                tparams.append(lo)
            if hi is not None:
                tail.append("s.started_at < ?")
                tparams.append(hi)
            _merge_groups(groups, _groups_from_spans(by, f, extra=" AND ".join(tail), params=tparams))
            groups = _groups_from_edges(groups, by, f, since, until, lo, hi)
        finally:
            conn.execute("COMMIT")
    return groups


ROLLUP_CATCH_UP_AT = 20_000


def _tail(conn) -> int:
    top = conn.execute("SELECT max(rowid) FROM spans").fetchone()[0] or 0
    return top - rollup.watermark(conn)


def _merge_groups(groups: dict, more: dict) -> None:
    for g, a in more.items():
        acc = groups.setdefault(g, rollup.new_acc() + [0])
        rollup.merge(acc, a)
        acc[15] += a[15]


def _groups_from_edges(groups, by, f, since, until, lo, hi) -> dict:
    edges = []
    if since is not None and lo != since:
        edges.append(("s.started_at >= ? AND s.started_at < ?", [since, min(lo, until) if until else lo]))
    if until is not None and hi != until and (lo is None or hi >= lo):
        edges.append(("s.started_at >= ? AND s.started_at < ?", [hi, until]))
    for extra, p in edges:
        _merge_groups(groups, _groups_from_spans(by, f, extra=extra, params=p))
    return groups


def _next_hour(iso_text: str) -> str:
    t = from_iso(_hour_floor(iso_text)) + 3600
    return iso(t)


def _exact_percentiles(by, filters: dict) -> dict:
    """Nearest-rank latency p50/p95/p99 and TTFT p50 per group, with window functions."""
    w, params = where(dict(filters, kind="llm"))
    dims = _dims(by)
    if len(dims) > 1:  # one text key per group, decoded back into a tuple below
        key = "json_array(" + ", ".join(_BY[d] for d in dims) + ")"
    else:
        key = _BY[dims[0]] if dims else "'all'"
    join = "JOIN json_each(s.tags) t" if "tag" in dims else ""
    base = f"FROM spans s {join} WHERE {w}"

    def ranks(col: str, ps: tuple) -> dict:
        picks = ", ".join(f"MIN(CASE WHEN rn >= {p} * n - 1e-9 THEN v END)" for p in ps)
        sql = f"""
            WITH r AS (
                SELECT {key} AS grp, s.{col} AS v,
                       ROW_NUMBER() OVER (PARTITION BY {key} ORDER BY s.{col}) AS rn,
                       COUNT(*) OVER (PARTITION BY {key}) AS n
                {base} AND s.{col} IS NOT NULL)
            SELECT grp, {picks} FROM r GROUP BY grp"""
        return {r[0]: r[1:] for r in get_store().read(sql, params)}

    lat = ranks("latency_ms", (0.5, 0.95, 0.99))
    ttft = ranks("ttft_ms", (0.5,))
    if len(dims) > 1:
        lat = {tuple(json.loads(g)): v for g, v in lat.items()}
        ttft = {tuple(json.loads(g)): v for g, v in ttft.items()}
    return {g: tuple(lat.get(g, (None, None, None))) + (ttft.get(g, (None,))[0],) for g in set(lat) | set(ttft)}


def _span_from_row(row: tuple, payload: tuple | None) -> Span:
    d = dict(zip(_SPAN_COLS, row))
    d["started_at"] = from_iso(d["started_at"]) or 0.0
    d["ended_at"] = from_iso(d["ended_at"])
    d["tags"] = decode_json(d["tags"]) or []
    d["metadata"] = decode_json(d["metadata"]) or {}
    d["stream"] = bool(d["stream"])
    d["priced"] = None if d["priced"] is None else bool(d["priced"])
    s = Span(**d)
    s.events, s.attributes = [], {}
    if payload:
        (s.request, s.response, s.messages, s.tool_calls, events, s.input, s.output, attrs, out_text) = (
            decode_json(payload[0]), decode_json(payload[1]), decode_json(payload[2]), decode_json(payload[3]),
            decode_json(payload[4]), decode_json(payload[5]), decode_json(payload[6]), decode_json(payload[7]),
            payload[8],
        )
        if s.messages is None and s.kind == "llm":
            s.messages = providers.conversation(s)
        s.events = events or []
        s.attributes = attrs or {}
        s.output_text = out_text
    return s


def _resolve(span_id: Any) -> tuple:
    """The ``spans`` row of a span id or unique id prefix; KeyError if there is none."""
    sid = _id_of(span_id)
    store = get_store()
    cols = ", ".join(_SPAN_COLS)
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
    payload = get_store().read(
        "SELECT request_json, response_json, messages_json, tool_calls_json, events_json, input_json, "
        "output_json, attributes_json, output_text FROM payloads WHERE span_id = ?",
        [row[0]],
    )
    return _span_from_row(row, payload[0] if payload else None)


def last(**filters: Any) -> Span:
    """The most recent LLM call (matching the filters), with request and response."""
    flush()
    w, params = where(dict(filters, kind="llm"))
    rows = get_store().read(f"SELECT s.id FROM spans s WHERE {w} ORDER BY s.started_at DESC LIMIT 1", params)
    if not rows:
        raise LookupError("no LLM call captured yet" + (f" matching {filters}" if filters else ""))
    return get(rows[0][0])


def feedback(span: Any, name: str, value: Any, comment: str | None = None) -> None:
    """Attach a named score or label to a span (thumbs, eval scores, notes). ``span`` is a
    Span, an id (or unique prefix) or a ``calls()`` row; an unknown span is a KeyError."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"name={name!r}: give the score's name as a non-empty string, e.g. 'thumbs'")
    flush()
    span_id = resolve_span(span, who="ld.feedback()").id
    store = get_store()
    with store.reading() as db:
        db["feedback"].insert(
            {
                "span_id": span_id,
                "name": name,
                "value": value if isinstance(value, str) else json.dumps(value),
                "comment": comment,
                "created_at": iso(time.time()),
            }
        )
