"""pytest plugin for ``scripts/sdk_conformance.py``, loaded into an SDK's own test run with
``-p _conformance_plugin`` (``scripts/`` on ``PYTHONPATH``). Driven by environment variables:

- ``CONFORMANCE_OUT``: write every test's outcome, and where the warnings it saw were
  attributed, by node id, to this JSON file.
- ``CONFORMANCE_LLMDEBUG_DIR``: turn llmdebug on, as a user's notebook would:
  ``llmdebug.init(<dir>/conformance-<xdist worker>.db)`` before the SDK's conftest
  imports the SDK and builds its clients. Unset: llmdebug is never imported.
- ``CONFORMANCE_SERVER_DIRS``: test directories or files (``os.pathsep``-separated, relative
  to the rootdir) whose tests talk to the SDK's Prism mock server on 127.0.0.1:4010, which
  we do not run; their tests are deselected unless they mock HTTP with respx themselves.

Warnings are recorded because the suites cannot see where a warning points: they run with
``filterwarnings = error`` and check SDK warnings with ``pytest.warns``, which ignores the
location, while a user sees the file and line (and Python shows a warning once per line).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from _pytest import recwarn

# Fixtures of respx (anthropic) and of openai's vendored copy: a test using one mocks its
# base URL in-process and needs no server.
_MOCK_FIXTURES = {"respx_mock", "respx2_mock"}
_WARNINGS_KEY = "conformance_warnings"  # the report's user property carrying them to the controller

_outcomes: dict[str, list] = {}  # nodeid: [outcome, short reason]
_seconds: dict[str, float] = {}
_warnings: dict[str, list] = {}  # nodeid: [[category, "file:line"], ...] (controller)
_seen: dict[str, list] = {}  # the same, in the process running the test, until its report
_llmdebug: dict = {}
_controller = False  # an xdist controller: the workers run the tests
_rootdir = Path.cwd()
_t0 = time.time()


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # Runs after the ``-p`` plugins given before ours (anthropic's ``tests._alias_httpx``
    # must alias httpx before anything imports it) and before the SDK's conftest.py.
    target = os.environ.get("CONFORMANCE_LLMDEBUG_DIR")
    if not target:
        return
    import llmdebug

    Path(target).mkdir(parents=True, exist_ok=True)
    llmdebug.init(Path(target) / f"conformance-{_worker()}.db")
    _llmdebug.update(version=llmdebug.__version__, instrumented=llmdebug.capture.instrumented())


def pytest_configure(config):
    global _rootdir
    _rootdir = Path(config.rootpath)


def pytest_collection_modifyitems(config, items):
    dirs = [d for d in os.environ.get("CONFORMANCE_SERVER_DIRS", "").split(os.pathsep) if d]
    if not dirs:
        return
    prefixes = tuple((_rootdir / d).resolve() for d in dirs)
    keep, drop = [], []
    for item in items:
        path = Path(item.path).resolve()
        needs_server = any(path.is_relative_to(p) for p in prefixes)
        if needs_server and not _MOCK_FIXTURES & set(getattr(item, "fixturenames", ())):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# ---------------------------------------------------------------- warnings' locations


def _where(filename: str, lineno: int) -> str:
    path = str(filename)
    if "site-packages" + os.sep in path:
        path = path.split("site-packages" + os.sep, 1)[1]
    elif Path(path).is_relative_to(_rootdir):
        path = str(Path(path).relative_to(_rootdir))
    return f"{path}:{lineno}"


def _note(messages) -> None:
    nodeid = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
    if not nodeid:
        return
    for m in messages:
        _seen.setdefault(nodeid, []).append([m.category.__name__, _where(m.filename, m.lineno)])


_recorder_exit = recwarn.WarningsRecorder.__exit__


def _exit_noting_warnings(self, *exc_info):
    # pytest.warns / recwarn: what the test caught never reaches pytest's own recording.
    try:
        return _recorder_exit(self, *exc_info)
    finally:
        try:
            _note(self.list)
        except Exception:  # noqa: BLE001 - a record of ours must never fail the test
            pass


recwarn.WarningsRecorder.__exit__ = _exit_noting_warnings


def pytest_warning_recorded(warning_message, when, nodeid, location):
    # Under xdist the controller gets these relayed too; the worker's copy is the one recorded.
    if when == "runtest" and nodeid and not _controller:
        _seen.setdefault(nodeid, []).append(
            [warning_message.category.__name__, _where(warning_message.filename, warning_message.lineno)]
        )


def pytest_sessionstart(session):
    global _controller
    _controller = session.config.pluginmanager.hasplugin("dsession")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.when == "teardown" and item.nodeid in _seen:
        report.user_properties = [*report.user_properties, (_WARNINGS_KEY, _seen.pop(item.nodeid))]
    return report


# ---------------------------------------------------------------- outcomes


def _reason(report) -> str:
    wasxfail = getattr(report, "wasxfail", None)
    if wasxfail and report.skipped:
        return str(wasxfail)
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple):  # a skip: (path, lineno, "Skipped: why")
        return str(longrepr[2])
    crash = getattr(longrepr, "reprcrash", None)
    text = crash.message if crash is not None else "".join(str(longrepr).strip().splitlines()[-1:])
    return text[:500]


def _record(report, outcome: str, reason: str) -> None:
    _outcomes[report.nodeid or "<collection>"] = [outcome, reason]


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report):
    # Under xdist the workers' reports are replayed in the controller, which records them.
    when = report.when
    xfail = hasattr(report, "wasxfail")
    _seconds[report.nodeid] = _seconds.get(report.nodeid, 0.0) + report.duration
    for key, value in report.user_properties:
        if key == _WARNINGS_KEY:
            _warnings[report.nodeid] = sorted(value)
    if when == "setup":
        if report.failed:
            _record(report, "error", _reason(report))
        elif report.skipped:
            _record(report, "xfailed" if xfail else "skipped", _reason(report))
    elif when == "call":
        if report.passed:
            _record(report, "xpassed" if xfail else "passed", "")
        elif report.failed:
            _record(report, "failed", _reason(report))
        else:
            _record(report, "xfailed" if xfail else "skipped", _reason(report))
    elif when == "teardown" and report.failed:
        if _outcomes.get(report.nodeid, ["passed"])[0] not in ("failed", "error"):
            _record(report, "error", "teardown: " + _reason(report))


def pytest_collectreport(report):
    if report.failed:
        _record(report, "error", "collection: " + _reason(report))


def pytest_sessionfinish(session, exitstatus):
    if _llmdebug:
        import llmdebug

        # The spans of this process must be on disk before the driver counts them.
        _llmdebug["flushed"] = llmdebug.flush(60)
    out = os.environ.get("CONFORMANCE_OUT")
    if not out or hasattr(session.config, "workerinput"):
        return
    data = {
        "exitstatus": int(exitstatus),
        "seconds": round(time.time() - _t0, 1),
        "llmdebug": _llmdebug or None,
        "outcomes": {k: [*v, round(_seconds.get(k, 0.0), 3)] for k, v in _outcomes.items()},
        "warnings": _warnings,
    }
    Path(out).write_text(json.dumps(data, indent=1))
