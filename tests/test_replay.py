"""ld.replay / ld.replay_all / ld.edit over the real SDKs and the fake server."""

import json

import pytest

import llmdebug as ld

pytestmark = pytest.mark.usefixtures("llm_server_env")  # replays read credentials from the environment

SYSTEM = "You are terse."
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}]


def _req(s: ld.Span) -> dict:
    return s.request if isinstance(s.request, dict) else json.loads(s.request)


def _failed_chat(llm_openai_client, model="gpt-4o-mini-fail-400", **extra):
    try:
        llm_openai_client.with_options(max_retries=0).chat.completions.create(
            model=model, temperature=0.3, max_tokens=50, tools=TOOLS, **extra,
            messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": "What is 2+2?"}])
    except Exception:
        pass
    return ld.last()


def test_replay_of_a_failed_call_with_another_model_succeeds_and_links_back(ld_on, llm_openai_client, llm_server):
    bad = _failed_chat(llm_openai_client)
    assert bad.status == "error" and bad.http_status == 400
    new = ld.replay(bad, model="gpt-4o-mini")
    assert new.status == "ok" and new.replay_of == bad.id and new.id != bad.id
    assert new.model == "gpt-4o-mini" and new.tool_calls[0]["name"] == "lookup"  # the fake model calls the tool
    sent = _req(new)
    # everything but the model is the original request
    assert sent["temperature"] == 0.3 and sent["max_tokens"] == 50 and sent["tools"] == TOOLS
    assert sent["messages"] == _req(bad)["messages"]
    # it went through the SDK over HTTP, with the environment's key, and no key was stored
    assert llm_server.requests[-1]["path"].endswith("/chat/completions")
    assert "sk-fake" not in json.dumps(sent)
    # captured like any other call: a new trace, queryable, and the link is in calls()
    df = ld.calls()
    assert df.set_index("id").loc[new.id, "replay_of"] == bad.id


def test_a_replay_that_fails_again_is_returned_not_raised(ld_on, llm_openai_client):
    bad = _failed_chat(llm_openai_client)
    again = ld.replay(bad, temperature=0)
    assert again.status == "error" and again.error_type == "BadRequestError" and again.replay_of == bad.id
    assert _req(again)["temperature"] == 0


def test_edit_helpers(ld_on, llm_openai_client):
    base = _failed_chat(llm_openai_client, model="gpt-4o-mini")
    assert [m["role"] for m in base.messages] == ["system", "user"]

    def sent(**kw):
        return _req(ld.replay(base, **kw))["messages"]

    assert sent(system="Be kind.")[0] == {"role": "system", "content": "Be kind."}
    assert sent(messages=ld.edit.system("Be kind."))[0]["content"] == "Be kind."
    assert sent(messages=ld.edit.message(-1, "What is 3+3?"))[1] == {"role": "user", "content": "What is 3+3?"}
    assert sent(messages=ld.edit.message(1, role="assistant"))[1]["role"] == "assistant"
    assert sent(messages=ld.edit.append("user", "and 4+4?"))[-1] == {"role": "user", "content": "and 4+4?"}
    assert sent(messages=ld.edit.insert(1, "user", "first"))[1:] == [
        {"role": "user", "content": "first"}, {"role": "user", "content": "What is 2+2?"}]
    assert [m["role"] for m in sent(messages=ld.edit.remove(0))] == ["user"]
    assert sent(messages=ld.edit.replace("2+2", "5*5"))[1]["content"] == "What is 5*5?"
    combined = ld.edit.system("S") + ld.edit.replace("2+2", "1+1")
    assert sent(messages=combined) == [{"role": "system", "content": "S"}, {"role": "user", "content": "What is 1+1?"}]
    assert sent(messages=lambda m: m[-1:]) == [{"role": "user", "content": "What is 2+2?"}]
    whole = [{"role": "user", "content": "new conversation"}]
    assert sent(messages=whole) == whole
    with pytest.raises(ld.ReplayError, match="message 5 does not exist"):
        ld.replay(base, messages=ld.edit.message(5, "x"))
    # the original is untouched
    assert ld.get(base.id).messages == base.messages


def test_replay_of_a_stream_streams_and_is_captured(ld_on, llm_openai_client):
    stream = llm_openai_client.chat.completions.create(
        model="gpt-4o-mini", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Count to three."}])
    original_text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    orig = ld.last()
    new = ld.replay(orig)
    assert new.stream and new.status == "ok" and new.replay_of == orig.id
    assert new.output_text == original_text and new.ttft_ms is not None and new.output_tokens
    flat = ld.replay(orig, stream=False)
    assert not flat.stream and flat.output_text == original_text and "stream_options" not in _req(flat)


def test_replay_of_a_responses_api_call_with_a_new_system_prompt(ld_on, llm_openai_client):
    llm_openai_client.responses.create(model="gpt-4o-mini", input="Say hi", instructions="old", max_output_tokens=40)
    orig = ld.last()
    new = ld.replay(orig, system="new instructions", max_tokens=20)
    req = _req(new)
    assert new.status == "ok" and new.endpoint == "responses" and new.replay_of == orig.id
    assert req["instructions"] == "new instructions" and req["max_output_tokens"] == 20
    assert req["input"] == [{"role": "user", "content": "Say hi"}]


def test_replay_of_an_anthropic_call_keeps_system_in_its_place(ld_on, llm_anthropic_client):
    llm_anthropic_client.messages.create(model="claude-3-5-haiku-latest", max_tokens=30, system="old system",
                                     messages=[{"role": "user", "content": "hello"}])
    orig = ld.last()
    new = ld.replay(orig, system="new system", messages=ld.edit.append("assistant", "Hi!") + ld.edit.append("user", "again"))
    req = _req(new)
    assert new.provider == "anthropic" and new.status == "ok" and new.replay_of == orig.id
    assert req["system"] == "new system" and req["max_tokens"] == 30
    assert [m["role"] for m in req["messages"]] == ["user", "assistant", "user"]
    swapped = ld.replay(orig, model="claude-3-5-sonnet-latest")
    assert swapped.model == "claude-3-5-sonnet-latest" and _req(swapped)["system"] == "old system"


def test_replay_of_a_litellm_call(ld_on, llm_server):
    import litellm

    litellm.completion(model="openai/gpt-4o-mini", api_base=llm_server.openai_base_url, api_key="sk-secret-x",
                       messages=[{"role": "user", "content": "via litellm"}])
    orig = ld.last()
    assert orig.provider == "litellm"
    new = ld.replay(orig, messages=ld.edit.message(0, "edited via litellm"))
    assert new.provider == "litellm" and new.status == "ok" and new.replay_of == orig.id
    assert "edited via litellm" in new.output_text
    assert len(ld.calls()) == 2  # litellm's own openai call underneath is not a third row


def test_replay_all_over_a_traces_failures(ld_on, llm_openai_client):
    with ld.trace("batch") as t:
        for q in ("one", "two"):
            try:
                llm_openai_client.with_options(max_retries=0).chat.completions.create(
                    model="gpt-4o-mini-fail-400", messages=[{"role": "user", "content": q}])
            except Exception:
                pass
        llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "fine"}])
    failures = ld.calls(trace_id=t.trace_id, status="error")
    table = ld.replay_all(failures, model="gpt-4o-mini", messages=ld.edit.append("user", "please"))
    assert len(table) == 2 and table["fixed"].all()
    assert list(table["status_before"]) == ["error", "error"] and list(table["status_after"]) == ["ok", "ok"]
    assert table["output_text_after"].str.len().gt(0).all() and table["input_tokens_after"].notna().all()
    for _, row in table.iterrows():
        assert ld.get(row["replay_id"]).replay_of == row["original_id"]
    # filters work too, and a user span in the selection is reported, not raised
    again = ld.replay_all({"trace_id": t.trace_id, "status": "ok"})
    assert len(again) == 1 and again["status_after"].iloc[0] == "ok"
    mixed = ld.replay_all([t.trace_id])
    assert mixed["replay_error"].iloc[0].endswith("only LLM calls can be replayed")


