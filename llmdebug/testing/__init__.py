"""Testing helpers: a deterministic fake OpenAI/Anthropic server and cassette replay.

``FakeLLMServer`` is stdlib-only; ``load_cassette`` imports PyYAML when called.
"""

from .cassettes import load_cassette
from .server import FakeLLMServer
from .traffic import simulate_traffic

__all__ = ["FakeLLMServer", "load_cassette", "simulate_traffic"]
