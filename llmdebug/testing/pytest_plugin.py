"""pytest fixtures for the fake LLM server. Opt-in: nothing here loads unless a project asks.

Enable it in the ``conftest.py`` at the root of your tests::

    pytest_plugins = ["llmdebug.testing"]

or for one run: ``pytest -p llmdebug.testing``. Every fixture's name starts with ``llm_``:

- ``llm_server``: a session-wide :class:`FakeLLMServer`, ``reset()`` before each test
  (a cassette loaded by a previous test is unloaded too).
- ``llm_server_env``: the same server, with ``OPENAI_BASE_URL``/``OPENAI_API_KEY``,
  ``ANTHROPIC_BASE_URL``/``ANTHROPIC_API_KEY`` and ``GOOGLE_GEMINI_BASE_URL``/
  ``GOOGLE_API_KEY`` pointing at it (``GEMINI_API_KEY`` and the Vertex switches unset).
- ``llm_openai_client``, ``llm_async_openai_client``, ``llm_anthropic_client``,
  ``llm_async_anthropic_client``: real SDK clients (``max_retries=2``) aimed at it.
- ``llm_gemini_client`` (a ``google.genai.Client``) and ``llm_async_gemini_client`` (its
  ``.aio``): the SDK's defaults, so no retries (pass ``HttpOptions(retry_options=...)``
  to a client of your own for those); sync over httpx2, async over aiohttp.

Cassettes (:mod:`llmdebug.cassettes`): ``@pytest.mark.llm_cassette("cassettes/x.json")``
on a test, or the ``llm_cassette`` fixture, runs the test inside a cassette (default file
``cassettes/<module>/<test>.json`` beside the test file). ``--llm-record`` picks the mode:
``none`` (default, or ``$LLMDEBUG_RECORD``): replay only, no network; ``once``: record
the tests whose file is missing; ``new``: replay what is recorded, record the rest;
``all``: re-record everything.

Stdlib only at import: the server, the SDKs and the cassettes are imported inside the fixtures.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterator

import pytest


@pytest.fixture(scope="session")
def _llm_server_session() -> Iterator[Any]:
    from llmdebug.testing.server import FakeLLMServer

    srv = FakeLLMServer().start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def llm_server(_llm_server_session: Any) -> Iterator[Any]:
    """The started session server, with faults, logs and cassette cleared."""
    srv = _llm_server_session
    srv.load(None)
    srv.reset()
    srv.latency = srv.chunk_delay = 0.0
    srv.rate_limits = True  # the default: reported, never enforced
    yield srv
    srv.load(None)
    srv.reset()


@pytest.fixture
def llm_server_env(llm_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``llm_server`` plus the provider env vars the SDKs read by default."""
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.openai_base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", llm_server.anthropic_base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-fake-test")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", llm_server.gemini_base_url)
    monkeypatch.setenv("GOOGLE_API_KEY", "fake-gemini-test")
    # GEMINI_API_KEY beside GOOGLE_API_KEY makes the SDK warn; the others switch it to Vertex AI.
    for name in ("GEMINI_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE"):
        monkeypatch.delenv(name, raising=False)
    yield llm_server


@pytest.fixture
def llm_openai_client(llm_server: Any) -> Iterator[Any]:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=llm_server.openai_base_url, api_key="sk-fake-test", max_retries=2)
    yield client
    client.close()


@pytest.fixture
def llm_async_openai_client(llm_server: Any) -> Iterator[Any]:
    openai = pytest.importorskip("openai")
    # Not closed here: closing needs the event loop the test ran on; it is GC'd with it.
    yield openai.AsyncOpenAI(base_url=llm_server.openai_base_url, api_key="sk-fake-test", max_retries=2)


@pytest.fixture
def llm_anthropic_client(llm_server: Any) -> Iterator[Any]:
    anthropic = pytest.importorskip("anthropic")
    client = anthropic.Anthropic(base_url=llm_server.anthropic_base_url, api_key="sk-ant-fake-test", max_retries=2)
    yield client
    client.close()


