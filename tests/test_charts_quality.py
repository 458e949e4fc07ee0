"""ld.charts.scores: the chart's data (SQL aggregates) against plain pandas over ld.scores(),
by score name, model, source and experiment variant; bins, buckets, filters, the empty chart."""

import math
import random

import altair as alt
import numpy as np
import pandas as pd
import pytest

import llmdebug as ld
from llmdebug.charts import quality
from llmdebug.query.writes import add_scores
from llmdebug.session import get_store
from llmdebug.store.rows import iso
from llmdebug.widgets.vega import LLMDebugVConcatChart

T0 = 1_780_000_000.0  # scores made over three days from here


@pytest.fixture
def scored(ld_on, llm_openai_client, llm_anthropic_client):
    """Calls of three models, each scored: thumbs (human), a 1-5 rating (human), a judge's
    continuous relevance (llm), a label-only tone (code); two experiment variants."""
    ids = {}
    for model in ("gpt-4o-mini", "gpt-4o"):
        ids[model] = [llm_openai_client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": f"q{k}"}]).id for k in range(4)]
    for k in range(4):
        llm_anthropic_client.messages.create(model="claude-3-5-haiku-latest", max_tokens=20,
                                             messages=[{"role": "user", "content": f"q{k}"}])
    ld.flush()
    calls = ld.calls()
    rng = random.Random(7)
    rows = []
    for n, sid in enumerate(calls["id"]):
        at = lambda k: iso(T0 + (n * 7 + k) * 3600 * 1.5)  # noqa: E731  spread over ~3 days
        up = rng.random() < 0.6
        rows += [
            {"span_id": sid, "name": "thumbs", "value": float(up), "label": "up" if up else "down", "source": "human",
             "created_at": at(0)},
            {"span_id": sid, "name": "rating", "value": float(rng.randint(1, 5)), "source": "human", "created_at": at(1)},
            {"span_id": sid, "name": "tone", "label": rng.choice(["polite", "curt"]), "source": "code",
             "created_at": at(2)},
        ]
        rows += [{"span_id": sid, "name": "relevance", "value": round(rng.random(), 4), "source": "llm",
                  "experiment_id": "exp1", "created_at": at(3 + j)} for j in range(3)]
    add_scores(rows)
    # two variants of an experiment: the first six calls are variant "a", the next four "b"
    runs = [("exp1", "a" if k < 6 else "b", f"item{k}", None, sid, "", None) for k, sid in enumerate(calls["id"][:10])]
    with get_store().reading() as db, db.conn:
        db.conn.execute("INSERT INTO experiments (id, name, dataset, dataset_version, created_at) "
                        "VALUES ('exp1', 'ab', 'd', 1, ?)", [iso(T0)])
        db.conn.executemany("INSERT INTO experiment_runs VALUES (?, ?, ?, ?, ?, ?, ?)", runs)
    return calls


def _rows(chart) -> list:
    """The per-name rows of the chart: (histogram, mean-over-time line or None)."""
    out = []
    for row in (chart.vconcat if isinstance(chart, alt.VConcatChart) else [chart]):
        parts = row.hconcat if isinstance(row, alt.HConcatChart) else [row]
        out.append((parts[0], parts[1] if len(parts) > 1 else None))
    return out


def _bins(values: pd.Series) -> pd.Series:
    start, step = quality._nice_bins(values.min(), values.max())
    return (start + np.floor((values - start) / step + 1e-9) * step).round(12)


def test_by_name_matches_pandas(scored):
    chart = ld.charts.scores()
    assert isinstance(chart, LLMDebugVConcatChart)  # draws offline, like every ld.charts chart
    df = ld.scores()
    rows = _rows(chart)
    names = [h.data["score"].iloc[0] for h, _ in rows]
    assert names == sorted(df["name"].unique())
    for hist, line in rows:
        name = hist.data["score"].iloc[0]
        s = df[df["name"] == name]
        got = hist.data.groupby("bar")["scores"].sum().to_dict()
        if name == "relevance":  # 36 distinct values: binned on a number line
            exp = s.groupby(_bins(s["value"])).size()
            assert hist.data.set_index("value")["scores"].sort_index().to_dict() == exp.to_dict()
            assert hist.to_dict()["encoding"]["x"]["bin"] == "binned"
        elif name == "tone":  # labels only: a bar per label, nothing to average
            assert got == s["label"].value_counts().to_dict() and line is None
            continue
        elif name == "thumbs":
            assert got == s["label"].value_counts().to_dict()
            assert list(hist.data.sort_values("order")["bar"]) == ["down", "up"]
        else:
            assert got == {f"{v:g}": n for v, n in s["value"].value_counts().items()}
        # the mean per bucket: three days of scores -> hours
        assert line is not None and "per hour" in line.title
        exp_mean = s.groupby(s["created_at"].dt.floor("h"))["value"].mean()
        got_mean = line.data.set_index("time")["mean"].sort_index()
        assert list(got_mean.index) == list(exp_mean.index)
        np.testing.assert_allclose(got_mean.values, exp_mean.values, rtol=1e-12)
        assert line.data["scores"].sum() == s["value"].notna().sum()


@pytest.mark.parametrize("by", ["model", "source", "variant"])
def test_by_model_source_and_variant(scored, by):
    df = ld.scores()
    if by == "variant":
        runs = get_store().read("SELECT span_id, variant FROM experiment_runs")
        df["variant"] = df["span_id"].map(dict(runs))
    df[by] = df[by].fillna(quality.NONE)
    chart = ld.charts.scores(by=by, bucket="day")
    for hist, line in _rows(chart):
        name = hist.data["score"].iloc[0]
        s = df[df["name"] == name]
        assert hist.to_dict()["encoding"]["color"]["field"] == by
        got = hist.data.groupby(by)["scores"].sum().sort_index()
        assert got.to_dict() == s.groupby(by).size().to_dict()
        if line is not None:
            exp = s.groupby([s["created_at"].dt.floor("D"), by])["value"].mean().sort_index()
            got_mean = line.data.set_index(["time", by])["mean"].sort_index()
            assert list(got_mean.index) == list(exp.index)
            np.testing.assert_allclose(got_mean.values, exp.values, rtol=1e-12)
    legend = chart.to_dict()["vconcat"][0]["hconcat"][0]["encoding"]["color"]
    assert legend["legend"]["values"] == sorted(df[by].unique())
    if by == "variant":
        assert set(df[by]) == {"a", "b", quality.NONE}


def test_filters_are_those_of_ld_scores(scored):
    for filters in ({"source": "human"}, {"model": "gpt-4o"}, {"name": ["thumbs", "tone"]},
                    {"experiment_id": "exp1"}, {"since": iso(T0 + 86400), "until": iso(T0 + 2 * 86400)},
                    {"provider": "anthropic", "name": "rating"}):
        df = ld.scores(**filters)
        dist = quality.distribution(**filters)
        assert dist["scores"].sum() == len(df), filters
        assert sorted(dist["name"].unique()) == sorted(df["name"].unique()), filters
        times, bucket = quality.over_time(**filters)
        assert times["scores"].sum() == df["value"].notna().sum(), filters
    assert quality.distribution(limit=5)["scores"].sum() == 5  # the newest five, as ld.scores(limit=5)


def test_buckets_follow_the_time_the_scores_span(scored):
    assert quality.over_time()[1] == "hour"  # about three days
    assert quality.over_time(since=iso(T0), until=iso(T0 + 4 * 3600))[1] == "minute"
    times, bucket = quality.over_time(bucket="day", name="rating")
    assert bucket == "day" and times["time"].dt.floor("D").equals(times["time"])
    with pytest.raises(ValueError, match="bucket='week'"):
        ld.charts.scores(bucket="week")


def test_empty_and_bad_arguments(ld_on):
    empty = ld.charts.scores()
    assert empty.data["text"].tolist() == ["no scores match"] and empty.to_dict()["mark"]["type"] == "text"
    with pytest.raises(ValueError, match="by='cost'"):
        ld.charts.scores(by="cost")
    with pytest.raises(TypeError, match="unknown filter"):
        ld.charts.scores(status="error")


def test_nice_bins():
    assert quality._nice_bins(0.0123, 0.97) == (0.0, 0.1)
    start, step = quality._nice_bins(1.0, 100.0)
    assert (start, step) == (0.0, 10.0)
    for lo, hi in ((0.2, 0.2001), (-3.0, 7.5), (1e-6, 3e-6)):
        start, step = quality._nice_bins(lo, hi)
        assert start <= lo and math.ceil((hi - start) / step) <= 12


def test_the_chart_draws_offline(scored):
    from llmdebug.widgets.static import chart_svg

    svg = chart_svg(ld.charts.scores(by="model").to_dict())
    assert svg.startswith("<svg") and "relevance: distribution" in svg and "thumbs: mean per hour" in svg

