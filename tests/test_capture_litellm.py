"""litellm over HTTP to the fake server: one span per litellm call, not two."""

import pytest

import llmdebug as ld

litellm = pytest.importorskip("litellm")

MSG = [{"role": "user", "content": "Say hi"}]


def test_completion_openai_route(ld_on, llm_server):
    r = litellm.completion(model="openai/gpt-4o-mini", api_base=llm_server.openai_base_url, api_key="sk-x",
                           messages=MSG)
    df = ld.calls()
    assert len(df) == 1, "the openai call under litellm must not be captured twice"
    c = ld.last()
    assert c.provider == "litellm" and c.endpoint == "completion"
    assert c.output_text == r.choices[0].message.content
    assert c.input_tokens == r.usage.prompt_tokens
    assert c.request["model"] == "openai/gpt-4o-mini" and c.request["api_key"] == "[llmdebug: redacted]"
    assert c.base_url == llm_server.openai_base_url


def test_completion_anthropic_route_and_stream(ld_on, llm_server):
    r = litellm.completion(model="anthropic/claude-3-5-haiku-latest", api_base=llm_server.anthropic_base_url,
                           api_key="sk-x", messages=MSG, max_tokens=50)
    assert ld.last().output_text == r.choices[0].message.content
    chunks = list(litellm.completion(model="openai/gpt-4o-mini", api_base=llm_server.openai_base_url,
                                     api_key="sk-x", messages=MSG, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    c = ld.last()
    assert c.stream and c.output_text == text
    assert len(ld.calls()) == 2


async def test_acompletion(ld_on, llm_server):
    r = await litellm.acompletion(model="openai/gpt-4o-mini", api_base=llm_server.openai_base_url, api_key="sk-x",
                                  messages=MSG)
    assert ld.last().output_text == r.choices[0].message.content
    assert len(ld.calls()) == 1


def test_error_and_retries(ld_on, llm_server):
    with pytest.raises(Exception) as info:
        litellm.completion(model="openai/fail-400", api_base=llm_server.openai_base_url, api_key="sk-x",
                           messages=MSG)
    c = ld.last()
    assert c.status == "error" and c.error_type == type(info.value).__name__ and c.http_status == 400


async def test_acompletion_stream(ld_on, llm_server):
    stream = await litellm.acompletion(model="openai/gpt-4o-mini", api_base=llm_server.openai_base_url,
                                       api_key="sk-x", messages=MSG, stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    c = ld.last()
    assert c.stream and c.output_text == text and c.ttft_ms is not None
    assert len(ld.calls()) == 1
