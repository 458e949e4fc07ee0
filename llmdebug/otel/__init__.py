"""OpenTelemetry both ways: OTel spans in (in-process, OTLP receiver, files) and llmdebug's
spans out (live OTLP export, or stored traces after the fact).

``SpanProcessor`` is importable from here; the rest loads on first use, so the OTel SDK
is imported only by who asks for it.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["SpanProcessor", "install", "receive", "load", "export", "start_export", "stop_export"]

_EXPORTS = {
    "SpanProcessor": ("processor", "SpanProcessor"),
    "install": ("processor", "install"),
    "receive": ("receiver", "receive"),
    "load": ("files", "load"),
    "export": ("exporter", "export"),
    "start_export": ("exporter", "start_export"),
    "stop_export": ("exporter", "stop_export"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'llmdebug.otel' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    globals()[name] = value
    return value
