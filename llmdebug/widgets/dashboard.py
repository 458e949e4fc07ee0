"""The dashboard behind ``ld.dashboard(**filters)``: cost, tokens, latency, errors, time to
first token, the costliest and slowest traces and cost per notebook cell, then a row of
operational health (rate-limit headroom, in-flight calls, circuit-breaker periods,
llmdebug's own queue) and one of scores, with filters that redraw every chart in place
and clicks that open the calls behind a bar. A row with nothing to draw is one line.

The charts are ``ld.charts`` specs computed from one hourly-rollup query where they can
share it; they are drawn by the Vega runtime llmdebug ships once (see ``vega.py``).
Names are drawn with bidi controls and invisible characters as ``⟨U+XXXX⟩`` (visible.py);
the filters and the calls behind a click use the real values.
"""

from __future__ import annotations

import time
from typing import Any

import anywidget
import ipywidgets
import traitlets as t

from .. import charts, query, tracing
from .. import formatting as fmt
from .._guard import report
from . import css, esm
from .vega import ChartView
from .visible import from_visible, visible_text

TIME_RANGES = {"15m": "last 15 min", "1h": "last hour", "1d": "last day", "7d": "last 7 days", "30d": "last 30 days",
               "": "all time"}
MAIN = ("cost", "tokens", "latency", "errors", "ttft", "costliest", "slowest", "cells")
# The rows under the main grid: a title, its charts, and what it says when none has data.
ROWS = {
    "Operational health": (("headroom", "in_flight", "breaker", "writer_health"),
                           "No rate-limit headers, concurrent calls, failures or writer samples for these filters."),
    "Scores": (("scores",), "No scores for these filters: ld.evaluate(...), ld.judge(...) or ld.feedback(...) add them."),
}
_WIDE = {"Scores"}  # rows whose chart takes the whole width (the scores chart is two charts side by side)
CHARTS = MAIN + tuple(name for names, _ in ROWS.values() for name in names)
# What the operational and score charts take of the dashboard's filters.
_ROW_FILTERS = {"writer_health": ("since",), "scores": ("since", "model", "provider")}
# One row of the per-cell cost table (synced as ``fields["cells"]``).
CELL_FIELDS = ["cell", "source", "calls", "input_tokens", "output_tokens", "cost_usd", "errors"]
_FILTER_KEYS = ("since", "model", "provider", "tag", "name")


class DashboardControls(anywidget.AnyWidget):
    """The dashboard's filter bar, headline numbers and per-cell cost table."""

    _esm = esm("dashboard.js")
    _css = css("dashboard.css")

    filters = t.Dict().tag(sync=True)  # set by the filter bar
    options = t.Dict().tag(sync=True)  # choices for the filter bar
    summary = t.Dict().tag(sync=True)  # headline numbers
    cells = t.List().tag(sync=True)  # per-cell cost table, one row of CELL_FIELDS per cell
    fields = t.Dict({"cells": CELL_FIELDS}).tag(sync=True)  # the column names of ``cells``
    message = t.Unicode("").tag(sync=True)
    elapsed_ms = t.Float(0.0).tag(sync=True)


