"""Operational health: when a circuit breaker would have opened over the stored calls,
failure streaks and the error mix per provider and model (``ld.breaker_view``), and
llmdebug's own writer over time (``ld.health``).

Example::

    ld.breaker_view(failures=5, window="30s", cooldown="60s", since="1d")   # open periods
    ld.breaker_view(summary=True)          # per provider and model: streaks, error mix
    ld.health(since="1h")                  # the writer's queue, batch latency, shed spans
"""

from __future__ import annotations

import collections
import numbers
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import durations
from .query import filters as qf
from .session import flush, get_store
from .store.rows import from_iso, iso
from .store.sampler import COLUMNS as HEALTH_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["breaker_view", "health", "ERROR_CLASSES", "PERIOD_COLUMNS", "SUMMARY_COLUMNS"]

# How a failed call is classed, first match wins: the HTTP status when there is one, else
# the SDK's exception name (APITimeoutError, litellm's Timeout, APIConnectionError, ...).
ERROR_CLASSES = ("429", "5xx", "timeout", "connection", "other")
_CLASS_SQL = """CASE
  WHEN s.status IS NOT 'error' THEN 0
  WHEN s.http_status = 429 OR s.error_type LIKE '%RateLimit%' THEN 1
  WHEN s.http_status BETWEEN 500 AND 599 OR s.error_type LIKE '%InternalServer%'
       OR s.error_type LIKE '%ServiceUnavailable%' OR s.error_type LIKE '%Overloaded%' THEN 2
  WHEN s.error_type LIKE '%Timeout%' THEN 3
  WHEN s.error_type LIKE '%Connect%' OR s.error_type LIKE '%RemoteProtocol%' THEN 4
  ELSE 5 END"""
_MIX = [f"errors_{c}" for c in ERROR_CLASSES]
BY_COLUMNS = ("provider", "model", "name", "endpoint", "base_url")
PERIOD_COLUMNS = ["opened_at", "closed_at", "duration_s", "first_failure_at", "failures_in_window",
                  "calls_during_open", "failed_during_open", "probes_failed", *_MIX]
SUMMARY_COLUMNS = ["calls", "failures", "error_rate", *_MIX, "longest_streak", "longest_streak_at",
                   "current_streak", "periods", "open_s", "open_now", "last_failure_at"]


@dataclass
class _Period:
    opened_at: float
    first_failure_at: float
    failures_in_window: int
    mix: list = field(default_factory=lambda: [0] * 6)
    closed_at: float | None = None
    calls_during_open: int = 0
    failed_during_open: int = 0
    probes_failed: int = 0


@dataclass
class _Trip:
    """The closed breaker's count: failures within ``window`` seconds, oldest first."""

    failures: int
    window: float
    recent: collections.deque = field(default_factory=collections.deque)  # (time, class)

    def failed(self, t: float, cls: int) -> _Period | None:
        """A failure at ``t``; the period it opens, if it trips the breaker."""
        self.recent.append((t, cls))
        while self.recent[0][0] <= t - self.window:
            self.recent.popleft()
        if len(self.recent) < self.failures:
            return None
        p = _Period(opened_at=t, first_failure_at=self.recent[0][0], failures_in_window=len(self.recent))
        for _, c in self.recent:
            p.mix[c] += 1
        self.recent.clear()
        return p


