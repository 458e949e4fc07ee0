"""ld.judge: each built-in criterion and custom rubrics through the real OpenAI and Anthropic
SDKs against the fake server, whose verdicts follow rules recomputed here; invalid verdicts;
the judge's calls in traces of their own; bounded concurrency and the progress bar."""

from __future__ import annotations

import hashlib
import re
import threading

import pandas as pd
import pytest

import llmdebug as ld
from llmdebug.testing.judge_responders import STOPWORDS

QUESTION = "What is the refund policy for damaged items?"
ANSWER = ("Damaged items can be returned within 30 days. Refunds go back to the original card. "
          "We also give every customer a free cruise to Hawaii.")
CONTEXT = "Refunds are issued to the original card within 30 days. Damaged items are replaced or refunded."
REFERENCE = "Damaged items are refunded within 30 days."


# -- the fake judge's rules, written again from its docstring ---------------------------------
def _words(text):
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS}


def _share(part, whole):
    return round(len(part & whole) / len(part), 2) if part else 1.0


def relevance(question, answer):
    return _share(_words(question), _words(answer))


def faithfulness(answer, context):
    sentences = [w for w in (_words(s) for s in re.split(r"(?<=[.!?])\s+|\n+", answer)) if w]
    supported = [w for w in sentences if len(w & _words(context)) * 2 >= len(w)]
    return round(len(supported) / len(sentences), 2)


def correctness(answer, reference):
    return _share(_words(reference), _words(answer))


def hashed(prompt):
    return int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16) % 101 / 100


# -- fixtures -------------------------------------------------------------------------------
@pytest.fixture(params=["openai", "anthropic"])
def judge_client(request, ld_on, llm_openai_client, llm_anthropic_client):
    """(client, model) of each SDK."""
    if request.param == "openai":
        return llm_openai_client, "gpt-4o-mini"
    return llm_anthropic_client, "claude-fake"


@pytest.fixture
def answered(ld_on):
    """A user span answering QUESTION with ANSWER (the shape experiment items have)."""
    with ld.trace("support answer") as t:
        t.set_input(QUESTION)
        t.set_output(ANSWER)
    return t


def _judged(df, name):
    row = df[df["name"] == name]
    assert len(row) == 1, df
    row = row.iloc[0]
    assert pd.isna(row["error"]), row["error"]
    return row


# -- verdicts -------------------------------------------------------------------------------
def test_built_in_criteria(judge_client, answered):
    client, model = judge_client
    judges = [ld.judge(c, client=client, model=model) for c in ("relevance", "faithfulness", "hallucination",
                                                                 "correctness")]
    df = ld.evaluate([answered.id], judges, context=CONTEXT, expected=REFERENCE, progress=False)
    expected = {"relevance": relevance(QUESTION, ANSWER), "faithfulness": faithfulness(ANSWER, CONTEXT),
                "hallucination": round(1 - faithfulness(ANSWER, CONTEXT), 2),
                "correctness": correctness(ANSWER, REFERENCE)}
    assert expected == {"relevance": 0.5, "faithfulness": 0.67, "hallucination": 0.33, "correctness": 0.83}
    for name, value in expected.items():
        row = _judged(df, name)
        assert row["value"] == value and row["source"] == "llm"
        assert "(llmdebug fake judge)" in row["comment"]
    stored = ld.scores(source="llm").set_index("name")
    assert stored["value"].to_dict() == expected
    assert set(stored["span_id"]) == {answered.id}


def test_judging_llm_calls(judge_client, llm_openai_client):
    client, model = judge_client
    llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[
        {"role": "system", "content": "You answer questions."},
        {"role": "user", "content": "Which planets have rings?"}])
    call = ld.last()
    df = ld.evaluate(ld.calls(), [ld.judge("relevance", client=client, model=model)], progress=False)
    assert _judged(df, "relevance")["value"] == relevance("Which planets have rings?", call.output_text)


