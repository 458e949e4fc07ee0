"""Queries and metrics: every aggregate is checked against plain pandas on the same rows."""

import datetime as dt
import random

import numpy as np
import pandas as pd
import pytest

import llmdebug as ld
from llmdebug.session import get_store
from llmdebug.tracing import Span, new_id

T0 = dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc).timestamp()


@pytest.fixture
def traffic(stored):
    """400 synthetic LLM calls over 3 days, 3 models, errors, 429s, tags, unpriced calls (built
    once per session, a copy in each test's store), as ``ld.calls()``."""
    return stored("query-traffic", _build_traffic).copy()


def _build_traffic():
    rnd = random.Random(7)
    store = get_store()
    for i in range(400):
        model = rnd.choice(["gpt-4o-mini", "claude-3-5-haiku-latest", "local-llama"])
        status = "error" if rnd.random() < 0.1 else "ok"
        rl = rnd.choice([0, 0, 0, 1, 2])
        lat = rnd.lognormvariate(5, 0.6)
        s = Span(id=new_id(), trace_id=f"t{i // 4}", name="chat", kind="llm", model=model,
                 provider="openai" if model.startswith("gpt") else "anthropic", status=status,
                 http_status=429 if status == "error" and rl else (500 if status == "error" else 200),
                 input_tokens=rnd.randint(10, 500), output_tokens=rnd.randint(1, 300), latency_ms=lat,
                 ttft_ms=lat / 3 if i % 2 else None, started_at=T0 + i * 600, retries=rl, rate_limit_hits=rl,
                 tags=rnd.sample(["prod", "eval", "demo"], k=rnd.randint(0, 2)),
                 cost_usd=None if model == "local-llama" else rnd.random() / 1000,
                 priced=model != "local-llama")
        s.total_tokens = s.input_tokens + s.output_tokens
        s.parent_id = None if i % 4 == 0 else f"parent-{i // 4}"
        store.put(s)
    store.put(Span(id=new_id(), trace_id="t0", name="tool-span", kind="tool", started_at=T0))
    ld.flush()
    return ld.calls()


def _nearest_rank(values, p):
    return np.percentile(np.asarray(values, dtype=float), p * 100, method="inverted_cdf")


def _expected(df, key):
    g = df.groupby(key)
    out = pd.DataFrame({
        "calls": g.size(),
        "errors": g["status"].apply(lambda s: (s == "error").sum()),
        "rate_limit_hits": g["rate_limit_hits"].sum(),
        "retries": g["retries"].sum(),
        "latency_p50_ms": g["latency_ms"].apply(lambda v: _nearest_rank(v, 0.5)),
        "latency_p95_ms": g["latency_ms"].apply(lambda v: _nearest_rank(v, 0.95)),
        "latency_p99_ms": g["latency_ms"].apply(lambda v: _nearest_rank(v, 0.99)),
        "input_tokens": g["input_tokens"].sum(),
        "output_tokens": g["output_tokens"].sum(),
        "cost_usd": g["cost_usd"].sum(min_count=1),
    })
    out["error_rate"] = out["errors"] / out["calls"]
    return out


@pytest.mark.parametrize("by", ["model", "provider", "day"])
def test_metrics_match_pandas(traffic, by):
    df = traffic.copy()
    df["day"] = df["started_at"].dt.strftime("%Y-%m-%d")
    exp = _expected(df, by)
    got = ld.metrics(by=by)
    assert set(got.index) == set(exp.index)
    for col in exp.columns:
        np.testing.assert_allclose(got.loc[exp.index, col].astype(float), exp[col].astype(float), rtol=1e-9,
                                   err_msg=col)


def test_metrics_by_tag_and_unpriced(traffic):
    exploded = traffic.explode("tags").dropna(subset=["tags"])
    got = ld.metrics(by="tag")
    assert got["calls"].to_dict() == exploded.groupby("tags").size().to_dict()
    m = ld.metrics(by="model")
    assert m.loc["local-llama", "unpriced_calls"] == (traffic["model"] == "local-llama").sum()
    assert pd.isna(m.loc["local-llama", "cost_usd"])  # unknown price is NULL, never 0
    ok = traffic[traffic["model"] == "gpt-4o-mini"]
    assert m.loc["gpt-4o-mini", "cost_per_call"] == pytest.approx(ok["cost_usd"].mean())
    assert m.loc["gpt-4o-mini", "ttft_p50_ms"] == pytest.approx(_nearest_rank(ok["ttft_ms"].dropna(), 0.5))


