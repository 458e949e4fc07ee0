"""ld.charts: every chart's data is an SQL aggregate, checked against plain pandas on the
same calls; charts are plain altair objects and leave the user's altair settings alone."""

import altair as alt
import numpy as np
import pandas as pd
import pytest

import llmdebug as ld
from llmdebug.widgets.vega import LLMDebugChart
from test_query import _nearest_rank, traffic  # noqa: F401  (the shared synthetic traffic)


def _data(chart) -> pd.DataFrame:
    return chart.data if isinstance(chart.data, pd.DataFrame) else pd.DataFrame(chart.data)


def test_cost_per_bucket_and_model(traffic):
    c = ld.charts.cost()
    assert isinstance(c, alt.Chart) and isinstance(c, LLMDebugChart)
    assert ld.charts.bucket_for() == "hour"  # 400 calls over ~3 days
    got = _data(c).set_index(["time", "model"])["cost_usd"].sort_index()
    df = traffic[traffic["cost_usd"].notna()].copy()
    df["time"] = df["started_at"].dt.floor("h")
    exp = df.groupby(["time", "model"])["cost_usd"].sum().sort_index()
    np.testing.assert_allclose(got.values, exp.values, rtol=1e-9)
    assert list(got.index) == list(exp.index)
    spec = c.to_dict()
    assert spec["mark"]["type"] == "bar" and spec["encoding"]["color"]["field"] == "model"
    by_day = _data(ld.charts.cost(bucket="day", by="provider"))
    assert by_day["cost_usd"].sum() == pytest.approx(traffic["cost_usd"].sum())


def test_tokens_latency_errors_ttft(traffic):
    t = _data(ld.charts.tokens()).groupby(["model", "direction"])["tokens"].sum()
    assert t[("gpt-4o-mini", "input")] == traffic[traffic.model == "gpt-4o-mini"]["input_tokens"].sum()
    assert t[("local-llama", "output")] == traffic[traffic.model == "local-llama"]["output_tokens"].sum()

    lat = ld.charts.latency()
    assert lat.to_dict()["layer"][0]["mark"]["type"] == "rect"  # columns from 0 up, not 1-px bars
    bars, rules = (pd.DataFrame(layer["data"]["values"]) if "values" in layer.get("data", {}) else None
                   for layer in lat.to_dict()["layer"][:2])
    h = ld.charts.latency_histogram()
    assert h["calls"].sum() == len(traffic)
    v = traffic["latency_ms"]
    assert h["lo_ms"].min() <= v.min() * 1.01 and h["hi_ms"].max() >= v.max() / 1.01
    marks = _data(lat.layer[1]).set_index("label")["ms"]
    for p in (0.5, 0.95, 0.99):
        assert marks[f"p{int(p * 100)}"] == pytest.approx(_nearest_rank(v, p))

    e = _data(ld.charts.errors(bucket="day")).pivot_table(index="time", columns="event", values="count", aggfunc="sum")
    day = traffic["started_at"].dt.floor("D")
    assert list(e["errors"]) == list(traffic.groupby(day)["status"].apply(lambda s: (s == "error").sum()))
    assert list(e["rate-limit hits"]) == list(traffic.groupby(day)["rate_limit_hits"].sum())

    tt = _data(ld.charts.ttft(bucket="day")).set_index(["time", "model"])["ttft_p50_ms"].sort_index()
    streams = traffic[traffic["ttft_ms"].notna()]
    exp = streams.groupby([streams["started_at"].dt.floor("D"), "model"])["ttft_ms"].apply(lambda s: _nearest_rank(s, 0.5))
    np.testing.assert_allclose(tt.values, exp.sort_index().values, rtol=1e-9)


def test_top_traces(traffic):
    got = _data(ld.charts.top_traces("cost", n=5))
    exp = traffic.groupby("trace_id")["cost_usd"].sum().sort_values(ascending=False).head(5)
    assert list(got["trace_id"]) == list(exp.index)
    slow = _data(ld.charts.top_traces("duration", n=3, model="gpt-4o-mini"))
    assert len(slow) == 3 and list(slow["duration_ms"]) == sorted(slow["duration_ms"], reverse=True)


def test_filters_and_empty_results(traffic):
    only = _data(ld.charts.cost(model="claude-3-5-haiku-latest"))
    assert set(only["model"]) == {"claude-3-5-haiku-latest"}
    empty = ld.charts.cost(model="nope")
    assert empty.to_dict()["mark"]["type"] == "text" and "no LLM calls match" in str(_data(empty)["text"][0])
    for fn in (ld.charts.tokens, ld.charts.latency, ld.charts.errors, ld.charts.ttft, ld.charts.cells):
        fn(model="nope").to_dict()  # a chart saying so, never an exception


def test_charts_leave_altair_settings_alone(traffic):
    renderer, theme = alt.renderers.active, alt.theme.active if hasattr(alt, "theme") else alt.themes.active
    c = ld.charts.cost().properties(width=300)  # restyled: still an llmdebug chart, still altair
    assert isinstance(c, LLMDebugChart) and c.to_dict()["width"] == 300
    c._repr_mimebundle_()
    assert alt.renderers.active == renderer
    assert (alt.theme.active if hasattr(alt, "theme") else alt.themes.active) == theme