def test_custom_rubric(judge_client, answered):
    client, model = judge_client
    rubric = "Is this reply polite and helpful?\nQuestion: {input}\nReply: {output}\nAnswer in {{JSON}}."
    df = ld.evaluate(answered, [ld.judge(rubric, name="polite", client=client, model=model)], progress=False)
    row = _judged(df, "polite")
    prompt = rubric.format(input=QUESTION, output=ANSWER)
    assert row["value"] == hashed(prompt)
    sent = ld.get(row["judge_span_id"]).messages  # the judge's call, as captured
    assert any(prompt in str(m.get("content")) for m in sent)


def test_a_one_word_criterion_and_rubric_for_a_named_criterion(judge_client, answered):
    client, model = judge_client
    df = ld.evaluate(answered, [ld.judge("conciseness", client=client, model=model),
                                ld.judge("tone", rubric="Rate the tone of: {output}", client=client, model=model)],
                     progress=False)
    concise = _judged(df, "conciseness")
    prompt = next(m for m in ld.get(concise["judge_span_id"]).messages if m.get("role") == "user")["content"]
    text = prompt if isinstance(prompt, str) else prompt[0]["text"]
    assert text.startswith("<criterion>conciseness</criterion>") and concise["value"] == hashed(text)
    assert _judged(df, "tone")["value"] == hashed(f"Rate the tone of: {ANSWER}")


@pytest.mark.parametrize("scale, value, label", [
    ("pass_fail", 1.0, "pass"),  # relevance 0.5 rounds to the second label
    (("bad", "ok", "good"), 0.5, "ok"),
    ((1, 5), 3.0, None),  # 1 + round(0.5 * 4)
    (range(0, 11), 5.0, None),
])
def test_scales(judge_client, answered, scale, value, label):
    client, model = judge_client
    df = ld.evaluate(answered, [ld.judge("relevance", client=client, model=model, scale=scale)], progress=False)
    row = _judged(df, "relevance")
    assert row["value"] == value and (row["label"] == label if label else pd.isna(row["label"]))


def test_invalid_verdicts_are_error_rows(judge_client, answered):
    client, model = judge_client
    df = ld.evaluate(answered, [ld.judge("relevance", client=client, model=model + "-garbled", name="garbled"),
                                ld.judge("relevance", client=client, model=model + "-out-of-range", name="range"),
                                ld.judge("relevance", client=client, model=model)], progress=False)
    rows = df.set_index("name")
    assert rows.loc["garbled", "error"].startswith("JudgeError: invalid verdict: the judge's answer is not a JSON")
    assert rows.loc["range", "error"] == "JudgeError: invalid verdict: score 7 is outside 0..1"
    assert pd.isna(rows.loc["relevance", "error"])
    for name in ("garbled", "range"):  # the failed verdict still points at the judge's call
        judge_span = ld.get(rows.loc[name, "judge_span_id"])
        assert judge_span.kind == "llm" and judge_span.status == "ok"
        assert ld.get(judge_span.parent_id).status == "error"
    assert list(ld.scores()["name"]) == ["relevance"]


def test_missing_context_or_reference_is_an_error_row(judge_client, answered):
    client, model = judge_client
    df = ld.evaluate(answered, [ld.judge("faithfulness", client=client, model=model),
                                ld.judge("correctness", client=client, model=model),
                                ld.judge("Compare {output} with {expected}", name="cmp", client=client, model=model)],
                     progress=False)
    errors = df.set_index("name")["error"]
    assert errors["faithfulness"] == ("ValueError: faithfulness needs context: pass context= to ld.evaluate "
                                      "(one text, or a dict span id -> text)")
    assert errors["correctness"].startswith("ValueError: correctness needs the expected answer: pass expected=")
    assert errors["cmp"] == ("ValueError: the rubric uses {expected}, and this span has no expected: pass expected= "
                             "to ld.evaluate (one value, or a dict span id -> value)")
    assert df["judge_span_id"].isna().all()  # nothing was asked
    assert ld.scores().empty