@dataclass
class _Breaker:
    """One group's breaker and streak, walked call by call (every call: streaks need them)."""

    trip: _Trip
    period: _Period | None = None  # set while open or half-open
    until: str = ""  # open (short-circuiting) for calls that start before this (ISO text); half-open from it
    periods: list = field(default_factory=list)
    streak: int = 0
    streak_start: float = 0.0
    longest: int = 0
    longest_at: float | None = None

    def call(self, at: str, cls: int, cooldown: float) -> None:
        """One call started at ``at`` (stored ISO text), of error class ``cls`` (0: ok)."""
        if not cls and self.period is None:  # the common case, a success while closed: no time needed
            self.streak = 0
            return
        t = from_iso(at) or 0.0
        if cls:
            if not self.streak:
                self.streak_start = t
            self.streak += 1
            if self.streak > self.longest:
                self.longest, self.longest_at = self.streak, self.streak_start
        else:
            self.streak = 0
        p = self.period
        if p is not None:
            if at < self.until:  # open: the breaker would have refused this call
                p.calls_during_open += 1
                if cls:
                    p.failed_during_open += 1
                    p.mix[cls] += 1
            elif cls:  # half-open, the probe failed: open again for a cooldown
                p.probes_failed += 1
                p.mix[cls] += 1
                self.until = iso(t + cooldown)
            else:  # half-open, the probe succeeded: closed
                p.closed_at = t
                self.period = None
            return
        if cls and (p := self.trip.failed(t, cls)) is not None:
            self.period, self.until = p, iso(t + cooldown)
            self.periods.append(p)


def _group_by(by: Any) -> tuple[str, ...]:
    dims = () if by is None else (by,) if isinstance(by, str) else tuple(by) if isinstance(by, (tuple, list)) else None
    if dims is None or not all(d in BY_COLUMNS for d in dims) or len(set(dims)) != len(dims):
        raise ValueError(f"by={by!r}: give a column or a tuple of different columns among "
                         f"{', '.join(BY_COLUMNS)}, or None for all calls together")
    return dims


def _whole(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}={value!r}: give a whole number ≥ 1 of failed calls")
    return int(value)


def breaker_view(failures: int = 5, window: Any = "30s", cooldown: Any = "60s", *,
                 by: Any = ("provider", "model"), summary: bool = False, **filters: Any) -> "pd.DataFrame":
    """When a circuit breaker with these settings would have been open, over the stored LLM
    calls (the shared filters select them: ``since``, ``model``, ``provider``, ``tag``...).

    One breaker per group of ``by`` (default: per provider and model) walks the calls in
    the order they started, each call counted at its start time; a call fails when its
    final status is an error (a 429 that an SDK retry absorbed is not a failure):

    - **closed**: it opens on a failure that makes ``failures`` failures whose start times
      are less than ``window`` apart (successes in between do not reset the count);
    - **open** for ``cooldown`` from that call: every call starting then is one the breaker
      would have refused (``calls_during_open``; ``failed_during_open`` of them failed);
    - **half-open** after the cooldown: the next call is the probe. It closes the breaker
      if it succeeds (``closed_at`` = its start) and re-opens it for another cooldown if
      it fails (``probes_failed``; the same period goes on).

    Returns one row per open period, oldest first: the ``by`` columns, ``opened_at``,
    ``closed_at`` (NaT while still open or half-open at the last call), ``duration_s``,
    ``first_failure_at``, ``failures_in_window``, ``calls_during_open``,
    ``failed_during_open``, ``probes_failed`` and the error mix of the period's failures
    (those that tripped it, failed probes, refused calls that failed) in ``errors_429``,
    ``errors_5xx``, ``errors_timeout``, ``errors_connection``, ``errors_other``.

    ``summary=True`` returns one row per group instead: ``calls``, ``failures``,
    ``error_rate``, the error mix of every failure, ``longest_streak`` (most consecutive
    failures) and when it began, ``current_streak`` (failures since the last success),
    ``periods``, ``open_s`` (seconds in closed periods), ``open_now``, ``last_failure_at``.

    ``window`` and ``cooldown`` take seconds, a timedelta or text such as ``"30s"``, ``"2m"``.
    """
    import pandas as pd

    failures = _whole("failures", failures)
    window_s = durations.seconds(window, name="window")
    cooldown_s = durations.seconds(cooldown, name="cooldown")
    dims = _group_by(by)
    filters = dict(filters)
    qf.check_limit(filters.pop("limit", None))  # one breaker over every matching call: checked, not used
    w, params = qf.where(dict(filters, kind="llm"))
    flush()
    keys = ", ".join(f"s.{d}" for d in dims)
    with get_store().reading() as db:
        if summary:
            return _summary(dims, _walk(db, dims, w, params, failures, window_s, cooldown_s), db.execute(
                f"SELECT {keys + ', ' if dims else ''}count(*), sum(c > 0), "
                + ", ".join(f"sum(c = {i})" for i in range(1, 6))
                + f", max(CASE WHEN c > 0 THEN started_at END) FROM (SELECT s.*, {_CLASS_SQL} AS c FROM spans s "
                f"WHERE {w}) s {'GROUP BY ' + keys if dims else ''}", params).fetchall())
        periods = _open_periods(db, dims, w, params, failures, window_s, cooldown_s)
    rows = []
    for key, ps in periods.items():
        for p in ps:
            rows.append((*key, p.opened_at, p.closed_at,
                         None if p.closed_at is None else p.closed_at - p.opened_at, p.first_failure_at,
                         p.failures_in_window, p.calls_during_open, p.failed_during_open, p.probes_failed,
                         *p.mix[1:]))
    df = pd.DataFrame(rows, columns=[*dims, *PERIOD_COLUMNS])
    for col in ("opened_at", "closed_at", "first_failure_at"):
        df[col] = _times(df[col])
    df["duration_s"] = df["duration_s"].astype("float64")
    return df.sort_values(["opened_at", *dims], kind="stable").reset_index(drop=True)


