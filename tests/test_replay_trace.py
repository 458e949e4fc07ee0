"""ld.replay_trace: an agent function re-run against its captured trace, over the real
SDKs and the fake server: calls before the edited one from the recording, the edited
one and later ones to the model, tools from their recorded outputs or live."""

import json

import pytest

import llmdebug as ld

TOOLS = [{"type": "function", "function": {"name": "lookup_order", "parameters": {
    "type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}]
QUESTION = "Can I get a refund for order 1042?"


class Agent:
    """A tool-using agent: model -> lookup_order -> model, under one trace."""

    def __init__(self, client, model="gpt-4o-mini"):
        self.client, self.model, self.tool_runs = client, model, []

        @ld.traced(name="lookup_order", kind="tool")
        def lookup_order(order_id: str) -> dict:
            self.tool_runs.append(order_id)
            return {"item": "rain jacket", "used": False}

        self.lookup_order = lookup_order

    def __call__(self, question: str, extra_first_call: bool = False) -> str:
        with ld.trace("refund agent"):
            if extra_first_call:
                self.client.chat.completions.create(model=self.model, messages=[{"role": "user", "content": "hi"}])
            messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": question}]
            for _ in range(3):
                reply = self.client.chat.completions.create(model=self.model, messages=messages,
                                                            tools=TOOLS).choices[0].message
                if not reply.tool_calls:
                    return reply.content
                messages.append({"role": "assistant", "content": reply.content,
                                 "tool_calls": [c.model_dump() for c in reply.tool_calls]})
                for c in reply.tool_calls:
                    result = self.lookup_order(**json.loads(c.function.arguments))
                    messages.append({"role": "tool", "tool_call_id": c.id, "content": json.dumps(result)})
            return "gave up"


@pytest.fixture
def recorded(ld_on, llm_openai_client, llm_server):
    agent = Agent(llm_openai_client)
    agent(QUESTION)
    ld.flush()
    trace_id = ld.traces().iloc[-1]["trace_id"]
    calls = ld.calls(trace_id=trace_id)
    assert len(calls) == 2 and agent.tool_runs == ["1042"]
    llm_server.reset()
    agent.tool_runs.clear()
    return agent, trace_id, [ld.get(i) for i in calls["id"]]


def _spans(trace_id):
    return [ld.get(i) for i in ld.spans(trace_id=trace_id)["id"]]


def test_edited_call_goes_to_the_model_earlier_ones_and_tools_come_from_the_recording(recorded, llm_server):
    agent, trace_id, (first, second) = recorded
    new = ld.replay_trace(trace_id, agent, QUESTION, at=second, edits={"system": "Answer in one word."})
    assert new.trace_id != trace_id and new.replay_of == trace_id and new.name == "refund agent"
    # one request reached the server: the edited call, with the edit applied
    assert len(llm_server.requests) == 1
    sent = llm_server.requests[0]["json"]
    assert sent["messages"][0] == {"role": "system", "content": "Answer in one word."}
    assert sent["messages"][-1]["role"] == "tool"
    assert agent.tool_runs == []  # the tool did not run: its recorded output was returned
    kinds = [(s.kind, s.name) for s in _spans(new.trace_id)]
    assert kinds == [("trace", "refund agent"), ("llm", "openai.chat.completions"), ("tool", "lookup_order"),
                     ("llm", "openai.chat.completions")]
    _, c1, tool, c2 = _spans(new.trace_id)
    assert c1.replay_of == first.id and "from-recording" in c1.tags and c1.tool_calls == first.tool_calls
    assert tool.output == {"item": "rain jacket", "used": False} and "from-recording" in tool.tags
    assert c2.replay_of == second.id and "edited" in c2.tags and c2.status == "ok"
    assert c2.messages[0]["content"] == "Answer in one word."  # the stored request is what was sent


def test_without_at_every_call_comes_from_the_recording(recorded, llm_server):
    agent, trace_id, (first, second) = recorded
    new = ld.replay_trace(trace_id, agent, QUESTION)
    assert llm_server.requests == [] and agent.tool_runs == []
    calls = [s for s in _spans(new.trace_id) if s.kind == "llm"]
    assert [c.output_text for c in calls] == [first.output_text, second.output_text]
    assert [c.replay_of for c in calls] == [first.id, second.id]


def test_live_tools_run(recorded, llm_server):
    agent, trace_id, (_, second) = recorded
    ld.replay_trace(trace_id, agent, QUESTION, at=second, edits={"model": "gpt-4o"}, tools="live")
    assert agent.tool_runs == ["1042"]
    assert llm_server.requests[0]["json"]["model"] == "gpt-4o"


def test_edit_of_the_first_call_sends_everything_to_the_model(recorded, llm_server):
    agent, trace_id, (first, _) = recorded
    ld.replay_trace(trace_id, agent, QUESTION, at=first, edits=ld.edit.system("Be brief."), tools="live")
    assert len(llm_server.requests) == 2 and agent.tool_runs == ["1042"]
    assert llm_server.requests[0]["json"]["messages"][0] == {"role": "system", "content": "Be brief."}


def test_an_extra_call_before_the_edited_one_is_a_clear_error(recorded, llm_server):
    agent, trace_id, (_, second) = recorded
    with pytest.raises(ld.ReplayError, match=r"diverged.*LLM call #1 sent another request than the recorded one "
                                             r'\(\w+\): \$\.messages\[0\]\.role changed, was "system", now "user".*strict=False'):
        ld.replay_trace(trace_id, agent, QUESTION, extra_first_call=True, at=second, edits={"model": "gpt-4o"})
    assert llm_server.requests == []


def test_more_calls_than_recorded_before_the_edited_one_is_a_clear_error(recorded, llm_server):
    agent, trace_id, (_, second) = recorded
    def chatty(question):
        with ld.trace("refund agent"):
            for _ in range(3):
                agent.client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])

    with pytest.raises(ld.ReplayError, match="LLM call #3 .*recording has only 2 before the end"):
        ld.replay_trace(trace_id, chatty, QUESTION, strict=False)
    assert llm_server.requests == []


def test_a_tool_called_with_other_arguments_is_a_clear_error(recorded):
    agent, trace_id, _ = recorded

    def other(question):
        with ld.trace("refund agent"):
            agent.lookup_order("9999")

    with pytest.raises(ld.ReplayError, match=r"tool 'lookup_order' was called with \{\"order_id\": \"9999\"\}.*"
                                             r"tools=\"live\""):
        ld.replay_trace(trace_id, other, QUESTION)
    assert agent.tool_runs == []


def test_a_function_that_stops_before_the_edited_call_is_a_clear_error(recorded):
    agent, trace_id, (_, second) = recorded

    def short(question):
        with ld.trace("refund agent"):
            agent.client.chat.completions.create(model="gpt-4o-mini", tools=TOOLS, messages=[
                {"role": "system", "content": "You are terse."}, {"role": "user", "content": question}])

    with pytest.raises(ld.ReplayError, match="made 1 LLM call.*never reached the call to edit"):
        ld.replay_trace(trace_id, short, QUESTION, at=second, edits={"model": "gpt-4o"})


def test_bad_arguments_are_clear_errors(recorded):
    agent, trace_id, (first, _) = recorded
    tool = next(s for s in _spans(trace_id) if s.kind == "tool")
    with pytest.raises(ld.ReplayError, match="is not an LLM call of trace"):
        ld.replay_trace(trace_id, agent, QUESTION, at=tool, edits={"model": "x"})
    with pytest.raises(ld.ReplayError, match="edits= needs at="):
        ld.replay_trace(trace_id, agent, QUESTION, edits={"model": "x"})
    with pytest.raises(ValueError, match="tools= is one of"):
        ld.replay_trace(trace_id, agent, QUESTION, tools="fake")
    with pytest.raises(TypeError, match="needs the agent function"):
        ld.replay_trace(trace_id, "agent")
    with pytest.raises(ld.ReplayError, match="cannot change stream"):
        ld.replay_trace(trace_id, agent, QUESTION, at=first, edits={"stream": True})


def test_a_recorded_error_is_raised_by_the_sdk_again(ld_on, llm_openai_client, llm_server):
    import openai

    def flaky(question):
        with ld.trace("classify"):
            try:
                llm_openai_client.with_options(max_retries=0).chat.completions.create(
                    model="gpt-4o-mini-fail-400", messages=[{"role": "user", "content": question}])
            except openai.BadRequestError as e:
                return f"failed {e.status_code}"
            return "ok"

    flaky("hi")
    ld.flush()
    trace_id = ld.traces().iloc[-1]["trace_id"]
    llm_server.reset()
    new = ld.replay_trace(trace_id, flaky, "hi")
    call = next(s for s in _spans(new.trace_id) if s.kind == "llm")
    assert llm_server.requests == []
    assert (call.status, call.http_status, call.error_type) == ("error", 400, "BadRequestError")


async def test_async_agent(ld_on, llm_async_openai_client, llm_server):
    async def agent(question):
        with ld.trace("async agent"):
            r1 = await llm_async_openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
            r2 = await llm_async_openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": r1.choices[0].message.content}])
            return r2.choices[0].message.content

    await agent("hello")
    ld.flush()
    trace_id = ld.traces().iloc[-1]["trace_id"]
    second = ld.calls(trace_id=trace_id).iloc[-1]["id"]
    llm_server.reset()

    new = await ld.replay_trace(trace_id, agent, "hello", at=second, edits={"model": "gpt-4o"})
    assert len(llm_server.requests) == 1 and llm_server.requests[0]["json"]["model"] == "gpt-4o"
    assert [s.kind for s in _spans(new.trace_id)] == ["trace", "llm", "llm"]


def test_anthropic_agent(ld_on, llm_server):
    import anthropic

    client = anthropic.Anthropic(base_url=llm_server.anthropic_base_url, api_key="sk-ant-fake")

    def agent(question):
        with ld.trace("claude agent"):
            r1 = client.messages.create(model="claude-3-5-haiku-latest", max_tokens=100,
                                        messages=[{"role": "user", "content": question}])
            r2 = client.messages.create(model="claude-3-5-haiku-latest", max_tokens=100, system="Be short.",
                                        messages=[{"role": "user", "content": r1.content[0].text}])
            return r2.content[0].text

    agent("hello")
    ld.flush()
    trace_id = ld.traces().iloc[-1]["trace_id"]
    second = ld.calls(trace_id=trace_id).iloc[-1]["id"]
    llm_server.reset()
    new = ld.replay_trace(trace_id, agent, "hello", at=second, edits={"system": "Be long."})
    assert len(llm_server.requests) == 1 and llm_server.requests[0]["json"]["system"] == "Be long."
    assert new.replay_of == trace_id
    client.close()


def test_litellm_agent(ld_on, llm_server):
    litellm = pytest.importorskip("litellm")

    def agent(question):
        with ld.trace("litellm agent"):
            kw = {"model": "openai/gpt-4o-mini", "api_base": llm_server.openai_base_url, "api_key": "sk-fake"}
            r1 = litellm.completion(messages=[{"role": "user", "content": question}], **kw)
            r2 = litellm.completion(messages=[{"role": "user", "content": r1.choices[0].message.content}], **kw)
            return r2.choices[0].message.content

    agent("hello")
    ld.flush()
    trace_id = ld.traces().iloc[-1]["trace_id"]
    second = ld.calls(trace_id=trace_id).iloc[-1]["id"]
    llm_server.reset()
    # litellm's calls are stored as its keyword arguments; the edit applies to the HTTP body it sends
    new = ld.replay_trace(trace_id, agent, "hello", at=second, edits={"temperature": 0.5})
    assert len(llm_server.requests) == 1 and llm_server.requests[0]["json"]["temperature"] == 0.5
    assert [s.kind for s in _spans(new.trace_id)] == ["trace", "llm", "llm"]


def test_streamed_calls_come_from_the_recording_as_streams(ld_on, llm_openai_client, llm_anthropic_client, llm_server):
    def agent(question):
        with ld.trace("streaming agent"):
            parts = []
            for chunk in llm_openai_client.chat.completions.create(
                    model="gpt-4o-mini", stream=True, stream_options={"include_usage": True},
                    messages=[{"role": "user", "content": question}]):
                parts += [c.delta.content or "" for c in chunk.choices]
            with llm_anthropic_client.messages.stream(model="claude-3-5-haiku-latest", max_tokens=100,
                                                      messages=[{"role": "user", "content": "".join(parts)}]) as s:
                text = s.get_final_text()
            return llm_openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": text}]).choices[0].message.content

    agent("hello")
    ld.flush()
    trace_id = ld.traces().iloc[-1]["trace_id"]
    recorded = [ld.get(i) for i in ld.calls(trace_id=trace_id)["id"]]
    assert [c.stream for c in recorded] == [True, True, False]
    llm_server.reset()
    new = ld.replay_trace(trace_id, agent, "hello", at=recorded[-1],
                          edits={"model": "gpt-4o"})
    assert len(llm_server.requests) == 1  # the two streams came from the recording
    calls = [s for s in _spans(new.trace_id) if s.kind == "llm"]
    assert [c.stream for c in calls] == [True, True, False]
    for old, now in zip(recorded[:2], calls[:2]):
        assert now.output_text == old.output_text and now.output_tokens == old.output_tokens
        assert now.replay_of == old.id and now.status == "ok"


def test_streamed_tool_calls_come_back_whole(ld_on, llm_openai_client, llm_anthropic_client, llm_server):
    anthropic_tools = [{"name": "lookup_order", "input_schema": TOOLS[0]["function"]["parameters"]}]

    def agent(question):
        with ld.trace("streaming tools"):
            calls = {}
            for chunk in llm_openai_client.chat.completions.create(
                    model="gpt-4o-mini", stream=True, tools=TOOLS, messages=[{"role": "user", "content": question}]):
                for c in chunk.choices:
                    for tc in c.delta.tool_calls or []:
                        calls[tc.index] = calls.get(tc.index, "") + (tc.function.arguments or "")
            with llm_anthropic_client.messages.stream(model="claude-3-5-haiku-latest", max_tokens=100,
                                                      tools=anthropic_tools,
                                                      messages=[{"role": "user", "content": question}]) as s:
                final = s.get_final_message()
            return calls, [b.input for b in final.content if b.type == "tool_use"]

    first = agent("order 1042")
    ld.flush()
    trace_id = ld.traces().iloc[-1]["trace_id"]
    llm_server.reset()
    seen = []
    new = ld.replay_trace(trace_id, lambda q: seen.append(agent(q)), "order 1042")
    assert llm_server.requests == [] and seen == [first]
    assert all(c.tool_calls for c in _spans(new.trace_id) if c.kind == "llm")
