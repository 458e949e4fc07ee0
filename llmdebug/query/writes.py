"""The writes of the read side: scores a user, a code scorer or an LLM judge attaches to
a span (the ``scores`` table; ``ld.feedback`` is a human score)."""

from __future__ import annotations

import math
import numbers
import time
from typing import Any, Iterable

from ..session import flush, get_store
from ..store.rows import iso
from .records import resolve_span

SOURCES = ("human", "code", "llm")
SCORE_FIELDS = ("span_id", "trace_id", "name", "value", "label", "source", "comment", "judge_span_id",
                "experiment_id", "created_at")


def score_value(value: Any) -> tuple[float | None, str | None]:
    """A score's ``(value, label)``: a bool is 1.0/0.0 labelled ``"pass"``/``"fail"``, a
    number is the value, a string is the label, None is neither. Anything else is a
    TypeError (a dict or list is a scorer bug, not a score)."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        return (1.0, "pass") if value else (0.0, "fail")
    if isinstance(value, numbers.Real):
        v = float(value)
        if math.isnan(v) or math.isinf(v):
            raise ValueError(f"score value {value!r}: give a finite number")
        return v, None
    if isinstance(value, str):
        return None, value
    raise TypeError(f"score value {value!r} ({type(value).__name__}): give a number, a bool, a string label or None")


def add_scores(rows: Iterable[dict]) -> int:
    """Insert score rows (dicts with ``SCORE_FIELDS`` keys; ``span_id``, ``name`` and
    ``source`` required) in one transaction; returns how many were written."""
    now = iso(time.time())
    out = []
    for r in rows:
        unknown = set(r) - set(SCORE_FIELDS)
        if unknown:
            raise TypeError(f"unknown score field(s) {sorted(unknown)}; fields are {', '.join(SCORE_FIELDS)}")
        if not isinstance(r.get("name"), str) or not r["name"]:
            raise TypeError(f"name={r.get('name')!r}: give the score's name as a non-empty string, e.g. 'relevance'")
        if r.get("source") not in SOURCES:
            raise ValueError(f"source={r.get('source')!r}: use one of {', '.join(SOURCES)}")
        if not r.get("span_id"):
            raise ValueError("a score needs the span_id it is about")
        out.append(tuple(r.get(f) if f != "created_at" else (r.get(f) or now) for f in SCORE_FIELDS))
    if not out:
        return 0
    store = get_store()
    with store.reading() as db:
        with db.conn:
            db.conn.executemany(f"INSERT INTO scores ({', '.join(SCORE_FIELDS)}) "
                                f"VALUES ({', '.join('?' * len(SCORE_FIELDS))})", out)
    return len(out)


def score(span: Any, name: str, value: Any = None, *, label: str | None = None, source: str = "code",
          comment: str | None = None, judge_span: Any = None, experiment_id: str | None = None) -> None:
    """Attach one score to a span (any source). ``span`` is a Span, an id (or unique
    prefix) or a ``calls()`` row; an unknown span is a KeyError."""
    flush()
    s = resolve_span(span, who="score()")
    v, lab = score_value(value)
    judge = getattr(judge_span, "id", judge_span)
    add_scores([{"span_id": s.id, "trace_id": s.trace_id, "name": name, "value": v, "label": label or lab,
                 "source": source, "comment": comment, "judge_span_id": judge, "experiment_id": experiment_id}])


def feedback(span: Any, name: str, value: Any, comment: str | None = None) -> None:
    """Attach a human score to a span: thumbs (True/False), a number, or a label string.
    ``span`` is a Span, an id (or unique prefix) or a ``calls()`` row; an unknown span is
    a KeyError. Stored in the ``scores`` table with ``source="human"``; ``ld.scores()``
    reads it back."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"name={name!r}: give the score's name as a non-empty string, e.g. 'thumbs'")
    if isinstance(value, bool):
        label = "up" if value else "down"
    else:
        label = None
    score(span, name, value, label=label, source="human", comment=comment)
