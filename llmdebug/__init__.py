"""llmdebug: capture every LLM call into a local SQLite file and debug it in Jupyter.

Example::

    import llmdebug as ld
    ld.init()                         # or %load_ext llmdebug
    client.chat.completions.create(...)
    ld.calls()                        # a pandas DataFrame of every call

Every public name is a re-export of a function or class that lives in its own module,
loaded when first used: ``import llmdebug`` stays cheap, and capture never loads the
read side (pandas, widgets).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import tracing as _tracing

from ._version import __version__

# public name -> (module, attribute); attribute None: the module itself
_EXPORTS: dict[str, tuple[str, str | None]] = {
    "init": ("startup", "init"),
    "flush": ("session", "flush"),
    "instrument": ("capture", "instrument"),
    "uninstrument": ("capture", "uninstrument"),
    "trace": ("tracing", "trace"),
    "span": ("tracing", "span"),
    "traced": ("tracing", "traced"),
    "Span": ("tracing", "Span"),
    "calls": ("query", "calls"),
    "spans": ("query", "spans"),
    "traces": ("query", "traces"),
    "metrics": ("query", "metrics"),
    "search": ("query", "search"),
    "last": ("query", "last"),
    "get": ("query", "get"),
    "feedback": ("query", "feedback"),
    "scores": ("query", "scores"),
    "evaluate": ("evaluation", "evaluate"),
    "judge": ("evaluation", "judge"),
    "scorers": ("evaluation.scorers", None),
    "dataset": ("evaluation", "dataset"),
    "datasets": ("evaluation", "datasets"),
    "experiment": ("evaluation", "experiment"),
    "compare": ("widgets.comparison", "compare"),
    "breaker_view": ("operations", "breaker_view"),
    "health": ("operations", "health"),
    "StoreError": ("store", "StoreError"),
    "register_price": ("pricing", "register_price"),
    "replay": ("replaying", "replay"),
    "replay_all": ("replaying", "replay_all"),
    "edit": ("replaying", "edit"),
    "ReplayError": ("replaying", "ReplayError"),
    "cassette": ("cassettes", "cassette"),
    "CassetteMiss": ("cassettes", "CassetteMiss"),
    "replay_trace": ("rerun", "replay_trace"),
    "to_test": ("testgen", "to_test"),
    "budget": ("budgets", "budget"),
    "alert": ("budgets", "alert"),
    "alerts": ("budgets", "alerts"),
    "LLMDebugAlert": ("budgets", "LLMDebugAlert"),
    "charts": ("charts", None),
    "show": ("widgets.trace_tree", "show"),
    "diff": ("widgets.diff_view", "diff"),
    "playground": ("widgets.playground", "playground"),
    "dashboard": ("widgets.dashboard", "dashboard"),
    "receive": ("otel.receiver", "receive"),
    "load": ("otel.files", "load"),
    "export": ("otel.exporter", "export"),
}

__all__ = [*_EXPORTS, "__version__"]

if TYPE_CHECKING:  # for editors and type checkers; at run time names load on first use
    from . import charts
    from .budgets import LLMDebugAlert, alert, alerts, budget
    from .cassettes import CassetteMiss, cassette
    from .capture import instrument, uninstrument
    from .pricing import register_price
    from . import evaluation
    from .evaluation import scorers
    from .evaluation import dataset, datasets, evaluate, experiment, judge
    from .operations import breaker_view, health
    from .query import calls, feedback, get, last, metrics, scores, search, spans, traces
    from .widgets.comparison import compare
    from .replaying import ReplayError, edit, replay, replay_all
    from .rerun import replay_trace
    from .testgen import to_test
    from .otel.exporter import export
    from .otel.files import load
    from .otel.receiver import receive
    from .session import flush
    from .startup import init
    from .store import StoreError
    from .tracing import Span, span, trace, traced
    from .widgets.dashboard import dashboard
    from .widgets.diff_view import diff
    from .widgets.playground import playground
    from .widgets.trace_tree import show


def __getattr__(name: str) -> Any:
    try:
        module, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'llmdebug' has no attribute {name!r}") from None
    mod = importlib.import_module(f".{module}", __name__)
    value = mod if attr is None else getattr(mod, attr)
    if attr is not None:
        globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _first_span(span: Any) -> None:
    # A span finished before ld.init(): the session opens the default store and takes over.
    importlib.import_module(".session", __name__).get_store()
    sink = _tracing.sink()
    if sink is not _first_span and sink is not None:
        sink(span)


if _tracing.sink() is None:
    _tracing.set_sink(_first_span)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext llmdebug`` (the work is in :mod:`llmdebug.magics`)."""
    importlib.import_module(".magics", __name__).load_ipython_extension(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    importlib.import_module(".magics", __name__).unload_ipython_extension(ipython)
