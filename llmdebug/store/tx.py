"""Write transactions and the small key/value state the store keeps beside its tables."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the lock up front (``BEGIN IMMEDIATE``), so two
    processes never both read and then fail to upgrade; rolled back on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def get_state(conn: sqlite3.Connection, key: str, default: int = 0) -> int:
    row = conn.execute("SELECT value FROM llmdebug_state WHERE key = ?", [key]).fetchone()
    return int(row[0]) if row else default


def set_state(conn: sqlite3.Connection, key: str, value: int) -> None:
    conn.execute("INSERT OR REPLACE INTO llmdebug_state (key, value) VALUES (?, ?)", [key, value])
