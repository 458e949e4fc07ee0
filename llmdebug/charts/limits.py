"""``ld.charts.headroom`` (how much of each rate limit the API said was left, over time, with
the 429s marked) and ``ld.charts.in_flight`` (calls in flight over time beside latency).

Both are ``ld.metrics()`` per time bucket (its headroom and in-flight columns: SQL
aggregates of the narrow ``ratelimit_*`` and ``in_flight`` span columns, hourly ones kept
in memory; see ``query/capacity.py``). Each is one layered altair chart (the dashboard
sizes it to its cell), so it restyles and saves like the others.

Example::

    ld.charts.headroom(since="1d")              # requests and tokens left, % of each limit
    ld.charts.in_flight(model="gpt-4o-mini")    # concurrency (left axis) and latency (right)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..query import engine
from ..widgets.vega import LLMDebugLayerChart
from ..widgets.visible import visible_text
from . import HEIGHT, WIDTH, _chart, _time_unit, _time_x, _with_values, bucket_for

if TYPE_CHECKING:
    import altair as alt
    import pandas as pd

__all__ = ["headroom", "in_flight", "headroom_frame", "in_flight_frame"]

_SERIES = {"model": ("provider", "model"), "provider": ("provider",)}
_BUCKETS = ("minute", "hour", "day")
_MARK = "#333333"  # 429 rules: not one of the series' colours
_POINTS_UP_TO = 48  # time buckets drawn with a point each; beyond, lines only (the saved SVG stays small)


def _frame(dims: tuple, bucket: str | None, filters: dict) -> "tuple[pd.DataFrame, str]":
    """``metrics()`` per time bucket and ``dims``, its headroom and in-flight columns included
    (hours and days from the hourly aggregates, minutes from the spans), with a ``time``."""
    import pandas as pd

    bucket = bucket or bucket_for(**filters)
    if bucket not in _BUCKETS:
        raise ValueError(f"bucket={bucket!r}: use 'minute', 'hour' or 'day'")
    df = engine.metrics_table((bucket,) + dims, filters).reset_index().rename(columns={bucket: "time"})
    return df.assign(time=pd.to_datetime(df["time"], utc=True, format="ISO8601")), bucket


def headroom_frame(*, by: str = "model", bucket: str | None = None, **filters: Any) -> "tuple[pd.DataFrame, str]":
    """(one row per time bucket, series and limit, the bucket): ``time``, ``provider``, ``model``
    (``by="model"``), ``limit`` ("requests" or "tokens"), ``headroom`` (the lowest remaining /
    limit any response in the bucket reported, 0-1), ``remaining`` (the fewest left),
    ``calls``, ``rate_limited`` (calls with a 429 in the bucket: retried or not)."""
    import pandas as pd

    if by not in _SERIES:
        raise ValueError(f"by={by!r}: use 'model' or 'provider'")
    m, bucket = _frame(_SERIES[by], bucket, filters)
    m = m[m["min_remaining_requests"].notna() | m["min_remaining_tokens"].notna() | (m["rate_limited_calls"] > 0)]
    keys = ["time", *_SERIES[by]]
    parts = [m[keys].assign(limit=kind, headroom=m[f"headroom_{kind}"].astype("float"),
                            remaining=m[f"min_remaining_{kind}"].astype("float"), calls=m["calls"],
                            rate_limited=m["rate_limited_calls"])
             for kind in ("requests", "tokens")]
    df = pd.concat(parts, ignore_index=True) if len(m) else pd.DataFrame(
        columns=keys + ["limit", "headroom", "remaining", "calls", "rate_limited"])
    return df.sort_values(["time", *_SERIES[by], "limit"], kind="stable").reset_index(drop=True), bucket


def _labels(df: "pd.DataFrame", by: str) -> "tuple[pd.DataFrame, dict]":
    """A ``series`` column as drawn: the model (with its provider when a model name comes
    from several), or the provider; and {drawn: real} of labels visible_text changed."""
    if by == "provider":
        names = df["provider"]
    else:
        providers = df.groupby("model", dropna=False)["provider"].nunique()
        shared = {m for m, n in providers.items() if n > 1}
        names = [f"{p}/{m}" if m in shared else m for p, m in zip(df["provider"], df["model"])]
    real: dict = {}
    shown = []
    for v in names:
        label = visible_text(v, label=True) if isinstance(v, str) else "(none)"
        if isinstance(v, str) and label != v:
            real[label] = v
        shown.append(label)
    return df.assign(series=shown), real


def headroom(*, by: str = "model", bucket: str | None = None, **filters: Any) -> "alt.LayerChart | alt.Chart":
    """Rate-limit headroom over time per provider and model (or per provider, ``by="provider"``):
    the lowest share of the requests limit (solid) and of the tokens limit (dashed) any
    response in the bucket said was left, from the APIs' rate-limit headers; red rules mark
    buckets with 429s (retried or not)."""
    import altair as alt

    df, bucket = headroom_frame(by=by, bucket=bucket, **filters)
    # short enough for a dashboard cell; how to read it in the subtitle
    title = alt.Title(f"Rate-limit headroom per {bucket}", subtitle="the lowest share of a limit left; grey rules: 429s")
    if df.empty:
        return _note(title, "no rate-limit headers or 429s in the calls that match")
    df, real = _labels(df, by)
    lines = df[df["headroom"].notna()]
    x = _time_x(bucket)
    tip_time = alt.Tooltip("time:T", title=bucket, timeUnit=_time_unit(bucket))
    layers = []
    if not lines.empty:
        points = lines["time"].nunique() <= _POINTS_UP_TO
        layers.append(_chart(lines.drop(columns=["rate_limited", "calls"])).mark_line(point=points, strokeWidth=1.5).encode(
            x=x, y=alt.Y("headroom:Q", title="left (share of the limit)", axis=alt.Axis(format="%"),
                         scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("series:N", title=by), strokeDash=alt.StrokeDash(
                "limit:N", title="limit", scale=alt.Scale(domain=["requests", "tokens"], range=[[1, 0], [5, 3]]),
                legend=alt.Legend(symbolType="stroke", symbolStrokeWidth=2)),
            detail="limit:N",
            tooltip=[tip_time, alt.Tooltip("series:N", title=by), "provider:N", "limit:N",
                     alt.Tooltip("headroom:Q", format=".1%", title="lowest share left"),
                     alt.Tooltip("remaining:Q", format=",.0f", title="fewest left")]))
    hits = df[df["limit"] == "requests"]
    hits = hits[hits["rate_limited"] > 0].groupby("time", as_index=False)["rate_limited"].sum()
    if not hits.empty:
        layers.append(_chart(hits).mark_rule(color=_MARK, strokeWidth=1.5, opacity=0.45, strokeDash=[3, 2]).encode(
            x=x, tooltip=[tip_time, alt.Tooltip("rate_limited:Q", title="calls with a 429")]))
    chart = layers[0] if len(layers) == 1 else layers[0] + layers[1]
    return _with_values(chart.properties(title=title, width=WIDTH, height=HEIGHT), {"series": real})


def in_flight_frame(*, bucket: str | None = None, **filters: Any) -> "tuple[pd.DataFrame, str]":
    """(one row per time bucket, the bucket): ``time``, ``calls``, ``in_flight_max``,
    ``in_flight_mean`` (calls in flight when each started, itself included),
    ``latency_p50_ms``, ``latency_p95_ms`` (of the same calls)."""
    m, bucket = _frame((), bucket, filters)
    m = m[m["in_flight_max"].notna()]
    cols = ["time", "calls", "in_flight_max", "in_flight_mean", "latency_p50_ms", "latency_p95_ms"]
    return m[cols].reset_index(drop=True), bucket


def in_flight(*, bucket: str | None = None, **filters: Any) -> "alt.LayerChart | alt.Chart":
    """LLM calls in flight over time (bars: the most at once when a call started; line: the
    mean) beside latency p50 and p95 (right axis): latency rising with concurrency, or a
    flat ceiling where a semaphore or pool holds calls back."""
    import altair as alt
    import pandas as pd

    df, bucket = in_flight_frame(bucket=bucket, **filters)
    title = alt.Title(f"Calls in flight per {bucket}, and latency",
                      subtitle="bars: most at once; line: mean; latency p50/p95 on the right axis")
    if df.empty:
        return _note(title, "no calls in flight recorded for the calls that match")
    x = _time_x(bucket)
    mid = _time_x(bucket)
    mid.bandPosition = 0.5  # lines through the middle of their bucket's bar
    tip = [alt.Tooltip("time:T", title=bucket, timeUnit=_time_unit(bucket)), alt.Tooltip("calls:Q", title="calls"),
           alt.Tooltip("in_flight_max:Q", title="most in flight"),
           alt.Tooltip("in_flight_mean:Q", format=".2f", title="mean in flight"),
           alt.Tooltip("latency_p50_ms:Q", format=",.0f", title="latency p50 ms"),
           alt.Tooltip("latency_p95_ms:Q", format=",.0f", title="latency p95 ms")]
    top = int(df["in_flight_max"].max())
    ticks = list(range(0, top + 1, max(1, -(-top // 5))))  # whole calls only
    axis = alt.Axis(values=ticks, titleColor="#4c78a8")
    bars = _chart(df).mark_bar(color="#4c78a8", opacity=0.45).encode(
        x=x, y=alt.Y("in_flight_max:Q", title="calls in flight", axis=axis), tooltip=tip)
    mean = _chart(df).mark_line(color="#4c78a8", strokeWidth=1.5).encode(
        x=mid, y=alt.Y("in_flight_mean:Q", title="calls in flight", axis=axis), tooltip=tip)
    lat = pd.concat([pd.DataFrame({"time": df["time"], "latency": name, "ms": df[col].astype("float")})
                     for name, col in (("p50", "latency_p50_ms"), ("p95", "latency_p95_ms"))])
    points = alt.OverlayMarkDef(color="#f58518", size=20) if len(df) <= _POINTS_UP_TO else False
    latency = _chart(lat).mark_line(point=points, color="#f58518").encode(
        x=mid, y=alt.Y("ms:Q", title="latency (ms)", axis=alt.Axis(orient="right", titleColor="#f58518")),
        strokeDash=alt.StrokeDash("latency:N", title="latency",
                                  scale=alt.Scale(domain=["p50", "p95"], range=[[1, 0], [4, 3]]),
                                  legend=alt.Legend(symbolType="stroke", symbolStrokeWidth=2)),
        tooltip=[alt.Tooltip("time:T", title=bucket, timeUnit=_time_unit(bucket)), "latency:N",
                 alt.Tooltip("ms:Q", format=",.0f")])
    # nested: the mean shares the bars' scale; latency has its own (right) axis
    chart = LLMDebugLayerChart(layer=[bars + mean, latency])
    return chart.resolve_scale(y="independent").properties(title=title, width=WIDTH, height=HEIGHT)


def _note(title: "str | alt.Title", text: str) -> "alt.Chart":
    """A short "no data" chart: the title and one line of text."""
    import pandas as pd

    return _chart(pd.DataFrame({"text": [text]})).mark_text(size=13).encode(text="text:N").properties(
        title=title, width=WIDTH, height=60)
