"""The SQLite trace store: one file, WAL mode, migrated on open, written by a background thread.

Capture code only calls :meth:`Store.put` (a buffer append). The writer thread turns
spans into rows and inserts them in batches, one transaction per batch. If the file
cannot be written (missing directory, read-only, locked by another process, full
disk), spans stay in memory, one clear warning names the cause, and the writer
retries; memory is bounded by ``LLMDEBUG_MAX_BUFFER_MB`` (see writer.py). A file that
is not llmdebug's (another application's database, one made by a newer llmdebug, not
SQLite at all) is refused with :class:`StoreError` and left unchanged. New files are
created readable by their owner only (0600), and SQLite gives -wal and -shm the same.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sqlite3
import threading
import time
import weakref
from pathlib import Path
from typing import Iterator

from ._sqlite_utils import Database  # sqlite-utils without its pandas import

from . import migrations as schema  # the module stays llmdebug.store.migrations
from .problems import StoreError, check_file
from .tx import immediate
from .writer import Writer, on_stored

__all__ = ["Store", "StoreError", "connect", "default_path", "on_stored"]

BUSY_TIMEOUT_S = 10.0


def default_path() -> Path:
    """``$LLMDEBUG_DB`` or ``./llmdebug.db``."""
    return Path(os.environ.get("LLMDEBUG_DB") or "llmdebug.db")


def connect(path: str | Path, *, busy_timeout: float | None = None) -> sqlite3.Connection:
    """Open ``path``, switch it to WAL and apply pending migrations (safe when several
    processes open a new file at once: migrations run under a write lock).

    Raises :class:`StoreError` for a file llmdebug must not write (checked read-only
    first, so such a file is left byte-for-byte unchanged)."""
    if busy_timeout is None:
        busy_timeout = BUSY_TIMEOUT_S
    path = Path(path)
    check_file(path, known=_KNOWN, timeout=busy_timeout)
    _create_private(path)
    conn = sqlite3.connect(str(path), timeout=busy_timeout, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            break
        except sqlite3.OperationalError as e:
            # Switching journal mode takes an exclusive lock and does not wait on
            # the busy handler: retry while another process holds it.
            if "locked" not in str(e) or time.monotonic() > deadline:
                conn.close()
                raise
            time.sleep(0.02)
    conn.execute("PRAGMA synchronous = NORMAL")
    db = Database(conn)
    if schema.migrations.pending(db):
        try:
            with immediate(conn):
                schema.migrations.apply(db)
        except BaseException:
            conn.close()
            raise
    return conn


_KNOWN = {m.name for m in schema.migrations._migrations}  # sqlite-utils keeps them there


def _create_private(path: Path) -> None:
    """Create a new trace file readable by its owner only: prompts are often confidential."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError:
        return  # exists already (kept as it is), or cannot be created: sqlite says why
    os.close(fd)


class Store:
    """A trace file and its writer thread.

    Example::

        store = Store("traces.db")
        store.put(span)
        store.flush()
        store.db["spans"].count
    """

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        self.writer = Writer(self)
        self._read_db: Database | None = None
        self._read_ident: tuple[int, int] | None = None
        self._read_lock = threading.RLock()
        _open_stores.add(self)

    def __repr__(self) -> str:
        return f"<llmdebug Store {str(self.path)!r}>"

    def open_writer_connection(self) -> sqlite3.Connection:
        return connect(self.path)

    def put(self, span) -> None:
        self.writer.put(span)

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Block until every span handed over so far is on disk; False if some are not."""
        return self.writer.flush(timeout)

    @property
    def db(self) -> Database:
        """A sqlite-utils Database for reading (opened on first use, reopened if the file
        at ``path`` was deleted or replaced)."""
        if self._read_db is not None and self._read_ident != _ident(self.path):
            self.file_changed()
        if self._read_db is None:
            with self._read_lock:
                if self._read_db is None:
                    db = Database(connect(self.path))
                    self._read_ident = _ident(self.path)
                    self._read_db = db
        return self._read_db

    def file_changed(self) -> None:
        """The file at ``path`` is not the one opened: read from the new one next time."""
        with self._read_lock:
            if self._read_db is not None:
                try:
                    self._read_db.close()
                except Exception:
                    pass
                self._read_db = None

    @contextlib.contextmanager
    def reading(self) -> Iterator[Database]:
        """The read database, held for a multi-statement read (a cursor walked, a snapshot)."""
        with self._read_lock:
            yield self.db

    def read(self, sql: str, params=()) -> list[tuple]:
        with self._read_lock:
            return self.db.execute(sql, params).fetchall()

    def close(self) -> list:
        """Flush, stop the writer and close; return spans that could not be written."""
        pending = self.writer.stop()
        with self._read_lock:
            if self._read_db is not None:
                self._read_db.close()
                self._read_db = None
        _open_stores.discard(self)
        return pending


def _ident(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


_open_stores: "weakref.WeakSet[Store]" = weakref.WeakSet()


@atexit.register
def _drain_at_exit() -> None:
    for store in list(_open_stores):
        try:
            store.writer.flush(timeout=10.0)
        except Exception:
            pass


def _after_fork_in_child() -> None:
    # The writer thread does not survive fork(); give each store a fresh writer.
    for store in list(_open_stores):
        store.writer = Writer(store)
        store._read_db = None
        store._read_lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
