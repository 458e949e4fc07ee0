"""Deterministic building blocks shared by the fake endpoints.

Everything here is a pure function of the request body, so the same request
always produces the same response (ids are hashes, ``created`` is a constant).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
from typing import Any

#: Fixed timestamp used for every ``created``/``created_at`` field (2023-11-14).
CREATED = 1_700_000_000


def canonical(obj: Any) -> bytes:
    """Stable JSON encoding used as the hash input (key order must not matter)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()


def digest(obj: Any, salt: str = "") -> str:
    return hashlib.sha256(salt.encode() + canonical(obj)).hexdigest()


def make_id(prefix: str, body: Any, salt: str = "", length: int = 24) -> str:
    return prefix + digest(body, salt)[:length]


def approx_tokens(text: str) -> int:
    """~1 token per 4 characters, at least 1: cheap, deterministic, plausible."""
    return max(1, (len(text) + 3) // 4)


def quote(text: str, limit: int = 60) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def content_text(content: Any) -> str:
    """Flatten any provider's message content (str, parts, blocks) to plain text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        for key in ("text", "content", "output", "input_text"):
            if key in content and content[key] is not None:
                return content_text(content[key])
        return ""
    if isinstance(content, list):
        return " ".join(t for t in (content_text(c) for c in content) if t)
    return str(content)


def split_chunks(text: str, size: int = 3) -> list[str]:
    """Split text into word groups for streaming (whitespace kept, so ''.join restores it)."""
    words = re.findall(r"\S+\s*|\s+", text)
    chunks = ["".join(words[i : i + size]) for i in range(0, len(words), size)]
    return chunks or [""]


def split_fragments(text: str, parts: int = 3) -> list[str]:
    """Split a JSON string into a few fragments, like real argument deltas."""
    if not text:
        return [""]
    step = max(1, -(-len(text) // parts))
    return [text[i : i + step] for i in range(0, len(text), step)]


def reply_text(user_text: str, tool_result: str | None = None) -> str:
    """The readable answer: quotes the user's last message (or the tool result)."""
    if tool_result is not None:
        return (
            f'The tool returned "{quote(tool_result)}". '
            "Based on that result, this is the fake model's final answer."
        )
    if not user_text.strip():
        return "Hello! This is a deterministic reply from the llmdebug fake LLM server."
    return (
        f'You asked: "{quote(user_text)}". '
        "This is a deterministic reply from the llmdebug fake LLM server."
    )


def from_schema(schema: Any, text: str, root: Any = None, depth: int = 0) -> Any:
    """Synthesize a value matching a JSON schema (strings from the user text)."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > 8:
        return quote(text, 40) or "text"
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return from_schema(target, text, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key) or [] if not (isinstance(o, dict) and o.get("type") == "null")]
        if options:
            return from_schema(options[0], text, root, depth + 1)
    typ = schema.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), "null")
    if typ is None:
        typ = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if typ == "object":
        props = schema.get("properties") or {}
        return {k: from_schema(v, text, root, depth + 1) for k, v in props.items()}
    if typ == "array":
        return [from_schema(schema.get("items", {}), text, root, depth + 1)]
    if typ in ("integer", "number"):
        return 1
    if typ == "boolean":
        return True
    if typ == "null":
        return None
    return quote(text, 40) or "text"


def json_answer(schema: Any, text: str) -> str:
    """Structured-output text: from the schema if given, else a small JSON object."""
    if isinstance(schema, dict) and schema:
        return json.dumps(from_schema(schema, text))
    return json.dumps({"answer": reply_text(text)})


def embedding(text: str, dims: int) -> list[float]:
    """A deterministic unit vector derived from the text's hash."""
    raw = b""
    counter = 0
    while len(raw) < dims * 2:
        raw += hashlib.sha256(f"{counter}:{text}".encode()).digest()
        counter += 1
    vals = [(int.from_bytes(raw[2 * i : 2 * i + 2], "little") / 32767.5) - 1.0 for i in range(dims)]
    norm = sum(v * v for v in vals) ** 0.5 or 1.0
    # Round-trip through float32 so float and base64 encodings carry identical values.
    return [struct.unpack("<f", struct.pack("<f", v / norm))[0] for v in vals]


def embedding_base64(vec: list[float]) -> str:
    """OpenAI's base64 format: little-endian float32 array."""
    return base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode()
