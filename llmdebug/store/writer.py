"""The background writer: drains captured spans into SQLite in batched transactions.

Capture hands spans over with :meth:`Writer.put` (an append under a lock). One daemon
thread takes them in arrival order, turns them into rows and inserts a batch per
transaction. What cannot be written yet (a locked, read-only or vanished file) stays
at the front of the buffer and is retried with backoff. Nothing is lost silently:

- the buffer is bounded in bytes (``LLMDEBUG_MAX_BUFFER_MB``, default 256): past it the
  payloads of the oldest spans are shed first (their narrow row, with tokens, cost,
  latency and status, is kept), then the oldest spans; one warning says how much;
- the thread outlives any exception, and if it ever stops, the next ``put`` starts a
  new one and says so;
- a trace file deleted or replaced while in use is noticed at the next write and
  recreated, with one warning.
"""

from __future__ import annotations

import collections
import ctypes
import ctypes.util
import os
import sqlite3
import threading
import time
from typing import TYPE_CHECKING, Any

from .._guard import log, raise_errors, report, warn_once
from ..tracing import Span
from . import fts, rollup
from .problems import StoreError, describe, warn_store_problem
from .sampler import HealthSampler
from .rows import PAYLOAD_FIELDS, SPAN_FIELDS, check_width, payload_row, span_row
from .tx import immediate

if TYPE_CHECKING:
    from . import Store

MAX_BATCH = 5000
LINGER_S = 0.1
RETRY_S = (0.5, 1, 2, 5, 10, 30)
FTS_IDLE_S = 0.5
SPAN_OVERHEAD = 1200  # bytes a finalised span and its rows take beyond its payloads
SHED_NOTE = "llmdebug.payload_shed"

_SPAN_SQL = "INSERT OR REPLACE INTO spans ({}) VALUES ({})".format(
    ", ".join(SPAN_FIELDS), ", ".join("?" * len(SPAN_FIELDS))
)
_PAYLOAD_SQL = "INSERT OR REPLACE INTO payloads ({}) VALUES ({})".format(
    ", ".join(PAYLOAD_FIELDS), ", ".join("?" * len(PAYLOAD_FIELDS))
)

_STOP = object()

# Subscribers to stored batches (budgets and alerts): a higher layer registers here, so
# the store never imports it.
_hooks_lock = threading.Lock()
_stored_hooks: list = []
_stored_cost = 0.0  # USD of the LLM calls this process has stored, in every store


def on_stored(fn) -> float:
    """Call ``fn(spans, connection)`` after every batch this process stores; returns the
    cost of the LLM calls stored before (so a subscriber's running total starts right)."""
    with _hooks_lock:
        _stored_hooks.append(fn)
        return _stored_cost


def _published(batch: list) -> list:
    global _stored_cost
    with _hooks_lock:
        for s in batch:
            if s.kind == "llm" and s.cost_usd:
                _stored_cost += s.cost_usd
        return list(_stored_hooks)


def max_buffer_bytes() -> int:
    """``LLMDEBUG_MAX_BUFFER_MB`` (default 256) in bytes."""
    raw = os.environ.get("LLMDEBUG_MAX_BUFFER_MB", "").strip()
    try:
        mb = float(raw) if raw else 256.0
    except ValueError:
        mb = 256.0
    return int(max(mb, 1.0) * 1024 * 1024)


class _IndexNow:
    __slots__ = ("done",)

    def __init__(self):
        self.done = threading.Event()


class _SampleNow(_IndexNow):
    __slots__ = ()


def approx_bytes(obj: Any, _depth: int = 0) -> int:
    """A cheap, bounded estimate of the memory a user span's input or output holds."""
    if obj is None or isinstance(obj, (bool, int, float)):
        return 0
    if isinstance(obj, (str, bytes, bytearray)):
        return len(obj) + 50
    if _depth >= 3:
        return 200
    if isinstance(obj, dict):
        items = list(obj.items())[:200]
        n = sum(approx_bytes(k, _depth + 1) + approx_bytes(v, _depth + 1) for k, v in items)
        return n * max(len(obj), 1) // max(len(items), 1) + 100
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = list(obj)[:200]
        n = sum(approx_bytes(v, _depth + 1) for v in items)
        return n * max(len(obj), 1) // max(len(items), 1) + 60
    return 200


