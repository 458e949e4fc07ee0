"""Alert callbacks: one at a time, in firing order, on a thread of their own, so a slow or
failing callback never holds up the writer."""

from __future__ import annotations

import atexit
import collections
import logging
import os
import threading
from typing import TYPE_CHECKING

from .._guard import report

if TYPE_CHECKING:
    from . import Rule

log = logging.getLogger("llmdebug")


class CallbackRunner:
    """A queue of (rule, event) and one daemon thread, started when first needed (and
    again after a fork), that calls each rule's callback in turn."""

    def __init__(self) -> None:
        self._queue: collections.deque = collections.deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._running = False  # a callback is being called now

    def submit(self, rule: "Rule", event: dict) -> None:
        with self._cond:
            self._queue.append((rule, event))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="llmdebug-alert-callbacks", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._queue))
                rule, event = self._queue.popleft()
                self._running = True
            try:
                _call(rule, event)
            finally:
                with self._cond:
                    self._running = False
                    self._cond.notify_all()

    def wait(self, timeout: float | None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._running, timeout)

    def clear(self) -> None:
        with self._cond:
            self._queue.clear()


def _call(rule: "Rule", event: dict) -> None:
    try:
        rule.callback(event)
    except BaseException:  # SystemExit and KeyboardInterrupt too: the callback is the user's, the thread ours
        try:
            report(f"calling the callback of {rule.name!r}")
        except BaseException:  # LLMDEBUG_RAISE_ERRORS: report() re-raised; say so loudly and go on
            log.exception("llmdebug: the callback of %r raised", rule.name)


runner = CallbackRunner()
if hasattr(os, "register_at_fork"):  # the thread does not survive fork(), and its lock may be held
    os.register_at_fork(after_in_child=runner.__init__)


def wait_for_callbacks(timeout: float | None = None) -> bool:
    """Block until every alert callback handed over so far has run; False if ``timeout``
    (seconds) passed first."""
    return runner.wait(timeout)


@atexit.register
def _callbacks_at_exit() -> None:
    # The callbacks of alerts fired by the store's last drain at exit still run (bounded:
    # a hung callback must not hang the interpreter). This module is imported before the
    # store, so this handler runs after the store's drain (atexit runs last-in first-out).
    runner.wait(10.0)
