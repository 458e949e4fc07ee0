"""Schema, migrations, WAL, batching and full-text search of the trace store."""

import re
import sqlite3
import subprocess
import sys
import threading

import pytest
from sqlite_utils import Database

import llmdebug as ld
from llmdebug.tracing import Span, new_id
from llmdebug.store import Store, connect, rollup
from llmdebug.store.migrations import PAYLOAD_COLUMNS, SPAN_COLUMNS, migrations


# -- the schema, written out by hand ---------------------------------------------------------
# What every trace file holds once migrated, fresh or old. Not derived from the code under
# test: a migration that changes the schema, on purpose or not, fails here until this is
# updated with it (and an intended change comes as a new migration, see migrations.py).
# Columns are "name TYPE" (PRAGMA table_info), then the primary key.
EXPECTED_TABLES = {
    "_sqlite_migrations": (["id INTEGER", "migration_set TEXT", "name TEXT", "applied_at TEXT"], ["id"]),
    "spans": ([
        "id TEXT", "trace_id TEXT", "parent_id TEXT", "name TEXT", "kind TEXT", "provider TEXT", "model TEXT",
        "request_model TEXT", "endpoint TEXT", "base_url TEXT", "status TEXT", "error_type TEXT",
        "error_message TEXT", "http_status INTEGER", "input_tokens INTEGER", "output_tokens INTEGER",
        "total_tokens INTEGER", "cached_tokens INTEGER", "cache_write_tokens INTEGER", "reasoning_tokens INTEGER",
        "cost_usd REAL", "priced INTEGER", "latency_ms REAL", "ttft_ms REAL", "started_at TEXT", "ended_at TEXT",
        "stream INTEGER", "retries INTEGER", "rate_limit_hits INTEGER", "replay_of TEXT", "tags TEXT",
        "metadata TEXT", "cell INTEGER", "ratelimit_limit_requests INTEGER", "ratelimit_remaining_requests INTEGER",
        "ratelimit_limit_tokens INTEGER", "ratelimit_remaining_tokens INTEGER", "ratelimit_reset_requests_s REAL",
        "ratelimit_reset_tokens_s REAL", "retry_after_s REAL", "in_flight INTEGER",
    ], ["id"]),
    "payloads": ([
        "span_id TEXT", "request_json TEXT", "response_json TEXT", "messages_json TEXT", "tool_calls_json TEXT",
        "events_json TEXT", "input_json TEXT", "output_json TEXT", "attributes_json TEXT", "prompt_text TEXT",
        "output_text TEXT",
    ], ["span_id"]),
    "feedback": (["id INTEGER", "span_id TEXT", "name TEXT", "value TEXT", "comment TEXT", "created_at TEXT"],
                 ["id"]),
    "llmdebug_state": (["key TEXT", "value TEXT"], ["key"]),
    "rollup": ([
        "hour TEXT", "kind TEXT", "provider TEXT", "model TEXT", "name TEXT", "endpoint TEXT", "status TEXT",
        "tags TEXT", "calls INTEGER", "rate_limit_hits INTEGER", "rate_limited_calls INTEGER", "retries INTEGER",
        "latency_sum REAL", "latency_n INTEGER", "input_tokens INTEGER", "output_tokens INTEGER",
        "total_tokens INTEGER", "cached_tokens INTEGER", "cost_sum REAL", "cost_n INTEGER", "unpriced INTEGER",
        "latency_hist TEXT", "ttft_hist TEXT",
    ], ["hour", "kind", "provider", "model", "name", "endpoint", "status", "tags"]),
    "alerts": (["id INTEGER", "rule TEXT", "kind TEXT", "threshold REAL", "value REAL", "message TEXT",
                "fired_at TEXT"], ["id"]),
    "scores": (["id INTEGER", "span_id TEXT", "trace_id TEXT", "name TEXT", "value REAL", "label TEXT",
                "source TEXT", "comment TEXT", "judge_span_id TEXT", "experiment_id TEXT", "created_at TEXT"], ["id"]),
    "datasets": (["name TEXT", "version INTEGER", "description TEXT", "created_at TEXT", "updated_at TEXT"],
                 ["name"]),
    "dataset_items": (["id INTEGER", "dataset TEXT", "item_id TEXT", "version_from INTEGER", "version_to INTEGER",
                       "input_json TEXT", "expected_json TEXT", "metadata_json TEXT", "source_span_id TEXT",
                       "created_at TEXT"], ["id"]),
    "experiments": (["id TEXT", "name TEXT", "dataset TEXT", "dataset_version INTEGER", "variants_json TEXT",
                     "scorers_json TEXT", "created_at TEXT"], ["id"]),
    "experiment_runs": (["experiment_id TEXT", "variant TEXT", "item_id TEXT", "trace_id TEXT", "span_id TEXT",
                         "output_text TEXT", "error TEXT"], ["experiment_id", "variant", "item_id"]),
    "writer_health": (["at TEXT", "queue_depth INTEGER", "queued_bytes INTEGER", "batch_ms REAL",
                       "batch_spans INTEGER", "written INTEGER", "shed_spans INTEGER", "shed_payloads INTEGER"], []),
}
EXPECTED_INDEXES = {  # name: (table, columns, unique)
    "idx__sqlite_migrations_migration_set_name": ("_sqlite_migrations", ["migration_set", "name"], True),
    "idx_spans_trace_id": ("spans", ["trace_id"], False),
    "idx_spans_started_at": ("spans", ["started_at"], False),
    "idx_spans_kind_started_at": ("spans", ["kind", "started_at"], False),
    "idx_spans_kind_trace_id_cost_usd": ("spans", ["kind", "trace_id", "cost_usd"], False),
    "idx_feedback_span_id": ("feedback", ["span_id"], False),
    "idx_scores_span_id": ("scores", ["span_id"], False),
    "idx_scores_name_created_at": ("scores", ["name", "created_at"], False),
    "idx_scores_experiment_id": ("scores", ["experiment_id"], False),
    "idx_dataset_items_dataset_item_id": ("dataset_items", ["dataset", "item_id"], False),
    "idx_writer_health_at": ("writer_health", ["at"], False),
}
EXPECTED_VIEWS = {"calls": "SELECT * FROM spans WHERE kind = 'llm'"}
# FTS5 over payloads (external content, no triggers: fts.py indexes), and its shadow tables.
EXPECTED_FTS = {"payloads_fts": (["prompt_text", "output_text"], "payloads")}
EXPECTED_FTS_SHADOWS = {"payloads_fts_config", "payloads_fts_data", "payloads_fts_docsize", "payloads_fts_idx"}
EXPECTED_MIGRATIONS = [
    "m001_spans", "m002_payloads", "m003_feedback", "m004_calls_view", "m005_payloads_fts", "m006_rollup",
    "m007_state_table", "m008_cell_column", "m009_alerts", "m010_trace_cost_index",
    "m011_quality", "m012_operations",
]

