"""JSON decoding for the writer and the read side: orjson when present (2-3x faster on
SSE streams, where decoding is most of the work), the standard library otherwise.
"""

from __future__ import annotations

import json
from typing import Any

try:
    from orjson import OPT_SERIALIZE_NUMPY as _NUMPY
    from orjson import dumps as _fast_dumps
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - orjson is a dependency, but stay importable without it
    _fast_loads = _fast_dumps = None

# orjson refuses lone surrogates, so what dumps() returns is always valid UTF-8.
STRICT_UTF8 = _fast_dumps is not None


def loads(data: bytes | str) -> Any:
    """Like ``json.loads``; raises ValueError on invalid JSON."""
    if _fast_loads is not None:
        try:
            return _fast_loads(data)
        except ValueError:
            pass  # orjson is stricter (NaN, lone surrogate escapes): let json decide
    return json.loads(data)


def dumps(obj: Any) -> str:
    """Compact JSON text; raises TypeError or ValueError for what plain JSON cannot hold
    (the caller then falls back to a sanitised copy)."""
    if _fast_dumps is not None:
        return _fast_dumps(obj, option=_NUMPY).decode("utf-8")
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
