"""Process-wide state: which store spans go to, and init()/flush()."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from .store import Store, connect, default_path
from .store.problems import warn_store_problem

_store: Store | None = None
_lock = threading.Lock()
enabled = True
submitted = 0  # spans handed over so far: lets the cell summary skip quiet cells cheaply


def init(path: str | Path | None = None, *, instrument: bool = True) -> Store:
    """Open (or switch to) the trace store and, by default, instrument every installed SDK.

    Idempotent: calling it again with the same path changes nothing. ``path`` defaults
    to ``$LLMDEBUG_DB`` or ``./llmdebug.db``. A path that cannot be written now gives
    one warning; calls keep working and their spans wait in memory until it can, or a
    later ``init(path=...)`` points somewhere writable. A file that is not llmdebug's
    (another application's database, one from a newer llmdebug, not SQLite) raises
    :class:`llmdebug.store.StoreError` and is left unchanged.
    """
    global _store
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
                _store.writer.adopt(old.close())
        store = _store
    if instrument:
        from .capture import instrument as _instrument

        _instrument()
    return store


def get_store() -> Store:
    """The current store; opens the default one (without instrumenting) if needed."""
    if _store is None:
        return init(instrument=False)
    return _store


def submit(span) -> None:
    global submitted
    if enabled:
        submitted += 1
        store = _store if _store is not None else get_store()
        store.writer.put(span)


def flush(timeout: float | None = 30.0) -> bool:
    """Block until everything captured so far is on disk. Returns False if the store
    could not be written (see the warning) or ``timeout`` passed."""
    if _store is None:
        return True
    return _store.flush(timeout)


def close() -> None:
    """Flush and close the current store; the next capture opens the default one again."""
    global _store
    with _lock:
        store, _store = _store, None
    if store is not None:
        store.close()
