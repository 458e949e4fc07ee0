"""``ld.charts.scores``: how good the answers are, per score name: the distribution of its
values (or labels) and its mean over time, coloured by score name, model, source or
experiment variant.

Both parts are SQL aggregates over the ``scores`` table (joined to the scored spans, and to
``experiment_runs`` for the variant), filtered as ``ld.scores()`` is; no score row is loaded
into Python. A name with few distinct values (thumbs, 1-5 ratings, pass/fail) gets a bar per
value, drawn by its label when it has one; a continuous one (a judge's 0-1) gets ten bins.

Example::

    ld.charts.scores()                              # every score name, coloured by name
    ld.charts.scores(by="variant", experiment_id=exp.id)
    ld.charts.scores(by="model", source="human", since="7d")
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..query import scoreboard
from ..session import flush, get_store
from ..widgets.visible import visible_text
from . import _TIME_FORMAT, _chart, _colour, _empty, _shown, _time_unit, _time_x, _with_values

if TYPE_CHECKING:
    import altair as alt
    import pandas as pd

BY = ("name", "model", "source", "variant")
NONE = "(none)"  # the group of a score whose span has no model, or that ran in no experiment
DISCRETE_UP_TO = 12  # distinct values of a name drawn one bar each; more are binned
BINS = 10  # about this many bins, of a round width
MAX_NAMES = 12  # rows of the chart; the title says when there are more names
DIST_WIDTH, TIME_WIDTH, ROW_HEIGHT = 240, 320, 130
_TABLEAU10 = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d",
              "#bab0ac"]
_GREY = "#9e9e9e"

# The scores the chart aggregates, one row each: its name, its group (the colour), value,
# label and time. A span's variant is the one of the experiment run that made it, else the
# one of the run whose trace it is in (a call inside the run's function).
_GROUP = {"name": "c.name", "model": "s.model", "source": "c.source", "variant": "COALESCE(v.variant, vt.variant)"}
_VARIANTS = ("LEFT JOIN (SELECT span_id, MIN(variant) AS variant FROM experiment_runs GROUP BY span_id) v "
             "ON v.span_id = c.span_id "
             "LEFT JOIN (SELECT trace_id, MIN(variant) AS variant FROM experiment_runs GROUP BY trace_id "
             "HAVING COUNT(DISTINCT variant) = 1) vt ON vt.trace_id = COALESCE(c.trace_id, s.trace_id) ")


def _scored(by: str, filters: dict) -> tuple[str, list]:
    """The ``WITH f AS (...)`` of the filtered scores, and its parameters."""
    where, params = scoreboard.score_where(filters)
    limit = filters.get("limit")
    joins = "LEFT JOIN spans s ON s.id = c.span_id " + (_VARIANTS if by == "variant" else "")
    sql = (f"WITH f AS (SELECT c.name AS name, {_GROUP[by]} AS grp, c.value AS value, c.label AS label, "
           f"c.created_at AS created_at FROM scores c {joins}WHERE {where}"
           + (f" ORDER BY c.id DESC LIMIT {int(limit)}" if limit is not None else "") + ") ")
    return sql, params


def distribution(by: str = "name", **filters: Any) -> "pd.DataFrame":
    """Scores per name, group and value (or bin, or label): columns ``name``, ``group``,
    ``value`` (the exact value or the bin's start; NaN for a label), ``bin_end`` (NaN unless
    binned), ``label``, ``scores`` (how many), and the name's ``lo``/``hi`` values."""
    import pandas as pd

    with_f, params = _scored(_check_by(by), filters)
    flush()
    with get_store().reading() as db:
        ranges = db.execute(with_f + "SELECT name, MIN(value), MAX(value), COUNT(DISTINCT value) FROM f "
                            "GROUP BY name", params).fetchall()
        # (name, first bin start, bin width) of the names with too many values for a bar each
        bins = [(n, *_nice_bins(lo, hi)) for n, lo, hi, nd in ranges if nd > DISCRETE_UP_TO]
        binned = ("b(name, start, step) AS (VALUES " + ", ".join("(?, ?, ?)" for _ in bins) + ") "
                  if bins else "b(name, start, step) AS (SELECT NULL, NULL, NULL WHERE 0) ")
        rows = db.execute(
            with_f.rstrip() + ", " + binned +
            "SELECT f.name, f.grp, CASE WHEN b.step IS NULL OR f.value IS NULL THEN f.value "
            "ELSE ROUND(b.start + CAST((f.value - b.start) / b.step + 1e-9 AS INTEGER) * b.step, 12) END, b.step, "
            "CASE WHEN b.step IS NULL OR f.value IS NULL THEN f.label END, COUNT(*) "
            "FROM f LEFT JOIN b ON b.name = f.name GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 3, 5, 2",
            params + [x for row in bins for x in row]).fetchall()
    df = pd.DataFrame.from_records(rows, columns=["name", "group", "value", "width", "label", "scores"])
    df["value"] = df["value"].astype("float64")
    df["bin_end"] = df["value"] + df["width"].astype("float64")
    lo_hi = {n: (lo, hi) for n, lo, hi, _ in ranges}
    df["lo"] = [lo_hi[n][0] for n in df["name"]]
    df["hi"] = [lo_hi[n][1] for n in df["name"]]
    return df.drop(columns="width")


