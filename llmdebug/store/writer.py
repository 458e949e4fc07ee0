"""The background writer: drains a queue of spans into SQLite in batched transactions."""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from typing import TYPE_CHECKING

from .. import budgets
from .._guard import log, report, warn_once
from . import fts, rollup
from .rows import PAYLOAD_FIELDS, SPAN_FIELDS, payload_row, span_row
from .tx import immediate

if TYPE_CHECKING:
    from . import Store

MAX_BATCH = 5000
LINGER_S = 0.1
MAX_PENDING = 200_000
RETRY_S = (0.5, 1, 2, 5, 10, 30)

_SPAN_SQL = "INSERT OR REPLACE INTO spans ({}) VALUES ({})".format(
    ", ".join(SPAN_FIELDS), ", ".join("?" * len(SPAN_FIELDS))
)
_PAYLOAD_SQL = "INSERT OR REPLACE INTO payloads ({}) VALUES ({})".format(
    ", ".join(PAYLOAD_FIELDS), ", ".join("?" * len(PAYLOAD_FIELDS))
)

_STOP = object()
FTS_IDLE_S = 0.5


class _IndexNow:
    __slots__ = ("done",)

    def __init__(self):
        self.done = threading.Event()



class Writer:
    """Owns one connection on its own daemon thread. ``put`` is the capture hot path."""

    def __init__(self, store: "Store"):
        self.store = store
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self.pending: list = []  # finalised spans waiting for a writable store
        self.dropped = 0
        self.written = 0
        self.last_error: str | None = None
        self.fts_dirty = False
        self._failures = 0

    # -- caller side ------------------------------------------------------------------
    def put(self, span) -> None:
        self._q.put(span)
        if self._thread is None:
            self._start()

    def adopt(self, spans: list) -> None:
        """Take over spans another store could not write."""
        for s in spans:
            self.put(s)

    def flush(self, timeout: float | None = 30.0) -> bool:
        if self._thread is None and not self.pending:
            return True
        if self._thread is not None and not self._thread.is_alive():
            return not self.pending and self._q.empty()
        done = threading.Event()
        self.put(done)
        if not done.wait(timeout):
            return False
        return not self.pending

    def stop(self, timeout: float = 30.0) -> list:
        self.flush(timeout)
        t = self._thread
        if t is not None and t.is_alive():
            self._q.put(_STOP)
            t.join(timeout)
        pending, self.pending = self.pending, []
        return pending

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                t = threading.Thread(target=self._run, name="llmdebug-writer", daemon=True)
                self._thread = t
                t.start()

    # -- writer thread --------------------------------------------------------------
    def _run(self) -> None:
        q = self._q
        while True:
            if self.pending:
                timeout: float | None = self._retry_delay()
            elif self.fts_dirty:
                timeout = FTS_IDLE_S
            else:
                timeout = None
            try:
                item = q.get(timeout=timeout)
            except queue.Empty:
                if not self.pending and self.fts_dirty:
                    self._index()
                    continue
                item = None
            batch: list = []
            waiters: list[threading.Event] = []
            index_waiters: list[threading.Event] = []
            stop = False
            # Linger briefly after the first span so a burst shares one transaction:
            # a commit costs far more than a row. A flush or stop cuts the wait short.
            deadline = time.monotonic() + LINGER_S
            while item is not None:
                if item is _STOP:
                    stop = True
                elif isinstance(item, _IndexNow):
                    index_waiters.append(item.done)
                elif isinstance(item, threading.Event):
                    waiters.append(item)
                else:
                    batch.append(item)
                if len(batch) >= MAX_BATCH:
                    break
                try:
                    item = q.get_nowait()
                except queue.Empty:
                    left = deadline - time.monotonic()
                    if waiters or index_waiters or stop or left <= 0:
                        break
                    try:
                        item = q.get(timeout=left)
                    except queue.Empty:
                        break
            try:
                self._write(batch)
            except Exception:
                report("writing spans")
            for w in waiters:
                w.set()
            if index_waiters:
                self._index()
                for w in index_waiters:
                    w.set()
            if stop:
                self._close()
                return

    def _retry_delay(self) -> float:
        return RETRY_S[min(self._failures, len(RETRY_S) - 1)]

    def _write(self, batch: list) -> None:
        for s in batch:
            raw = s._raw
            if raw is not None:
                s._raw = None
                try:
                    raw.finalize(s)
                except Exception:
                    report("reading an SDK response")
        spans_rows, payload_rows = [], []
        for s in self.pending + batch:
            try:
                spans_rows.append(span_row(s))
                p = payload_row(s)
                if p is not None:
                    payload_rows.append(p)
            except Exception:
                report("serialising a span")
        all_spans = self.pending + batch
        if not spans_rows:
            return
        try:
            with immediate(self._conn or self._open()) as conn:
                conn.executemany(_SPAN_SQL, spans_rows)
                if payload_rows:
                    conn.executemany(_PAYLOAD_SQL, payload_rows)
        except sqlite3.Error as e:
            self._failed(all_spans, e)
            return
        self.written += len(spans_rows)
        self.fts_dirty = True
        self.pending = []
        try:
            budgets.observe(all_spans, self._conn)
        except Exception:
            report("checking budgets and alerts")
        if self._failures:
            log.warning("llmdebug: trace store %s is writable again", self.store.path)
        self._failures = 0
        self.last_error = None

    def _open(self) -> sqlite3.Connection:
        self._conn = self.store.open_writer_connection()
        self.fts_dirty = True  # rows another process wrote may still need indexing
        return self._conn

    def _index(self) -> None:
        """Bring full-text search and the metrics rollup up to date (when the queue is idle)."""
        try:
            conn = self._conn or self._open()
            fts.catch_up(conn)
            rollup.catch_up(conn)
            self.fts_dirty = False
        except sqlite3.Error:
            pass  # locked or unwritable: the spans' own warning covers it; retried when idle
        except Exception:
            self.fts_dirty = False
            report("indexing spans for search and metrics")

    def index_now(self, timeout: float | None = 30.0) -> bool:
        """Write everything queued, then bring search and the metrics rollup up to date."""
        req = _IndexNow()
        self.put(req)
        return req.done.wait(timeout)

    def _failed(self, spans: list, e: Exception) -> None:
        self._failures += 1
        self.last_error = f"{type(e).__name__}: {e}"
        if self._conn is not None and "locked" not in str(e):
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None
        if len(spans) > MAX_PENDING:
            self.dropped += len(spans) - MAX_PENDING
            spans = spans[-MAX_PENDING:]
        self.pending = spans
        warn_store_problem(self.store.path, e)


    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None


def warn_store_problem(path, e: Exception) -> None:
    """One clear warning per file, whoever meets the problem first."""
    if "locked" in str(e) or "busy" in str(e):
        hint = "another process holds a lock on it; llmdebug keeps retrying"
    elif not path.parent.exists():
        hint = f"its directory {str(path.parent)!r} does not exist"
    else:
        hint = "check that the file and its directory are writable"
    warn_once(
        f"store:{path}",
        f"llmdebug cannot write traces to {str(path)!r} ({e}): {hint}. Your calls still run; "
        f"captured spans are kept in memory and retried. Use ld.init(path=...) or set "
        f"LLMDEBUG_DB to choose another file.",
    )
