"""Full-text search over prompts and outputs, indexed off the capture path.

FTS5 insertion tokenises the prompt and output text: a large part of what a span
costs to write. So the writer indexes when its queue goes idle, a stretch of rows in
one statement, and :func:`llmdebug.search` catches up first; the index trails the
spans by a moment at most. Progress is the last indexed ``payloads`` rowid, kept in
``llmdebug_state``.
"""

from __future__ import annotations

import sqlite3

from .._json import loads
from .. import providers
from .rows import decode_json, search_text
from .tx import get_state, immediate, set_state

BATCH = 2000


def _prompt_text(kind: str | None, provider: str | None, endpoint: str | None, request_json, messages_json,
                 input_json) -> str | None:
    if kind == "llm" and request_json and not messages_json:
        try:
            request = loads(request_json)
        except ValueError:
            return None
        return search_text(providers.conversation(request=request, provider=provider, endpoint=endpoint))
    return search_text(decode_json(messages_json) if messages_json else decode_json(input_json))


def catch_up(conn: sqlite3.Connection) -> int:
    """Index payload rows added since the last run; returns how many.

    New rows carry their prompt text already (rows.py computes it as the row is
    written): one INSERT ... SELECT indexes a whole stretch in SQLite. Rows from an
    older llmdebug, stored before it did so, get their prompt text here first."""
    done = 0
    while True:
        with immediate(conn):
            mark = get_state(conn, "fts_rowid")
            top = conn.execute("SELECT max(rowid) FROM (SELECT rowid FROM payloads WHERE rowid > ? ORDER BY rowid "
                               "LIMIT ?)", [mark, BATCH]).fetchone()[0]
            if top is None:
                return done
            legacy = conn.execute(
                "SELECT p.rowid, s.kind, s.provider, s.endpoint, p.request_json, p.messages_json, p.input_json "
                "FROM payloads p LEFT JOIN spans s ON s.id = p.span_id WHERE p.rowid > ? AND p.rowid <= ? "
                "AND p.prompt_text IS NULL AND (p.request_json IS NOT NULL OR p.messages_json IS NOT NULL "
                "OR p.input_json IS NOT NULL)", [mark, top]).fetchall()
            if legacy:
                conn.executemany("UPDATE payloads SET prompt_text = ? WHERE rowid = ?",
                                 [(_prompt_text(*r[1:]), r[0]) for r in legacy])
            conn.execute("INSERT INTO payloads_fts (rowid, prompt_text, output_text) SELECT rowid, prompt_text, "
                         "output_text FROM payloads WHERE rowid > ? AND rowid <= ?", [mark, top])
            set_state(conn, "fts_rowid", top)
            done += conn.execute("SELECT count(*) FROM payloads WHERE rowid > ? AND rowid <= ?", [mark, top]).fetchone()[0]
