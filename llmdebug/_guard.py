"""The one boundary where llmdebug's own failures are caught: warn once, never raise.

Set ``LLMDEBUG_RAISE_ERRORS=1`` (the test suite does) to turn swallowing off so that
llmdebug's bugs fail loudly instead.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import warnings

log = logging.getLogger("llmdebug")

_warned: set[str] = set()
_lock = threading.Lock()


class LLMDebugWarning(UserWarning):
    """A problem inside llmdebug; the user's own call was not affected."""


def raise_errors() -> bool:
    return os.environ.get("LLMDEBUG_RAISE_ERRORS", "") not in ("", "0", "false", "False")


def warn(message: str, category: type[Warning] = UserWarning, stacklevel: int = 2,
         where: tuple[str, int] | None = None) -> None:
    """``warnings.warn`` that never raises: under an "error" filter (``-W error``,
    pytest's ``filterwarnings = error``) the message is logged instead, because a
    warning of llmdebug's must not become an exception in the user's code or kill
    the writer thread. ``where``: (filename, line) to attribute it to instead."""
    try:
        if where is not None:
            warnings.warn_explicit(message, category, where[0], where[1])
        else:
            warnings.warn(message, category, stacklevel=stacklevel + 1)
    except Exception:
        try:
            log.warning("%s: %s", category.__name__, message)
        except Exception:
            pass


def warn_once(key: str, message: str) -> bool:
    """Show ``message`` as a warning the first time ``key`` is seen; True if shown."""
    with _lock:
        if key in _warned:
            return False
        _warned.add(key)
    warn(message, LLMDebugWarning, stacklevel=3)
    return True


def report(where: str) -> None:
    """Call from an ``except`` block inside llmdebug code."""
    exc = sys.exc_info()[1]
    if raise_errors():
        raise
    log.debug("llmdebug internal error in %s", where, exc_info=True)
    warn_once(
        "internal:" + where,
        f"llmdebug: internal error while {where} ({type(exc).__name__}: {exc}). "
        "Your call was not affected; this warning is shown once.",
    )