class Dashboard(ipywidgets.VBox):
    """Inline charts of the captured calls: a filter bar, eight charts drawn offline, and
    the calls behind any clicked bar or point (with their trace tree) underneath."""

    def __init__(self, **filters: Any):
        unknown = set(filters) - set(_FILTER_KEYS)
        if unknown:
            raise TypeError(f"unknown filter(s) {sorted(unknown)}; the dashboard filters by {', '.join(_FILTER_KEYS)}")
        self.controls = DashboardControls()
        self.charts = {name: ChartView() for name in CHARTS}
        grid = _grid([self.charts[n] for n in MAIN])
        grid.add_class("llmdebug-dashboard-grid")
        self.rows = {title: _Row(title, [self.charts[n] for n in names], note, wide=title in _WIDE)
                     for title, (names, note) in ROWS.items()}
        self.actions = ipywidgets.Output()
        super().__init__([self.controls, grid, *(r.box for r in self.rows.values()), self.actions])
        self.add_class("llmdebug-dashboard")
        self.opened: Any = None
        self.controls.options = self._options()
        self.controls.observe(lambda change: self.refresh(), "filters")
        for name, view in self.charts.items():
            view.observe(lambda change, name=name: self._on_selection(name, change["new"]), "selection")
        self.controls.filters = {k: ("" if v is None else str(v)) for k, v in filters.items()}
        if not self.controls.summary and not self.controls.message:
            self.refresh()

    @property
    def filters(self) -> dict:
        return dict(self.controls.filters)

    @filters.setter
    def filters(self, value: dict) -> None:
        self.controls.filters = dict(value)

    # -- data -------------------------------------------------------------------------
    def query_filters(self) -> dict:
        f = {k: v for k, v in (self.controls.filters or {}).items() if k in _FILTER_KEYS and v not in (None, "")}
        if "name" in f:  # the name box shows ⟨U+XXXX⟩ for what it holds: back to the characters
            f["name"] = from_visible(f["name"])
        return f

    def _options(self) -> dict:
        store = query.get_store()
        store.writer.index_now()  # the rollup (a few rows per hour) knows every model, provider, tag
        rows = store.read("SELECT DISTINCT model, provider, tags FROM rollup WHERE kind = 'llm'")
        from ..store.rows import decode_json

        return {"models": sorted({r[0] for r in rows if r[0]}), "providers": sorted({r[1] for r in rows if r[1]}),
                "tags": sorted({tg for r in rows for tg in (decode_json(r[2]) or []) if isinstance(tg, str)}),
                "since": TIME_RANGES}

    def refresh(self) -> None:
        """Recompute every chart for the current filters (each redraws in place)."""
        t0 = time.perf_counter()
        f = self.query_filters()
        c = self.controls
        try:
            with charts.shared_queries():
                specs = build_specs(f, cell_since=_session_start())
                m = charts.metrics_frame(None, **f)
            row = m.iloc[0] if not m.empty else None
            summary = {} if row is None or not row["calls"] else {
                k: (None if row[k] is None or row[k] != row[k] else float(row[k])) for k in
                ("calls", "errors", "error_rate", "rate_limit_hits", "latency_p50_ms", "latency_p95_ms",
                 "latency_p99_ms", "input_tokens", "output_tokens", "cost_usd")}
            cells = _cell_rows(f)
            for name, spec in specs.items():
                self.charts[name].spec = spec
            for r in self.rows.values():
                r.show(any(not is_note(v.spec) for v in r.views))
            with c.hold_sync():
                c.summary = summary
                c.cells = cells
                c.message = "" if summary else "no LLM calls match these filters"
                c.elapsed_ms = round((time.perf_counter() - t0) * 1000, 1)
        except Exception as e:
            report("computing the dashboard")
            c.message = f"could not compute the dashboard: {type(e).__name__}: {e}"

    # -- click-through ------------------------------------------------------------------
    def calls_for(self, chart: str, datum: dict) -> Any:
        """The calls behind a clicked mark (a DataFrame, newest last)."""
        f = self.query_filters()
        spec = self.charts[chart].spec
        datum = charts.real_datum(spec, datum)  # a drawn "gpt⟨U+202E⟩x" back to the model's real name
        bucket = (spec.get("usermeta") or {}).get("llmdebug", {}).get("bucket")
        if chart == "breaker" and datum.get("opened_at") is not None:  # a breaker period
            import pandas as pd

            start, end = (_utc(datum.get(k)) for k in ("opened_at", "end"))
            f.update(since=start.to_pydatetime(), model=datum.get("model") or f.get("model"))
            if end is not None:  # a click gives times to the millisecond: the probe that closed it too
                f["until"] = (end + pd.Timedelta(milliseconds=1)).to_pydatetime()
            return query.calls(**{k: v for k, v in f.items() if v is not None})
        if chart in ("costliest", "slowest") and datum.get("trace_id"):
            return query.calls(trace_id=datum["trace_id"])
        if chart == "cells" and datum.get("cell"):
            n = int(str(datum["cell"]).strip("In []"))
            df = query.calls(since=_session_start(), **{k: v for k, v in f.items() if k != "since"})
            return df[df["cell"] == n]
        for key in ("model", "provider"):
            if datum.get(key):
                f[key] = datum[key]
        when = datum.get("time")
        if when is None:  # a bar of several buckets: Vega-Lite names the field after its time unit
            when = next((v for k, v in datum.items() if k.endswith("_time")), None)
        if when is not None and bucket in ("minute", "hour", "day"):
            import pandas as pd

            start = pd.Timestamp(when, unit="ms", tz="UTC") if isinstance(when, (int, float)) else pd.Timestamp(when)
            start = start.tz_localize("UTC") if start.tzinfo is None else start
            step = {"minute": pd.Timedelta(minutes=1), "hour": pd.Timedelta(hours=1), "day": pd.Timedelta(days=1)}[bucket]
            step *= int((spec.get("usermeta") or {}).get("llmdebug", {}).get("step") or 1)  # a bar of several buckets
            f["since"], f["until"] = start.to_pydatetime(), (start + step).to_pydatetime()
        df = query.calls(**f)
        if chart == "errors":
            return df[(df["status"] == "error") | (df["rate_limit_hits"].fillna(0) > 0)]
        if chart == "breaker":
            return df[df["status"] == "error"]
        if chart == "latency" and datum.get("lo_ms") is not None:
            return df[(df["latency_ms"] >= datum["lo_ms"]) & (df["latency_ms"] < datum["hi_ms"])]
        return df

    def _on_selection(self, chart: str, datum: dict) -> None:
        if not datum or chart in ("writer_health", "scores"):  # not calls: nothing to open
            return
        try:
            df = self.calls_for(chart, datum)
        except Exception as e:
            report("opening the calls behind a chart")
            self.controls.message = f"could not open these calls: {type(e).__name__}: {e}"
            return
        from IPython.display import display

        from .trace_tree import TraceTree

        cols = [c for c in ("started_at", "name", "model", "status", "input_tokens", "output_tokens", "cost_usd",
                            "latency_ms", "retries", "rate_limit_hits", "trace_id") if c in df.columns]
        self.opened = df
        self.actions.clear_output()
        with self.actions:  # inside a comm message: the Output widget routes these to itself
            if df.empty:
                display(_Text(f"no calls behind this {chart} mark"))
                return
            display(_Text(f"{fmt.count(len(df))} call{'s' if len(df) != 1 else ''} behind this {chart} mark, newest last"))
            display(_drawn(df[cols].tail(50)))
            display(TraceTree(str(df.iloc[-1]["trace_id"]), select=str(df.iloc[-1]["id"])))

    # -- display ---------------------------------------------------------------------------
    def __repr__(self) -> str:
        s = self.controls.summary
        if not s:
            return "llmdebug dashboard: no LLM calls match"
        cost = fmt.cost(s["cost_usd"]) if s.get("cost_usd") is not None else "cost unknown"
        return (f"llmdebug dashboard · {fmt.count(s['calls'])} calls · {cost} · error rate {fmt.percent(s['error_rate'])} · "
                f"{fmt.count(s['rate_limit_hits'] or 0)} rate-limit hits · p95 {fmt.duration(s.get('latency_p95_ms'))}")

    def _repr_mimebundle_(self, **kwargs: Any):
        # The live dashboard, plus its headline numbers and every chart as a picture for
        # saved notebooks (the charts rendered offline now, as they are at this moment).
        from .static import dashboard_html

        out = super()._repr_mimebundle_(**kwargs)
        data, meta = out if isinstance(out, tuple) else (out or {}, {})
        data = dict(data)
        data["text/plain"] = repr(self)
        c = self.controls
        rows = {title: ({n: v.spec for n, v in zip(names, self.rows[title].views)},
                        "" if self.rows[title].shown else note) for title, (names, note) in ROWS.items()}
        data["text/html"] = dashboard_html(c.summary, {n: self.charts[n].spec for n in MAIN},
                                           self.query_filters(), c.message, rows=rows)
        return data, meta


