"""Nothing is lost silently: the writer outlives anything, a deleted or replaced file is
noticed, memory is bounded in bytes and returns after draining, a file that is not
llmdebug's is refused untouched, and each store warning names its cause and fix.

Real SDK calls to the fake server, real SQLite files; subprocesses where a process's
own memory is measured.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import pytest

import llmdebug as ld
import llmdebug.store as store_mod
from llmdebug import _guard, session
from llmdebug._guard import LLMDebugWarning
from llmdebug.store import StoreError, connect
from llmdebug.store.problems import describe
from llmdebug.store.writer import SHED_NOTE

MSGS = [{"role": "user", "content": "Say hello"}]


@pytest.fixture
def as_a_user(monkeypatch):
    """The user's configuration: internal errors swallowed and warned about once."""
    monkeypatch.delenv("LLMDEBUG_RAISE_ERRORS", raising=False)
    monkeypatch.setattr(_guard, "_warned", set())


class Warned(list):
    def texts(self) -> list[str]:
        return [str(w.message) for w in self]


def caught_warnings():
    class _Ctx:
        def __enter__(self):
            self._cm = warnings.catch_warnings(record=True)
            self._all = self._cm.__enter__()
            warnings.simplefilter("always")
            self.mine = Warned()
            return self.mine

        def __exit__(self, *exc):
            self.mine.extend(w for w in self._all if issubclass(w.category, LLMDebugWarning))
            return self._cm.__exit__(*exc)

    return _Ctx()


def chat(client, content="Say hello"):
    return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": content}])


def files_of(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (Path(str(path) + s) for s in ("", "-wal", "-shm", "-journal"))
            if p.exists()}


# -- the writer thread ---------------------------------------------------------------------
def test_writer_survives_a_base_exception_in_a_batch(ld_on, llm_openai_client, as_a_user, monkeypatch):
    import llmdebug.store.writer as writer_mod

    calls = {"n": 0}
    exited = threading.Event()

    def exits(spans, conn=None):  # a subscriber to stored batches calling sys.exit(), once
        calls["n"] += 1
        if calls["n"] == 1:
            exited.set()
            raise SystemExit("a subscriber called sys.exit()")

    monkeypatch.setattr(writer_mod, "_stored_hooks", writer_mod._stored_hooks + [exits])
    with caught_warnings() as warned:
        chat(llm_openai_client)
        # Wait for the SystemExit itself (a flush here would wait out its whole timeout: the
        # batch's flush waiter is not released when a subscriber raises a BaseException).
        assert exited.wait(30)
        chat(llm_openai_client)
        assert ld.flush(10) is True
    assert len(ld.calls()) == 2
    assert session.get_store().writer._thread.is_alive()
    assert any("SystemExit" in t for t in warned.texts())


def test_a_stopped_writer_is_restarted_with_a_warning(ld_on, llm_openai_client, as_a_user):
    from llmdebug.store.writer import _STOP

    chat(llm_openai_client)
    assert ld.flush(10) is True
    writer = session.get_store().writer
    old = writer._thread
    writer._control(_STOP)  # the thread ends, as if it had died
    old.join(10)
    assert not old.is_alive()
    with caught_warnings() as warned:
        chat(llm_openai_client)
        assert ld.flush(10) is True
    assert writer._thread is not old and writer._thread.is_alive()
    assert len(ld.calls()) == 2
    assert [t for t in warned.texts() if "writer thread" in t and "took over" in t]
    assert writer.restarts == 1


def test_flush_is_false_while_spans_wait_and_true_once_written(ld_on, llm_openai_client, as_a_user, monkeypatch):
    monkeypatch.setattr(store_mod, "BUSY_TIMEOUT_S", 0.2)
    session.close()
    ld.init(ld_on)
    holder = sqlite3.connect(str(ld_on))
    holder.execute("BEGIN EXCLUSIVE")
    with caught_warnings():
        chat(llm_openai_client)
        assert ld.flush(5) is False
        assert session.get_store().writer.stats()["queued_spans"] == 1
    holder.rollback()
    holder.close()
    assert ld.flush(10) is True
    assert session.get_store().writer.stats()["queued_spans"] == 0


# -- a deleted or replaced file ----------------------------------------------------------------
def _remove_db(path: Path) -> None:
    for sfx in ("", "-wal", "-shm"):
        p = Path(str(path) + sfx)
        if p.exists():
            p.unlink()