def test_metrics_total_and_filters(traffic):
    total = ld.metrics(by=None)
    assert total["calls"].iloc[0] == 400
    since = dt.datetime(2026, 11, 21, tzinfo=dt.timezone.utc)
    f = ld.metrics(by=None, model="gpt-4o-mini", since=since, status="ok")
    exp = traffic[(traffic["model"] == "gpt-4o-mini") & (traffic["started_at"] >= since) & (traffic["status"] == "ok")]
    assert f["calls"].iloc[0] == len(exp)
    with pytest.raises(ValueError, match="by="):
        ld.metrics(by="colour")
    with pytest.raises(TypeError, match="unknown filter"):
        ld.metrics(colour="red")


def test_calls_filters_and_limit(traffic):
    assert len(ld.calls(limit=10)) == 10
    assert list(ld.calls(limit=3)["id"]) == list(traffic["id"].iloc[-3:])
    assert set(ld.calls(provider="anthropic")["model"]) == {"claude-3-5-haiku-latest", "local-llama"}
    assert (ld.calls(tag="prod")["tags"].apply(lambda t: "prod" in t)).all()
    until = dt.datetime(2026, 11, 20, 14, tzinfo=dt.timezone.utc)
    assert len(ld.calls(until=until)) == 12  # one call every 10 minutes from 12:00
    assert len(ld.calls(since="1h")) == 0  # synthetic traffic is in the past
    assert len(ld.calls(model=["gpt-4o-mini", "local-llama"])) == traffic["model"].isin(["gpt-4o-mini", "local-llama"]).sum()
    assert str(ld.calls()["input_tokens"].dtype) == "Int64"


def test_spans_traces_last_get_feedback(traffic):
    assert len(ld.spans()) == 401
    assert len(ld.spans(trace_id="t0")) == 5
    tr = ld.traces()
    assert len(tr) == 100
    t0 = tr.set_index("trace_id").loc["t0"]
    assert t0["calls"] == 4 and t0["spans"] == 5
    assert t0["cost_usd"] == pytest.approx(traffic[traffic["trace_id"] == "t0"]["cost_usd"].sum())
    assert set(tr["status"]) <= {"ok", "error"}
    last = ld.last()
    assert last.id == traffic["id"].iloc[-1]
    assert ld.get(last.id[:20]).id == last.id
    with pytest.raises(KeyError):
        ld.get("nope")
    ld.feedback(last, "thumbs", 1, comment="good")
    ld.feedback(last.id, "thumbs", False)
    ld.feedback(last, "tone", "curt")
    sc = ld.scores(span_id=last.id)
    assert list(sc["name"]) == ["thumbs", "thumbs", "tone"] and set(sc["source"]) == {"human"}
    assert list(sc["value"].fillna(-1)) == [1.0, 0.0, -1] and list(sc["label"].fillna("")) == ["", "down", "curt"]
    assert sc["comment"].iloc[0] == "good" and sc["model"].iloc[0] == last.model
    assert sc["trace_id"].iloc[0] == last.trace_id
    assert len(ld.scores(name="tone")) == 1 and len(ld.scores(source="llm")) == 0


def test_time_filters_accept_many_forms(traffic):
    a = len(ld.calls(since="2026-11-21T00:00:00Z"))
    assert a == len(ld.calls(since=dt.datetime(2026, 11, 21, tzinfo=dt.timezone.utc)))
    assert a == len(ld.calls(since=pd.Timestamp("2026-11-21", tz="UTC")))
    assert a == len(ld.calls(since=dt.datetime(2026, 11, 21, tzinfo=dt.timezone.utc).timestamp()))
    assert len(ld.calls(since=dt.timedelta(days=3650))) == 400
    with pytest.raises(TypeError, match="is not a time: give a datetime"):
        ld.calls(since=object())


def test_last_on_empty_store_is_clear(ld_on):
    with pytest.raises(LookupError, match="no LLM call"):
        ld.last()


@pytest.mark.parametrize("by", ["model", "day", "hour", "tag", None])
def test_rollup_histogram_percentiles_within_half_a_percent(traffic, monkeypatch, by):
    import llmdebug.query.engine as q

    monkeypatch.setattr(q, "EXACT_PERCENTILES_UP_TO", 0)  # force the large-store path
    df = traffic.copy()
    df["day"] = df["started_at"].dt.strftime("%Y-%m-%d")
    df["hour"] = df["started_at"].dt.strftime("%Y-%m-%dT%H:00")
    if by == "tag":
        df = df.explode("tags").dropna(subset=["tags"]).rename(columns={"tags": "tag"})
    if by is None:
        df["all"] = "all"
    exp = _expected(df, by or "all")
    got = ld.metrics(by=by)
    if by is None:
        got.index = ["all"]
    assert set(got.index) == set(exp.index)
    for col in ("calls", "errors", "rate_limit_hits", "retries", "input_tokens", "output_tokens", "cost_usd"):
        np.testing.assert_allclose(got.loc[exp.index, col].astype(float), exp[col].astype(float), rtol=1e-9)
    for col in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms"):
        np.testing.assert_allclose(got.loc[exp.index, col].astype(float), exp[col].astype(float), rtol=0.005)


