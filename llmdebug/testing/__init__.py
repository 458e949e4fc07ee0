"""Testing helpers: a deterministic fake OpenAI/Anthropic/Gemini server, cassette replay,
synthetic traffic, and an opt-in pytest plugin.

``FakeLLMServer`` is stdlib-only; ``demo_server()`` is the one a notebook shares across
its cells (and ``demo_db(path)`` its trace file, fresh once per kernel);
``load_cassette`` imports PyYAML when called.

The pytest fixtures (``llm_server``, ``llm_server_env``, ``llm_openai_client``, ...; see
:mod:`llmdebug.testing.pytest_plugin`) load only where a project asks for them, in its
root ``conftest.py``::

    pytest_plugins = ["llmdebug.testing"]

or with ``pytest -p llmdebug.testing``. Installing llmdebug adds nothing to other
projects' pytest runs.
"""

from .cassettes import load_cassette
from .demo import demo_db, demo_server
from .server import FakeLLMServer
from .traffic import simulate_traffic

# Read by pytest only when this package is loaded as a plugin (pytest_plugins or -p):
# it then loads the fixtures module too. Importing llmdebug.testing does not import pytest.
pytest_plugins = ["llmdebug.testing.pytest_plugin"]

__all__ = ["FakeLLMServer", "demo_db", "demo_server", "load_cassette", "simulate_traffic"]
