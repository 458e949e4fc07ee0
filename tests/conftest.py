"""Shared fixtures: every test gets its own trace file and a clean instrumentation state."""

import os

# Our bugs must fail our tests instead of being swallowed (see llmdebug/_guard.py),
# and litellm must not try to download its price map.
os.environ["LLMDEBUG_RAISE_ERRORS"] = "1"
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import shutil
import sqlite3
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

import llmdebug as ld
from llmdebug import pricing, session

# llmdebug's pytest plugin is opt-in (installing llmdebug adds nothing to other projects' runs):
# the llm_* fixtures (llm_server, llm_server_env, llm_openai_client, ...).
pytest_plugins = ["llmdebug.testing"]

FIXTURES = Path(os.environ.get("LLMDEBUG_FIXTURES", Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"))


def pytest_report_header(config):
    return f"sqlite {sqlite3.sqlite_version}, python {sys.version.split()[0]}, fixtures {FIXTURES}"


# Notebooks (nbval, one item per cell) whose run takes long: 04 simulates a week of traffic,
# 1,500 calls (~25 s). Every cell gets the mark: a notebook runs whole or not at all.
SLOW_NOTEBOOKS = {"04-costs-and-latency.ipynb"}


BROWSER_NODEIDS = "tests/browser/"


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.suffix == ".ipynb" and item.path.name in SLOW_NOTEBOOKS:
            item.add_marker(pytest.mark.slow)


def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist (``-n``, in pyproject's addopts): a file's tests run in one worker, in
    order (a notebook's cells share its kernel), and the browser tests one after another in
    one worker, so two JupyterLabs never compete for the cores. (``--dist loadgroup`` would
    say this with marks, but xdist 3.8 cannot rename a node id under pytest 9.2.)"""
    from xdist.scheduler import LoadScopeScheduling

    class FilesAndBrowser(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "browser" if nodeid.startswith(BROWSER_NODEIDS) else nodeid.split("::", 1)[0]

    return FilesAndBrowser(config, log)


@pytest.fixture(autouse=True)
def trace_db(tmp_path, monkeypatch):
    """A fresh store per test at tmp_path/traces.db; instrumentation removed afterwards."""
    path = tmp_path / "traces.db"
    monkeypatch.setenv("LLMDEBUG_DB", str(path))
    # prices a test registers are its own (the next test's costs must not depend on the order)
    monkeypatch.setattr(pricing, "_registered", pricing._registered)
    session.close()
    yield path
    ld.uninstrument()
    otel = sys.modules.get("llmdebug.otel.processor")
    if otel is not None and otel.installed():
        # the global TracerProvider outlives the test: its llmdebug processor must not store
        # the next test's OTel spans (the anthropic SDK makes its own when a provider is set)
        otel.uninstall()
    session.close()


@pytest.fixture
def ld_on(trace_db):
    """llmdebug initialised and every installed SDK instrumented."""
    ld.init(trace_db)
    return trace_db


# -- data built once per session, copied into each test's store --------------------------------
_built: dict[str, tuple[Path, Any]] = {}


@pytest.fixture(scope="session")
def _built_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("built-stores")


def _reset_server(srv) -> None:
    """What ``llm_server`` does before a test (the build ran inside one)."""
    srv.load(None)
    srv.reset()
    srv.latency = srv.chunk_delay = 0.0


@pytest.fixture
def stored(trace_db, _built_dir) -> Callable[..., Any]:
    """``stored(name, build, server=None)``: this test's store (``trace_db``, initialised as
    ``ld_on`` does) starts as a copy of the file ``build()`` filled; returns what ``build()``
    returned. ``build`` runs once per session, in the first test that asks, with llmdebug
    initialised on a file of its own; every test gets a fresh copy, so tests may write to it.
    ``server``: the ``llm_server`` the build called, reset again after the build."""

    def use(name: str, build: Callable[[], Any], server: Any = None) -> Any:
        if name not in _built:
            path = _built_dir / f"{name}.db"
            ld.init(path)
            try:
                value = build()
                assert ld.flush(30), f"{name}: not everything built was written"
            finally:
                session.close()
            conn = sqlite3.connect(path)  # fold the WAL into the file: the copy is the one file
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
            if server is not None:
                _reset_server(server)
            _built[name] = (path, value)
        path, value = _built[name]
        shutil.copy(path, trace_db)  # keeps the file's 0600
        ld.init(trace_db)
        return value

    return use
