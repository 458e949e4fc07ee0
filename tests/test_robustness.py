"""Robustness: "bad input gets a clear error, and nothing is lost", "the user's call is
sacred", "no secret is ever stored".

Every SDK call goes over real HTTP to the fake LLM server (no SDK mocks). Subprocess
workers live in tests/helpers/robust_worker.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import pytest

import llmdebug as ld
from llmdebug import _guard, session
from llmdebug._guard import LLMDebugWarning
import llmdebug.store as store_mod
from llmdebug.store import connect, fts
from llmdebug.store import rows as rows_mod
from llmdebug.store.writer import MAX_BATCH

WORKER = Path(__file__).resolve().parent / "helpers" / "robust_worker.py"
MSGS = [{"role": "user", "content": "Say hello"}]


# -- helpers -------------------------------------------------------------------------------
@contextmanager
def llmdebug_warnings():
    """Record every warning (the writer thread's too: catch_warnings is process-wide)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mine: list = []
        try:
            yield mine
        finally:
            mine.extend(w for w in caught if issubclass(w.category, LLMDebugWarning))


@pytest.fixture
def fresh_warn_once(monkeypatch):
    """warn_once remembers keys process-wide; give this test a clean slate."""
    monkeypatch.setattr(_guard, "_warned", set())


def chat(client, content="Say hello", **kw):
    return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": content}], **kw)


def comparable(resp) -> dict:
    return resp.model_dump()


def raw_rows(path: Path, sql: str, params=()) -> list:
    conn = sqlite3.connect(str(path), timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def file_bytes(path: Path) -> dict[str, bytes]:
    out = {}
    for suffix in ("", "-wal", "-shm", "-journal"):
        p = Path(str(path) + suffix)
        if p.exists():
            out[p.name] = p.read_bytes()
    return out


def db_size(path: Path) -> int:
    return sum(len(b) for b in file_bytes(path).values())


def worker(mode: str, db: Path, n: int, ready: Path, go: Path, base_url: str = "") -> subprocess.Popen:
    env = dict(os.environ, LLMDEBUG_RAISE_ERRORS="1")
    env.pop("LLMDEBUG_DB", None)
    args = [sys.executable, str(WORKER), mode, str(db), str(n), str(ready), str(go)]
    if base_url:
        args.append(base_url)
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(cond, timeout: float, what: str) -> None:
    """Poll until ``cond()`` (a deadline only to avoid hanging, never an assertion on speed)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


# -- 1. several processes, one file -------------------------------------------------------
# 4 processes x 200 SDK calls take ~8 s (the fast loop, -m "not slow", keeps the spans case)
@pytest.mark.parametrize("mode", [pytest.param("openai", marks=pytest.mark.slow), "spans"])
def test_four_processes_one_file_lose_nothing(mode, tmp_path, request):
    """4 processes x 200 captures into one new file, all opening it at the same moment."""
    base_url = request.getfixturevalue("llm_server").openai_base_url if mode == "openai" else ""
    db = tmp_path / "shared.db"
    go = tmp_path / "go"
    readies = [tmp_path / f"ready{i}" for i in range(4)]
    procs = [worker(mode, db, 200, r, go, base_url) for r in readies]
    try:
        wait_for(lambda: all(r.exists() for r in readies) or any(p.poll() is not None for p in procs), 60, "workers")
        go.touch()  # every worker now runs ld.init() on the same missing file at once
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, f"worker failed (rc={p.returncode}):\n{err[-3000:]}"
        assert "LLMDebugWarning" not in err, err[-3000:]

    assert raw_rows(db, "PRAGMA integrity_check") == [("ok",)]
    assert raw_rows(db, "SELECT count(*), count(DISTINCT id) FROM spans") == [(800, 800)]
    # every migration applied exactly once although three processes raced to apply them
    dup = raw_rows(db, "SELECT name, count(*) FROM _sqlite_migrations GROUP BY name HAVING count(*) > 1")
    assert dup == []
    if mode == "openai":
        assert raw_rows(db, "SELECT count(*) FROM spans WHERE kind = 'llm' AND status = 'ok'") == [(800,)]
        assert raw_rows(db, "SELECT count(*) FROM payloads") == [(800,)]
        # Search text is indexed when a writer goes idle; these workers exited first.
        fts.catch_up(connect(db))
        per_proc = raw_rows(
            db, "SELECT substr(prompt_text, 1, instr(prompt_text, ' call')) AS w, count(*) FROM payloads GROUP BY w"
        )
        assert sorted(n for _, n in per_proc) == [200, 200, 200, 200]
        # and the SQL-level text search still sees every call
        assert raw_rows(db, "SELECT count(*) FROM payloads_fts WHERE payloads_fts MATCH 'worker'") == [(800,)]
    else:
        per_proc = raw_rows(db, "SELECT substr(name, 1, instr(name, ' span')), count(*) FROM spans GROUP BY 1")
        assert sorted(n for _, n in per_proc) == [200, 200, 200, 200]
    # and the public read API sees the same
    ld.init(db, instrument=False)
    assert len(ld.spans()) == 800


# -- 2. unwritable paths --------------------------------------------------------------------
def _immutable(path: Path) -> bool:
    """chattr +i: the one permission root cannot ignore (needs ext4/xfs/btrfs and CAP_LINUX_IMMUTABLE)."""
    r = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    return r.returncode == 0


def _mutable(path: Path) -> None:
    subprocess.run(["chattr", "-i", str(path)], capture_output=True)


@pytest.fixture
def unwritable(request, tmp_path):
    """A trace path that cannot be written, even by root. Yields (path, kind)."""
    kind = request.param
    locked: list[Path] = []
    if kind == "missing_dir":
        path = tmp_path / "does" / "not" / "exist" / "traces.db"
    elif kind == "parent_is_file":
        # The "directory" is a regular file: open() fails with ENOTDIR, whoever you are.
        (tmp_path / "afile").write_text("not a directory")
        path = tmp_path / "afile" / "traces.db"
    elif kind in ("immutable_dir", "immutable_db"):
        if not shutil_which("chattr"):
            pytest.skip("chattr not available")
        d = tmp_path / "ro"
        d.mkdir()
        path = d / "traces.db"
        connect(path).close()  # an existing, valid llmdebug store...
        target = d if kind == "immutable_dir" else path
        if not _immutable(target):  # ...made read-only in a way that binds root too
            pytest.skip("chattr +i not permitted here")
        locked.append(target)
        probe = d / "probe" if kind == "immutable_dir" else path
        try:
            with open(probe, "a") as f:
                f.write("x")
            pytest.skip("chattr +i does not stop writes here")
        except PermissionError:
            pass
    else:  # pragma: no cover
        raise ValueError(kind)
    try:
        yield path, kind
    finally:
        for p in locked:
            _mutable(p)


def shutil_which(name: str):
    import shutil

    return shutil.which(name)


@pytest.mark.parametrize(
    "unwritable", ["missing_dir", "parent_is_file", "immutable_dir", "immutable_db"], indirect=True
)
def test_unwritable_path_call_succeeds_one_warning_nothing_lost(unwritable, llm_openai_client, trace_db, fresh_warn_once):
    bad, kind = unwritable
    baseline = comparable(chat(llm_openai_client))  # not instrumented yet: the SDK's own answer
    with llmdebug_warnings() as warned:
        ld.init(bad)
        resp = chat(llm_openai_client)
        with ld.span("my step", kind="tool", n=1) as s:
            s.set_output("done")
        assert ld.flush(10) is False  # nothing could be written: flush says so
        ld.flush(1)  # a second failing write must not warn again
    assert comparable(resp) == baseline
    assert len(warned) == 1, [str(w.message) for w in warned]
    msg = str(warned[0].message)
    assert str(bad) in msg
    if kind == "missing_dir":
        assert "does not exist" in msg
    if kind in ("missing_dir", "parent_is_file"):
        assert not os.path.lexists(bad)

    # Point llmdebug somewhere writable: what was captured meanwhile is written there.
    with llmdebug_warnings() as warned_again:
        ld.init(trace_db)
        assert ld.flush(10) is True
    assert warned_again == []
    calls = ld.calls()
    assert len(calls) == 1
    assert calls["status"].tolist() == ["ok"]
    got = ld.last()
    assert got.messages == MSGS
    assert got.output_text == resp.choices[0].message.content
    spans = ld.spans()
    assert sorted(spans["name"]) == ["my step", "openai.chat.completions"]
    assert raw_rows(trace_db, "SELECT count(*) FROM spans") == [(2,)]


# -- 3. a locked store ----------------------------------------------------------------------
@pytest.mark.parametrize("when", ["while_writing", "at_init"])
def test_locked_db_call_succeeds_then_rows_arrive(when, llm_openai_client, trace_db, monkeypatch, fresh_warn_once):
    monkeypatch.setattr(store_mod, "BUSY_TIMEOUT_S", 0.2)
    connect(trace_db).close()  # an existing store (WAL)
    locker = sqlite3.connect(str(trace_db), isolation_level=None, timeout=0)
    baseline = comparable(chat(llm_openai_client))
    try:
        with llmdebug_warnings() as warned:
            if when == "at_init":
                # a rollback-journal file under an exclusive lock: even reading the
                # journal mode at init() is blocked
                locker.execute("PRAGMA journal_mode = DELETE")
                locker.execute("BEGIN EXCLUSIVE")
                locker.execute("CREATE TABLE IF NOT EXISTS other_app (x)")
                ld.init(trace_db)
            else:
                ld.init(trace_db)
                locker.execute("BEGIN EXCLUSIVE")
            resp = chat(llm_openai_client)
            with ld.span("while locked"):
                pass
            assert ld.flush(10) is False
        assert comparable(resp) == baseline
        assert len(warned) == 1, [str(w.message) for w in warned]
        assert str(trace_db) in str(warned[0].message)
        assert "lock" in str(warned[0].message)
    finally:
        if locker.in_transaction:
            locker.execute("COMMIT")
        locker.close()
    with llmdebug_warnings() as later:
        assert ld.flush(30) is True
    assert later == []
    assert len(ld.calls()) == 1
    assert sorted(ld.spans()["name"]) == ["openai.chat.completions", "while locked"]
    assert raw_rows(trace_db, "PRAGMA integrity_check") == [("ok",)]


# -- 4. odd payloads ------------------------------------------------------------------------
class Custom:
    def __repr__(self) -> str:
        return "<Custom thing>"


class Hostile:
    """A proxy-like object whose attribute lookup and repr both blow up."""

    def __getattr__(self, name):
        raise RuntimeError(f"no attribute access allowed ({name})")

    def __repr__(self) -> str:
        raise RuntimeError("no repr either")


def test_odd_span_attributes_are_stored_and_read_back(ld_on):
    rec: list = [1]
    rec.append(rec)
    when = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    small_unicode = "héllo 👋 世界 — ✓ \u200b"
    with ld.span(
        "odd",
        kind="tool",
        obj=object(),
        aset={3, 1, 2},
        raw=b"\x00\xff" * 10,
        when=when,
        custom=Custom(),
        rec=rec,
        nul="a\x00b",
        surrogate="x\ud800y",
        unicode=small_unicode,
        nan=float("nan"),
        inf=float("inf"),
        tuple_keys={(1, 2): "t"},
        tags=["tag 👋"],
        metadata={"who": "世界", "score": float("-inf")},
    ) as s:
        s.set_input({"frozen": frozenset({"a"})})
        s.set_output(rec)
    with ld.span("nul\x00name \ud800 👋"):
        pass
    assert ld.flush(10) is True

    df = ld.spans()
    assert len(df) == 2
    odd = ld.get(df[df["name"] == "odd"]["id"].iloc[0])
    a = odd.attributes
    assert "object object at" in a["obj"]
    assert sorted(a["aset"]) == [1, 2, 3]
    assert a["raw"].startswith("<20 bytes")
    assert a["when"] == when.isoformat()
    assert a["custom"] == "<Custom thing>"
    assert a["rec"][0] == 1 and isinstance(a["rec"][1], list)  # cut, not infinite
    assert a["nul"] == "a\x00b"
    assert a["surrogate"].startswith("x") and a["surrogate"].endswith("y")
    # kept as a JSON escape: reads back as the same (broken) string, or as visible text
    assert a["surrogate"] == "x\ud800y" or "ud800" in a["surrogate"]
    assert a["unicode"] == small_unicode
    assert a["nan"] is None and a["inf"] is None
    assert list(a["tuple_keys"].values()) == ["t"]
    assert odd.tags == ["tag 👋"]
    assert odd.metadata == {"who": "世界", "score": None}
    assert odd.input == {"frozen": ["a"]}
    assert odd.output[0] == 1
    other = df[df["name"] != "odd"]["name"].iloc[0]
    assert other.startswith("nul\x00name ") and other.endswith(" 👋")
    assert raw_rows(ld_on, "PRAGMA integrity_check") == [("ok",)]
    assert_all_text_is_utf8(ld_on)
    # the JSON columns are real JSON: users query them with SQLite's json functions
    assert raw_rows(ld_on, "SELECT json_extract(metadata, '$.who') FROM spans WHERE name = 'odd'") == [("世界",)]
    assert raw_rows(
        ld_on, "SELECT count(*) FROM payloads WHERE json_valid(attributes_json) AND json_valid(input_json)"
    ) == [(1,)]


def assert_all_text_is_utf8(path: Path) -> None:
    """Every stored text value is valid UTF-8 (what other tools reading the file expect)."""
    conn = sqlite3.connect(str(path))
    conn.text_factory = bytes
    try:
        for table in ("spans", "payloads"):
            for row in conn.execute(f"SELECT * FROM {table}"):
                for v in row:
                    if isinstance(v, bytes):
                        v.decode("utf-8")
    finally:
        conn.close()


def test_hostile_objects_do_not_lose_the_span(ld_on):
    """An object whose __getattr__ and __repr__ raise (broken proxies exist) must still be stored."""
    with ld.span("hostile", thing=Hostile()) as s:
        s.set_output(Hostile())
    with ld.span("after"):
        pass
    assert ld.flush(10) is True
    df = ld.spans()
    assert sorted(df["name"]) == ["after", "hostile"]
    got = ld.get(df[df["name"] == "hostile"]["id"].iloc[0])
    assert "Hostile" in got.attributes["thing"]
    assert "Hostile" in got.output


def test_unencodable_text_in_narrow_columns_does_not_poison_the_batch(ld_on):
    """Lone surrogates and non-text objects reach columns that are not payload JSON (kind)."""
    with ld.span("kind is broken", kind="tool\ud800"):
        pass
    with ld.span("kind is an object", kind=Custom()):
        pass
    with ld.span("innocent neighbour"):
        pass
    assert ld.flush(10) is True
    df = ld.spans()
    assert sorted(df["name"]) == ["innocent neighbour", "kind is an object", "kind is broken"]
    kind = df[df["name"] == "kind is broken"]["kind"].iloc[0]
    assert kind.startswith("tool") and "ud800" in kind
    assert df[df["name"] == "kind is an object"]["kind"].iloc[0] == "<Custom thing>"
    assert_all_text_is_utf8(ld_on)
    # and the store keeps working afterwards (no poisoned batch retried forever)
    with ld.span("later"):
        pass
    assert ld.flush(10) is True
    assert len(ld.spans()) == 4


def test_two_megabyte_prompt_is_truncated_visibly_and_db_stays_small(ld_on, llm_openai_client):
    # Non-repetitive text (so neither SQLite nor the file system gets it cheap).
    chunk = base64.b64encode(os.urandom(3 * 1024)).decode()
    prompt = ("Summarise: " + " ".join(chunk[i : i + 8] for i in range(0, len(chunk), 8)) * 600)[: 2 * 1024 * 1024]
    assert len(prompt) == 2 * 1024 * 1024
    resp = chat(llm_openai_client, prompt)
    assert resp.choices[0].message.content
    assert ld.flush(30) is True

    got = ld.last()
    stored = got.messages[0]["content"]
    assert stored.startswith(prompt[:1000])
    assert "[llmdebug: truncated" in stored
    assert len(stored) < len(prompt)
    assert len(stored) <= rows_mod.MAX_FIELD_CHARS + 200
    req_content = got.request["messages"][0]["content"]
    assert "[llmdebug: truncated" in req_content and len(req_content) <= rows_mod.MAX_FIELD_CHARS + 200
    assert got.output_text == resp.choices[0].message.content
    # The 2 MB prompt appears in the request and in the message list: both clipped
    # (<= 1 M chars each) + a 100 K search copy; nothing near 2 x 2 MB.
    size = db_size(ld_on)
    assert size < 3.5 * 1024 * 1024, size
    session.close()
    assert db_size(ld_on) < 3.5 * 1024 * 1024


def test_inline_image_is_summarised(ld_on, llm_openai_client):
    b64 = base64.b64encode(os.urandom(300 * 1024)).decode()
    url = "data:image/png;base64," + b64
    content = [{"type": "text", "text": "What is in this image?"}, {"type": "image_url", "image_url": {"url": url}}]
    resp = llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": content}])
    assert resp.choices[0].message.content
    assert ld.flush(10) is True
    got = ld.last()
    part = got.messages[0]["content"][1]["image_url"]["url"]
    assert "summarised by llmdebug" in part and "image/png" in part
    assert str(300 * 1024) in part  # decoded size is shown
    assert got.messages[0]["content"][0]["text"] == "What is in this image?"
    assert "summarised by llmdebug" in json.dumps(got.request)
    session.close()
    blob = b"".join(file_bytes(ld_on).values())
    assert b64[1000:1100].encode() not in blob
    assert db_size(ld_on) < 1024 * 1024


@pytest.mark.parametrize(
    "prompt",
    ["nul \x00 inside", "emoji 👋🏽 and CJK 世界 and RTL שלום", "lone \ud800 surrogate", "lone low \udfff end"],
    ids=["nul", "emoji_cjk", "lone_high_surrogate", "lone_low_surrogate"],
)
def test_odd_prompts_through_the_sdk(prompt, ld_on, llm_openai_client):
    ld.uninstrument()
    try:
        baseline = comparable(chat(llm_openai_client, prompt))
        base_exc = None
    except Exception as e:  # the SDK itself may refuse; then llmdebug must not change that
        baseline, base_exc = None, e
    ld.instrument()
    if base_exc is not None:
        # (openai refuses lone surrogates itself: UnicodeEncodeError while encoding the body)
        with pytest.raises(type(base_exc)) as info:
            chat(llm_openai_client, prompt)
        assert str(info.value) == str(base_exc)  # the very same error, untouched
    else:
        assert comparable(chat(llm_openai_client, prompt)) == baseline
    assert ld.flush(10) is True
    assert_all_text_is_utf8(ld_on)
    got = ld.last()
    assert got.status == ("error" if base_exc is not None else "ok")
    if base_exc is not None:
        assert got.error_type == type(base_exc).__name__
    else:
        assert got.output_text
    stored = got.messages[0]["content"]
    if stored != prompt:  # only broken text may differ, and then visibly
        with pytest.raises(UnicodeEncodeError):
            prompt.encode("utf-8")
        assert stored.startswith(prompt[:4]) and "\\ud" in stored


# -- 5. kill -9 ------------------------------------------------------------------------------
def test_kill_9_during_heavy_writing_leaves_a_sound_db(tmp_path):
    db = tmp_path / "killed.db"
    go = tmp_path / "go"
    go.touch()
    seen = 0
    for round_ in range(3):
        ready = tmp_path / f"ready{round_}"
        p = worker("forever", db, 0, ready, go)
        try:
            target = seen + 500 * (round_ + 1)

            def enough():
                if p.poll() is not None:
                    raise AssertionError(f"worker exited early:\n{p.stderr.read()[-3000:]}")
                if not db.exists():
                    return False
                try:
                    return raw_rows(db, "SELECT count(*) FROM spans")[0][0] >= target
                except sqlite3.OperationalError:
                    return False

            wait_for(enough, 60, f"{target} spans")
            os.kill(p.pid, signal.SIGKILL)
        finally:
            if p.poll() is None:
                p.kill()
            p.wait()
        assert p.returncode == -signal.SIGKILL
        printed = p.stdout.read().split()
        handed = seen + int(printed[-1]) if printed else seen
        assert raw_rows(db, "PRAGMA integrity_check") == [("ok",)]
        (count,) = raw_rows(db, "SELECT count(*) FROM spans")[0]
        assert count >= target
        # What kill -9 lost: spans handed over but not yet committed (the writer's last
        # batch and its 100 ms linger). The worker flushes every 100 spans, so at most that.
        lost = handed - count
        print(f"[info] kill -9 round {round_}: {handed} spans handed over, {count} committed, {lost} lost")
        assert lost <= MAX_BATCH
        # every committed span has its payload: batches are atomic
        # (the worker's "s..." spans all carry attributes; its "t..." trace spans carry none)
        assert raw_rows(db, "SELECT count(*) FROM spans s LEFT JOIN payloads p ON p.span_id = s.id "
                            "WHERE s.name LIKE 's%' AND p.span_id IS NULL") == [(0,)]
        seen = count

    ld.init(db, instrument=False)
    assert len(ld.spans()) == seen
    assert ld.traces()["spans"].sum() == seen
    with ld.span("after the crash"):
        pass
    assert ld.flush(10) is True
    assert len(ld.spans(name="after the crash")) == 1
    session.close()
    assert raw_rows(db, "PRAGMA integrity_check") == [("ok",)]


# -- 6. secrets ------------------------------------------------------------------------------
SECRETS = ["sk-test-SECRET-123", "sk-extra-SECRET", "sk-ant-SECRET-456", "sk-litellm-SECRET", "sk-lhdr-SECRET"]


def test_no_api_key_is_ever_stored(ld_on, llm_server):
    import openai

    expected = 0
    client = openai.OpenAI(base_url=llm_server.openai_base_url, api_key="sk-test-SECRET-123", max_retries=0)
    hdr = {"Authorization": "Bearer sk-extra-SECRET", "X-Api-Key": "sk-extra-SECRET"}
    chat(client)
    chat(client, extra_headers=hdr)
    for _ in chat(client, stream=True, extra_headers=hdr):
        pass
    client.responses.create(model="gpt-4o-mini", input="hi", extra_headers=hdr)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="fake-fail-401", messages=MSGS, extra_headers=hdr)
    expected += 5

    if importlib.util.find_spec("anthropic"):
        import anthropic

        ac = anthropic.Anthropic(base_url=llm_server.anthropic_base_url, api_key="sk-ant-SECRET-456", max_retries=0)
        ac.messages.create(model="claude-3-5-haiku-latest", max_tokens=50, messages=MSGS)
        ac.messages.create(model="claude-3-5-haiku-latest", max_tokens=50, messages=MSGS,
                           extra_headers={"Authorization": "Bearer sk-extra-SECRET"})
        with ac.messages.stream(model="claude-3-5-haiku-latest", max_tokens=50, messages=MSGS) as st:
            st.get_final_message()
        expected += 3

    if importlib.util.find_spec("litellm"):
        import litellm

        litellm.completion(model="openai/gpt-4o-mini", api_base=llm_server.openai_base_url,
                           api_key="sk-litellm-SECRET", messages=MSGS)
        litellm.completion(model="openai/gpt-4o-mini", api_base=llm_server.openai_base_url,
                           api_key="sk-litellm-SECRET", messages=MSGS,
                           extra_headers={"Authorization": "Bearer sk-lhdr-SECRET"})
        expected += 2

    assert ld.flush(30) is True
    assert len(ld.calls()) == expected  # the calls really were captured...
    for s in ld.calls()["id"]:
        assert not any(x in json.dumps(ld.get(s).to_dict(), default=str) for x in SECRETS)

    def check(blobs: dict[str, bytes]) -> None:
        assert blobs, "no database files found"
        for name, blob in blobs.items():
            for secret in SECRETS:
                assert secret.encode() not in blob, f"{secret} found in {name}"
                # also not in the UTF-16 or JSON-escaped forms
                assert secret.encode("utf-16-le") not in blob, f"{secret} (utf-16) found in {name}"

    check(file_bytes(ld_on))  # as written (WAL not yet checkpointed)
    assert any(name.endswith("-wal") for name in file_bytes(ld_on))
    session.close()
    check(file_bytes(ld_on))  # after checkpoint into the main file
    # the capture did contain real traffic: the prompt is in the file
    assert b"Say hello" in b"".join(file_bytes(ld_on).values())


# -- 7. internal failures never reach user code ----------------------------------------------
@pytest.fixture
def swallowing(monkeypatch, fresh_warn_once):
    monkeypatch.delenv("LLMDEBUG_RAISE_ERRORS", raising=False)


def _boom(*a, **k):
    raise RuntimeError("llmdebug bug (injected)")


def test_failure_while_reading_the_response_is_swallowed(ld_on, llm_openai_client, swallowing, monkeypatch):
    ld.uninstrument()
    baseline = comparable(chat(llm_openai_client))
    base_stream = [c.model_dump() for c in chat(llm_openai_client, stream=True)]
    ld.instrument()
    monkeypatch.setattr("llmdebug.capture.extract.finalize", _boom)
    with llmdebug_warnings() as warned:
        assert comparable(chat(llm_openai_client)) == baseline
        assert [c.model_dump() for c in chat(llm_openai_client, stream=True)] == base_stream
        assert comparable(chat(llm_openai_client)) == baseline
        assert ld.flush(10) is True
    assert len(warned) == 1, [str(w.message) for w in warned]
    assert "internal error" in str(warned[0].message) and "not affected" in str(warned[0].message)
    # The spans themselves were still stored (with what was known before the failure).
    assert len(ld.calls()) == 3


def test_failure_while_opening_the_span_is_swallowed(ld_on, llm_openai_client, swallowing, monkeypatch):
    import openai

    ld.uninstrument()
    baseline = comparable(chat(llm_openai_client))
    ld.instrument()
    import llmdebug.capture._patch as patch_mod
    monkeypatch.setattr(patch_mod, "start_span", _boom)
    with llmdebug_warnings() as warned:
        assert comparable(chat(llm_openai_client)) == baseline
        assert comparable(chat(llm_openai_client)) == baseline
        with pytest.raises(openai.AuthenticationError):  # the user's own errors come through unchanged
            llm_openai_client.chat.completions.create(model="fake-fail-401", messages=MSGS)
        assert ld.flush(10) is True
    assert len(warned) == 1, [str(w.message) for w in warned]
    assert "opening an LLM span" in str(warned[0].message)
    assert len(ld.calls()) == 0


def test_failure_in_the_writer_is_swallowed(ld_on, llm_openai_client, swallowing, monkeypatch):
    ld.uninstrument()
    baseline = comparable(chat(llm_openai_client))
    ld.instrument()
    monkeypatch.setattr("llmdebug.store.writer.span_row", _boom)
    with llmdebug_warnings() as warned:
        assert comparable(chat(llm_openai_client)) == baseline
        with ld.span("user span"):
            pass
        ld.flush(10)
    assert len(warned) == 1, [str(w.message) for w in warned]
    assert "serialising a span" in str(warned[0].message)
    import llmdebug.store.writer as writer_mod

    monkeypatch.setattr(writer_mod, "span_row", rows_mod.span_row)
    # the writer thread survived: later spans are written
    with ld.span("later"):
        pass
    assert ld.flush(10) is True
    assert "later" in set(ld.spans()["name"])
