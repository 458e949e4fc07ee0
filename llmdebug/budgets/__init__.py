"""Budgets and alerts: a cost budget per session or per day, thresholds on the error
rate, rate-limit events and p95 latency of recent calls, and per-call rules: failures in
a row and rate-limit headroom, per provider and model.

Rules are checked on the writer thread as calls are stored. A rule fires once when its
value crosses the threshold (and again only after it went back under it, or on a new
day for a daily budget). Firing records the event in the store's ``alerts`` table
(``ld.alerts()``), hands the event to the rule's callback, and raises an
:class:`LLMDebugAlert` warning; in a notebook the warning and a visible notice appear
under the cell that was running when it fired. Callbacks run one at a time, in firing
order, on a thread of their own: a slow or failing callback never holds up the writer.

Example::

    ld.budget(usd=2.00, per="day")
    ld.alert(error_rate=0.2, window="15m", min_calls=20, callback=post_to_slack)
    ld.alert(consecutive_failures=5)          # 5 calls in a row failed (per provider and model)
    ld.alert(rate_limit_headroom=0.1)         # a call reported under 10 % of a rate limit left
"""

from __future__ import annotations

import collections
import datetime as _dt
import math
import numbers
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .. import durations, query, session
from .._guard import report, warn
from ..store import on_stored
from ..store.tx import immediate
from .callbacks import runner as _callbacks, wait_for_callbacks

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["budget", "alert", "alerts", "Rule", "LLMDebugAlert", "wait_for_callbacks"]


class LLMDebugAlert(UserWarning):
    """A budget or alert rule of llmdebug fired."""


@dataclass(eq=False)
class Rule:
    """A budget or threshold; ``remove()`` stops it."""

    name: str
    kind: str  # "budget" | "error_rate" | "rate_limit_events" | "p95_latency_ms" | one of PER_CALL
    threshold: float
    per: str = "session"  # budgets: "session" | "day"
    window_s: float = 900.0
    min_calls: int = 10
    callback: Callable[[dict], Any] | None = None
    firing: bool = False
    fired: int = 0
    _day: str = field(default="", repr=False)
    _firing_groups: set = field(default_factory=set, repr=False)  # per-call rules: (provider, model)

    def remove(self) -> None:
        with _lock:
            if self in RULES:
                RULES.remove(self)

    def __repr__(self) -> str:
        what = (f"${self.threshold:g} per {self.per}" if self.kind == "budget" else
                f"{self.kind} {_OPERATOR.get(self.kind, '>')} {self.threshold:g}")
        return f"<llmdebug rule {self.name!r}: {what}, fired {self.fired}×>"


RULES: list[Rule] = []
_lock = threading.Lock()
_pending: list[dict] = []  # fired, not yet shown in a notebook
_recent: collections.deque = collections.deque()  # (ended_at, is_error, rate_limit_hits, latency_ms)
_streaks: dict = {}  # (provider, model) -> failed calls in a row, in the order they were stored
_session_cost = 0.0  # set below, once observe() is subscribed
_day_cost: dict[str, float] = {}
_deliver_now = True  # False while the IPython extension shows alerts after each cell

def _number(name: str, value: Any, accepted: str, ok: Callable[[float], bool], *, whole: bool = False) -> float:
    """``value`` as a float if it is a finite real number (a whole one if ``whole``) that
    ``ok`` accepts; otherwise a ValueError saying what ``accepted`` is."""
    kinds = numbers.Integral if whole else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) or not ok(value):
        raise ValueError(f"{name}={value!r}: {accepted}")
    return float(value)


def _callback(callback: Any) -> Callable[[dict], Any] | None:
    if callback is not None and not callable(callback):
        raise TypeError(f"callback={callback!r}: give a function taking the alert's event dict, or None")
    return callback


# What each threshold accepts (the rule fires when the value goes over it).
_THRESHOLDS = {
    "error_rate": ("the error rate is a fraction of calls, 0 ≤ error_rate < 1 (0.2 means 20 %)",
                   lambda v: 0 <= v < 1),
    "rate_limit_events": ("a whole number ≥ 0 of rate-limit events in the window", lambda v: v >= 0),
    "p95_latency_ms": ("a latency in milliseconds > 0", lambda v: v > 0),
    "consecutive_failures": ("a whole number ≥ 1 of failed calls in a row", lambda v: v >= 1),
    "rate_limit_headroom": ("the share of a rate limit left, 0 < rate_limit_headroom ≤ 1 (0.1 means 10 %)",
                            lambda v: 0 < v <= 1),
}
# Rules checked call by call, per provider and model (no window): they fire when a call
# reaches the threshold and are armed again by that group's next success / roomy call.
PER_CALL = ("consecutive_failures", "rate_limit_headroom")
_OPERATOR = {"consecutive_failures": "≥", "rate_limit_headroom": "<"}