# A file as llmdebug left it after m005 (before m006-m010 existed), in the SQL those
# migrations produced: spans without `cell`, no rollup, alerts or cost index.
FILE_AT_M005 = """
CREATE TABLE "_sqlite_migrations" ("id" INTEGER PRIMARY KEY, "migration_set" TEXT, "name" TEXT, "applied_at" TEXT);
CREATE UNIQUE INDEX "idx__sqlite_migrations_migration_set_name" ON "_sqlite_migrations" ("migration_set", "name");
CREATE TABLE "spans" (
   "id" TEXT PRIMARY KEY, "trace_id" TEXT, "parent_id" TEXT, "name" TEXT, "kind" TEXT, "provider" TEXT,
   "model" TEXT, "request_model" TEXT, "endpoint" TEXT, "base_url" TEXT, "status" TEXT, "error_type" TEXT,
   "error_message" TEXT, "http_status" INTEGER, "input_tokens" INTEGER, "output_tokens" INTEGER,
   "total_tokens" INTEGER, "cached_tokens" INTEGER, "cache_write_tokens" INTEGER, "reasoning_tokens" INTEGER,
   "cost_usd" REAL, "priced" INTEGER, "latency_ms" REAL, "ttft_ms" REAL, "started_at" TEXT, "ended_at" TEXT,
   "stream" INTEGER, "retries" INTEGER, "rate_limit_hits" INTEGER, "replay_of" TEXT, "tags" TEXT, "metadata" TEXT
);
CREATE INDEX "idx_spans_trace_id" ON "spans" ("trace_id");
CREATE INDEX "idx_spans_started_at" ON "spans" ("started_at");
CREATE INDEX "idx_spans_kind_started_at" ON "spans" ("kind", "started_at");
CREATE TABLE "payloads" (
   "span_id" TEXT PRIMARY KEY, "request_json" TEXT, "response_json" TEXT, "messages_json" TEXT,
   "tool_calls_json" TEXT, "events_json" TEXT, "input_json" TEXT, "output_json" TEXT, "attributes_json" TEXT,
   "prompt_text" TEXT, "output_text" TEXT
);
CREATE TABLE "feedback" (
   "id" INTEGER PRIMARY KEY, "span_id" TEXT, "name" TEXT, "value" TEXT, "comment" TEXT, "created_at" TEXT
);
CREATE INDEX "idx_feedback_span_id" ON "feedback" ("span_id");
CREATE VIEW "calls" AS SELECT * FROM spans WHERE kind = 'llm';
CREATE VIRTUAL TABLE "payloads_fts" USING FTS5 ("prompt_text", "output_text", content="payloads");
CREATE TABLE "llmdebug_state" ("key" TEXT PRIMARY KEY, "value" TEXT);
INSERT INTO "_sqlite_migrations" ("migration_set", "name", "applied_at") VALUES
   ('llmdebug', 'm001_spans', '2026-11-26 09:00:00.000001+00:00'),
   ('llmdebug', 'm002_payloads', '2026-11-26 09:00:00.000002+00:00'),
   ('llmdebug', 'm003_feedback', '2026-11-26 09:00:00.000003+00:00'),
   ('llmdebug', 'm004_calls_view', '2026-11-26 09:00:00.000004+00:00'),
   ('llmdebug', 'm005_payloads_fts', '2026-11-26 09:00:00.000005+00:00');
"""
OLD_ROWS = """
INSERT INTO spans (id, trace_id, name, kind, model, status, input_tokens, latency_ms, started_at)
   VALUES ('old1', 'old1', 'chat', 'llm', 'gpt-old', 'ok', 12, 250.0, '2026-11-26T09:30:00.000000Z');
INSERT INTO payloads (span_id, output_text) VALUES ('old1', 'an answer from before');
INSERT INTO payloads_fts (rowid, prompt_text, output_text) VALUES (1, NULL, 'an answer from before');
INSERT INTO llmdebug_state (key, value) VALUES ('fts_rowid', '1');
"""


