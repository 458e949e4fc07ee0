"""llmdebug.diffing on constructed Span records (no network, no store): word and JSON
diffs, message alignment (insertion, deletion, reordering, role change), tools,
parameters across provider request shapes, outputs, deltas and the text rendering."""

from __future__ import annotations

import json
import random
import time

import pytest

from llmdebug.diffing import (
    diff_calls,
    json_diff,
    render_html,
    render_text,
    request_params,
    word_diff,
)
from llmdebug.tracing import Span

SYSTEM = "You are a helpful assistant. Answer briefly."
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def chat(messages, *, system=SYSTEM, output="Sure.", tool_calls=None, tools=None, **params) -> Span:
    """An OpenAI chat.completions call as capture stores it."""
    req = {"model": params.pop("model", "gpt-4o-mini"), "messages": ([{"role": "system", "content": system}] if system else []) + messages}
    if tools is not None:
        req["tools"] = [{"type": "function", "function": t} for t in tools]
    req.update(params)
    return Span(id=f"{random.getrandbits(128):032x}", kind="llm", provider="openai", model=req["model"],
                endpoint="chat.completions", request=req, output_text=output, tool_calls=tool_calls,
                input_tokens=100, output_tokens=20, cost_usd=0.0001, latency_ms=500.0)


def U(text):
    return {"role": "user", "content": text}


def A(text):
    return {"role": "assistant", "content": text}


def ops(d):
    return [(e["op"], e["a_index"], e["b_index"]) for e in d["messages"]]


def joined(segs, keep):
    return "".join(t for op, t in segs if op in keep)


# ------------------------------------------------------------------ word_diff

def test_word_diff_marks_only_the_changed_words():
    assert word_diff("the quick fox", "the slow fox") == [
        ["equal", "the "], ["delete", "quick"], ["insert", "slow"], ["equal", " fox"]]
    assert word_diff("same", "same") == [["equal", "same"]]
    assert word_diff("", "") == [] and word_diff(None, "x") == [["insert", "x"]]
    assert word_diff("x", "") == [["delete", "x"]]
    # punctuation is its own token; a lone "+" between two changes folds into them
    assert word_diff("What is 2+2?", "What is 3+3?") == [
        ["equal", "What is "], ["delete", "2+2"], ["insert", "3+3"], ["equal", "?"]]
    assert word_diff("a, b, c", "a, x, c") == [["equal", "a, "], ["delete", "b"], ["insert", "x"], ["equal", ", c"]]


def test_word_diff_folds_single_spaces_between_changes():
    segs = word_diff("the quick brown fox jumps", "a slow brown dog jumps")
    assert segs == [["delete", "the quick"], ["insert", "a slow"], ["equal", " brown "],
                    ["delete", "fox"], ["insert", "dog"], ["equal", " jumps"]]


def assert_exact(a, b):
    segs = word_diff(a, b)
    assert joined(segs, ("equal", "delete")) == a
    assert joined(segs, ("equal", "insert")) == b
    assert all(t for _, t in segs), "no empty segments"
    assert all(segs[k][0] != segs[k + 1][0] for k in range(len(segs) - 1)), "neighbours merged"
    assert all(op in ("equal", "delete", "insert") for op, _ in segs)
    return segs


def test_word_diff_is_exact_on_many_random_texts():
    rng = random.Random(1234)
    alphabet = ["the", "cat", "dog", " ", "  ", "\n", ".", ",", "é", "日本", "語", "🙂", "x1", "_", "\t", "<b>", "'"]
    for _ in range(600):
        a = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        b = list(a)
        for _ in range(rng.randint(0, 6)):  # random edits of a
            pos = rng.randint(0, len(b))
            if rng.random() < 0.5 and b:
                del b[min(pos, len(b) - 1)]
            else:
                b.insert(pos, rng.choice(alphabet))
        b = "".join(b) if rng.random() < 0.8 else "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert_exact(a, b)


def test_word_diff_unicode_words_and_cjk_characters():
    segs = assert_exact("Grüße aus Köln 🙂", "Grüße aus München 🙂")
    assert ["delete", "Köln"] in segs and ["insert", "München"] in segs
    segs = assert_exact("我喜欢猫", "我喜欢狗")  # CJK compares character by character
    assert segs == [["equal", "我喜欢"], ["delete", "猫"], ["insert", "狗"]]


