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

Stdlib only at import: the server and the SDKs are imported inside the fixtures.
"""

from __future__ import annotations

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
