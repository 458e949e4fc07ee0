"""The diff widget's state (what is synced to the browser) and its text fallback, on
calls captured from the real SDKs talking to the fake server. Rendering and clicks:
tests/browser/test_diff_ui.py."""

from __future__ import annotations

import json

import pytest
import traitlets

import llmdebug as ld
from llmdebug.widgets.diff_view import DiffView, diff

HOSTILE = '<img src=x onerror=window.__pwned=1> <script>alert("x")</script> & "quotes"'


@pytest.fixture
def two_calls(ld_on, llm_openai_client):
    """Two OpenAI calls differing in system prompt, one message and temperature."""
    a = llm_openai_client.chat.completions.create(
        model="gpt-4o-mini", temperature=0.2,
        messages=[{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hello"},
                  {"role": "assistant", "content": "Hi!"}, {"role": "user", "content": "What is the capital of France?"}])
    a_span = ld.last()
    b = llm_openai_client.chat.completions.create(
        model="gpt-4o-mini", temperature=0.9,
        messages=[{"role": "system", "content": "You are verbose."}, {"role": "user", "content": "Hello"},
                  {"role": "assistant", "content": "Hi!"}, {"role": "user", "content": "What is the capital of Italy? " + HOSTILE}])
    b_span = ld.last()
    assert a.choices[0].message.content and b.choices[0].message.content
    return a_span, b_span


def test_diff_of_two_captured_calls_by_id(two_calls):
    a, b = two_calls
    w = diff(a.id, b.id[:14])  # a full id and a unique prefix
    assert isinstance(w, DiffView) and w.view == "side" and (w.a_label, w.b_label) == ("A", "B")
    d = w.diff
    assert d["a"]["id"] == a.id and d["b"]["id"] == b.id
    assert d["a"]["provider"] == d["b"]["provider"] == "openai"
    assert d["system"]["op"] == "changed"
    assert ["delete", "terse"] in d["system"]["text"] and ["insert", "verbose"] in d["system"]["text"]
    assert [e["op"] for e in d["messages"]] == ["equal", "equal", "changed"]
    changed = d["messages"][2]
    assert any(op == "delete" and "France" in t for op, t in changed["text"])
    assert any(op == "insert" and "Italy" in t for op, t in changed["text"])
    temp = next(p for p in d["params"] if p["key"] == "temperature")
    assert (temp["op"], temp["old"], temp["new"]) == ("changed", 0.2, 0.9)
    # the fake server quotes the question, so the outputs differ word by word
    assert d["output"]["mode"] == "text" and d["output"]["op"] == "changed"
    assert any(op == "delete" and "France" in t for op, t in d["output"]["text"])
    dl = d["deltas"]
    assert dl["input_tokens"]["a"] == a.input_tokens and dl["input_tokens"]["delta"] == b.input_tokens - a.input_tokens
    assert dl["cost_usd"]["delta"] is not None and dl["latency_ms"]["delta"] is not None
    assert d["summary"]["same"] is False
    assert {"system prompt", "1 message changed", "temperature", "output"} <= set(d["summary"]["parts"])
    # the synced state is plain JSON, with the view switch beside it
    state = w.get_state()
    json.dumps({k: v for k, v in state.items() if k not in ("_esm", "_css")}, allow_nan=False)
    assert state["view"] == "side" and state["diff"]["summary"]["changes"] == d["summary"]["changes"]


def test_diff_accepts_spans_and_calls_rows(two_calls):
    a, b = two_calls
    df = ld.calls()
    from_rows = diff(df.iloc[-2], df.iloc[-1]).diff
    from_spans = diff(a, b).diff
    assert from_rows["a"]["id"] == from_spans["a"]["id"] == a.id
    assert from_rows == from_spans
    assert diff(df, a).diff["a"]["id"] == b.id  # a DataFrame means its newest row
    with pytest.raises(KeyError):
        diff("no-such-id", a)
    with pytest.raises(TypeError):
        diff(12, a)


def test_same_call_twice_is_the_same(ld_on, llm_openai_client):
    for _ in range(2):
        llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "ping"}])
    df = ld.calls()
    d = diff(df.iloc[0], df.iloc[1]).diff
    assert d["summary"]["same"] is True
    assert "same prompt, parameters and output" in repr(diff(df.iloc[0], df.iloc[1]))


