"""The canonical token usage every provider's reading is turned into.

``{"input_tokens", "output_tokens", "total_tokens", "cached_tokens",
"cache_write_tokens", "reasoning_tokens"}``, the same convention for every provider:

- ``input_tokens``: ALL input tokens, *including* cache reads and cache writes (an API
  that reports them separately, as Anthropic does, has them added);
- ``cached_tokens``: input tokens read from the prompt cache (a subset of input);
- ``cache_write_tokens``: input tokens written to the prompt cache (a subset of input);
- ``output_tokens``: all output tokens, *including* reasoning/thinking tokens (an API
  that reports them separately, as Gemini does, has them added);
- ``reasoning_tokens``: the reasoning/thinking part of ``output_tokens``;
- ``total_tokens``: ``input_tokens + output_tokens``; the API's own total only when a
  part is missing.

A value the API did not report is ``None``, never an invented 0. Values that are not
non-negative ints (strings, floats, bools, junk) count as not reported. A plain dict
walk: no pydantic, no SDK objects.
"""

from __future__ import annotations

from typing import Any

USAGE_KEYS = ("input_tokens", "output_tokens", "total_tokens", "cached_tokens", "cache_write_tokens",
              "reasoning_tokens")


def empty() -> dict[str, int | None]:
    return dict.fromkeys(USAGE_KEYS)


def count(value: Any) -> int | None:
    """An int token count, or None for anything else (bool, float, str, negative, ...)."""
    if type(value) is int:  # excludes bool (a subclass of int)
        return value if value >= 0 else None
    return None


def get(block: Any, key: str) -> int | None:
    return count(block.get(key)) if isinstance(block, dict) else None


def sub(block: Any, key: str) -> Any:
    if isinstance(block, dict):
        inner = block.get(key)
        if isinstance(inner, dict):
            return inner
    return None


def add(*values: int | None) -> int | None:
    """Sum of the reported values; None only when none was reported."""
    total = None
    for v in values:
        if v is not None:
            total = v if total is None else total + v
    return total


def total(inp: int | None, out: int | None, reported: int | None) -> int | None:
    # input + output when both are known (equal to the API's total whenever that total
    # is consistent); the API's total only when a part is missing.
    if inp is not None and out is not None:
        return inp + out
    return reported
