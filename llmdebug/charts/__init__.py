"""Charts of the captured calls: cost, tokens, latency, errors, time to first token,
the costliest and slowest traces, cost per notebook cell.

Every function takes the shared query filters (``model``, ``provider``, ``status``,
``name``, ``tag``, ``since``, ``until``, ``trace_id``) and returns a plain altair chart
built from SQL aggregates (the hourly rollup, or raw spans for short windows), never
from every row. The charts render offline in JupyterLab (llmdebug ships the Vega
runtime once); restyle them with ``.properties()``/``.encode()`` or ``.save()`` them as
with any altair chart. The user's altair theme and renderer are never changed.

Example::

    ld.charts.cost(since="7d")                     # cost per hour or day, stacked by model
    ld.charts.latency(model="gpt-4o-mini")         # latency histogram with p50/p95/p99

Model, provider, tag and span names are drawn with bidi controls and invisible characters
written as ``⟨U+XXXX⟩`` (see ``llmdebug/widgets/visible.py``): the chart's data holds them
so, and ``usermeta.llmdebug.values`` maps each changed one back to the real value
(:func:`real_datum` does it for a clicked datum).
"""

from __future__ import annotations

import contextlib
import math
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Iterator

from .. import query
from ..store import rollup
from ..widgets.visible import visible_text

if TYPE_CHECKING:
    import altair as alt
    import pandas as pd

__all__ = ["cost", "tokens", "latency", "errors", "ttft", "top_traces", "cells", "bucket_for"]

WIDTH = 560
HEIGHT = 220
_TIME_FORMAT = {"minute": "%Y-%m-%dT%H:%M", "hour": "%Y-%m-%dT%H:00", "day": "%Y-%m-%d"}


_memo: ContextVar[dict | None] = ContextVar("llmdebug_chart_memo", default=None)


@contextlib.contextmanager
def shared_queries() -> Iterator[None]:
    """Charts built inside share their aggregate queries (the dashboard draws eight
    charts from three queries)."""
    if _memo.get() is not None:  # already sharing
        yield
        return
    token, gtoken = _memo.set({}), query.groups_memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)
        query.groups_memo.reset(gtoken)


def metrics_frame(by: Any, **filters: Any) -> "pd.DataFrame":
    """``query.metrics(by, **filters)``, computed once for charts drawn together (see :func:`shared_queries`)."""
    memo = _memo.get()
    key = (by, tuple(sorted((k, repr(v)) for k, v in filters.items())))
    if memo is not None and key in memo:
        return memo[key].copy()
    # the charts here read the rollup's columns only: no pass over the raw spans for headroom
    df = query.engine.metrics_table(by, filters, capacity=False)
    if memo is not None:
        memo[key] = df
    return df.copy()


def _shown(df: "pd.DataFrame", col: str) -> "tuple[pd.DataFrame, dict]":
    """``df`` with the values of ``col`` as drawn (label rule of visible_text), and
    {drawn: real} for those that changed. Distinct real values stay distinct labels."""
    real: dict[str, str] = {}
    label_of: dict[Any, Any] = {}
    taken = {v for v in df[col].unique() if isinstance(v, str) and visible_text(v, label=True) == v}
    for v in df[col].unique():
        shown = visible_text(v, label=True)
        if not isinstance(v, str) or shown == v:
            continue
        base, n = shown, 1
        while shown in taken:  # a real value that reads like this one's marker text
            n += 1
            shown = f"{base} ({n})"
        taken.add(shown)
        label_of[v] = shown
        real[shown] = v
    if not real:
        return df, {}
    return df.assign(**{col: df[col].map(lambda v: label_of.get(v, v))}), real


def _with_values(chart: Any, values: dict) -> Any:
    """The chart with ``usermeta.llmdebug.values`` = {field: {drawn: real}}, when any."""
    values = {k: v for k, v in values.items() if v}
    return chart.properties(usermeta={"llmdebug": {"values": values}}) if values else chart


def real_datum(spec: dict, datum: dict) -> dict:
    """A clicked datum of an ``ld.charts`` spec with the real model, name... values back."""
    values = ((spec or {}).get("usermeta") or {}).get("llmdebug", {}).get("values") or {}
    return {k: values.get(k, {}).get(v, v) if isinstance(v, str) else v for k, v in (datum or {}).items()}


def _chart(data: Any) -> "alt.Chart":
    from ..widgets.vega import LLMDebugChart

    return LLMDebugChart(data)


def bucket_for(**filters: Any) -> str:
    """The time bucket that gives a readable series for the filtered calls:
    minutes up to 6 hours, hours up to 14 days, days beyond."""
    hours = metrics_frame(("hour", "model"), **filters)
    if hours.empty:
        return "minute"
    times = hours.index.get_level_values("hour")
    first, last = times.min(), times.max()
    import pandas as pd

    span_h = (pd.Timestamp(last) - pd.Timestamp(first)).total_seconds() / 3600
    return "minute" if span_h < 6 else "hour" if span_h <= 14 * 24 else "day"


