"""ld.breaker_view against a hand-computed case and real SDK failure streaks; ld.health()
from the writer's own samples (a burst, shedding past the byte cap); the %llmdebug line."""

from __future__ import annotations

import threading

import anthropic
import openai
import pandas as pd
import pytest

import llmdebug as ld
from llmdebug.operations import ERROR_CLASSES
from llmdebug.session import get_store
from llmdebug.tracing import Span, new_id

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z
MSG = [{"role": "user", "content": "hello"}]
ERRORS = {"500": (500, "InternalServerError"), "429": (429, "RateLimitError"), "400": (400, "BadRequestError"),
          "timeout": (None, "APITimeoutError"), "conn": (None, "APIConnectionError"), "529": (529, "OverloadedError")}

# (seconds after T0, failure or None). With failures=3, window=10 s, cooldown=20 s:
#  1 500 | 5 429 | 12 timeout (1 s is 11 s back: out of the window) | 13 conn: 5, 12, 13 -> OPEN at 13
#  14 ok, 20 500: refused (open until 33) | 33 500: the probe fails, open until 53 | 40 ok: refused
#  60 ok: the probe succeeds -> closed at 60 (47 s) | 61 400, 62 400, 63 ok, 64 500: 61, 62, 64 -> OPEN at 64
#  70 500: refused; the data ends open.
OPENAI_SEQ = [(0, None), (1, "500"), (2, None), (5, "429"), (12, "timeout"), (13, "conn"), (14, None), (20, "500"),
              (33, "500"), (40, None), (60, None), (61, "400"), (62, "400"), (63, None), (64, "500"), (70, "500")]
# never three failures within 10 s: no period; a streak of 2 at the end
ANTHROPIC_SEQ = [(3, "529"), (4, "529"), (14, None), (15, "529"), (30, "529")]


def _put(provider: str, model: str, seq: list) -> None:
    store = get_store()
    for t, fault in seq:
        s = Span(id=new_id(), trace_id=new_id(), name="chat", kind="llm", provider=provider, model=model,
                 started_at=T0 + t, ended_at=T0 + t + 0.5, latency_ms=500.0, status="ok")
        if fault:
            s.status = "error"
            s.http_status, s.error_type = ERRORS[fault]
        store.put(s)


@pytest.fixture
def hand_made(ld_on):
    _put("openai", "gpt-4o-mini", OPENAI_SEQ)
    _put("anthropic", "claude-3-5-haiku-latest", ANTHROPIC_SEQ)
    # a user span and another model's clean calls: not in any period
    get_store().put(Span(id=new_id(), trace_id="t", name="tool", kind="tool", started_at=T0 + 13, status="error"))
    _put("openai", "gpt-4o", [(t, None) for t in range(0, 80, 5)])
    assert ld.flush()


def _at(s: float) -> pd.Timestamp:
    return pd.Timestamp(T0 + s, unit="s", tz="UTC")


def test_breaker_periods_match_the_hand_computed_case(hand_made):
    got = ld.breaker_view(failures=3, window="10s", cooldown="20s")
    assert list(got.columns[:2]) == ["provider", "model"] and len(got) == 2
    first, second = got.iloc[0].to_dict(), got.iloc[1].to_dict()
    assert first == {
        "provider": "openai", "model": "gpt-4o-mini", "opened_at": _at(13), "closed_at": _at(60), "duration_s": 47.0,
        "first_failure_at": _at(5), "failures_in_window": 3, "calls_during_open": 3, "failed_during_open": 1,
        "probes_failed": 1, "errors_429": 1, "errors_5xx": 2, "errors_timeout": 1, "errors_connection": 1,
        "errors_other": 0}
    assert second["opened_at"] == _at(64) and pd.isna(second["closed_at"]) and pd.isna(second["duration_s"])
    assert (second["first_failure_at"], second["calls_during_open"], second["failed_during_open"]) == (_at(61), 1, 1)
    assert (second["errors_other"], second["errors_5xx"], second["probes_failed"]) == (2, 2, 0)
    # a window of 12 s keeps the failure at 1 s: 1, 5, 12 open the breaker at 12
    assert ld.breaker_view(failures=3, window=12, cooldown="20s")["opened_at"].iloc[0] == _at(12)
    # filters select the calls; by= groups them
    assert len(ld.breaker_view(failures=3, window="10s", cooldown="20s", provider="anthropic")) == 0
    assert len(ld.breaker_view(failures=2, window="10s", cooldown="20s", model="claude-3-5-haiku-latest")) == 1
    one = ld.breaker_view(failures=3, window="10s", cooldown="20s", by=None)
    assert list(one.columns) == list(got.columns[2:])
    # failures=1, a cooldown shorter than any gap: a failure opens it, the next call is the probe
    # (failures right after it fail their probes: 12, 13 | 33 | 62 | 70); a success closes it
    each = ld.breaker_view(failures=1, window="1s", cooldown="0.5s", model="gpt-4o-mini")
    assert list(each["opened_at"]) == [_at(t) for t in (1, 5, 20, 61, 64)]
    assert list(each["probes_failed"]) == [0, 2, 1, 1, 1] and each["calls_during_open"].sum() == 0


