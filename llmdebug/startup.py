"""``ld.init``: open the store, instrument the SDKs and, when asked, join OpenTelemetry."""

from __future__ import annotations

from pathlib import Path

from . import session
from .store import Store

__all__ = ["init"]


def init(path: str | Path | None = None, *, instrument: bool = True, otel: bool = False,
         export: str | None = None, capture_content: bool | None = None,
         headers: dict | None = None) -> Store:
    """Open (or switch to) the trace store and, by default, instrument every installed SDK.

    Idempotent: calling it again with the same path changes nothing. ``path`` defaults
    to ``$LLMDEBUG_DB`` or ``./llmdebug.db``. A path that cannot be written now gives
    one warning; calls keep working and their spans wait in memory until it can, or a
    later ``init(path=...)`` points somewhere writable. A file that is not llmdebug's
    (another application's database, one from a newer llmdebug, not SQLite) raises
    :class:`llmdebug.StoreError` and is left unchanged.

    ``otel=True`` adds llmdebug's span processor to the global OpenTelemetry
    TracerProvider (creating one if there is none), so spans from any OTel
    instrumentation (LangChain, LlamaIndex, pydantic-ai, ...) are stored too, nested with
    llmdebug's own. ``export="http://host:4318"`` sends every captured span there as OTLP,
    live (``capture_content=False`` leaves message content out; default: the
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` variable, else included;
    ``headers`` go with each export request).
    """
    store = session.init(path, instrument=instrument)
    if otel:
        from .otel.processor import install

        install()
    if export:
        from .otel.exporter import start_export

        start_export(export, capture_content=capture_content, headers=headers)
    return store
