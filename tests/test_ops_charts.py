"""ld.charts.breaker and ld.charts.writer_health: their data match ld.breaker_view,
ld.metrics and ld.health; an empty store gives a short "no data" chart, not a broken one."""

from __future__ import annotations

import pandas as pd
import pytest

import llmdebug as ld
from llmdebug.widgets.static import chart_html
from test_operations import T0, _at, hand_made  # noqa: F401  (the hand-computed breaker case)


def _layers(chart) -> list[dict]:
    spec = chart.to_dict()
    return spec.get("layer", [spec]), spec


def _values(layer: dict, spec: dict) -> pd.DataFrame:
    data = layer.get("data") or spec.get("data") or {}
    rows = data.get("values") if "values" in data else spec["datasets"][data["name"]]
    return pd.DataFrame(rows)


def test_breaker_chart_shades_the_periods_over_the_failures(hand_made):
    chart = ld.charts.breaker(3, "10s", "20s", bucket="minute")
    layers, spec = _layers(chart)
    assert [layer["mark"]["type"] for layer in layers] == ["bar", "rect", "rule"]
    bands = _values(layers[1], spec)
    assert list(pd.to_datetime(bands["opened_at"], utc=True)) == [_at(13), _at(64)]
    # a closed period ends at its probe; a still-open one is drawn for its cooldown
    assert list(pd.to_datetime(bands["end"], utc=True)) == [_at(60), _at(84)]
    assert list(bands["closed"])[1] == "still open" and list(bands["refused"]) == [3, 1]
    assert bands["mix"].iloc[0] == "429 1, 5xx 2, timeout 1, connection 1"
    bars = _values(layers[0], spec).groupby("model")["errors"].sum()
    calls = ld.calls()
    assert bars.to_dict() == calls[calls["status"] == "error"].groupby("model").size().to_dict()
    assert spec["title"] == {"text": "Failed calls per minute", "subtitle": "shaded: breaker open (3 in 10s, 20s cooldown)"}
    assert "<img" in chart_html(spec)  # the static view draws it


def test_writer_health_chart_follows_health(ld_on, llm_openai_client):
    for i in range(3):
        llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": str(i)}])
    ld.flush()
    h = ld.health()
    chart = ld.charts.writer_health()
    layers, spec = _layers(chart)
    assert [layer["mark"]["type"] for layer in layers] == ["area", "line"]  # nothing shed: no red rules
    got = _values(layers[0], spec)
    assert got["written"].sum() == h["written"].sum() == 3
    assert spec["resolve"] == {"scale": {"y": "independent"}}
    assert "<img" in chart_html(spec)


def test_empty_store_gives_no_data_charts(ld_on):
    for chart, text in ((ld.charts.breaker(), "no failed calls match"),
                        (ld.charts.writer_health(), "no writer samples yet")):
        spec = chart.to_dict()
        assert spec["mark"]["type"] == "text" and _values(spec, spec)["text"].tolist() == [text]
    with pytest.raises(ValueError, match="bucket"):
        ld.charts.breaker(bucket="week")
