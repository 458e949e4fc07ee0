"""Turning llmdebug on changes nothing the user's program can observe: attributes of the
objects the SDK returns (``response.elapsed`` after a stream), where the SDKs' own
warnings point, and what happens under ``-W error``.

Real SDKs over real HTTP to the fake LLM server; each check runs with and without
llmdebug and compares.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import llmdebug as ld
from llmdebug import _guard

anthropic = pytest.importorskip("anthropic")
openai = pytest.importorskip("openai")

MSGS = [{"role": "user", "content": "Say hello"}]
DEPRECATED = next(iter(__import__("anthropic._data", fromlist=["DEPRECATED_MODELS"]).DEPRECATED_MODELS))


@pytest.fixture(params=["bare", "llmdebug"])
def mode(request, trace_db):
    if request.param == "llmdebug":
        ld.init(trace_db)
    return request.param


# -- response.elapsed after a stream is read (httpx2 reads it from the stream) ----------------
def test_elapsed_after_an_openai_stream(mode, llm_openai_client):
    stream = llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=MSGS, stream=True)
    chunks = list(stream)
    assert chunks
    assert isinstance(stream.response.elapsed, dt.timedelta)


def test_elapsed_after_with_streaming_response_read(mode, llm_openai_client):
    with llm_openai_client.chat.completions.with_streaming_response.create(model="gpt-4o-mini", messages=MSGS,
                                                                       stream=True) as r:
        r.read()
        assert isinstance(r.http_response.elapsed, dt.timedelta)


def test_elapsed_after_an_anthropic_stream_manager(mode, llm_anthropic_client):
    with llm_anthropic_client.messages.stream(model="claude-3-5-haiku-latest", max_tokens=50, messages=MSGS) as s:
        s.get_final_message()
        assert isinstance(s.response.elapsed, dt.timedelta)


def test_elapsed_after_async_streams(mode, llm_async_openai_client, llm_async_anthropic_client):
    async def main():
        stream = await llm_async_openai_client.chat.completions.create(model="gpt-4o-mini", messages=MSGS, stream=True)
        async for _ in stream:
            pass
        first = stream.response.elapsed
        async with llm_async_anthropic_client.messages.stream(model="claude-3-5-haiku-latest", max_tokens=50,
                                                          messages=MSGS) as s:
            await s.get_final_message()
            second = s.response.elapsed
        return first, second

    for value in asyncio.run(main()):
        assert isinstance(value, dt.timedelta)


def test_stream_recorder_forwards_other_attributes(ld_on, llm_openai_client):
    """Anything a user or SDK reads off ``response.stream`` comes from the stream it wraps."""
    with llm_openai_client.chat.completions.with_streaming_response.create(model="gpt-4o-mini", messages=MSGS,
                                                                       stream=True) as r:
        inner_type = type(r.http_response.stream).__name__
        assert inner_type == "SyncRecorder"
        assert r.http_response.stream._start > 0  # httpx2's BoundSyncStream attribute, through the recorder
        r.read()


# -- the SDKs' warnings keep the user's filename and line ----------------------------------------
def _deprecated_call(client):
    return client.messages.create(model=DEPRECATED, max_tokens=20, messages=MSGS)  # the line warnings point at


def _where(w) -> tuple[str, int]:
    return Path(w.filename).name, w.lineno


def test_sdk_warning_points_at_the_callers_line(llm_anthropic_client, trace_db):
    def run():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _deprecated_call(llm_anthropic_client)
        deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
        assert len(deprecations) == 1
        return _where(deprecations[0])

    bare = run()
    ld.init(trace_db)
    assert run() == bare == ("test_transparency.py", _deprecated_call.__code__.co_firstlineno + 1)


def test_async_and_stream_helper_warnings_point_at_the_callers_line(llm_async_anthropic_client, llm_anthropic_client,
                                                                     trace_db):
    async def acall():
        return await llm_async_anthropic_client.messages.create(model=DEPRECATED, max_tokens=20, messages=MSGS)

    def run():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            asyncio.run(acall())
            with llm_anthropic_client.messages.stream(model=DEPRECATED, max_tokens=20, messages=MSGS) as s:
                s.get_final_message()
        return [(_where(w), w.category) for w in caught if issubclass(w.category, DeprecationWarning)]

    results = []
    for on in (False, True):  # one calling line for both: the stream helper's stacklevel reaches past run()
        if on:
            ld.init(trace_db)
        results.append(run())
    assert len(results[0]) == 2
    assert results[1] == results[0]


def test_deprecation_warning_shows_in_main_under_default_filters(llm_server, tmp_path):
    """Python shows a DeprecationWarning by default only when it is attributed to __main__."""
    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        import anthropic
        if sys.argv[1] == "on":
            import llmdebug
            llmdebug.init({str(tmp_path / 'w.db')!r})
        client = anthropic.Anthropic(base_url={llm_server.anthropic_base_url!r}, api_key="sk-ant-x", max_retries=0)
        for _ in range(2):
            client.messages.create(model={DEPRECATED!r}, max_tokens=20, messages={MSGS!r})
    """))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "LLMDEBUG_RAISE_ERRORS")}
    outs = {}
    for flag in ("off", "on"):
        r = subprocess.run([sys.executable, str(script), flag], capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        outs[flag] = [line for line in r.stderr.splitlines() if "DeprecationWarning" in line]
    assert len(outs["off"]) == 1 and "user_script.py:9" in outs["off"][0]  # once per line, at the user's line
    assert outs["on"] == outs["off"]


def test_other_warnings_are_untouched(ld_on):
    def emit():
        warnings.warn("plain", UserWarning, stacklevel=1)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        emit()
    assert _where(caught[0]) == ("test_transparency.py", emit.__code__.co_firstlineno + 1)
    ld.uninstrument()
    assert warnings.warn.__module__ in ("warnings", "_warnings", None) or warnings.warn is not None


def test_uninstrument_restores_warnings_warn(trace_db):
    before = warnings.warn
    ld.init(trace_db)
    assert warnings.warn is not before
    ld.uninstrument()
    assert warnings.warn is before


# -- nothing llmdebug emits raises under an "error" warnings filter -------------------------------
@pytest.fixture
def as_a_user(monkeypatch):
    """The user's configuration: llmdebug's internal errors are swallowed and warned about."""
    monkeypatch.delenv("LLMDEBUG_RAISE_ERRORS", raising=False)
    monkeypatch.setattr(_guard, "_warned", set())


def _boom(*a, **k):
    raise RuntimeError("llmdebug bug (injected)")


def test_capture_fault_under_warnings_as_errors_does_not_reach_the_call(ld_on, llm_openai_client, as_a_user,
                                                                        monkeypatch, caplog):
    import llmdebug.capture._patch as patch_mod

    monkeypatch.setattr(patch_mod, "start_span", _boom)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=MSGS)
    assert r.choices[0].message.content
    assert any("opening an LLM span" in rec.getMessage() for rec in caplog.records)  # said, as a log line