def test_judge_calls_are_eval_traces_of_their_own(judge_client, llm_openai_client):
    client, model = judge_client
    with ld.trace("user request") as t:
        llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[
            {"role": "user", "content": "What is the capital of France?"}])
    before = ld.spans(trace_id=t.trace_id)
    judged = ld.calls(trace_id=t.trace_id)
    df = ld.evaluate(judged, [ld.judge("relevance", client=client, model=model)], progress=False)
    row = _judged(df, "relevance")
    call = ld.get(row["judge_span_id"])
    root = ld.get(call.parent_id)
    assert call.kind == "llm" and call.model == model and call.status == "ok"
    assert root.kind == "eval" and root.parent_id is None and root.trace_id == call.trace_id != t.trace_id
    assert root.name == "judge relevance"
    assert root.attributes["judged_span_id"] == judged["id"][0] and root.attributes["criterion"] == "relevance"
    assert root.output["score"] == row["value"] and root.input["output"] == judged["output_text"][0]
    after = ld.spans(trace_id=t.trace_id)  # the judged trace gained nothing, nor did its cost
    assert list(after["id"]) == list(before["id"]) and after["cost_usd"].sum() == before["cost_usd"].sum()
    assert ld.scores()["judge_span_id"][0] == call.id


def test_async_clients_are_used_through_their_sync_twin(ld_on, answered, llm_async_openai_client,
                                                          llm_async_anthropic_client):
    df = ld.evaluate(answered, [ld.judge("relevance", client=llm_async_openai_client, name="a"),
                                ld.judge("relevance", client=llm_async_anthropic_client, model="claude-fake",
                                         name="b")], progress=False)
    assert list(df["value"]) == [0.5, 0.5] and df["error"].isna().all()


def test_the_default_client_comes_from_the_environment(llm_server_env, ld_on, answered):
    df = ld.evaluate(answered, [ld.judge("relevance")], progress=False)
    assert _judged(df, "relevance")["value"] == 0.5
    assert ld.get(df["judge_span_id"][0]).model == "gpt-4o-mini"


def test_bad_judge_arguments(ld_on, llm_openai_client):
    with pytest.raises(ValueError, match="needs name="):
        ld.judge("Is {output} polite?", client=llm_openai_client)
    with pytest.raises(ValueError, match=r"the rubric uses \{answer\}"):
        ld.judge("Is {answer} polite?", name="p", client=llm_openai_client)
    with pytest.raises(ValueError, match="scale="):
        ld.judge("relevance", scale="stars", client=llm_openai_client)
    with pytest.raises(TypeError, match="OpenAI or Anthropic SDK client"):
        ld.judge("relevance", client=object())
    j = ld.judge("relevance", client=llm_openai_client)
    assert (j.name, j.source) == ("relevance", "llm")


# -- running many ---------------------------------------------------------------------------
def test_concurrency_is_bounded_at_the_server(ld_on, llm_server, llm_openai_client, monkeypatch):
    spans = []
    for i in range(8):
        with ld.trace("item") as t:
            t.set_input(f"question {i}")
            t.set_output(f"answer {i}")
        spans.append(t)
    n = 3
    gate = threading.Barrier(n, timeout=30)  # the first n requests wait for each other: n at once, or it breaks
    lock = threading.Lock()
    state = {"active": 0, "peak": 0, "seen": 0}
    handle = llm_server.handle

    def counting(*args, **kwargs):
        with lock:
            state["active"] += 1
            state["peak"] = max(state["peak"], state["active"])
            first = state["seen"] < n
            state["seen"] += 1
        try:
            if first:
                gate.wait()
            return handle(*args, **kwargs)
        finally:
            with lock:
                state["active"] -= 1

    monkeypatch.setattr(llm_server, "handle", counting)
    df = ld.evaluate(spans, [ld.judge("relevance", client=llm_openai_client)], concurrency=n, progress=False)
    assert df["error"].isna().all() and len(df) == 8
    assert state["seen"] == 8 and state["peak"] == n


def test_progress_bar_while_judging(ld_on, answered, llm_openai_client, capsys):
    ld.evaluate(answered, [ld.judge("relevance", client=llm_openai_client), ld.scorers.contains("refund")])
    err = capsys.readouterr().err
    assert "evaluate" in err and "2/2" in err
