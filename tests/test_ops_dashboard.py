"""The dashboard's operational-health and scores rows: their charts follow the filters, a
row with nothing to draw is one line (also in the static view), a click on a breaker period
opens its calls, and a chart that fails to draw does not take the dashboard down."""

from __future__ import annotations

import openai
import pytest

import llmdebug as ld
from llmdebug import _guard
from llmdebug.widgets.dashboard import CHARTS, MAIN, ROWS, is_note

OPS = ROWS["Operational health"][0]
MSG = [{"role": "user", "content": "hello"}]


@pytest.fixture
def incident(ld_on, llm_server):
    """Real OpenAI calls to the fake server (with its rate-limit headers): some fine, then a
    streak of six 500s, then fine again."""
    client = openai.OpenAI(base_url=llm_server.openai_base_url, api_key="sk-fake", max_retries=0)
    try:
        for i in range(4):
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"q{i}"}])
        llm_server.inject("500", times=6, model="gpt-4o-mini")
        for i in range(6):
            with pytest.raises(openai.InternalServerError):
                client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
        for i in range(2):
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"r{i}"}])
    finally:
        client.close()
    ld.flush()
    return ld.calls()


def test_the_rows_draw_and_follow_the_filters(incident):
    d = ld.dashboard()
    assert list(d.charts) == list(CHARTS) == [*MAIN, *OPS, "scores"]
    assert d.rows["Operational health"].shown and not d.rows["Scores"].shown
    for name in OPS:
        assert not is_note(d.charts[name].spec), name  # headers, in-flight counts, failures, samples
        assert d.charts[name].spec["usermeta"]["llmdebug"]["chart"] == name
    assert d.charts["breaker"].spec["title"]["subtitle"] == "shaded: breaker open (5 in 30s, 60s cooldown)"
    # no scores yet: the row is its title and one line
    row = d.rows["Scores"]
    assert row.box.children == (row.title, row.note) and "ld.feedback" in row.note.value
    data, _ = d._repr_mimebundle_()
    page = data["text/html"]
    assert "Operational health" in page and "No scores for these filters" in page
    assert page.count("<img") == len(MAIN) + len(OPS)
    # a score arrives: the row draws at the next refresh
    ld.feedback(incident["id"].iloc[0], "thumbs", True)
    d.refresh()
    assert d.rows["Scores"].shown and not is_note(d.charts["scores"].spec)
    # a filter with no calls: the breaker and headroom charts have nothing; the writer still has its samples
    d.filters = {"model": "claude-3-5-haiku-latest"}
    assert is_note(d.charts["breaker"].spec) and not is_note(d.charts["writer_health"].spec)
    assert d.rows["Operational health"].shown and not d.rows["Scores"].shown


def test_an_empty_store_shows_each_row_as_one_line(ld_on):
    d = ld.dashboard()
    assert not any(r.shown for r in d.rows.values())
    assert all(is_note(d.charts[n].spec) for n in (*OPS, "scores"))
    page = d._repr_mimebundle_()[0]["text/html"]
    assert "No rate-limit headers, concurrent calls, failures or writer samples" in page and "<img" not in page


def test_a_click_on_a_breaker_period_opens_its_calls(incident):
    d = ld.dashboard()
    spec = d.charts["breaker"].spec
    band = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "rect")
    period = spec["datasets"][(band.get("data") or spec["data"])["name"]][0]
    d.charts["breaker"].selection = {k: period[k] for k in ("provider", "model", "opened_at", "end")}
    failed = incident[incident["status"] == "error"]
    # the fifth failure opened it; the sixth and both successes came within the cooldown
    assert list(d.opened["id"]) == list(failed["id"].iloc[4:]) + list(incident["id"].iloc[-2:])
    d.charts["breaker"].selection = {"time": period["opened_at"], "model": "gpt-4o-mini", "errors": 6}
    assert (d.opened["status"] == "error").all() and len(d.opened) >= 1  # a bar: the failed calls only


def test_a_chart_that_fails_says_so_in_its_place(incident, monkeypatch):
    monkeypatch.delenv("LLMDEBUG_RAISE_ERRORS")
    monkeypatch.setattr(_guard, "_warned", set())
    from llmdebug import charts

    def broken(**_):
        raise RuntimeError("no breaker today")

    monkeypatch.setattr(charts, "breaker", broken)
    with pytest.warns(_guard.LLMDebugWarning, match="drawing the dashboard's breaker chart"):
        d = ld.dashboard()
    spec = d.charts["breaker"].spec
    assert is_note(spec) and "no breaker today" in str(spec["datasets"]) and d.controls.summary["calls"] == 12
    assert not is_note(d.charts["cost"].spec)
