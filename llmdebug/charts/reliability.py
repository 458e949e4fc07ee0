"""``ld.charts.breaker`` (failed calls over time, with the periods a circuit breaker would
have been open shaded) and ``ld.charts.writer_health`` (llmdebug's own queue and batch
latency over time).

Example::

    ld.charts.breaker(failures=5, window="30s", cooldown="60s", since="1d")
    ld.charts.writer_health(since="1h")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import operations
from ..widgets.vega import LLMDebugChart
from ..widgets.visible import visible_text
from . import HEIGHT, WIDTH, bucket_for, metrics_frame

if TYPE_CHECKING:
    import altair as alt
    import pandas as pd

__all__ = ["breaker", "writer_health"]

_LABEL = {"minute": "%H:%M", "hour": "%b %d %H:00", "day": "%b %d"}
_UNIT = {"minute": "yearmonthdatehoursminutes", "hour": "yearmonthdatehours", "day": "yearmonthdate"}
_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_RED, _BLUE, _ORANGE = "#d62728", "#4c78a8", "#f58518"


def _note(title: Any, text: str) -> "alt.Chart":
    """A short "no data" chart: the title and one line of text."""
    import pandas as pd

    return LLMDebugChart(pd.DataFrame({"text": [text]})).mark_text(size=13).encode(text="text:N").properties(
        title=title, width=WIDTH, height=60)


def _time_axis(bucket: str, span: tuple | None = None) -> Any:
    """The time axis of a chart in ``bucket``s. ``span`` (first, last time) of a short chart:
    a tick at each bucket's start, where Vega's own finer ticks would repeat a label."""
    import altair as alt
    import pandas as pd

    extra = {}
    if span is not None:
        step = pd.Timedelta(seconds=_SECONDS[bucket])
        start = span[0].floor(step)
        extra["values"] = [int(t.timestamp() * 1000) for t in pd.date_range(start, span[1] + step, freq=step)]
    return alt.Axis(format=_LABEL[bucket], labelOverlap="greedy", labelSeparation=8, **extra)


def breaker(failures: int = 5, window: Any = "30s", cooldown: Any = "60s", *, bucket: str | None = None,
            **filters: Any) -> "alt.LayerChart | alt.Chart":
    """Failed calls per minute, hour or day by model, with the periods a circuit breaker
    (``failures`` in ``window``, open for ``cooldown``; see :func:`ld.breaker_view`) would
    have been open shaded per provider and model, and a line where each opened."""
    import altair as alt
    import pandas as pd

    bucket = bucket or bucket_for(**filters)
    if bucket not in _UNIT:
        raise ValueError(f"bucket={bucket!r}: use 'minute', 'hour' or 'day'")
    # short enough for a dashboard cell; the settings in the subtitle
    title = alt.Title(f"Failed calls per {bucket}",
                      subtitle=f"shaded: breaker open ({failures} in {window}, {cooldown} cooldown)")
    periods = operations.breaker_view(failures, window, cooldown, **filters)
    m = metrics_frame((bucket, "model"), **filters).reset_index()
    m = m[m["errors"] > 0]
    if m.empty and periods.empty:
        return _note(title, "no failed calls match")
    m = m.rename(columns={bucket: "time"})
    m["time"] = pd.to_datetime(m["time"], utc=True, format="ISO8601")
    m["model"] = [visible_text(v, label=True) for v in m["model"]]
    domain = sorted(set(m["model"].dropna()) | {visible_text(v, label=True) for v in periods.get("model", [])
                                                 if isinstance(v, str)})
    colour = alt.Color("model:N", title="model", scale=alt.Scale(domain=domain), legend=alt.Legend(symbolOpacity=1))
    bands = _bands(periods, cooldown) if not periods.empty else None
    times = list(m["time"]) + ([] if bands is None else list(bands["opened_at"]) + list(bands["end"]))
    short = (max(times) - min(times)).total_seconds() < 12 * _SECONDS[bucket]
    axis = _time_axis(bucket, (min(times), max(times)) if short else None)
    x = alt.X("time:T", title=None, timeUnit=_UNIT[bucket], axis=axis)
    bars = LLMDebugChart(m[["time", "model", "errors", "calls"]]).mark_bar().encode(
        x=x, y=alt.Y("sum(errors):Q", title="failed calls", stack="zero", axis=alt.Axis(tickMinStep=1, format="d")),
        color=colour,
        tooltip=[alt.Tooltip("time:T", title=bucket, timeUnit=_UNIT[bucket]), "model:N",
                 alt.Tooltip("sum(errors):Q", title="failed"), alt.Tooltip("sum(calls):Q", title="calls")])
    if bands is None:
        return bars.properties(title=title, width=WIDTH, height=HEIGHT)
    band_tip = ["provider:N", "model:N", alt.Tooltip("opened_at:T", format="%Y-%m-%d %H:%M:%S"),
                alt.Tooltip("closed:N", title="closed"), alt.Tooltip("refused:Q", title="calls refused"),
                alt.Tooltip("mix:N", title="error mix")]
    # outlined too: a light shade alone vanishes over a tall bar
    shade = LLMDebugChart(bands).mark_rect(fillOpacity=0.18, strokeOpacity=0.9, strokeWidth=1, strokeDash=[4, 2]).encode(
        x=alt.X("opened_at:T", title=None, axis=axis), x2="end:T", color=colour, stroke=colour, tooltip=band_tip)
    opened = LLMDebugChart(bands).mark_rule(strokeDash=[4, 3], strokeWidth=1.5).encode(
        x="opened_at:T", color=colour, tooltip=band_tip)
    # the shade over the bars: a click anywhere in a period opens the period
    return (bars + shade + opened).properties(title=title, width=WIDTH, height=HEIGHT)


def _bands(periods: "pd.DataFrame", cooldown: Any) -> "pd.DataFrame":
    """One row per open period, with an end to draw (a still-open one: its cooldown)."""
    import pandas as pd

    from ..durations import seconds

    open_end = periods["opened_at"] + pd.to_timedelta(seconds(cooldown, name="cooldown"), unit="s")
    mix = [", ".join(f"{c} {int(r[f'errors_{c}'])}" for c in operations.ERROR_CLASSES if r[f"errors_{c}"])
           for _, r in periods.iterrows()]
    return pd.DataFrame({
        "provider": [visible_text(v, label=True) for v in periods["provider"]],
        "model": [visible_text(v, label=True) for v in periods["model"]],
        "opened_at": periods["opened_at"],
        "end": periods["closed_at"].fillna(open_end),
        "closed": [("still open" if pd.isna(c) else c.strftime("%Y-%m-%d %H:%M:%S")) for c in periods["closed_at"]],
        "refused": periods["calls_during_open"].astype(int),
        "mix": mix,
    })


def writer_health(**filters: Any) -> "alt.LayerChart | alt.Chart":
    """llmdebug's own writer over time (``ld.health()``): spans waiting in memory (area, left
    axis), the slowest batch of each sample (line, right axis, ms), and red rules where spans
    or payloads were shed past ``LLMDEBUG_MAX_BUFFER_MB``."""
    import altair as alt
    import pandas as pd

    title = "llmdebug's writer: spans waiting, slowest batch (ms)"
    h = operations.health(**filters)
    if h.empty:
        return _note(title, "no writer samples yet")
    h = h.astype({"queue_depth": "float64", "batch_ms": "float64", "written": "float64",
                  "shed_spans": "float64", "shed_payloads": "float64"})[
        ["at", "queue_depth", "batch_ms", "written", "shed_spans", "shed_payloads"]]
    first, last = h["at"].min(), h["at"].max()
    if (last - first).total_seconds() < 60:  # a short burst: a minute around it, not a point
        first, last = first - pd.Timedelta(seconds=30), last + pd.Timedelta(seconds=30)
    x = alt.X("at:T", title=None, scale=alt.Scale(domain=[first.isoformat(), last.isoformat()]),
              axis=alt.Axis(format="%H:%M:%S", labelOverlap="greedy", labelSeparation=8))
    tip = [alt.Tooltip("at:T", format="%Y-%m-%d %H:%M:%S"), alt.Tooltip("queue_depth:Q", title="spans waiting"),
           alt.Tooltip("batch_ms:Q", title="slowest batch ms", format=",.1f"),
           alt.Tooltip("written:Q", title="written"), alt.Tooltip("shed_payloads:Q", title="payloads shed"),
           alt.Tooltip("shed_spans:Q", title="spans dropped")]
    queue = LLMDebugChart(h).mark_area(opacity=0.35, color=_BLUE, line={"color": _BLUE}, interpolate="step-after").encode(
        x=x, y=alt.Y("queue_depth:Q", title="spans waiting", axis=alt.Axis(titleColor=_BLUE, tickMinStep=1, format=",d"),
                     scale=alt.Scale(domainMin=0, domainMax=max(1.0, float(h["queue_depth"].max())))), tooltip=tip)
    batch = LLMDebugChart(h).mark_line(color=_ORANGE, point=alt.OverlayMarkDef(color=_ORANGE, size=18)).encode(
        x=x, y=alt.Y("batch_ms:Q", title="slowest batch (ms)", axis=alt.Axis(titleColor=_ORANGE, orient="right")),
        tooltip=tip)
    layers = queue + batch
    shed = h[(h["shed_spans"] > 0) | (h["shed_payloads"] > 0)]
    if not shed.empty:
        layers += LLMDebugChart(shed).mark_rule(color=_RED, strokeWidth=2).encode(x=x, tooltip=tip)
    return layers.resolve_scale(y="independent").properties(title=title, width=WIDTH, height=HEIGHT)
