"""Keep the SDKs' warnings pointing at the user's line.

An SDK warns with ``warnings.warn(msg, DeprecationWarning, stacklevel=N)``, counting N
frames up to its caller. llmdebug's wrapper adds frames in between, so the warning
would be attributed to llmdebug: Python's default filters then hide a
DeprecationWarning meant for ``__main__`` or a notebook, and a once-per-line warning
shows once per process. While anything is instrumented, ``warnings.warn`` is wrapped
so that its ``stacklevel`` does not count llmdebug's wrapper frames; every other
warning is passed through unchanged.
"""

from __future__ import annotations

import sys
import warnings

from ._patch import WRAPPER_CODES

_original = None


def _warn(message, category=None, stacklevel=1, source=None, **kwargs):
    try:
        if stacklevel > 1:
            frame = sys._getframe(1)
            skipped = 0
            left = stacklevel - 1
            while left > 0 and frame is not None:
                frame = frame.f_back
                if frame is not None and frame.f_code in WRAPPER_CODES:
                    skipped += 1  # not counted: the SDK does not know it is there
                else:
                    left -= 1
            stacklevel += skipped
    except Exception:  # never let the bookkeeping change what the caller gets
        pass
    return _original(message, category, stacklevel + 1, source, **kwargs)


_warn.__doc__ = warnings.warn.__doc__


def install() -> None:
    global _original
    if warnings.warn is not _warn:
        _original = warnings.warn
        warnings.warn = _warn


def uninstall() -> None:
    if warnings.warn is _warn and _original is not None:
        warnings.warn = _original