def span_bytes(s: Span) -> int:
    raw = s._raw
    if raw is not None:
        return SPAN_OVERHEAD + raw.approx_bytes()
    if s.input is None and s.output is None and s.request is None and s.response is None:
        return SPAN_OVERHEAD + (approx_bytes(s.attributes) if s.attributes else 0)
    return SPAN_OVERHEAD + sum(approx_bytes(x) for x in (s.input, s.output, s.request, s.response, s.messages,
                                                         s.attributes, s.output_text))


def _release_memory() -> None:
    """Give freed heap back to the OS after a large backlog drains (glibc keeps it otherwise)."""
    try:
        name = ctypes.util.find_library("c")
        if name:
            trim = getattr(ctypes.CDLL(name), "malloc_trim", None)
            if trim is not None:
                trim(0)
    except Exception:  # not glibc: nothing to do
        pass


class Writer:
    """Owns one connection on its own daemon thread. ``put`` is the capture hot path."""

    def __init__(self, store: "Store"):
        self.store = store
        self._lock = threading.Lock()
        self._items: collections.deque = collections.deque()  # spans and control markers, oldest first
        self._bytes = 0  # estimated bytes held by the spans in _items and the batch being written
        self.cap = max_buffer_bytes()
        self._wakeup = threading.Event()  # set by put() when the thread sleeps with nothing to do
        self._urgent = threading.Event()  # a flush, index or stop: skip the linger and the backoff
        self._sleeping = False
        self._thread: threading.Thread | None = None
        self._alive = False
        self._stopping = False
        self._conn: sqlite3.Connection | None = None
        self._ident: tuple[int, int] | None = None  # (st_dev, st_ino) of the file the connection has open
        self.held = False  # the last write failed: spans wait in memory
        self.accepted = 0  # spans handed over by put()
        self.written = 0
        self.shed_payloads = 0
        self.shed_bytes = 0
        self.dropped = 0
        self.restarts = 0
        self.reopened = 0
        self.peak_bytes = 0
        self.last_batch_ms: float | None = None
        self.last_error: str | None = None
        self.fts_dirty = False
        self._failures = 0
        self._shed_mark = 0  # shed_payloads + dropped when the batch being written was taken
        self._in_batch_bytes = 0  # bytes of the batch being written (not "queued" any more)
        self.health = HealthSampler()  # writer_health samples (sampler.py)

    # -- caller side ------------------------------------------------------------------
    def put(self, span) -> None:
        size = span_bytes(span)
        span._nbytes = size
        with self._lock:
            self._items.append(span)
            self._bytes += size
            self.accepted += 1
            over = self._bytes > self.cap
        if self._sleeping:
            self._sleeping = False
            self._wakeup.set()
        if not self._alive:
            self._start()
        if over:
            self._shed()

    def adopt(self, spans: list) -> None:
        """Take over spans another store could not write."""
        for s in spans:
            self.put(s)

    def _control(self, item: Any) -> None:
        with self._lock:
            self._items.append(item)
        self._urgent.set()
        self._sleeping = False
        self._wakeup.set()
        if not self._alive:
            self._start()

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Block until every span handed over so far was written; False if some could not be."""
        with self._lock:
            if not self._items and self._thread is None:
                return True
        done = threading.Event()
        self._control(done)
        if not done.wait(timeout):
            return False
        return not self.held

    def index_now(self, timeout: float | None = 30.0) -> bool:
        """Write everything queued, then bring search and the metrics rollup up to date."""
        req = _IndexNow()
        self._control(req)
        return req.done.wait(timeout)

    def sample_now(self, timeout: float | None = 30.0) -> bool:
        """Write everything queued, then a ``writer_health`` sample of what is not sampled yet."""
        req = _SampleNow()
        self._control(req)
        return req.done.wait(timeout)

    def queued(self) -> tuple[int, int]:
        """Spans waiting in memory and their estimated bytes, without the batch being written."""
        return len(self._items), max(0, self._bytes - self._in_batch_bytes)

    def stop(self, timeout: float = 30.0) -> list:
        """Flush, stop the thread and return the spans that could not be written."""
        self.flush(timeout)
        t = self._thread
        if t is not None and t.is_alive():
            self._stopping = True
            self._control(_STOP)
            t.join(timeout)
        with self._lock:
            left = [x for x in self._items if isinstance(x, Span)]
            self._items.clear()
            self._bytes = 0
        return left

    def stats(self) -> dict:
        """Queue depth, bytes buffered, what was shed or dropped, the last error."""
        with self._lock:
            spans = sum(1 for x in self._items if isinstance(x, Span))
            buffered = self._bytes
        return {"queued_spans": spans, "buffered_bytes": buffered, "cap_bytes": self.cap,
                "peak_bytes": self.peak_bytes, "written": self.written, "shed_payloads": self.shed_payloads,
                "shed_bytes": self.shed_bytes, "dropped_spans": self.dropped, "restarts": self.restarts,
                "reopened": self.reopened, "last_batch_ms": self.last_batch_ms, "last_error": self.last_error,
                "writing": not self.held, "worst_batch_ms_recent": self.health.worst_recent_ms()}

    def _start(self) -> None:
        with self._lock:
            if self._alive:
                return
            restarted = self._thread is not None
            self._alive = True
            t = threading.Thread(target=self._run, name="llmdebug-writer", daemon=True)
            self._thread = t
        if restarted:
            self.restarts += 1
            warn_once(f"writer-restart:{self.store.path}",
                      f"llmdebug: the writer thread of {str(self.store.path)!r} had stopped "
                      f"({self.last_error or 'unknown cause'}); a new one took over and nothing queued was lost.")
        t.start()

    # -- memory bound --------------------------------------------------------------------
    def _shed(self) -> None:
        """Bring the buffer under ``cap``: the oldest payloads first, then the oldest spans."""
        target = int(self.cap * 0.8)  # some room, so that not every put sheds again
        shed = dropped = freed = 0
        with self._lock:
            if self._bytes <= self.cap:
                return
            for s in self._items:
                if self._bytes <= target:
                    break
                if isinstance(s, Span) and s._nbytes > SPAN_OVERHEAD:
                    freed += self._shed_payload(s)
                    shed += 1
            while self._bytes > target:
                victim = next((x for x in self._items if isinstance(x, Span)), None)
                if victim is None:
                    break
                self._items.remove(victim)
                self._bytes -= victim._nbytes
                freed += victim._nbytes
                dropped += 1
            self.shed_payloads += shed
            self.shed_bytes += freed
            self.dropped += dropped
        if shed or dropped:
            cause = self.last_error or "the writer is not keeping up"
            warn_once(f"shed:{self.store.path}",
                      f"llmdebug: more than {self.cap / 2**20:.0f} MB of captured spans were waiting to be written "
                      f"to {str(self.store.path)!r} ({cause}). To stay within that, llmdebug kept the narrow rows "
                      f"(tokens, cost, latency, status) but shed the payloads of the oldest spans"
                      + (" and dropped the oldest spans" if dropped else "")
                      + "; %llmdebug shows the counts. Raise the cap with LLMDEBUG_MAX_BUFFER_MB if you have the "
                      "memory. This warning is shown once.")

    def _shed_payloads_of(self, spans: list) -> None:
        """Shed the payloads of ``spans`` (under the lock)."""
        for s in spans:
            if s._nbytes > SPAN_OVERHEAD:
                self.shed_bytes += self._shed_payload(s)
                self.shed_payloads += 1

    def _shed_payload(self, s: Span) -> int:
        """Drop one span's payload (under the lock); the bytes freed."""
        freed = s._nbytes - SPAN_OVERHEAD
        _drop_payload(s)
        s._nbytes = SPAN_OVERHEAD
        self._bytes -= freed
        return freed

    # -- writer thread ----------------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                try:
                    if not self._cycle():
                        return
                except BaseException as e:  # the thread must outlive anything a batch throws
                    self.last_error = f"{type(e).__name__}: {e}"
                    try:
                        report("writing spans")
                    except BaseException:
                        if raise_errors():
                            raise  # tests: let the bug be seen (the next put restarts the thread)
                    time.sleep(0.05)
        finally:
            self._alive = False

    def _wait_for_work(self) -> bool:
        """Sleep until there is something to do; False when only idle work is due."""
        if self.held:  # the last write failed: back off (a flush or stop tries at once)
            self._urgent.wait(RETRY_S[min(self._failures, len(RETRY_S)) - 1])
            self._urgent.clear()
            return True
        while not self._items:
            self._sleeping = True
            if self._items:  # appended before the flag was seen
                self._sleeping = False
                break
            woke = self._wakeup.wait(_soonest(FTS_IDLE_S if self.fts_dirty else None, self.health.wait_s()))
            self._wakeup.clear()
            self._sleeping = False
            if not woke:
                return False
        # Linger briefly after the first span so a burst shares one transaction:
        # a commit costs far more than a row. A flush or stop cuts the wait short.
        if not self._urgent.is_set():
            self._urgent.wait(LINGER_S)
        self._urgent.clear()
        return True

    def _cycle(self) -> bool:
        if not self._wait_for_work():
            if self.fts_dirty:
                self._index()
            if self.health.pending and self.health.due():
                self._sample()  # gone idle: the last sample of this burst
            return True
        batch: list = []
        waiters: list[threading.Event] = []
        index_waiters: list[threading.Event] = []
        sample_waiters: list[threading.Event] = []
        stop = False
        budget = max(self.cap // 4, 1)
        taken = 0
        with self._lock:
            items = self._items
            while items and len(batch) < MAX_BATCH and taken < budget:
                x = items.popleft()
                if isinstance(x, Span):
                    batch.append(x)
                    taken += x._nbytes
                elif x is _STOP:
                    stop = True
                    break
                elif isinstance(x, _SampleNow):
                    sample_waiters.append(x.done)
                elif isinstance(x, _IndexNow):
                    index_waiters.append(x.done)
                else:
                    waiters.append(x)
            more = bool(items)
        if batch:
            self._shed_mark = self.shed_payloads + self.dropped
            self._write(batch, taken)
        elif waiters or index_waiters or sample_waiters:
            self._reconnect_if_moved()
        for w in waiters:
            w.set()
        if sample_waiters:
            if self.health.pending:
                self._sample()
            for w in sample_waiters:
                w.set()
        if index_waiters:
            self._index()
            for w in index_waiters:
                w.set()
        if more:
            self._urgent.set()  # the rest of a long backlog: no linger
        if stop:
            self._close()
            return False
        return True

    def _write(self, batch: list, nbytes: int) -> None:
        t0 = time.perf_counter()
        for s in batch:
            raw = s._raw
            if raw is not None:
                s._raw = None
                try:
                    raw.finalize(s)
                except Exception:
                    report("reading an SDK response")
        spans_rows, payload_rows = [], []
        for s in batch:
            try:
                # check_width: a row of the wrong width is a bug, said as one (the insert would
                # fail as a misleading "cannot write to the file" and be retried forever)
                spans_rows.append(check_width(span_row(s), "spans"))
                p = payload_row(s)
                if p is not None:
                    payload_rows.append(check_width(p, "payloads"))
            except Exception:
                report("serialising a span")
        self._in_batch_bytes = nbytes
        self.health.rolled_back()  # nothing staged by a transaction that never finished
        try:
            with immediate(self._connection()) as conn:
                if spans_rows:
                    conn.executemany(_SPAN_SQL, spans_rows)
                if payload_rows:
                    conn.executemany(_PAYLOAD_SQL, payload_rows)
                if self.health.due():  # at most once a second, in this batch's transaction
                    self.health.stage(conn, self, batch_ms=(time.perf_counter() - t0) * 1000.0,
                                      batch_spans=len(spans_rows), written_now=len(spans_rows))
        except Exception as e:
            self.health.rolled_back()
            self._in_batch_bytes = 0
            if not isinstance(e, (sqlite3.Error, StoreError, OSError)):
                try:
                    report("writing spans")
                except Exception:
                    self._failed(batch, e)  # tests: keep the batch, then let the bug be seen
                    raise
            self._failed(batch, e)
            return
        with self._lock:
            if self._bytes > self.peak_bytes:
                self.peak_bytes = self._bytes
            self._bytes -= nbytes
            drained = not self._items
        self._in_batch_bytes = 0
        self.written += len(spans_rows)
        self.last_batch_ms = (time.perf_counter() - t0) * 1000.0
        self.health.batch(self.last_batch_ms, len(spans_rows))
        self.health.committed()
        self.fts_dirty = True
        if self.held:
            log.warning("llmdebug: trace store %s is writable again", self.store.path)
        self.held = False
        self._failures = 0
        self.last_error = None
        if drained and self.peak_bytes > 8 * 2**20:
            self.peak_bytes = 0
            _release_memory()
        for hook in _published(batch):
            try:
                hook(batch, self._conn)
            except Exception:
                report("telling subscribers about stored spans")

    def _failed(self, batch: list, e: BaseException) -> None:
        self._failures += 1
        self.last_error = f"{type(e).__name__}: {e}"
        if self._conn is not None and "locked" not in str(e) and "busy" not in str(e):
            self._close()
        with self._lock:
            self._items.extendleft(reversed(batch))  # back at the front, in order
            over = self._bytes > self.cap
            if self.shed_payloads + self.dropped != self._shed_mark:
                # newer spans lost their payloads while this batch was out of the queue:
                # the oldest go first, so this batch's go too
                self._shed_payloads_of(batch)
        self.held = True
        warn_store_problem(self.store.path, e)
        if over:
            self._shed()

    # -- the file -----------------------------------------------------------------------
    def _file_ident(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.store.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def _check_file(self) -> None:
        """Notice a trace file deleted or replaced since it was opened."""
        if self._conn is None:
            return
        ident = self._file_ident()
        if ident == self._ident:
            return
        self._close()
        self.reopened += 1
        what = "deleted" if ident is None else "replaced by another file"
        warn_once(f"store-gone:{self.store.path}",
                  f"llmdebug: the trace file {str(self.store.path)!r} was {what} while in use. "
                  "llmdebug opened the file now at that path (creating and migrating it if needed) and writes "
                  "the next spans there; spans written before are only in the old file. This warning is shown once.")
        self.store.file_changed()

    def _reconnect_if_moved(self) -> None:
        """At a flush with nothing to write: a deleted file is recreated now, not at the next span."""
        if self._conn is None or self._ident == self._file_ident():
            return
        try:
            self._connection()
        except (sqlite3.Error, StoreError, OSError) as e:
            self.held = self.held or bool(self._items)
            warn_store_problem(self.store.path, e)

    def _connection(self) -> sqlite3.Connection:
        self._check_file()
        if self._conn is None:
            self._conn = self.store.open_writer_connection()
            self._ident = self._file_ident()
            self.fts_dirty = True  # rows another process wrote may still need indexing
        return self._conn

    def _sample(self) -> None:
        """A ``writer_health`` sample in a transaction of its own (idle, or asked for)."""
        try:
            self.health.write_alone(self._connection(), self)
        except (sqlite3.Error, StoreError, OSError) as e:
            if describe(self.store.path, e)[0] == "other":
                report("sampling the writer's health")

    def _index(self) -> None:
        """Bring full-text search and the metrics rollup up to date (when the queue is idle)."""
        try:
            conn = self._connection()
            fts.catch_up(conn)
            rollup.catch_up(conn)
            self.fts_dirty = False
        except (sqlite3.Error, StoreError, OSError) as e:
            if describe(self.store.path, e)[0] == "other":  # not a known store problem: a bug
                report("indexing spans for search and metrics")
            # locked or unwritable: the spans' own warning covers it; retried when idle
        except Exception:
            self.fts_dirty = False
            report("indexing spans for search and metrics")

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None
            self._ident = None


def _soonest(*waits: float | None) -> float | None:
    given = [w for w in waits if w is not None]
    return min(given) if given else None


def _drop_payload(s: Span) -> None:
    """Keep a span's narrow row, free its payloads (finalising an LLM call first, so
    its tokens, cost and status survive)."""
    raw = s._raw
    if raw is not None:
        s._raw = None
        try:
            raw.finalize(s)
        except Exception:
            report("reading an SDK response")
    s.request = s.response = s.messages = s.output_text = s.tool_calls = None
    s.input = s.output = None
    s.events = None
    s.attributes = {SHED_NOTE: "payload not stored: llmdebug's buffer was full (LLMDEBUG_MAX_BUFFER_MB)"}
