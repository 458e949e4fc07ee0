"""Which recorded interaction answers a request: method, URL path, query and canonical
JSON body, with the fields that vary between runs left out; and, for a miss, the
closest recorded request and a diff against it.
"""

from __future__ import annotations

import difflib
import json
from typing import Any, Iterable
from urllib.parse import parse_qsl, urlsplit

from ..redaction import redact_fields, redact_url

# Fields that name or tag the caller and vary between runs without changing the answer.
DEFAULT_IGNORE = ("user", "metadata", "safety_identifier", "prompt_cache_key")

_MISSING = object()


def _drop(obj: Any, parts: list[str]) -> Any:
    """``obj`` without the field at dotted path ``parts`` (``*``: every key or item)."""
    head, rest = parts[0], parts[1:]
    if isinstance(obj, dict):
        keys = list(obj) if head == "*" else [head] if head in obj else []
        if not keys:
            return obj
        out = dict(obj)
        for k in keys:
            if rest:
                out[k] = _drop(out[k], rest)
            else:
                del out[k]
        return out
    if isinstance(obj, list) and (head == "*" or head.isdigit()):
        idx = range(len(obj)) if head == "*" else [int(head)] if int(head) < len(obj) else []
        out = list(obj)
        for i in idx:
            out[i] = _drop(out[i], rest) if rest else _MISSING
        return [v for v in out if v is not _MISSING]
    return obj


def normalize_ignore(ignore: Iterable[str] | None) -> tuple[tuple[str, ...], ...]:
    if ignore is None:
        ignore = DEFAULT_IGNORE
    if isinstance(ignore, str):
        raise TypeError(f"ignore takes a list of field names, not the string {ignore!r} (write ignore=[{ignore!r}])")
    paths = []
    for name in ignore:
        if not isinstance(name, str) or not name or any(not p for p in name.split(".")):
            raise ValueError(f"ignore: {name!r} is not a field name or dotted path such as 'metadata.run_id'")
        paths.append(tuple(name.split(".")))
    return tuple(paths)


def comparable_body(body: Any, ignore: tuple[tuple[str, ...], ...]) -> Any:
    """The body as matched: credentials redacted (as stored), ignored fields removed."""
    if isinstance(body, (bytes, bytearray)):
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(body)
        body = text
    if isinstance(body, str):
        try:
            parsed = json.loads(body) if body[:1] in ("{", "[") or body.lstrip()[:1] in ("{", "[") else None
        except ValueError:
            parsed = None
        if not isinstance(parsed, (dict, list)):
            return body
        body = parsed
    if isinstance(body, (dict, list)):
        body = redact_fields(body)
        for path in ignore:
            body = _drop(body, list(path))
    return body


def canonical(body: Any) -> str:
    if body is None:
        return ""
    if isinstance(body, bytes):
        return "base64:" + body.hex()
    if isinstance(body, str):
        return body
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _query(url: str) -> tuple:
    return tuple(sorted(parse_qsl(urlsplit(redact_url(url)).query, keep_blank_values=True)))


def key(method: str, url: str, body: Any, ignore: tuple[tuple[str, ...], ...]) -> tuple:
    """What two requests must share to be the same request."""
    return (method.upper(), urlsplit(url).path or "/", _query(url), canonical(comparable_body(body, ignore)))


def describe(method: str, url: str) -> str:
    parts = urlsplit(redact_url(url))
    return f"{method.upper()} {parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")


def _pretty(body: Any) -> list[str]:
    if isinstance(body, (dict, list)):
        return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False).splitlines()
    if body is None:
        return ["(no body)"]
    if isinstance(body, bytes):
        return [f"({len(body)} bytes, not text)"]
    return str(body).splitlines() or [""]


def closest(method: str, url: str, body: Any, candidates: list, ignore) -> tuple[int, Any] | None:
    """(index, interaction) of the recorded request most like this one, or None."""
    if not candidates:
        return None
    want_path = describe(method, url)
    mine = "\n".join(_pretty(comparable_body(body, ignore)))[:20000]
    best, best_score = None, -1.0
    for i, it in enumerate(candidates):
        score = 2.0 if describe(it.method, it.url) == want_path else 0.0
        theirs = "\n".join(_pretty(comparable_body(it.request_body, ignore)))[:20000]
        m = difflib.SequenceMatcher(None, theirs, mine, autojunk=False)
        score += m.quick_ratio() if len(mine) + len(theirs) > 8000 else m.ratio()
        if score > best_score:
            best, best_score = (i, it), score
    return best


def body_diff(recorded: Any, request: Any, ignore, limit: int = 60) -> str:
    """A unified diff from the recorded request's body to this one's (fields ignored left out)."""
    a, b = _pretty(comparable_body(recorded, ignore)), _pretty(comparable_body(request, ignore))
    lines = list(difflib.unified_diff(a, b, "recorded", "this request", n=2, lineterm=""))
    if len(lines) > limit:
        lines = lines[:limit] + [f"... ({len(lines) - limit} more diff lines)"]
    return "\n".join(lines)
