"""Rate-limit headers: how a provider declares its header family, and the parsers they share.

A provider module names its family as ``RATE_LIMITS`` (a :class:`Family`): the headers of
the requests limit and of the tokens limit (several for tokens: the first one the
response carries is read whole, so a limit and its remaining count never come from two
different limits), and how its reset values read (:func:`duration_s` for OpenAI's
``"6m0s"``, :func:`seconds_until` for Anthropic's RFC 3339 times). ``retry-after``
(seconds or an HTTP date) and ``retry-after-ms`` are plain HTTP and read for every family.

Everything here runs on the writer thread, from header values as received (bytes), and
never raises: a value that does not read is None.
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Callable

RETRY_AFTER, RETRY_AFTER_MS = b"retry-after", b"retry-after-ms"
_INT64 = 2 ** 63 - 1  # SQLite's largest integer: anything beyond would fail the whole insert


@dataclass(frozen=True)
class Limit:
    """One limit's headers (lowercase, as bytes): its size, what is left, when it resets."""

    limit: bytes
    remaining: bytes
    reset: bytes


class Family:
    """A provider's rate-limit headers: the requests limit's and the tokens limit's (for each,
    the first of ``limits`` the response carries is read). ``reset(value, at)``: seconds
    from ``at`` (epoch seconds the response arrived) until a limit resets, or None."""

    def __init__(self, requests: tuple[Limit, ...], tokens: tuple[Limit, ...],
                 reset: Callable[[bytes, float], float | None]):
        self.requests, self.tokens, self.reset = requests, tokens, reset
        # (span attributes: limit, remaining, reset; the limits that fill them), worked out once
        self._plan = tuple(((f"ratelimit_limit_{kind}", f"ratelimit_remaining_{kind}", f"ratelimit_reset_{kind}_s"),
                            limits) for kind, limits in (("requests", requests), ("tokens", tokens)))

    def names(self) -> frozenset[bytes]:
        return frozenset(n for lim in self.requests + self.tokens for n in (lim.limit, lim.remaining, lim.reset))

    def read(self, found: dict[bytes, bytes], at: float, out: dict) -> None:
        """Put the span attributes (``ratelimit_*``) the headers ``found`` (name -> value) give into ``out``."""
        for (limit_attr, remaining_attr, reset_attr), limits in self._plan:
            for lim in limits:
                size, left = found.get(lim.limit), found.get(lim.remaining)
                if size is None and left is None:
                    continue
                out[limit_attr] = count(size)
                out[remaining_attr] = count(left)
                value = found.get(lim.reset)
                out[reset_attr] = self.reset(value, at) if value else None
                break


def count(value: bytes | None) -> int | None:
    """A header's whole number (``b"9999"``), or None if it is absent, negative or not one."""
    if value is None:
        return None
    try:
        n = int(value)
    except ValueError:
        return None
    return n if 0 <= n <= _INT64 else None


def _seconds(value: str | bytes) -> float | None:
    try:
        s = float(value)
    except ValueError:
        return None
    return s if math.isfinite(s) and s >= 0 else None


_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9, "d": 86400.0}


def duration_s(value: bytes | str, at: float = 0.0) -> float | None:
    """Seconds of a Go-style duration as OpenAI sends resets: ``"1s"``, ``"6m0s"``,
    ``"120ms"``, ``"1h2m3.5s"`` (a bare number is seconds). ``at`` is not needed: a
    duration counts from the response already."""
    return _duration(value)


@functools.lru_cache(maxsize=512)  # resets repeat ("1s", "6m0s"): each form is read once
def _duration(value: bytes | str) -> float | None:
    text = (value.decode("utf-8", "replace") if isinstance(value, bytes) else value).strip()
    plain = _seconds(text) if text else None
    if plain is not None or not text:
        return plain
    total, i, n = 0.0, 0, len(text)
    while i < n:
        j = i
        while j < n and (text[j].isdigit() or text[j] == "."):
            j += 1
        k = j
        while k < n and not (text[k].isdigit() or text[k] == "."):
            k += 1
        number, unit = _seconds(text[i:j]) if j > i else None, _UNITS.get(text[j:k])
        if number is None or unit is None:
            return None
        total += number * unit
        i = k
    return total if math.isfinite(total) else None


def seconds_until(value: bytes | str, at: float) -> float | None:
    """Seconds from ``at`` until an RFC 3339 time (Anthropic's ``...-reset``), at least 0."""
    try:
        when = _when(value.decode("latin-1") if isinstance(value, bytes) else value)
    except ValueError:
        return None
    return max(0.0, when - at)


@functools.lru_cache(maxsize=512)  # every response of a window names the same reset time
def _when(text: str) -> float:
    when = _dt.datetime.fromisoformat(text.strip())
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return when.timestamp()


def retry_after_s(found: dict[bytes, bytes], at: float) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (read first, as the SDKs do) or ``retry-after``
    (seconds or an HTTP date)."""
    ms = found.get(RETRY_AFTER_MS)
    if ms is not None:
        v = _seconds(ms)
        if v is not None:
            return v / 1000.0
    value = found.get(RETRY_AFTER)
    if value is None:
        return None
    v = _seconds(value)
    if v is not None:
        return v
    try:
        when = parsedate_to_datetime(value.decode("latin-1"))
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return max(0.0, when.timestamp() - at)
