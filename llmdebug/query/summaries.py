"""One row per trace: ``traces()``, the costliest or slowest traces, and the newest trace
ids the traces browser lists, each aggregated in SQLite from the ``spans`` table.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..session import flush, get_store
from .filters import check_limit, frame, parse_time, value_clauses, where

if TYPE_CHECKING:
    import pandas as pd

TRACE_COLUMNS = ["trace_id", "name", "started_at", "ended_at", "spans", "calls", "errors", "input_tokens",
                 "output_tokens", "cost_usd", "retries", "rate_limit_hits", "models"]


def traces(**filters: Any) -> "pd.DataFrame":
    """One row per trace: name, start, duration, spans, calls, tokens, cost, errors, status.

    Filters select traces holding at least one matching span; ``name`` matches the
    root span. With ``limit``, only the newest traces are aggregated.
    """
    flush()
    limit = check_limit(filters.pop("limit", None))
    name = filters.pop("name", None)
    w, params = where(filters)
    if name is not None:
        root_name, root_params = value_clauses({"name": name}, "r", ("name",))
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
    df = frame(rows, TRACE_COLUMNS)
    df.insert(4, "duration_ms", (df["ended_at"] - df["started_at"]).dt.total_seconds() * 1000.0)
    df.insert(len(df.columns), "status", ["error" if e else "ok" for e in df["errors"]])
    return df


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
    check_limit(filters.pop("limit", None))  # n says how many; a limit is checked, not used
    w, params = where(dict(filters, kind="llm"))
    store = get_store()
    if order == "cost":
        sql = (f"SELECT s.trace_id FROM spans s WHERE {w} AND s.cost_usd IS NOT NULL "
               "GROUP BY s.trace_id ORDER BY SUM(s.cost_usd) DESC LIMIT ?")
        found = store.read(sql, params + [int(n)])
    else:
        found = _slowest_roots(store, filters, w, params, int(n))
    ids = [r[0] for r in found]
    df = frame(trace_summaries(ids), TRACE_COLUMNS)
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
        params.append(parse_time(since))
    for col, value, op in (("status", status, "= ?"), ("model", model, "LIKE ? ESCAPE '\\'")):
        if value:
            clauses.append(f"EXISTS (SELECT 1 FROM spans m WHERE m.trace_id = s.trace_id AND m.{col} {op})")
            params.append(value if col == "status" else _like(value))
    sql = f"SELECT s.trace_id FROM spans s WHERE {' AND '.join(clauses)} ORDER BY s.started_at DESC LIMIT ?"
    return [r[0] for r in get_store().read(sql, params + [int(limit)])]

