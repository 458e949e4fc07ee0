"""ld.playground: state, runs (blocking and from the Run button's thread), history and
diffs; the trace tree's Replay… / Compare with… actions."""

import json
import threading
import time

import pytest

import llmdebug as ld
from llmdebug.widgets.playground import Playground

pytestmark = pytest.mark.usefixtures("llm_server_env")


def _failed(llm_openai_client):
    try:
        llm_openai_client.with_options(max_retries=0).chat.completions.create(
            model="gpt-4o-mini-fail-400", temperature=0.7, max_tokens=64,
            messages=[{"role": "system", "content": "Reply in JSON."}, {"role": "user", "content": "List two colours"}])
    except Exception:
        pass
    return ld.last()


def _wait(pred, what: str, limit_s: float = 30.0) -> None:
    """Wait for the Run button's background thread (a deadline, not a speed assertion)."""
    deadline = time.monotonic() + limit_s
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_playground_state_is_the_original_call(ld_on, llm_openai_client):
    bad = _failed(llm_openai_client)
    pg = ld.playground(bad)
    assert isinstance(pg, Playground)
    assert [(m["role"], m["content"], m["locked"]) for m in pg.messages] == [
        ("system", "Reply in JSON.", False), ("user", "List two colours", False)]
    assert pg.params == {"model": "gpt-4o-mini-fail-400", "temperature": 0.7, "max_tokens": 64, "top_p": None,
                         "response_format": None}
    assert len(pg.history) == 1 and pg.history[0]["status"] == "error" and "BadRequestError" in pg.history[0]["error"]
    assert pg.diff == {} and not pg.running and "export default { render }" in pg._diff_esm


def test_run_edits_replays_and_diffs_against_the_original(ld_on, llm_openai_client):
    bad = _failed(llm_openai_client)
    pg = ld.playground(bad.id)
    edited = [dict(m) for m in pg.messages]
    edited[1]["content"] = "List three colours"
    new = pg.run(edited, {"model": "gpt-4o-mini", "temperature": "0", "max_tokens": "64"})
    assert new.status == "ok" and new.replay_of == bad.id and new.model == "gpt-4o-mini"
    req = new.request
    assert req["temperature"] == 0.0 and req["max_tokens"] == 64  # unchanged fields are left alone
    assert req["messages"][1]["content"] == "List three colours"
    assert [h["label"] for h in pg.history] == ["original", "attempt 1"] and pg.history[1]["status"] == "ok"
    assert "three" in pg.history[1]["output_text"]
    # the diff against the original is there, and says what changed
    assert pg.compare == [0, 1] and pg.diff and not pg.diff["summary"]["same"]
    text = repr(pg)
    assert "attempt 1: ok" in text and "gpt-4o-mini" in text
    # response_format is edited as JSON text
    fmt = pg.run(None, {"response_format": '{"type": "json_object"}'})
    assert fmt.request["response_format"] == {"type": "json_object"}
    with pytest.raises(ld.ReplayError, match="response_format must be JSON"):
        pg.run(None, {"response_format": "{oops"})
    # an emptied field removes the parameter
    pg.run(None, {"temperature": ""})
    assert "temperature" not in ld.get(pg.history[-1]["id"]).request
    # any two attempts compare
    pg.compare = [1, 3]
    assert pg.diff and pg.diff != {} and pg.message == ""
    pg.compare = [3, 3]
    assert pg.diff == {}


def test_run_button_replays_on_a_thread_and_the_kernel_stays_free(ld_on, llm_openai_client, llm_server,
                                                                  monkeypatch):
    import llmdebug.widgets.playground as playground_mod

    bad = _failed(llm_openai_client)
    pg = ld.playground(bad)
    replayed_on = []  # the thread each replay ran on
    real_replay = playground_mod.replay

    def replay(*a, **k):
        replayed_on.append(threading.current_thread())
        return real_replay(*a, **k)

    monkeypatch.setattr(playground_mod, "replay", replay)
    # a slow model (400 ms): the trait change returns before the answer, the replay runs beside it
    pg.run_request = {"n": 1, "messages": pg.messages, "params": {"model": "gpt-4o-mini-slow-400"}}
    assert len(pg.history) == 1  # the kernel is free again while the model answers
    _wait(lambda: len(pg.history) == 2 and not pg.running, "the replay")
    assert len(replayed_on) == 1 and replayed_on[0] is not threading.current_thread()
    assert pg.history[1]["status"] == "ok" and pg.history[1]["model"] == "gpt-4o-mini-slow-400"
    # bad input comes back as a message, not an exception in the kernel
    pg.run_request = {"n": 2, "messages": pg.messages, "params": {"temperature": "hot"}}
    _wait(lambda: pg.message != "", "the error message")
    assert "temperature must be a number" in pg.message and len(pg.history) == 2