def test_breaker_summary_streaks_and_error_mix(hand_made):
    s = ld.breaker_view(failures=3, window="10s", cooldown="20s", summary=True).set_index("model")
    mini = s.loc["gpt-4o-mini"]
    assert (mini["calls"], mini["failures"], mini["error_rate"]) == (16, 10, 10 / 16)
    assert [mini[f"errors_{c}"] for c in ERROR_CLASSES] == [1, 5, 1, 1, 2]
    assert (mini["longest_streak"], mini["longest_streak_at"], mini["current_streak"]) == (3, _at(5), 2)
    assert (mini["periods"], mini["open_s"], bool(mini["open_now"])) == (2, 47.0, True)
    assert mini["last_failure_at"] == _at(70)
    claude = s.loc["claude-3-5-haiku-latest"]
    assert (claude["failures"], claude["errors_5xx"], claude["longest_streak"], claude["current_streak"]) == (4, 4, 2, 2)
    assert (claude["periods"], bool(claude["open_now"])) == (0, False)
    assert s.loc["gpt-4o", "failures"] == 0 and s.index[0] == "gpt-4o-mini"  # most failures first


def test_breaker_view_refuses_bad_settings(ld_on):
    with pytest.raises(ValueError, match="whole number"):
        ld.breaker_view(failures=0)
    with pytest.raises(ValueError, match="duration"):
        ld.breaker_view(window="soon")
    with pytest.raises(ValueError, match="by="):
        ld.breaker_view(by="colour")
    with pytest.raises(TypeError, match="unknown filter"):
        ld.breaker_view(colour="red")
    assert ld.breaker_view().empty and ld.breaker_view(summary=True).empty


