"""ld.dashboard: chart specs from aggregates, filters redraw in place, clicks open the
calls behind a mark, per-cell costs, text fallback."""

import pandas as pd
import pytest

import llmdebug as ld
from llmdebug.widgets.dashboard import CHARTS, Dashboard
from test_charts import trojan_traffic  # noqa: F401  (look-alike model names)
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


def test_look_alike_models_filter_and_click_by_their_real_names(trojan_traffic):
    from test_charts import RLO_MODEL, ZWSP_MODEL

    d = ld.dashboard()
    # the filter bar's options are the real names (dashboard.js draws them visibly, and
    # sends the real one back as the filter)
    assert RLO_MODEL in d.controls.options["models"] and ZWSP_MODEL in d.controls.options["models"]
    d.filters = {"model": RLO_MODEL}
    assert d.controls.summary["calls"] == (trojan_traffic["model"] == RLO_MODEL).sum() == 10
    d.filters = {}
    # a click on the bar drawn "gpt-4o-mini⟨U+202E⟩-x" opens that model's calls, not another's
    rows = next(iter(d.charts["cost"].spec["datasets"].values()))
    bar = next(r for r in rows if r["model"] == "gpt-4o-mini⟨U+202E⟩-x")
    d.charts["cost"].selection = {"time": bar["time"], "model": bar["model"], "cost_usd": bar["cost_usd"]}
    assert set(d.opened["model"]) == {RLO_MODEL} and len(d.opened) >= 1
    bar = next(r for r in rows if r["model"] == "gpt⟨U+200B⟩-4o (2)")
    d.charts["cost"].selection = {"time": bar["time"], "model": bar["model"]}
    assert set(d.opened["model"]) == {ZWSP_MODEL}
    # the table shown under the charts draws the names visibly; d.opened keeps them real
    from llmdebug.widgets.dashboard import _drawn

    shown = _drawn(d.opened[["name", "model"]])
    assert set(shown["model"]) == {"gpt⟨U+200B⟩-4o"} and shown["name"].str.startswith("chat⟨U+202E⟩").all()


def test_the_name_box_shows_markers_and_filters_by_the_real_name(trojan_traffic):
    d = ld.dashboard(name="chat\u202e1")
    assert d.controls.summary["calls"] == 20
    d.filters = {"name": "chat⟨U+202E⟩1"}  # what the box sends back after an edit elsewhere
    assert d.query_filters() == {"name": "chat\u202e1"} and d.controls.summary["calls"] == 20
