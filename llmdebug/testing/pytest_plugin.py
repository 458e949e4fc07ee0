"""pytest fixtures for the fake LLM server (registered as the ``llmdebug`` pytest11 plugin).

- ``fake_llm``: a session-wide :class:`FakeLLMServer`, ``reset()`` before each test
  (a cassette loaded by a previous test is unloaded too).
- ``fake_llm_env``: the same server, with ``OPENAI_BASE_URL``/``OPENAI_API_KEY``,
  ``ANTHROPIC_BASE_URL``/``ANTHROPIC_API_KEY`` and ``GOOGLE_GEMINI_BASE_URL``/
  ``GOOGLE_API_KEY`` pointing at it (``GEMINI_API_KEY`` and the Vertex switches unset).
- ``openai_client``, ``async_openai_client``, ``anthropic_client``,
  ``async_anthropic_client``: real SDK clients (``max_retries=2``) aimed at it.
- ``gemini_client`` (a ``google.genai.Client``) and ``async_gemini_client`` (its
  ``.aio``): the SDK's defaults, so no retries (pass ``HttpOptions(retry_options=...)``
  to a client of your own for those); sync over httpx2, async over aiohttp.

Import cost matters (this module loads in every pytest run): stdlib only here,
the server and SDKs are imported inside the fixtures.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest


@pytest.fixture(scope="session")
def _fake_llm_session() -> Iterator[Any]:
    from llmdebug.testing.server import FakeLLMServer

    srv = FakeLLMServer().start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def fake_llm(_fake_llm_session: Any) -> Iterator[Any]:
    """The started session server, with faults, logs and cassette cleared."""
    srv = _fake_llm_session
    srv.load(None)
    srv.reset()
    srv.latency = srv.chunk_delay = 0.0
    yield srv
    srv.load(None)
    srv.reset()


@pytest.fixture
def fake_llm_env(fake_llm: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``fake_llm`` plus the provider env vars the SDKs read by default."""
    monkeypatch.setenv("OPENAI_BASE_URL", fake_llm.openai_base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_llm.anthropic_base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-fake-test")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake_llm.gemini_base_url)
    monkeypatch.setenv("GOOGLE_API_KEY", "fake-gemini-test")
    # GEMINI_API_KEY beside GOOGLE_API_KEY makes the SDK warn; the others switch it to Vertex AI.
    for name in ("GEMINI_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE"):
        monkeypatch.delenv(name, raising=False)
    yield fake_llm


@pytest.fixture
def openai_client(fake_llm: Any) -> Iterator[Any]:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=fake_llm.openai_base_url, api_key="sk-fake-test", max_retries=2)
    yield client
    client.close()


@pytest.fixture
def async_openai_client(fake_llm: Any) -> Iterator[Any]:
    openai = pytest.importorskip("openai")
    # Not closed here: closing needs the event loop the test ran on; it is GC'd with it.
    yield openai.AsyncOpenAI(base_url=fake_llm.openai_base_url, api_key="sk-fake-test", max_retries=2)


@pytest.fixture
def anthropic_client(fake_llm: Any) -> Iterator[Any]:
    anthropic = pytest.importorskip("anthropic")
    client = anthropic.Anthropic(base_url=fake_llm.anthropic_base_url, api_key="sk-ant-fake-test", max_retries=2)
    yield client
    client.close()


@pytest.fixture
def async_anthropic_client(fake_llm: Any) -> Iterator[Any]:
    anthropic = pytest.importorskip("anthropic")
    yield anthropic.AsyncAnthropic(base_url=fake_llm.anthropic_base_url, api_key="sk-ant-fake-test", max_retries=2)


def _gemini(fake_llm: Any) -> Any:
    genai = pytest.importorskip("google.genai")
    return genai.Client(api_key="fake-gemini-test", http_options={"base_url": fake_llm.gemini_base_url})


@pytest.fixture
def gemini_client(fake_llm: Any) -> Iterator[Any]:
    client = _gemini(fake_llm)
    yield client
    client.close()


@pytest.fixture
def async_gemini_client(fake_llm: Any) -> Iterator[Any]:
    # ``client.aio``; not closed here (``await client.aclose()`` needs the test's event loop).
    yield _gemini(fake_llm).aio