def _grid(views: list, wide: bool = False) -> ipywidgets.GridBox:
    columns = "minmax(0, 1fr)" if wide else "repeat(auto-fill, minmax(460px, 1fr))"
    return ipywidgets.GridBox(views, layout=ipywidgets.Layout(grid_template_columns=columns, grid_gap="8px",
                                                              width="100%"))


class _Row:
    """A titled row of charts under the main grid; one line of text when none has data."""

    def __init__(self, title: str, views: list, note: str, *, wide: bool = False):
        self.views = views
        self.title = ipywidgets.Label(title)
        self.title.add_class("llmdebug")
        self.title.add_class("llmdebug-dashboard-row-title")
        self.note = ipywidgets.Label(note)
        self.note.add_class("llmdebug")
        self.note.add_class("llmdebug-dashboard-row-note")
        self.grid = _grid(views, wide)
        self.box = ipywidgets.VBox([self.title, self.grid])
        self.box.add_class("llmdebug-dashboard-row")
        self.shown = True

    def show(self, charts: bool) -> None:
        """The charts, or (``charts`` False) the row's one line instead."""
        if charts != self.shown:
            self.box.children = [self.title, self.grid if charts else self.note]
            self.shown = charts


def is_note(spec: dict) -> bool:
    """A chart that only says there is nothing to draw (one text mark, no layers)."""
    mark = (spec or {}).get("mark")
    return not spec or (isinstance(mark, dict) and mark.get("type") == "text" and "layer" not in spec) or mark == "text"


