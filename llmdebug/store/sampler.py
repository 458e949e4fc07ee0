"""The writer's own health over time: samples in the ``writer_health`` table.

The writer thread (never the capture path) takes a sample at most once per second while
it has work, inside the transaction of the batch it is writing, and once more when it
goes idle (a second after the last sample at most, in a transaction of its own), so the
counts of every span written end up in some sample. Nothing is sampled while nothing
happens. A row says, at ``at``:

- ``queue_depth``, ``queued_bytes``: spans (and their estimated bytes) waiting in memory,
  not counting the batch being written;
- ``batch_ms``, ``batch_spans``: the slowest batch since the previous sample and its size
  (the batch that carries the sample is timed up to its commit);
- ``written``, ``shed_spans``, ``shed_payloads``: spans written, spans dropped and payloads
  shed (``LLMDEBUG_MAX_BUFFER_MB``) since the previous sample of this writer, so a column's
  sum is the total.
"""

from __future__ import annotations

import collections
import sqlite3
import time
from typing import TYPE_CHECKING

from .rows import iso
from .tx import immediate

if TYPE_CHECKING:
    from .writer import Writer

EVERY_S = 1.0
RECENT_S = 60.0  # "worst batch recently" in %llmdebug status
COLUMNS = ("at", "queue_depth", "queued_bytes", "batch_ms", "batch_spans", "written", "shed_spans", "shed_payloads")
_INSERT = f"INSERT INTO writer_health ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


class HealthSampler:
    """What the writer did since its last sample, and when the next one is due. Used by
    the writer thread only (no lock)."""

    def __init__(self) -> None:
        self.last = time.monotonic() - EVERY_S  # the first batch carries a sample
        self.pending = False  # something happened since the last sample
        self.worst_ms: float | None = None
        self.worst_spans = 0
        self.sent = {"written": 0, "shed_spans": 0, "shed_payloads": 0}  # the writer's counters at the last sample
        self._staged: dict | None = None
        self.recent: collections.deque = collections.deque()  # (monotonic time, batch ms)

    def batch(self, ms: float, spans: int) -> None:
        """A batch of ``spans`` was committed in ``ms``."""
        now = time.monotonic()
        if self.worst_ms is None or ms > self.worst_ms:
            self.worst_ms, self.worst_spans = ms, spans
        self.pending = True
        self.recent.append((now, ms))
        while self.recent and self.recent[0][0] < now - RECENT_S:
            self.recent.popleft()

    def worst_recent_ms(self) -> float | None:
        """The slowest batch of the last minute (ms), None if there was none."""
        now = time.monotonic()
        values = [ms for t, ms in list(self.recent) if t >= now - RECENT_S]
        return max(values) if values else None

    def due(self) -> bool:
        return time.monotonic() - self.last >= EVERY_S

    def wait_s(self) -> float | None:
        """Seconds until the idle sample is due; None when nothing waits to be sampled."""
        if not self.pending:
            return None
        return max(0.0, self.last + EVERY_S - time.monotonic())

    def stage(self, conn: sqlite3.Connection, w: "Writer", *, batch_ms: float | None = None,
              batch_spans: int = 0, written_now: int = 0) -> None:
        """Insert a sample in the transaction open on ``conn``; :meth:`committed` makes it
        count once that transaction commits. ``batch_*``/``written_now``: the batch being
        written in this transaction."""
        worst_ms, worst_spans = self.worst_ms, self.worst_spans
        if batch_ms is not None and (worst_ms is None or batch_ms > worst_ms):
            worst_ms, worst_spans = batch_ms, batch_spans
        counters = {"written": w.written + written_now, "shed_spans": w.dropped, "shed_payloads": w.shed_payloads}
        depth, nbytes = w.queued()
        conn.execute(_INSERT, (iso(time.time()), depth, nbytes, None if worst_ms is None else round(worst_ms, 3),
                               worst_spans, *(counters[k] - self.sent[k] for k in ("written", "shed_spans",
                                                                                  "shed_payloads"))))
        self._staged = counters

    def committed(self) -> None:
        if self._staged is None:
            return
        self.sent, self._staged = self._staged, None
        self.last = time.monotonic()
        self.pending = False
        self.worst_ms, self.worst_spans = None, 0

    def rolled_back(self) -> None:
        self._staged = None

    def write_alone(self, conn: sqlite3.Connection, w: "Writer") -> None:
        """The idle (or asked-for) sample, in a transaction of its own. A failure waits for
        the next second (the spans' own warning says why the file cannot be written)."""
        try:
            with immediate(conn) as c:
                self.stage(c, w)
        except BaseException:
            self.rolled_back()
            self.last = time.monotonic()
            raise
        self.committed()