def _today() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d")


def budget(usd: float, per: str = "session", *, callback: Callable[[dict], Any] | None = None,
           name: str | None = None) -> Rule:
    """Warn once when the cost of calls passes ``usd``: in this session (this process,
    calls captured from now on and before) or in the current UTC day (every process
    writing the store)."""
    if per not in ("session", "day"):
        raise ValueError(f"per={per!r}: use 'session' or 'day'")
    usd = _number("usd", usd, "the budget in US dollars is a finite amount > 0, e.g. usd=2.00", lambda v: v > 0)
    rule = Rule(name or f"budget ${usd:g}/{per}", "budget", usd, per=per, callback=_callback(callback))
    if per == "day":
        _load_day_cost()
    with _lock:
        RULES.append(rule)
    _check(time.time())
    return rule


def alert(*, error_rate: float | None = None, rate_limit_events: int | None = None,
          p95_latency_ms: float | None = None, consecutive_failures: int | None = None,
          rate_limit_headroom: float | None = None, window: str | float = "15m", min_calls: int = 10,
          callback: Callable[[dict], Any] | None = None, name: str | None = None) -> Rule:
    """Warn once when, over the last ``window`` of calls, the error rate (a fraction,
    0 ≤ error_rate < 1), the number of rate-limit events (429s, retried or not; a whole
    number ≥ 0) or the p95 latency (ms > 0) passes its threshold. ``window`` is seconds,
    a timedelta or text such as ``"15m"``, ``"2h"``, ``"1w"``. Rates and percentiles wait
    for ``min_calls`` (≥ 1) calls in the window.

    Per provider and model, call by call (``window`` and ``min_calls`` do not apply):
    ``consecutive_failures=N`` warns when N calls in a row have failed (once per streak:
    a success arms it again); ``rate_limit_headroom=0.1`` warns when a call reports less
    than that share of its rate limit left (remaining / limit of requests or of tokens,
    from the API's rate-limit headers), and is armed again by a call with more room."""
    given = {k: v for k, v in (("error_rate", error_rate), ("rate_limit_events", rate_limit_events),
                               ("p95_latency_ms", p95_latency_ms), ("consecutive_failures", consecutive_failures),
                               ("rate_limit_headroom", rate_limit_headroom)) if v is not None}
    if len(given) != 1:
        raise ValueError("give exactly one of error_rate=, rate_limit_events=, p95_latency_ms=, "
                         "consecutive_failures=, rate_limit_headroom=")
    kind, threshold = next(iter(given.items()))
    threshold = _number(kind, threshold, *_THRESHOLDS[kind], whole=kind in ("rate_limit_events",
                                                                             "consecutive_failures"))
    window_s = durations.seconds(window, name="window")
    calls = _number("min_calls", min_calls, "a whole number ≥ 1 of calls in the window before a rate or "
                    "percentile counts", lambda v: v >= 1, whole=True)
    default = (f"{kind} {_OPERATOR[kind]} {threshold:g}" if kind in PER_CALL else
               f"{kind} > {threshold:g} over {window}")
    rule = Rule(name or default, kind, threshold,
                window_s=window_s, min_calls=int(calls), callback=_callback(callback))
    with _lock:
        RULES.append(rule)
    return rule


def alerts(**filters: Any) -> "pd.DataFrame":
    """Every alert that fired (this store), oldest first: rule, kind, threshold, value, message, fired_at."""
    import pandas as pd

    session.flush()
    rows = session.get_store().read("SELECT rule, kind, threshold, value, message, fired_at FROM alerts ORDER BY id")
    df = pd.DataFrame(rows, columns=["rule", "kind", "threshold", "value", "message", "fired_at"])
    df["fired_at"] = pd.to_datetime(df["fired_at"], utc=True, format="ISO8601")
    return df


def _load_day_cost() -> None:
    day = _today()
    m = query.metrics(by=None, since=day + "T00:00:00+00:00")
    cost = float(m["cost_usd"].iloc[0]) if not m.empty and m["cost_usd"].notna().iloc[0] else 0.0
    with _lock:
        _day_cost.clear()
        _day_cost[day] = cost


