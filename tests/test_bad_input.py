"""Bad input gets a clear error (saying what is accepted), never a raw sqlite3 error
or a silently wrong answer: search text, every shared filter, durations, thresholds."""

import datetime as dt
import sqlite3

import pandas as pd
import pytest

import llmdebug as ld
from llmdebug import budgets
from llmdebug.session import get_store
from llmdebug.tracing import Span, new_id

T0 = dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc).timestamp()

PROMPTS = [
    "Should I use gpt-4o or a smaller model?",
    "Send an e-mail to user@example.com today",
    "Don't panic about C++ templates",
    "Sales are 50% off this week",
    "Grüße aus Köln und München",
    "東京 の 天気 は 晴れ",
]
ODD_TEXT = ["gpt-4o", "e-mail", "don't", "C++", "50%", "user@example.com", '"unbalanced', "*"]


@pytest.fixture
def prompts(stored, llm_server, llm_openai_client):
    """One captured chat call per prompt in PROMPTS (built once per session, copied per test)."""

    def build():
        for text in PROMPTS:
            llm_openai_client.chat.completions.create(model="gpt-4o-mini",
                                                      messages=[{"role": "user", "content": text}])

    stored("bad-input-prompts", build, server=llm_server)


def _prompt_of(row_id):
    return ld.get(row_id).messages[0]["content"]


# -- 1. search: plain words by default, FTS5 syntax on request ----------------------------
@pytest.mark.parametrize("text", ODD_TEXT)
def test_search_takes_any_text_as_plain_words(prompts, text):
    hits = ld.search(text)
    assert isinstance(hits, pd.DataFrame) and "snippet" in hits.columns


@pytest.mark.parametrize("text, prompt", [
    ("gpt-4o", PROMPTS[0]), ("e-mail", PROMPTS[1]), ("user@example.com", PROMPTS[1]), ("don't", PROMPTS[2]),
    ("C++ panic", PROMPTS[2]), ("50%", PROMPTS[3]), ("köln", PROMPTS[4]), ("MÜNCHEN", PROMPTS[4]), ("Grüße", PROMPTS[4]),
    ("東京", PROMPTS[5]),
])
def test_plain_search_finds_the_literal_words(prompts, text, prompt):
    assert [_prompt_of(i) for i in ld.search(text)["id"]] == [prompt]


def test_plain_search_requires_every_word_and_takes_operators_literally(prompts):
    assert ld.search("gpt-4o panic").empty  # the words are in two different prompts
    assert ld.search("panic OR templates").empty  # OR is a word here, and no prompt holds it
    assert len(ld.search("don't panic")) == 1
    assert ld.search("4o-gpt").empty and len(ld.search("4o gpt")) == 1  # a word is a phrase: tokens in order
    assert len(ld.search("  gpt-4o\t\n")) == 1


@pytest.mark.parametrize("text", ["", "   ", "*", '"', "%", "-- ++ ** ::"])
def test_text_with_no_searchable_word_is_an_empty_frame(prompts, text):
    hits = ld.search(text)
    assert hits.empty and list(hits.columns) == list(ld.search("panic").columns)


def test_fts_syntax_on_request(prompts):
    assert len(ld.search("panic OR sales", syntax="fts")) == 2
    assert len(ld.search("gpt*", syntax="fts")) == 1
    assert len(ld.search('"gpt 4o"', syntax="fts")) == 1
    assert len(ld.search("e NOT mail", syntax="fts")) == 0


@pytest.mark.parametrize("text", ['"unbalanced', "gpt-4o", "*", "C++", "AND"])
def test_invalid_fts_query_is_a_value_error_with_the_reason_and_a_hint(prompts, text):
    with pytest.raises(ValueError, match=r"full-text query.*drop syntax='fts'") as e:
        ld.search(text, syntax="fts")
    assert not isinstance(e.value, sqlite3.Error)


def test_search_argument_errors(prompts):
    with pytest.raises(ValueError, match="syntax=.*'plain'.*'fts'"):
        ld.search("panic", syntax="regex")
    with pytest.raises(TypeError, match="text"):
        ld.search(123)
    assert len(ld.search("panic", limit=0)) == 0
    assert len(ld.search("panic", limit=None)) == 1


