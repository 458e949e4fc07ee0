"""Load VCR.py YAML cassettes (all four flavours in ``shared/fixtures``) for replay.

Each interaction becomes a plain dict::

    {"method": "POST", "uri": ..., "path": "/v1/chat/completions", "query": "beta=true",
     "request_body": str | None, "status": 200,
     "headers": [(name, value), ...],   # recorded response headers, minus framing ones
     "body": bytes}                      # response body exactly as to be sent on the wire

gzip ``!!binary`` bodies stay compressed and keep ``Content-Encoding: gzip`` (the
client decompresses); ``parsed_body`` mappings are re-serialised with ``json.dumps``
and lose any ``content-encoding``; header-less bodies get an inferred Content-Type.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Framing headers are recomputed by the server; recorded values are often stale.
_DROP = {"content-length", "transfer-encoding", "connection", "keep-alive"}


def _header_pairs(headers: Any) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for name, value in (headers or {}).items():
        for v in value if isinstance(value, list) else [value]:
            pairs.append((str(name), str(v)))
    return pairs


def _body(part: dict[str, Any]) -> str | bytes | None:
    if "parsed_body" in part:
        return json.dumps(part["parsed_body"])
    body = part.get("body")
    if isinstance(body, dict):
        body = body.get("string")
    if body is None or isinstance(body, bytes):
        return body
    return str(body)


def _infer_content_type(body: bytes) -> str:
    head = body.lstrip()[:6]
    if head.startswith((b"event:", b"data:")):
        return "text/event-stream; charset=utf-8"
    return "application/json"


def _interaction(raw: dict[str, Any]) -> dict[str, Any]:
    req, resp = raw["request"], raw["response"]
    url = urlsplit(req["uri"])
    request_body = _body(req)
    if isinstance(request_body, bytes):
        request_body = request_body.decode("utf-8", "replace")
    body = _body(resp)
    body_bytes = body if isinstance(body, bytes) else (body or "").encode("utf-8")
    headers = [(k, v) for k, v in _header_pairs(resp.get("headers")) if k.lower() not in _DROP]
    if "parsed_body" in resp or not isinstance(body, bytes):
        # Text bodies were stored decoded; a leftover gzip header would make the client fail.
        headers = [(k, v) for k, v in headers if k.lower() != "content-encoding"]
    if body_bytes and not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", _infer_content_type(body_bytes)))
    status = resp.get("status") or {}
    return {
        "method": str(req.get("method", "GET")).upper(),
        "uri": req["uri"],
        "path": url.path or "/",
        "query": url.query,
        "request_body": request_body,
        "status": int(status.get("code", 200)) if isinstance(status, dict) else int(status),
        "headers": headers,
        "body": body_bytes,
    }


def load_cassette(path: str | Path) -> list[dict[str, Any]]:
    """Read a VCR cassette into replayable interaction dicts (see module docstring)."""
    import yaml  # lazy: only cassette users pay for (and need) PyYAML

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, "rb") as fh:
        data = yaml.load(fh, Loader=loader)
    return [_interaction(raw) for raw in (data or {}).get("interactions") or []]


def decoded_body(interaction: dict[str, Any]) -> bytes:
    """The response body as a client sees it after Content-Encoding is undone."""
    body = interaction["body"]
    encoding = next((v for k, v in interaction["headers"] if k.lower() == "content-encoding"), "")
    return gzip.decompress(body) if "gzip" in encoding.lower() else body
