"""llmdebug.testing.simulate_traffic: real SDK calls to the fake server, laid out over days
with a daily cycle, bursts, several models, 429s, streams and traces; and the queries,
charts and dashboard over what it made."""

import importlib
import time

import pandas as pd
import pytest

import llmdebug as ld
from llmdebug.testing import simulate_traffic
from llmdebug.testing.traffic import plan

spans_mod = importlib.import_module("llmdebug.tracing")  # ld.spans is the query function

END = pd.Timestamp("2026-03-04T18:00:00Z")  # a Wednesday evening: a weekend-free window


@pytest.fixture
def week(stored, llm_server, llm_openai_client, llm_anthropic_client):
    """120 calls over two days (simulated once per session, a copy in each test's store):
    simulate_traffic's summary and ``ld.calls()``."""

    def build():
        summary = simulate_traffic(llm_openai_client, anthropic_client=llm_anthropic_client, server=llm_server,
                                   days=2, calls=120, seed=3, end=END.to_pydatetime())
        return summary, ld.calls()

    summary, calls = stored("two-days-of-traffic", build, server=llm_server)
    return dict(summary), calls.copy()


def test_the_calls_spread_over_the_days_like_real_traffic(week):
    summary, calls = week
    assert summary["calls"] == len(calls) == 120
    assert spans_mod._clock is time.time  # the real clock is back
    start, end = calls["started_at"].min(), calls["started_at"].max()
    assert END - pd.Timedelta(days=2) <= start and end < END
    assert end - start > pd.Timedelta(hours=30)
    # busier in working hours than at night, and at least one burst hour
    hours = calls["started_at"].dt.hour
    assert ((hours >= 8) & (hours < 18)).sum() > 2 * ((hours < 6) | (hours >= 22)).sum()
    per_hour = calls.groupby(calls["started_at"].dt.floor("h")).size()
    assert per_hour.max() >= 4 * per_hour.median()
    # the durations are the real ones, not stretched by the simulated clock
    assert (calls["latency_ms"] < 5_000).all()
    took = (calls["ended_at"] - calls["started_at"]).dt.total_seconds() * 1000
    assert ((took - calls["latency_ms"]).abs() < 1).all()


def test_models_faults_streams_and_traces(week):
    summary, calls = week
    assert set(calls["model"]) == {"gpt-4o-mini", "gpt-4o", "claude-3-5-haiku-latest"}
    assert calls["model"].value_counts().index[0] == "gpt-4o-mini"
    ok = calls[calls["status"] == "ok"]
    assert ok["cost_usd"].notna().all() and ok["priced"].all()  # real model names: every call priced
    # 429s: absorbed by retries, and failing outright
    assert calls["rate_limit_hits"].sum() == summary["rate_limit_hits"] > 0
    assert (calls[calls["status"] == "ok"]["retries"] > 0).any()
    failed = calls[calls["status"] == "error"]
    assert len(failed) == summary["errors"] >= 1
    assert set(failed["http_status"]) == {429} and set(failed["error_type"]) == {"RateLimitError"}
    # a slow call, streams with time to first token
    assert calls["latency_ms"].max() >= 300
    streams = calls[calls["stream"].astype(bool)]
    assert len(streams) == summary["streams"] > 0 and streams["ttft_ms"].notna().all()
    # traces with nested spans: agent (retrieval, agent loop > llm, tool, llm) and eval runs
    traces = ld.traces()
    assert {"support agent", "nightly eval"} <= set(traces["name"])
    agent = traces[traces["name"] == "support agent"].iloc[0]
    tree = ld.spans(trace_id=agent["trace_id"])
    assert {"trace", "retrieval", "agent", "tool", "llm"} <= set(tree["kind"])
    by_id = tree.set_index("id")
    tool_call = tree[tree["kind"] == "llm"].iloc[-1]
    assert by_id.loc[tool_call["parent_id"], "kind"] == "agent"  # llm -> agent loop -> trace
    evals = traces[traces["name"] == "nightly eval"].iloc[0]
    assert evals["calls"] >= 10
    assert ld.spans(trace_id=evals["trace_id"])["tags"].iloc[0] == ["eval", "nightly"]