def test_deleted_file_is_recreated_and_the_next_spans_go_there(ld_on, llm_openai_client, as_a_user):
    chat(llm_openai_client, "before")
    assert ld.flush(10) is True
    _remove_db(ld_on)
    with caught_warnings() as warned:
        chat(llm_openai_client, "after")
        assert ld.flush(10) is True  # true now means: on disk, in the file at that path
    assert ld_on.exists()
    texts = [t for t in warned.texts() if "deleted" in t]
    assert len(texts) == 1 and str(ld_on) in texts[0]
    conn = sqlite3.connect(str(ld_on))
    rows = conn.execute("SELECT count(*) FROM spans").fetchone()[0]
    conn.close()
    assert rows == 1
    assert [m[0]["content"] for m in (ld.get(i).messages for i in ld.calls()["id"])] == ["after"]
    with caught_warnings() as again:  # noticed once
        _remove_db(ld_on)
        chat(llm_openai_client, "third")
        assert ld.flush(10) is True
    assert not [t for t in again.texts() if "deleted" in t]
    assert len(ld.calls()) == 1


def test_deleted_file_is_noticed_at_flush(ld_on, llm_openai_client, as_a_user):
    chat(llm_openai_client)
    assert ld.flush(10) is True
    _remove_db(ld_on)
    with caught_warnings() as warned:
        ld.flush(10)
    assert ld_on.exists()  # recreated (and migrated) at once
    assert [t for t in warned.texts() if "deleted" in t]
    assert ld.calls().empty


def test_file_replaced_by_another_applications_db_is_refused_and_spans_wait(ld_on, llm_openai_client, as_a_user,
                                                                             tmp_path):
    chat(llm_openai_client)
    assert ld.flush(10) is True
    _remove_db(ld_on)
    other = sqlite3.connect(str(ld_on))
    other.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    other.execute("INSERT INTO invoices VALUES (1, 9.5)")
    other.commit()
    other.close()
    before = files_of(ld_on)
    with caught_warnings() as warned:
        chat(llm_openai_client)
        assert ld.flush(5) is False
    assert files_of(ld_on) == before
    assert any("belongs to another application" in t for t in warned.texts())
    ld.init(tmp_path / "elsewhere.db")  # the waiting span moves there
    assert ld.flush(10) is True
    assert len(ld.calls()) == 1


# -- memory bounded in bytes -------------------------------------------------------------------
def _stalled(path: Path, monkeypatch) -> sqlite3.Connection:
    monkeypatch.setattr(store_mod, "BUSY_TIMEOUT_S", 0.05)
    holder = sqlite3.connect(str(path))
    holder.execute("BEGIN EXCLUSIVE")
    return holder


def test_payloads_are_shed_first_past_the_cap(trace_db, llm_openai_client, as_a_user, monkeypatch):
    monkeypatch.setenv("LLMDEBUG_MAX_BUFFER_MB", "2")
    connect(trace_db).close()
    holder = _stalled(trace_db, monkeypatch)
    ld.init(trace_db)
    big = "x" * 50_000
    with caught_warnings() as warned:
        for i in range(120):  # ~12 MB of requests and kwargs against a 2 MB cap
            chat(llm_openai_client, f"{i} {big}")
        stats = session.get_store().writer.stats()
        assert stats["buffered_bytes"] <= stats["cap_bytes"]
        assert stats["shed_payloads"] > 0 and stats["dropped_spans"] == 0
    shed_warnings = [t for t in warned.texts() if "shed the payloads" in t]
    assert len(shed_warnings) == 1 and "LLMDEBUG_MAX_BUFFER_MB" in shed_warnings[0]
    holder.rollback()
    holder.close()
    assert ld.flush(30) is True
    calls = ld.calls()
    assert len(calls) == 120  # every call has its row
    assert calls["input_tokens"].notna().all() and calls["status"].eq("ok").all()  # finalised before shedding
    first, last = ld.get(calls["id"].iloc[0]), ld.get(calls["id"].iloc[-1])
    assert first.request is None and SHED_NOTE in first.attributes  # oldest: payload shed, and says so
    assert last.request is not None  # newest: whole


def test_oldest_spans_dropped_when_rows_alone_pass_the_cap(trace_db, as_a_user, monkeypatch):
    monkeypatch.setenv("LLMDEBUG_MAX_BUFFER_MB", "1")
    connect(trace_db).close()
    holder = _stalled(trace_db, monkeypatch)
    ld.init(trace_db)
    with caught_warnings() as warned:
        for i in range(2000):
            with ld.span(f"step {i}"):
                pass
        stats = session.get_store().writer.stats()
    assert stats["dropped_spans"] > 0 and stats["buffered_bytes"] <= stats["cap_bytes"]
    assert any("dropped the oldest spans" in t for t in warned.texts())
    holder.rollback()
    holder.close()
    assert ld.flush(30) is True
    names = ld.spans()["name"].tolist()
    assert len(names) == 2000 - stats["dropped_spans"]
    assert names[-1] == "step 1999" and "step 0" not in names  # the oldest went


