"""Messages aligned by role and position (:func:`diff_messages`) and tool calls paired by
name (:func:`tool_call_diffs`). Tool call ids are ignored: they differ on every run and
between providers."""

from __future__ import annotations

import json
from collections import defaultdict, deque
from difflib import SequenceMatcher
from typing import Any

from .structure import canon, json_diff, parse_json, pretty
from .text import word_diff

__all__ = ["diff_messages", "tool_call_diffs"]


def _call_key(c: dict) -> tuple:
    ok, v = parse_json(c.get("arguments"))
    return (c.get("name"), canon(v) if ok else str(c.get("arguments") or ""))


def _message_key(m: dict) -> tuple:
    return (m["role"], m["text"], tuple(_call_key(c) for c in m.get("tool_calls") or []))


def _norm_call(c: Any) -> dict:
    if not isinstance(c, dict):
        return {"id": None, "name": None, "arguments": str(c)}
    args = c.get("arguments")
    if args is not None and not isinstance(args, str):
        args = json.dumps(args, ensure_ascii=False, default=str)
    return {"id": c.get("id"), "name": c.get("name"), "arguments": args or ""}


def tool_call_diffs(a_calls: list, b_calls: list) -> list[dict]:
    """Tool calls paired by name in order (then by position), arguments compared as JSON."""
    a_calls = [_norm_call(c) for c in a_calls or []]
    b_calls = [_norm_call(c) for c in b_calls or []]
    sm = SequenceMatcher(None, [c["name"] for c in a_calls], [c["name"] for c in b_calls], autojunk=False)
    out = []
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        pairs = (i2 - i1) if tag == "equal" else min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for k in range(pairs):
            out.append(_tool_call_pair(a_calls[i1 + k], b_calls[j1 + k]))
        for i in range(i1 + pairs, i2):
            out.append({"op": "removed", "a": a_calls[i], "b": None, "name_changed": False,
                        "arguments": None, "arguments_text": None})
        for j in range(j1 + pairs, j2):
            out.append({"op": "added", "a": None, "b": b_calls[j], "name_changed": False,
                        "arguments": None, "arguments_text": None})
    return out


def _tool_call_pair(a: dict, b: dict) -> dict:
    name_changed = a["name"] != b["name"]
    ok_a, va = parse_json(a["arguments"])
    ok_b, vb = parse_json(b["arguments"])
    if ok_a and ok_b:
        changes = json_diff(va, vb)
        same = not changes
        text = None if same and not name_changed else word_diff(pretty(va), pretty(vb))
    else:
        changes = None
        same = a["arguments"] == b["arguments"]
        text = None if same and not name_changed else word_diff(a["arguments"], b["arguments"])
    op = "equal" if same and not name_changed else "changed"
    return {"op": op, "a": a, "b": b, "name_changed": name_changed, "arguments": changes,
            "arguments_text": text}


def _message_entry(op: str, ia: int | None, ib: int | None, a: dict | None, b: dict | None) -> dict:
    e = {"op": op, "a_index": ia, "b_index": ib, "a": a, "b": b, "role_changed": False, "text": None,
         "tool_calls": []}
    if op == "changed":
        e["role_changed"] = a["role"] != b["role"]
        e["text"] = word_diff(a["text"], b["text"])
        e["tool_calls"] = tool_call_diffs(a["tool_calls"], b["tool_calls"])
    return e


def diff_messages(ma: list[dict], mb: list[dict]) -> list[dict]:
    """Align two message lists (``providers.chat_messages`` shape) into entries in ``b``'s
    order: equal, changed, added, removed, and moved (a removed message equal to one
    added elsewhere: a reordering). Inside a replaced block, messages pair up by role
    first, then by position (a pair with different roles is a role change)."""
    ka, kb = [_message_key(m) for m in ma], [_message_key(m) for m in mb]
    ops = SequenceMatcher(None, ka, kb, autojunk=False).get_opcodes()
    pool: dict[tuple, deque] = defaultdict(deque)
    for tag, i1, i2, _, _ in ops:
        if tag != "equal":
            for i in range(i1, i2):
                pool[ka[i]].append(i)
    moved_from: dict[int, int] = {}  # b index -> a index
    for tag, _, _, j1, j2 in ops:
        if tag != "equal":
            for j in range(j1, j2):
                if pool.get(kb[j]):
                    moved_from[j] = pool[kb[j]].popleft()
    moved_a = set(moved_from.values())
    out: list[dict] = []
    for tag, i1, i2, j1, j2 in ops:
        if tag == "equal":
            out.extend(_message_entry("equal", i1 + k, j1 + k, ma[i1 + k], mb[j1 + k]) for k in range(i2 - i1))
            continue
        rest_a = [i for i in range(i1, i2) if i not in moved_a]
        rest_b = [j for j in range(j1, j2) if j not in moved_from]
        block: list[dict] = []
        roles = SequenceMatcher(None, [ma[i]["role"] for i in rest_a], [mb[j]["role"] for j in rest_b],
                                autojunk=False)
        for rtag, r1, r2, s1, s2 in roles.get_opcodes():
            pairs = min(r2 - r1, s2 - s1) if rtag in ("equal", "replace") else 0
            for k in range(pairs):
                i, j = rest_a[r1 + k], rest_b[s1 + k]
                block.append(_message_entry("changed", i, j, ma[i], mb[j]))
            block.extend(_message_entry("removed", rest_a[r], None, ma[rest_a[r]], None) for r in range(r1 + pairs, r2))
            block.extend(_message_entry("added", None, rest_b[q], None, mb[rest_b[q]]) for q in range(s1 + pairs, s2))
        moved = deque(sorted(j for j in range(j1, j2) if j in moved_from))
        for e in block:  # moved messages go to their place in b's order
            while moved and e["b_index"] is not None and moved[0] < e["b_index"]:
                j = moved.popleft()
                out.append(_message_entry("moved", moved_from[j], j, ma[moved_from[j]], mb[j]))
            out.append(e)
        out.extend(_message_entry("moved", moved_from[j], j, ma[moved_from[j]], mb[j]) for j in moved)
    return out
