"""Two traces compared span by span: which calls changed, were added or dropped.

Spans are aligned on (depth, kind, name) in start order (a longest common subsequence,
as difflib does for lines); each aligned pair is "equal" or "changed", the rest "added"
(only in b) or "dropped" (only in a). JSON-safe, like :func:`diff_calls`::

    {"version": 1,
     "a": TRACE, "b": TRACE,   # trace_id, root_id, name, status, replay_of, spans, calls, errors,
                               # input_tokens, output_tokens, cost_usd, latency_ms
     "rows": [{"op": "equal"|"changed"|"added"|"dropped", "kind", "name", "depth",
               "a": SPAN|None, "b": SPAN|None,   # id, model, status, error_type, tokens, cost, latency, output
               "changes": [str]}],               # what differs: "output", "request", "status", ...
     "summary": {op: count, "calls_changed": int}}
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from .. import query
from ..tracing import Span

__all__ = ["diff_traces", "render_trace_text", "TOTALS"]

TOTALS = ("spans", "calls", "errors", "input_tokens", "output_tokens", "cost_usd", "latency_ms")
_SPAN_FIELDS = ("id", "model", "status", "error_type", "input_tokens", "output_tokens", "cost_usd", "latency_ms")


def _canonical(v: Any) -> str:
    return json.dumps(v, sort_keys=True, default=str, ensure_ascii=False)


def _spans(trace_id: str, root_id: str | None) -> list[tuple[int, Span]]:
    """(depth, span with payload) of a trace, or the subtree under ``root_id``, in start order."""
    rows = query.span_rows(trace_id=trace_id)
    depth: dict[str, int] = {}
    for r in rows:  # start order: a parent starts before its children
        depth[r["id"]] = depth[r["parent_id"]] + 1 if r["parent_id"] in depth else 0
    if root_id is not None:
        inside = {root_id}
        for r in rows:
            if r["parent_id"] in inside:
                inside.add(r["id"])
        base = depth.get(root_id, 0)
        return [(depth[r["id"]] - base, query.get(r["id"])) for r in rows if r["id"] in inside]
    return [(depth[r["id"]], query.get(r["id"])) for r in rows]


def _side(s: Span) -> dict:
    d = {f: getattr(s, f) for f in _SPAN_FIELDS}
    out = s.output_text if s.kind == "llm" else s.output
    d["output"] = out if isinstance(out, str) or out is None else _canonical(out)
    if s.kind == "llm" and s.tool_calls:
        d["tool_calls"] = [f"{c.get('name')}({c.get('arguments')})" for c in s.tool_calls if isinstance(c, dict)]
    return d


def _changes(a: Span, b: Span) -> list[str]:
    found = []
    if a.kind == "llm":
        if _canonical(a.messages) != _canonical(b.messages):
            found.append("messages")
        if (a.model, a.request_model) != (b.model, b.request_model):
            found.append("model")
        ra, rb = (r if isinstance(r, dict) else {} for r in (a.request, b.request))
        rest = lambda r: {k: v for k, v in r.items() if k not in ("messages", "model", "system", "input")}  # noqa: E731
        if _canonical(rest(ra)) != _canonical(rest(rb)):
            found.append("parameters")
        if (a.output_text or "") != (b.output_text or ""):
            found.append("output")
        if _canonical([(c.get("name"), c.get("arguments")) for c in a.tool_calls or [] if isinstance(c, dict)]) != \
                _canonical([(c.get("name"), c.get("arguments")) for c in b.tool_calls or [] if isinstance(c, dict)]):
            found.append("tool calls")
    else:
        if _canonical(a.input) != _canonical(b.input):
            found.append("input")
        if _canonical(a.output) != _canonical(b.output):
            found.append("output")
    if (a.status, a.error_type) != (b.status, b.error_type):
        found.append("status")
    return found


def _totals(root: Span, spans: list[tuple[int, Span]]) -> dict:
    calls = [s for _, s in spans if s.kind == "llm"]

    def total(f: str) -> Any:
        vals = [getattr(s, f) for s in calls if getattr(s, f) is not None]
        return sum(vals) if vals else None

    return {"trace_id": root.trace_id, "root_id": root.id, "name": root.name, "status": root.status,
            "replay_of": root.replay_of, "spans": len(spans), "calls": len(calls),
            "errors": sum(1 for _, s in spans if s.status == "error"),
            "input_tokens": total("input_tokens"), "output_tokens": total("output_tokens"),
            "cost_usd": total("cost_usd"), "latency_ms": root.latency_ms}


def resolve(x: Any, who: str = "ld.diff()") -> tuple[str, str | None]:
    """(trace id, subtree root id or None for the whole trace) of what a user passed."""
    tid, sid = query.resolve_trace(x, who=who)
    if sid is not None:
        s = query.get(sid)
        if s.parent_id is None:
            sid = None
    return tid, sid


def diff_traces(a: Any, b: Any) -> dict:
    """The comparison of two traces (trace ids, ``traces()`` rows, root spans such as
    ``replay_trace`` returns; a non-root span means its subtree)."""
    query.flush()
    sides = []
    for x in (a, b):
        tid, sid = resolve(x)
        spans = _spans(tid, sid)
        if not spans:
            raise LookupError(f"trace {tid[:12]} has no spans")
        sides.append((spans[0][1], spans))
    (root_a, sa), (root_b, sb) = sides
    key = lambda item: (item[0], item[1].kind, item[1].name)  # noqa: E731
    rows = []
    matcher = difflib.SequenceMatcher(None, [key(x) for x in sa], [key(x) for x in sb], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for (depth, x), (_, y) in zip(sa[i1:i2], sb[j1:j2]):
                ch = _changes(x, y)
                rows.append({"op": "changed" if ch else "equal", "kind": x.kind, "name": x.name, "depth": depth,
                             "a": _side(x), "b": _side(y), "changes": ch})
            continue
        for depth, x in sa[i1:i2]:
            rows.append({"op": "dropped", "kind": x.kind, "name": x.name, "depth": depth, "a": _side(x), "b": None,
                         "changes": []})
        for depth, y in sb[j1:j2]:
            rows.append({"op": "added", "kind": y.kind, "name": y.name, "depth": depth, "a": None, "b": _side(y),
                         "changes": []})
    summary = {op: sum(1 for r in rows if r["op"] == op) for op in ("equal", "changed", "added", "dropped")}
    summary["calls_changed"] = sum(1 for r in rows if r["kind"] == "llm" and r["op"] != "equal")
    return {"version": 1, "a": _totals(root_a, sa), "b": _totals(root_b, sb), "rows": rows, "summary": summary}


_MARK = {"equal": " ", "changed": "~", "added": "+", "dropped": "-"}


def _num(f: str, v: Any) -> str:
    if v is None:
        return "—"
    if f == "cost_usd":
        return f"${v:.6f}"
    if f == "latency_ms":
        return f"{v:,.0f} ms"
    return f"{v:,}"


def render_trace_text(d: dict, a_label: str = "A", b_label: str = "B") -> str:
    """A plain-text trace diff: totals side by side, then one line per aligned span."""
    a, b = d["a"], d["b"]
    lines = [f"llmdebug trace diff: {a_label} {a['name']} ({a['trace_id'][:12]}) vs "
             f"{b_label} {b['name']} ({b['trace_id'][:12]})",
             f"  {'':<14}{a_label:>16}{b_label:>16}"]
    for f in TOTALS:
        lines.append(f"  {f:<14}{_num(f, a[f]):>16}{_num(f, b[f]):>16}")
    s = d["summary"]
    lines.append(f"  spans: {s['changed']} changed, {s['added']} added, {s['dropped']} dropped, {s['equal']} unchanged")
    for r in d["rows"]:
        side = r["b"] or r["a"]
        what = f" ({', '.join(r['changes'])})" if r["changes"] else ""
        model = f" {side['model']}" if side.get("model") else ""
        lines.append(f"{_MARK[r['op']]} {'  ' * r['depth']}{r['kind']} {r['name']}{model} {r['op']}{what}")
    return "\n".join(lines)