def _nice_bins(lo: float, hi: float) -> tuple[float, float]:
    """(start, width) of about BINS bins of round width (1, 2, 2.5 or 5 × 10^k) covering lo..hi."""
    raw = (hi - lo) / BINS
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    start = math.floor(lo / step) * step
    if start + step * (BINS + 2) <= hi:  # never more than a dozen bins
        step *= 2
        start = math.floor(lo / step) * step
    return start, step


def over_time(by: str = "name", bucket: str | None = None, **filters: Any) -> "tuple[pd.DataFrame, str]":
    """The mean numeric score per name, group and time bucket (columns ``name``, ``group``,
    ``time``, ``mean``, ``scores``), and the bucket used (``bucket`` or one chosen from the
    time the scores span, as :func:`llmdebug.charts.bucket_for` chooses for calls)."""
    import pandas as pd

    with_f, params = _scored(_check_by(by), filters)
    flush()
    with get_store().reading() as db:
        if bucket is None:
            first, last = db.execute(with_f + "SELECT MIN(created_at), MAX(created_at) FROM f "
                                     "WHERE value IS NOT NULL", params).fetchone()
            bucket = _bucket(first, last)
        if bucket not in _TIME_FORMAT:
            raise ValueError(f"bucket={bucket!r}: use 'minute', 'hour' or 'day'")
        rows = db.execute(with_f + f"SELECT name, grp, strftime('{_TIME_FORMAT[bucket]}', created_at) AS t, "
                          "AVG(value), COUNT(value) FROM f WHERE value IS NOT NULL "
                          "GROUP BY 1, 2, 3 ORDER BY 1, 3, 2", params).fetchall()
    df = pd.DataFrame.from_records(rows, columns=["name", "group", "time", "mean", "scores"])
    df["time"] = pd.to_datetime(df["time"], utc=True, format="ISO8601")
    df["mean"] = df["mean"].astype("float64")
    return df, bucket


def _bucket(first: str | None, last: str | None) -> str:
    # The rule of charts.bucket_for, over the scores' own times.
    if not first or not last:
        return "minute"
    import pandas as pd

    hours = (pd.Timestamp(last) - pd.Timestamp(first)).total_seconds() / 3600
    return "minute" if hours < 6 else "hour" if hours <= 14 * 24 else "day"


def _check_by(by: str) -> str:
    if by not in BY:
        raise ValueError(f"by={by!r}: use one of {', '.join(repr(b) for b in BY)}")
    return by


def _label(v: Any) -> str:
    return visible_text(str(v), label=True)


def _bar_label(value: float, end: float, label: Any) -> str:
    if value != value:  # NaN: a label-only score
        return _label(label)
    if end == end:
        return f"{value:.4g}–{end:.4g}"
    return _label(label) if isinstance(label, str) else f"{value:g}"


def _histogram(d: "pd.DataFrame", col: str, colour: Any) -> "alt.Chart":
    """One score name's distribution: a bar per value or label, or bins on a number line."""
    import altair as alt

    name = _label(d["score"].iloc[0])
    y = alt.Y("sum(scores):Q", title="scores", axis=alt.Axis(tickMinStep=1, format="d"))  # counts: whole ticks
    tip = [alt.Tooltip("bar:N", title=name), f"{col}:N", alt.Tooltip("sum(scores):Q", title="scores")]
    binned = d["bin_end"].notna()
    if binned.any():  # label-only scores of a binned name are left out: a number line has no place for them
        d = d[binned]
        x: dict = {"x": alt.X("value:Q", bin="binned", title=None), "x2": "bin_end:Q"}
    else:
        x = {"x": alt.X("bar:N", title=None, sort=alt.EncodingSortField("order", op="min"),
                        axis=alt.Axis(labelAngle=0, labelLimit=120))}
    return _chart(d[["score", col, "bar", "order", "value", "bin_end", "scores"]]).mark_bar().encode(
        **x, y=y, color=colour, tooltip=tip,
    ).properties(title=f"{name}: distribution", width=DIST_WIDTH, height=ROW_HEIGHT)


