"""ld.experiment with the real SDKs against the fake server: function, template and
model-name variants; one trace per variant with an item span per item and the calls under
it; failures recorded, never raised; scores stored with the experiment's id; the numbers
match a pandas recomputation; a re-run against a cassette sends nothing."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

import llmdebug as ld
from llmdebug.evaluation import experiment_frame, experiments_list

ITEMS = [
    {"question": "Can I return shoes?", "context": "Shoes can be returned within 30 days.", "expected": "30 days"},
    {"question": "Do you ship to Norway?", "context": "We ship to Norway in 5 days.", "expected": "Norway"},
    {"question": "Is there a warranty?", "context": "Every laptop has a 2 year warranty.", "expected": "2 year"},
]
VARIANTS = {"terse": "Answer briefly: {question}", "grounded": "{context}\nQuestion: {question}"}


def mentions(output, expected):
    """1 when the output quotes the expected answer."""
    return expected.lower() in str(output or "").lower()


def words(output):
    return len((output or "").split())


def _run(client, **kw):
    kw.setdefault("progress", False)
    return ld.experiment(ITEMS, VARIANTS, [mentions, words], client=client, model="gpt-4o-mini", name="faq", **kw)


def test_template_variants_one_trace_per_variant_calls_under_item_spans(ld_on, llm_openai_client):
    df = _run(llm_openai_client, concurrency=3)
    eid = df.attrs["experiment_id"]
    assert list(df.columns[:13]) == ["experiment_id", "variant", "item_id", "input", "expected", "output", "error",
                                     "span_id", "trace_id", "latency_ms", "cost_usd", "input_tokens", "output_tokens"]
    assert list(df.columns[13:]) == ["mentions", "words"]
    assert len(df) == 6 and df["variant"].tolist() == ["terse"] * 3 + ["grounded"] * 3
    assert df["error"].isna().all()
    assert df["input"].iloc[0] == {"question": "Can I return shoes?", "context": "Shoes can be returned within 30 days."}
    assert df["expected"].tolist() == ["30 days", "Norway", "2 year"] * 2
    # the fake server quotes the prompt's start: the grounded prompt starts with the answer
    assert df[df.variant == "grounded"]["mentions"].tolist() == [1.0, 1.0, 1.0]
    assert df[df.variant == "terse"]["mentions"].tolist() == [0.0, 1.0, 0.0]

    traces = ld.traces()
    roots = traces[traces["name"].str.startswith("experiment faq")]
    assert sorted(roots["name"]) == ["experiment faq: grounded", "experiment faq: terse"]
    for variant, part in df.groupby("variant"):
        assert part["trace_id"].nunique() == 1  # one trace per variant
        spans = ld.spans(trace_id=part["trace_id"].iloc[0])
        root = spans[spans["parent_id"].isna()].iloc[0]
        assert root["kind"] == "experiment" and root["metadata"] == {"experiment_id": eid, "variant": variant}
        items = spans[spans["kind"] == "task"]
        assert set(items["id"]) == set(part["span_id"]) and (items["parent_id"] == root["id"]).all()
        calls = spans[spans["kind"] == "llm"]
        assert len(calls) == 3 and set(calls["parent_id"]) == set(items["id"])  # each call under its item
    got = ld.get(df["span_id"].iloc[3])
    assert got.input == df["input"].iloc[3] and got.output == df["output"].iloc[3]
    assert got.attributes["expected"] == "30 days"

    scores = ld.scores(experiment_id=eid)
    assert len(scores) == 12 and set(scores["name"]) == {"mentions", "words"}
    assert set(scores["span_id"]) == set(df["span_id"])
    again = experiment_frame(eid)
    pd.testing.assert_frame_equal(again, df)
    assert experiment_frame().attrs["experiment_id"] == eid  # None: the latest
    listed = experiments_list()
    assert listed[["name", "variants", "scorers", "items"]].to_dict("records") == [
        {"name": "faq", "variants": ["terse", "grounded"], "scorers": ["mentions", "words"], "items": 3}]


def test_numbers_match_a_pandas_recomputation(ld_on, llm_openai_client):
    df = _run(llm_openai_client)
    eid = df.attrs["experiment_id"]
    spans = ld.spans()
    tasks = spans[spans["kind"] == "task"]
    variant_of = {r["id"]: r["metadata"]["variant"] for _, r in tasks.iterrows()}
    scores = ld.scores(experiment_id=eid)
    scores["variant"] = scores["span_id"].map(variant_of)
    by_pandas = scores.pivot_table(index="variant", columns="name", values="value", aggfunc="mean")
    by_experiment = df.groupby("variant")[["mentions", "words"]].mean()
    pd.testing.assert_frame_equal(by_pandas.loc[by_experiment.index, ["mentions", "words"]], by_experiment,
                                  check_names=False)
    calls = ld.calls()
    for variant, part in df.groupby("variant"):
        mine = calls[calls["trace_id"] == part["trace_id"].iloc[0]]
        assert part["cost_usd"].sum() == pytest.approx(mine["cost_usd"].sum())
        assert part["input_tokens"].sum() == mine["input_tokens"].sum()
        assert part["output_tokens"].sum() == mine["output_tokens"].sum()
        latency = tasks.set_index("id").loc[part["span_id"], "latency_ms"]
        assert part["latency_ms"].tolist() == pytest.approx(latency.tolist())


def test_function_variants_and_failures_never_stop_the_run(ld_on, llm_openai_client, llm_anthropic_client):
    def openai_bot(inp):
        r = llm_openai_client.chat.completions.create(model="gpt-4o-mini",
                                                      messages=[{"role": "user", "content": inp["question"]}])
        return r.choices[0].message.content

    def claude_bot(inp):
        r = llm_anthropic_client.messages.create(model="claude-3-5-haiku-latest", max_tokens=100,
                                                 messages=[{"role": "user", "content": inp["question"]}])
        return {"answer": r.content[0].text}

    def broken(inp):
        if "Norway" in inp["question"]:
            raise RuntimeError("no route to <Norway>")
        return "fine"

    df = ld.experiment(ITEMS, {"openai": openai_bot, "claude": claude_bot, "broken": broken,
                               "bad-model": {"template": "{question}", "model": "gpt-4o-mini-fail-400"}},
                       [mentions], client=llm_openai_client, progress=False)
    by = {v: part.reset_index(drop=True) for v, part in df.groupby("variant", sort=False)}
    assert by["openai"]["output"].iloc[0].startswith('You asked: "Can I return shoes?"')
    assert by["claude"]["output"].iloc[0].startswith('{"answer": "You asked:')  # a dict output as JSON text
    assert by["broken"]["error"].tolist()[1] == "RuntimeError: no route to <Norway>"
    assert by["broken"]["output"].tolist()[0] == "fine"
    assert by["bad-model"]["error"].str.startswith("BadRequestError").all()
    assert (by["bad-model"]["cost_usd"].isna() | (by["bad-model"]["cost_usd"] == 0)).all()
    assert by["broken"]["cost_usd"].tolist() == [0.0, 0.0, 0.0] and by["broken"]["input_tokens"].tolist() == [0, 0, 0]
    failed = ld.get(by["broken"]["span_id"].iloc[1])
    assert failed.status == "error" and failed.error_type == "RuntimeError"
    # a failed run is scored too (its output is None): the scorer decides what that is worth
    assert len(ld.scores(experiment_id=df.attrs["experiment_id"])) == 12
    assert by["bad-model"]["mentions"].tolist() == [0.0, 0.0, 0.0]


def test_model_name_variants_through_a_client_and_replayed(ld_on, llm_openai_client):
    # items captured from calls: their messages, replayed where the calls went with another model
    for q in ("Where is order 1?", "Where is order 2?"):
        llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": q}])
    ds = ld.dataset("captured").from_calls(ld.calls())
    df = ld.experiment(ds, {"replayed": "gpt-4o", "sent": {"model": "gpt-4.1-mini", "client": llm_openai_client}},
                       progress=False)
    assert df["error"].isna().all(), df["error"].tolist()
    assert df.attrs["dataset"] == "captured" and df.attrs["dataset_version"] == 1
    calls = ld.calls()
    for variant, model in (("replayed", "gpt-4o"), ("sent", "gpt-4.1-mini")):
        part = df[df["variant"] == variant]
        mine = calls[calls["trace_id"] == part["trace_id"].iloc[0]]
        assert mine["model"].str.startswith(model).all() and len(mine) == 2
        assert set(mine["parent_id"]) == set(part["span_id"])
    replayed = calls[calls["trace_id"] == df[df.variant == "replayed"]["trace_id"].iloc[0]]
    assert replayed["replay_of"].notna().all()  # ld.replay made them
    first = ld.get(replayed["id"].iloc[0])
    assert first.messages[0] == {"role": "system", "content": "Be brief."}


def test_an_async_function_variant(ld_on, llm_server):
    import asyncio

    import anthropic

    async def bot(inp):
        client = anthropic.AsyncAnthropic(base_url=llm_server.anthropic_base_url, api_key="sk-ant-fake")
        async with client:
            r = await client.messages.create(model="claude-3-5-haiku-latest", max_tokens=50,
                                             messages=[{"role": "user", "content": inp["question"]}])
        await asyncio.sleep(0)
        return r.content[0].text

    df = ld.experiment(ITEMS, {"async": bot}, progress=False)
    assert df["error"].isna().all() and df["output"].str.startswith("You asked:").all()
    calls = ld.calls(trace_id=df["trace_id"].iloc[0])
    assert len(calls) == 3 and set(calls["parent_id"]) == set(df["span_id"])  # under their items, across loops


def test_a_model_variant_without_client_or_source_says_what_to_do(ld_on):
    df = ld.experiment([{"question": "hi"}], {"m": "gpt-4o"}, progress=False)
    assert "pass client=" in df["error"].iloc[0]


def test_the_pool_is_bounded(ld_on, llm_openai_client):
    lock, running, peak = threading.Lock(), [0], [0]

    def slow(inp):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            time.sleep(0.05)
            return inp["n"]
        finally:
            with lock:
                running[0] -= 1

    df = ld.experiment([{"n": i} for i in range(8)], {"slow": slow}, concurrency=2, progress=False)
    assert df["output"].tolist() == [str(i) for i in range(8)]  # dataset order kept
    assert peak[0] <= 2


def test_rerun_against_a_cassette_sends_nothing(ld_on, llm_server, llm_openai_client, tmp_path):
    path = tmp_path / "experiment.json"
    with ld.cassette(path):
        first = _run(llm_openai_client)
    sent = len(llm_server.requests)
    assert sent == 6
    with ld.cassette(path):
        second = _run(llm_openai_client)
    assert len(llm_server.requests) == sent  # answered from the cassette: no HTTP call went out
    assert second["output"].tolist() == first["output"].tolist()
    assert second["mentions"].tolist() == first["mentions"].tolist()
    replayed = ld.calls(trace_id=second["trace_id"].unique().tolist())
    assert len(replayed) == 6 and replayed["tags"].map(lambda t: "cassette" in t).all()


def test_bad_arguments_fail_before_anything_runs(ld_on, llm_openai_client):
    def a(output):
        return 1

    def b(output):
        return 2

    b.__name__ = "a"
    with pytest.raises(ValueError, match="two scorers are named 'a'"):
        ld.experiment(ITEMS, {"x": lambda i: i}, [a, b], progress=False)
    with pytest.raises(TypeError, match="needs a model"):
        ld.experiment(ITEMS, {"x": "Say {question}"}, client=llm_openai_client, progress=False)
    with pytest.raises(TypeError, match="variants="):
        ld.experiment(ITEMS, {}, progress=False)
    with pytest.raises(ValueError, match="no items"):
        ld.experiment(ld.dataset("empty"), {"x": lambda i: i}, progress=False)
    with pytest.raises(ValueError, match="concurrency"):
        ld.experiment(ITEMS, {"x": lambda i: i}, concurrency=0)
    with pytest.raises(KeyError, match="no dataset"):
        ld.experiment("never-made", {"x": lambda i: i})
    assert len(ld.traces()) == 0
