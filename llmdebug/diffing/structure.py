"""Structural diff of JSON values (:func:`json_diff`) and the canonical forms the call
comparison keys on: :func:`canon` (one string per value), :func:`parse_json` (is this text a
JSON object or array?), :func:`pretty` (indented JSON) and :func:`json_safe`."""

from __future__ import annotations

import json
import math
import re
from difflib import SequenceMatcher
from typing import Any

from .text import word_diff

__all__ = ["canon", "json_diff", "json_safe", "parse_json", "pretty"]


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


def canon(v: Any) -> str:
    """One string per JSON value, the same for equal values (keys sorted, no spaces)."""
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
        ka, kb = [canon(x) for x in a], [canon(y) for y in b]
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


def parse_json(text: Any) -> tuple[bool, Any]:
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


def pretty(v: Any) -> str:
    """``v`` as indented JSON (its repr when it is not JSON)."""
    try:
        return json.dumps(v, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(v)


def json_safe(v: Any) -> Any:
    """A copy holding only what JSON (and so the widget sync) can carry; NaN -> None."""
    if isinstance(v, dict):
        return {str(k): json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    if isinstance(v, float):
        return None if math.isnan(v) or math.isinf(v) else v
    if v is None or isinstance(v, (str, int, bool)):
        return v
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", "replace")
    return str(v)
