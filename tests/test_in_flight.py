"""Calls in flight: each LLM call stores how many calls of the process were in flight when
it started, itself included. Concurrency is controlled, never timed: the server holds
each request at a barrier until the expected number of requests have arrived."""

from __future__ import annotations

import asyncio
import gc
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import llmdebug as ld
from llmdebug.capture import _patch
from llmdebug.testing import FakeLLMServer

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")

USER = [{"role": "user", "content": "hello"}]


class BarrierServer(FakeLLMServer):
    """Answers a request only when ``parties`` requests are waiting (then all of them)."""

    def __init__(self, parties: int):
        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=60)

    def handle(self, method, target, headers, raw):
        self.barrier.wait()
        return super().handle(method, target, headers, raw)


def _in_flight() -> list[int]:
    assert ld.flush(10)
    return sorted(ld.calls()["in_flight"].tolist())


def test_one_call_alone_is_one(ld_on, llm_openai_client):
    llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert _in_flight() == [1, 1] and _patch.in_flight() == 0


def test_threads_held_together_count_each_other(ld_on):
    n = 5
    with BarrierServer(n) as srv:
        client = openai.OpenAI(base_url=srv.openai_base_url, api_key="sk-fake", max_retries=0)
        with ThreadPoolExecutor(n) as pool:
            list(pool.map(lambda _: client.chat.completions.create(model="gpt-4o-mini", messages=USER), range(n)))
        client.close()
    # every call had started before any was answered: the k-th to start saw k in flight
    assert _in_flight() == list(range(1, n + 1))
    assert _patch.in_flight() == 0


def test_async_tasks_and_streams_held_together(ld_on):
    n = 4

    async def main(srv):
        async with openai.AsyncOpenAI(base_url=srv.openai_base_url, api_key="sk-fake", max_retries=0) as oa, \
                anthropic.AsyncAnthropic(base_url=srv.anthropic_base_url, api_key="sk-ant", max_retries=0) as an:
            async def streamed():
                async for _ in await oa.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True):
                    pass

            await asyncio.gather(
                oa.chat.completions.create(model="gpt-4o-mini", messages=USER),
                an.messages.create(model="claude-3-5-haiku-latest", max_tokens=20, messages=USER),
                streamed(),
                an.messages.create(model="claude-3-5-haiku-latest", max_tokens=20, messages=USER, stream=True),
            )

    with BarrierServer(n) as srv:
        asyncio.run(main(srv))
    assert _in_flight() == list(range(1, n + 1))


def test_a_semaphore_of_two_caps_them_at_two(ld_on):
    gate = threading.Semaphore(2)

    def call(_):
        with gate:
            return client.chat.completions.create(model="gpt-4o-mini", messages=USER)

    with BarrierServer(2) as srv:  # requests go through in pairs: two are always in flight together
        client = openai.OpenAI(base_url=srv.openai_base_url, api_key="sk-fake", max_retries=0)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(call, range(8)))
        client.close()
    seen = _in_flight()
    assert len(seen) == 8 and max(seen) == 2 and set(seen) <= {1, 2}


def test_a_stream_is_in_flight_until_it_ends_or_is_dropped(ld_on, llm_openai_client):
    first = llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    llm_openai_client.chat.completions.create(model="gpt-4o", messages=USER)  # while the stream is open
    for _ in first:
        pass
    llm_openai_client.chat.completions.create(model="gpt-4o", messages=USER)  # after it ended
    dropped = llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    next(iter(dropped))
    llm_openai_client.chat.completions.create(model="gpt-4o", messages=USER)  # while it is half read
    del dropped
    gc.collect()  # abandoned: its span is closed when it is collected
    llm_openai_client.chat.completions.create(model="gpt-4o", messages=USER)
    assert ld.flush(10)
    calls = ld.calls(model="gpt-4o").sort_values("started_at")
    assert calls["in_flight"].tolist() == [2, 1, 2, 1]
    assert _patch.in_flight() == 0


def test_errors_leave_the_count(ld_on, llm_openai_client):
    with pytest.raises(openai.BadRequestError):
        llm_openai_client.chat.completions.create(model="fake-fail-400", messages=USER)
    llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert _in_flight() == [1, 1] and _patch.in_flight() == 0