def _schema(conn: sqlite3.Connection) -> dict:
    """The schema of a file, in the shape of the EXPECTED_* constants."""
    master = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    tables, indexes, views, fts, triggers, names = {}, {}, {}, {}, {}, set()
    for kind, name, table, sql in master.fetchall():
        if kind == "table" and sql.upper().startswith("CREATE VIRTUAL TABLE"):
            content = re.search(r"content\s*=\s*['\"\[]?(\w+)", sql)
            fts[name] = ([r[1] for r in conn.execute(f'PRAGMA table_info("{name}")')], content and content.group(1))
        elif kind == "table":
            names.add(name)
        elif kind == "index" and sql is not None:  # sql None: the index SQLite makes for a primary key
            cols = [r[2] for r in conn.execute(f'PRAGMA index_info("{name}")')]
            unique = {r[1]: bool(r[2]) for r in conn.execute(f'PRAGMA index_list("{table}")')}[name]
            indexes[name] = (table, cols, unique)
        elif kind == "view":
            views[name] = " ".join(sql.split(" AS ", 1)[1].split())
        elif kind == "trigger":
            triggers[name] = sql
    shadows = {n for n in names if any(n.startswith(f + "_") for f in fts)}
    for name in names - shadows:
        info = conn.execute(f'PRAGMA table_info("{name}")').fetchall()
        cols = [f"{c[1]} {c[2]}" + (" NOT NULL" if c[3] else "") + (f" DEFAULT {c[4]}" if c[4] is not None else "")
                for c in info]
        tables[name] = (cols, [c[1] for c in sorted(info, key=lambda c: c[5]) if c[5]])
    return {"tables": tables, "indexes": indexes, "views": views, "fts": fts, "fts_shadows": shadows,
            "triggers": triggers}


