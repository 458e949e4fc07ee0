"""Budgets and alert rules fire exactly once when crossed, are recorded and reach the user."""

import warnings

import pytest

import llmdebug as ld
from llmdebug import budgets as alerts

MSG = [{"role": "user", "content": "hello there"}]


@pytest.fixture(autouse=True)
def fresh_rules(monkeypatch):
    alerts.reset()
    monkeypatch.setattr(alerts, "_deliver_now", False)  # delivered below, on this thread
    yield
    alerts.reset()


def _calls(client, n, model="gpt-4o-mini", **kw):
    for _ in range(n):
        try:
            client.with_options(**kw).chat.completions.create(model=model, messages=MSG)
        except Exception:
            pass
    ld.flush()
    alerts.wait_for_callbacks(10)  # callbacks run on their own thread


def test_session_budget_fires_once_when_crossed(ld_on, llm_openai_client):
    seen = []
    _calls(llm_openai_client, 1)
    one = ld.last().cost_usd
    rule = ld.budget(usd=one * 2.5, callback=seen.append)
    _calls(llm_openai_client, 1)
    assert seen == [] and alerts.deliver() == []  # 2 calls: under
    _calls(llm_openai_client, 1)
    assert len(seen) == 1 and seen[0]["kind"] == "budget" and seen[0]["value"] == pytest.approx(3 * one)
    with pytest.warns(ld.LLMDebugAlert, match=r"budget: \$0\.0000\d+ spent this session"):
        alerts.deliver()
    _calls(llm_openai_client, 3)  # further over: no second alert
    assert len(seen) == 1 and rule.fired == 1 and alerts.deliver() == []
    got = ld.alerts()
    assert list(got["kind"]) == ["budget"] and got["value"].iloc[0] == pytest.approx(3 * one)
    rule.remove()
    assert alerts.RULES == []


def test_daily_budget_counts_what_is_already_stored_today(ld_on, llm_openai_client):
    _calls(llm_openai_client, 3)
    spent = float(ld.calls()["cost_usd"].sum())
    rule = ld.budget(usd=spent / 2, per="day")  # already over: fires at once
    assert rule.fired == 1
    with pytest.warns(ld.LLMDebugAlert, match="this day"):
        alerts.deliver()
    with pytest.raises(ValueError, match="per="):
        ld.budget(usd=1, per="week")


def test_error_rate_alert_fires_once_and_rearms(ld_on, llm_openai_client):
    rule = ld.alert(error_rate=0.25, window="1h", min_calls=8)
    _calls(llm_openai_client, 6)
    _calls(llm_openai_client, 1, model="fail-400", max_retries=0)
    assert rule.fired == 0  # 7 calls < min_calls
    _calls(llm_openai_client, 2, model="fail-400", max_retries=0)  # 3 / 9 = 33 %
    assert rule.fired == 1 and rule.firing
    _calls(llm_openai_client, 1, model="fail-400", max_retries=0)  # still over: no new alert
    assert rule.fired == 1
    _calls(llm_openai_client, 10)  # 4 / 20 = 20 %: back under, armed again
    assert not rule.firing
    _calls(llm_openai_client, 4, model="fail-400", max_retries=0)  # 8 / 24 = 33 %
    assert rule.fired == 2
    with pytest.warns(ld.LLMDebugAlert, match="error rate"):
        assert len(alerts.deliver()) == 2
    assert list(ld.alerts()["kind"]) == ["error_rate", "error_rate"]


def test_rate_limit_and_latency_alerts(ld_on, llm_openai_client):
    rl = ld.alert(rate_limit_events=3, window="10m")
    slow = ld.alert(p95_latency_ms=150, window="10m", min_calls=3)
    def flaky(text):  # 429, 429, then 200 through the SDK's retries (per distinct request)
        llm_openai_client.chat.completions.create(model="gpt-4o-mini-flaky-2", messages=[{"role": "user", "content": text}])
        ld.flush()

    flaky("one")  # 2 events
    assert rl.fired == 0
    flaky("two")  # 4 > 3
    assert rl.fired == 1
    assert slow.fired == 0
    _calls(llm_openai_client, 3, model="gpt-4o-mini-slow-200")  # p95 of 5 calls: a slow one
    assert slow.fired == 1
    with pytest.raises(ValueError, match="exactly one"):
        ld.alert(error_rate=0.1, p95_latency_ms=100)


def test_writer_thread_delivers_without_ipython(ld_on, llm_openai_client, monkeypatch):
    monkeypatch.setattr(alerts, "_deliver_now", True)
    ld.budget(usd=1e-9)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _calls(llm_openai_client, 1)
    assert any(issubclass(w.category, ld.LLMDebugAlert) for w in caught)


def test_notebook_notice_under_the_cell(trace_db, llm_server, monkeypatch, capsys):
    pytest.importorskip("IPython")
    from IPython.testing.globalipapp import get_ipython

    ip = get_ipython()
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.openai_base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake")
    ip.run_line_magic("load_ext", "llmdebug")
    try:
        ip.run_cell("import openai, llmdebug as ld\nclient = openai.OpenAI()\nld.budget(usd=1e-9)")
        capsys.readouterr()
        with pytest.warns(ld.LLMDebugAlert):
            ip.run_cell("client.chat.completions.create(model='gpt-4o-mini', messages=[{'role': 'user', 'content': 'x'}])")
        out = capsys.readouterr().out
        assert "⚠ llmdebug budget" in out
        ip.run_cell("1 + 1")
        assert "llmdebug budget" not in capsys.readouterr().out  # once
    finally:
        ip.run_line_magic("unload_ext", "llmdebug")
