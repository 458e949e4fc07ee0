"""The pytest plugin's cassettes: ``@pytest.mark.llm_cassette`` and the ``llm_cassette``
fixture with ``--llm-record=none|once|new|all``, run on small test files with pytester:
record against the fake server, then pass offline with the server stopped."""

from __future__ import annotations

import json

import pytest

from llmdebug.testing import FakeLLMServer

pytest_plugins = ["pytester"]
openai = pytest.importorskip("openai")

SECRET = "sk-pytester-secret-0123456789"
TESTS = f"""
import os
import openai
import pytest


def ask(text):
    c = openai.OpenAI(base_url=os.environ["CASSETTE_TEST_URL"], api_key="{SECRET}", max_retries=0)
    return c.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": text}}])


@pytest.mark.llm_cassette("cassettes/hello.json")
def test_marked():
    assert "PROMPT" in ask("PROMPT").choices[0].message.content


def test_fixture(llm_cassette):
    assert "fixture" in ask("fixture").choices[0].message.content
    assert llm_cassette.path.name == "test_fixture.json"


@pytest.mark.llm_cassette
def test_no_call():
    pass
"""


@pytest.fixture
def project(pytester, monkeypatch):
    monkeypatch.delenv("LLMDEBUG_RECORD", raising=False)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_it=TESTS.replace("PROMPT", "hello"))
    return pytester


def _run(pytester, *args, url):
    import os

    os.environ["CASSETTE_TEST_URL"] = url
    try:
        return pytester.runpytest_inprocess("-p", "llmdebug.testing", "-p", "no:cacheprovider", *args)
    finally:
        del os.environ["CASSETTE_TEST_URL"]


def test_record_once_then_replay_offline(project):
    srv = FakeLLMServer().start()
    url = srv.openai_base_url
    try:
        r = _run(project, url=url)  # none (default): no recordings yet, so the calls fail
        r.assert_outcomes(passed=1, failed=2)
        out = r.stdout.str()
        assert "CassetteMiss" in out and "there is no cassette file at" in out and "--llm-record=once" in out

        _run(project, "--llm-record=once", url=url).assert_outcomes(passed=3)
    finally:
        srv.stop()
    hello = project.path / "cassettes" / "hello.json"
    fixture = project.path / "cassettes" / "test_it" / "test_fixture.json"
    assert hello.is_file() and fixture.is_file()
    empty = project.path / "cassettes" / "test_it" / "test_no_call.json"  # recorded, with nothing in it
    assert json.loads(empty.read_text())["interactions"] == []
    for f in (hello, fixture):
        assert SECRET not in f.read_text()

    # The server is gone: the suite passes from the cassettes alone.
    _run(project, url=url).assert_outcomes(passed=3)
    _run(project, "--llm-record=once", url=url).assert_outcomes(passed=3)  # files exist: replayed

    # The test changes its prompt: the miss shows the recorded request and the diff.
    project.makepyfile(test_it=TESTS.replace("PROMPT", "goodbye"))
    r = _run(project, url=url)
    r.assert_outcomes(passed=2, failed=1)
    out = r.stdout.str()
    assert "closest recorded request: #1 POST /v1/chat/completions" in out
    assert '-      "content": "hello"' in out and '+      "content": "goodbye"' in out


def test_new_and_all(project):
    with FakeLLMServer() as srv:
        url = srv.openai_base_url
        _run(project, "--llm-record=all", url=url).assert_outcomes(passed=3)
        hello = project.path / "cassettes" / "hello.json"
        assert len(json.loads(hello.read_text())["interactions"]) == 1

        project.makepyfile(test_it=TESTS.replace("PROMPT", "goodbye"))
        _run(project, "--llm-record=new", url=url).assert_outcomes(passed=3)  # the new request is added
        bodies = [i["request"]["json"]["messages"][0]["content"] for i in json.loads(hello.read_text())["interactions"]]
        assert bodies == ["hello", "goodbye"]

        _run(project, "--llm-record=all", url=url).assert_outcomes(passed=3)  # re-recorded: only this run's
        bodies = [i["request"]["json"]["messages"][0]["content"] for i in json.loads(hello.read_text())["interactions"]]
        assert bodies == ["goodbye"]
    _run(project, url=url).assert_outcomes(passed=3)


def test_env_default_and_bad_values(project, monkeypatch):
    with FakeLLMServer() as srv:
        monkeypatch.setenv("LLMDEBUG_RECORD", "once")
        _run(project, url=srv.openai_base_url).assert_outcomes(passed=3)
    monkeypatch.setenv("LLMDEBUG_RECORD", "sometimes")
    r = _run(project, url="http://127.0.0.1:9")
    assert "LLMDEBUG_RECORD='sometimes'" in r.stdout.str() + r.stderr.str()
    monkeypatch.delenv("LLMDEBUG_RECORD")
    r = _run(project, "--llm-record=maybe", url="http://127.0.0.1:9")
    assert r.ret != 0 and "invalid choice" in r.stderr.str()
