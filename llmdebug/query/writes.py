"""The one write of the read side: scores and labels a user attaches to a span."""

from __future__ import annotations

import json
import time
from typing import Any

from ..session import flush, get_store
from ..store.rows import iso
from .records import resolve_span


def feedback(span: Any, name: str, value: Any, comment: str | None = None) -> None:
    """Attach a named score or label to a span (thumbs, eval scores, notes). ``span`` is a
    Span, an id (or unique prefix) or a ``calls()`` row; an unknown span is a KeyError."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"name={name!r}: give the score's name as a non-empty string, e.g. 'thumbs'")
    flush()
    span_id = resolve_span(span, who="ld.feedback()").id
    store = get_store()
    with store.reading() as db:
        db["feedback"].insert(
            {
                "span_id": span_id,
                "name": name,
                "value": value if isinstance(value, str) else json.dumps(value),
                "comment": comment,
                "created_at": iso(time.time()),
            }
        )
