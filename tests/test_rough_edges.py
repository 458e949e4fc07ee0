"""Python sides of issue 12's rough edges: a model keeps its chart colour whatever the
filter, cost bars are wide enough to click, alert warnings name the user's code, and the
budget notice's "$" is never typeset as math."""

import warnings

import pytest

import llmdebug as ld
from llmdebug import budgets as alerts

MODELS = ("gpt-4o", "gpt-4o-mini", "gpt-4.1-nano")


@pytest.fixture(autouse=True)
def fresh_rules(monkeypatch):
    alerts.reset()
    monkeypatch.setattr(alerts, "_deliver_now", False)  # delivered below, on this thread
    yield
    alerts.reset()


def _store(client, stream=False):
    for m in MODELS:
        ld.register_price(m, input_per_mtok=1.0, output_per_mtok=4.0)
        for _ in range(2):
            r = client.chat.completions.create(model=m, messages=[{"role": "user", "content": "hi"}], stream=stream)
            if stream:
                list(r)
    ld.flush()


def test_a_model_keeps_its_colour_when_a_filter_changes(ld_on, llm_openai_client):
    _store(llm_openai_client)  # priced: the cost chart
    _store(llm_openai_client, stream=True)  # a time to first token: the TTFT chart
    want = sorted(MODELS)
    for chart in (ld.charts.cost, ld.charts.ttft):
        spec = chart().to_dict()
        assert "encoding" in spec and "color" in spec["encoding"], (chart, spec.get("title"), spec.get("data"))
        full = spec["encoding"]["color"]
        one = chart(model="gpt-4o-mini").to_dict()["encoding"]["color"]
        assert full["scale"]["domain"] == one["scale"]["domain"] == want, chart
        assert full["legend"]["values"] == want and one["legend"]["values"] == ["gpt-4o-mini"]


def test_cost_bars_span_enough_buckets_to_be_clicked(ld_on):
    import pandas as pd

    from llmdebug import charts

    hours = pd.Series(pd.date_range("2025-01-01", periods=24 * 7, freq="h", tz="UTC"))
    assert charts._bar_step(hours[:48], "hour") == 1  # 48 bars of 11 px
    step = charts._bar_step(hours, "hour")  # a week of hours: 3-hour bars
    assert step > 1 and 24 * 7 / step * charts.MIN_BAR_PX <= charts.WIDTH


def test_wide_cost_chart_says_its_step_and_the_dashboard_opens_the_whole_bar(ld_on, llm_openai_client, monkeypatch):
    _store(llm_openai_client)
    from llmdebug import charts

    monkeypatch.setattr(charts, "_bar_step", lambda times, bucket: 3)
    spec = ld.charts.cost(bucket="minute").to_dict()
    assert spec["title"] == "Cost per 3 minutes by model (USD)"
    assert spec["encoding"]["x"]["timeUnit"] == {"unit": "yearmonthdatehoursminutes", "step": 3}
    assert spec["encoding"]["tooltip"][0]["timeUnit"] == spec["encoding"]["x"]["timeUnit"]  # no finer groups
    assert spec["usermeta"]["llmdebug"]["step"] == 3


def test_alert_warning_names_the_callers_file(ld_on, llm_openai_client):
    ld.budget(usd=1e-9)
    _store(llm_openai_client)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        alerts.deliver()
    assert [w.filename for w in caught if issubclass(w.category, ld.LLMDebugAlert)] == [__file__]


def test_alert_warning_in_a_notebook_names_the_cell(trace_db, llm_server, monkeypatch):
    pytest.importorskip("IPython")
    from IPython.testing.globalipapp import get_ipython

    ip = get_ipython()
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.openai_base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake")
    ip.run_line_magic("load_ext", "llmdebug")
    try:
        ip.run_cell("import openai, llmdebug as ld\nclient = openai.OpenAI()\nld.budget(usd=1e-9)")
        cell = "x = 1\nclient.chat.completions.create(model='gpt-4o-mini', messages=[{'role': 'user', 'content': 'x'}])"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ip.run_cell(cell)
        got = [w for w in caught if issubclass(w.category, ld.LLMDebugAlert)]
        assert len(got) == 1, caught
        # the name IPython gives the cell (its tracebacks name it so too), not llmdebug/magics.py
        assert got[0].filename == ip.compile.get_code_name(cell, ip.transform_cell(cell), ip.execution_count)
        assert "llmdebug" not in got[0].filename and got[0].lineno == 1
    finally:
        ip.run_line_magic("unload_ext", "llmdebug")


def test_budget_notice_is_not_typeset_as_math():
    html = alerts.Notice("llmdebug budget: $0.23 spent this session, over the $0.12 budget")._repr_html_()
    assert "mathjax_ignore" in html and "tex2jax_ignore" in html  # MathJax 3 and 2
    assert "$0.23 spent this session, over the $0.12 budget" in html


def test_a_click_on_a_wide_bar_opens_every_call_of_it(ld_on, llm_openai_client, monkeypatch):
    _store(llm_openai_client)
    from llmdebug import charts

    monkeypatch.setattr(charts, "_bar_step", lambda times, bucket: 3)
    dash = ld.dashboard()  # calls of the last minute: minute buckets
    first = ld.calls()["started_at"].min().floor("min")
    spec = dash.charts["cost"].spec
    assert spec["usermeta"]["llmdebug"] == dict(spec["usermeta"]["llmdebug"], step=3, bucket="minute")
    # the clicked datum names its time by the bar's time unit, not "time"
    datum = {"model": "gpt-4o", "yearmonthdatehoursminutes_step_3_time": first.isoformat()}
    got = dash.calls_for("cost", datum)
    assert len(got) == 2 and set(got["model"]) == {"gpt-4o"}
