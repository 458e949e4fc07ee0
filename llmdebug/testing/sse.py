"""Wire-level reply objects: a JSON body or a list of Server-Sent Events."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    """What the server sends: either ``body`` (bytes) or ``events`` (SSE frames)."""

    status: int = 200
    body: bytes | None = None
    events: list[bytes] | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def is_stream(self) -> bool:
        return self.events is not None


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def json_reply(obj: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Reply:
    hdrs = [("Content-Type", "application/json")] + list(headers or [])
    return Reply(status=status, body=dumps(obj).encode(), headers=hdrs)


def sse_reply(events: list[bytes], headers: list[tuple[str, str]] | None = None) -> Reply:
    hdrs = [("Content-Type", "text/event-stream; charset=utf-8"), ("Cache-Control", "no-cache")]
    return Reply(status=200, events=events, headers=hdrs + list(headers or []))


def data_event(obj: Any) -> bytes:
    """OpenAI chat style: ``data:`` line only."""
    payload = obj if isinstance(obj, str) else dumps(obj)
    return f"data: {payload}\n\n".encode()


def named_event(name: str, obj: Any) -> bytes:
    """Anthropic / Responses style: ``event:`` line then ``data:`` line."""
    return f"event: {name}\ndata: {dumps(obj)}\n\n".encode()
