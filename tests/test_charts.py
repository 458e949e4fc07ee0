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


# -- names holding bidi controls and invisible characters ---------------------------------

RLO_MODEL = "gpt-4o-mini\u202e-x"    # drawn raw, it would read "gpt-4o-minix-"
ZWSP_MODEL = "gpt\u200b-4o"          # drawn raw, it would look like "gpt-4o"
LITERAL_MODEL = "gpt⟨U+200B⟩-4o"     # a real name that reads like ZWSP_MODEL drawn


@pytest.fixture
def trojan_traffic(stored):
    """Calls of three look-alike models (and a real one), in traces whose names hold U+202E
    (built once per session, a copy in each test's store), as ``ld.calls()``."""
    return stored("trojan-traffic", _build_trojan_traffic).copy()


def _build_trojan_traffic():
    from llmdebug.session import get_store
    from llmdebug.tracing import Span, new_id
    from test_query import T0

    store = get_store()
    models = ["gpt-4o-mini", RLO_MODEL, ZWSP_MODEL, LITERAL_MODEL]
    for i in range(40):
        model = models[i % 4]
        store.put(Span(id=new_id(), trace_id=f"t{i}", name=f"chat\u202e{i % 2}", kind="llm", model=model,
                       provider="openai\u200b" if i % 4 == 1 else "openai", status="ok", input_tokens=10 + i,
                       output_tokens=5, total_tokens=15 + i, latency_ms=100.0 + i, ttft_ms=30.0,
                       started_at=T0 + i * 60, cost_usd=0.001 * (i + 1), priced=True, tags=["prod\u200d"]))
    ld.flush()
    return ld.calls()


def _values(chart) -> tuple[dict, list]:
    spec = chart.to_dict()
    rows = next(iter(spec["datasets"].values()))
    return spec, rows


def test_chart_data_draws_names_visibly_and_maps_back(trojan_traffic):
    for chart in (ld.charts.cost(), ld.charts.tokens(), ld.charts.ttft(bucket="hour")):
        spec, rows = _values(chart)
        drawn = {r["model"] for r in rows}
        assert drawn == {"gpt-4o-mini", "gpt-4o-mini⟨U+202E⟩-x", "gpt⟨U+200B⟩-4o", "gpt⟨U+200B⟩-4o (2)"}, drawn
        assert not any("\u202e" in m or "\u200b" in m for m in drawn)
        # the real model behind each changed label; distinct models stay distinct (a real name
        # that reads like a marker keeps its name, the invisible one gets a number)
        values = spec["usermeta"]["llmdebug"]["values"]["model"]
        assert values == {"gpt-4o-mini⟨U+202E⟩-x": RLO_MODEL, "gpt⟨U+200B⟩-4o (2)": ZWSP_MODEL}
        assert ld.charts.real_datum(spec, {"model": "gpt-4o-mini⟨U+202E⟩-x", "n": 1}) == {"model": RLO_MODEL, "n": 1}
        assert ld.charts.real_datum(spec, {"model": "gpt-4o-mini"}) == {"model": "gpt-4o-mini"}
    # the drawn labels still add up to each real model's numbers
    spec, rows = _values(ld.charts.cost(bucket="day"))
    real = spec["usermeta"]["llmdebug"]["values"]["model"]
    got = pd.DataFrame(rows).assign(model=lambda d: d["model"].map(lambda m: real.get(m, m)))
    np.testing.assert_allclose(got.groupby("model")["cost_usd"].sum().sort_index(),
                               trojan_traffic.groupby("model")["cost_usd"].sum().sort_index())
    # other groupings and the top traces too
    spec, rows = _values(ld.charts.cost(by="provider"))
    assert {r["provider"] for r in rows} == {"openai", "openai⟨U+200B⟩"}
    spec, rows = _values(ld.charts.cost(by="tag"))
    assert {r["tag"] for r in rows} == {"prod⟨U+200D⟩"}  # a label: even a ZWJ is shown
    spec, rows = _values(ld.charts.top_traces("cost", n=4))
    assert all(r["name"].startswith("chat⟨U+202E⟩") and r["label"].startswith("chat⟨U+202E⟩") for r in rows)


def test_charts_without_such_names_have_no_value_map(traffic):
    assert "usermeta" not in ld.charts.cost().to_dict()
