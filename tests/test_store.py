"""Schema, migrations, WAL, batching and full-text search of the trace store."""

import sqlite3
import subprocess
import sys
import time

import pytest
from sqlite_utils import Database

import llmdebug as ld
from llmdebug.tracing import Span, new_id
from llmdebug.store import Store, connect
from llmdebug.store.migrations import PAYLOAD_COLUMNS, SPAN_COLUMNS, migrations


def test_fresh_file_gets_the_whole_schema(tmp_path):
    conn = connect(tmp_path / "a.db")
    db = Database(conn)
    assert list(db["spans"].columns_dict) == list(SPAN_COLUMNS)
    assert list(db["payloads"].columns_dict) == list(PAYLOAD_COLUMNS)
    assert {"spans", "payloads", "feedback", "payloads_fts"} <= set(db.table_names())
    assert "calls" in db.view_names()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert [m.name for m in migrations.applied(db)] == [m.name for m in migrations._migrations]


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
    migrations.apply(db, stop_before="m008_cell_column")
    db.execute("ALTER TABLE spans DROP COLUMN cell")  # the table as versions before m008 made it
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
    for i in range(500):
        store.put(Span(id=new_id(), trace_id="t", name=f"s{i}", kind="span", started_at=1.0, input={"i": i}))
    assert store.flush() is True
    assert store.db["spans"].count == 500 and store.db["payloads"].count == 500
    assert store.writer.written == 500
    assert store.close() == []


def test_full_text_search_over_prompts_and_outputs(ld_on, openai_client):
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "zebra crossing"}])
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "giraffe neck"}])
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


def test_index_catches_up_when_idle(ld_on):
    with ld.span("idle", kind="tool") as s:
        s.set_input("quokka")
    ld.flush()
    from llmdebug import session

    writer = session.get_store().writer
    deadline = time.monotonic() + 10
    while writer.fts_dirty and time.monotonic() < deadline:
        time.sleep(0.05)
    conn = sqlite3.connect(ld_on)
    assert conn.execute("SELECT count(*) FROM payloads_fts WHERE payloads_fts MATCH 'quokka'").fetchone()[0] == 1


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
