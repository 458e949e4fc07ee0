"""The real anthropic SDK over HTTP to the fake server, with llmdebug capturing."""

import pytest

import llmdebug as ld

anthropic = pytest.importorskip("anthropic")

MSG = [{"role": "user", "content": "Name three rivers."}]
TOOLS = [{"name": "search", "description": "web search",
          "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}]


def test_messages_create(ld_on, llm_anthropic_client):
    m = llm_anthropic_client.messages.create(model="claude-3-5-haiku-latest", max_tokens=100, system="Be terse",
                                         messages=MSG)
    c = ld.last()
    assert c.provider == "anthropic" and c.endpoint == "messages" and c.model == m.model
    assert c.output_text == m.content[0].text
    assert c.input_tokens == m.usage.input_tokens and c.output_tokens == m.usage.output_tokens
    assert c.messages == [{"role": "system", "content": "Be terse"}] + MSG
    assert c.cost_usd and c.cost_usd > 0


def test_stream_true_and_stream_helper(ld_on, llm_anthropic_client):
    events = list(llm_anthropic_client.messages.create(model="claude-3-5-haiku-latest", max_tokens=100,
                                                   messages=MSG, stream=True))
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    c = ld.last()
    assert c.stream and c.output_text == text and c.ttft_ms is not None
    assert c.output_tokens == [e for e in events if e.type == "message_delta"][0].usage.output_tokens

    with llm_anthropic_client.messages.stream(model="claude-3-5-haiku-latest", max_tokens=100, messages=MSG) as s:
        streamed = "".join(s.text_stream)
        final = s.get_final_message()
    c = ld.last()
    assert c.output_text == streamed == final.content[0].text
    assert c.input_tokens == final.usage.input_tokens
    assert len(ld.calls()) == 2


def test_tool_use_plain_and_streamed(ld_on, llm_anthropic_client):
    m = llm_anthropic_client.messages.create(model="claude-3-5-haiku-latest", max_tokens=100, messages=MSG, tools=TOOLS)
    block = [b for b in m.content if b.type == "tool_use"][0]
    c = ld.last()
    assert c.tool_calls[0]["name"] == "search" and c.tool_calls[0]["id"] == block.id
    with llm_anthropic_client.messages.stream(model="claude-3-5-haiku-latest", max_tokens=100, messages=MSG,
                                          tools=TOOLS) as s:
        final = s.get_final_message()
    tool = [b for b in final.content if b.type == "tool_use"][0]
    import json
    assert json.loads(ld.last().tool_calls[0]["arguments"]) == tool.input


async def test_async_create_and_stream(ld_on, llm_async_anthropic_client):
    m = await llm_async_anthropic_client.messages.create(model="claude-3-5-haiku-latest", max_tokens=50, messages=MSG)
    async with llm_async_anthropic_client.messages.stream(model="claude-3-5-haiku-latest", max_tokens=50,
                                                      messages=MSG) as s:
        final = await s.get_final_message()
    df = ld.calls()
    assert list(df["output_text"]) == [m.content[0].text, final.content[0].text]


@pytest.mark.parametrize("model, exc, status", [("fail-400", "BadRequestError", 400),
                                                ("fail-529", "OverloadedError", 529),
                                                ("fail-429", "RateLimitError", 429)])
def test_errors(ld_on, llm_anthropic_client, model, exc, status):
    err_cls = getattr(anthropic, exc, anthropic.APIStatusError)
    with pytest.raises(err_cls) as info:
        llm_anthropic_client.messages.create(model=model, max_tokens=10, messages=MSG)
    c = ld.last()
    assert c.status == "error" and c.http_status == status and c.error_type == type(info.value).__name__
    assert c.retries == (0 if status == 400 else 2)


def test_identical_results_with_and_without(llm_anthropic_client):
    def run():
        out = [llm_anthropic_client.messages.create(model="claude-3-5-haiku-latest", max_tokens=50,
                                                messages=MSG).model_dump()]
        out.append([e.model_dump() for e in llm_anthropic_client.messages.create(
            model="claude-3-5-haiku-latest", max_tokens=50, messages=MSG, stream=True)])
        with llm_anthropic_client.messages.stream(model="claude-3-5-haiku-latest", max_tokens=50, messages=MSG) as s:
            out.append(s.get_final_message().model_dump())
        return out

    bare = run()
    ld.init()
    assert run() == bare
    assert len(ld.calls()) == 3