@pytest.mark.slow  # ~15 s: a child process makes 1,520 calls of 100 KB
def test_memory_returns_to_baseline_after_draining(llm_server, tmp_path):
    """RSS of a process making 1,500 calls of 100 KB prompts while the store is stalled:
    bounded by the cap while stalled, back near the baseline once drained."""
    script = tmp_path / "mem.py"
    script.write_text(textwrap.dedent(f"""
        import gc, os, sqlite3, openai, llmdebug
        import llmdebug.store as store
        from llmdebug import session
        def rss_mb():
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        store.BUSY_TIMEOUT_S = 0.05
        db = {str(tmp_path / 'm.db')!r}
        store.connect(db).close()
        llmdebug.init(db)
        client = openai.OpenAI(base_url={llm_server.openai_base_url!r}, api_key="sk-x", max_retries=0)
        for _ in range(20):
            client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "warm"}}])
        llmdebug.flush(); gc.collect()
        base = rss_mb()
        holder = sqlite3.connect(db); holder.execute("BEGIN EXCLUSIVE")
        peak = 0
        for i in range(1500):
            client.chat.completions.create(model="gpt-4o-mini",
                                           messages=[{{"role": "user", "content": str(i) + "y" * 100_000}}])
            if i % 50 == 0:
                peak = max(peak, rss_mb())
        peak = max(peak, rss_mb())
        holder.rollback(); holder.close()
        assert llmdebug.flush(60)
        gc.collect()
        after = rss_mb()  # before anything else is imported (pandas, for one)
        stats = session.get_store().writer.stats()
        n = stats["written"]
        print(f"base={{base:.0f}} peak={{peak:.0f}} after={{after:.0f}} shed={{stats['shed_payloads']}} calls={{n}}")
    """))
    env = {k: v for k, v in os.environ.items() if k != "LLMDEBUG_RAISE_ERRORS"}
    env["LLMDEBUG_MAX_BUFFER_MB"] = "32"
    r = subprocess.run([sys.executable, "-W", "ignore", str(script)], capture_output=True, text=True, env=env,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    line = r.stdout.strip().splitlines()[-1]
    got = dict(kv.split("=") for kv in line.split())
    base, peak, after = float(got["base"]), float(got["peak"]), float(got["after"])
    print(f"[info] memory: RSS {base:.0f} MB before, {peak:.0f} MB at most while 1,500 calls of 100 KB waited for a "
          f"locked store (cap 32 MB; {got['shed']} payloads shed), {after:.0f} MB after draining")
    assert int(got["calls"]) == 1520 and int(got["shed"]) > 0
    # ~300 MB of prompts went through; held memory stays near the 32 MB cap (plus the SDK's own garbage)
    assert peak - base < 100, line  # without the cap: about +300 MB, kept after draining
    assert after - base < 30, line


# -- files that are not llmdebug's ---------------------------------------------------------------
def _foreign(path: Path, wal: bool = False, spans_table: bool = False) -> None:
    conn = sqlite3.connect(str(path))
    if wal:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    if spans_table:
        conn.execute("CREATE TABLE spans (span TEXT, duration REAL)")
    conn.execute("INSERT INTO notes (text) VALUES ('keep me')")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("variant", ["plain", "wal", "own_spans_table"])
def test_another_applications_file_is_refused_and_unchanged(tmp_path, variant):
    path = tmp_path / "app.db"
    _foreign(path, wal=variant == "wal", spans_table=variant == "own_spans_table")
    before = files_of(path)
    with pytest.raises(StoreError, match="belongs to another application.*notes") as info:
        ld.init(path)
    assert "choose another file" in str(info.value)
    assert files_of(path) == before
    with pytest.raises(StoreError):
        connect(path)
    assert files_of(path) == before


def test_a_file_from_a_newer_llmdebug_is_refused(tmp_path):
    path = tmp_path / "new.db"
    connect(path).close()
    conn = sqlite3.connect(str(path))
    conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                 "VALUES ('llmdebug', 'm999_from_the_future', '2030-01-01')")
    conn.commit()
    conn.close()
    before = files_of(path)
    with pytest.raises(StoreError) as info:
        ld.init(path)
    assert str(info.value) == (f"{str(path)!r} was made by a newer llmdebug (migration m999_from_the_future); "
                               "upgrade llmdebug or choose another file.")
    assert files_of(path) == before


def test_a_file_that_is_not_sqlite_is_refused_and_unchanged(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("my notes, not a database\n" * 100)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="is not a SQLite database"):
        ld.init(path)
    assert path.read_bytes() == before
    assert not Path(str(path) + "-wal").exists()


def test_init_refusal_keeps_the_current_store(trace_db, tmp_path, llm_openai_client):
    ld.init(trace_db)
    bad = tmp_path / "app.db"
    _foreign(bad)
    with pytest.raises(StoreError):
        ld.init(bad)
    chat(llm_openai_client)
    assert ld.flush(10) is True
    assert session.get_store().path == trace_db and len(ld.calls()) == 1


