"""trace()/span()/traced(): the tree follows the code, across await, generators and threads."""

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

import llmdebug as ld


def _tree():
    df = ld.spans()
    return {r.name: r for r in df.itertuples()}


def test_nested_spans_and_output():
    with ld.trace("root", user="ana", tags=["demo"]) as t:
        with ld.span("retrieve", kind="retrieval", k=3) as s:
            s.set_output(["doc1", "doc2"])
            with ld.span("inner"):
                pass
    rows = _tree()
    assert pd.isna(rows["root"].parent_id) and rows["root"].kind == "trace" and rows["root"].tags == ["demo"]
    assert rows["retrieve"].parent_id == t.id and rows["retrieve"].kind == "retrieval"
    assert rows["inner"].parent_id == s.id
    assert {r.trace_id for r in rows.values()} == {t.id}
    got = ld.get(s.id)
    assert got.output == ["doc1", "doc2"] and got.attributes == {"k": 3}
    assert ld.get(t.id).attributes == {"user": "ana"}


def test_error_inside_span_is_recorded_and_propagates():
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with ld.trace("fails"):
            raise Boom("bad thing")
    s = ld.spans().iloc[0]
    assert s["status"] == "error" and s["error_type"] == "Boom" and s["error_message"] == "bad thing"


def test_traced_function_coroutine_generator():
    @ld.traced
    def add(a, b=2):
        return a + b

    @ld.traced(name="fetch", kind="tool")
    async def fetch(x):
        await asyncio.sleep(0)
        return x * 2

    @ld.traced
    def gen(n):
        for i in range(n):
            with ld.span(f"step-{i}"):
                pass
            yield i

    @ld.traced
    async def agen(n):
        for i in range(n):
            yield i

    async def collect():
        return [i async for i in agen(3)]

    with ld.trace("root") as t:
        assert add(1) == 3
        assert asyncio.run(fetch(4)) == 8
        assert list(gen(2)) == [0, 1]
        assert asyncio.run(collect()) == [0, 1, 2]
        with ld.span("after"):
            pass
    rows = _tree()
    assert rows["test_traced_function_coroutine_generator.<locals>.add"].parent_id == t.id
    assert ld.get(rows["test_traced_function_coroutine_generator.<locals>.add"].id).input == {"a": 1}
    assert ld.get(rows["test_traced_function_coroutine_generator.<locals>.add"].id).output == 3
    assert rows["fetch"].kind == "tool" and rows["fetch"].parent_id == t.id
    g = rows["test_traced_function_coroutine_generator.<locals>.gen"]
    assert rows["step-0"].parent_id == g.id and rows["step-1"].parent_id == g.id
    # Between yields the generator's span is not current: "after" hangs off the root.
    assert rows["after"].parent_id == t.id


def test_concurrent_tasks_keep_their_own_parent():
    async def worker(i):
        with ld.span(f"w{i}"):
            await asyncio.sleep(0.01 * (3 - i))
            with ld.span(f"w{i}.child"):
                await asyncio.sleep(0)

    async def main():
        with ld.trace("gather"):
            await asyncio.gather(*(worker(i) for i in range(3)))

    asyncio.run(main())
    rows = _tree()
    for i in range(3):
        assert rows[f"w{i}.child"].parent_id == rows[f"w{i}"].id


def test_context_carried_into_threads_with_copy_context():
    def work(i):
        with ld.span(f"thread-{i}"):
            pass

    with ld.trace("threads") as t:
        with ThreadPoolExecutor(2) as pool:
            # copy_context() in the submitting thread: the copy carries the open trace.
            futures = [pool.submit(contextvars.copy_context().run, work, i) for i in range(2)]
            [f.result() for f in futures]
        with ThreadPoolExecutor(1) as pool:
            pool.submit(work, 9).result()  # no context copied: becomes its own trace
    rows = _tree()
    assert rows["thread-0"].parent_id == t.id and rows["thread-1"].parent_id == t.id
    assert pd.isna(rows["thread-9"].parent_id) and rows["thread-9"].trace_id != t.id


async def test_async_with_span():
    async with ld.trace("async-root") as t:
        async with ld.span("child") as c:
            pass
    assert ld.get(c.id).parent_id == t.id


def test_a_traces_tags_reach_its_llm_calls(ld_on, llm_openai_client):
    with ld.trace("tagged", tags=["prod", "eu"]):
        with ld.span("step", tags="inner"):
            llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    call = ld.last()
    assert call.tags == ["prod", "eu", "inner"]
    assert ld.metrics(by="tag")["calls"].to_dict() == {"prod": 1, "eu": 1, "inner": 1}
    assert len(ld.calls(tag="prod")) == 1


# -- traced generators behave as the generators they wrap ------------------------------------
def _accumulator():
    total = 0
    try:
        while True:
            try:
                got = yield total
            except ValueError:
                got = -100  # the generator handles what is thrown in
            total += got or 0
    finally:
        _accumulator.closed = True


def test_traced_generator_forwards_send_throw_and_close(ld_on):
    traced = ld.traced(_accumulator)
    for make in (_accumulator, traced):
        _accumulator.closed = False
        g = make()
        assert next(g) == 0
        assert g.send(5) == 5
        assert g.send(7) == 12
        assert g.throw(ValueError("x")) == -88
        g.close()
        assert _accumulator.closed is True
    ld.flush()
    s = ld.spans(name="_accumulator")
    assert len(s) == 1 and s["status"].iloc[0] == "ok"


def test_traced_generator_return_value_and_errors(ld_on):
    @ld.traced
    def gen():
        x = yield 1
        if x == "boom":
            raise KeyError("boom")
        return "done"

    g = gen()
    next(g)
    with pytest.raises(StopIteration) as stop:
        g.send("fine")
    assert stop.value.value == "done"
    g = gen()
    next(g)
    with pytest.raises(KeyError):
        g.send("boom")
    ld.flush()
    rows = ld.spans(name="test_traced_generator_return_value_and_errors.<locals>.gen")
    assert list(rows["status"]) == ["ok", "error"]


async def _aaccumulator():
    total = 0
    try:
        while True:
            try:
                got = yield total
            except ValueError:
                got = -100
            total += got or 0
    finally:
        _aaccumulator.closed = True


async def test_traced_async_generator_forwards_asend_athrow_and_aclose(ld_on):
    traced = ld.traced(_aaccumulator)
    import inspect

    assert inspect.isasyncgenfunction(traced)
    for make in (_aaccumulator, traced):
        _aaccumulator.closed = False
        g = make()
        assert await g.__anext__() == 0
        assert await g.asend(5) == 5
        assert await g.asend(7) == 12
        assert await g.athrow(ValueError("x")) == -88
        await g.aclose()
        assert _aaccumulator.closed is True
    ld.flush()
    assert len(ld.spans(name="_aaccumulator")) == 1


def test_spans_made_inside_a_traced_generator_step_are_its_children(ld_on):
    @ld.traced
    def outer():
        for i in range(2):
            with ld.span(f"inner {i}"):
                pass
            got = yield i
            assert got == "ack"

    g = outer()
    next(g)
    g.send("ack")
    with pytest.raises(StopIteration):
        g.send("ack")
    ld.flush()
    df = ld.spans()
    parent = df[df["name"].str.endswith("outer")]["id"].iloc[0]
    assert set(df[df["name"].str.startswith("inner")]["parent_id"]) == {parent}