def _walk(db: Any, dims: tuple, w: str, params: list, failures: int, window: float, cooldown: float) -> dict:
    """Every matching call through its group's breaker, in start order (the kind, started_at
    index; calls that started in the same microsecond in the order they were stored):
    {group: _Breaker}, with the streaks."""
    keys = "".join(f"s.{d}, " for d in dims)
    n = len(dims)
    breakers: dict[tuple, _Breaker] = {}
    for row in db.execute(f"SELECT {keys}s.started_at, {_CLASS_SQL} FROM spans s WHERE {w} ORDER BY s.started_at",
                          params):
        key = row[:n]
        b = breakers.get(key)
        if b is None:
            b = breakers[key] = _Breaker(_Trip(failures, window))
        b.call(row[n], row[n + 1], cooldown)
    return breakers


def _open_periods(db: Any, dims: tuple, w: str, params: list, failures: int, window: float,
                  cooldown: float) -> dict:
    """{group: [_Period]}, the same as :func:`_walk` finds, from the failed calls alone plus
    two small queries per period (the calls it refused, its probe): a closed breaker only
    counts failures, and periods are few."""
    keys = "".join(f"s.{d}, " for d in dims)
    n = len(dims)
    failed: dict[tuple, list] = {}
    for row in db.execute(f"SELECT {keys}s.started_at, s.rowid, {_CLASS_SQL} FROM spans s "
                          f"WHERE {w} AND s.status = 'error' ORDER BY s.started_at", params):
        failed.setdefault(row[:n], []).append(row[n:])
    group = "".join(f" AND s.{d} IS ?" for d in dims)
    # a range on started_at the (kind, started_at) index can seek; ties with the period's first
    # call count when stored after it
    refused_sql = (f"SELECT count(*) FROM spans s WHERE {w}{group} AND s.started_at >= ? AND s.started_at < ? "
                   f"AND NOT (s.started_at = ? AND s.rowid <= ?)")
    probe_sql = (f"SELECT s.started_at, {_CLASS_SQL} FROM spans s WHERE {w}{group} AND s.started_at >= ? "
                 f"ORDER BY s.started_at LIMIT 1")
    out: dict[tuple, list] = {}
    for key, calls in failed.items():
        trip, i = _Trip(failures, window), 0
        while i < len(calls):
            at, rowid, cls = calls[i]
            i += 1
            p = trip.failed(from_iso(at) or 0.0, cls)
            if p is None:
                continue
            out.setdefault(key, []).append(p)
            while True:  # open from ``at`` (the call that tripped it, or a failed probe) until ``until``
                until = iso((from_iso(at) or 0.0) + cooldown)
                p.calls_during_open += db.execute(refused_sql, [*params, *key, at, until, at, rowid]).fetchone()[0]
                while i < len(calls) and calls[i][0] < until:
                    p.failed_during_open += 1
                    p.mix[calls[i][2]] += 1
                    i += 1
                probe = db.execute(probe_sql, [*params, *key, until]).fetchone()
                if probe is None:  # still open (or half-open) at the last call
                    i = len(calls)
                    break
                if not probe[1]:  # the probe succeeded: closed
                    p.closed_at = from_iso(probe[0])
                    break
                at, rowid, cls = calls[i]  # the probe failed: it is the next failure; open again
                i += 1
                p.probes_failed += 1
                p.mix[cls] += 1
    return out