@pytest.fixture
def llm_async_anthropic_client(llm_server: Any) -> Iterator[Any]:
    anthropic = pytest.importorskip("anthropic")
    yield anthropic.AsyncAnthropic(base_url=llm_server.anthropic_base_url, api_key="sk-ant-fake-test",
                                   max_retries=2)


def _gemini(server: Any) -> Any:
    genai = pytest.importorskip("google.genai")
    return genai.Client(api_key="fake-gemini-test", http_options={"base_url": server.gemini_base_url})


@pytest.fixture
def llm_gemini_client(llm_server: Any) -> Iterator[Any]:
    client = _gemini(llm_server)
    yield client
    client.close()


@pytest.fixture
def llm_async_gemini_client(llm_server: Any) -> Iterator[Any]:
    # ``client.aio``; not closed here (``await client.aclose()`` needs the test's event loop).
    yield _gemini(llm_server).aio


# -- cassettes ------------------------------------------------------------------------------
# --llm-record -> the cassette mode (a callable of whether the file exists).
_RECORD_MODES = {
    "none": lambda exists: "replay",
    "once": lambda exists: "replay" if exists else "record",
    "new": lambda exists: "auto",
    "all": lambda exists: "record",
}


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("llmdebug", "llmdebug cassettes")
    group.addoption(
        "--llm-record", choices=tuple(_RECORD_MODES), default=None,
        help="LLM cassettes (llm_cassette fixture / mark): none = replay only, offline (default; "
             "$LLMDEBUG_RECORD sets another); once = record a test whose cassette file is missing; "
             "new = replay what is recorded, record the rest; all = re-record everything")


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers", "llm_cassette(path=None, *, ignore=None): run the test inside an llmdebug cassette "
                   "(path relative to the test file; default cassettes/<module>/<test>.json); see --llm-record")


def _record_option(config: Any) -> str:
    value = config.getoption("--llm-record", default=None) or os.environ.get("LLMDEBUG_RECORD") or "none"
    if value not in _RECORD_MODES:
        raise pytest.UsageError(f"LLMDEBUG_RECORD={value!r}: choose one of {', '.join(_RECORD_MODES)}")
    return value


def _cassette_path(request: Any, marked: Any) -> Path:
    base = Path(request.node.path).parent
    path = marked.args[0] if marked is not None and marked.args else (marked.kwargs.get("path") if marked else None)
    if path is None:
        name = re.sub(r"[^\w.-]+", "_", request.node.name).strip("_")
        return base / "cassettes" / Path(request.node.path).stem / f"{name}.json"
    path = Path(path)
    return path if path.is_absolute() else base / path


@pytest.fixture
def llm_cassette(request: Any) -> Iterator[Any]:
    """The test's :class:`llmdebug.cassettes.Cassette`, running for the whole test. Its file
    is the ``llm_cassette`` mark's path, or ``cassettes/<module>/<test>.json`` beside the
    test file; its mode comes from ``--llm-record`` (default ``none``: replay only, and an
    LLM call with no recording fails the test with ``ld.CassetteMiss``)."""
    from llmdebug.cassettes import Cassette

    marked = request.node.get_closest_marker("llm_cassette")
    path = _cassette_path(request, marked)
    mode = _RECORD_MODES[_record_option(request.config)](path.exists())
    ignore = marked.kwargs.get("ignore") if marked is not None else None
    cas = Cassette(path, mode, ignore=ignore)
    cas._missing_ok = True  # a test that makes no call needs no file; a call then says how to record
    with cas:
        yield cas


@pytest.fixture(autouse=True)
def _llm_cassette_mark(request: Any) -> None:
    # A test carrying the mark gets its cassette without asking for the fixture.
    if request.node.get_closest_marker("llm_cassette") is not None:
        request.getfixturevalue("llm_cassette")
