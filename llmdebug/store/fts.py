"""Full-text search over prompts and outputs, indexed off the capture path.

Building a prompt's search text means parsing its request JSON, and FTS5 insertion
tokenises it: together most of what a span costs to write. So the writer indexes
when its queue goes idle, and :func:`llmdebug.search` catches up first; the index
trails the spans by a moment at most. Progress is the last indexed ``payloads``
rowid, kept in ``llmdebug_state``.
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
    """Index payload rows added since the last run; returns how many. Commits per batch."""
    done = 0
    while True:
        with immediate(conn):
            rows = conn.execute(
                "SELECT p.rowid, s.kind, s.provider, s.endpoint, p.request_json, p.messages_json, p.input_json, "
                "p.output_text "
                "FROM payloads p LEFT JOIN spans s ON s.id = p.span_id WHERE p.rowid > ? ORDER BY p.rowid LIMIT ?",
                [get_state(conn, "fts_rowid"), BATCH],
            ).fetchall()
            if rows:
                texts = [(r[0], _prompt_text(*r[1:7]), r[7]) for r in rows]
                conn.executemany("UPDATE payloads SET prompt_text = ? WHERE rowid = ?", [(t[1], t[0]) for t in texts])
                conn.executemany("INSERT INTO payloads_fts (rowid, prompt_text, output_text) VALUES (?, ?, ?)", texts)
                set_state(conn, "fts_rowid", rows[-1][0])
        done += len(rows)
        if len(rows) < BATCH:
            return done
