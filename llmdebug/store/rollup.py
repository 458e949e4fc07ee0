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
import operator
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


class Acc:
    """The sums and latency histograms of the LLM calls of one rollup key (and, in
    ``query.engine``, of one metrics group). Attributes are named like the ``rollup``
    columns (``SUM_COLS``, ``HIST_COLS``); histograms map bucket -> count."""

    __slots__ = SUM_COLS + HIST_COLS

    def __init__(self) -> None:
        self.calls = 0
        self.rate_limit_hits = 0
        self.rate_limited_calls = 0
        self.retries = 0
        self.latency_sum = 0
        self.latency_n = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.total_tokens = 0
        self.cached_tokens = 0
        self.cost_sum = 0
        self.cost_n = 0
        self.unpriced = 0
        self.latency_hist: dict[int, int] = {}
        self.ttft_hist: dict[int, int] = {}

    def merge(self, other: "Acc") -> None:
        """Add ``other``'s counts to these."""
        self.calls += other.calls
        self.rate_limit_hits += other.rate_limit_hits
        self.rate_limited_calls += other.rate_limited_calls
        self.retries += other.retries
        self.latency_sum += other.latency_sum
        self.latency_n += other.latency_n
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.total_tokens += other.total_tokens
        self.cached_tokens += other.cached_tokens
        self.cost_sum += other.cost_sum
        self.cost_n += other.cost_n
        self.unpriced += other.unpriced
        for mine, theirs in ((self.latency_hist, other.latency_hist), (self.ttft_hist, other.ttft_hist)):
            for b, n in theirs.items():
                mine[b] = mine.get(b, 0) + n

    def stored(self) -> tuple:
        """The ``SUM_COLS`` and ``HIST_COLS`` values of a ``rollup`` row, in that order."""
        return _sums(self) + (_hist_text(self.latency_hist), _hist_text(self.ttft_hist))

    @staticmethod
    def from_stored(values) -> "Acc":
        """An accumulator from the ``SUM_COLS`` then ``HIST_COLS`` values of a ``rollup`` row."""
        if len(values) != _STORED_WIDTH:
            raise ValueError(f"a rollup row has {_STORED_WIDTH} values after its key "
                             f"({', '.join(SUM_COLS + HIST_COLS)}), not {len(values)}")
        a = Acc.__new__(Acc)  # no __init__: every slot is set here
        (a.calls, a.rate_limit_hits, a.rate_limited_calls, a.retries, a.latency_sum, a.latency_n, a.input_tokens,
         a.output_tokens, a.total_tokens, a.cached_tokens, a.cost_sum, a.cost_n, a.unpriced, latency, ttft) = values
        a.latency_hist = parse_hist(latency)
        a.ttft_hist = parse_hist(ttft)
        return a

    def __repr__(self) -> str:
        return f"<{type(self).__name__} " + " ".join(f"{k}={getattr(self, k)!r}" for k in self._fields()) + ">"

    def _fields(self) -> tuple:
        return tuple(k for cls in type(self).__mro__ for k in getattr(cls, "__slots__", ()))


_sums = operator.attrgetter(*SUM_COLS)
_STORED_WIDTH = len(SUM_COLS) + len(HIST_COLS)


def add_row(acc: dict, row: tuple) -> None:
    """Count one span (a tuple of ``SPAN_FIELDS``) into ``acc``: rollup key -> :class:`Acc`."""
    (started_at, kind, provider, model, name, endpoint, status, tags, lat, ttft, http_status, rl_hits,
     retries, tin, tout, ttot, tcached, cost, priced) = row
    key = ((started_at or "")[:13], kind, provider or "", model or "", name or "", endpoint or "", status or "",
           tags or "[]")
    a = acc.get(key)
    if a is None:
        a = acc[key] = Acc()
    a.calls += 1
    rl_hits = rl_hits or 0
    a.rate_limit_hits += rl_hits
    if rl_hits > 0 or http_status == 429:
        a.rate_limited_calls += 1
    a.retries += retries or 0
    if lat is not None:
        a.latency_sum += lat
        a.latency_n += 1
        b = bucket(lat)
        a.latency_hist[b] = a.latency_hist.get(b, 0) + 1
    if ttft is not None:
        b = bucket(ttft)
        a.ttft_hist[b] = a.ttft_hist.get(b, 0) + 1
    a.input_tokens += tin or 0
    a.output_tokens += tout or 0
    a.total_tokens += ttot or 0
    a.cached_tokens += tcached or 0
    if cost is not None:
        a.cost_sum += cost
        a.cost_n += 1
    if priced == 0:
        a.unpriced += 1


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
            a.merge(Acc.from_stored(old))
        out.append(key + a.stored())
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
            acc: dict[Any, Acc] = {}
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
