"""LiteLLM entry points captured. The SDK call litellm makes underneath (openai,
anthropic) is not captured again: its HTTP attempts attach to the litellm span."""

from ._patch import Endpoint

_COMPLETION = Endpoint("litellm", "completion", None)
_EMBEDDING = Endpoint("litellm", "embedding", None)

TARGETS = [
    ("litellm", "completion", _COMPLETION, "sync"),
    ("litellm", "acompletion", _COMPLETION, "async"),
    ("litellm", "embedding", _EMBEDDING, "sync"),
    ("litellm", "aembedding", _EMBEDDING, "async"),
]