def _groups_domain(by: str, shown: "pd.Series") -> list[str]:
    """Every group in the store (as drawn), so a filter never changes a group's colour."""
    if by == "source":
        everything = ["code", "human", "llm"]
    else:
        col = {"name": "name", "variant": "variant"}[by]
        table = "experiment_runs" if by == "variant" else "scores"
        with get_store().reading() as db:
            everything = [r[0] for r in db.execute(f"SELECT DISTINCT {col} FROM {table}") if isinstance(r[0], str)]
    return sorted({visible_text(v, label=True) for v in everything} | set(shown.unique()))


def _colour_of(by: str, df: "pd.DataFrame", col: str) -> Any:
    """The colour of column ``col`` (the groups of ``by``)."""
    import altair as alt

    if by == "model":  # the colours of the other charts' models
        return _colour("model", df)
    shown = sorted(v for v in df[col].unique() if isinstance(v, str))
    domain = [v for v in _groups_domain(by, df[col]) if v != NONE]
    # Vega's default scheme for the groups; grey, last, for the scores in none
    colours = [_TABLEAU10[k % len(_TABLEAU10)] for k in range(len(domain))]
    if NONE in shown:
        domain, colours = domain + [NONE], colours + [_GREY]
    return alt.Color(f"{col}:N", title=col, scale=alt.Scale(domain=domain, range=colours),
                     legend=alt.Legend(values=shown))


def scores(*, by: str = "name", bucket: str | None = None, **filters: Any) -> "alt.Chart":
    """Score distribution and mean score over time, one row per score name, coloured by
    ``by``: ``"name"``, ``"model"`` (of the scored call), ``"source"`` (``human``,
    ``code``, ``llm``) or ``"variant"`` (of the experiment run). ``bucket``: ``"minute"``,
    ``"hour"`` or ``"day"`` (default: from the time the scores span). Filters: those of
    ``ld.scores()`` (``name``, ``source``, ``model``, ``provider``, ``experiment_id``,
    ``since``, ``until``, ...)."""
    import altair as alt

    _check_by(by)
    dist = distribution(by, **filters)
    title = f"Scores by {by}"
    if dist.empty:
        empty = _empty(title)
        empty.data = empty.data.assign(text=["no scores match"])
        return empty
    times, bucket = over_time(by, bucket, **filters)
    col = "score name" if by == "name" else by  # the colour field, beside the row's "score"
    dist = dist.assign(bar=[_bar_label(v, e, lab) for v, e, lab in zip(dist["value"], dist["bin_end"], dist["label"])])
    # bars left to right: values ascending, then the labels of label-only scores
    ranks = dist.assign(_nan=dist["value"].isna()).sort_values(["_nan", "value", "bar"])["bar"]
    dist = dist.assign(order=dist["bar"].map({b: i for i, b in enumerate(dict.fromkeys(ranks))}))
    dist = dist.assign(group=dist["group"].fillna(NONE)).rename(columns={"group": col, "name": "score"})
    times = times.assign(group=times["group"].fillna(NONE)).rename(columns={"group": col, "name": "score"})
    dist, real = _shown(dist, col)
    times, _ = _shown(times, col)
    colour = _colour_of(by, dist, col)

    names = list(dict.fromkeys(dist["score"]))
    rows = []
    for name in names[:MAX_NAMES]:
        d = dist[dist["score"] == name]
        t = times[times["score"] == name][["score", col, "time", "mean", "scores"]]
        bars = _histogram(d, col, colour)
        if t.empty:  # labels only: nothing to average
            rows.append(bars)
            continue
        lo, hi = d["lo"].iloc[0], d["hi"].iloc[0]
        line = _chart(t).mark_line(point=True).encode(
            x=_time_x(bucket),
            y=alt.Y("mean:Q", title="mean", axis=alt.Axis(format="~g"),
                    scale=alt.Scale(domain=[lo, hi] if hi > lo else alt.Undefined, zero=False)),
            color=colour,
            tooltip=[alt.Tooltip("time:T", title=bucket, timeUnit=_time_unit(bucket)), f"{col}:N",
                     alt.Tooltip("mean:Q", format=".3f"), "scores:Q"],
        ).properties(title=f"{_label(name)}: mean per {bucket}", width=TIME_WIDTH, height=ROW_HEIGHT)
        rows.append(bars | line)  # LLMDebugChart's operators keep the offline display
    if len(names) > MAX_NAMES:
        title += f" (first {MAX_NAMES} of {len(names)} score names; filter by name= for the others)"
    chart = rows[0]
    for row in rows[1:]:
        chart = chart & row
    if len(rows) == 1 and not isinstance(chart, alt.HConcatChart):  # one name, labels only
        return _with_values(chart.properties(title=f"{title} · {chart.title}"), {col: real})
    return _with_values(chart.resolve_scale(color="shared").properties(title=title), {col: real})
