"""The metrics engine: ``metrics()`` and the per-group accumulators charts share.

Sums come from the store's hourly rollup (``store/rollup.py``) for the full hours a
query covers, plus the raw spans the rollup has not counted yet and those of the partial
hours at the edges of ``since``/``until``. Groupings the rollup cannot answer (trace,
minute, notebook cell) and trace filters read the raw spans, through the rollup's own
accumulating code. Percentiles are exact up to ``EXACT_PERCENTILES_UP_TO`` calls.
"""

from __future__ import annotations

import itertools
import json
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from ..session import flush, get_store
from ..store import rollup
from ..store.rows import decode_json, from_iso, iso
from .capacity import CAPACITY_COLUMNS, capacity
from .filters import check_limit, parse_time, value_clauses, where

if TYPE_CHECKING:
    import pandas as pd

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

METRIC_COLUMNS = [
    "calls", "errors", "error_rate", "rate_limit_hits", "rate_limited_calls", "rate_limit_rate", "retries",
    "latency_mean_ms", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "ttft_p50_ms",
    "input_tokens", "output_tokens", "total_tokens", "cached_tokens", "cost_usd", "cost_per_call",
    "unpriced_calls",
] + CAPACITY_COLUMNS

EXACT_PERCENTILES_UP_TO = 20_000


def metrics(by: str | None = "model", **filters: Any) -> "pd.DataFrame":
    """Health of the LLM calls, grouped ``by`` model, provider, name, endpoint, status, tag,
    day, hour, minute, cell or trace_id, or a tuple of them such as ``("hour", "model")``
    (None: one total row): count, error and rate-limit rates, latency p50/p95/p99, time to
    first token, tokens, cost total and per priced call, retries, rate-limit headroom and
    calls in flight.

    Rate-limit headroom, from the headers the APIs answered with (calls without them
    count in no column of these): ``min_remaining_requests`` and ``min_remaining_tokens``
    (the fewest any response said were left), ``headroom_requests`` and ``headroom_tokens``
    (the lowest remaining / limit, 0 to 1: 0.1 means a response left 10 % of a limit).
    Concurrency: ``in_flight_max`` and ``in_flight_mean``, over the calls, of how many LLM
    calls of their process were in flight when each started (itself included: 1 = alone).

    Sums come from the store's hourly rollup (plus raw spans for partial hours at the
    edges of ``since``/``until``). Percentiles are exact (nearest rank) when at most
    ``EXACT_PERCENTILES_UP_TO`` calls match, and read from 1 %-wide log histograms
    (within 0.5 %) beyond that. Headroom and in-flight columns are not in the rollup:
    they take one more pass over the matching calls.
    """
    return metrics_table(by, filters)


def metrics_table(by: Any, filters: dict, *, capacity: bool = True) -> "pd.DataFrame":
    """:func:`metrics`; ``capacity=False`` leaves the headroom and in-flight columns empty
    and spares their pass over the raw spans (for charts that read only the rollup's)."""
    import pandas as pd

    filters = dict(filters)
    flush()
    dims = _dims(by) if by is None or isinstance(by, (str, tuple, list)) else None
    if dims is None or not all(isinstance(d, str) and d in _BY for d in dims) or len(set(dims)) != len(dims):
        raise ValueError(f"by={by!r} is not supported; use one of {', '.join(map(repr, sorted(_BY)))}, "
                         "a tuple of different ones such as ('hour', 'model'), or None for one total row")
    by = dims[0] if len(dims) == 1 else (dims or None)
    check_limit(filters.pop("limit", None))  # one row per group: a limit is checked, not used
    where(filters)  # every filter checked before any work
    groups = metric_groups(by, filters)
    total = sum(g.calls for g in groups.values())
    exact = _exact_percentiles(by, filters) if 0 < total <= EXACT_PERCENTILES_UP_TO else None
    cap = _capacity(by, filters, total) if capacity and total else {}
    none = (None,) * len(CAPACITY_COLUMNS)
    out = []
    for k, g in groups.items():
        n, lat_n, cost_n = g.calls, g.latency_n, g.cost_n
        if exact is not None:
            p50, p95, p99, ttft50 = exact.get(k, (None, None, None, None))
        else:
            p50, p95, p99 = (rollup.percentile(g.latency_hist, lat_n, p) for p in (0.5, 0.95, 0.99))
            ttft50 = rollup.percentile(g.ttft_hist, sum(g.ttft_hist.values()), 0.5)
        out.append([k, n, g.errors, g.errors / n if n else None, g.rate_limit_hits, g.rate_limited_calls,
                    g.rate_limited_calls / n if n else None, g.retries, g.latency_sum / lat_n if lat_n else None,
                    p50, p95, p99, ttft50, g.input_tokens, g.output_tokens, g.total_tokens, g.cached_tokens,
                    g.cost_sum if cost_n else None, g.cost_sum / cost_n if cost_n else None, g.unpriced,
                    *cap.get(k, none)])
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


class Group(rollup.Acc):
    """The accumulator of one metrics group: the rollup's sums and histograms, and the
    errors among its calls (a rollup key knows its status; a group may mix them)."""

    __slots__ = ("errors",)

    def __init__(self) -> None:
        super().__init__()
        self.errors = 0


# Set by llmdebug.charts.shared_queries(): charts drawn together reuse each other's passes.
groups_memo: ContextVar[dict | None] = ContextVar("llmdebug_groups_memo", default=None)