def test_word_diff_of_huge_texts_is_exact_and_finds_the_edits():
    rng = random.Random(7)
    words = [f"w{k}" for k in range(500)]
    lines = [" ".join(rng.choice(words) for _ in range(12)) + "." for _ in range(2500)]  # ~110 KB
    a = "\n".join(lines)
    b_lines = list(lines)
    b_lines[100] = "A line that was rewritten entirely."
    b_lines[2000] = b_lines[2000].replace("w", "W", 1)
    del b_lines[1500]
    b = "\n".join(b_lines)
    assert len(a) > 100_000
    t0 = time.perf_counter()
    segs = assert_exact(a, b)
    elapsed = time.perf_counter() - t0
    changed = [t for op, t in segs if op != "equal"]
    assert "rewritten entirely" in "".join(t for op, t in segs if op == "insert")
    assert ["delete", lines[1500] + "\n"] in segs or lines[1500] in "".join(changed)
    assert sum(len(t) for t in changed) < 400  # the unchanged 100 KB stay equal
    print(f"[info] 110 KB word_diff in {elapsed:.2f}s")  # reported, not asserted
    # every one of 60 long lines edited: still word by word, line against line
    long_lines = [" ".join(rng.choice(words) for _ in range(300)) for _ in range(60)]
    segs = assert_exact("\n".join(long_lines), "\n".join("EDIT " + ln for ln in long_lines))
    assert [t for op, t in segs if op != "equal"] == ["EDIT "] * 60 or \
        sum(len(t) for op, t in segs if op == "insert") == 5 * 60
    # a single 100 KB line without any newline, and two unrelated texts
    one = " ".join(rng.choice(words) for _ in range(25_000))
    assert_exact(one, one.replace("w7 ", "CHANGED ", 3))
    assert_exact(one, " ".join(rng.choice(words) for _ in range(25_000)))


# ------------------------------------------------------------------ json_diff

def test_json_diff_paths_and_ops():
    a = {"name": "x", "tags": ["a", "b"], "deep": {"n": 1, "gone": True}, "odd key": 1}
    b = {"name": "y", "tags": ["a", "b", "c"], "deep": {"n": 1.0, "new": None}, "odd key": 2}
    changes = json_diff(a, b)
    assert {(c["path"], c["op"]) for c in changes} == {
        ("$.name", "changed"), ("$.tags[2]", "added"), ("$.deep.gone", "removed"),
        ("$.deep.new", "added"), ('$["odd key"]', "changed")}
    name = next(c for c in changes if c["path"] == "$.name")
    assert name["old"] == "x" and name["new"] == "y" and name["words"] == [["delete", "x"], ["insert", "y"]]
    assert json_diff({"a": [1, 2, 3]}, {"a": [1, 2, 3]}) == []
    # an item inserted at the front is one addition, not a change of every item
    assert json_diff([1, 2, 3], [0, 1, 2, 3]) == [{"path": "$[0]", "op": "added", "old": None, "new": 0}]
    assert json_diff([{"k": 1}, {"k": 2}], [{"k": 1}, {"k": 3}]) == [
        {"path": "$[1].k", "op": "changed", "old": 2, "new": 3}]
    # types matter: true is not 1, a list is not a dict
    assert json_diff(True, 1)[0]["op"] == "changed"
    assert json_diff({"a": [1]}, {"a": {"0": 1}}) == [{"path": "$.a", "op": "changed", "old": [1], "new": {"0": 1}}]


# ------------------------------------------------------------------ messages

def test_identical_calls_are_the_same():
    a = chat([U("hi"), A("hello"), U("bye")], temperature=0.2)
    b = chat([U("hi"), A("hello"), U("bye")], temperature=0.2)
    b.latency_ms, b.input_tokens = 700.0, 101  # usage differences alone do not count
    d = diff_calls(a, b)
    assert d["summary"]["same"] is True and d["summary"]["changes"] == 0 and d["summary"]["parts"] == []
    assert [e["op"] for e in d["messages"]] == ["equal"] * 3
    assert d["system"]["op"] == "equal" and d["output"]["op"] == "equal"
    assert all(p["op"] == "equal" for p in d["params"])
    assert d["deltas"]["latency_ms"]["delta"] == 200.0 and d["deltas"]["input_tokens"]["delta"] == 1
    json.dumps(d, allow_nan=False)  # JSON-safe, as the widget syncs it
    assert "same prompt, parameters and output" in render_text(d)


