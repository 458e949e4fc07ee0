"""Plain-text and HTML renderings of traces and cell summaries.

They are what saved notebooks, nbviewer, GitHub, nbval and terminals show, and what
the per-cell summary expands into. Every string that came from a prompt, a response
or a user goes through ``html.escape``: it shows as characters and never runs; bidi
controls and invisible characters in it are written as ``⟨U+XXXX⟩`` (see visible.py);
numbers are written by formatting.py, as the widgets write them.
"""

from __future__ import annotations

import html
from typing import Any

from .. import formatting as fmt
from . import span_scores
from .visible import visible_text

_STATUS = {"ok": "✓", "error": "✗"}


def _label(v: Any) -> str:
    return visible_text(str(v), label=True)


def span_line(row: dict) -> str:
    """One line for a span: status, kind, name, model, duration, tokens, cost, error."""
    bits = [_STATUS.get(row.get("status") or "ok", "?"), f"[{_label(row.get('kind'))}]", _label(row.get("name"))]
    if row.get("model") and row.get("model") == row.get("model"):
        bits.append(f"· {_label(row['model'])}")
    lat = fmt.number(row.get("latency_ms"))
    if lat is not None:
        bits.append(f"· {fmt.duration(lat)}")
    tin, tout = fmt.number(row.get("input_tokens")), fmt.number(row.get("output_tokens"))
    if tin is not None or tout is not None:
        bits.append(f"· {fmt.tokens(tin, tout)} tok")
    cost = fmt.number(row.get("cost_usd"))
    if cost is not None:
        bits.append(f"· {fmt.cost(cost)}")
    retries = fmt.number(row.get("retries")) or 0
    if retries:
        bits.append(f"· {fmt.count(retries)} retr{'y' if retries == 1 else 'ies'}")
    if row.get("scores"):
        bits.append(f"· {span_scores.badge(row['scores'])}")
    if row.get("status") == "error":
        bits.append(f"· {_label(row.get('error_type'))}: {visible_text(str(row.get('error_message') or '')[:120])}")
    elif row.get("_error_inside"):
        bits.append("· ● error inside")
    return " ".join(bits)


SCORE_LINES = 5  # scores listed under a span in the text view; the rest are counted


def score_lines(row: dict, indent: str) -> list[str]:
    """The scores of a span (``row["scores"]``, scores_of items), one line each, under it."""
    items = row.get("scores") or []
    out = [f"{indent}  ◦ {span_scores.describe(s)}" for s in items[:SCORE_LINES]]
    if len(items) > SCORE_LINES:
        out.append(f"{indent}  ◦ … {fmt.count(len(items) - SCORE_LINES)} more (ld.scores(span_id=...))")
    return out


def tree_lines(rows: list[dict]) -> list[str]:
    """Indented lines of one trace's spans, children under their parents, in start order."""
    ids = {r["id"] for r in rows}
    children: dict[Any, list[dict]] = {}
    for r in sorted(rows, key=lambda r: (str(r.get("started_at")), r["id"])):
        parent = r.get("parent_id")
        key = parent if isinstance(parent, str) and parent in ids else None
        children.setdefault(key, []).append(r)
    out: list[str] = []
    by_id = {r["id"]: r for r in rows}
    for r in rows:  # a parent shows that something below it failed
        if r.get("status") == "error":
            p = by_id.get(r.get("parent_id"))
            while p is not None and not p.get("_error_inside"):
                p["_error_inside"] = True
                p = by_id.get(p.get("parent_id"))

    def walk(key: Any, depth: int) -> None:
        for r in children.get(key, []):
            out.append("  " * depth + span_line(r))
            out.extend(score_lines(r, "  " * depth))
            walk(r["id"], depth + 1)

    walk(None, 0)
    return out


def tree_text(rows: list[dict], title: str | None = None) -> str:
    lines = tree_lines(rows)
    return "\n".join(([_label(title)] if title else []) + lines)


def tree_html(rows: list[dict], title: str | None = None) -> str:
    body = html.escape(tree_text(rows, None))
    head = f"<strong>{html.escape(_label(title))}</strong>" if title else ""
    return f'<div class="llmdebug-tree">{head}<pre style="margin:0">{body}</pre></div>'


def summary_line(calls: list[dict]) -> str:
    """The per-cell one-liner: calls, tokens, cost, errors, slowest call."""
    n = len(calls)
    tin = sum(int(fmt.number(c.get("input_tokens")) or 0) for c in calls)
    tout = sum(int(fmt.number(c.get("output_tokens")) or 0) for c in calls)
    costs = [fmt.number(c.get("cost_usd")) for c in calls]
    priced = [c for c in costs if c is not None]
    errors = sum(1 for c in calls if c.get("status") == "error")
    retries = sum(int(fmt.number(c.get("retries")) or 0) for c in calls)
    slowest = max(calls, key=lambda c: fmt.number(c.get("latency_ms")) or 0)
    parts = [f"{fmt.count(n)} LLM call{'s' if n != 1 else ''}", f"{fmt.tokens(tin, tout)} tokens"]
    if priced:
        parts.append(fmt.cost(sum(priced)) + (" (some unpriced)" if len(priced) < n else ""))
    else:
        parts.append("cost unknown")
    parts.append(f"{fmt.count(errors)} error{'s' if errors != 1 else ''}")
    if retries:
        parts.append(f"{fmt.count(retries)} retr{'y' if retries == 1 else 'ies'}")
    lat = fmt.number(slowest.get("latency_ms"))
    if lat is not None:
        parts.append(f"slowest {fmt.duration(lat)} ({_label(slowest.get('model') or slowest.get('name'))})")
    return "llmdebug: " + " · ".join(parts)


class CellSummary:
    """Displayed after a cell that made LLM calls: one line, expanding into the trees."""

    def __init__(self, calls: list[dict], trees: dict[str, list[dict]]):
        self.calls = calls
        self.trees = trees
        self.line = summary_line(calls)

    def __repr__(self) -> str:
        return self.line

    def _repr_html_(self) -> str:
        trees = "".join(tree_html(rows) for rows in self.trees.values())
        return (f'<details class="llmdebug-summary"><summary>{html.escape(self.line)}</summary>'
                f"{trees}</details>")


class TraceText:
    """A trace tree as text and HTML (the fallback of the trace widget)."""

    def __init__(self, rows: list[dict], title: str):
        self.rows = rows
        self.title = title

    def __repr__(self) -> str:
        return tree_text(self.rows, self.title)

    def _repr_html_(self) -> str:
        return tree_html(self.rows, self.title)
