"""ld.evaluate and ld.scorers: every built-in scorer, plain functions as scorers, the forms of
calls/expected/context, failing scorers, and the scores stored (real SDKs, fake server)."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pydantic
import pytest

import llmdebug as ld
from llmdebug import scorers

WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
    "required": ["city"]}}}
ANSWER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
                 "required": ["city", "population"], "additionalProperties": False}


class Answer(pydantic.BaseModel):
    city: str
    population: int


class Other(pydantic.BaseModel):
    country: str


@pytest.fixture
def made(ld_on, llm_openai_client, llm_anthropic_client):
    """Four captured calls: plain text, JSON by schema, an OpenAI tool call, an Anthropic tool call."""
    oc, ac = llm_openai_client, llm_anthropic_client
    oc.chat.completions.create(model="gpt-4o-mini",
                               messages=[{"role": "user", "content": "What is the capital of France?"}])
    oc.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Paris facts as JSON"}],
                               response_format={"type": "json_schema", "json_schema": {
                                   "name": "answer", "schema": ANSWER_SCHEMA}})
    oc.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Weather in Paris?"}],
                               tools=[WEATHER_TOOL])
    ac.messages.create(model="claude-fake", max_tokens=100, messages=[{"role": "user", "content": "Weather in Paris?"}],
                       tools=[{"name": "get_weather", "input_schema": WEATHER_TOOL["function"]["parameters"]}])
    calls = ld.calls()
    assert len(calls) == 4
    return calls


def _by(df: pd.DataFrame, name: str) -> list:
    """The values of scorer ``name`` in span order."""
    return list(df[df["name"] == name]["value"])


def test_every_built_in_scorer(made):
    ids = list(made["id"])
    df = ld.evaluate(made, [
        scorers.valid_json(),
        scorers.json_schema(ANSWER_SCHEMA),
        scorers.json_schema(Answer, name="answer_model"),
        scorers.json_schema(Other, name="other_model"),
        scorers.contains("capital of FRANCE"),
        scorers.contains("France", case=True, name="case"),
        scorers.contains(["paris", "json"], name="all_of"),
        scorers.contains(["paris", "weather"], require="any", name="any_of"),
        scorers.regex(r"\bget_weather\b", name="mentions_tool"),
        scorers.equals("YOU ASKED:", normalize=lambda v: v[:10].lower() if isinstance(v, str) else v, name="prefix"),
        scorers.tool_called("get_weather"),
        scorers.tool_called("get_weather", {"city": "Paris"}, name="paris"),
        scorers.tool_called("get_weather", {"city": "Rome"}, name="rome"),
        scorers.tool_called("get_weather", {"city": lambda c: c.lower().startswith("par")}, name="par"),
    ], progress=False)
    assert list(df.columns) == ["span_id", "trace_id", "name", "value", "label", "source", "comment",
                                "judge_span_id", "error"]
    assert len(df) == 4 * 14 and df["error"].isna().all() and (df["source"] == "code").all()
    assert list(df["span_id"].unique()) == ids
    assert _by(df, "valid_json") == [0, 1, 0, 0]
    assert _by(df, "json_schema") == [0, 1, 0, 0]
    assert _by(df, "answer_model") == [0, 1, 0, 0]
    assert _by(df, "other_model") == [0, 0, 0, 0]
    assert _by(df, "contains") == [1, 0, 0, 0]
    assert _by(df, "case") == [1, 0, 0, 0]
    assert _by(df, "all_of") == [0, 1, 0, 0]  # the JSON answer: {"city": "Paris facts as JSON", ...}
    assert _by(df, "any_of") == [0, 1, 0, 1]  # the Anthropic call's text: "I'll use the get_weather tool"
    assert _by(df, "mentions_tool") == [0, 0, 0, 1]
    assert _by(df, "prefix") == [1, 0, 0, 0]
    assert _by(df, "tool_called") == [0, 0, 1, 1]
    assert _by(df, "paris") == [0, 0, 1, 1]
    assert _by(df, "rome") == [0, 0, 0, 0]
    assert _by(df, "par") == [0, 0, 1, 1]
    rows = df.set_index(["name", "span_id"])
    assert rows.loc[("valid_json", ids[0]), "comment"].startswith("not JSON")
    assert rows.loc[("valid_json", ids[0]), "label"] == "fail" and rows.loc[("valid_json", ids[1]), "label"] == "pass"
    assert rows.loc[("all_of", ids[0]), "comment"] == "missing: 'paris', 'json'"
    assert rows.loc[("rome", ids[2]), "comment"].startswith("get_weather called with {'city': 'Paris'")
    assert rows.loc[("tool_called", ids[0]), "comment"] == "get_weather not called"
    assert "population" in rows.loc[("other_model", ids[1]), "comment"] or "country" in rows.loc[
        ("other_model", ids[1]), "comment"]
    stored = ld.scores(source="code")
    assert len(stored) == len(df)
    pd.testing.assert_series_equal(
        stored.sort_values(["span_id", "name"])["value"].reset_index(drop=True),
        df.sort_values(["span_id", "name"])["value"].reset_index(drop=True))


def test_json_schema_failures_say_where(ld_on):
    with ld.trace("item") as t:
        t.set_output('{"city": "Paris", "population": "many"}')
    df = ld.evaluate([t.id], [scorers.json_schema(ANSWER_SCHEMA), scorers.json_schema(Answer, name="m")],
                     progress=False)
    assert list(df["value"]) == [0.0, 0.0]
    assert df["comment"][0].startswith("population: ") and "integer" in df["comment"][0]
    assert df["comment"][1].startswith("population: ")
    with pytest.raises(ValueError, match="not valid JSON Schema"):
        scorers.json_schema({"type": "nonsense"})


def test_equals_uses_each_samples_expected_value(ld_on):
    spans = []
    for out in ["Paris", "  paris ", "Lyon", '{"a": 1}']:
        with ld.trace("item") as t:
            t.set_output(out)
        spans.append(t)
    expected = {spans[0].id: "Paris", spans[1].id: "PARIS", spans[2].id: "Paris", spans[3].id: {"a": 1}}
    df = ld.evaluate(spans, [scorers.equals(), scorers.equals(normalize=False, name="exact")], expected=expected,
                     progress=False)
    assert _by(df, "equals") == [1, 1, 0, 1]
    assert _by(df, "exact") == [1, 0, 0, 1]
    assert df[df["name"] == "equals"]["comment"].iloc[2] == "expected 'Paris', got 'Lyon'"
    df = ld.evaluate(spans, [scorers.contains_expected(), scorers.contains_expected(case=True, name="case")],
                     expected={spans[0].id: "aris", spans[1].id: ["PAR", "is"], spans[2].id: "Paris",
                               spans[3].id: {"a": 1}}, progress=False)
    assert _by(df, "contains_expected") == [1, 1, 0, 1] and _by(df, "case") == [1, 0, 0, 1]
    assert df[df["name"] == "case"]["comment"].iloc[1] == "missing: 'PAR'"
    missing = ld.evaluate(spans[:1], [scorers.equals(), scorers.contains_expected()], progress=False)
    assert missing["error"][0].startswith("ValueError: equals(): no expected value")  # an error row
    assert missing["error"][1].startswith("ValueError: contains_expected(): no expected value")


def test_tool_called_on_an_agent_span_looks_under_it(ld_on, llm_openai_client):
    @ld.traced(kind="tool")
    def lookup(order_id):
        return {"status": "shipped"}

    with ld.trace("agent") as t:
        llm_openai_client.chat.completions.create(model="gpt-4o", tools=[WEATHER_TOOL], messages=[
            {"role": "user", "content": "Weather in Paris?"}])
        lookup(order_id=42)
    df = ld.evaluate(t.id, [scorers.tool_called("get_weather", {"city": "Paris"}),
                            scorers.tool_called("lookup", {"order_id": 42}, name="lookup"),
                            scorers.tool_called("refund", name="refund")], progress=False)
    assert list(df["value"]) == [1.0, 1.0, 0.0]
    assert df["comment"][2].startswith("refund not called (called: get_weather, ")  # and the tool span's name


def test_plain_functions_are_scorers_with_the_parameters_they_ask_for(ld_on, llm_openai_client):
    llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is the capital of France?"}])
    call = ld.calls()["id"].iloc[-1]
    seen = {}

    def by_span(s):  # one positional parameter: the span
        seen["span"] = s
        return len(s.output_text)

    def everything(span, output, expected, context, input, item, messages):
        seen.update(output=output, expected=expected, context=context, input=input, item=item, messages=messages)
        return "looks-ok"

    def some(output, *, expected=None):
        return output.startswith(expected)

    def kwargs_only(**values):
        seen["keys"] = sorted(values)
        return None  # no score

    def commented(output):
        return scorers.Result(0.25, label="meh", comment="a quarter")

    df = ld.evaluate([call], [by_span, everything, some, kwargs_only, commented], expected="You asked",
                     context="France", item={"id": 7}, progress=False)
    assert seen["span"].id == call and seen["output"].startswith("You asked")
    assert seen["input"] == "What is the capital of France?" and seen["expected"] == "You asked"
    assert seen["context"] == "France" and seen["item"] == {"id": 7}
    assert [m["role"] for m in seen["messages"]] == ["system", "user"]
    assert seen["keys"] == sorted(scorers.PARAMETERS)
    rows = df.set_index("name")
    assert rows.loc["by_span", "value"] == len(seen["span"].output_text)
    assert rows.loc["everything", "label"] == "looks-ok" and pd.isna(rows.loc["everything", "value"])
    assert rows.loc["some", "value"] == 1.0 and rows.loc["some", "label"] == "pass"
    assert pd.isna(rows.loc["kwargs_only", "value"]) and pd.isna(rows.loc["kwargs_only", "error"])
    assert (rows.loc["commented", "value"], rows.loc["commented", "label"], rows.loc["commented", "comment"]) == (
        0.25, "meh", "a quarter")
    stored = ld.scores().set_index("name")
    assert sorted(stored.index) == ["by_span", "commented", "everything", "some"]  # None stores nothing
    assert stored.loc["everything", "label"] == "looks-ok" and stored.loc["commented", "comment"] == "a quarter"


def test_scorers_given_as_a_dict_and_named_scorers(ld_on):
    with ld.trace("item") as t:
        t.set_output("hello world")
    df = ld.evaluate(t, {"short": lambda output: len(output) < 20, "hello": scorers.contains("hello")},
                     progress=False)
    assert list(df["name"]) == ["short", "hello"] and list(df["value"]) == [1.0, 1.0]
    df = ld.evaluate(t, [scorers.scorer(lambda output: 3, name="three"), scorers.contains("x").named("has_x")],
                     progress=False)
    assert list(df["name"]) == ["three", "has_x"] and list(df["value"]) == [3.0, 0.0]

    @scorers.scorer(name="decorated")
    def whatever(output):
        return True

    assert whatever.name == "decorated" and whatever(t.id).value == 1.0


def test_scorer_names_must_differ_and_lambdas_need_one(ld_on):
    with ld.trace("item") as t:
        t.set_output("x")
    with pytest.raises(ValueError, match="two scorers are named 'contains'"):
        ld.evaluate(t, [scorers.contains("a"), scorers.contains("b")], progress=False)
    with pytest.raises(ValueError, match="a lambda has no name"):
        ld.evaluate(t, [lambda output: 1], progress=False)
    with pytest.raises(TypeError, match="parameter 'a'"):
        scorers.scorer(lambda a, b: 1, name="two")
    with pytest.raises(ValueError, match="no scorers"):
        ld.evaluate(t, [], progress=False)
    assert ld.scores().empty


def test_a_raising_scorer_gives_an_error_row_and_the_run_goes_on(ld_on):
    spans = []
    for out in ["a", "bb", "ccc"]:
        with ld.trace("item") as t:
            t.set_output(out)
        spans.append(t)

    def fragile(output):
        if output == "bb":
            raise RuntimeError("scorer bug")
        return len(output)

    def wrong_type(output):
        return {"value": 1}

    df = ld.evaluate(spans, [fragile, wrong_type, scorers.contains("c")], progress=False)
    frag = df[df["name"] == "fragile"]
    assert list(frag["error"].isna()) == [True, False, True]
    assert frag["error"].iloc[1] == "RuntimeError: scorer bug" and pd.isna(frag["value"].iloc[1])
    assert df[df["name"] == "wrong_type"]["error"].str.contains("return a bool, a number").all()
    assert _by(df, "contains") == [0, 0, 1]
    stored = ld.scores()
    assert sorted(stored["name"]) == ["contains"] * 3 + ["fragile"] * 2
    assert spans[1].id not in set(stored[stored["name"] == "fragile"]["span_id"])


def test_the_forms_of_calls(made):
    ids = list(made["id"])
    one = [scorers.regex("."), ]
    assert list(ld.evaluate(made, one, progress=False)["span_id"]) == ids  # a calls() DataFrame
    assert list(ld.evaluate(ids[::-1], one, progress=False)["span_id"]) == ids[::-1]  # ids, in the order given
    assert list(ld.evaluate([ids[0][:12], ids[0]], one, progress=False)["span_id"]) == ids[:1]  # a prefix, once
    assert list(ld.evaluate(ld.get(ids[1]), one, progress=False)["span_id"]) == ids[1:2]  # one Span
    assert list(ld.evaluate(ids[2], one, progress=False)["span_id"]) == ids[2:3]  # one id
    assert list(ld.evaluate(made.iloc[3], one, progress=False)["span_id"]) == ids[3:]  # one row
    assert list(ld.evaluate(scorers=one, model="gpt-4o", progress=False)["span_id"]) == ids[2:3]  # filters
    assert list(ld.evaluate(scorers=one, limit=2, progress=False)["span_id"]) == ids[2:]
    scored = ld.evaluate(ld.scores(name="regex"), one, progress=False)  # a frame with a span_id column
    assert sorted(scored["span_id"]) == sorted(ids)
    with pytest.raises(ValueError, match="which spans"):
        ld.evaluate(scorers=one)
    with pytest.raises(TypeError, match="apply when calls is None"):
        ld.evaluate(made, one, model="gpt-4o")
    with pytest.raises(KeyError, match="no span"):
        ld.evaluate(["0" * 32], one)


def test_expected_and_context_forms(ld_on):
    spans = []
    for out in ["one", "two"]:
        with ld.trace("item") as t:
            t.set_input({"question": f"q {out}"})
            t.set_output(out)
        spans.append(t)
    frame = ld.spans(name="item")
    frame["gold"] = ["one", "three"]
    frame["docs"] = ["doc one", None]
    got = []

    def look(output, expected, context, input):
        got.append((output, expected, context, input))
        return expected == output

    def run(**kw):
        got.clear()
        df = ld.evaluate(frame, [look], progress=False, concurrency=1, **kw)
        return sorted(got), list(df["value"])

    assert run(expected="gold", context="docs") == (
        [("one", "one", "doc one", {"question": "q one"}), ("two", "three", None, {"question": "q two"})], [1.0, 0.0])
    assert run(expected="two")[1] == [0.0, 1.0]  # not a column: the one value for every span
    assert run(expected={spans[0].id: "one"})[1] == [1.0, 0.0]  # by span id; missing -> None
    assert run(expected=pd.Series({spans[1].id: "two"}))[1] == [0.0, 1.0]
    assert run(expected={"answer": "one"})[0][0][1] == {"answer": "one"}  # no span id among the keys: one value
    with pytest.raises(ValueError, match="keyed by span id"):
        run(expected={"f" * 32: "x"})


def test_scores_are_stored_with_the_experiment_id_and_read_back(ld_on):
    with ld.trace("item") as t:
        t.set_output(json.dumps({"ok": True}))
    df = ld.evaluate(t, [scorers.valid_json()], experiment_id="exp-1", progress=False)
    back = ld.scores(experiment_id="exp-1")
    assert len(back) == 1 and back["span_id"][0] == t.id and back["trace_id"][0] == t.trace_id
    assert (back["name"][0], back["value"][0], back["label"][0], back["source"][0]) == (
        "valid_json", 1.0, "pass", "code")
    assert df["value"][0] == 1.0


def test_concurrency_runs_scorers_on_that_many_threads(ld_on):
    import threading

    spans = []
    for i in range(6):
        with ld.trace("item") as t:
            t.set_output(str(i))
        spans.append(t)
    barrier = threading.Barrier(3, timeout=30)
    threads = set()

    def together(output):
        threads.add(threading.get_ident())
        if int(output) < 3:
            barrier.wait()  # the first three run at the same time, or this breaks
        return 1

    df = ld.evaluate(spans, [together], concurrency=3, progress=False)
    assert df["error"].isna().all() and len(threads) == 3
    with pytest.raises(ValueError, match="concurrency"):
        ld.evaluate(spans, [together], concurrency=0)


def test_progress_bar(ld_on, capsys, monkeypatch):
    with ld.trace("item") as t:
        t.set_output("x")
    ld.evaluate([t], [scorers.regex("x"), scorers.contains("x")])
    err = capsys.readouterr().err
    assert "evaluate" in err and "2/2" in err  # tqdm's bar (text outside Jupyter)
    ld.evaluate([t], [scorers.regex("x")], progress=False)
    assert capsys.readouterr().err == ""
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # tqdm not installed: a plain counter
    ld.evaluate([t], [scorers.regex("x"), scorers.contains("x")])
    assert "evaluate: 2/2" in capsys.readouterr().err


def test_a_scorer_tried_on_one_span(ld_on):
    with ld.trace("item") as t:
        t.set_output("not json")
    r = scorers.valid_json()(t.id)
    assert (r.value, r.label) == (0.0, "fail") and r.comment.startswith("not JSON")
    assert scorers.equals("x")(t, output="x").value == 1.0
    assert ld.scores().empty  # trying a scorer stores nothing


def test_an_interrupted_run_keeps_the_scores_it_finished(ld_on):
    spans = []
    for i in range(5):
        with ld.trace("item") as t:
            t.set_output(str(i))
        spans.append(t)

    def stops_at_three(output):
        if output == "3":
            raise KeyboardInterrupt  # as Ctrl-C in the notebook would
        return int(output)

    with pytest.raises(KeyboardInterrupt):
        ld.evaluate(spans, [stops_at_three], concurrency=1, progress=False)
    kept = set(ld.scores()["value"])  # what finished (the one thread may have taken the next item already)
    assert {0.0, 1.0, 2.0} <= kept and 3.0 not in kept
