"""Rate-limit headroom and calls in flight per metrics group.

These are minima, maxima and means of the narrow ``ratelimit_*`` and ``in_flight`` span
columns, which the stored hourly rollup does not hold. Scanning a million spans for them
takes a second or two, so each open store keeps the same hourly aggregates in memory,
keyed like rollup rows (hour, kind, provider, model, name, endpoint, status, tags) and
counted up to a ``spans`` rowid: the first query of a process reads the spans once, later
ones only the rows written since. A query takes its full hours from them and the partial
hours at the edges of ``since``/``until`` from the spans, as ``metrics`` does with the
rollup; groupings the rollup cannot answer (minute, trace, cell) and trace filters read
the matching spans directly.
"""

from __future__ import annotations

import json
import threading
import weakref
from typing import Any, Callable

__all__ = ["CAPACITY_COLUMNS", "capacity", "per_group"]

from .._json import loads
from ..session import get_store
from .filters import choices, where

CAPACITY_COLUMNS = ["min_remaining_requests", "min_remaining_tokens", "headroom_requests", "headroom_tokens",
                    "in_flight_max", "in_flight_mean"]

_FIELDS = """min(s.ratelimit_remaining_requests), min(s.ratelimit_remaining_tokens),
    min(CAST(s.ratelimit_remaining_requests AS REAL) / NULLIF(s.ratelimit_limit_requests, 0)),
    min(CAST(s.ratelimit_remaining_tokens AS REAL) / NULLIF(s.ratelimit_limit_tokens, 0)),
    max(s.in_flight), sum(s.in_flight), count(s.in_flight)"""
_HAS_ANY = ("(s.in_flight IS NOT NULL OR s.ratelimit_remaining_requests IS NOT NULL "
            "OR s.ratelimit_remaining_tokens IS NOT NULL)")
# the rollup's key columns, as read from ``spans s`` (rollup.add_row's key, "" for NULL)
_KEY_SQL = ("substr(s.started_at, 1, 13)", "s.kind", "coalesce(s.provider, '')", "coalesce(s.model, '')",
            "coalesce(s.name, '')", "coalesce(s.endpoint, '')", "coalesce(s.status, '')", "coalesce(s.tags, '[]')")
_VALUE_KEYS = {"provider": 2, "model": 3, "name": 4, "status": 6}
_TAGS = 7


def _merge(a: list, b: tuple | list) -> list:
    """Two aggregates ([min, min, min, min, max, sum, count]) as one."""
    out = [x if y is None else y if x is None else min(x, y) for x, y in zip(a[:4], b[:4])]
    mx = a[4] if b[4] is None else b[4] if a[4] is None else max(a[4], b[4])
    return out + [mx, (a[5] or 0) + (b[5] or 0), (a[6] or 0) + (b[6] or 0)]


def _columns(agg: list) -> tuple:
    """The ``CAPACITY_COLUMNS`` values of an aggregate."""
    return tuple(agg[:5]) + ((agg[5] / agg[6]) if agg[6] else None,)


class _Hourly:
    """The hourly aggregates of one store, counted up to a spans rowid."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.mark = 0
        self.rows: dict[tuple, list] = {}

    def update(self, store: Any) -> None:
        with self.lock:
            top = store.read("SELECT max(rowid) FROM spans")[0][0] or 0
            if top < self.mark:  # the file was replaced: count again
                self.mark, self.rows = 0, {}
            if top == self.mark:
                return
            sql = (f"SELECT {', '.join(_KEY_SQL)}, {_FIELDS} FROM spans s WHERE s.rowid > ? AND s.rowid <= ? "
                   f"AND s.kind = 'llm' AND {_HAS_ANY} GROUP BY {', '.join(str(i + 1) for i in range(8))}")
            for row in store.read(sql, [self.mark, top]):
                key, agg = row[:8], row[8:]
                old = self.rows.get(key)
                self.rows[key] = list(agg) if old is None else _merge(old, agg)
            self.mark = top


_hourly: "weakref.WeakKeyDictionary[Any, _Hourly]" = weakref.WeakKeyDictionary()
_hourly_lock = threading.Lock()


def _of(store: Any) -> _Hourly:
    with _hourly_lock:
        h = _hourly.get(store)
        if h is None:
            h = _hourly[store] = _Hourly()
        return h


def _matches(key: tuple, wanted: dict) -> bool:
    for name, values in wanted.items():
        if name == "tag":
            if not {t for t in loads(key[_TAGS]) or () if isinstance(t, str)} & values:
                return False
        elif key[_VALUE_KEYS[name]] not in values:
            return False
    return True


def per_group(key: str, join: str, filters: dict, *, tuples: bool = False, extra: str = "",
              params: tuple = ()) -> dict[Any, list]:
    """{group: aggregate} of the LLM calls matching ``filters`` (and the SQL ``extra``), read
    from the spans, grouped by the SQL expression ``key`` over ``spans s`` (``join``: e.g.
    the tags' ``json_each``; ``tuples``: ``key`` is a ``json_array`` of several dimensions)."""
    w, p = where(dict(filters, kind="llm"))
    if extra:
        w, p = f"{w} AND {extra}", p + list(params)
    sql = f"SELECT {key} AS grp, {_FIELDS} FROM spans s {join} WHERE {w} AND {_HAS_ANY} GROUP BY grp"
    rows = get_store().read(sql, p)
    if tuples:
        return {tuple(json.loads(r[0])): list(r[1:]) for r in rows}
    return {r[0]: list(r[1:]) for r in rows}


def capacity(key: str, join: str, filters: dict, *, tuples: bool, from_rollup_keys: Callable | None,
             hours: tuple[str | None, str | None] = (None, None), edges: list | None = None) -> dict[Any, tuple]:
    """{group: the ``CAPACITY_COLUMNS`` values}. ``from_rollup_keys(key)``: the groups a rollup
    key counts towards, or None to read every matching span (``key``/``join`` group them);
    then ``hours`` (first full hour, end hour; ``YYYY-MM-DDTHH`` or None) come from the
    hourly aggregates and ``edges`` ([(SQL, params)] of the partial hours) from the spans."""
    if from_rollup_keys is None:
        return {g: _columns(a) for g, a in per_group(key, join, filters, tuples=tuples).items()}
    store = get_store()
    hourly = _of(store)
    hourly.update(store)
    wanted = {k: set(choices(k, filters[k])) for k in (*_VALUE_KEYS, "tag") if filters.get(k) is not None}
    lo, hi = hours
    out: dict[Any, list] = {}
    with hourly.lock:
        rows = list(hourly.rows.items())
    for k, agg in rows:
        if (lo is not None and k[0] < lo) or (hi is not None and k[0] >= hi) or not _matches(k, wanted):
            continue
        for g in from_rollup_keys(k):
            out[g] = agg if g not in out else _merge(out[g], agg)
    plain = {f: v for f, v in filters.items() if f not in ("since", "until")}
    for sql, params in edges or ():
        for g, agg in per_group(key, join, plain, tuples=tuples, extra=sql, params=params).items():
            out[g] = agg if g not in out else _merge(out[g], agg)
    return {g: _columns(a) for g, a in out.items() if not _empty(a)}


def _empty(agg: list) -> bool:
    return all(v is None for v in agg[:5]) and not agg[6]