@pytest.mark.parametrize("exact", [True, False])
def test_time_window_with_partial_hours_matches_pandas(traffic, monkeypatch, exact):
    import llmdebug.query.engine as q

    if not exact:
        monkeypatch.setattr(q, "EXACT_PERCENTILES_UP_TO", 0)
    since = dt.datetime(2026, 11, 20, 13, 25, tzinfo=dt.timezone.utc)  # mid-hour on both ends
    until = dt.datetime(2026, 11, 22, 9, 35, tzinfo=dt.timezone.utc)
    sel = traffic[(traffic["started_at"] >= since) & (traffic["started_at"] < until)]
    exp = _expected(sel, "model")
    got = ld.metrics(by="model", since=since, until=until)
    for col in ("calls", "errors", "input_tokens", "cost_usd"):
        np.testing.assert_allclose(got.loc[exp.index, col].astype(float), exp[col].astype(float), rtol=1e-9)
    np.testing.assert_allclose(got.loc[exp.index, "latency_p95_ms"].astype(float),
                               exp["latency_p95_ms"].astype(float), rtol=0 if exact else 0.005)
    inside = ld.metrics(by=None, since=since, until=since + dt.timedelta(minutes=20))  # inside one hour
    assert inside["calls"].iloc[0] == ((traffic["started_at"] >= since)
                                       & (traffic["started_at"] < since + dt.timedelta(minutes=20))).sum()


def test_metrics_by_trace_id(traffic):
    got = ld.metrics(by="trace_id", trace_id="t3")
    assert got.loc["t3", "calls"] == 4


def test_rows_written_outside_llmdebug_are_counted(tmp_path, monkeypatch):
    """An old file, or spans INSERTed by other tools: metrics count them at once (raw tail),
    and the writer folds them into the rollup."""
    import llmdebug.query.engine as q
    from sqlite_utils import Database

    from llmdebug import session
    from llmdebug.store.migrations import migrations

    path = tmp_path / "old.db"
    db = Database(path)
    migrations.apply(db, stop_before="m006_rollup")
    db["spans"].insert_all(
        {"id": f"s{i}", "trace_id": "t", "kind": "llm", "model": "m", "status": "ok", "latency_ms": 10.0 + i,
         "input_tokens": 5, "started_at": "2026-11-20T12:00:00.000000Z"} for i in range(10)
    )
    db.close()
    ld.init(path, instrument=False)
    m = ld.metrics(by="model")
    assert m.loc["m", "calls"] == 10 and m.loc["m", "input_tokens"] == 50
    assert m.loc["m", "latency_p50_ms"] == 14.0
    session.get_store().writer.index_now()
    assert session.get_store().read("SELECT calls, input_tokens FROM rollup") == [(10, 50)]
    monkeypatch.setattr(q, "EXACT_PERCENTILES_UP_TO", 0)
    again = ld.metrics(by="model")
    assert again.loc["m", "calls"] == 10
    assert again.loc["m", "latency_p50_ms"] == pytest.approx(14.0, rel=0.005)
    Database(path)["spans"].insert({"id": "late", "trace_id": "t", "kind": "llm", "model": "m", "status": "error",
                                    "started_at": "2026-11-20T12:30:00.000000Z"})
    late = ld.metrics(by="model")  # past the watermark: counted from the raw tail
    assert late.loc["m", "calls"] == 11 and late.loc["m", "errors"] == 1


@pytest.mark.parametrize("by", [("hour", "model"), ("day", "provider"), "minute", ("minute", "status")])
def test_metrics_by_several_dimensions_match_pandas(traffic, by):
    df = traffic.copy()
    df["day"] = df["started_at"].dt.strftime("%Y-%m-%d")
    df["hour"] = df["started_at"].dt.strftime("%Y-%m-%dT%H:00")
    df["minute"] = df["started_at"].dt.strftime("%Y-%m-%dT%H:%M")
    keys = list(by) if isinstance(by, tuple) else by
    exp = _expected(df, keys)
    got = ld.metrics(by=by)
    assert got.index.names == (keys if isinstance(keys, list) else [keys])
    assert set(got.index) == set(exp.index)
    assert list(got.index) == sorted(got.index)  # time series come in time order
    for col in exp.columns:
        np.testing.assert_allclose(got.loc[exp.index, col].astype(float), exp[col].astype(float), rtol=1e-9,
                                   err_msg=col)
    with pytest.raises(ValueError, match="by="):
        ld.metrics(by=("hour", "hour"))