def _summary(dims: tuple, breakers: dict, agg: list) -> "pd.DataFrame":
    import pandas as pd

    n = len(dims)
    rows = []
    for r in agg:
        key = tuple(r[:n])
        calls, failed, *mix, last = r[n:]
        b = breakers[key]
        closed = [p for p in b.periods if p.closed_at is not None]
        rows.append((*key, calls, failed or 0, (failed or 0) / calls if calls else None, *(m or 0 for m in mix),
                     b.longest, b.longest_at, b.streak, len(b.periods),
                     float(sum(p.closed_at - p.opened_at for p in closed)), b.period is not None, from_iso(last)))
    df = pd.DataFrame(rows, columns=[*dims, *SUMMARY_COLUMNS])
    for col in ("longest_streak_at", "last_failure_at"):
        df[col] = _times(df[col])
    df["open_now"] = df["open_now"].astype(bool)
    df = df.sort_values(["failures", *dims], ascending=[False] + [True] * n, kind="stable")
    return df.reset_index(drop=True)


def _times(epoch: "pd.Series") -> "pd.Series":
    """Epoch seconds (from the stored microsecond text) as UTC times, to the microsecond."""
    import pandas as pd

    micros = (pd.to_numeric(epoch, errors="coerce") * 1e6).round().astype("Int64")
    return pd.to_datetime(micros, unit="us", utc=True)


def health(**filters: Any) -> "pd.DataFrame":
    """llmdebug's own writer over time, one row per sample (at most one a second while it
    has work, one more when it goes idle; none while nothing happens), oldest first.

    Columns: ``at``; ``queue_depth`` and ``queued_bytes`` (spans waiting in memory to be
    written); ``batch_ms`` and ``batch_spans`` (the slowest batch since the previous sample,
    and its size); ``written``, ``shed_spans`` and ``shed_payloads`` (since the previous
    sample of the same writer: a column's sum is the total). Spans are shed when more than
    ``LLMDEBUG_MAX_BUFFER_MB`` wait. Filters: ``since``, ``until`` (of ``at``) and ``limit``
    (the newest n samples). Every process writing the file adds its samples.
    """
    import pandas as pd

    unknown = set(filters) - {"since", "until", "limit"}
    if unknown:
        raise TypeError(f"unknown filter(s) {sorted(unknown)}; ld.health() filters are since, until, limit")
    limit = qf.check_limit(filters.get("limit"))
    clauses, params = [], []
    for key, op in (("since", ">="), ("until", "<")):
        if filters.get(key) is not None:
            clauses.append(f"at {op} ?")
            params.append(qf.parse_time(filters[key], key))
    store = get_store()
    if not store.writer.held:  # a file that cannot be written now: the samples so far
        store.writer.sample_now(timeout=5.0)  # what the writer did since its last sample, written now
    sql = (f"SELECT rowid, {', '.join(HEALTH_COLUMNS)} FROM writer_health WHERE {' AND '.join(clauses) or '1'} "
           "ORDER BY at, rowid")
    if limit is not None:
        sql = f"SELECT * FROM ({sql.replace('ORDER BY at, rowid', 'ORDER BY at DESC, rowid DESC')} LIMIT {limit}) ORDER BY at, rowid"
    rows = [r[1:] for r in store.read(sql, params)]
    df = pd.DataFrame.from_records(rows, columns=list(HEALTH_COLUMNS))
    df["at"] = pd.to_datetime(df["at"], utc=True, format="ISO8601")
    df["batch_ms"] = df["batch_ms"].astype("float64")
    for col in HEALTH_COLUMNS[1:]:
        if col != "batch_ms":
            df[col] = df[col].astype("Int64")
    return df