# -- 2. every filter value validated --------------------------------------------------
@pytest.fixture
def traffic(stored):
    """12 calls in 4 traces over 12 hours: 2 models, 2 providers, errors, tags (built once per
    session, a copy in each test's store), as ``ld.calls()``."""
    return stored("bad-input-traffic", _build_traffic).copy()


def _build_traffic():
    store = get_store()
    for i in range(12):
        model = "gpt-4o-mini" if i % 2 else "claude-3-5-haiku-latest"
        store.put(Span(id=new_id(), trace_id=f"t{i // 3}", name="chat" if i % 3 else "plan", kind="llm",
                       model=model, provider="openai" if i % 2 else "anthropic",
                       status="error" if i % 4 == 0 else "ok", latency_ms=100.0 + i, input_tokens=10,
                       output_tokens=5, started_at=T0 + i * 3600, tags=[["a"], ["b"], ["c"], []][i % 4],
                       cost_usd=0.001))
    ld.flush()
    return ld.calls()


QUERIES = {
    "calls": lambda **f: ld.calls(**f),
    "spans": lambda **f: ld.spans(**f),
    "traces": lambda **f: ld.traces(**f),
    "metrics": lambda **f: ld.metrics(**f),
    "search": lambda **f: ld.search("chat", **f),
    "last": lambda **f: ld.last(**f),
    "chart": lambda **f: ld.charts.cost(**f),
    "top_traces": lambda **f: ld.charts.top_traces("cost", **f),
}


@pytest.mark.parametrize("query", list(QUERIES))
@pytest.mark.parametrize("filters, error, message", [
    ({"since": "garbage"}, ValueError, r"since='garbage' is not a time.*ISO.*'15m'"),
    ({"since": float("nan")}, ValueError, r"since=nan.*epoch seconds"),
    ({"since": 1e300}, ValueError, r"since=1e\+300.*epoch seconds"),
    ({"until": float("inf")}, ValueError, r"until=inf.*epoch seconds"),
    ({"since": "-5m"}, ValueError, r"since='-5m'.*'15m'"),
    ({"since": True}, TypeError, r"since=True"),
    ({"since": dt.timedelta(days=-1)}, ValueError, r"since=.*timedelta"),
    ({"limit": "abc"}, ValueError, r"limit='abc'.*whole number"),
    ({"limit": -1}, ValueError, r"limit=-1.*whole number"),
    ({"limit": 1.5}, ValueError, r"limit=1.5.*whole number"),
    ({"limit": True}, ValueError, r"limit=True.*whole number"),
    ({"model": 123}, TypeError, r"model=123.*a string or a list of strings"),
    ({"model": object()}, TypeError, r"model=.*a string or a list of strings"),
    ({"provider": [1, 2]}, TypeError, r"provider=\[1, 2\].*a string or a list of strings"),
    ({"tag": b"a"}, TypeError, r"tag=b'a'.*a string or a list of strings"),
    ({"name": {"x": 1}}, TypeError, r"name=.*a string or a list of strings"),
    ({"trace_id": 7}, TypeError, r"trace_id=7.*a string or a list of strings"),
    ({"status": "failed"}, ValueError, r"status='failed'.*'ok'.*'error'"),
    ({"status": ["ok", "nope"]}, ValueError, r"status=\['ok', 'nope'\].*'ok'.*'error'"),
])
def test_bad_filter_values_are_clear_errors(traffic, query, filters, error, message):
    with pytest.raises(error, match=message) as e:
        QUERIES[query](**filters)
    assert not isinstance(e.value, sqlite3.Error)


def test_limit_zero_is_zero_rows(traffic):
    assert len(ld.calls(limit=0)) == 0
    assert len(ld.spans(limit=0)) == 0
    assert len(ld.traces(limit=0)) == 0
    assert len(ld.traces(limit=1)) == 1 and len(ld.traces(limit=2)) == 2
    import numpy as np

    assert len(ld.calls(limit=np.int64(3))) == 3


def _ids(df):
    return set(df["id"])


