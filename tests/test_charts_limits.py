"""ld.charts.headroom and ld.charts.in_flight, and the headroom and in-flight columns of
ld.metrics(): every number is an SQL aggregate, checked against plain pandas over
ld.calls() of real SDK calls (a simulated day under enforced rate limits, then calls
held together at the server so several are in flight)."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

import llmdebug as ld
from llmdebug import charts
from llmdebug.charts import limits
from llmdebug.query import engine
from llmdebug.testing import FakeLLMServer, simulate_traffic
from llmdebug.widgets.static import chart_html
from llmdebug.widgets.vega import LLMDebugChart, LLMDebugLayerChart

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")

END = dt.datetime(2026, 3, 4, 18, tzinfo=dt.timezone.utc)
USER = [{"role": "user", "content": "hello"}]


class _HeldServer(FakeLLMServer):
    """Holds each request until ``parties`` have arrived."""

    barrier: threading.Barrier | None = None

    def handle(self, method, target, headers, raw):
        if self.barrier is not None:
            self.barrier.wait()
        return super().handle(method, target, headers, raw)


def _build():
    with _HeldServer(rate_limits={"requests": 2, "tokens": 3_000, "window_s": 60}) as srv:
        oa = openai.OpenAI(base_url=srv.openai_base_url, api_key="sk-fake")
        an = anthropic.Anthropic(base_url=srv.anthropic_base_url, api_key="sk-ant")
        simulate_traffic(oa, anthropic_client=an, server=srv, days=1, calls=120, seed=5, end=END)
        # then, in real time: batches of 1, 2 and 4 calls held together at the server
        srv.rate_limits = None
        for n in (1, 2, 4):
            srv.barrier = threading.Barrier(n, timeout=60)
            with ThreadPoolExecutor(n) as pool:
                list(pool.map(lambda _: oa.chat.completions.create(model="gpt-4o-mini", messages=USER), range(n)))
        oa.close()
        an.close()


@pytest.fixture
def day(stored):
    stored("limits-day", _build)
    return ld.calls()


def _hour(s: pd.Series) -> pd.Series:
    return s.dt.strftime("%Y-%m-%dT%H:00")


def test_headroom_frame_is_the_lowest_share_left_per_hour_and_model(day):
    df, bucket = limits.headroom_frame(bucket="hour")
    assert bucket == "hour"
    c = day[day["ratelimit_remaining_requests"].notna() | (day["rate_limit_hits"] > 0)].copy()
    c["hour"] = _hour(c["started_at"])
    for kind in ("requests", "tokens"):
        c[kind] = c[f"ratelimit_remaining_{kind}"].astype("float") / c[f"ratelimit_limit_{kind}"].astype("float")
        exp = c.groupby(["hour", "provider", "model"])[kind].min().dropna()
        got = df[(df["limit"] == kind) & df["headroom"].notna()].copy()
        got["hour"] = got["time"].dt.strftime("%Y-%m-%dT%H:00")
        got = got.set_index(["hour", "provider", "model"])["headroom"].sort_index()
        assert list(got.index) == list(exp.sort_index().index)
        np.testing.assert_allclose(got.values, exp.sort_index().values)
        fewest = c.groupby(["hour", "provider", "model"])[f"ratelimit_remaining_{kind}"].min().dropna()
        assert sorted(df[(df["limit"] == kind) & df["remaining"].notna()]["remaining"]) == sorted(fewest)
    limited = c[(c["rate_limit_hits"] > 0) | (c["http_status"] == 429)]
    assert len(limited) >= 2  # the simulated day ran into its limits
    hits = df[df["limit"] == "requests"].groupby(df["time"].dt.strftime("%Y-%m-%dT%H:00"))["rate_limited"].sum()
    assert hits[hits > 0].to_dict() == limited.groupby("hour").size().to_dict()
    # the headroom reached 0 where the 429s are
    assert (df[df["limit"] == "requests"]["headroom"] == 0).any()


def test_headroom_chart(day):
    c = charts.headroom()
    assert isinstance(c, LLMDebugLayerChart)
    spec = c.to_dict()
    line, rule = spec["layer"]
    assert line["mark"]["type"] == "line" and line["encoding"]["strokeDash"]["field"] == "limit"
    assert line["encoding"]["y"]["scale"]["domain"] == [0, 1]
    assert rule["mark"]["type"] == "rule"
    frame, bucket = limits.headroom_frame()
    rules = pd.DataFrame(c.layer[1].data)
    assert rules["rate_limited"].sum() == frame[frame["limit"] == "requests"]["rate_limited"].sum()
    assert set(pd.DataFrame(c.layer[0].data)["series"]) == {"gpt-4o-mini", "gpt-4o", "claude-3-5-haiku-latest"}
    # by provider; a narrower filter; the dashboard's width; a static SVG view
    by_provider = pd.DataFrame(charts.headroom(by="provider", bucket="day").layer[0].data)
    assert set(by_provider["series"]) == {"openai", "anthropic"}
    mini = charts.headroom(model="gpt-4o-mini", bucket="minute")
    assert set(pd.DataFrame(mini.layer[0].data if hasattr(mini, "layer") else mini.data)["series"]) == {"gpt-4o-mini"}
    html = chart_html(c.properties(width="container").to_dict())
    assert "<svg" in html or "data:image/svg" in html
    with pytest.raises(ValueError):
        charts.headroom(by="tag")


def test_in_flight_frame_and_chart(day):
    df, bucket = limits.in_flight_frame(bucket="hour")
    c = day.copy()
    c["hour"] = _hour(c["started_at"])
    got = df.assign(hour=df["time"].dt.strftime("%Y-%m-%dT%H:00")).set_index("hour")
    exp = c.groupby("hour")["in_flight"].agg(["max", "mean"])
    assert list(got.index) == list(exp.index)
    assert got["in_flight_max"].tolist() == exp["max"].tolist()
    np.testing.assert_allclose(got["in_flight_mean"].astype(float), exp["mean"].astype(float))
    m = ld.metrics(by="hour")
    assert got["latency_p95_ms"].tolist() == m.loc[got.index, "latency_p95_ms"].tolist()
    assert got["calls"].tolist() == m.loc[got.index, "calls"].tolist()
    assert got["in_flight_max"].max() == 4  # the batch of four held together

    chart = charts.in_flight(bucket="minute")
    spec = chart.to_dict()
    assert spec["resolve"]["scale"]["y"] == "independent"
    inner, latency = spec["layer"]
    assert [la["mark"]["type"] for la in inner["layer"]] == ["bar", "line"]
    assert latency["encoding"]["y"]["axis"]["orient"] == "right"
    assert "<svg" in chart_html(spec) or "data:image/svg" in chart_html(spec)


def test_nothing_to_draw_says_so(day):
    for chart in (charts.headroom(model="no-such-model"), charts.in_flight(since=END + dt.timedelta(days=3650))):
        assert isinstance(chart, LLMDebugChart) and chart.to_dict()["mark"]["type"] == "text"
    with pytest.raises(ValueError):
        charts.in_flight(bucket="week")


def test_metrics_headroom_and_in_flight_columns(day):
    m = ld.metrics(by="model")
    c = day.copy()
    for kind in ("requests", "tokens"):
        c[f"h_{kind}"] = c[f"ratelimit_remaining_{kind}"].astype("float") / c[f"ratelimit_limit_{kind}"].astype("float")
    g = c.groupby("model")
    for model in m.index:
        row = m.loc[model]
        assert row["min_remaining_requests"] == g["ratelimit_remaining_requests"].min()[model]
        assert row["min_remaining_tokens"] == g["ratelimit_remaining_tokens"].min()[model]
        assert row["headroom_requests"] == pytest.approx(g["h_requests"].min()[model])
        assert row["headroom_tokens"] == pytest.approx(g["h_tokens"].min()[model])
        assert row["in_flight_max"] == g["in_flight"].max()[model]
        assert row["in_flight_mean"] == pytest.approx(g["in_flight"].mean()[model])
    assert m.loc["gpt-4o-mini", "in_flight_max"] == 4 and m["headroom_requests"].min() == 0
    total = ld.metrics(by=None).iloc[0]
    assert total["in_flight_max"] == 4 and total["min_remaining_requests"] == 0
    by_two = ld.metrics(by=("day", "provider"))
    assert by_two["in_flight_max"].max() == 4 and by_two["headroom_tokens"].isna().sum() == 1  # today: no headers
    # the rows' other columns are unchanged; charts skip these columns' pass over the spans
    plain = engine.metrics_table("model", {}, capacity=False)
    assert plain[engine.METRIC_COLUMNS[:19]].equals(m[engine.METRIC_COLUMNS[:19]])
    assert plain["in_flight_max"].isna().all()
    assert charts.metrics_frame("model")["headroom_requests"].isna().all()


def _pandas_capacity(calls: pd.DataFrame, dims: tuple) -> pd.DataFrame:
    """The headroom and in-flight columns computed by pandas, per group of ``dims``."""
    c = calls.copy()
    c["day"] = c["started_at"].dt.strftime("%Y-%m-%d")
    c["hour"] = c["started_at"].dt.strftime("%Y-%m-%dT%H:00")
    c["minute"] = c["started_at"].dt.strftime("%Y-%m-%dT%H:%M")
    for kind in ("requests", "tokens"):
        c[f"headroom_{kind}"] = c[f"ratelimit_remaining_{kind}"].astype("float") / \
            c[f"ratelimit_limit_{kind}"].astype("float")
    if "tag" in dims:
        c = c.explode("tags").rename(columns={"tags": "tag"})
    keys = list(dims) or (lambda _: "all")
    g = c.groupby(keys, dropna=False)
    out = pd.DataFrame({"min_remaining_requests": g["ratelimit_remaining_requests"].min(),
                        "min_remaining_tokens": g["ratelimit_remaining_tokens"].min(),
                        "headroom_requests": g["headroom_requests"].min(), "headroom_tokens": g["headroom_tokens"].min(),
                        "in_flight_max": g["in_flight"].max(), "in_flight_mean": g["in_flight"].mean()})
    return out.astype("float")


@pytest.mark.parametrize("by, filters", [
    ("model", {"since": "2026-03-03T10:30:00Z", "until": "2026-03-04T12:15:00Z"}),
    (("hour", "provider"), {"model": "gpt-4o-mini"}),
    ("tag", {"tag": ["prod", "eval"]}),
    ("minute", {"since": "2026-03-04T02:00:00Z", "until": "2026-03-04T03:00:00Z"}),
    ("status", {"since": "2026-03-04T14:20:00Z"}),
    (None, {"until": "2026-03-04T09:45:00Z", "provider": ["openai", "anthropic"]}),
    ("day", {"model": []}),
])
@pytest.mark.parametrize("read", ["spans", "hourly"])
def test_metrics_capacity_matches_pandas_for_groupings_and_filters(day, by, filters, read, monkeypatch):
    if read == "hourly":  # as for a store too big to read the matching spans each time
        monkeypatch.setattr(engine, "EXACT_PERCENTILES_UP_TO", 0)
    m = ld.metrics(by=by, **filters)
    calls = ld.calls(**filters, limit=None) if filters.get("model") != [] else day.iloc[:0]
    dims = () if by is None else (by,) if isinstance(by, str) else by
    exp = _pandas_capacity(calls, dims)
    got = m[list(exp.columns)].astype("float")
    if by is None:
        got.index = exp.index
    assert len(got) == len(exp)
    pd.testing.assert_frame_equal(got.sort_index(), exp.sort_index(), check_names=False, check_index_type=False)


def test_metrics_capacity_counts_calls_written_after_a_first_query(day, monkeypatch):
    monkeypatch.setattr(engine, "EXACT_PERCENTILES_UP_TO", 0)  # the hourly aggregates, kept between queries
    before = ld.metrics(by="model")
    assert "gpt-4.1-nano" not in before.index
    with FakeLLMServer(rate_limits={"requests": 3, "tokens": 10_000, "window_s": 3600}) as srv:
        client = openai.OpenAI(base_url=srv.openai_base_url, api_key="sk-fake")
        for _ in range(3):
            client.chat.completions.create(model="gpt-4.1-nano", messages=USER)
        client.close()
    after = ld.metrics(by="model")
    assert after.loc["gpt-4.1-nano", "min_remaining_requests"] == 0
    assert after.loc["gpt-4.1-nano", "headroom_requests"] == 0 and after.loc["gpt-4.1-nano", "in_flight_max"] == 1
    assert after.drop(index="gpt-4.1-nano").equals(before)
