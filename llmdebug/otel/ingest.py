"""OTel spans from outside this process (a receiver, a file) into the store.

Spans already in the store (by id) are skipped, so a file loaded twice or an export
retried adds nothing. The attribute mapping runs on the store's writer thread, so a
receiver answers its client without waiting for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from .. import session
from ..tracing import Span
from .conventions import to_span
from .record import OtelSpan

__all__ = ["Ingested", "Mapped", "ingest", "stored_ids"]

_CHUNK = 500  # ids per "already stored?" query (SQLite's default limit on variables is 32766)


@dataclass
class Ingested:
    """What one batch of OTel spans did to the store."""

    trace_ids: list[str] = field(default_factory=list)  # in first-seen order
    stored: int = 0
    skipped: int = 0  # already in the store


class Mapped:
    """The OTel span behind an ingested Span, mapped on the writer thread (``Span._raw``)."""

    __slots__ = ("otel",)

    def __init__(self, otel: OtelSpan):
        self.otel = otel

    def approx_bytes(self) -> int:
        a = self.otel.attributes
        return 64 * len(a) + sum(len(v) for v in a.values() if isinstance(v, str))

    def finalize(self, s: Span) -> None:
        mapped = to_span(self.otel, span_id=s.id, parent_id=s.parent_id)
        for name in Span.__slots__:
            if not name.startswith("_"):
                setattr(s, name, getattr(mapped, name))


def stored_ids(ids: list[str]) -> set[str]:
    """Which of ``ids`` the current store already holds (flushing first)."""
    store = session.get_store()
    session.flush()
    found: set[str] = set()
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        rows = store.read(f"SELECT id FROM spans WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
        found.update(r[0] for r in rows)
    return found


def ingest(spans: Iterable[OtelSpan], *, known: set[str] | None = None) -> Ingested:
    """Hand ``spans`` to the store's writer; ``known``: ids to treat as already stored
    (default: asked of the store)."""
    spans = list(spans)
    if known is None:
        known = stored_ids([o.span_id for o in spans]) if spans else set()
    out = Ingested()
    seen_traces: set[str] = set()
    store = session.get_store()
    for o in spans:
        if o.trace_id not in seen_traces:
            seen_traces.add(o.trace_id)
            out.trace_ids.append(o.trace_id)
        if o.span_id in known:
            out.skipped += 1
            continue
        known.add(o.span_id)
        s = Span(id=o.span_id, trace_id=o.trace_id, parent_id=o.parent_id, name=o.name, kind="span",
                 started_at=o.start_ns / 1e9 if o.start_ns else 0.0)
        s._raw = Mapped(o)
        store.writer.put(s)
        out.stored += 1
    return out