def test_lists_mean_any_of_for_every_value_filter(traffic):
    df = traffic
    with_tag = lambda *tags: {r.id for r in df.itertuples() if set(r.tags) & set(tags)}  # noqa: E731
    assert _ids(ld.calls(tag=["a", "b"])) == with_tag("a", "b") and len(with_tag("a", "b")) == 6
    assert _ids(ld.calls(tag=("c",))) == with_tag("c")
    assert _ids(ld.calls(status=["ok", "error"])) == set(df["id"])
    assert _ids(ld.calls(status={"error"})) == set(df[df["status"] == "error"]["id"])
    assert _ids(ld.calls(model=("gpt-4o-mini",))) == set(df[df["model"] == "gpt-4o-mini"]["id"])
    assert _ids(ld.calls(provider=["anthropic"])) == set(df[df["provider"] == "anthropic"]["id"])
    assert _ids(ld.calls(name=["plan"])) == set(df[df["name"] == "plan"]["id"])
    assert _ids(ld.calls(trace_id=["t0", "t3"])) == set(df[df["trace_id"].isin(["t0", "t3"])]["id"])
    assert _ids(ld.calls(trace_id=pd.Series(["t1"]))) == set(df[df["trace_id"] == "t1"]["id"])
    assert len(ld.search("chat", tag=["a", "b"])) == 0  # synthetic spans have no prompt text
    # aggregates: from the hourly rollup and from raw spans
    assert ld.metrics(by=None, tag=["a", "b"])["calls"].iloc[0] == 6
    assert ld.metrics(by="trace_id", trace_id=["t0", "t1"])["calls"].sum() == 6
    assert set(ld.metrics(by="model", model=["gpt-4o-mini"]).index) == {"gpt-4o-mini"}
    assert set(ld.traces(name=["plan"])["trace_id"]) == {"t0", "t1", "t2", "t3"}
    assert set(ld.traces(tag=["a", "c"])["trace_id"]) == {t for t, tags in zip(df["trace_id"], df["tags"])
                                                          if set(tags) & {"a", "c"}}
    assert ld.last(model=["gpt-4o-mini", "nope"]).model == "gpt-4o-mini"


@pytest.mark.parametrize("key", ["model", "provider", "status", "name", "tag", "trace_id"])
def test_an_empty_list_matches_nothing(traffic, key):
    assert ld.calls(**{key: []}).empty
    assert ld.traces(**{key: []}).empty
    assert ld.metrics(by="model", **{key: []}).empty
    with pytest.raises(LookupError):
        ld.last(**{key: set()})


def test_a_span_as_trace_id_means_its_trace(traffic):
    child = ld.get(traffic["id"].iloc[1])
    assert child.trace_id == "t0"
    assert len(ld.calls(trace_id=child)) == 3


@pytest.mark.parametrize("by", [123, ["model", 5], "colour", ("hour", "hour")])
def test_metrics_by_lists_the_accepted_groupings(traffic, by):
    with pytest.raises(ValueError, match=r"by=.*'model'.*'provider'.*None"):
        ld.metrics(by=by)


def test_feedback_on_an_unknown_span_is_a_key_error(traffic):
    with pytest.raises(KeyError, match="no span with id 'nope'"):
        ld.feedback("nope", "thumbs", 1)
    assert get_store().read("SELECT count(*) FROM scores") == [(0,)]
    sid = traffic["id"].iloc[0]
    ld.feedback(sid[:20], "thumbs", 1)  # an id prefix names the span, as in ld.get
    ld.feedback(traffic.iloc[1], "thumbs", 0)  # so does a calls() row
    assert get_store().read("SELECT span_id FROM scores ORDER BY rowid") == [(sid,), (traffic["id"].iloc[1],)]


def test_magic_calls_prints_the_clear_message(ld_on, capsys):
    pytest.importorskip("IPython")
    from llmdebug.magics import _Magics

    class Shell:
        execution_count = 1

    magics = _Magics(Shell())
    assert magics.line("calls limit=abc") is None
    out = capsys.readouterr().out
    assert "limit='abc'" in out and "whole number" in out and "invalid literal" not in out
    assert magics.line("calls limit=-1") is None and "limit=-1" in capsys.readouterr().out
    assert magics.line("calls status=failed") is None and "'ok'" in capsys.readouterr().out
    assert magics.line("calls since=garbage") is None and "not a time" in capsys.readouterr().out
    assert len(magics.line("calls limit=0")) == 0


