"""Hourly pre-aggregates of LLM calls, so metrics stay fast on millions of spans.

SQLite has no hash aggregation: a GROUP BY over a million rows sorts a million rows
(2 s here). So there is one ``rollup`` row per hour and per (kind, provider, model,
name, endpoint, status, tags), with exact sums and log-scale histograms of latency
and time to first token (bucket ratio 1.01: a percentile read from them is within
0.5 % of the true value). The rollup counts every span up to a ``spans`` rowid
watermark; the writer moves it forward when idle, whoever wrote the rows (llmdebug,
another process, a user's own INSERT). ``query.metrics`` reads the rollup rows (a few
thousand for a week of traffic), plus the raw spans past the watermark and those of
the partial hours at the edges of a time filter.
"""

from __future__ import annotations

import json
import math
import sqlite3
from typing import Any

from .._json import loads
from .tx import get_state, immediate, set_state

RATIO = 1.01
_LOG_RATIO = math.log(RATIO)

KEY_COLS = ("hour", "kind", "provider", "model", "name", "endpoint", "status", "tags")
SUM_COLS = (
    "calls", "rate_limit_hits", "rate_limited_calls", "retries", "latency_sum", "latency_n",
    "input_tokens", "output_tokens", "total_tokens", "cached_tokens", "cost_sum", "cost_n", "unpriced",
)
HIST_COLS = ("latency_hist", "ttft_hist")
COLUMNS = KEY_COLS + SUM_COLS + HIST_COLS

# The span columns ``add_row`` reads, in this order.
SPAN_FIELDS = (
    "started_at", "kind", "provider", "model", "name", "endpoint", "status", "tags", "latency_ms", "ttft_ms",
    "http_status", "rate_limit_hits", "retries", "input_tokens", "output_tokens", "total_tokens",
    "cached_tokens", "cost_usd", "priced",
)

_UPSERT = "INSERT OR REPLACE INTO rollup ({}) VALUES ({})".format(", ".join(COLUMNS), ", ".join("?" * len(COLUMNS)))


def bucket(v: float) -> int:
    """Log-scale histogram bucket of a positive duration in ms."""
    return math.floor(math.log(max(v, 1e-3)) / _LOG_RATIO)


def bucket_value(b: int) -> float:
    """The geometric middle of bucket ``b`` (at most 0.5 % from any value in it)."""
    return RATIO ** (b + 0.5)


def new_acc() -> list:
    return [0] * len(SUM_COLS) + [{}, {}]


def add_row(acc: dict, row: tuple) -> None:
    """Count one span (a tuple of ``SPAN_FIELDS``) into ``acc`` keyed by rollup key."""
    (started_at, kind, provider, model, name, endpoint, status, tags, lat, ttft, http_status, rl_hits,
     retries, tin, tout, ttot, tcached, cost, priced) = row
    key = ((started_at or "")[:13], kind, provider or "", model or "", name or "", endpoint or "", status or "",
           tags or "[]")
    a = acc.get(key)
    if a is None:
        a = acc[key] = new_acc()
    a[0] += 1
    rl_hits = rl_hits or 0
    a[1] += rl_hits
    a[2] += 1 if (rl_hits > 0 or http_status == 429) else 0
    a[3] += retries or 0
    if lat is not None:
        a[4] += lat
        a[5] += 1
        b = bucket(lat)
        a[13][b] = a[13].get(b, 0) + 1
    if ttft is not None:
        b = bucket(ttft)
        a[14][b] = a[14].get(b, 0) + 1
    a[6] += tin or 0
    a[7] += tout or 0
    a[8] += ttot or 0
    a[9] += tcached or 0
    if cost is not None:
        a[10] += cost
        a[11] += 1
    if priced == 0:
        a[12] += 1


def merge(into: list, other: list) -> None:
    for i in range(len(SUM_COLS)):
        into[i] += other[i]
    for h in (13, 14):
        target = into[h]
        for b, n in other[h].items():
            target[b] = target.get(b, 0) + n


def _hist_text(h: dict) -> str:
    return json.dumps({str(k): v for k, v in h.items()}, separators=(",", ":"))


def parse_hist(text: str | None) -> dict:
    return {int(k): v for k, v in loads(text).items()} if text else {}


def write(conn: sqlite3.Connection, acc: dict) -> None:
    """Add ``acc`` to the stored rollup rows (call inside the writer's transaction)."""
    if not acc:
        return
    where = " AND ".join(f"{c} = ?" for c in KEY_COLS)
    out = []
    for key, a in acc.items():
        old = conn.execute(f"SELECT {', '.join(SUM_COLS + HIST_COLS)} FROM rollup WHERE {where}", key).fetchone()
        if old is not None:
            merge(a, list(old[: len(SUM_COLS)]) + [parse_hist(old[-2]), parse_hist(old[-1])])
        out.append(key + tuple(a[: len(SUM_COLS)]) + (_hist_text(a[13]), _hist_text(a[14])))
    conn.executemany(_UPSERT, out)


def watermark(conn: sqlite3.Connection) -> int:
    """The highest ``spans`` rowid the rollup has counted."""
    return get_state(conn, "rollup_rowid")


def catch_up(conn: sqlite3.Connection, batch: int = 50_000) -> int:
    """Count spans past the watermark into the rollup; returns how many rows were read."""
    done = 0
    cols = ", ".join(SPAN_FIELDS)
    while True:
        with immediate(conn):
            rows = conn.execute(
                f"SELECT rowid, kind, {cols} FROM spans WHERE rowid > ? ORDER BY rowid LIMIT ?",
                [watermark(conn), batch],
            ).fetchall()
            acc: dict[Any, list] = {}
            for r in rows:
                if r[1] == "llm":
                    add_row(acc, r[2:])
            write(conn, acc)
            if rows:
                set_state(conn, "rollup_rowid", rows[-1][0])
        done += len(rows)
        if len(rows) < batch:
            return done


def percentile(hist: dict, n: int, p: float) -> float | None:
    """Nearest-rank percentile ``p`` (0-1) read from a bucket histogram of ``n`` values."""
    if not n:
        return None
    rank = max(1, math.ceil(p * n - 1e-9))  # 0.95 * 100 is 95.00000000000001
    seen = 0
    for b in sorted(hist):
        seen += hist[b]
        if seen >= rank:
            return bucket_value(b)
    return None