def metric_groups(by: Any, filters: dict) -> dict:
    """Per-group accumulators (:class:`Group`: sums and latency histograms) of the matching LLM calls."""
    memo = groups_memo.get()
    fkey = tuple(sorted((k, repr(v)) for k, v in filters.items()))
    key = (by, fkey)
    if memo is not None and key in memo:
        return memo[key]
    if memo is not None and by is None:  # the total of a finer grouping already computed
        finer = next((g for (b, f), g in memo.items() if f == fkey and b is not None and "tag" not in _dims(b)), None)
        if finer is not None:
            total = Group()
            for g in finer.values():
                total.merge(g)
                total.errors += g.errors
            memo[key] = groups = {"all": total} if total.calls else {}
            return groups
    if filters.get("trace_id") is not None or any(d in _SPAN_ONLY for d in _dims(by)):
        groups = _groups_from_spans(by, filters)
    else:
        groups = _groups_from_rollup(by, filters)
    if memo is not None:
        memo[key] = groups
    return groups


_ROLLUP_KEYS = {"model", "provider", "name", "endpoint", "status"}
# Where a rollup key (``rollup.KEY_COLS``) holds what the groupings read.
_HOUR, _STATUS, _TAGS = (rollup.KEY_COLS.index(c) for c in ("hour", "status", "tags"))


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
        return [key[_HOUR][:10]]
    if dim == "hour":
        return [key[_HOUR] + ":00"]
    if dim == "tag":
        return decode_json(key[_TAGS]) or []
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


def _add_group(groups: dict, by: Any, key: tuple, a: rollup.Acc, extra: dict | None = None) -> None:
    errors = a.calls if key[_STATUS] == "error" else 0
    for k in _group_key(by, key, extra):
        g = groups.get(k)
        if g is None:
            g = groups[k] = Group()
        g.merge(a)
        g.errors += errors


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
    # Full hours come from the rollup; the partial hours at the edges from raw spans.
    since, until, lo, hi = _full_hours(filters)
    f = {k: v for k, v in filters.items() if k not in ("since", "until")}
    groups: dict = {}
    clauses, params = value_clauses(f, "r", ("model", "provider", "status", "name", "tag"))
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
            nk = len(rollup.KEY_COLS)
            for row in conn.execute(sql, params):
                _add_group(groups, by, row[:nk], rollup.Acc.from_stored(row[nk:]))
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
            for extra, p in _edges(since, until, lo, hi):
                _merge_groups(groups, _groups_from_spans(by, f, extra=extra, params=p))
        finally:
            conn.execute("COMMIT")
    return groups


ROLLUP_CATCH_UP_AT = 20_000


def _tail(conn) -> int:
    top = conn.execute("SELECT max(rowid) FROM spans").fetchone()[0] or 0
    return top - rollup.watermark(conn)


def _merge_groups(groups: dict, more: dict) -> None:
    for k, m in more.items():
        g = groups.get(k)
        if g is None:
            g = groups[k] = Group()
        g.merge(m)
        g.errors += m.errors


def _full_hours(filters: dict) -> tuple[str | None, str | None, str | None, str | None]:
    """(since, until, lo, hi) of a time filter: ISO times, and the first full hour and the
    end of the last (the hours the rollup answers; None: unbounded)."""
    since = parse_time(filters["since"], "since") if filters.get("since") is not None else None
    until = parse_time(filters["until"], "until") if filters.get("until") is not None else None
    lo = None if since is None else (since if since == _hour_floor(since) else _next_hour(since))
    hi = None if until is None else _hour_floor(until)
    return since, until, lo, hi


def _edges(since, until, lo, hi) -> list[tuple[str, list]]:
    """(SQL, params) of the partial hours at the edges of a time filter."""
    edges = []
    if since is not None and lo != since:
        edges.append(("s.started_at >= ? AND s.started_at < ?", [since, min(lo, until) if until else lo]))
    if until is not None and hi != until and (lo is None or hi >= lo):
        edges.append(("s.started_at >= ? AND s.started_at < ?", [hi, until]))
    return edges


def _next_hour(iso_text: str) -> str:
    t = from_iso(_hour_floor(iso_text)) + 3600
    return iso(t)


def _group_sql(by) -> tuple[str, str]:
    """(the SQL key of a group over ``spans s``, the join it needs) for the groupings of ``by``;
    several dimensions make one ``json_array`` text key per group."""
    dims = _dims(by)
    if len(dims) > 1:
        key = "json_array(" + ", ".join(_BY[d] for d in dims) + ")"
    else:
        key = _BY[dims[0]] if dims else "'all'"
    return key, "JOIN json_each(s.tags) t" if "tag" in dims else ""


def _capacity(by, filters: dict, total: int) -> dict:
    """Headroom and in-flight columns per group: read from the matching spans when exact
    percentiles are (at most ``EXACT_PERCENTILES_UP_TO`` calls), else like the other
    metrics: full hours from hourly aggregates (kept in memory: see ``capacity.py``), the
    partial hours from raw spans."""
    key, join = _group_sql(by)
    tuples = len(_dims(by)) > 1
    since, until, lo, hi = _full_hours(filters)
    if (total <= EXACT_PERCENTILES_UP_TO or filters.get("trace_id") is not None
            or any(d in _SPAN_ONLY for d in _dims(by)) or (lo is not None and hi is not None and lo >= hi)):
        return capacity(key, join, filters, tuples=tuples, from_rollup_keys=None)
    return capacity(key, join, filters, tuples=tuples, from_rollup_keys=lambda k: _group_key(by, k),
                    hours=(lo and lo[:13], hi and hi[:13]), edges=_edges(since, until, lo, hi))


def _exact_percentiles(by, filters: dict) -> dict:
    """Nearest-rank latency p50/p95/p99 and TTFT p50 per group, with window functions."""
    w, params = where(dict(filters, kind="llm"))
    dims = _dims(by)
    key, join = _group_sql(by)  # several dimensions: decoded back into a tuple below
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

