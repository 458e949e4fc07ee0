"""Normalise provider token-usage blocks into one canonical shape.

``normalize_usage(usage, flavor)`` takes the parsed JSON ``usage`` block of a
provider response (a plain ``dict``, or ``None``) and returns::

    {"input_tokens", "output_tokens", "total_tokens",
     "cached_tokens", "cache_write_tokens", "reasoning_tokens"}

Canonical convention (identical for every provider):

- ``input_tokens``: ALL input tokens, *including* cache reads and cache writes.
  OpenAI's ``prompt_tokens`` / ``input_tokens`` already include cached tokens and
  are used as is; Anthropic reports them separately, so Anthropic's value is
  ``input_tokens + cache_read_input_tokens + cache_creation_input_tokens``.
- ``cached_tokens``: input tokens read from the prompt cache (a subset of input).
- ``cache_write_tokens``: input tokens written to the prompt cache (a subset of
  input; Anthropic ``cache_creation_input_tokens``).
- ``output_tokens``: all output tokens, *including* reasoning tokens (OpenAI
  reports them that way; Anthropic's ``output_tokens`` also includes thinking).
- ``reasoning_tokens``: the reasoning/thinking part of ``output_tokens``.
- ``total_tokens``: ``input_tokens + output_tokens`` (which equals the API's
  own total whenever that total is consistent); the API's total is used
  directly only when a part is missing and the API reported a total.

A value the API did not report is ``None``, never an invented ``0``; ``usage=None``
gives all ``None``. Values that are not ints (strings, floats, bools, negatives,
nested junk) are ignored, i.e. ``None``. This is a plain dict walk: no pydantic,
no SDK objects, cheap enough for the capture hot path.

Flavours:

- ``"openai-chat"``: chat.completions and legacy completions (``prompt_tokens``,
  ``completion_tokens``, ``prompt_tokens_details.cached_tokens``,
  ``completion_tokens_details.reasoning_tokens``; DeepSeek's
  ``prompt_cache_hit_tokens`` as a fallback for cached tokens).
- ``"openai-responses"``: the Responses API (``input_tokens``, ``output_tokens``,
  ``input_tokens_details.cached_tokens``, ``output_tokens_details.reasoning_tokens``).
- ``"openai-embeddings"``: ``prompt_tokens`` only (no output).
- ``"anthropic"``: Messages API (``input_tokens``, ``output_tokens``,
  ``cache_read_input_tokens``, ``cache_creation_input_tokens``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["FLAVORS", "USAGE_KEYS", "normalize_usage"]

USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)
FLAVORS = ("openai-chat", "openai-responses", "openai-embeddings", "anthropic")


def _int(value: Any) -> int | None:
    """An int token count, or None for anything else (bool, float, str, negative, ...)."""
    if type(value) is int:  # excludes bool (a subclass of int)
        return value if value >= 0 else None
    return None


def _get(block: Any, key: str) -> int | None:
    if isinstance(block, dict):
        return _int(block.get(key))
    return None


def _sub(block: Any, key: str) -> Any:
    if isinstance(block, dict):
        sub = block.get(key)
        if isinstance(sub, dict):
            return sub
    return None


def _add(*values: int | None) -> int | None:
    """Sum of the reported values; None only when none was reported."""
    total = None
    for v in values:
        if v is not None:
            total = v if total is None else total + v
    return total


def _empty() -> dict[str, int | None]:
    return dict.fromkeys(USAGE_KEYS)


def _total(inp: int | None, out: int | None, reported: int | None) -> int | None:
    # input + output when both are known (equal to the API's total whenever
    # that total is consistent); the API's total only when a part is missing.
    if inp is not None and out is not None:
        return inp + out
    return reported


def normalize_usage(usage: dict | None, flavor: str) -> dict[str, int | None]:
    """Return the canonical usage dict (see module docstring) for ``usage``.

    Never raises for malformed input; an unknown ``flavor`` raises ValueError
    (a programming error in the caller, not bad data from an API).
    """
    if flavor not in FLAVORS:
        raise ValueError(f"unknown usage flavor {flavor!r}; expected one of {FLAVORS}")
    out = _empty()
    if not isinstance(usage, dict):
        return out

    if flavor == "openai-chat":
        inp = _get(usage, "prompt_tokens")
        outp = _get(usage, "completion_tokens")
        pdet = _sub(usage, "prompt_tokens_details")
        cdet = _sub(usage, "completion_tokens_details")
        cached = _get(pdet, "cached_tokens")
        if cached is None:  # DeepSeek
            cached = _get(usage, "prompt_cache_hit_tokens")
        out["input_tokens"] = inp
        out["output_tokens"] = outp
        out["cached_tokens"] = cached
        out["cache_write_tokens"] = _get(pdet, "cache_write_tokens")
        out["reasoning_tokens"] = _get(cdet, "reasoning_tokens")
        out["total_tokens"] = _total(inp, outp, _get(usage, "total_tokens"))

    elif flavor == "openai-responses":
        inp = _get(usage, "input_tokens")
        outp = _get(usage, "output_tokens")
        idet = _sub(usage, "input_tokens_details")
        odet = _sub(usage, "output_tokens_details")
        out["input_tokens"] = inp
        out["output_tokens"] = outp
        out["cached_tokens"] = _get(idet, "cached_tokens")
        out["cache_write_tokens"] = _get(idet, "cache_write_tokens")
        out["reasoning_tokens"] = _get(odet, "reasoning_tokens")
        out["total_tokens"] = _total(inp, outp, _get(usage, "total_tokens"))

    elif flavor == "openai-embeddings":
        inp = _get(usage, "prompt_tokens")
        out["input_tokens"] = inp
        reported_total = _get(usage, "total_tokens")
        out["total_tokens"] = inp if inp is not None else reported_total

    else:  # anthropic
        uncached = _get(usage, "input_tokens")
        cache_read = _get(usage, "cache_read_input_tokens")
        cache_write = _get(usage, "cache_creation_input_tokens")
        if cache_write is None:
            # Newer responses may carry only the per-TTL breakdown.
            cc = _sub(usage, "cache_creation")
            cache_write = _add(
                _get(cc, "ephemeral_5m_input_tokens"), _get(cc, "ephemeral_1h_input_tokens")
            )
        # input_tokens is required for a meaningful total: with only cache
        # counters we would under-report, so leave it None in that case.
        inp = _add(uncached, cache_read, cache_write) if uncached is not None else None
        outp = _get(usage, "output_tokens")
        out["input_tokens"] = inp
        out["output_tokens"] = outp
        out["cached_tokens"] = cache_read
        out["cache_write_tokens"] = cache_write
        out["reasoning_tokens"] = _get(_sub(usage, "output_tokens_details"), "thinking_tokens")
        out["total_tokens"] = _total(inp, outp, None)

    return out
