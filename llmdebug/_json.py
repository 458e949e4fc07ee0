"""JSON decoding for the writer and the read side: orjson when present (2-3x faster on
SSE streams, where decoding is most of the work), the standard library otherwise.
"""

from __future__ import annotations

import json
from typing import Any

try:
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - orjson is a dependency, but stay importable without it
    _fast_loads = None


def loads(data: bytes | str) -> Any:
    """Like ``json.loads``; raises ValueError on invalid JSON."""
    if _fast_loads is not None:
        try:
            return _fast_loads(data)
        except ValueError:
            pass  # orjson is stricter (NaN, lone surrogate escapes): let json decide
    return json.loads(data)