def _series(dims: tuple, bucket: str | None, filters: dict) -> "tuple[pd.DataFrame, str]":
    bucket = bucket or bucket_for(**filters)
    if bucket not in _TIME_FORMAT:
        raise ValueError(f"bucket={bucket!r}: use 'minute', 'hour' or 'day'")
    df = metrics_frame((bucket,) + dims, **filters).reset_index()
    df = df.rename(columns={bucket: "time"})
    import pandas as pd

    df["time"] = pd.to_datetime(df["time"], utc=True, format="ISO8601")
    return df, bucket


def _empty(title: str) -> "alt.Chart":
    import altair as alt
    import pandas as pd

    return _chart(pd.DataFrame({"text": ["no LLM calls match"]})).mark_text(size=14).encode(
        text="text:N").properties(title=title, width=WIDTH, height=60)


# Short time labels with room between them: Vega measures labels with the theme's font,
# which a front end may draw wider (Notebook 7), so overlap is judged with a margin.
_TIME_LABEL = {"minute": "%H:%M", "hour": "%b %d %H:00", "day": "%b %d"}
# a bar (a time bucket of the cost chart) is at least this wide, to be clicked
MIN_BAR_PX = 8
_STEPS = {"minute": (1, 2, 5, 10, 15, 30, 60), "hour": (1, 2, 3, 4, 6, 8, 12, 24), "day": (1, 2, 7, 14, 28)}
_BUCKET_S = {"minute": 60, "hour": 3600, "day": 86400}


def _time_unit(bucket: str, step: int = 1) -> Any:
    unit = {"minute": "yearmonthdatehoursminutes", "hour": "yearmonthdatehours", "day": "yearmonthdate"}[bucket]
    return unit if step == 1 else {"unit": unit, "step": step}


def _time_x(bucket: str, step: int = 1) -> Any:
    import altair as alt

    return alt.X("time:T", title=None, timeUnit=_time_unit(bucket, step),
                 axis=alt.Axis(format=_TIME_LABEL[bucket], labelOverlap="greedy", labelSeparation=8))