def test_tool_calls_and_results_are_kept_as_captured(ld_on, llm_openai_client):
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}]
    msgs = [{"role": "user", "content": "look it up"},
            {"role": "assistant", "content": None,
             "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "42"}]
    llm_openai_client.chat.completions.create(model="gpt-4o-mini", tools=tools, messages=msgs)
    pg = ld.playground(ld.last())
    assert [m["locked"] for m in pg.messages] == [False, True, False]
    assert "lookup" in pg.messages[1]["content"]
    edited = [dict(m) for m in pg.messages]
    edited[0]["content"] = "look it up again"
    new = pg.run(edited, {})
    sent = new.request["messages"]
    assert sent[0]["content"] == "look it up again" and sent[1] == msgs[1] and sent[2]["tool_call_id"] == "c1"


def test_playground_refuses_user_spans(ld_on):
    with ld.trace("mine") as t:
        pass
    with pytest.raises(ld.ReplayError, match="not an LLM call"):
        ld.playground(t.trace_id)


def test_trace_tree_actions_open_playground_and_diff(ld_on, llm_openai_client):
    with ld.trace("two calls") as t:
        llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "one"}])
        llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "two"}])
    w = ld.show(t.trace_id)
    data, _ = w._repr_mimebundle_()
    # the tree and the area its actions open widgets in are one output
    box = data["application/vnd.jupyter.widget-view+json"]["model_id"]
    assert box == w._box.model_id and w._box.children == (w, w.actions)
    w.action = {"kind": "replay", "index": 1, "n": 1}
    assert isinstance(w.opened, Playground) and w.opened.original["id"] == w.span_rows()[1]["id"]
    w.action = {"kind": "compare", "a": 1, "b": 2, "n": 2}
    d = w.opened.diff
    assert w.opened.__class__.__name__ == "DiffView" and not d["summary"]["same"]
    assert "one" in json.dumps(d) and "two" in json.dumps(d)
    w.action = {"kind": "replay", "index": 0, "n": 3}  # the trace span itself
    assert "not an LLM call" in w.message


def test_boxes_shown_with_markers_send_back_the_real_characters(ld_on, llm_openai_client):
    from llmdebug.widgets.visible import visible_text

    prompt = "say \u202eolleh\u202c 👨\u200d👩"
    llm_openai_client.chat.completions.create(model="gpt-4o-mini\u200b",
                                          messages=[{"role": "user", "content": prompt}, {"role": "user", "content": "x"}])
    pg = ld.playground(ld.last())
    assert pg.messages[0]["content"] == prompt and pg.params["model"] == "gpt-4o-mini\u200b"  # synced real
    # what playground.js puts in the boxes, and sends back from them
    shown = [dict(m, content=visible_text(m["content"])) for m in pg.messages]
    assert shown[0]["content"] == "say ⟨U+202E⟩olleh⟨U+202C⟩ 👨\u200d👩"
    messages, params = pg.from_browser({"messages": shown, "params": {"model": "gpt-4o-mini⟨U+200B⟩"}})
    assert messages[0]["content"] == prompt and params == {"model": "gpt-4o-mini\u200b"}
    assert pg._changes(params) == {}  # the model shown visibly is the same model
    # an edited box: the markers left in it become the characters, deleted ones are gone
    shown[0]["content"] = "say ⟨U+202E⟩hello 👨\u200d👩"
    shown[1]["content"] = "x\u200b"  # typed as a real character
    shown.append({"role": "user", "content": "new ⟨U+200B⟩", "locked": False, "source": None})
    messages, _ = pg.from_browser({"messages": shown, "params": {}})
    assert [m["content"] for m in messages] == ["say \u202ehello 👨\u200d👩", "x\u200b", "new \u200b"]
    # the Run button's path does this before replaying
    pg.run_request = {"n": 1, "messages": [dict(m) for m in shown[:1]], "params": {"model": "gpt-4o-mini⟨U+200B⟩"}}
    _wait(lambda: len(pg.history) == 2 and not pg.running, "the replay")
    new = ld.get(pg.history[1]["id"])
    assert new.request["messages"][0]["content"] == "say \u202ehello 👨\u200d👩"
    assert new.request["model"] == "gpt-4o-mini\u200b"
    # the text fallback draws them visibly
    text = repr(pg)
    assert "gpt-4o-mini⟨U+200B⟩" in text and "\u202e" not in text and "\u200b" not in text
