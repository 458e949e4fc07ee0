"""The diff widget behind ``ld.diff(a, b)``: two calls side by side or unified, with
the system prompt, messages, tools, parameters and outputs compared part by part.

The comparison itself is :func:`llmdebug.diffing.diff_calls` (pure Python); this widget
only syncs its JSON-safe dict to the browser, where every string is rendered as text,
never as HTML. Saved notebooks and terminals get :func:`llmdebug.diffing.render_text` of
:func:`visible_diff`: bidi controls and invisible characters written as ``⟨U+XXXX⟩``.
"""

from __future__ import annotations

import re
from typing import Any

import anywidget
import traitlets as t

from .. import query
from ..tracing import Span
from ..diffing import diff_calls, render_html, render_text
from . import css, esm
from .static import mark, wrap
from .visible import visible_text

VIEWS = ("side", "unified")
# Strings under these keys are names (label rule); every other string is content.
_LABEL_KEYS = {"id", "name", "provider", "model", "endpoint", "status", "error_type", "role", "tool_call_id",
               "key", "path", "replay_of"}
_ONLY_MARKERS = re.compile(r"(⟨U\+[0-9A-F]{4,6}⟩)+")


def _change(text: str) -> str:
    # an inserted or deleted run of invisible characters only (a ZWJ too) is shown with the
    # label rule, so that no change is invisible; the same rule as changeText in diff_view.js
    shown = visible_text(text, label=True)
    return shown if text and _ONLY_MARKERS.fullmatch(shown) else visible_text(text)


def visible_diff(d: Any, label: bool = False) -> Any:
    """A copy of a :func:`llmdebug.diffing.diff_calls` dict for the text fallbacks, its strings
    passed through :func:`visible_text` (names with the label rule)."""
    if isinstance(d, dict):
        return {visible_text(k, label=True): visible_diff(v, label=k in _LABEL_KEYS) for k, v in d.items()}
    if isinstance(d, list):
        if len(d) == 2 and d[0] in ("insert", "delete") and isinstance(d[1], str):  # a changed text run
            return [d[0], _change(d[1])]
        return [visible_diff(v, label) for v in d]
    return visible_text(d, label=label)


def _labels(*labels: str) -> list[str]:
    return [visible_text(x, label=True) for x in labels]


class DiffView(anywidget.AnyWidget):
    """A diff of two calls. ``view`` switches between ``"side"`` (two columns) and
    ``"unified"`` (one column, deletions and insertions inline).

    Example::

        w = DiffView(diff_calls(original, replayed), a_label="original", b_label="replay")
        w.update(original, other)   # compare another pair in the same widget
    """

    _esm = esm("diff_view.js")
    _css = css("diff_view.css")

    diff = t.Dict().tag(sync=True)  # the dict of llmdebug.diffing.diff_calls
    view = t.Enum(VIEWS, default_value="side").tag(sync=True)
    a_label = t.Unicode("A").tag(sync=True)
    b_label = t.Unicode("B").tag(sync=True)

    def __init__(self, diff: dict | None = None, *, view: str = "side", a_label: str = "A", b_label: str = "B",
                 **kwargs: Any):
        super().__init__(diff=diff or {}, view=view, a_label=a_label, b_label=b_label, **kwargs)

    @classmethod
    def from_calls(cls, a: Any, b: Any, **kwargs: Any) -> DiffView:
        """The widget of two calls (Spans, span ids or prefixes, calls() rows)."""
        return cls(diff_calls(a, b), **kwargs)

    def update(self, a: Any, b: Any) -> None:
        """Show the diff of another pair of calls."""
        self.diff = diff_calls(a, b)

    def __repr__(self) -> str:
        if not self.diff:
            return "llmdebug diff (empty)"
        return render_text(visible_diff(self.diff), *_labels(self.a_label, self.b_label))

    def _repr_mimebundle_(self, **kwargs: Any):
        # The live widget view, plus text and HTML for saved notebooks, nbviewer, GitHub
        # and nbval, which cannot run the JavaScript.
        out = super()._repr_mimebundle_(**kwargs)
        data, meta = out if isinstance(out, tuple) else (out or {}, {})
        data = dict(data)
        data["text/plain"] = repr(self)
        if self.diff:
            data["text/html"] = mark(render_html(visible_diff(self.diff), *_labels(self.a_label, self.b_label)), "diff")
        else:
            data["text/html"] = wrap("diff", "<pre>llmdebug diff (empty)</pre>")
        return data, meta


def _is_call(x: Any) -> bool:
    """An LLM call (a calls() row, a call's id or Span), not a trace (a trace id, a traces()
    row, a root or other non-LLM span)."""
    if hasattr(x, "columns") and hasattr(x, "iloc"):
        x = x.iloc[-1] if len(x) else x
    if isinstance(x, Span):
        return x.kind == "llm"
    if not isinstance(x, str) and hasattr(x, "get"):  # a row: traces() rows have no span id
        return x.get("id") is not None and x.get("kind", "llm") == "llm"
    return query.resolve_span(x, who="ld.diff()").kind == "llm"


def diff(a: Any, b: Any) -> Any:
    """The diff widget of two calls (Span records, span ids or unique prefixes, ``ld.calls()``
    rows; a DataFrame means its newest row), or of two traces (trace ids, ``ld.traces()``
    rows, the root span ``ld.replay_trace`` returns): spans aligned, totals side by side,
    a click on a call opens its call diff.

    Example::

        df = ld.calls()
        ld.diff(df.iloc[-2], df.iloc[-1])   # the last two calls
        ld.diff(trace_id, ld.replay_trace(trace_id, agent, question))
    """
    query.flush()
    calls = (_is_call(a), _is_call(b))
    if calls == (False, False):
        from .trace_diff import traces_widget

        return traces_widget(a, b)
    if calls != (True, True):
        raise TypeError("ld.diff() compares two calls or two traces, not a call with a trace: pass the call's "
                        "trace id (span.trace_id) or one of the trace's calls")
    return DiffView(diff_calls(query.resolve_span(a, who="ld.diff()"), query.resolve_span(b, who="ld.diff()")))
