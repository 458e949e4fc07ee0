"""Five frameworks' small agents and chains, against any OpenAI-compatible base URL (the fake
LLM server in tests), shared by tests/test_otel_frameworks.py (run in pytest) and
tests/browser/test_frameworks_trees_ui.py (run in a JupyterLab kernel, which puts tests/ on
``sys.path``). Each framework is imported only when its function is called; nothing here
instruments anything: the caller adds and removes the instrumentation around the run.

Every agent answers ``QUESTION`` with one call of the ``weather`` tool between two model
calls (the fake server calls a tool once, then answers with what it returned).
"""

from __future__ import annotations

import json

import llmdebug as ld

MODEL = "gpt-4o-mini"
QUESTION = "What is the weather in Paris?"
INSTRUCTIONS = "Answer with the weather."
API_KEY = "sk-test"


def weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


TOOLS = [{"type": "function", "function": {"name": "weather", "description": "The weather in a city.",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                          "required": ["city"]}}}]


# -- the OpenAI SDK under an OTel instrumentation (OpenInference's or the official openai-v2) --


def run_tool_loop(client, tracer, name: str = "weather agent") -> list[tuple[int, int]]:
    """A hand-written agent: OTel agent span > chat > tool span > chat; returns the usage."""
    usage = []
    with tracer.start_as_current_span(name, attributes={"openinference.span.kind": "AGENT",
                                                        "input.value": QUESTION}):
        messages = [{"role": "user", "content": QUESTION}]
        r = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
        usage.append((r.usage.prompt_tokens, r.usage.completion_tokens))
        call = r.choices[0].message.tool_calls[0]
        messages.append(r.choices[0].message.model_dump(exclude_none=True))
        with tracer.start_as_current_span("weather", attributes={"openinference.span.kind": "TOOL",
                                                                  "tool.name": "weather"}):
            result = weather(**json.loads(call.function.arguments))
        messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        r = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
        usage.append((r.usage.prompt_tokens, r.usage.completion_tokens))
    return usage


# -- pydantic-ai (its own OTel spans with ``instrument=True``) ----------------------------------


def pydantic_ai_agent(base_url: str):
    """The "forecaster" agent with the weather tool; run it with ``run_sync`` or ``await run``."""
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model = OpenAIChatModel(MODEL, provider=OpenAIProvider(base_url=base_url, api_key=API_KEY))
    agent = Agent(model, instructions=INSTRUCTIONS, name="forecaster")
    agent.instrument = True
    agent.tool_plain(weather)
    return agent


def pydantic_ai_usage(result) -> list[tuple[int, int]]:
    return [(r.usage.input_tokens, r.usage.output_tokens) for r in result.all_messages()
            if getattr(r, "usage", None) is not None]


# -- the OpenAI Agents SDK (its own tracing; llmdebug.otel.agents.TracingProcessor) -----------


def agents_sdk_agent(base_url: str):
    """``(agent, client)``: the "Forecaster" agent on the Responses API, whose weather tool
    opens an llmdebug span inside it; ``await client.close()`` after the run."""
    import agents
    import openai
    from agents.models.openai_responses import OpenAIResponsesModel

    @agents.function_tool
    def weather_tool(city: str) -> str:
        """The weather in a city."""
        with ld.span("lookup", kind="retrieval"):  # an ld span inside the tool nests under it
            return weather(city)

    client = openai.AsyncOpenAI(base_url=base_url, api_key=API_KEY)
    agent = agents.Agent(name="Forecaster", instructions=INSTRUCTIONS, tools=[weather_tool],
                         model=OpenAIResponsesModel(model=MODEL, openai_client=client))
    return agent, client


def agents_sdk_usage(result) -> list[tuple[int, int]]:
    return [(r.usage.input_tokens, r.usage.output_tokens) for r in result.raw_responses]


# -- LangChain (traced by OpenInference's LangChain instrumentation) ---------------------------


def langchain_chain(base_url: str):
    """``(chain, usage)``: the "weather chain" runnable (model, tool, model); ``usage`` fills
    with each model call's (input, output) tokens as the chain runs."""
    from langchain_core.messages import HumanMessage
    from langchain_core.runnables import RunnableLambda
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    weather_tool = tool(weather)
    llm = ChatOpenAI(model=MODEL, base_url=base_url, api_key=API_KEY).bind_tools([weather_tool])
    usage: list[tuple[int, int]] = []

    def answer(question: str) -> str:
        msgs = [HumanMessage(question)]
        ai = llm.invoke(msgs)
        usage.append((ai.usage_metadata["input_tokens"], ai.usage_metadata["output_tokens"]))
        msgs.append(ai)
        msgs.extend(weather_tool.invoke(c) for c in ai.tool_calls)
        final = llm.invoke(msgs)
        usage.append((final.usage_metadata["input_tokens"], final.usage_metadata["output_tokens"]))
        return final.content

    return RunnableLambda(answer).with_config(run_name="weather chain"), usage
