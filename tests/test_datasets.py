"""ld.dataset: items added by hand, from captured calls (real SDKs against the fake server),
from a DataFrame and from CSV/JSONL files; stable ids; every change a new version, old
versions still readable."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import llmdebug as ld
from llmdebug.evaluation import Dataset
from llmdebug.evaluation.dataset_items import item_id_of


def test_add_items_in_every_form(ld_on):
    ds = ld.dataset("support", description="help desk questions")
    assert ds.version == 0 and len(ds) == 0
    ds.add([{"input": {"question": "Can I return shoes?"}, "expected": "Yes, within 30 days.",
             "metadata": {"topic": "returns"}},
            {"question": "Do you ship to Norway?", "expected": "Yes.", "context": "We ship to Norway."}])
    assert ds.version == 1
    ds.add(input={"question": "Where is my order?"}, expected="Ask for the order number.", id="order-status")
    ds.add([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])  # one chat item
    items = ds.items()
    assert ds.version == 3 and len(items) == 4
    assert list(items.columns) == ["item_id", "input", "expected", "metadata", "source_span_id", "version_from",
                                   "version_to", "created_at"]
    flat = items.iloc[1]
    assert flat["input"] == {"question": "Do you ship to Norway?", "context": "We ship to Norway."}
    assert flat["expected"] == "Yes."  # taken out of the flat dict
    assert list(flat["input"]) == ["question", "context"]  # the user's key order, for reading
    assert items.iloc[0]["metadata"] == {"topic": "returns"}
    assert items.iloc[0]["item_id"] == item_id_of({"question": "Can I return shoes?"})
    assert "order-status" in set(items["item_id"])
    assert items.iloc[3]["input"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert ds.description == "help desk questions"
    assert repr(ds) == "<Dataset 'support' version 3, 4 items>"


def test_the_same_item_again_is_a_no_op_and_a_change_is_a_new_version(ld_on):
    ds = ld.dataset("faq")
    ds.add([{"question": "a?", "expected": "A"}, {"question": "b?", "expected": "B"}])
    ds.add([{"question": "a?", "expected": "A"}])
    ds.add([{"input": {"x": 1, "y": 2}, "id": "xy"}])
    ds.add([{"input": {"y": 2, "x": 1}, "id": "xy"}])  # the same content, keys in another order
    assert ds.version == 2  # nothing changed: no new version
    ds.remove("xy")
    ds.add([{"question": "a?", "expected": "A, updated"}, {"question": "c?", "expected": "C"}])
    assert ds.version == 4
    now = ds.items()
    assert sorted(now["expected"]) == ["A, updated", "B", "C"]
    v1 = ds.items(version=1)
    assert sorted(v1["expected"]) == ["A", "B"]  # version 1 as it was
    hist = ds.versions()
    assert hist[["version", "items", "added", "changed", "removed"]].to_dict("records") == [
        {"version": 1, "items": 2, "added": 2, "changed": 0, "removed": 0},
        {"version": 2, "items": 3, "added": 1, "changed": 0, "removed": 0},
        {"version": 3, "items": 2, "added": 0, "changed": 0, "removed": 1},
        {"version": 4, "items": 3, "added": 1, "changed": 1, "removed": 0}]
    assert hist["created_at"].isna().tolist() == [False, False, True, False]  # a removal starts no row


def test_update_and_remove_keep_old_versions(ld_on):
    ds = ld.dataset("faq")
    ds.add([{"input": {"q": "a"}, "expected": "A", "id": "a"}, {"input": {"q": "b"}, "expected": "B", "id": "b"}])
    ds.update("a", expected="AA")
    assert ds.version == 2
    assert ds.items()["item_id"].tolist() == ["a", "b"]  # a changed item keeps its place
    assert ds.items().set_index("item_id").loc["a", "input"] == {"q": "a"}  # untouched fields kept
    ds.remove("b")
    assert ds.version == 3
    assert list(ds.items()["item_id"]) == ["a"]
    assert sorted(ds.items(version=2)["item_id"]) == ["a", "b"]
    assert ds.items(version=1).set_index("item_id").loc["a", "expected"] == "A"
    assert ds.versions()["removed"].tolist() == [0, 0, 1]
    with pytest.raises(KeyError, match="no item"):
        ds.remove("b")
    with pytest.raises(KeyError, match="no item"):
        ds.update("zzz", expected="x")
    with pytest.raises(ValueError, match="versions 0 to 3"):
        ds.items(version=9)


def test_datasets_lists_every_dataset_and_handles_agree(ld_on):
    ld.dataset("one").add(input={"q": "x"})
    ld.dataset("two", description="second").add([{"q": "x"}, {"q": "y"}])
    ld.dataset("two").add(input={"q": "z"})
    df = ld.datasets()
    assert df[["name", "version", "items"]].to_dict("records") == [
        {"name": "one", "version": 1, "items": 1}, {"name": "two", "version": 2, "items": 3}]
    assert pd.isna(df["description"].iloc[0]) and df["description"].iloc[1] == "second"
    assert ld.dataset("two").version == 2


def test_datasets_survive_reopening_the_store(trace_db):
    ld.init(trace_db)
    ld.dataset("kept").add(input={"q": "x"}, expected="X")
    from llmdebug import session

    session.close()
    ld.init(trace_db)
    assert ld.dataset("kept").items()["expected"].tolist() == ["X"]


def test_from_calls_every_failure_of_a_run(ld_on, llm_openai_client, llm_anthropic_client):
    ok = llm_openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "system", "content": "Be brief."},
                                       {"role": "user", "content": "Where is my order?"}])
    for q in ("Refund order 12", "Cancel order 13"):
        with pytest.raises(Exception):
            llm_openai_client.chat.completions.create(model="gpt-4o-mini-fail-400",
                                                      messages=[{"role": "user", "content": q}])
    llm_anthropic_client.messages.create(model="claude-3-5-haiku-latest", max_tokens=50, system="Be kind.",
                                         messages=[{"role": "user", "content": "Hello"}])
    failures = ld.dataset("failures").from_calls(status="error", since="1h")
    items = failures.items()
    assert len(items) == 2 and failures.version == 1
    assert [m["content"] for m in items.iloc[0]["input"]] == ["Refund order 12"]
    assert items["expected"].isna().all()  # a failed call has no output
    assert set(items["source_span_id"]) == set(ld.calls(status="error")["id"])
    assert items.iloc[0]["metadata"]["status"] == "error"
    # the same failures again: nothing new
    failures.from_calls(status="error")
    assert failures.version == 1

    good = ld.dataset("good").from_calls(ld.calls(status="ok"))
    rows = good.items()
    assert len(rows) == 2
    first = rows.iloc[0]
    assert first["input"] == [{"role": "system", "content": "Be brief."},
                              {"role": "user", "content": "Where is my order?"}]
    assert first["expected"] == ok.choices[0].message.content
    assert rows.iloc[1]["input"][0] == {"role": "system", "content": "Be kind."}  # the system prompt first
    assert rows.iloc[1]["metadata"]["model"].startswith("claude")
    none = ld.dataset("inputs-only").from_calls(ld.calls(status="ok"), expected=None)
    assert none.items()["expected"].isna().all()
    custom = ld.dataset("custom").from_calls([ld.calls(status="ok").iloc[0]["id"]],
                                             expected=lambda span: span.model)
    assert custom.items()["expected"].tolist() == [ld.calls(status="ok").iloc[0]["model"]]


def test_from_frame(ld_on):
    df = pd.DataFrame({"question": ["a?", "b?"], "context": ["ctx a", "ctx b"], "expected": ["A", "B"],
                       "topic": ["x", "y"]})
    ds = ld.dataset("frame").from_frame(df, metadata=["topic"])
    items = ds.items()
    assert items["input"].tolist() == [{"question": "a?", "context": "ctx a"}, {"question": "b?", "context": "ctx b"}]
    assert items["expected"].tolist() == ["A", "B"]
    assert items["metadata"].tolist() == [{"topic": "x"}, {"topic": "y"}]
    one = ld.dataset("frame-one").from_frame(df, input="question", expected="context")
    assert one.items()["input"].tolist() == ["a?", "b?"]
    with pytest.raises(KeyError, match="no column 'nope'"):
        ld.dataset("frame-bad").from_frame(df, expected="nope")


def test_from_csv_and_jsonl_files(ld_on, tmp_path):
    csv = tmp_path / "items.csv"
    csv.write_text("question,expected\n\"Can I return shoes, too?\",Yes\nDo you ship?,\n", encoding="utf-8")
    ds = ld.dataset("csv").from_file(csv)
    items = ds.items()
    assert items["input"].tolist() == [{"question": "Can I return shoes, too?"}, {"question": "Do you ship?"}]
    assert items["expected"].iloc[0] == "Yes" and pd.isna(items["expected"].iloc[1])
    jsonl = tmp_path / "items.jsonl"
    jsonl.write_text("\n".join(json.dumps(x) for x in [
        {"input": {"question": "q1"}, "expected": "e1", "id": "one"},
        {"question": "q2", "expected": "e2"}]) + "\n\n", encoding="utf-8")
    js = ld.dataset("jsonl").from_file(jsonl)
    assert js.items()[["item_id", "expected"]].to_dict("records")[0] == {"item_id": "one", "expected": "e1"}
    assert js.items()["input"].tolist()[1] == {"question": "q2"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"q": 1}\nnot json\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        ld.dataset("bad").from_file(bad)
    with pytest.raises(ValueError, match="csv"):
        ld.dataset("bad").from_file(tmp_path / "x.parquet")


def test_bad_items_say_what_to_give(ld_on):
    ds = ld.dataset("bad")
    with pytest.raises(TypeError, match="dataset item"):
        ds.add([42])
    with pytest.raises(ValueError, match="non-empty"):
        ds.add(input={})
    with pytest.raises(TypeError, match="metadata must be a dict"):
        ds.add(input={"q": 1}, metadata="x")
    with pytest.raises(TypeError, match="non-empty string"):
        ld.dataset("")
    with pytest.raises(KeyError, match="ld.dataset"):
        Dataset("never-made").version
    assert ds.version == 0