def _check_schema(conn: sqlite3.Connection) -> None:
    got = _schema(conn)
    assert got["tables"] == EXPECTED_TABLES
    assert got["indexes"] == EXPECTED_INDEXES
    assert got["views"] == EXPECTED_VIEWS
    assert got["fts"] == EXPECTED_FTS
    assert got["fts_shadows"] == EXPECTED_FTS_SHADOWS
    assert got["triggers"] == {}
    view_cols = [r[1] for r in conn.execute('PRAGMA table_info("calls")')]
    assert view_cols == [c.split()[0] for c in EXPECTED_TABLES["spans"][0]]
    applied = conn.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = 'llmdebug' ORDER BY id")
    assert [r[0] for r in applied] == EXPECTED_MIGRATIONS


def test_fresh_file_has_the_expected_schema(tmp_path):
    conn = connect(tmp_path / "fresh.db")
    _check_schema(conn)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("has_rows", [False, True])
def test_file_from_m005_migrates_to_the_expected_schema(tmp_path, has_rows):
    path = tmp_path / "m005.db"
    old = sqlite3.connect(path)
    old.executescript(FILE_AT_M005 + (OLD_ROWS if has_rows else ""))
    old.close()
    conn = connect(path)
    _check_schema(conn)
    spans = conn.execute("SELECT id, model, input_tokens, cell FROM spans").fetchall()
    assert spans == ([("old1", "gpt-old", 12, None)] if has_rows else [])
    if has_rows:  # its rows still read, count and search after the migrations
        store = Store(path)
        assert store.writer.index_now()
        assert store.read("SELECT model, calls, input_tokens FROM rollup") == [("gpt-old", 1, 12)]
        assert store.read("SELECT rowid FROM payloads_fts WHERE payloads_fts MATCH 'answer'") == [(1,)]
        store.close()


def test_the_column_lists_the_code_uses_match_the_migrated_schema():
    """rows.py writes SPAN_COLUMNS / PAYLOAD_COLUMNS, rollup.py the rollup columns:
    each must name exactly the columns the migrations made, with their types."""
    sql_type = {str: "TEXT", int: "INTEGER", float: "REAL"}
    assert [f"{c} {sql_type[t]}" for c, t in SPAN_COLUMNS.items()] == EXPECTED_TABLES["spans"][0]
    assert [f"{c} {sql_type[t]}" for c, t in PAYLOAD_COLUMNS.items()] == EXPECTED_TABLES["payloads"][0]
    assert list(rollup.COLUMNS) == [c.split()[0] for c in EXPECTED_TABLES["rollup"][0]]
    assert list(rollup.KEY_COLS) == EXPECTED_TABLES["rollup"][1]
    assert [m.name for m in migrations._migrations] == EXPECTED_MIGRATIONS


