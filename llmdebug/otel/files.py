"""``ld.load(path)``: traces from a file, in the current store."""

from __future__ import annotations

import gzip
import json
import os
import warnings
import zlib
from pathlib import Path
from typing import Any

from ..tracing import Span
from . import langfuse
from .ingest import ingest
from .record import OtelSpan, from_otlp_json

__all__ = ["load"]

EXPECTED = ("OTLP JSON (the OpenTelemetry Collector's file exporter: one ExportTraceServiceRequest "
            "with resourceSpans per line, or one such document) or a Langfuse trace export "
            '({"trace": …, "observations": […]}), optionally gzipped')
_OTHER_SIGNALS = ("resourceLogs", "resourceMetrics", "resourceProfiles")


def load(path: str | os.PathLike) -> list[str]:
    """Store the traces in ``path``; returns their trace ids in file order.

    Reads OTLP JSON (the Collector's file exporter: one request per line, or a single
    document) and Langfuse trace exports (one, a list of them, or one per line), gzipped
    or not; the format is read from the content, not the name. Spans already stored (by
    id) are skipped, so loading a file twice adds nothing.

    Everything is checked before anything is stored: a file in neither format, or a line
    that is not JSON or not one of these documents, raises ValueError naming the file
    and the line, and nothing of that file is stored. Lines of OTLP logs or metrics (a
    Collector writing every signal to one file) are skipped with a warning.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path={path!r}: give a file path (str or pathlib.Path)")
    p = Path(path)
    text = _text(p)
    otel: list[OtelSpan] = []
    traces: list[tuple[list[Span], list[dict]]] = []
    order: list[str] = []
    other = 0
    for where, doc in _documents(text, p):
        if isinstance(doc, dict) and "resourceSpans" in doc:
            try:
                spans = list(from_otlp_json(doc))
            except (ValueError, TypeError, AttributeError) as e:
                raise ValueError(f"{where}: not a valid OTLP trace request ({e}); nothing from the file was stored") from None
            otel.extend(spans)
            order.extend(o.trace_id for o in spans)
        elif langfuse.is_export(doc):
            try:
                spans = langfuse.parse(doc)
                scores = langfuse.scores(doc)
            except (ValueError, TypeError, AttributeError, KeyError) as e:
                raise ValueError(f"{where}: not a valid Langfuse trace export ({e}); nothing from the file was stored") from None
            traces.append((spans, scores))
            order.append(spans[0].trace_id)
        elif isinstance(doc, dict) and any(k in doc for k in _OTHER_SIGNALS):
            other += 1
        else:
            found = f"an object with keys {', '.join(list(doc)[:8])}" if isinstance(doc, dict) else type(doc).__name__
            raise ValueError(f"{where}: expected {EXPECTED}; found {found}")
    if other:
        warnings.warn(f"{p}: skipped {other} OTLP logs/metrics document(s): only traces are loaded", stacklevel=2)
    if otel:
        ingest(otel)
    for spans, scores in traces:
        langfuse.store(spans, scores)
    return list(dict.fromkeys(order))


def _text(p: Path) -> str:
    data = p.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"{p}: a gzip file that does not decompress ({e})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{p}: not UTF-8 text (byte {e.start}); expected {EXPECTED}") from None
    if not text.strip():
        raise ValueError(f"{p}: the file is empty; expected {EXPECTED}")
    return text


def _documents(text: str, p: Path) -> list[tuple[str, Any]]:
    """(where, JSON document) pairs: the whole file when it is one JSON value, else one per line."""
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
    else:
        if isinstance(whole, list):
            return [(f"{p}: item {i}", d) for i, d in enumerate(whole)]
        return [(str(p), whole)]
    docs = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            docs.append((f"{p}: line {n}", json.loads(line)))
        except ValueError as e:
            if not docs:
                raise ValueError(f"{p}: not JSON (line {n}: {e}); expected {EXPECTED}") from None
            raise ValueError(f"{p}: line {n} is not JSON ({e}); nothing from the file was stored") from None
    return docs
