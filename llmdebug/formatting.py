"""How every widget and text fallback writes numbers, costs, durations and times.

It sits at the bottom of the layers, so the widgets and the text of lower layers (the diff's
:func:`~llmdebug.diffing.render_text`) write the same. The browser side is ``fmt`` in
``widgets/_format.js`` with the same rules (the tests run both on one table of values), so a
saved notebook's text says what the live widget showed:

- ``MISSING``: ``"–"`` for a value that is not there (None, NaN, pandas' NA, ±inf).
- :func:`count`: ``1,234`` (a whole number, half away from zero).
- :func:`tokens`: ``1,234→567`` (input→output; ``"–"`` when both are missing).
- :func:`cost`: ``$0``, ``$0.000123`` under a cent, ``$0.0123`` under $100, ``$1,234.57``.
- :func:`duration`: ``840 ms``, ``12.3 s`` from 9,999.5 ms on.
- :func:`percent`: ``12.5%`` of a fraction (one decimal unless asked).
- :func:`timestamp`: ``2026-11-26 22:20:32`` in local time, of ISO-8601 text (no zone means
  UTC, as the store writes it) or epoch seconds; other text is returned as it is.

Numbers are rounded the way JavaScript's ``toFixed`` rounds: the exact binary value, ties
away from zero (``Decimal(v).quantize(..., ROUND_HALF_UP)``), never Python's ``round``.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = ["MISSING", "cost", "count", "duration", "number", "percent", "timestamp", "tokens"]

MISSING = "–"
_ISO = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?", re.I)


def number(v: Any) -> float | None:
    """``v`` as a finite float, or None when it is missing (None, NaN, pandas' NA, inf, not a number)."""
    if v is None or isinstance(v, (str, bytes)):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _fixed(v: float, digits: int) -> str:
    """``v`` with ``digits`` decimals and thousands separators, rounded like ``toFixed``."""
    q = Decimal(v or 0.0).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)  # `or`: -0.0 is 0
    return f"{q:,f}"


def count(v: Any) -> str:
    """A whole number: ``1,234``."""
    f = number(v)
    return MISSING if f is None else _fixed(f, 0)


def tokens(input_tokens: Any, output_tokens: Any) -> str:
    """Input→output tokens: ``1,234→567``."""
    if number(input_tokens) is None and number(output_tokens) is None:
        return MISSING
    return f"{count(input_tokens)}→{count(output_tokens)}"


def cost(usd: Any) -> str:
    """US dollars: ``$0``, ``$0.000123``, ``$0.0123``, ``$1,234.57``."""
    f = number(usd)
    if f is None:
        return MISSING
    if f == 0:
        return "$0"
    a = abs(f)
    return f"{'-' if f < 0 else ''}${_fixed(a, 6 if a < 0.01 else 4 if a < 100 else 2)}"


def duration(ms: Any) -> str:
    """Milliseconds: ``840 ms``, ``12.3 s``."""
    f = number(ms)
    if f is None:
        return MISSING
    return f"{_fixed(f / 1000, 1)} s" if abs(f) >= 9999.5 else f"{_fixed(f, 0)} ms"


def percent(fraction: Any, digits: int = 1) -> str:
    """A fraction as a percentage: ``12.5%``."""
    f = number(fraction)
    return MISSING if f is None else f"{_fixed(f * 100, digits)}%"


def timestamp(t: Any, tz: tzinfo | None = None) -> str:
    """Local time (``tz`` if given): ``2026-11-26 22:20:32``."""
    if isinstance(t, str) and t:
        m = _ISO.fullmatch(t.strip())
        if not m or m.group(2).startswith("24"):
            return t
        zone = m.group(3) or "Z"
        zone = "+00:00" if zone.upper() == "Z" else re.sub(r"^([+-]\d{2})(\d{2})$", r"\1:\2", zone)
        try:
            when = datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}{zone}")
        except ValueError:
            return t
        seconds = math.floor(when.timestamp())
    else:
        f = number(t)
        if f is None:
            return MISSING
        seconds = math.floor(f)
    local = datetime.fromtimestamp(seconds, tz) if tz is not None else datetime.fromtimestamp(seconds)
    return f"{local.year:04d}-{local:%m-%d %H:%M:%S}"