def test_clear_errors_for_what_cannot_be_replayed(ld_on, llm_openai_client, monkeypatch):
    with ld.trace("mine") as t:
        pass
    with pytest.raises(ld.ReplayError, match="not an LLM call"):
        ld.replay(t.trace_id)
    bad = _failed_chat(llm_openai_client, model="gpt-4o-mini")
    monkeypatch.delenv("OPENAI_API_KEY")
    # the client that made the call is alive: the replay goes through it, no key needed
    assert ld.replay(bad).status == "ok"
    # a new client (here: for base_url=) needs the environment's key
    with pytest.raises(ld.ReplayError, match=r"OPENAI_API_KEY is not set.*client=.* to http://127\.0\.0\.1:\d+/v1$"):
        ld.replay(bad, base_url=bad.base_url)
    # an explicit client works without the environment
    import openai

    client = openai.OpenAI(base_url=llm_openai_client.base_url, api_key="sk-explicit")
    assert ld.replay(bad, client=client).status == "ok"
    with pytest.raises(ld.ReplayError, match="sync client"):
        ld.replay(bad, client=openai.AsyncOpenAI(base_url=llm_openai_client.base_url, api_key="k"))
    with pytest.raises(KeyError):
        ld.replay("0000nope")
    from llmdebug import session

    monkeypatch.setattr(session, "enabled", False)
    with pytest.raises(ld.ReplayError, match="capturing is off"):
        ld.replay(bad, client=client)


