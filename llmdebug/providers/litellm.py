"""LiteLLM: ``completion``, ``acompletion``, ``embedding``, ``aembedding``.

One span per litellm call. The SDK call litellm makes underneath (openai, anthropic, or
plain HTTP) is not captured again: its HTTP attempts attach to the litellm span, and
its response is read in the wire format of the path it went to. The request is
litellm's own OpenAI-style keyword arguments (credentials redacted)."""

from __future__ import annotations

from typing import Any, Callable

from ..pricing import PriceKey
from .base import Endpoint, ProviderError, Target
from .openai import ChatWire, EmbeddingsWire

NAME = "litellm"
SDK = "litellm"
ALIASES = ()
OTEL_NAMES = ("litellm",)

COMPLETION = Endpoint(NAME, "completion", None)
EMBEDDING = Endpoint(NAME, "embedding", None)

TARGETS = [
    Target("litellm", "completion", COMPLETION),
    Target("litellm", "acompletion", COMPLETION, is_async=True),
    Target("litellm", "embedding", EMBEDDING),
    Target("litellm", "aembedding", EMBEDDING, is_async=True),
]


class KwargsWire(ChatWire):
    """litellm's keyword arguments: OpenAI chat shapes (``system`` kept if given)."""

    id = "litellm"


class EmbeddingKwargsWire(EmbeddingsWire):
    id = "litellm-embedding"


WIRES = {w.id: w for w in (KwargsWire(), EmbeddingKwargsWire())}
# Headers litellm passes on that are API versions and feature flags, never credentials:
# kept in the stored ``headers=`` / ``extra_headers=`` (every other value is redacted).
SAFE_HEADERS = frozenset({"anthropic-version", "anthropic-beta", "openai-beta", "openai-organization",
                          "openai-project", "x-stainless-retry-count", "x-stainless-timeout"})
ENDPOINT_WIRES = {"completion": "litellm", "embedding": "litellm-embedding"}
# litellm returns OpenAI-shaped objects: how to read one when no HTTP body was seen.
RESULT_WIRES = {"completion": "openai-chat", "embedding": "openai-embeddings"}
PATHS = ()

# litellm's provider prefixes -> genai-prices provider ids, where the prefix is not an
# id already (genai-prices' own matching maps others, e.g. "together_ai").
_PRICE_PROVIDERS = {
    "azure_openai": "azure", "azure_ai": "azure", "bedrock": "aws", "bedrock_converse": "aws",
    "sagemaker": "aws", "vertex_ai": "google", "vertex_ai_beta": "google", "gemini": "google",
    "google_genai": "google", "xai": "x-ai", "together_ai": "together", "fireworks_ai": "fireworks",
    "mistralai": "mistral", "text-completion-openai": "openai", "chatgpt": "openai",
}
# Prefixes of models run on the user's own hardware: never priced from the public table
# (a local llama is free, not Groq's price); a registered price still applies.
_LOCAL = frozenset({"ollama", "ollama_chat", "vllm", "hosted_vllm", "lm_studio", "lmstudio", "llamafile",
                    "llama.cpp", "llamacpp", "local", "huggingface_local", "xinference", "triton", "oobabooga"})


def adjust(span: Any) -> None:
    pass


def price_key(provider: str | None, model: str) -> PriceKey:
    """``"openai/gpt-4o-mini"``: the prefix is the real provider. Registered prices are
    looked up as captured, then under the mapped and the raw prefix."""
    if "/" not in model:
        return PriceKey(names=((provider, model),), public=(None, model))
    prefix, rest = model.split("/", 1)
    mapped = _PRICE_PROVIDERS.get(prefix, prefix)
    names = ((provider, model), (mapped, rest), (prefix, rest))
    return PriceKey(names=names, public=None if prefix in _LOCAL else (mapped, rest))


def replay_callable(span: Any, client: Any = None, base_url: str | None = None) -> Callable:
    """``litellm.completion``/``embedding``: the stored kwargs keep the call's ``api_base``
    (where it went); ``base_url`` sends it elsewhere."""
    if client is not None:
        raise ProviderError("a litellm call is replayed through litellm itself: leave out client=")
    import litellm

    fn = litellm.embedding if span.endpoint == "embedding" else litellm.completion
    if base_url is None:
        return fn
    return lambda **kw: fn(**{**kw, "api_base": base_url})
