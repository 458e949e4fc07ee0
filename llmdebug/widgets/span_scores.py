"""The scores of a trace's spans as the trace tree shows them, and the feedback it sends.

One place decides how a span's scores read: the badge on its row (thumbs counts, the mean
of its other numeric scores), one line per score (name, value or label, source, comment)
for the tooltip, the detail pane, the text fallback and the static HTML view. The feedback
form of the detail pane (👍 / 👎, a number, a comment) arrives here as one message and is
stored as ``human`` scores through :func:`llmdebug.query.writes.feedback`.
"""

from __future__ import annotations

import math
from typing import Any

from ..formatting import MISSING
from .visible import visible_text

THUMBS = "thumbs"  # the name of a 👍 / 👎 score (value 1/0, label up/down)
RATING = "score"  # the name of the number typed in the form
NOTE = "comment"  # the name of a comment saved with neither thumbs nor number
COMMENT_LIMIT = 2000  # characters of a comment synced to the browser
TIP_COMMENT = 120  # characters of a comment in a one-line description
_THUMB_LABELS = {"up": "👍", "down": "👎"}


def load(span_ids: list[str]) -> dict[str, list[dict]]:
    """``scores_of(span_ids)``, with long comments clipped for the browser."""
    from ..query import scores_of  # here: text.py formats scores without loading the query layer

    out = scores_of(span_ids)
    for items in out.values():
        for s in items:
            c = s.get("comment")
            if isinstance(c, str) and len(c) > COMMENT_LIMIT:
                s["comment"] = c[:COMMENT_LIMIT] + f"… [{len(c) - COMMENT_LIMIT:,} more characters in ld.scores()]"
    return out


def _number(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def value_text(s: dict) -> str:
    """How one score's value reads: 👍 up, 0.8, 4 (good), pass, or – (MISSING) for a bare comment."""
    label, value = s.get("label"), s.get("value")
    if label in _THUMB_LABELS and value is not None:
        return f"{_THUMB_LABELS[label]} {label}"
    shown = visible_text(str(label), label=True) if label is not None else None
    if value is not None and shown:
        return f"{_number(value)} ({shown})"
    if value is not None:
        return _number(value)
    return shown or MISSING


def describe(s: dict) -> str:
    """One line for one score: ``name: value · source · “comment”``."""
    line = f"{visible_text(str(s.get('name')), label=True)}: {value_text(s)} · {s.get('source') or '?'}"
    comment = s.get("comment")
    if comment:
        text = visible_text(" ".join(str(comment).split()))
        line += f" · “{text[:TIP_COMMENT]}{'…' if len(text) > TIP_COMMENT else ''}”"
    if s.get("judge_span_id"):
        line += f" · judge call {str(s['judge_span_id'])[:12]}"
    return line


def badge(items: list[dict]) -> str:
    """The compact summary on a span's row: ``👍2 👎1``, then ``⌀0.83`` (the mean of its other
    numeric scores, when they share one name) and ``+n`` (how many more: labels, or numbers
    of several names, whose scales a mean would mix). The tooltip lists them all."""
    up = sum(1 for s in items if s.get("label") == "up" and s.get("value") is not None)
    down = sum(1 for s in items if s.get("label") == "down" and s.get("value") is not None)
    rest = [s for s in items if s.get("label") not in _THUMB_LABELS or s.get("value") is None]
    numeric = [s for s in rest if s.get("value") is not None and math.isfinite(s["value"])]
    parts = ([f"👍{up}"] if up else []) + ([f"👎{down}"] if down else [])
    if numeric and len({s.get("name") for s in numeric}) == 1:
        parts.append(f"⌀{_number(sum(s['value'] for s in numeric) / len(numeric))}")
        more = len(rest) - len(numeric)
    else:
        more = len(rest)
    if more:
        parts.append(f"+{more}")
    return " ".join(parts)


def tooltip(items: list[dict]) -> str:
    n = len(items)
    return f"{n} score{'s' if n != 1 else ''}:\n" + "\n".join(describe(s) for s in items)


def synced(ids: list[str], by_span: dict[str, list[dict]]) -> dict[str, dict]:
    """The widget's ``span_scores``: {row index: {badge, tip, items}} for the scored spans."""
    out = {}
    for i, sid in enumerate(ids):
        items = by_span.get(sid)
        if items:
            out[str(i)] = {"badge": badge(items), "tip": tooltip(items),
                           "items": [dict(s, text=value_text(s)) for s in items]}
    return out


def _rating(raw: Any) -> float | None:
    """The number typed in the form (a string or a number from the browser), None if empty."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        v = float(raw.strip().replace(",", ".") if isinstance(raw, str) else raw)
    except (TypeError, ValueError):
        raise ValueError(f"score {str(raw)[:40]!r} is not a number") from None
    if not math.isfinite(v):
        raise ValueError(f"score {str(raw)[:40]!r}: give a finite number")
    return v


def save(span_id: str, request: dict) -> str:
    """Store the form's feedback on ``span_id`` as human scores; the line that says what was
    saved. ``request``: ``thumbs`` (True, False or None), ``score`` (a number, or text the
    user typed) and ``comment``; the comment goes with each score saved, or alone (named
    ``comment``) when there is neither thumbs nor number. A ValueError says what is wrong."""
    from ..query.writes import feedback

    thumbs = request.get("thumbs")
    if thumbs is not None and not isinstance(thumbs, bool):
        raise ValueError(f"thumbs={thumbs!r}: true, false or null")
    rating = _rating(request.get("score"))
    comment = str(request.get("comment") or "").strip() or None
    saved = []
    if thumbs is not None:
        feedback(span_id, THUMBS, thumbs, comment)
        saved.append(f"{THUMBS} {'👍' if thumbs else '👎'}")
    if rating is not None:
        feedback(span_id, RATING, rating, comment)
        saved.append(f"{RATING} {_number(rating)}")
    if not saved:
        if comment is None:
            raise ValueError("nothing to save: choose 👍 or 👎, type a score or write a comment")
        feedback(span_id, NOTE, None, comment)
        return "Saved the comment."
    return f"Saved {' and '.join(saved)}{' with the comment' if comment else ''}."
