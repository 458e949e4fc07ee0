"""Message-aware diff of two LLM calls (pure Python: no widget, no browser).

Everything returned is JSON-safe (dicts, lists, strings, numbers, booleans, None), so
a widget syncs it as it is. Four functions are the API:

- :func:`word_diff` ``(a, b) -> [[op, text], ...]``: word-level text diff, ``op`` in
  ``"equal" | "delete" | "insert"``. Joining the ``equal`` and ``delete`` texts gives
  ``a``; joining ``equal`` and ``insert`` gives ``b``. Fast on 100 KB texts (it works
  down from lines to sentences to words, and gives up to delete+insert on blocks too
  large to compare word by word).
- :func:`json_diff` ``(a, b) -> [{"path", "op", "old", "new"}, ...]``: structural
  changes between two JSON values, ``op`` in ``"added" | "removed" | "changed"``;
  paths look like ``$.a[2]["odd key"]``. Changed strings also carry ``"words"`` (their
  :func:`word_diff`).
- :func:`diff_calls` ``(a, b) -> dict``: the whole comparison of two calls (Span
  records, span ids or prefixes, or ``calls()`` rows), provider-neutral: an OpenAI call
  diffs against an Anthropic or Responses API call. Shape below.
- :func:`render_text` ``(d) -> str`` (and :func:`render_html`): a readable unified
  diff for terminals and saved notebooks.

The dict of :func:`diff_calls`::

    {"version": 1,
     "a": SIDE, "b": SIDE,     # id, name, provider, model, endpoint, status, error_type,
                               # input_tokens, output_tokens, cost_usd, latency_ms, replay_of
     "system":   {"op", "a": str, "b": str, "text": SEGMENTS},
     "messages": [{"op": "equal"|"changed"|"added"|"removed"|"moved",
                   "a_index", "b_index",          # position among the non-system messages, or None
                   "a": MESSAGE|None, "b": MESSAGE|None,   # providers.chat_messages() shape
                   "role_changed": bool,
                   "text": SEGMENTS|None,         # changed only
                   "tool_calls": [TOOL_CALL_DIFF]}],   # changed only, else []
     "tools":    [{"op", "name", "a": TOOL|None, "b": TOOL|None,   # providers.tools() shape
                   "description": SEGMENTS|None, "parameters": [JSON_CHANGE]}],
     "params":   [{"key", "op", "old", "new", "changes": [JSON_CHANGE]}],   # equal ones too
     "output":   {"op", "mode": "text"|"json", "a_text", "b_text",
                  "text": SEGMENTS,               # JSON outputs: of the indented JSON
                  "json": [JSON_CHANGE]|None,
                  "tool_calls": [TOOL_CALL_DIFF],
                  "status": {"op", "a": STATUS, "b": STATUS}},   # status, error_type, error_message, http_status
     "deltas":   {"input_tokens"|"output_tokens"|"cost_usd"|"latency_ms": {"a", "b", "delta"}},  # delta = b - a or None
     "summary":  {"same": bool, "changes": int, "parts": [str], "system": bool,
                  "messages": {op: count}, "tools": {op: count}, "params": int,
                  "output": bool, "tool_calls": int, "status": bool}}

    TOOL_CALL_DIFF = {"op": "equal"|"changed"|"added"|"removed", "a": CALL|None, "b": CALL|None,
                      "name_changed": bool, "arguments": [JSON_CHANGE]|None,
                      "arguments_text": SEGMENTS|None}

``op`` of ``system`` and ``output`` is ``"equal" | "changed" | "added" | "removed"``.
Messages are aligned on (role, text, tool call names and arguments); tool call ids
are ignored everywhere (they differ on every run and between providers).
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections import defaultdict, deque
from collections.abc import Iterable
from difflib import SequenceMatcher
from typing import Any

from .tracing import Span
from . import providers

__all__ = ["diff_calls", "diff_messages", "json_diff", "render_html", "render_text", "request_params",
           "word_diff"]

Segments = list  # [[op, text], ...]

# --------------------------------------------------------------------------- words

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
# words (CJK characters one by one), runs of whitespace, single other characters
_TOKEN = re.compile(rf"[{_CJK}]|(?:(?![{_CJK}])\w)+|\s+|[^\w\s]")
# Token-level comparison is quadratic in the worst case: blocks larger than this
# (product of the two token counts) are compared by lines, then sentences, first.
_TOKEN_BUDGET = 1_000_000
_SENTENCE_END = frozenset(".!?;。！？")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _units(tokens: list[str], level: int) -> list[list[str]]:
    """Tokens grouped into lines (level 0) or sentences/lines (level 1)."""
    out: list[list[str]] = []
    cur: list[str] = []
    for t in tokens:
        cur.append(t)
        if "\n" in t or (level == 1 and t in _SENTENCE_END):
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def _diff_tokens(ta: list[str], tb: list[str], level: int, out: list) -> None:
    # common prefix and suffix: most edits touch a small part of a long prompt
    n = min(len(ta), len(tb))
    p = 0
    while p < n and ta[p] == tb[p]:
        p += 1
    s = 0
    while s < n - p and ta[-1 - s] == tb[-1 - s]:
        s += 1
    if p:
        out.append(["equal", "".join(ta[:p])])
    mid_a, mid_b = ta[p:len(ta) - s], tb[p:len(tb) - s]
    _diff_middle(mid_a, mid_b, level, out)
    if s:
        out.append(["equal", "".join(ta[len(ta) - s:])])


def _diff_middle(ta: list[str], tb: list[str], level: int, out: list) -> None:
    if not ta or not tb:
        if ta:
            out.append(["delete", "".join(ta)])
        if tb:
            out.append(["insert", "".join(tb)])
        return
    if len(ta) * len(tb) <= _TOKEN_BUDGET:
        sm = SequenceMatcher(None, ta, tb, autojunk=False)
        for tag, i1, i2, j1, j2 in sm.get_opcodes():
            if tag == "equal":
                out.append(["equal", "".join(ta[i1:i2])])
            else:
                if i2 > i1:
                    out.append(["delete", "".join(ta[i1:i2])])
                if j2 > j1:
                    out.append(["insert", "".join(tb[j1:j2])])
        return
    if level > 1:  # too large to compare word by word: the whole block changed
        out.append(["delete", "".join(ta)])
        out.append(["insert", "".join(tb)])
        return
    ua, ub = _units(ta, level), _units(tb, level)
    if len(ua) == 1 and len(ub) == 1:
        _diff_middle(ta, tb, level + 1, out)
        return
    ka, kb = ["".join(u) for u in ua], ["".join(u) for u in ub]
    # autojunk on: blank lines and other very common units cannot start a match (speed)
    sm = SequenceMatcher(None, ka, kb, autojunk=True)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            out.append(["equal", "".join(ka[i1:i2])])
            continue
        ta2 = [t for u in ua[i1:i2] for t in u]
        tb2 = [t for u in ub[j1:j2] for t in u]
        if tag != "replace" or len(ta2) * len(tb2) <= _TOKEN_BUDGET or (i2 - i1 == 1 and j2 - j1 == 1):
            _diff_tokens(ta2, tb2, level + 1, out)
            continue
        # Many changed lines: too large to compare word by word as one block, so
        # compare them line by line (the first with the first, ...).
        pairs = min(i2 - i1, j2 - j1)
        for k in range(pairs):
            _diff_tokens(ua[i1 + k], ub[j1 + k], level + 1, out)
        if i1 + pairs < i2:
            out.append(["delete", "".join(ka[i1 + pairs:i2])])
        if j1 + pairs < j2:
            out.append(["insert", "".join(kb[j1 + pairs:j2])])


def _merge(segs: Iterable[list]) -> list[list[str]]:
    """Drop empty segments, merge neighbours with the same op, and within each run of
    changes put one delete before one insert."""
    out: list[list[str]] = []
    run_del: list[str] = []
    run_ins: list[str] = []

    def flush() -> None:
        if run_del:
            out.append(["delete", "".join(run_del)])
            run_del.clear()
        if run_ins:
            out.append(["insert", "".join(run_ins)])
            run_ins.clear()

    for op, text in segs:
        if not text:
            continue
        if op == "equal":
            flush()
            if out and out[-1][0] == "equal":
                out[-1][1] += text
            else:
                out.append(["equal", text])
        elif op == "delete":
            run_del.append(text)
        else:
            run_ins.append(text)
    flush()
    return out


def _cleanup(segs: list[list[str]]) -> list[list[str]]:
    """Fold small equalities between two changes into the changes (as diff-match-patch's
    semantic cleanup): "the quick" -> "a slow" reads better than four one-word changes."""
    for _ in range(8):
        changed = False
        out: list[list[str]] = []
        i = 0
        while i < len(segs):
            op, text = segs[i]
            if op == "equal" and 0 < i < len(segs) - 1 and out:
                before = _change_len(out, len(out) - 1, -1)
                after = _change_len(segs, i + 1, 1)
                if 0 < len(text) <= min(before, after) and len(text) <= 8:
                    out.append(["delete", text])
                    out.append(["insert", text])
                    changed = True
                    i += 1
                    continue
            out.append([op, text])
            i += 1
        segs = _merge(out)
        if not changed:
            break
    return segs


def _change_len(segs: list, start: int, step: int) -> int:
    """The larger side (deleted or inserted characters) of the change run at ``start``."""
    d = n = 0
    i = start
    while 0 <= i < len(segs) and segs[i][0] != "equal":
        if segs[i][0] == "delete":
            d += len(segs[i][1])
        else:
            n += len(segs[i][1])
        i += step
    return max(d, n)


def word_diff(a: str | None, b: str | None) -> list[list[str]]:
    """Word-level diff of two texts as ``[[op, text], ...]`` with op ``"equal"``,
    ``"delete"`` or ``"insert"``; adjacent segments never share an op.

    Example::

        >>> word_diff("the quick fox", "the slow fox")
        [['equal', 'the '], ['delete', 'quick'], ['insert', 'slow'], ['equal', ' fox']]
    """
    a = "" if a is None else str(a)
    b = "" if b is None else str(b)
    if a == b:
        return [["equal", a]] if a else []
    out: list = []
    _diff_tokens(_tokens(a), _tokens(b), 0, out)
    return _cleanup(_merge(out))


# --------------------------------------------------------------------------- JSON

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _key_path(path: str, key: Any) -> str:
    key = str(key)
    return f"{path}.{key}" if _IDENT.match(key) else f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or (math.isnan(a) and math.isnan(b))
    if type(a) is not type(b):
        return False
    return a == b


def _canon(v: Any) -> str:
    try:
        return json.dumps(v, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return repr(v)


def _change(path: str, op: str, old: Any, new: Any) -> dict:
    c = {"path": path, "op": op, "old": old, "new": new}
    if op == "changed" and isinstance(old, str) and isinstance(new, str):
        c["words"] = word_diff(old, new)
    return c


def json_diff(a: Any, b: Any, path: str = "$") -> list[dict]:
    """Structural changes from JSON value ``a`` to ``b``.

    Dicts compare key by key (``a``'s key order, then keys only ``b`` has); lists of
    the same length index by index, lists of different lengths are aligned first (an
    item inserted at the front is one ``added``, not a change of every item). Paths
    of removed list items use ``a``'s index, the others ``b``'s.

    Example::

        >>> json_diff({"a": 1, "b": [1, 2]}, {"a": 2, "b": [1, 2, 3]})
        [{'path': '$.a', 'op': 'changed', 'old': 1, 'new': 2},
         {'path': '$.b[2]', 'op': 'added', 'old': None, 'new': 3}]
    """
    out: list[dict] = []
    _json_diff(a, b, path, out)
    return out


def _json_diff(a: Any, b: Any, path: str, out: list) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k, v in a.items():
            if k not in b:
                out.append(_change(_key_path(path, k), "removed", v, None))
            else:
                _json_diff(v, b[k], _key_path(path, k), out)
        for k, v in b.items():
            if k not in a:
                out.append(_change(_key_path(path, k), "added", None, v))
        return
    if isinstance(a, list) and isinstance(b, list):
        if len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b)):
                _json_diff(x, y, f"{path}[{i}]", out)
            return
        ka, kb = [_canon(x) for x in a], [_canon(y) for y in b]
        sm = SequenceMatcher(None, ka, kb, autojunk=False)
        for tag, i1, i2, j1, j2 in sm.get_opcodes():
            if tag == "equal":
                continue
            pairs = min(i2 - i1, j2 - j1) if tag == "replace" else 0
            for k in range(pairs):
                _json_diff(a[i1 + k], b[j1 + k], f"{path}[{j1 + k}]", out)
            for i in range(i1 + pairs, i2):
                out.append(_change(f"{path}[{i}]", "removed", a[i], None))
            for j in range(j1 + pairs, j2):
                out.append(_change(f"{path}[{j}]", "added", None, b[j]))
        return
    if not _same_value(a, b):
        out.append(_change(path, "changed", a, b))


def _parse_json(text: Any) -> tuple[bool, Any]:
    """(True, value) when ``text`` is a JSON object or array (a ```json fence is allowed)."""
    if isinstance(text, (dict, list)):
        return True, text
    if not isinstance(text, str):
        return False, None
    s = text.strip()
    if s.startswith("```"):
        m = re.match(r"^```[A-Za-z0-9_-]*\s*\n(.*)\n\s*```$", s, re.DOTALL)
        if not m:
            return False, None
        s = m.group(1).strip()
    if not s or s[0] not in "[{":
        return False, None
    try:
        v = json.loads(s)
    except ValueError:
        return False, None
    return isinstance(v, (dict, list)), v


def _pretty(v: Any) -> str:
    try:
        return json.dumps(v, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(v)


# --------------------------------------------------------------------------- calls


def _request(s: Span) -> dict:
    req = s.request
    if isinstance(req, (bytes, bytearray, memoryview)):
        req = bytes(req).decode("utf-8", "replace")
    if isinstance(req, str):
        try:
            req = json.loads(req)
        except ValueError:
            req = None
    return req if isinstance(req, dict) else {}


_SYSTEM_ROLES = ("system", "developer")


def _conversation(s: Span) -> tuple[str, list[dict]]:
    """(system prompt, the other messages) of a call, whatever its provider."""
    req = _request(s)
    if not req and s.kind != "llm":
        msgs = [] if s.input is None else [
            {"role": "input", "text": s.input if isinstance(s.input, str) else _pretty(s.input),
             "tool_calls": [], "tool_call_id": None, "name": None}]
        return "", msgs
    msgs = providers.chat_messages(s, request=req)
    k = 0
    while k < len(msgs) and msgs[k]["role"] in _SYSTEM_ROLES and not msgs[k]["tool_calls"]:
        k += 1
    return "\n\n".join(m["text"] for m in msgs[:k]), msgs[k:]


def _call_key(c: dict) -> tuple:
    ok, v = _parse_json(c.get("arguments"))
    return (c.get("name"), _canon(v) if ok else str(c.get("arguments") or ""))


def _message_key(m: dict) -> tuple:
    return (m["role"], m["text"], tuple(_call_key(c) for c in m.get("tool_calls") or []))


def _norm_call(c: Any) -> dict:
    if not isinstance(c, dict):
        return {"id": None, "name": None, "arguments": str(c)}
    args = c.get("arguments")
    if args is not None and not isinstance(args, str):
        args = json.dumps(args, ensure_ascii=False, default=str)
    return {"id": c.get("id"), "name": c.get("name"), "arguments": args or ""}


def _tool_call_diffs(a_calls: list, b_calls: list) -> list[dict]:
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
    ok_a, va = _parse_json(a["arguments"])
    ok_b, vb = _parse_json(b["arguments"])
    if ok_a and ok_b:
        changes = json_diff(va, vb)
        same = not changes
        text = None if same and not name_changed else word_diff(_pretty(va), _pretty(vb))
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
        e["tool_calls"] = _tool_call_diffs(a["tool_calls"], b["tool_calls"])
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


def _tools_diff(ta: list[dict], tb: list[dict]) -> list[dict]:
    by_a = {str(t["name"]): t for t in ta}
    by_b = {str(t["name"]): t for t in tb}
    out = []
    for name in list(by_a) + [n for n in by_b if n not in by_a]:
        a, b = by_a.get(name), by_b.get(name)
        e = {"op": "equal", "name": name, "a": a, "b": b, "description": None, "parameters": []}
        if a is None:
            e["op"] = "added"
        elif b is None:
            e["op"] = "removed"
        else:
            params = json_diff(a.get("parameters"), b.get("parameters"))
            desc_changed = (a.get("description") or "") != (b.get("description") or "")
            if params or desc_changed:
                e["op"] = "changed"
                e["parameters"] = params
                if desc_changed:
                    e["description"] = word_diff(a.get("description") or "", b.get("description") or "")
        out.append(e)
    return out


PARAM_ORDER = providers.PARAM_ORDER


def request_params(s: Span | dict) -> dict:
    """The parameters of a call under provider-neutral names (see
    :func:`llmdebug.providers.params`); accepts a Span or a raw request dict."""
    if isinstance(s, dict):
        return providers.params(request=s)
    out = providers.params(s, request=_request(s))
    if "model" not in out and (s.request_model or s.model):
        out = {"model": s.request_model or s.model, **out}
    return out


def _params_diff(pa: dict, pb: dict) -> list[dict]:
    keys = list(pa) + [k for k in pb if k not in pa]
    order = {k: i for i, k in enumerate(PARAM_ORDER)}
    keys.sort(key=lambda k: (order.get(k, len(order)), k))
    out = []
    for k in keys:
        old, new = pa.get(k), pb.get(k)
        if k not in pb:
            op = "removed"
        elif k not in pa:
            op = "added"
        else:
            op = "changed" if json_diff(old, new) else "equal"
        changes = json_diff(old, new) if op == "changed" and isinstance(old, (dict, list)) and isinstance(new, (dict, list)) else []
        out.append({"key": k, "op": op, "old": old, "new": new, "changes": changes})
    return out


def _status(s: Span) -> dict:
    return {"status": s.status, "error_type": s.error_type, "error_message": s.error_message,
            "http_status": s.http_status}


def _output_text(s: Span) -> str:
    if s.output_text is not None:
        return str(s.output_text)
    if s.kind != "llm" and s.output is not None:
        return s.output if isinstance(s.output, str) else _pretty(s.output)
    return ""


def _output_diff(a: Span, b: Span) -> dict:
    at, bt = _output_text(a), _output_text(b)
    ok_a, va = _parse_json(at)
    ok_b, vb = _parse_json(bt)
    if ok_a and ok_b:
        changes = json_diff(va, vb)
        mode, text_same = "json", not changes
        text = word_diff(_pretty(va), _pretty(vb))
    else:
        changes, mode, text_same = None, "text", at == bt
        text = word_diff(at, bt)
    calls = _tool_call_diffs(a.tool_calls or [], b.tool_calls or [])
    sa, sb = _status(a), _status(b)
    status_same = (sa["status"], sa["error_type"], sa["error_message"]) == (sb["status"], sb["error_type"], sb["error_message"])
    same = text_same and all(c["op"] == "equal" for c in calls) and status_same
    if same:
        op = "equal"
    elif not at and not a.tool_calls and (bt or b.tool_calls) and status_same:
        op = "added"
    elif not bt and not b.tool_calls and (at or a.tool_calls) and status_same:
        op = "removed"
    else:
        op = "changed"
    return {"op": op, "mode": mode, "a_text": at, "b_text": bt, "text": text, "json": changes,
            "tool_calls": calls, "status": {"op": "equal" if status_same else "changed", "a": sa, "b": sb}}


def _delta(a: Any, b: Any, digits: int) -> dict:
    a, b = _finite(a), _finite(b)
    d = None if a is None or b is None else round(b - a, digits)
    return {"a": a, "b": b, "delta": d}


def _finite(v: Any) -> Any:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    if math.isnan(f) or math.isinf(f):
        return None
    return int(v) if isinstance(v, numbers.Integral) else f


def _side(s: Span) -> dict:
    return {"id": s.id, "name": s.name, "kind": s.kind, "provider": s.provider, "model": s.model,
            "endpoint": s.endpoint, "status": s.status, "error_type": s.error_type,
            "input_tokens": _finite(s.input_tokens), "output_tokens": _finite(s.output_tokens),
            "cost_usd": _finite(s.cost_usd), "latency_ms": _finite(s.latency_ms), "replay_of": s.replay_of}


def _system_diff(a: str, b: str) -> dict:
    op = "equal" if a == b else "added" if not a else "removed" if not b else "changed"
    return {"op": op, "a": a, "b": b, "text": word_diff(a, b)}


def _json_safe(v: Any) -> Any:
    """A copy holding only what JSON (and so the widget sync) can carry; NaN -> None."""
    if isinstance(v, dict):
        return {str(k): _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if isinstance(v, float):
        return None if math.isnan(v) or math.isinf(v) else v
    if v is None or isinstance(v, (str, int, bool)):
        return v
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", "replace")
    return str(v)


def diff_calls(a: Any, b: Any) -> dict:
    """The message-aware diff of two calls (Spans, span ids or prefixes, calls() rows).

    See the module docstring for the shape. ``summary.same`` is True when the system
    prompt, messages, tools, parameters and outputs (text, tool calls, status) all
    match; token, cost and latency differences alone do not count.
    """
    from . import query  # diff_calls itself works on Span records without a store

    sa, sb = query.resolve_span(a, who="ld.diff()"), query.resolve_span(b, who="ld.diff()")
    sys_a, msgs_a = _conversation(sa)
    sys_b, msgs_b = _conversation(sb)
    system = _system_diff(sys_a, sys_b)
    messages = diff_messages(msgs_a, msgs_b)
    tools = _tools_diff(providers.tools(sa, request=_request(sa)), providers.tools(sb, request=_request(sb)))
    params = _params_diff(request_params(sa), request_params(sb))
    output = _output_diff(sa, sb)
    deltas = {
        "input_tokens": _delta(sa.input_tokens, sb.input_tokens, 0),
        "output_tokens": _delta(sa.output_tokens, sb.output_tokens, 0),
        "cost_usd": _delta(sa.cost_usd, sb.cost_usd, 12),
        "latency_ms": _delta(sa.latency_ms, sb.latency_ms, 3),
    }
    d = {"version": 1, "a": _side(sa), "b": _side(sb), "system": system, "messages": messages,
         "tools": tools, "params": params, "output": output, "deltas": deltas}
    d["summary"] = _summary(d)
    return _json_safe(d)


def _count(entries: list[dict], ops: Iterable[str]) -> dict:
    c = {op: 0 for op in ops}
    for e in entries:
        c[e["op"]] = c.get(e["op"], 0) + 1
    return c


def _summary(d: dict) -> dict:
    msgs = _count(d["messages"], ("equal", "changed", "added", "removed", "moved"))
    tools = _count(d["tools"], ("equal", "changed", "added", "removed"))
    params = [p["key"] for p in d["params"] if p["op"] != "equal"]
    out = d["output"]
    calls = sum(1 for c in out["tool_calls"] if c["op"] != "equal")
    parts: list[str] = []
    if d["system"]["op"] != "equal":
        parts.append("system prompt")
    for op in ("changed", "added", "removed", "moved"):
        if msgs[op]:
            parts.append(f"{msgs[op]} message{'s' if msgs[op] != 1 else ''} {op}")
    for op in ("changed", "added", "removed"):
        if tools[op]:
            parts.append(f"{tools[op]} tool{'s' if tools[op] != 1 else ''} {op}")
    parts.extend(params)
    if out["status"]["op"] != "equal":
        parts.append("status")
    if out["json"] if out["mode"] == "json" else any(op != "equal" for op, _ in out["text"]):
        parts.append("output")
    if calls:
        parts.append(f"{calls} output tool call{'s' if calls != 1 else ''}")
    changes = ((d["system"]["op"] != "equal") + sum(v for k, v in msgs.items() if k != "equal")
               + sum(v for k, v in tools.items() if k != "equal") + len(params)
               + (out["op"] != "equal"))
    return {"same": changes == 0, "changes": changes, "parts": parts, "system": d["system"]["op"] != "equal",
            "messages": msgs, "tools": tools, "params": len(params), "output": out["op"] != "equal",
            "tool_calls": calls, "status": out["status"]["op"] != "equal"}


# --------------------------------------------------------------------------- text


class _Plain:
    """Markup for render_text; _Html below for render_html."""

    def esc(self, s: str) -> str:
        return s

    def dele(self, s: str) -> str:
        return f"[-{s}-]"

    def ins(self, s: str) -> str:
        return f"{{+{s}+}}"

    def head(self, s: str) -> str:
        return s


class _Html(_Plain):
    def esc(self, s: str) -> str:
        import html

        return html.escape(s)

    def dele(self, s: str) -> str:
        return ('<del style="background:rgba(211,47,47,.18);color:inherit">' + self.esc(s) + "</del>")

    def ins(self, s: str) -> str:
        return ('<ins style="background:rgba(56,142,60,.22);color:inherit;text-decoration:none">'
                + self.esc(s) + "</ins>")

    def head(self, s: str) -> str:
        return "<strong>" + self.esc(s) + "</strong>"


_MARK = {"equal": " ", "changed": "~", "added": "+", "removed": "-", "moved": ">"}


def _fmt_num(v: Any, kind: str) -> str:
    if v is None:
        return "?"
    if kind == "cost_usd":
        return f"${v:.6f}"
    if kind == "latency_ms":
        return f"{v:,.0f} ms"
    return f"{int(v):,}"


def _fmt_delta(v: Any, kind: str) -> str:
    if v is None:
        return "?"
    sign = "+" if v > 0 else "−" if v < 0 else "±"
    return sign + _fmt_num(abs(v), kind)


def _short(text: str, n: int = 100) -> str:
    t = " ".join(str(text).split())
    return t if len(t) <= n else t[: n - 1] + "…"


def _elide(text: str, first: bool, last: bool) -> str:
    """An unchanged run inside a changed text, shortened to its edges."""
    lines = text.split("\n")
    if len(lines) > 7:
        head = [] if first else lines[:2]
        tail = [] if last else lines[-2:]
        hidden = len(lines) - len(head) - len(tail)
        return "\n".join(head + [f"… {hidden} unchanged lines …"] + tail)
    if len(text) > 400:
        return ("" if first else text[:120]) + f" … {len(text) - 240:,} unchanged characters … " + ("" if last else text[-120:])
    return text


def _segments(segs: list, m: _Plain, elide: bool = True) -> str:
    out = []
    for k, (op, text) in enumerate(segs):
        if op == "equal":
            out.append(m.esc(_elide(text, k == 0, k == len(segs) - 1) if elide else text))
        elif op == "delete":
            out.append(m.dele(text))
        else:
            out.append(m.ins(text))
    return "".join(out)


def _indent(text: str, pad: str = "    ") -> str:
    return text.replace("\n", "\n" + pad)


def _call_line(c: dict | None, m: _Plain) -> str:
    if not c:
        return ""
    return m.esc(f"{c.get('name')}({_short(c.get('arguments') or '', 200)})")


def _tool_call_lines(calls: list, m: _Plain, pad: str) -> list[str]:
    out = []
    for c in calls:
        mark = _MARK.get(c["op"], "?")
        if c["op"] in ("added", "removed", "equal"):
            out.append(f"{pad}{mark} → " + _call_line(c["b"] or c["a"], m))
            continue
        name = c["b"]["name"] if not c["name_changed"] else f"{c['a']['name']} → {c['b']['name']}"
        out.append(f"{pad}{mark} → " + m.esc(str(name)))
        if c["arguments"]:
            out.extend(_json_change_lines(c["arguments"], m, pad + "    "))
        elif c["arguments_text"]:
            out.append(pad + "    " + _indent(_segments(c["arguments_text"], m), pad + "    "))
    return out


def _jv(v: Any) -> str:
    return _short(json.dumps(v, ensure_ascii=False, default=str), 160)


def _change_line(m: _Plain, pad: str, label: str, op: str, old: Any, new: Any) -> str:
    """One added (+), removed (-) or changed (~) value, as a text line."""
    if op == "added":
        return f"{pad}+ {m.esc(label)}: {m.ins(_jv(new))}"
    if op == "removed":
        return f"{pad}- {m.esc(label)}: {m.dele(_jv(old))}"
    return f"{pad}~ {m.esc(label)}: {m.dele(_jv(old))} → {m.ins(_jv(new))}"


def _json_change_lines(changes: list, m: _Plain, pad: str, limit: int = 50) -> list[str]:
    out = []
    for c in changes[:limit]:
        out.append(_change_line(m, pad, c["path"], c["op"], c.get("old"), c.get("new")))
    if len(changes) > limit:
        out.append(f"{pad}… {len(changes) - limit} more changes")
    return out


def _side_line(label: str, s: dict) -> str:
    bits = [label, (s.get("id") or "")[:12] or "(unsaved)", s.get("provider") or "?", s.get("model") or "?",
            s.get("status") or "?"]
    if s.get("input_tokens") is not None or s.get("output_tokens") is not None:
        bits.append(f"{s.get('input_tokens') or 0:,}→{s.get('output_tokens') or 0:,} tok")
    if s.get("cost_usd") is not None:
        bits.append(f"${s['cost_usd']:.6f}")
    if s.get("latency_ms") is not None:
        bits.append(f"{s['latency_ms']:,.0f} ms")
    return "  " + " · ".join(bits[:2]) + "  " + " · ".join(bits[2:])


def _render(d: dict, m: _Plain, a_label: str = "A", b_label: str = "B") -> str:
    s = d["summary"]
    L = [m.head("llmdebug diff"), m.esc(_side_line(a_label, d["a"])), m.esc(_side_line(b_label, d["b"]))]
    deltas = [f"{k.replace('_usd', '').replace('_ms', '').replace('_', ' ')} {_fmt_delta(v['delta'], k)}"
              for k, v in d["deltas"].items() if v["delta"] is not None]
    if deltas:
        L.append(m.esc("  Δ " + " · ".join(deltas)))
    L.append(m.esc("  same prompt, parameters and output" if s["same"] else "  changed: " + ", ".join(s["parts"])))

    sy = d["system"]
    if sy["a"] or sy["b"]:
        L += ["", m.head(f"── System ({sy['op']})")]
        if sy["op"] == "equal":
            L.append("    " + m.esc(_short(sy["a"])))
        else:
            L.append("    " + _indent(_segments(sy["text"], m)))

    msgs = d["messages"]
    if msgs:
        c = s["messages"]
        counts = ", ".join(f"{v} {k}" for k, v in c.items() if v and k != "equal")
        L += ["", m.head(f"── Messages ({counts + ', ' if counts else ''}{c['equal']} unchanged)")]
        k = 0
        while k < len(msgs):
            e = msgs[k]
            if e["op"] == "equal":
                run = k
                while run < len(msgs) and msgs[run]["op"] == "equal":
                    run += 1
                if run - k >= 2:
                    L.append(m.esc(f"    … {run - k} unchanged messages"))
                    k = run
                    continue
            L.extend(_message_lines(e, m))
            k += 1

    tools = [t for t in d["tools"]]
    if tools:
        c = s["tools"]
        L += ["", m.head(f"── Tools ({', '.join(f'{v} {k}' for k, v in c.items() if v and k != 'equal')}"
                         f"{', ' if any(v for k, v in c.items() if k != 'equal') else ''}{c['equal']} unchanged)")]
        for t in tools:
            L.append(f"  {_MARK[t['op']]} " + m.esc(t["name"]))
            if t["description"]:
                L.append("      description: " + _segments(t["description"], m))
            L.extend(_json_change_lines(t["parameters"], m, "      "))

    params = d["params"]
    if params:
        L += ["", m.head(f"── Parameters ({s['params']} changed)")]
        same = [p["key"] for p in params if p["op"] == "equal"]
        for p in params:
            if p["op"] == "equal":
                continue
            L.append(_change_line(m, "  ", p["key"], p["op"], p.get("old"), p.get("new")))
        if same:
            L.append(m.esc("    unchanged: " + ", ".join(f"{k}={_short(_jv(next(p['new'] for p in params if p['key'] == k)), 40)}" for k in same)))

    out = d["output"]
    L += ["", m.head(f"── Output ({out['op']}{', JSON' if out['mode'] == 'json' else ''})")]
    st = out["status"]
    if st["op"] != "equal":
        def desc(x: dict) -> str:
            return x["status"] + (f" ({x['error_type']}: {_short(x['error_message'] or '', 120)})" if x["error_type"] else "")
        L.append("  status: " + m.dele(desc(st["a"])) + " → " + m.ins(desc(st["b"])))
    if out["op"] == "equal" or not any(op != "equal" for op, _ in out["text"]):
        if out["b_text"]:
            L.append("    " + m.esc(_short(out["b_text"], 200)))
    elif out["mode"] == "json":
        L.extend(_json_change_lines(out["json"] or [], m, "  "))
    else:
        L.append("    " + _indent(_segments(out["text"], m)))
    if out["tool_calls"]:
        L.append("  tool calls:")
        L.extend(_tool_call_lines(out["tool_calls"], m, "    "))
    return "\n".join(L)


def _role(msg: dict | None) -> str:
    if not msg:
        return "?"
    return msg["role"] + (f" ({msg['name']})" if msg.get("name") else "")


def _message_lines(e: dict, m: _Plain) -> list[str]:
    op = e["op"]
    idx = e["b_index"] if e["b_index"] is not None else e["a_index"]
    if op == "changed" and e["role_changed"]:
        role = f"{_role(e['a'])} → {_role(e['b'])}"
    else:
        role = _role(e["b"] or e["a"])
    head = f"  {_MARK[op]} #{idx} {role}"
    if op == "moved":
        head += f" (moved from #{e['a_index']})"
    msg = e["b"] or e["a"]
    if op == "changed":
        lines = [m.esc(head)]
        if any(o != "equal" for o, _ in e["text"]) or msg["text"]:
            lines.append("      " + _indent(_segments(e["text"], m), "      "))
        lines.extend(_tool_call_lines(e["tool_calls"], m, "      "))
        return lines
    if op in ("added", "removed"):
        mark = m.ins if op == "added" else m.dele
        text = msg["text"] if len(msg["text"]) <= 2000 else msg["text"][:2000] + "…"
        lines = [m.esc(head)]
        if text:
            lines.append("      " + _indent(mark(text), "      "))
        lines.extend(f"      {_MARK[op]} → " + _call_line(c, m) for c in msg["tool_calls"])
        return lines
    tail = _short(msg["text"], 90) if msg["text"] else ", ".join(f"→ {c['name']}" for c in msg["tool_calls"])
    return [m.esc(f"{head}  {tail}")]


def render_text(d: dict, a_label: str = "A", b_label: str = "B") -> str:
    """A diff from :func:`diff_calls` as readable unified text: deletions ``[-like this-]``,
    insertions ``{+like this+}``, runs of unchanged messages and lines folded."""
    return _render(d, _Plain(), a_label, b_label)


def render_html(d: dict, a_label: str = "A", b_label: str = "B") -> str:
    """The same as :func:`render_text` as HTML (every prompt/response string escaped)."""
    return ('<pre class="llmdebug-diff-text" style="white-space:pre-wrap;margin:0">'
            + _render(d, _Html(), a_label, b_label) + "</pre>")