def test_inserted_message():
    d = diff_calls(chat([U("a"), U("c")]), chat([U("a"), U("b"), U("c")]))
    assert ops(d) == [("equal", 0, 0), ("added", None, 1), ("equal", 1, 2)]
    assert d["messages"][1]["b"]["text"] == "b"
    assert d["summary"]["messages"]["added"] == 1 and "1 message added" in d["summary"]["parts"]


def test_deleted_message():
    d = diff_calls(chat([U("a"), A("b"), U("c")]), chat([U("a"), U("c")]))
    assert ops(d) == [("equal", 0, 0), ("removed", 1, None), ("equal", 2, 1)]
    assert d["messages"][1]["a"]["role"] == "assistant"


def test_changed_message_has_word_level_changes():
    d = diff_calls(chat([U("What is the weather in Paris today?")]), chat([U("What is the weather in Lyon today?")]))
    (e,) = d["messages"]
    assert e["op"] == "changed" and not e["role_changed"]
    assert e["text"] == [["equal", "What is the weather in "], ["delete", "Paris"], ["insert", "Lyon"], ["equal", " today?"]]


def test_reordered_messages_are_moved_not_removed_and_added():
    d = diff_calls(chat([U("one"), U("two"), U("three")]), chat([U("three"), U("one"), U("two")]))
    assert ops(d) == [("moved", 2, 0), ("equal", 0, 1), ("equal", 1, 2)]
    assert d["summary"]["messages"]["moved"] == 1 and d["summary"]["same"] is False
    d = diff_calls(chat([U("one"), A("two"), U("three"), A("four")]), chat([U("one"), U("three"), A("two"), A("four")]))
    assert sorted(op for op, _, _ in ops(d)) == ["equal", "equal", "equal", "moved"]


def test_role_change_is_flagged():
    d = diff_calls(chat([U("hi"), U("I am the assistant")]), chat([U("hi"), A("I am the assistant")]))
    e = d["messages"][1]
    assert e["op"] == "changed" and e["role_changed"] is True
    assert (e["a"]["role"], e["b"]["role"]) == ("user", "assistant") and e["text"] == [["equal", "I am the assistant"]]
    assert "user → assistant" in render_text(d)


def test_replaced_block_pairs_messages_by_role_first():
    d = diff_calls(chat([U("hi"), A("hello"), U("2+2?")]), chat([U("hi"), U("3+3?")]))
    assert ops(d) == [("equal", 0, 0), ("removed", 1, None), ("changed", 2, 1)]
    assert not d["messages"][2]["role_changed"]


def test_message_tool_calls_and_tool_results_across_providers():
    oa = chat([U("weather?"),
               {"role": "assistant", "content": None, "tool_calls": [
                   {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
               {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}], system=None)
    an = Span(id="b" * 32, kind="llm", provider="anthropic", endpoint="messages", model="claude",
              request={"model": "claude", "max_tokens": 50, "messages": [
                  U("weather?"),
                  {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_9", "name": "get_weather",
                                                     "input": {"city": "Lyon"}}]},
                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "sunny"}]}]},
              output_text="Sure.")
    d = diff_calls(oa, an)
    assert [e["op"] for e in d["messages"]] == ["equal", "changed", "equal"]  # ids do not matter
    (call,) = d["messages"][1]["tool_calls"]
    assert call["op"] == "changed" and not call["name_changed"]
    assert call["arguments"] == [{"path": "$.city", "op": "changed", "old": "Paris", "new": "Lyon",
                                  "words": [["delete", "Paris"], ["insert", "Lyon"]]}]


# ------------------------------------------------------------------ system, tools, params

