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


@dataclass(frozen=True)
class Family:
    """A provider's rate-limit headers. ``reset(value, at)``: seconds from ``at`` (epoch
    seconds the response arrived) until the limit resets, or None."""

    requests: tuple[Limit, ...]
    tokens: tuple[Limit, ...]
    reset: Callable[[str, float], float | None]

    def names(self) -> frozenset[bytes]:
        return frozenset(n for lim in self.requests + self.tokens for n in (lim.limit, lim.remaining, lim.reset))

    def read(self, found: dict[bytes, bytes], at: float) -> dict:
        """Span attributes (``ratelimit_*``) from the headers ``found`` (name -> value)."""
        out: dict = {}
        for kind, limits in (("requests", self.requests), ("tokens", self.tokens)):
            lim = next((x for x in limits if x.remaining in found or x.limit in found), None)
            if lim is None:
                continue
            out[f"ratelimit_limit_{kind}"] = count(found.get(lim.limit))
            out[f"ratelimit_remaining_{kind}"] = count(found.get(lim.remaining))
            value = found.get(lim.reset)
            out[f"ratelimit_reset_{kind}_s"] = self.reset(value.decode("latin-1"), at) if value else None
        return out


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


def duration_s(value: str, at: float = 0.0) -> float | None:
    """Seconds of a Go-style duration as OpenAI sends resets: ``"1s"``, ``"6m0s"``,
    ``"120ms"``, ``"1h2m3.5s"`` (a bare number is seconds). ``at`` is not needed: a
    duration counts from the response already."""
    return _duration(value)


@functools.lru_cache(maxsize=512)  # resets repeat ("1s", "6m0s"): each form is read once
def _duration(value: str) -> float | None:
    text = value.strip()
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


def seconds_until(value: str, at: float) -> float | None:
    """Seconds from ``at`` until an RFC 3339 time (Anthropic's ``...-reset``), at least 0."""
    try:
        when = _dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return max(0.0, when.timestamp() - at)


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