# -- the writer thread calls observe() after each stored batch -----------------------
def observe(spans: list, conn: Any = None) -> None:
    """Count a batch of stored spans and fire the rules they push over a threshold."""
    global _session_cost
    now = time.time()
    day = _today()
    crossed: list = []
    with _lock:
        per_call = [r for r in RULES if r.kind in PER_CALL]
        for s in spans:
            if s.kind != "llm":
                continue
            if s.cost_usd:
                _session_cost += s.cost_usd
                _day_cost[day] = _day_cost.get(day, 0.0) + s.cost_usd
            _recent.append((s.ended_at or s.started_at, s.status == "error", s.rate_limit_hits or 0, s.latency_ms))
            key = (s.provider, s.model)
            _streaks[key] = _streaks.get(key, 0) + 1 if s.status == "error" else 0
            for rule in per_call:
                ev = _per_call(rule, s, key, now)
                if ev is not None:
                    crossed.append((rule, ev))
        if not RULES:
            _recent.clear()
            return
        _pending.extend(ev for _, ev in crossed)
    _fire(crossed, conn)
    fired = _check(now, conn) + [ev for _, ev in crossed]
    if fired and _deliver_now:
        deliver()


def _value(rule: Rule, now: float) -> float | None:
    if rule.kind == "budget":
        return _session_cost if rule.per == "session" else _day_cost.get(_today(), 0.0)
    window = [r for r in _recent if r[0] >= now - rule.window_s]
    if rule.kind == "rate_limit_events":
        return float(sum(r[2] for r in window))
    if len(window) < rule.min_calls:
        return None
    if rule.kind == "error_rate":
        return sum(1 for r in window if r[1]) / len(window)
    lat = sorted(r[3] for r in window if r[3] is not None)
    if len(lat) < rule.min_calls:
        return None
    return lat[max(0, math.ceil(0.95 * len(lat)) - 1)]  # nearest rank, as metrics() computes it


def _headroom(s: Any) -> tuple[float, str, int, int] | None:
    """The smallest remaining/limit a call reported: (share, "requests"|"tokens", remaining, limit)."""
    shares = [(rem / lim, what, rem, lim) for what, rem, lim in (
        ("requests", s.ratelimit_remaining_requests, s.ratelimit_limit_requests),
        ("tokens", s.ratelimit_remaining_tokens, s.ratelimit_limit_tokens)) if rem is not None and lim]
    return min(shares) if shares else None


def _per_call(rule: Rule, s: Any, key: tuple, now: float) -> dict | None:
    """The event of a per-call rule this call fires, if it does (arms it again otherwise)."""
    who = " ".join(str(k) for k in key if k) or "calls"
    if rule.kind == "consecutive_failures":
        n = _streaks[key]
        if not n:
            rule._firing_groups.discard(key)
            rule.firing = bool(rule._firing_groups)
        if n < rule.threshold or key in rule._firing_groups:
            return None
        what = " ".join(str(x) for x in (s.http_status, s.error_type) if x) or "error"
        msg = f"llmdebug alert: {n} calls in a row failed for {who} (threshold {rule.threshold:g}; last: {what})"
        value = float(n)
    else:
        room = _headroom(s)
        if room is None:
            return None
        value, what, rem, lim = room
        if value >= rule.threshold:
            rule._firing_groups.discard(key)
            rule.firing = bool(rule._firing_groups)
            return None
        if key in rule._firing_groups:
            return None
        msg = (f"llmdebug alert: rate-limit headroom {value:.0%} for {who}: {rem:,} of {lim:,} {what} left "
               f"(threshold {rule.threshold:.0%})")
    rule._firing_groups.add(key)
    rule.firing = True
    rule.fired += 1
    return dict(_event(rule, value, now, msg), provider=key[0], model=key[1], span_id=s.id)


def _check(now: float, conn: Any = None) -> list[dict]:
    fired = []
    with _lock:
        longest = max((r.window_s for r in RULES if r.kind not in ("budget", *PER_CALL)), default=0.0)
        while _recent and _recent[0][0] < now - longest:
            _recent.popleft()
        for rule in list(RULES):
            if rule.kind in PER_CALL:
                continue
            if rule.kind == "budget" and rule.per == "day" and rule._day != _today():
                rule._day, rule.firing = _today(), False  # a new day: a new budget
            value = _value(rule, now)
            over = value is not None and value > rule.threshold
            if over and not rule.firing:
                rule.firing = True
                rule.fired += 1
                fired.append((rule, _event(rule, value, now)))
            elif not over and value is not None:
                rule.firing = False  # back under: armed again
        _pending.extend(ev for _, ev in fired)
    _fire(fired, conn)
    return [ev for _, ev in fired]


