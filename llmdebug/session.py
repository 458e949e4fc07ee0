"""Process-wide state: which store spans go to, and init()/flush()."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from . import tracing
from .capture import instrument as _instrument
from .store import Store, connect, default_path
from .store.problems import warn_store_problem

_store: Store | None = None
_lock = threading.Lock()
_closed_total = 0  # spans accepted by stores closed since the process began
enabled = True


def init(path: str | Path | None = None, *, instrument: bool = True) -> Store:
    """Open (or switch to) the trace store and, by default, instrument every installed SDK.

    Idempotent: calling it again with the same path changes nothing. ``path`` defaults
    to ``$LLMDEBUG_DB`` or ``./llmdebug.db``. A path that cannot be written now gives
    one warning; calls keep working and their spans wait in memory until it can, or a
    later ``init(path=...)`` points somewhere writable. A file that is not llmdebug's
    (another application's database, one from a newer llmdebug, not SQLite) raises
    :class:`llmdebug.store.StoreError` and is left unchanged.
    """
    global _store, _closed_total
    target = Path(path).expanduser() if path is not None else default_path()
    with _lock:
        if _store is None or _store.path.resolve() != target.resolve():
            try:
                connect(target).close()  # a file llmdebug must not write raises StoreError here
            except sqlite3.Error as e:
                warn_store_problem(target, e)  # transient (locked, unwritable): spans wait in memory
            old = _store
            _store = Store(target)
            if old is not None:
                _closed_total += old.writer.accepted
                _store.writer.adopt(old.close())
        store = _store
    tracing.set_sink(submit)
    if instrument:
        _instrument()
    return store


def get_store() -> Store:
    """The current store; opens the default one (without instrumenting) if needed."""
    if _store is None:
        return init(instrument=False)
    return _store


def current_store() -> Store | None:
    """The store spans go to now, or None if none is open (never opens one)."""
    return _store


def submit(span) -> None:
    if enabled:
        store = _store if _store is not None else get_store()
        store.writer.put(span)


def submitted() -> int:
    """Spans handed over in this process so far: lets the cell summary skip quiet cells cheaply."""
    store = _store
    return _closed_total + (store.writer.accepted if store is not None else 0)


def flush(timeout: float | None = 30.0) -> bool:
    """Block until everything captured so far is on disk. Returns False if the store
    could not be written (see the warning) or ``timeout`` passed."""
    if _store is None:
        return True
    return _store.flush(timeout)


def close() -> None:
    """Flush and close the current store; the next capture opens the default one again."""
    global _store, _closed_total
    with _lock:
        store, _store = _store, None
        if store is not None:
            _closed_total += store.writer.accepted
    if store is not None:
        store.close()
