"""llmdebug: capture every LLM call into a local SQLite file and debug it in Jupyter.

Example::

    import llmdebug as ld
    ld.init()                         # or %load_ext llmdebug
    client.chat.completions.create(...)
    ld.calls()                        # a pandas DataFrame of every call
"""

from .budgets import LLMDebugAlert, alert, alerts, budget
from .capture import instrument, uninstrument
from .query import calls, feedback, get, last, metrics, search, spans, traces
from .pricing import register_price
from .session import flush, init
from .store import StoreError
from .spans import Span, span, trace, traced
from .replay import ReplayError, edit, replay, replay_all
from . import diff as _diff_module  # noqa: F401  (loaded now so that ld.diff stays the function below)

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
    "diff",
    "playground",
    "charts",
    "dashboard",
    "budget",
    "alert",
    "alerts",
    "LLMDebugAlert",
    "replay",
    "replay_all",
    "edit",
    "ReplayError",
    "StoreError",
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


def diff(a, b):
    """A side-by-side / unified diff widget of two calls (Span, id, id prefix or calls() row):
    system prompt, messages, tools, parameters, output, and token/cost/latency deltas.

    Example::

        ld.diff(original, ld.replay(original, system="Be brief."))
    """
    from .widgets.diff_view import diff as _diff

    return _diff(a, b)


def playground(span):
    """Edit a captured call's messages, model and parameters, run it again without
    blocking the notebook, and diff any two attempts."""
    from .widgets.playground import playground as _playground

    return _playground(span)


def dashboard(**filters):
    """Cost, tokens, latency, errors, time to first token, the costliest and slowest traces
    and cost per notebook cell, as inline charts; filters (``since``, ``model``,
    ``provider``, ``tag``, ``name``) redraw them, a click opens the calls behind a bar."""
    from .widgets.dashboard import dashboard as _dashboard

    return _dashboard(**filters)


def __getattr__(name):
    # ld.charts imports altair: only when first used
    if name == "charts":
        import importlib

        return importlib.import_module(".charts", __name__)
    raise AttributeError(f"module 'llmdebug' has no attribute {name!r}")


def load_ipython_extension(ipython):
    """``%load_ext llmdebug`` (the work is in :mod:`llmdebug.magics`)."""
    from .magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython):
    from .magics import unload_ipython_extension as _unload

    _unload(ipython)