def _fire(fired: list, conn: Any) -> None:
    for rule, ev in fired:
        _record(ev, conn)
        if rule.callback is not None:
            _callbacks.submit(rule, dict(ev))


def _event(rule: Rule, value: float, now: float, msg: str = "") -> dict:
    """The event dict of a firing (``msg``: a per-call rule's own message)."""
    if msg:
        return _event_dict(rule, value, now, msg)
    if rule.kind == "budget":
        spent = f"{value:.2f}" if value >= 1 else f"{value:.6f}"
        msg = f"llmdebug budget: ${spent} spent this {rule.per}, over the ${rule.threshold:g} budget"
    elif rule.kind == "error_rate":
        msg = f"llmdebug alert: error rate {value:.0%} over the last {rule.window_s:g} s (threshold {rule.threshold:.0%})"
    elif rule.kind == "rate_limit_events":
        msg = f"llmdebug alert: {value:.0f} rate-limit events in the last {rule.window_s:g} s (threshold {rule.threshold:g})"
    else:
        msg = f"llmdebug alert: p95 latency {value:,.0f} ms over the last {rule.window_s:g} s (threshold {rule.threshold:,.0f} ms)"
    return _event_dict(rule, value, now, msg)


def _event_dict(rule: Rule, value: float, now: float, msg: str) -> dict:
    fired_at = _dt.datetime.fromtimestamp(now, _dt.timezone.utc).isoformat().replace("+00:00", "Z")
    return {"rule": rule.name, "kind": rule.kind, "threshold": rule.threshold, "value": value, "message": msg,
            "fired_at": fired_at}


def _record(ev: dict, conn: Any) -> None:
    try:
        if conn is None:
            conn = session.get_store().db.conn

        with immediate(conn) as c:
            c.execute("INSERT INTO alerts (rule, kind, threshold, value, message, fired_at) VALUES (?, ?, ?, ?, ?, ?)",
                      (ev["rule"], ev["kind"], ev["threshold"], ev["value"], ev["message"], ev["fired_at"]))
    except Exception:
        report("recording an alert")


def deliver(display: Any = None, where: tuple[str, int] | None = None) -> list[dict]:
    """Raise the warnings (and, given ``display``, show the notices) of alerts fired since
    the last delivery. The IPython extension calls it after every cell, with ``where`` =
    (filename, line) of that cell. Never raises: under an "error" warnings filter the
    message is logged (logger ``llmdebug``) instead."""
    with _lock:
        ready, _pending[:] = list(_pending), []
    for ev in ready:
        # attributed to the user's code (the cell, or the first caller outside llmdebug),
        # never to llmdebug's own files
        warn(ev["message"], LLMDebugAlert, stacklevel=_outside_llmdebug(), where=where)
        if display is not None:
            display(Notice(ev["message"]))
    return ready


def _outside_llmdebug() -> int:
    """The ``stacklevel``, for a ``warn`` made by this function's caller, of the first
    frame not in llmdebug's own files."""
    pkg = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_code.co_filename.startswith(pkg):
        frame, level = frame.f_back, level + 1
    return level


class Notice:
    """The notebook notice of a fired alert (text and escaped HTML)."""

    def __init__(self, message: str):
        self.message = message

    def __repr__(self) -> str:
        return f"⚠ {self.message}"

    def _repr_html_(self) -> str:
        import html

        # the $ amounts must not be typeset as math: mathjax_ignore for MathJax 3 (JupyterLab 4,
        # Notebook 7), tex2jax_ignore for MathJax 2
        return (f'<div class="llmdebug-alert mathjax_ignore tex2jax_ignore" style="border-left:4px solid #f57c00;padding:4px 8px;'
                f'background:rgba(245,124,0,0.12)">⚠ {html.escape(self.message)}</div>')


def deliver_later(later: bool = True) -> None:
    """Show fired alerts when :func:`deliver` is called (the IPython extension calls it
    after each cell) instead of as soon as they fire."""
    global _deliver_now
    _deliver_now = not later


def reset() -> None:
    """Forget every rule and running total (tests; a fresh session)."""
    global _session_cost
    _callbacks.clear()
    with _lock:
        RULES.clear()
        _pending.clear()
        _recent.clear()
        _streaks.clear()
        _day_cost.clear()
        _session_cost = 0.0


# Count what is stored from now on; the process's earlier calls count towards session budgets too.
_session_cost = on_stored(observe)