def test_locked_store_under_warnings_as_errors_keeps_the_writer(ld_on, llm_openai_client, as_a_user, monkeypatch):
    import sqlite3

    from llmdebug import session

    monkeypatch.setattr("llmdebug.store.BUSY_TIMEOUT_S", 0.2)
    session.close()
    ld.init(ld_on)
    holder = sqlite3.connect(str(ld_on))
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=MSGS)
            assert ld.flush(5) is False  # locked: waiting in memory
            writer = session.get_store().writer
            assert writer._thread is not None and writer._thread.is_alive()
    finally:
        holder.rollback()
        holder.close()
    assert ld.flush(10) is True
    assert len(ld.calls()) == 1


def test_warnings_as_errors_subprocess(llm_server, tmp_path):
    """``python -W error``: a broken capture path and a locked file change nothing for the user."""
    db = tmp_path / "w.db"
    script = tmp_path / "strict.py"
    script.write_text(textwrap.dedent(f"""
        import sqlite3, openai, llmdebug
        import llmdebug.capture._patch as p
        import llmdebug.store as store
        store.BUSY_TIMEOUT_S = 0.2
        llmdebug.init({str(db)!r})
        client = openai.OpenAI(base_url={llm_server.openai_base_url!r}, api_key="sk-x", max_retries=0)
        real = p.start_span
        p.start_span = lambda *a, **k: 1 / 0
        client.chat.completions.create(model="gpt-4o-mini", messages={MSGS!r})
        p.start_span = real
        holder = sqlite3.connect({str(db)!r})
        holder.execute("BEGIN EXCLUSIVE")
        client.chat.completions.create(model="gpt-4o-mini", messages={MSGS!r})
        assert llmdebug.flush(3) is False
        holder.rollback()
        assert llmdebug.flush(10) is True
        print("stored", len(llmdebug.calls()))
    """))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "LLMDEBUG_RAISE_ERRORS")}
    r = subprocess.run([sys.executable, "-W", "error", str(script)], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "stored 1" in r.stdout
    assert "internal error while opening an LLM span" in r.stderr  # said once, as a log line
