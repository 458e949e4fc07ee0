"""llmdebug: capture every LLM call into a local SQLite file and debug it in Jupyter.

Example::

    import llmdebug as ld
    ld.init()                         # or %load_ext llmdebug
    client.chat.completions.create(...)
    ld.calls()                        # a pandas DataFrame of every call
"""

from .capture import instrument, uninstrument
from .query import calls, feedback, get, last, metrics, search, spans, traces
from .pricing import register_price
from .session import flush, init
from .spans import Span, span, trace, traced
from .replay import ReplayError, edit, replay, replay_all

__version__ = "0.1.0"

__all__ = [
    "init",
    "instrument",
    "uninstrument",
    "trace",
    "span",
    "traced",
    "flush",
    "calls",
    "spans",
    "traces",
    "metrics",
    "search",
    "last",
    "get",
    "feedback",
    "show",
    "replay",
    "replay_all",
    "edit",
    "ReplayError",
    "register_price",
    "Span",
    "__version__",
]


def show(x=None):
    """The trace-tree widget of a trace id, span id (or prefix), Span or calls()/traces() row;
    with no argument, the browser of recent traces with the newest one open.

    Example::

        ld.show()                          # recent traces, the newest open
        ld.show(ld.last())                 # the trace of the last call, that call selected
        ld.show(ld.calls(status="error"))  # the trace of the newest failed call
    """
    from .widgets.trace_tree import show as _show  # anywidget and IPython load on first use

    return _show(x)


def load_ipython_extension(ipython):
    """``%load_ext llmdebug`` (the work is in :mod:`llmdebug.magics`)."""
    from .magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython):
    from .magics import unload_ipython_extension as _unload

    _unload(ipython)
