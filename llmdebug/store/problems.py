"""What can be wrong with a trace file, said plainly: the cause and the fix for each case.

Two kinds. A file llmdebug must never write (not SQLite, another application's, made by
a newer llmdebug) is refused with :class:`StoreError` before anything touches it. A file
llmdebug cannot write *now* (locked, read-only, missing directory, full disk, corrupt)
gives one warning per cause while the spans wait in memory and are retried.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from .._guard import warn_once

__all__ = ["StoreError", "check_file", "describe", "warn_store_problem"]

MIGRATIONS_TABLE = "_sqlite_migrations"
MIGRATION_SET = "llmdebug"


class StoreError(Exception):
    """This file cannot be a trace store; the message says why and what to do instead."""


def check_file(path: Path, known: set[str], timeout: float = 10.0) -> None:
    """Refuse ``path`` if it is not SQLite, holds tables llmdebug did not create, or was
    made by a newer llmdebug. Reads only: the file is left byte-for-byte unchanged."""
    try:
        if path.stat().st_size == 0:
            return  # new (or just created): nothing to protect
    except FileNotFoundError:
        return
    except OSError:
        return  # unreadable: connecting says why
    # immutable=1 reads the main file only and creates nothing beside it (no -shm).
    tables = _tables(path, "?mode=ro&immutable=1", timeout)
    if tables is not None and not tables and Path(str(path) + "-wal").exists():
        # Tables may live only in a WAL not yet checkpointed: read through it (its -shm exists already).
        tables = _tables(path, "?mode=ro", timeout)
    if not tables:
        return
    tables, applied = tables
    if not applied:
        shown = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
        raise StoreError(f"{str(path)!r} belongs to another application (it holds tables llmdebug did not "
                         f"create: {shown}). llmdebug left it unchanged: choose another file with "
                         "ld.init(path=...) or LLMDEBUG_DB.")
    unknown = [name for name in applied if name not in known]
    if unknown:
        raise StoreError(f"{str(path)!r} was made by a newer llmdebug (migration {unknown[0]}); "
                         "upgrade llmdebug or choose another file.")


def _tables(path: Path, mode: str, timeout: float):
    """(tables, llmdebug migrations applied) read through a read-only URI; () when the
    file holds no table; None when it cannot be read now (connecting says why)."""
    try:
        conn = sqlite3.connect("file:" + quote(str(path.resolve())) + mode, uri=True, timeout=timeout)
    except sqlite3.Error:
        return None
    try:
        try:
            tables = {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
        except sqlite3.DatabaseError as e:
            if "not a database" in str(e) or "encrypted" in str(e):
                raise StoreError(f"{str(path)!r} is not a SQLite database ({e}). llmdebug left it unchanged: "
                                 "choose another file with ld.init(path=...) or LLMDEBUG_DB.") from None
            return None  # locked or corrupt: connecting says why
        if not tables:
            return ()
        applied: list[str] = []
        if MIGRATIONS_TABLE in tables:
            applied = [r[0] for r in conn.execute(
                f"SELECT name FROM {MIGRATIONS_TABLE} WHERE migration_set = ? ORDER BY rowid", [MIGRATION_SET])]
        return tables, applied
    finally:
        conn.close()


def describe(path: Path, e: BaseException) -> tuple[str, str]:
    """(cause key, what happened and what to do) for an error writing ``path``."""
    text = str(e)
    low = text.lower()
    if isinstance(e, StoreError):
        return "refused", text
    if "locked" in low or "busy" in low:
        return "locked", ("another process holds a write lock on it (a long transaction, or a database tool "
                          "with unsaved changes); llmdebug keeps retrying")
    if "full" in low or getattr(e, "errno", None) == 28:
        return "full", "the disk (or your quota) is full; free some space and llmdebug writes the waiting spans"
    if "malformed" in low or "corrupt" in low:
        return "corrupt", (f"the file is damaged; recover what is readable with `sqlite3 {path} .recover`, then "
                           "move the file away (llmdebug creates a new one)")
    if "not a database" in low:
        return "not-sqlite", "it is not a SQLite database; llmdebug will not touch it: choose another file"
    if not path.parent.exists():
        return "no-dir", f"its directory {str(path.parent)!r} does not exist; create it"
    if "readonly" in low or "read-only" in low or "permission" in low or "unable to open" in low:
        if path.exists() and not os.access(path, os.W_OK):
            return "read-only-file", f"the file is read-only; make it writable (chmod u+w {str(path)!r})"
        if not os.access(path.parent, os.W_OK):
            return "read-only-dir", (f"its directory {str(path.parent)!r} is not writable (SQLite creates "
                                     "the -wal and -shm files beside the database)")
        return "cannot-open", "the file cannot be opened for writing; check its owner and permissions"
    return "other", "llmdebug keeps retrying"


def warn_store_problem(path: Path, e: BaseException) -> None:
    """One clear warning per file and cause, whoever meets the problem first."""
    cause, hint = describe(path, e)
    detail = "" if isinstance(e, StoreError) else f" ({type(e).__name__}: {e})"
    warn_once(
        f"store:{path}:{cause}",
        f"llmdebug cannot write traces to {str(path)!r}{detail}: {hint}. Your calls still run; captured spans "
        "are kept in memory (up to LLMDEBUG_MAX_BUFFER_MB) and retried. Use ld.init(path=...) or set "
        "LLMDEBUG_DB to choose another file.",
    )