def test_metrics_by_day_and_model_and_the_dashboard(week):
    summary, calls = week
    m = ld.metrics(by=("day", "model"))
    assert m.index.names == ["day", "model"]
    assert m["calls"].sum() == len(calls)
    assert set(m.index.get_level_values("day")) == {"2026-03-02", "2026-03-03", "2026-03-04"}
    by_model = ld.metrics(by="model")
    assert by_model.loc["gpt-4o", "latency_p99_ms"] > by_model.loc["gpt-4o", "latency_p50_ms"]
    assert by_model["unpriced_calls"].sum() == 0

    d = ld.dashboard()
    s = d.controls.summary
    assert s["calls"] == len(calls) and s["rate_limit_hits"] == summary["rate_limit_hits"]
    assert s["cost_usd"] == pytest.approx(calls["cost_usd"].sum())
    assert set(d.controls.options["models"]) == set(calls["model"])
    for name in ("cost", "tokens", "latency", "errors", "ttft", "costliest", "slowest"):
        spec = d.charts[name].spec
        assert spec["usermeta"]["llmdebug"]["bucket"] == "hour"
        assert spec.get("mark") != {"type": "text", "size": 14}, f"{name} is empty"
    d.filters = {"model": "claude-3-5-haiku-latest"}
    assert d.controls.summary["calls"] == (calls["model"] == "claude-3-5-haiku-latest").sum()


def test_plan_is_deterministic_and_shaped():
    end = END.to_pydatetime()
    a = plan(days=7, calls=1500, seed=1, end=end, anthropic=True)
    assert a == plan(days=7, calls=1500, seed=1, end=end, anthropic=True)
    assert a != plan(days=7, calls=1500, seed=2, end=end, anthropic=True)
    kinds = pd.Series([j.kind for j in a]).value_counts()
    assert set(kinds.index) == {"chat", "stream", "claude", "agent", "eval", "incident"}
    assert kinds["eval"] == 3  # one nightly run every ~2.5 days
    n_calls = sum(2 * j.n if j.kind == "eval" else 2 if j.kind == "agent" else 1 for j in a)
    assert abs(n_calls - 1500) <= 2 * max(j.n for j in a)
    t = pd.to_datetime([j.t for j in a], unit="s", utc=True)
    assert t.is_monotonic_increasing and t.min() >= END - pd.Timedelta(days=7) and t.max() < END
    weekend = t.day_of_week >= 5
    assert weekend.sum() < 0.2 * len(t)  # 2 of 7 days, but quieter
    assert "claude" not in {j.kind for j in plan(days=1, calls=100, end=end, anthropic=False)}


def test_the_clock_and_server_are_restored_when_a_call_raises(ld_on, llm_server):
    class Broken:
        max_retries = 2

        class chat:
            class completions:
                @staticmethod
                def create(**kwargs):
                    raise RuntimeError("network down")

    llm_server.latency = 0.0
    with pytest.raises(RuntimeError, match="network down"):
        simulate_traffic(Broken(), server=llm_server, calls=50, days=1)
    assert spans_mod._clock is time.time
    assert llm_server.latency == 0.0


def test_without_the_server_faults_use_model_name_triggers(ld_on, llm_openai_client):
    summary = simulate_traffic(llm_openai_client, days=1, calls=60, seed=0)
    calls = ld.calls()
    assert len(calls) == summary["calls"] == 60
    assert calls["model"].str.contains("-fail-429").any() and calls["model"].str.contains("-flaky-").any()
    # genai-prices does not know those names: unpriced, never a silent 0
    assert calls[calls["model"].str.contains("-flaky-")]["cost_usd"].isna().all()
