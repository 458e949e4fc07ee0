"""The one duration parser: alert windows (``window="15m"``) and times ago (``since="2h"``)."""

from __future__ import annotations

import datetime as _dt
import math
import numbers
import re
from typing import Any

__all__ = ["seconds", "FORMS"]

UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
FORMS = "seconds as a number (900), a timedelta, or text with a unit: '500ms', '90s', '15m', '2h', '7d', '1w'"
# A unit is required in text: "900" could as well be epoch seconds or a typo.
_TEXT = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d|w)\s*", re.ASCII)


def seconds(value: Any, *, name: str = "duration", allow_zero: bool = False) -> float:
    """``value`` in seconds. Negative, NaN, infinite and (unless ``allow_zero``) zero
    durations are refused: ValueError (TypeError for other types) naming the accepted forms."""
    if isinstance(value, _dt.timedelta):
        secs = value.total_seconds()
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        secs = float(value)
    elif isinstance(value, str):
        m = _TEXT.fullmatch(value)
        if m is None:
            raise ValueError(f"{name}={value!r} is not a duration: give {FORMS}")
        secs = float(m.group(1)) * UNITS[m.group(2)]
    else:
        raise TypeError(f"{name}={value!r} is not a duration: give {FORMS}")
    least = "≥ 0" if allow_zero else "> 0"
    if not math.isfinite(secs) or secs < 0 or (secs == 0 and not allow_zero):
        raise ValueError(f"{name}={value!r}: a duration must be finite and {least}; give {FORMS}")
    return secs
