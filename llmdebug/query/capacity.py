"""Rate-limit headroom and calls in flight per metrics group, read from the raw spans.

The hourly rollup holds sums and latency histograms; these are minima, maxima and means of
the narrow ``ratelimit_*`` and ``in_flight`` columns, read in one GROUP BY over the
matching LLM calls (a pass over them that the rollup's columns spare the other metrics).
"""

from __future__ import annotations

import json
from typing import Any

from ..session import get_store
from .filters import where

CAPACITY_COLUMNS = ["min_remaining_requests", "min_remaining_tokens", "headroom_requests", "headroom_tokens",
                    "in_flight_max", "in_flight_mean"]

_AGGREGATES = """
    min(s.ratelimit_remaining_requests), min(s.ratelimit_remaining_tokens),
    min(CAST(s.ratelimit_remaining_requests AS REAL) / NULLIF(s.ratelimit_limit_requests, 0)),
    min(CAST(s.ratelimit_remaining_tokens AS REAL) / NULLIF(s.ratelimit_limit_tokens, 0)),
    max(s.in_flight), avg(s.in_flight)"""


def per_group(key: str, join: str, filters: dict, *, tuples: bool = False) -> dict[Any, tuple]:
    """{group: the ``CAPACITY_COLUMNS`` values} of the LLM calls matching ``filters``, grouped by
    the SQL expression ``key`` over ``spans s`` (``join``: e.g. the tags' ``json_each``;
    ``tuples``: ``key`` is a ``json_array`` of several dimensions, given back as tuples)."""
    w, params = where(dict(filters, kind="llm"))
    sql = f"SELECT {key} AS grp, {_AGGREGATES} FROM spans s {join} WHERE {w} GROUP BY grp"
    rows = get_store().read(sql, params)
    if tuples:
        return {tuple(json.loads(r[0])): tuple(r[1:]) for r in rows}
    return {r[0]: tuple(r[1:]) for r in rows}