def test_breaker_finds_a_real_failure_streak(ld_on, llm_server):
    """Real SDK calls: the fake server fails a run of them (500, 429, a cut connection, a
    timeout; Anthropic 529s), and the breaker opens on the fifth failure of each model."""
    oai = openai.OpenAI(base_url=llm_server.openai_base_url, api_key="sk-fake", max_retries=0)
    ant = anthropic.Anthropic(base_url=llm_server.anthropic_base_url, api_key="sk-ant-fake", max_retries=0)

    def chat(**kw):
        try:
            oai.with_options(**kw).chat.completions.create(model="gpt-4o-mini", messages=MSG)
        except openai.OpenAIError:
            pass

    def message():
        try:
            ant.messages.create(model="claude-3-5-haiku-latest", max_tokens=20, messages=MSG)
        except anthropic.AnthropicError:
            pass

    try:
        chat(), message()
        for fault in ("500", "429", "500", "cut", "timeout", "500"):
            llm_server.inject(fault, retry_after=1.0 if fault == "timeout" else 0.0, model="gpt-4o-mini")
            chat(timeout=0.3)
        llm_server.inject("529", times=5, model="claude-3-5-haiku-latest")
        for _ in range(5):
            message()
        chat(), message(), chat()
    finally:
        oai.close()
        ant.close()
    ld.flush()
    calls = ld.calls()
    assert (calls["status"] == "error").sum() == 11
    got = ld.breaker_view(failures=5, window="30s", cooldown="60s").set_index("model")
    assert set(got.index) == {"gpt-4o-mini", "claude-3-5-haiku-latest"}
    mini = got.loc["gpt-4o-mini"]
    fifth = calls[(calls["model"] == "gpt-4o-mini") & (calls["status"] == "error")].iloc[4]
    assert mini["opened_at"] == fifth["started_at"] and pd.isna(mini["closed_at"])
    # tripped by 500, 429, 500, the cut connection and the timeout; then the sixth failure
    # (a 500) and the two successes come within the cooldown: refused
    assert (mini["errors_429"], mini["errors_5xx"], mini["errors_connection"], mini["errors_timeout"]) == (1, 3, 1, 1)
    assert (mini["calls_during_open"], mini["failed_during_open"]) == (3, 1)
    claude = got.loc["claude-3-5-haiku-latest"]
    assert (claude["errors_5xx"], claude["calls_during_open"], claude["provider"]) == (5, 1, "anthropic")
    # a cooldown shorter than the gap between calls: the first success after the trip closes it
    short = ld.breaker_view(failures=5, window="30s", cooldown=1e-6).set_index("model")
    ok_after = calls[(calls["model"] == "gpt-4o-mini") & (calls["started_at"] > fifth["started_at"])
                     & (calls["status"] == "ok")].iloc[0]
    assert short.loc["gpt-4o-mini", "closed_at"] == ok_after["started_at"]
    assert short.loc["gpt-4o-mini", "probes_failed"] == 1  # the sixth failure was the first probe
    summary = ld.breaker_view(summary=True).set_index("model")
    assert summary.loc["gpt-4o-mini", "longest_streak"] == 6 and summary.loc["gpt-4o-mini", "current_streak"] == 0


# -- llmdebug's own health ------------------------------------------------------------------


def _stuck_writer(monkeypatch) -> threading.Event:
    """Hold the writer inside its next batch until the returned event is set."""
    import llmdebug.store.writer as writer_mod

    stuck, entered = threading.Event(), threading.Event()
    real = writer_mod.span_row

    def slow_disk(s):
        entered.set()
        stuck.wait(60)
        return real(s)

    monkeypatch.setattr(writer_mod, "span_row", slow_disk)
    get_store().put(Span(id=new_id(), trace_id="t", name="first", kind="span", started_at=T0))
    assert entered.wait(10)
    monkeypatch.setattr(writer_mod, "span_row", real)  # the stuck batch goes on with the real one
    return stuck


def test_a_burst_gives_health_samples_that_add_up(ld_on, monkeypatch):
    store = get_store()
    stuck = _stuck_writer(monkeypatch)
    n = 20_000
    for i in range(n):  # a burst while the writer is busy: the queue grows
        store.put(Span(id=new_id(), trace_id="burst", name=f"s{i}", kind="span", started_at=T0 + i,
                       input={"i": i, "text": "x" * 200}))
    stuck.set()
    assert ld.flush(60)
    n += 1  # the first span
    h = ld.health()
    assert list(h.columns) == ["at", "queue_depth", "queued_bytes", "batch_ms", "batch_spans", "written",
                               "shed_spans", "shed_payloads"]
    assert h["written"].sum() == n == store.writer.written
    assert h["queue_depth"].max() > 0 and h["queued_bytes"].max() > 0
    assert h["batch_ms"].max() > 0 and h["batch_spans"].max() > 0
    assert h["shed_spans"].sum() == 0 and h["shed_payloads"].sum() == 0
    assert h["at"].is_monotonic_increasing and str(h["at"].dt.tz) == "UTC"
    # samples at most once a second while busy (one more idle; ld.health() asked for one)
    span_s = (h["at"].iloc[-1] - h["at"].iloc[0]).total_seconds()
    assert len(h) <= span_s + 3
    assert ld.health().equals(h)  # nothing new since: no new sample
    assert len(ld.health(limit=1)) == 1 and ld.health(since="1h")["written"].sum() == n
    assert ld.health(until=h["at"].iloc[0]).empty
    with pytest.raises(TypeError, match="since, until, limit"):
        ld.health(model="x")