def test_system_prompt_changes_in_every_provider_shape():
    a = chat([U("hi")], system="Be brief.")
    b = Span(kind="llm", provider="anthropic", endpoint="messages", request={
        "model": "claude-3-5-haiku-latest", "max_tokens": 100, "system": "Be very brief.", "messages": [U("hi")]},
        output_text="Sure.")
    c = Span(kind="llm", provider="openai", endpoint="responses", request={
        "model": "gpt-4.1", "instructions": "Be brief.", "input": "hi", "max_output_tokens": 100}, output_text="Sure.")
    d = diff_calls(a, b)
    assert d["system"]["op"] == "changed"
    assert d["system"]["text"] == [["equal", "Be "], ["insert", "very "], ["equal", "brief."]]
    assert [e["op"] for e in d["messages"]] == ["equal"]  # the system prompt is not a message
    d = diff_calls(a, c)
    assert d["system"]["op"] == "equal" and [e["op"] for e in d["messages"]] == ["equal"]
    # an OpenAI "developer" message is the system prompt too; a system prompt can appear
    d = diff_calls(chat([U("hi")], system=None), chat([{"role": "developer", "content": "Be brief."}, U("hi")], system=None))
    assert d["system"]["op"] == "added" and d["system"]["b"] == "Be brief."


def test_tool_definitions_added_removed_changed():
    a = chat([U("hi")], tools=[{"name": "get_weather", "description": "Weather by city", "parameters": WEATHER},
                               {"name": "old_tool", "parameters": {}}])
    wider = json.loads(json.dumps(WEATHER))
    wider["properties"]["units"] = {"type": "string", "enum": ["C", "F"]}
    wider["properties"]["city"]["type"] = ["string", "null"]
    b = chat([U("hi")], tools=[{"name": "get_weather", "description": "Weather for a city", "parameters": wider},
                               {"name": "new_tool", "parameters": {}}])
    d = diff_calls(a, b)
    by = {t["name"]: t for t in d["tools"]}
    assert {n: t["op"] for n, t in by.items()} == {"get_weather": "changed", "old_tool": "removed", "new_tool": "added"}
    w = by["get_weather"]
    assert {(c["path"], c["op"]) for c in w["parameters"]} == {
        ("$.properties.city.type", "changed"), ("$.properties.units", "added")}
    assert ["insert", "for a"] in w["description"] or any(op == "insert" for op, _ in w["description"])
    assert d["summary"]["tools"] == {"equal": 0, "changed": 1, "added": 1, "removed": 1}
    # the same tool in the OpenAI and the Anthropic shape is equal
    an = Span(kind="llm", provider="anthropic", endpoint="messages", output_text="Sure.", request={
        "model": "claude", "system": SYSTEM, "messages": [U("hi")],
        "tools": [{"name": "get_weather", "description": "Weather by city", "input_schema": WEATHER}]})
    d = diff_calls(chat([U("hi")], tools=[{"name": "get_weather", "description": "Weather by city", "parameters": WEATHER}]), an)
    assert [t["op"] for t in d["tools"]] == ["equal"]


def _param(d, key):
    return next(p for p in d["params"] if p["key"] == key)


def test_params_temperature_max_tokens_response_format():
    fmt_a = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}}}
    fmt_b = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object", "required": ["x"]}}}
    d = diff_calls(chat([U("hi")], temperature=0.2, max_tokens=100, response_format=fmt_a, seed=1),
                   chat([U("hi")], temperature=0.9, max_completion_tokens=200, response_format=fmt_b, stop="\n"))
    t = _param(d, "temperature")
    assert (t["op"], t["old"], t["new"]) == ("changed", 0.2, 0.9)
    m = _param(d, "max_tokens")  # max_completion_tokens is the same parameter
    assert (m["op"], m["old"], m["new"]) == ("changed", 100, 200)
    rf = _param(d, "response_format")
    assert rf["op"] == "changed" and rf["changes"] == [{"path": "$.schema.required", "op": "added", "old": None, "new": ["x"]}]
    assert _param(d, "seed")["op"] == "removed" and _param(d, "stop")["op"] == "added"
    assert _param(d, "stop")["new"] == ["\n"]
    assert _param(d, "model")["op"] == "equal"
    assert [p["key"] for p in d["params"]][:4] == ["model", "temperature", "max_tokens", "response_format"]
    assert {"temperature", "max_tokens", "response_format", "seed", "stop"} <= set(d["summary"]["parts"])
    assert d["summary"]["params"] == 5