def _concat(chart: Any) -> bool:
    import altair as alt

    return isinstance(chart, (alt.HConcatChart, alt.VConcatChart, alt.ConcatChart, alt.FacetChart,
                              alt.RepeatChart))


def _failed(name: str, e: Exception) -> Any:
    import pandas as pd

    from .vega import LLMDebugChart

    text = f"could not draw the {name} chart: {type(e).__name__}: {e}"[:200]
    return LLMDebugChart(pd.DataFrame({"text": [text]})).mark_text(size=12).encode(text="text:N").properties(
        title=name, height=60)


def _utc(v: Any) -> Any:
    import pandas as pd

    if v is None:
        return None
    t = pd.Timestamp(v, unit="ms") if isinstance(v, (int, float)) else pd.Timestamp(v)
    return t.tz_localize("UTC") if t.tzinfo is None else t


def _drawn(df: Any) -> Any:
    """A copy of a calls table for display, its names drawn visibly (``self.opened`` keeps the real ones)."""
    cols = [c for c in ("name", "model", "status") if c in df.columns]
    return df.assign(**{c: df[c].map(lambda v: visible_text(v, label=True)) for c in cols}) if cols else df


class _Text:
    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _session_start() -> float:
    return tracing.NOTEBOOK_STARTED or _PROCESS_START


_PROCESS_START = time.time()


def _cell_rows(f: dict) -> list:
    heads = tracing.CELL_SOURCES
    g = {k: v for k, v in f.items() if k != "since"}
    m = query.metrics(by="cell", since=_session_start(), **g).reset_index()
    m = m[m["cell"].notna()].sort_values("cell")
    rows = []
    for _, r in m.iterrows():
        cell = {"cell": int(r["cell"]), "source": heads.get(int(r["cell"]), ""), "calls": int(r["calls"]),
                "input_tokens": int(r["input_tokens"] or 0), "output_tokens": int(r["output_tokens"] or 0),
                "cost_usd": fmt.number(r["cost_usd"]), "errors": int(r["errors"])}
        rows.append([cell[k] for k in CELL_FIELDS])
    return rows


def build_specs(f: dict, *, cell_since: float | None = None) -> dict:
    """Every dashboard chart's Vega-Lite spec for the filters ``f``."""
    with charts.shared_queries():
        return _build_specs(f, cell_since)


def _build_specs(f: dict, cell_since: float | None) -> dict:
    bucket = charts.bucket_for(**f)
    row = {name: {k: v for k, v in f.items() if name not in _ROW_FILTERS or k in _ROW_FILTERS[name]}
           for names, _ in ROWS.values() for name in names}
    out = {
        "cost": charts.cost(bucket=bucket, **f),
        "tokens": charts.tokens(bucket=bucket, **f),
        "latency": charts.latency(**f),
        "errors": charts.errors(bucket=bucket, **f),
        "ttft": charts.ttft(bucket=bucket, **f),
        "costliest": charts.top_traces("cost", n=8, **f),
        "slowest": charts.top_traces("duration", n=8, **f),
        "cells": charts.cells(since=cell_since, **{k: v for k, v in f.items() if k != "since"}),
    }
    # A row's chart that fails says so in its place; the rest of the dashboard still draws.
    for name, draw in (("headroom", lambda: charts.headroom(**row["headroom"])),
                       ("in_flight", lambda: charts.in_flight(**row["in_flight"])),
                       ("breaker", lambda: charts.breaker(bucket=bucket, **row["breaker"])),
                       ("writer_health", lambda: charts.writer_health(**row["writer_health"])),
                       ("scores", lambda: charts.scores(**row["scores"]))):
        try:
            out[name] = draw()
        except Exception as e:
            report(f"drawing the dashboard's {name} chart")
            out[name] = _failed(name, e)
    specs = {}
    for name, chart in out.items():
        # a concatenation (the scores chart) keeps its parts' widths: "container" is a unit's or a layer's
        spec = (chart if _concat(chart) else chart.properties(width="container")).to_dict()
        spec.setdefault("usermeta", {}).setdefault("llmdebug", {}).update(chart=name, bucket=bucket)
        specs[name] = spec
    return specs


def dashboard(**filters: Any) -> Dashboard:
    """The dashboard for these filters (``since``, ``model``, ``provider``, ``tag``, ``name``)."""
    return Dashboard(**filters)