# -- where a replay goes ------------------------------------------------------------------
@pytest.fixture
def two_servers(monkeypatch):
    """Server A (calls are captured against it) and server B (the environment points at it)."""
    from llmdebug.testing import FakeLLMServer

    with FakeLLMServer() as a, FakeLLMServer() as b:
        monkeypatch.setenv("OPENAI_BASE_URL", b.openai_base_url)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", b.anthropic_base_url)
        yield a, b


def _paths(srv) -> list[str]:
    return [r["path"] for r in srv.requests]


def test_replay_goes_to_the_server_the_call_went_to_not_the_environments(ld_on, two_servers):
    import anthropic
    import openai

    a, b = two_servers
    client = openai.OpenAI(base_url=a.openai_base_url, api_key="sk-a")
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi A"}])
    orig = ld.last()
    assert orig.base_url == a.openai_base_url
    claude = anthropic.Anthropic(base_url=a.anthropic_base_url, api_key="sk-ant-a")
    claude.messages.create(model="claude-3-5-haiku-latest", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    orig_claude = ld.last()
    a.reset()
    # through the client that made the call (alive), so with its key
    assert ld.replay(orig).status == "ok" and ld.replay(orig_claude).status == "ok"
    assert _paths(a) == ["/v1/chat/completions", "/v1/messages"] and b.requests == []
    assert a.requests[0]["headers"]["authorization"] == "REDACTED"  # sent with a key (the fake server hides it)
    # that client closed: a new one for A's URL, with the environment's key
    client.close()
    claude.close()
    a.reset()
    assert ld.replay(orig).status == "ok" and ld.replay(orig_claude).status == "ok"
    assert _paths(a) == ["/v1/chat/completions", "/v1/messages"] and b.requests == []
    # base_url= (or client=) sends it elsewhere
    moved = ld.replay(orig, base_url=b.openai_base_url)
    assert moved.status == "ok" and moved.base_url == b.openai_base_url and _paths(b) == ["/v1/chat/completions"]
    with pytest.raises(ld.ReplayError, match="base_url must be an http"):
        ld.replay(orig, base_url="127.0.0.1:8000")


async def test_a_call_from_an_async_client_replays_with_its_credentials(ld_on, two_servers, monkeypatch):
    import openai

    a, b = two_servers
    monkeypatch.delenv("OPENAI_API_KEY")  # as in a notebook whose client got its key explicitly
    client = openai.AsyncOpenAI(base_url=a.openai_base_url, api_key="sk-a")
    await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi A"}])
    ld.flush()
    orig = ld.last()
    a.reset()
    assert ld.replay(orig).status == "ok" and _paths(a) == ["/v1/chat/completions"] and b.requests == []
    await client.close()


def test_replay_to_a_stopped_server_says_which_and_how_to_go_elsewhere(ld_on, two_servers):
    import threading

    import openai

    a, b = two_servers
    client = openai.OpenAI(base_url=a.openai_base_url, api_key="sk-a", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi A"}])
    orig = ld.last()
    a.stop()
    with pytest.raises(ld.ReplayError) as e:
        ld.replay(orig)
    msg = str(e.value)
    assert msg.startswith(f"could not connect to {a.openai_base_url} (the server call {orig.id[:12]} was captured against)")
    assert "base_url=" in msg and "client=" in msg and b.requests == []
    # the way out it names works
    assert ld.replay(orig, base_url=b.openai_base_url).status == "ok"
    # the playground says the same under its Run button, and raises nothing into the notebook
    pg = ld.playground(orig)
    pg.run_request = {"messages": pg.messages, "params": {}}
    for t in [t for t in threading.enumerate() if t.name == "llmdebug-playground"]:
        t.join()
    assert pg.message.startswith(f"could not connect to {a.openai_base_url}") and len(pg.history) == 1
    # and pointed elsewhere, it runs
    assert ld.playground(orig, base_url=b.openai_base_url).run().status == "ok"