@pytest.mark.parametrize("has_rows", [False, True])
def test_old_file_is_migrated_and_keeps_its_rows(tmp_path, has_rows):
    path = tmp_path / "old.db"
    db = Database(path)
    migrations.apply(db, stop_before="m004_calls_view")  # a file written by an older version
    if has_rows:
        db["spans"].insert({"id": "x1", "trace_id": "x1", "name": "old", "kind": "llm", "status": "ok"})
    db.close()
    conn = connect(path)
    db = Database(conn)
    assert "calls" in db.view_names() and "payloads_fts" in db.table_names()
    assert db["spans"].count == (1 if has_rows else 0)
    assert db.execute("SELECT count(*) FROM calls").fetchone()[0] == (1 if has_rows else 0)


def test_file_from_before_the_cell_column_gets_it(tmp_path):
    path = tmp_path / "old.db"
    db = Database(path)
    migrations.apply(db, stop_before="m008_cell_column")  # m001 makes spans without `cell`, as it always did
    assert "cell" not in db["spans"].columns_dict
    db.close()
    store = Store(path)
    store.put(Span(id=new_id(), trace_id="t", name="n", kind="span", started_at=1.0, cell=7))
    assert store.flush() is True
    store.close()
    assert Database(path).execute("SELECT name, cell FROM spans").fetchall() == [("n", 7)]


def test_concurrent_first_open_by_many_processes(tmp_path):
    path = tmp_path / "race.db"
    code = f"from llmdebug.store import connect; connect({str(path)!r}).close()"
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(4)]
    assert [p.wait(60) for p in procs] == [0] * 4
    assert len(migrations.applied(Database(path))) == len(migrations._migrations)


def test_writer_batches_and_flush(tmp_path):
    store = Store(tmp_path / "w.db")
    # Watch the writer's connection: how many spans each committed transaction inserted.
    commits: list[int] = []
    open_writer_connection = store.open_writer_connection

    def watched():
        conn = open_writer_connection()
        pending = [0]

        def trace(sql: str) -> None:
            if sql.startswith("INSERT OR REPLACE INTO spans"):
                pending[0] += 1
            elif sql == "COMMIT" and pending[0]:
                commits.append(pending[0])
                pending[0] = 0

        conn.set_trace_callback(trace)
        return conn

    store.open_writer_connection = watched
    for i in range(500):
        store.put(Span(id=new_id(), trace_id="t", name=f"s{i}", kind="span", started_at=1.0, input={"i": i}))
    assert store.flush() is True
    assert store.db["spans"].count == 500 and store.db["payloads"].count == 500
    assert store.writer.written == 500
    # batched: a burst of puts shares a few transactions, never one commit per span
    assert sum(commits) == 500 and len(commits) <= 10, commits
    assert store.close() == []


def test_full_text_search_over_prompts_and_outputs(ld_on, llm_openai_client):
    llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "zebra crossing"}])
    llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "giraffe neck"}])
    with ld.span("lookup", kind="tool") as s:
        s.set_input({"query": "okapi habitat"})
        s.set_output("forests of the Congo")
    hits = ld.search("zebra")
    assert len(hits) == 1 and ld.get(hits.iloc[0]["id"]).messages[0]["content"] == "zebra crossing"
    assert "[zebra]" in hits.iloc[0]["snippet"]
    assert list(ld.search("okapi")["name"]) == ["lookup"]
    assert list(ld.search("congo")["name"]) == ["lookup"]  # outputs are searched too
    assert len(ld.search("giraffe OR zebra", model="gpt-4o-mini", syntax="fts")) == 2
    assert len(ld.search("deterministic", kind="llm")) == 2  # the fake server's reply text
    # The index is plain SQLite FTS5: users can query it directly.
    conn = sqlite3.connect(ld_on)
    n = conn.execute("SELECT count(*) FROM payloads_fts WHERE payloads_fts MATCH 'giraffe'").fetchone()[0]
    assert n == 1