def test_a_file_with_user_tables_beside_llmdebugs_is_accepted(trace_db):
    connect(trace_db).close()
    conn = sqlite3.connect(str(trace_db))
    conn.execute("CREATE TABLE my_labels (span_id TEXT, label TEXT)")  # users may add their own tables
    conn.commit()
    conn.close()
    ld.init(trace_db)
    assert ld.flush(5) is True


# -- warnings name the cause and the fix --------------------------------------------------------
@pytest.mark.parametrize("error, cause, words", [
    (sqlite3.OperationalError("database is locked"), "locked", "another process holds a write lock"),
    (sqlite3.OperationalError("database or disk is full"), "full", "disk (or your quota) is full"),
    (sqlite3.DatabaseError("database disk image is malformed"), "corrupt", ".recover"),
    (sqlite3.DatabaseError("file is not a database"), "not-sqlite", "not a SQLite database"),
])
def test_describe_names_the_cause(tmp_path, error, cause, words):
    got_cause, hint = describe(tmp_path / "t.db", error)
    assert got_cause == cause and words in hint
    assert "writable" not in hint  # not the old catch-all


def test_disk_full_gives_its_own_warning_and_nothing_is_lost(trace_db, llm_openai_client, as_a_user, monkeypatch):
    def small_disk(self):
        conn = connect(self.path)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")  # no room for one more page
        return conn

    monkeypatch.setattr(store_mod.Store, "open_writer_connection", small_disk)
    ld.init(trace_db)
    with caught_warnings() as warned:
        for i in range(3):
            chat(llm_openai_client, "z" * 20_000)
        assert ld.flush(5) is False
    texts = [t for t in warned.texts() if "full" in t]
    assert len(texts) == 1 and "free some space" in texts[0], warned.texts()
    monkeypatch.undo()
    session.get_store().writer._close()  # the disk has room again
    assert ld.flush(10) is True
    assert len(ld.calls()) == 3


def test_missing_directory_warning(tmp_path, llm_openai_client, as_a_user):
    with caught_warnings() as warned:
        ld.init(tmp_path / "nope" / "t.db")
        chat(llm_openai_client)
        ld.flush(2)
    assert any("does not exist; create it" in t for t in warned.texts())


def test_stalled_writer_never_blocks_calls_and_catches_up(trace_db, llm_openai_client, as_a_user, monkeypatch):
    """The writer thread itself stuck (a slow disk, a hung filesystem): calls go on, the
    buffer stays under its cap, and everything drains once the writer moves again."""
    import llmdebug.store.writer as writer_mod

    monkeypatch.setenv("LLMDEBUG_MAX_BUFFER_MB", "2")
    ld.init(trace_db)
    stuck, entered = threading.Event(), threading.Event()
    real = writer_mod.span_row

    def slow_disk(s):
        entered.set()
        stuck.wait(60)
        return real(s)

    monkeypatch.setattr(writer_mod, "span_row", slow_disk)
    with caught_warnings():
        chat(llm_openai_client, "first")
        assert entered.wait(10)  # the writer is now stuck inside a batch
        answers = [chat(llm_openai_client, f"{i} " + "w" * 40_000).choices[0].message.content for i in range(80)]
        stats = session.get_store().writer.stats()
    assert all(answers)
    assert stats["buffered_bytes"] <= stats["cap_bytes"] and stats["shed_payloads"] > 0
    stuck.set()
    assert ld.flush(30) is True
    assert len(ld.calls()) == 81


def test_real_disk_full_then_space_freed(tmp_path, llm_openai_client, as_a_user):
    """A 2 MB tmpfs filled up: one warning that says the disk is full, nothing lost once
    space is freed (needs root and mount; skipped elsewhere)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {r.stderr.decode().strip()}")
    try:
        filler = mnt / "filler"
        db = mnt / "t.db"
        ld.init(db)
        chat(llm_openai_client, "fits")
        assert ld.flush(10) is True
        free = os.statvfs(mnt).f_bavail * os.statvfs(mnt).f_frsize
        filler.write_bytes(b"\0" * max(free - 8192, 0))
        with caught_warnings() as warned:
            for i in range(5):
                chat(llm_openai_client, f"{i} " + "d" * 50_000)
            assert ld.flush(5) is False
        texts = [t for t in warned.texts() if "full" in t]
        assert len(texts) == 1 and "free some space" in texts[0], warned.texts()
        filler.unlink()
        assert ld.flush(20) is True
        assert len(ld.calls()) == 6
        session.close()
        assert sqlite3.connect(str(db)).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        session.close()
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
