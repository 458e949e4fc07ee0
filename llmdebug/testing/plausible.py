"""Plausible arguments for a declared schema: what a model would fill in, not the prompt.

``plausible_value(schema, prompt)`` fills every declared property: ``enum``, ``const``,
``default`` and string ``format`` first, then names ("Paris", "San Francisco") and
numbers taken from the prompt, identifiers (``order_id``, ``sku``...) from its first
token with a digit ("1042" from "order #1042"); query-like parameters (``query``, ``q``, ``prompt``...)
get the prompt itself. Pure and deterministic, like the rest of the fake server.
JSON schemas (``$ref``/``$defs``, ``anyOf``, type lists) and Gemini's ``propertyOrdering``
are understood; Gemini's upper-case types are lower-cased by the caller.
"""

from __future__ import annotations

import re
from typing import Any

from .synth import quote

_LEADING = {
    "what", "where", "when", "who", "why", "how", "which", "is", "are", "can", "could", "would", "will",
    "should", "do", "does", "did", "please", "tell", "give", "show", "find", "get", "list", "write",
    "explain", "describe", "hello", "hi", "hey", "the", "a", "an", "i", "in", "on", "at", "for", "my",
}
_ID_NAME = re.compile(r"(?:^|_)(?:id|ids|number|no|num|code|sku|ref|reference|zip|zipcode)$|[a-z]Id$", re.I)
_QUERY_NAMES = {"query", "q", "prompt", "question", "text", "message", "input", "content", "search", "search_query"}


def _entity(text: str) -> str | None:
    """A proper name from the prompt ("Paris", "San Francisco"): a run of capitalised
    words, preferring one inside a sentence to one that opens it ("Weather in Rome")."""
    found: list[tuple[bool, str]] = []
    for m in re.finditer(r"[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*", text):
        words = [re.sub(r"['’]s$", "", w) for w in m.group().split()]
        while words and words[0].lower() in _LEADING:
            words.pop(0)
        if words:
            opens = not text[: m.start()].strip() or text[: m.start()].rstrip()[-1] in ".!?:;\n"
            found.append((opens, " ".join(words)))
    return min(found, key=lambda f: f[0])[1] if found else None


def _keyword(text: str) -> str | None:
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z-]{3,}", text) if w.lower() not in _LEADING]
    return max(words, key=len).lower() if words else None


def _identifier(text: str) -> str | None:
    m = re.search(r"[A-Za-z]*\d[\w-]*", text)
    return m.group() if m else None


def _number(text: str) -> float | None:
    m = re.search(r"-?\d+(?:\.\d+)?", text)
    return float(m.group()) if m else None


def _string(name: str, schema: dict[str, Any], text: str) -> str:
    fmt = schema.get("format")
    if fmt == "date-time":
        return "2024-01-01T00:00:00Z"
    if fmt == "date":
        return "2024-01-01"
    if fmt == "email":
        return "user@example.com"
    if fmt in ("uri", "url"):
        return "https://example.com"
    if name.lower() in _QUERY_NAMES:
        return quote(text, 80) or name
    if _ID_NAME.search(name) and (found := _identifier(text)):
        return found
    return _entity(text) or _keyword(text) or f"example {name}".strip()


def plausible_value(schema: Any, text: str, name: str = "", root: Any = None, depth: int = 0) -> Any:
    """A plausible value for ``schema`` (JSON schema or Gemini Schema): names and numbers
    from the prompt, enum/default/format honoured, every declared property filled."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > 8:
        return _entity(text) or "text"
    if isinstance(schema.get("$ref"), str):
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return plausible_value(target, text, name, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key) or [] if not (isinstance(o, dict) and o.get("type") == "null")]
        if options:
            return plausible_value(options[0], text, name, root, depth + 1)
    typ = schema.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), "null")
    typ = (typ or ("object" if "properties" in schema else "array" if "items" in schema else "string")).lower()
    if typ == "object":
        props = schema.get("properties") or {}
        order = [k for k in schema.get("propertyOrdering") or [] if k in props] + [k for k in props]
        return {k: plausible_value(props[k], text, k, root, depth + 1) for k in dict.fromkeys(order)}
    if typ == "array":
        count = max(1, int(schema.get("minItems") or 1))
        return [plausible_value(schema.get("items") or {}, text, name, root, depth + 1) for _ in range(count)]
    if typ in ("integer", "number"):
        found = _number(text)
        value = found if found is not None else float(schema.get("minimum", 1))
        if "maximum" in schema:
            value = min(value, float(schema["maximum"]))
        return int(value) if typ == "integer" else float(value)
    if typ == "boolean":
        return True
    if typ == "null":
        return None
    return _string(name, schema, text)