def test_params_are_provider_neutral():
    chat_req = {"model": "m", "messages": [U("hi")], "max_completion_tokens": 100, "temperature": 0.5,
                "tool_choice": {"type": "function", "function": {"name": "f"}}, "stop": ["END"],
                "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object"}}}}
    responses_req = {"model": "m", "input": "hi", "max_output_tokens": 100, "temperature": 0.5,
                     "tool_choice": {"type": "function", "name": "f"}, "stop": "END",
                     "text": {"format": {"type": "json_schema", "name": "r", "schema": {"type": "object"}}}}
    anthropic_req = {"model": "m", "messages": [U("hi")], "max_tokens": 100, "temperature": 0.5,
                     "tool_choice": {"type": "tool", "name": "f"}, "stop_sequences": ["END"],
                     "output_format": {"type": "json_schema", "name": "r", "schema": {"type": "object"}}}
    pc, pr, pa = request_params(chat_req), request_params(responses_req), request_params(anthropic_req)
    assert pc == pr == pa == {"model": "m", "temperature": 0.5, "max_tokens": 100,
                              "response_format": {"type": "json_schema", "name": "r", "schema": {"type": "object"}},
                              "tool_choice": "tool:f", "stop": ["END"]}
    assert request_params({"tool_choice": {"type": "any"}}) == {"tool_choice": "required"}
    a = Span(kind="llm", provider="openai", endpoint="chat.completions", request=chat_req, output_text="x")
    b = Span(kind="llm", provider="openai", endpoint="responses", request=responses_req, output_text="x")
    c = Span(kind="llm", provider="anthropic", endpoint="messages", request=anthropic_req, output_text="x")
    assert diff_calls(a, b)["summary"]["same"] is True
    assert diff_calls(a, c)["summary"]["same"] is True
    d = diff_calls(a, Span(kind="llm", provider="anthropic", endpoint="messages",
                           request=dict(anthropic_req, max_tokens=50, top_k=5), output_text="x"))
    assert [(p["key"], p["op"]) for p in d["params"] if p["op"] != "equal"] == [("top_k", "added"), ("max_tokens", "changed")]


# ------------------------------------------------------------------ outputs and deltas

def test_json_outputs_diff_structurally():
    a = chat([U("hi")], output='{"answer": 4, "steps": ["add"], "meta": {"ok": true}}')
    b = chat([U("hi")], output='```json\n{"answer": 5, "steps": ["add", "check"], "meta": {"ok": true}}\n```')
    out = diff_calls(a, b)["output"]
    assert out["mode"] == "json" and out["op"] == "changed"
    assert out["json"] == [{"path": "$.answer", "op": "changed", "old": 4, "new": 5},
                           {"path": "$.steps[1]", "op": "added", "old": None, "new": "check"}]
    assert any(op == "insert" and "check" in t for op, t in out["text"])  # indented JSON, word diff
    # same JSON with other whitespace and key order is not a change
    same = diff_calls(chat([U("hi")], output='{"a": 1, "b": 2}'), chat([U("hi")], output='{"b":2,"a":1}'))
    assert same["output"]["op"] == "equal" and same["summary"]["same"]
    # one side JSON, the other prose: a text diff
    mixed = diff_calls(chat([U("hi")], output='{"a": 1}'), chat([U("hi")], output="a is 1"))["output"]
    assert mixed["mode"] == "text" and mixed["json"] is None


def test_output_tool_call_arguments_diff_structurally():
    a = chat([U("weather?")], output=None, tool_calls=[
        {"id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris", "units": "C"}'},
        {"id": "call_2", "name": "get_time", "arguments": "{}"}])
    b = chat([U("weather?")], output=None, tool_calls=[
        {"id": "call_X", "name": "get_weather", "arguments": '{"units": "C", "city": "Lyon"}'},
        {"id": "call_Y", "name": "get_news", "arguments": "{}"}])
    out = diff_calls(a, b)["output"]
    assert [c["op"] for c in out["tool_calls"]] == ["changed", "changed"]
    w, n = out["tool_calls"]
    assert w["arguments"] == [{"path": "$.city", "op": "changed", "old": "Paris", "new": "Lyon",
                               "words": [["delete", "Paris"], ["insert", "Lyon"]]}]
    assert n["name_changed"] is True and n["arguments"] == []
    assert out["op"] == "changed"
    text = render_text(diff_calls(a, b))
    assert '$.city: [-"Paris"-] → {+"Lyon"+}' in text and "get_time → get_news" in text
    # a call only on one side; ids alone never count
    b2 = chat([U("weather?")], output=None, tool_calls=[{"id": "zzz", "name": "get_weather", "arguments": '{"city": "Paris", "units": "C"}'}])
    out = diff_calls(a, b2)["output"]
    assert [c["op"] for c in out["tool_calls"]] == ["equal", "removed"]