def test_index_catches_up_when_idle(ld_on, monkeypatch):
    """Nothing asks for the index (no search, no index_now): the writer thread brings it up to
    date by itself once it has nothing else to do."""
    from llmdebug.store import fts

    query = "SELECT count(*) FROM payloads_fts WHERE payloads_fts MATCH 'quokka'"
    indexed = threading.Event()  # set when a catch-up of the writer's own has indexed the span
    catch_up = fts.catch_up

    def watched(conn):
        n = catch_up(conn)
        if threading.current_thread().name == "llmdebug-writer" and conn.execute(query).fetchone()[0]:
            indexed.set()
        return n

    monkeypatch.setattr(fts, "catch_up", watched)
    with ld.span("idle", kind="tool") as s:
        s.set_input("quokka")
    assert ld.flush() is True
    assert indexed.wait(30), "the writer never indexed the span on its own"  # a deadline, not a speed check
    conn = sqlite3.connect(ld_on)
    assert conn.execute(query).fetchone()[0] == 1  # committed, visible to any reader


def test_import_has_no_side_effects():
    code = (
        "import sys, llmdebug\n"
        "heavy = {'IPython', 'ipywidgets', 'altair', 'openai', 'anthropic', 'litellm', 'anywidget'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_init_does_not_import_sdks_but_patches_on_import(tmp_path):
    code = (
        "import sys, llmdebug as ld\n"
        f"ld.init({str(tmp_path / 'x.db')!r})\n"
        "assert 'openai' not in sys.modules and 'litellm' not in sys.modules\n"
        "import openai\n"
        "from openai.resources.chat.completions.completions import Completions\n"
        "print(hasattr(Completions.create, '__wrapped__'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"


def test_exit_drains_the_queue_without_flush(tmp_path):
    path = tmp_path / "exit.db"
    code = (
        "import llmdebug as ld\n"
        f"ld.init({str(path)!r}, instrument=False)\n"
        "for i in range(2000):\n"
        "    with ld.span(f's{i}'):\n"
        "        pass\n"
    )  # no ld.flush(): the atexit hook must write everything
    subprocess.run([sys.executable, "-c", code], check=True)
    assert Database(path)["spans"].count == 2000


def test_init_is_idempotent_and_switching_keeps_pending(tmp_path):
    a = ld.init(tmp_path / "a.db", instrument=False)
    assert ld.init(tmp_path / "a.db", instrument=False) is a
    with ld.span("one"):
        pass
    b = ld.init(tmp_path / "b.db", instrument=False)
    assert b is not a
    with ld.span("two"):
        pass
    ld.flush()
    assert Database(tmp_path / "a.db")["spans"].count + Database(tmp_path / "b.db")["spans"].count == 2


def test_feedback_of_an_older_file_becomes_human_scores(tmp_path):
    # A file from before m011: feedback rows (values as m003 stored them), no scores table.
    path = tmp_path / "old.db"
    connect(path).close()
    conn = sqlite3.connect(path)
    for table in ("scores", "datasets", "dataset_items", "experiments", "experiment_runs"):
        conn.execute(f"DROP TABLE {table}")
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm011_quality'")
    conn.executemany("INSERT INTO feedback (span_id, name, value, comment, created_at) VALUES (?, ?, ?, ?, ?)",
                     [("a", "thumbs", "true", "nice", "2026-01-01T00:00:00.000000Z"),
                      ("a", "stars", "4.5", None, "2026-01-01T00:00:01.000000Z"),
                      ("b", "tone", "curt", None, "2026-01-01T00:00:02.000000Z")])
    conn.commit()
    conn.close()
    conn = connect(path)
    got = conn.execute("SELECT span_id, name, value, label, source, comment, created_at FROM scores ORDER BY id")
    got = got.fetchall()
    conn.close()
    assert got == [("a", "thumbs", 1.0, "up", "human", "nice", "2026-01-01T00:00:00.000000Z"),
                   ("a", "stars", 4.5, None, "human", None, "2026-01-01T00:00:01.000000Z"),
                   ("b", "tone", None, "curt", "human", None, "2026-01-01T00:00:02.000000Z")]