# -- 3. one duration parser ---------------------------------------------------------------
def test_one_duration_parser_for_filters_and_alert_windows(traffic):
    from llmdebug import durations

    assert durations.seconds("1w") == 604800 and durations.seconds(" 15 m ") == 900
    assert durations.seconds("500ms") == 0.5 and durations.seconds("1.5h") == 5400
    assert durations.seconds(90) == 90 and durations.seconds(dt.timedelta(minutes=2)) == 120
    for bad in ("-5m", "0s", 0, -1, float("nan"), float("inf"), "15", "15x", "", "1M", "m"):
        with pytest.raises(ValueError, match="'15m'"):
            durations.seconds(bad, name="window")
    for bad in (True, None, [1]):
        with pytest.raises(TypeError, match="'15m'"):
            durations.seconds(bad, name="window")
    assert durations.seconds("0s", allow_zero=True) == 0
    budgets.reset()
    try:
        rule = ld.alert(error_rate=0.5, window="1w")  # refused before: filters took "1w", alerts did not
        assert rule.window_s == 604800
        assert ld.alert(error_rate=0.5, window="500ms").window_s == 0.5
        assert ld.alert(error_rate=0.5, window=dt.timedelta(hours=1)).window_s == 3600
    finally:
        budgets.reset()
    assert len(ld.calls(since="1w")) == 0 and len(ld.calls(since=" 5000 w ")) == 12


# -- 4. thresholds range-checked -----------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    ({"error_rate": 2}, r"error_rate=2.*0 ≤ error_rate < 1"),
    ({"error_rate": 1}, r"error_rate=1.*0 ≤ error_rate < 1"),
    ({"error_rate": -0.5}, r"error_rate=-0.5.*0 ≤ error_rate < 1"),
    ({"error_rate": float("nan")}, r"error_rate=nan.*0 ≤ error_rate < 1"),
    ({"error_rate": "0.2"}, r"error_rate='0.2'.*0 ≤ error_rate < 1"),
    ({"p95_latency_ms": -5}, r"p95_latency_ms=-5.*> 0"),
    ({"p95_latency_ms": float("inf")}, r"p95_latency_ms=inf.*> 0"),
    ({"rate_limit_events": -1}, r"rate_limit_events=-1.*whole number ≥ 0"),
    ({"rate_limit_events": 1.5}, r"rate_limit_events=1.5.*whole number ≥ 0"),
    ({"error_rate": 0.2, "window": "-5m"}, r"window='-5m'.*'15m'"),
    ({"error_rate": 0.2, "window": 0}, r"window=0.*'15m'"),
    ({"error_rate": 0.2, "window": "garbage"}, r"window='garbage'.*'15m'"),
    ({"error_rate": 0.2, "min_calls": 0}, r"min_calls=0.*whole number ≥ 1"),
    ({"error_rate": 0.2, "min_calls": 2.5}, r"min_calls=2.5.*whole number ≥ 1"),
    ({"error_rate": 0.2, "min_calls": "10"}, r"min_calls='10'.*whole number ≥ 1"),
    ({"error_rate": 0.2, "min_calls": True}, r"min_calls=True.*whole number ≥ 1"),
])
def test_alert_thresholds_are_range_checked(ld_on, kwargs, message):
    budgets.reset()
    with pytest.raises(ValueError, match=message):
        ld.alert(**kwargs)
    assert budgets.RULES == []


@pytest.mark.parametrize("usd", [float("nan"), -1, 0, float("inf"), "2", True])
def test_budget_amount_is_range_checked(ld_on, usd):
    budgets.reset()
    with pytest.raises(ValueError, match=r"usd=.*a finite amount > 0"):
        ld.budget(usd=usd)
    assert budgets.RULES == []


def test_thresholds_at_the_edges_are_accepted(ld_on):
    budgets.reset()
    try:
        ld.alert(error_rate=0)
        ld.alert(rate_limit_events=0)
        ld.alert(p95_latency_ms=0.5, min_calls=1)
        with pytest.raises(TypeError, match="callback"):
            ld.alert(error_rate=0.1, callback="post_to_slack")
    finally:
        budgets.reset()