def test_shed_spans_show_in_health(trace_db, monkeypatch):
    """A stuck writer and a 1 MB cap: payloads are shed, then spans dropped; once the writer
    moves again, the samples count what was shed."""
    monkeypatch.setenv("LLMDEBUG_MAX_BUFFER_MB", "1")
    ld.init(trace_db, instrument=False)
    store = get_store()
    stuck = _stuck_writer(monkeypatch)
    with pytest.warns(Warning, match="shed the payloads"):
        for i in range(3000):
            store.put(Span(id=new_id(), trace_id="t", name=f"s{i}", kind="span", started_at=T0 + i,
                           input="y" * 2000))
    stats = store.writer.stats()
    assert stats["shed_payloads"] > 0 and stats["dropped_spans"] > 0
    stuck.set()
    assert ld.flush(60)
    h = ld.health()
    assert h["shed_payloads"].sum() == stats["shed_payloads"] and h["shed_spans"].sum() == stats["dropped_spans"]
    assert h["written"].sum() == 3001 - stats["dropped_spans"] == len(ld.spans())


def test_status_shows_the_health_line(ld_on, llm_openai_client):
    from IPython.testing.globalipapp import get_ipython
    from IPython.utils.capture import capture_output

    from llmdebug.magics import writer_line

    llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
    ld.flush()
    line = writer_line(get_store().writer.stats())
    assert "0 spans in memory" in line and "slowest batch in the last minute" in line and "nothing shed" in line
    ip = get_ipython()
    ip.run_line_magic("load_ext", "llmdebug")
    try:
        with capture_output() as out:
            ip.run_line_magic("llmdebug", "")
        assert "slowest batch in the last minute" in out.stdout
    finally:
        ip.run_line_magic("unload_ext", "llmdebug")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_periods_from_the_failures_alone_match_the_walk_over_every_call(ld_on, seed):
    """breaker_view finds periods from the failed calls and two queries per period; the
    summary walks every call. Random traffic (bursts, several models, calls in the same
    microsecond): both give the same periods, to the field."""
    import random

    from llmdebug import operations
    from llmdebug.query import filters

    rnd = random.Random(seed)
    store = get_store()
    t = T0
    for i in range(3000):
        t += rnd.choice([0.0, 0.0, 0.5, 1.0, 2.0, 7.0])  # ties too
        bad = rnd.random() < (0.6 if (i // 200) % 3 == 0 else 0.05)
        fault = rnd.choice(list(ERRORS)) if bad else None
        _put("openai" if i % 3 else "anthropic", rnd.choice(["m1", "m2"]), [(t - T0, fault)])
    assert ld.flush()
    w, params = filters.where({"kind": "llm"})
    for failures, window, cooldown in ((3, 10.0, 20.0), (5, 30.0, 60.0), (1, 1.0, 0.5), (4, 60.0, 2.0)):
        with get_store().reading() as db:
            walked = operations._walk(db, ("provider", "model"), w, params, failures, window, cooldown)
            fast = operations._open_periods(db, ("provider", "model"), w, params, failures, window, cooldown)
        assert {k: b.periods for k, b in walked.items() if b.periods} == fast
        assert sum(len(v) for v in fast.values()) > 3


def test_the_writer_samples_itself_when_it_goes_idle(ld_on):
    """Nobody asks (no ld.health()): the last sample of a burst is written by the writer
    thread itself once it is idle, so every span written is counted in some sample."""
    import sqlite3

    store = get_store()
    for i in range(500):
        store.put(Span(id=new_id(), trace_id="t", name=f"s{i}", kind="span", started_at=T0 + i))
    assert ld.flush()
    conn = sqlite3.connect(ld_on)
    written = lambda: conn.execute("SELECT coalesce(sum(written), 0) FROM writer_health").fetchone()[0]  # noqa: E731
    deadline = threading.Event()
    for _ in range(300):  # a deadline (30 s), not a speed check
        if written() == 500:
            break
        deadline.wait(0.1)
    assert written() == 500
    last = conn.execute("SELECT queue_depth FROM writer_health ORDER BY at DESC LIMIT 1").fetchone()[0]
    assert last == 0  # the idle sample: nothing waiting
