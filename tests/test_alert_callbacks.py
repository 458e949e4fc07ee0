"""Alert callbacks run on a thread of their own, one at a time in firing order: a slow or
failing callback never holds up the writer, and alert warnings never raise."""

import logging
import sys
import threading
import warnings

import pytest

import llmdebug as ld
from llmdebug import budgets

MSG = [{"role": "user", "content": "hello there"}]
WAIT = 30  # an upper bound for waits that normally end at once; never a measured time


@pytest.fixture(autouse=True)
def fresh_rules(monkeypatch):
    budgets.reset()
    monkeypatch.setattr(budgets, "_deliver_now", False)
    yield
    budgets.wait_for_callbacks(WAIT)
    budgets.reset()


def _call(client, text="hello there"):
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])


def test_a_blocked_callback_does_not_hold_up_writes(ld_on, llm_openai_client):
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def slow(event):
        started.set()
        release.wait(10)  # blocked until the test lets it go (old code: the writer waited here)
        finished.set()

    ld.budget(usd=1e-9, callback=slow, name="slow budget")
    try:
        _call(llm_openai_client, "one")
        assert ld.flush()
        assert started.wait(WAIT)
        _call(llm_openai_client, "two")
        assert ld.flush()  # returns while the callback is still blocked
        assert len(ld.calls()) == 2
        assert not finished.is_set()
    finally:
        release.set()
    assert budgets.wait_for_callbacks(WAIT) and finished.is_set()


def test_callbacks_run_one_at_a_time_in_firing_order(ld_on, llm_openai_client):
    log, threads, release = [], set(), threading.Event()
    first_started = threading.Event()

    def first(event):
        log.append(("first", "start", event["rule"]))
        first_started.set()
        release.wait(10)
        log.append(("first", "end", event["rule"]))

    def second(event):
        log.append(("second", "start", event["rule"]))
        threads.add(threading.current_thread().name)
        log.append(("second", "end", event["rule"]))

    ld.budget(usd=1e-9, callback=first, name="A")
    ld.budget(usd=2e-9, callback=second, name="B")
    try:
        _call(llm_openai_client)  # one batch crosses both budgets: A fires first, then B
        assert ld.flush() and first_started.wait(WAIT)
        assert log == [("first", "start", "A")]  # B waits for A
    finally:
        release.set()
    assert budgets.wait_for_callbacks(WAIT)
    assert log == [("first", "start", "A"), ("first", "end", "A"), ("second", "start", "B"), ("second", "end", "B")]
    assert threads == {"llmdebug-alert-callbacks"}  # neither the writer nor this thread


def _fire_three(llm_openai_client, seen, names):
    def boom(event):
        raise RuntimeError("callback exploded")

    def leave(event):
        sys.exit(3)

    def interrupt(event):
        raise KeyboardInterrupt

    _call(llm_openai_client)
    assert ld.flush()
    # Already over budget: each fires as it is added (on this thread), the callbacks on theirs.
    ld.budget(usd=1e-9, callback=boom, name=names[0])
    ld.budget(usd=1e-9, callback=leave, name=names[1])
    ld.budget(usd=1e-9, callback=interrupt, name=names[2])
    ld.budget(usd=1e-9, callback=lambda ev: seen.append(ev["rule"]), name=names[3])
    assert budgets.wait_for_callbacks(WAIT)


def test_failing_callbacks_are_reported_and_later_alerts_still_fire(ld_on, llm_openai_client, caplog):
    # The test suite sets LLMDEBUG_RAISE_ERRORS=1: report() re-raises, the runner logs it loudly and goes on.
    seen = []
    with caplog.at_level(logging.ERROR, logger="llmdebug"):
        _fire_three(llm_openai_client, seen, ["boom 1", "exit 1", "interrupt 1", "after 1"])
    assert seen == ["after 1"]
    logged = "\n".join(r.getMessage() + "\n" + (r.exc_text or "") for r in caplog.records)
    assert "'boom 1'" in logged and "RuntimeError: callback exploded" in logged
    assert "'exit 1'" in logged and "SystemExit" in logged
    assert "'interrupt 1'" in logged and "KeyboardInterrupt" in logged
    _call(llm_openai_client, "again")  # the runner is alive: a new rule's callback still runs
    ld.budget(usd=1e-9, callback=lambda ev: seen.append(ev["rule"]), name="later")
    assert budgets.wait_for_callbacks(WAIT) and seen == ["after 1", "later"]


def test_failing_callbacks_are_warned_once_when_errors_are_swallowed(ld_on, llm_openai_client, monkeypatch):
    monkeypatch.setenv("LLMDEBUG_RAISE_ERRORS", "0")
    seen = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fire_three(llm_openai_client, seen, ["boom 2", "exit 2", "interrupt 2", "after 2"])
    assert seen == ["after 2"]
    texts = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert any("'boom 2'" in t and "RuntimeError: callback exploded" in t for t in texts)
    assert any("'exit 2'" in t and "SystemExit" in t for t in texts)
    assert any("'interrupt 2'" in t and "KeyboardInterrupt" in t for t in texts)


def test_deliver_never_raises_even_when_warnings_are_errors(ld_on, llm_openai_client, caplog):
    _call(llm_openai_client)
    assert ld.flush()
    ld.budget(usd=1e-9, name="strict")
    with warnings.catch_warnings(), caplog.at_level(logging.WARNING, logger="llmdebug"):
        warnings.simplefilter("error")
        ready = budgets.deliver()
    assert [ev["rule"] for ev in ready] == ["strict"]
    assert any("llmdebug budget" in r.getMessage() for r in caplog.records)


def test_writer_thread_delivery_under_error_filter_keeps_writing(ld_on, llm_openai_client, monkeypatch, caplog):
    monkeypatch.setattr(budgets, "_deliver_now", True)  # warnings issued on the writer thread
    ld.budget(usd=1e-9, name="strict writer")
    with warnings.catch_warnings(), caplog.at_level(logging.WARNING, logger="llmdebug"):
        warnings.filterwarnings("error", category=ld.LLMDebugAlert)  # not the SDK's own warnings
        _call(llm_openai_client, "one")
        assert ld.flush()
        _call(llm_openai_client, "two")
        assert ld.flush()
    assert len(ld.calls()) == 2 and len(ld.alerts()) == 1
    assert any("llmdebug budget" in r.getMessage() for r in caplog.records)