def _bar_step(times: "pd.Series", bucket: str) -> int:
    """How many buckets one bar spans so that bars are MIN_BAR_PX wide or more."""
    n = (times.max() - times.min()).total_seconds() / _BUCKET_S[bucket] + 1
    fit = max(1, WIDTH // MIN_BAR_PX)
    return next((k for k in _STEPS[bucket] if n / k <= fit), _STEPS[bucket][-1])


def _colour(by: str, df: "pd.DataFrame") -> Any:
    """A colour per value of ``by`` that a filter never changes: the domain is every value
    in the store, sorted (as drawn); the legend lists only those in ``df``."""
    import altair as alt

    everything = metrics_frame(by).index.get_level_values(by)
    domain = sorted({visible_text(v, label=True) for v in everything if isinstance(v, str)} |
                    {v for v in df[by].unique() if isinstance(v, str)})
    shown = sorted(v for v in df[by].unique() if isinstance(v, str))
    return alt.Color(f"{by}:N", title=by, scale=alt.Scale(domain=domain), legend=alt.Legend(values=shown))


def cost(*, by: str = "model", bucket: str | None = None, **filters: Any) -> "alt.Chart":
    """Cost over time, stacked by model (or provider, name, status, tag)."""
    import altair as alt

    df, bucket = _series((by,), bucket, filters)
    title = f"Cost per {bucket} by {by} (USD)"
    df = df[df["cost_usd"].notna()]
    if df.empty:
        return _empty(title)
    df, real = _shown(df[["time", by, "cost_usd", "calls"]], by)
    step = _bar_step(df["time"], bucket)
    if step > 1:
        title = f"Cost per {step} {bucket}s by {by} (USD)"
    chart = _with_values(_chart(df).mark_bar().encode(
        x=_time_x(bucket, step),
        y=alt.Y("sum(cost_usd):Q", title="USD", stack="zero"),
        color=_colour(by, df),
        tooltip=[alt.Tooltip("time:T", title=bucket, timeUnit=_time_unit(bucket, step)), f"{by}:N",
                 alt.Tooltip("sum(cost_usd):Q", format="$.6f"), alt.Tooltip("sum(calls):Q", title="calls")],
    ).properties(title=title, width=WIDTH, height=HEIGHT), {by: real})
    if step > 1:  # a click opens the calls of the whole bar (widgets/dashboard.py)
        meta = dict(chart.usermeta) if chart.usermeta is not alt.Undefined else {}
        meta["llmdebug"] = dict(meta.get("llmdebug", {}), step=step)
        chart = chart.properties(usermeta=meta)
    return chart


def tokens(*, by: str = "model", bucket: str | None = None, **filters: Any) -> "alt.Chart":
    """Input and output tokens per model (or another grouping)."""
    import altair as alt
    import pandas as pd

    title = f"Tokens by {by}"
    if bucket:  # sums of the time series the other charts use: no query of its own
        m = metrics_frame((bucket, by), **filters).reset_index()
        m = m.groupby(by, dropna=False)[["input_tokens", "output_tokens"]].sum().reset_index()
    else:
        m = metrics_frame(by, **filters).reset_index()
    if m.empty:
        return _empty(title)
    m, real = _shown(m, by)
    long = pd.concat([
        pd.DataFrame({by: m[by], "direction": "input", "tokens": m["input_tokens"].astype("float")}),
        pd.DataFrame({by: m[by], "direction": "output", "tokens": m["output_tokens"].astype("float")}),
    ])
    return _with_values(_chart(long).mark_bar().encode(
        y=alt.Y(f"{by}:N", title=None, sort="-x"),
        x=alt.X("sum(tokens):Q", title="tokens"),
        color=alt.Color("direction:N", title=None, scale=alt.Scale(domain=["input", "output"])),
        tooltip=[f"{by}:N", "direction:N", alt.Tooltip("sum(tokens):Q", format=",.0f")],
    ).properties(title=title, width=WIDTH, height=max(60, 26 * len(m))), {by: real})


def latency_histogram(bins: int = 40, **filters: Any) -> "pd.DataFrame":
    """Calls per latency bin (log-spaced), merged from the rollup's 1 % histograms."""
    import pandas as pd

    memo = _memo.get()
    key = ("latency_hist", tuple(sorted((k, repr(v)) for k, v in filters.items())))
    if memo is not None and key in memo:
        hist = memo[key]
    else:
        hist = _latency_hist(filters)
        if memo is not None:
            memo[key] = hist
    if not hist:
        return pd.DataFrame(columns=["lo_ms", "hi_ms", "calls"])
    lo_b, hi_b = min(hist), max(hist) + 1
    step = max(1, math.ceil((hi_b - lo_b) / bins))
    rows: dict[int, int] = {}
    for b, n in hist.items():
        k = (b - lo_b) // step
        rows[k] = rows.get(k, 0) + n
    out = [(rollup.RATIO ** (lo_b + k * step), rollup.RATIO ** (lo_b + (k + 1) * step), n) for k, n in sorted(rows.items())]
    return pd.DataFrame(out, columns=["lo_ms", "hi_ms", "calls"])


def _latency_hist(filters: dict) -> dict:
    f = dict(filters)
    f.pop("limit", None)
    query.flush()
    acc = query.metric_groups(None, f).get("all")
    return dict(acc.latency_hist) if acc else {}


def latency(**filters: Any) -> "alt.LayerChart":
    """Latency distribution (log scale) with p50, p95 and p99 marked."""
    import altair as alt
    import pandas as pd

    title = "Latency distribution"
    h = latency_histogram(**filters)
    if h.empty:
        return _empty(title)
    total = metrics_frame(None, **filters).iloc[0]
    marks = pd.DataFrame({"label": ["p50", "p95", "p99"],
                          "ms": [total["latency_p50_ms"], total["latency_p95_ms"], total["latency_p99_ms"]]})
    x = alt.X("lo_ms:Q", title="latency (ms, log scale)", scale=alt.Scale(type="log"))
    # rect, not bar: a bar with x and x2 both set draws horizontally, one pixel high
    bars = _chart(h).mark_rect(opacity=0.8).encode(
        x=x, x2="hi_ms:Q", y=alt.Y("calls:Q", title="calls"), y2=alt.datum(0),
        tooltip=[alt.Tooltip("lo_ms:Q", format=",.0f", title="from ms"), alt.Tooltip("hi_ms:Q", format=",.0f", title="to ms"),
                 "calls:Q"])
    rules = _chart(marks).mark_rule(strokeDash=[4, 3], color="#d62728").encode(
        x=alt.X("ms:Q", scale=alt.Scale(type="log")), tooltip=["label:N", alt.Tooltip("ms:Q", format=",.0f")])
    labels = _chart(marks).mark_text(align="left", dx=3, dy=-4, color="#d62728").encode(
        x=alt.X("ms:Q", scale=alt.Scale(type="log")), y=alt.value(8),
        text=alt.Text("label:N"))
    return (bars + rules + labels).properties(title=title, width=WIDTH, height=HEIGHT)


def errors(*, bucket: str | None = None, **filters: Any) -> "alt.Chart":
    """Errors and rate-limit events (429s, counted even when a retry succeeded) over time."""
    import altair as alt
    import pandas as pd

    df, bucket = _series(("model",), bucket, filters)
    title = f"Errors and rate-limit events per {bucket}"
    if df.empty:
        return _empty(title)
    df = df.groupby("time")[["errors", "rate_limit_hits"]].sum().reset_index()
    long = pd.concat([
        pd.DataFrame({"time": df["time"], "event": "errors", "count": df["errors"].astype("float")}),
        pd.DataFrame({"time": df["time"], "event": "rate-limit hits", "count": df["rate_limit_hits"].astype("float")}),
    ])
    return _chart(long).mark_bar().encode(
        x=_time_x(bucket),
        y=alt.Y("sum(count):Q", title="events"),
        color=alt.Color("event:N", title=None,
                        scale=alt.Scale(domain=["errors", "rate-limit hits"], range=["#d62728", "#ff7f0e"])),
        xOffset="event:N",
        tooltip=[alt.Tooltip("time:T", title=bucket), "event:N", alt.Tooltip("sum(count):Q", title="count")],
    ).properties(title=title, width=WIDTH, height=HEIGHT)


def ttft(*, by: str = "model", bucket: str | None = None, **filters: Any) -> "alt.Chart":
    """Median time to first token of streamed calls over time, by model."""
    import altair as alt

    df, bucket = _series((by,), bucket, filters)
    title = f"Time to first token (p50, streams) per {bucket}"
    df = df[df["ttft_p50_ms"].notna()][["time", by, "ttft_p50_ms"]]
    if df.empty:
        return _empty(title)
    df, real = _shown(df, by)
    return _with_values(_chart(df).mark_line(point=True).encode(
        x=_time_x(bucket), y=alt.Y("ttft_p50_ms:Q", title="ms"), color=_colour(by, df),
        tooltip=[alt.Tooltip("time:T", title=bucket), f"{by}:N", alt.Tooltip("ttft_p50_ms:Q", format=",.0f")],
    ).properties(title=title, width=WIDTH, height=HEIGHT), {by: real})


def top_traces(order: str = "cost", n: int = 10, **filters: Any) -> "alt.Chart":
    """The ``n`` costliest (``order="cost"``) or slowest (``"duration"``) traces."""
    import altair as alt

    df = query.top_traces(order=order, n=n, **filters)
    col, fmt, axis = ("cost_usd", "$.6f", "USD") if order == "cost" else ("duration_ms", ",.0f", "ms")
    title = f"{'Costliest' if order == 'cost' else 'Slowest'} {n} traces"
    if df.empty:
        return _empty(title)
    # ids start with their time: the random end tells traces of the same second apart; a click
    # maps back by trace_id, so the drawn name needs no way back
    df = df.assign(name=[visible_text(nm, label=True) for nm in df["name"]])
    df = df.assign(label=[f"{nm} · {tid[-8:]}" for nm, tid in zip(df["name"], df["trace_id"])])
    return _chart(df).mark_bar().encode(
        y=alt.Y("label:N", sort="-x", title=None), x=alt.X(f"{col}:Q", title=axis),
        color=alt.condition("datum.errors > 0", alt.value("#d62728"), alt.value("#4c78a8")),
        tooltip=["name:N", "trace_id:N", alt.Tooltip(f"{col}:Q", format=fmt), "calls:Q", "errors:Q"],
    ).properties(title=title, width=WIDTH, height=max(60, 22 * len(df)))


def cells(**filters: Any) -> "alt.Chart":
    """Cost per notebook cell (``In [n]``) of the calls made under ``%load_ext llmdebug``."""
    import altair as alt

    df = metrics_frame("cell", **filters).reset_index()
    df = df[df["cell"].notna()]
    title = "Cost per notebook cell"
    if df.empty:
        return _empty(title)
    df = df.assign(cell=[f"In [{int(c)}]" for c in df["cell"]], cost=df["cost_usd"].astype("float").fillna(0.0))
    return _chart(df[["cell", "cost", "calls", "input_tokens", "output_tokens"]]).mark_bar().encode(
        x=alt.X("cell:N", sort=None, title=None), y=alt.Y("cost:Q", title="USD"),
        tooltip=["cell:N", alt.Tooltip("cost:Q", format="$.6f"), "calls:Q", "input_tokens:Q", "output_tokens:Q"],
    ).properties(title=title, width=WIDTH, height=HEIGHT)


# Charts that live in a module of their own, loaded on first use: quality (scores) and
# operational health (rate-limit headroom, in-flight calls, breaker periods, the writer).
_MORE = {
    "scores": "quality",
    "headroom": "limits",
    "in_flight": "limits",
    "breaker": "reliability",
    "writer_health": "reliability",
}
__all__ += list(_MORE)


def __getattr__(name: str) -> Any:
    if name not in _MORE:
        raise AttributeError(f"module 'llmdebug.charts' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{_MORE[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