def test_status_and_error_changes():
    a = chat([U("hi")])
    b = chat([U("hi")], output=None)
    b.status, b.error_type, b.error_message, b.http_status = "error", "RateLimitError", "slow down", 429
    d = diff_calls(a, b)
    st = d["output"]["status"]
    assert st["op"] == "changed" and st["b"]["error_type"] == "RateLimitError" and st["b"]["http_status"] == 429
    assert d["summary"]["status"] is True and "status" in d["summary"]["parts"]
    assert "RateLimitError" in render_text(d)


def test_deltas_and_unknowns():
    a, b = chat([U("hi")]), chat([U("hi")])
    a.input_tokens, b.input_tokens = 100, 80
    a.output_tokens, b.output_tokens = 20, None
    a.cost_usd, b.cost_usd = 0.0001, 0.0003
    a.latency_ms, b.latency_ms = float("nan"), 10.0
    dl = diff_calls(a, b)["deltas"]
    assert dl["input_tokens"] == {"a": 100, "b": 80, "delta": -20}
    assert dl["output_tokens"] == {"a": 20, "b": None, "delta": None}
    assert dl["cost_usd"]["delta"] == pytest.approx(0.0002) and dl["cost_usd"]["delta"] == round(0.0003 - 0.0001, 12)
    assert dl["latency_ms"] == {"a": None, "b": 10.0, "delta": None}


def test_user_spans_diff_their_input_and_output():
    a = Span(kind="tool", name="lookup", input={"q": "refund"}, output={"hits": 2})
    b = Span(kind="tool", name="lookup", input={"q": "refunds"}, output={"hits": 3})
    d = diff_calls(a, b)
    assert [e["op"] for e in d["messages"]] == ["changed"]
    assert d["output"]["json"] == [{"path": "$.hits", "op": "changed", "old": 2, "new": 3}]


# ------------------------------------------------------------------ rendering

HOSTILE = '<img src=x onerror=window.__pwned=1> & <script>alert(1)</script>'


def test_render_text_and_html():
    a = chat([U("hello"), U("one"), U("two"), U("three"), U("Tell me about " + HOSTILE)], temperature=0.2, output="A reply.")
    b = chat([U("hello"), U("one"), U("two"), U("three"), U("Tell me all about " + HOSTILE)], temperature=0.7,
             output="Another reply.", system="You are terse.")
    d = diff_calls(a, b)
    text = render_text(d, "before", "after")
    assert text.startswith("llmdebug diff\n  before · ")
    assert "── System (changed)" in text and "… 4 unchanged messages" in text
    assert "~ #4 user" in text and "{+all +}" in text
    assert "~ temperature: [-0.2-] → {+0.7+}" in text
    assert "[-A-]{+Another+} reply." in text
    html = render_html(d)
    assert "<img" not in html and "<script" not in html
    assert "&lt;img src=x onerror=window.__pwned=1&gt;" in html and "&lt;script&gt;" in html
    assert "<ins " in html and "<del " in html


def test_long_unchanged_runs_are_folded_in_text():
    body = "\n".join(f"line {k}" for k in range(200))
    d = diff_calls(chat([U(body + "\nend A")]), chat([U(body + "\nend B")]))
    text = render_text(d)
    assert "unchanged lines" in text and "line 100" not in text
    assert "[-A-]{+B+}" in text


def test_text_writes_numbers_with_the_shared_formatters():
    from llmdebug import formatting as fmt

    a, b = chat([U("hi")]), chat([U("hi")])
    a.cost_usd, b.cost_usd = 0.0001, 1234.567
    a.latency_ms, b.latency_ms = 840.2, 12_345.0
    b.output_tokens, b.model, b.provider = None, None, None
    text = render_text(diff_calls(a, b))
    side_a, side_b, deltas = text.split("\n")[1:4]
    assert side_a.endswith(f"openai · gpt-4o-mini · ok · 100→20 tok · {fmt.cost(0.0001)} · 840 ms")
    assert side_b.endswith(f"{fmt.MISSING} · {fmt.MISSING} · ok · 100→{fmt.MISSING} tok · $1,234.57 · 12.3 s")
    assert deltas == "  Δ input tokens ±0 · cost +$1,234.57 · latency +11.5 s"
    assert "?" not in side_b and "$0.000100" in side_a