def test_view_switch_and_labels_are_synced_traits(two_calls):
    a, b = two_calls
    w = DiffView.from_calls(a, b, a_label="original", b_label="edited", view="unified")
    assert w.get_state()["view"] == "unified" and w.get_state()["a_label"] == "original"
    w.view = "side"  # what the toggle in the browser does
    assert w.view == "side"
    with pytest.raises(traitlets.TraitError):
        w.view = "sideways"
    w.update(b, a)
    assert w.diff["a"]["id"] == b.id
    assert repr(w).splitlines()[1].startswith("  original · ")


def test_text_fallback_escapes_hostile_strings(two_calls):
    a, b = two_calls
    w = diff(a, b)
    data, _ = w._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    text, html = data["text/plain"], data["text/html"]
    assert text.startswith("llmdebug diff\n") and "0x" not in text  # stable for nbval
    assert "── System (changed)" in text and "[-terse-]{+verbose+}" in text
    assert "~ temperature: [-0.2-] → {+0.9+}" in text
    assert HOSTILE in text  # plain text keeps the characters
    assert "<img" not in html and "<script" not in html and "onerror=window.__pwned=1" in html
    assert "&lt;img src=x onerror=window.__pwned=1&gt;" in html and "&lt;script&gt;" in html
    assert html.startswith('<pre class="llmdebug-diff-text llmdebug-static llmdebug-static-diff"')  # marked as a static view
    assert repr(DiffView()) == "llmdebug diff (empty)"


def test_cross_provider_diff_of_openai_and_anthropic_calls(ld_on, llm_openai_client, llm_anthropic_client):
    question = "Summarise the plot of Hamlet."
    llm_openai_client.chat.completions.create(
        model="gpt-4o-mini", max_completion_tokens=64, temperature=0.3,
        messages=[{"role": "system", "content": "You are a literature tutor."}, {"role": "user", "content": question}])
    oa = ld.last()
    llm_anthropic_client.messages.create(
        model="claude-3-5-haiku-latest", max_tokens=128, system="You are a literature tutor.",
        messages=[{"role": "user", "content": question}])
    an = ld.last()
    assert (oa.provider, an.provider) == ("openai", "anthropic")
    w = diff(oa, an)
    d = w.diff
    assert (d["a"]["provider"], d["b"]["provider"]) == ("openai", "anthropic")
    # the system prompt lives in messages on one side and in "system" on the other: equal
    assert d["system"]["op"] == "equal" and d["system"]["a"] == "You are a literature tutor."
    assert [e["op"] for e in d["messages"]] == ["equal"]
    changed = {p["key"]: (p["old"], p["new"]) for p in d["params"] if p["op"] != "equal"}
    assert changed["max_tokens"] == (64, 128)  # max_completion_tokens vs max_tokens
    assert changed["model"] == ("gpt-4o-mini", "claude-3-5-haiku-latest")
    assert changed["temperature"] == (0.3, None)  # sent on one side only
    assert d["output"]["a_text"] and d["output"]["b_text"]
    assert "max_tokens: [-64-] → {+128+}" in repr(w)


def test_text_fallback_draws_bidi_and_invisible_characters_visibly(ld_on, llm_openai_client):
    from llmdebug.widgets.diff_view import visible_diff

    # the prompts differ by one ZWJ only; the second model name holds U+202E
    llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "👨 👩 \u202eok"}])
    a = ld.last()
    llm_openai_client.chat.completions.create(model="gpt-4o-mini\u202e-x",
                                          messages=[{"role": "user", "content": "👨\u200d👩 \u202eok"}])
    b = ld.last()
    w = DiffView.from_calls(a, b, b_label="B\u200b")
    # synced: the real strings (diff_view.js draws them)
    assert w.diff["b"]["model"] == "gpt-4o-mini\u202e-x"
    data, _ = w._repr_mimebundle_()
    for text in (data["text/plain"], data["text/html"]):
        assert "gpt-4o-mini⟨U+202E⟩-x" in text and "B⟨U+200B⟩" in text and "⟨U+202E⟩ok" in text
        assert "\u202e" not in text and "\u200b" not in text
    # a change made only of a ZWJ is shown (label rule), where a ZWJ inside content stays
    assert "{+⟨U+200D⟩+}" in data["text/plain"]
    v = visible_diff({"a": {"model": "m\u200d"}, "output": {"a_text": "👨\u200d👩", "text": [["insert", "\u200c"]]}})
    assert v == {"a": {"model": "m⟨U+200D⟩"}, "output": {"a_text": "👨\u200d👩", "text": [["insert", "⟨U+200C⟩"]]}}
