"""ld.dashboard: chart specs from aggregates, filters redraw in place, clicks open the
calls behind a mark, per-cell costs, text fallback."""

import pandas as pd
import pytest

import llmdebug as ld
from llmdebug.widgets.dashboard import CHARTS, Dashboard
from test_query import traffic  # noqa: F401  (the shared synthetic traffic)


def test_dashboard_state_and_filters(traffic):
    d = ld.dashboard()
    assert isinstance(d, Dashboard) and list(d.charts) == list(CHARTS)
    s = d.controls.summary
    assert s["calls"] == len(traffic) and s["cost_usd"] == pytest.approx(traffic["cost_usd"].sum())
    assert s["errors"] == (traffic["status"] == "error").sum()
    assert set(d.controls.options["models"]) == set(traffic["model"])
    for name, view in d.charts.items():
        spec = view.spec
        assert spec["usermeta"]["llmdebug"]["chart"] == name and "/vega-lite/v6" in spec["$schema"]
    cost_before = d.charts["cost"].spec
    views = dict(d.charts)
    d.filters = {"model": "gpt-4o-mini"}  # what the filter bar sends
    assert d.controls.summary["calls"] == (traffic["model"] == "gpt-4o-mini").sum()
    assert d.charts == views  # the same chart widgets, redrawn in place
    assert d.charts["cost"].spec != cost_before
    d.filters = {"model": "nope"}
    assert d.controls.summary == {} and d.controls.message == "no LLM calls match these filters"
    with pytest.raises(TypeError, match="unknown filter"):
        ld.dashboard(colour="red")


def test_clicking_a_bar_opens_the_calls_behind_it(traffic):
    d = ld.dashboard()
    bucket = d.charts["cost"].spec["usermeta"]["llmdebug"]["bucket"]
    assert bucket == "hour"
    first = traffic.iloc[0]
    hour = first["started_at"].floor("h")
    # what chart_view.js sends for a click on the bar of that hour and model
    d.charts["cost"].selection = {"time": hour.isoformat(), "model": first["model"], "cost_usd": 0.001}
    got = d.opened
    exp = traffic[(traffic["started_at"].dt.floor("h") == hour) & (traffic["model"] == first["model"])]
    assert list(got["id"]) == list(exp["id"])
    top = d.charts["costliest"].spec
    tid = pd.DataFrame(top["datasets"][next(iter(top["datasets"]))])["trace_id"].iloc[0]
    d.charts["costliest"].selection = {"trace_id": tid, "name": "chat"}
    assert set(d.opened["trace_id"]) == {tid}
    d.charts["errors"].selection = {"time": hour.isoformat(), "event": "errors", "count": 1}
    assert ((d.opened["status"] == "error") | (d.opened["rate_limit_hits"] > 0)).all()


def test_text_fallback(traffic):
    d = ld.dashboard(since="30d")
    data, _ = d._repr_mimebundle_()
    assert data["text/plain"].startswith("llmdebug dashboard") and "application/vnd.jupyter.widget-view+json" in data
