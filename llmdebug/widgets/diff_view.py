"""The diff widget behind ``ld.diff(a, b)``: two calls side by side or unified, with
the system prompt, messages, tools, parameters and outputs compared part by part.

The comparison itself is :func:`llmdebug.diff.diff_calls` (pure Python); this widget
only syncs its JSON-safe dict to the browser, where every string is rendered as text,
never as HTML. Saved notebooks and terminals get :func:`llmdebug.diff.render_text`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import traitlets as t

from .. import query
from ..diff import diff_calls, render_html, render_text, resolve_call
from . import esm

_HERE = Path(__file__).parent
VIEWS = ("side", "unified")


class DiffView(anywidget.AnyWidget):
    """A diff of two calls. ``view`` switches between ``"side"`` (two columns) and
    ``"unified"`` (one column, deletions and insertions inline).

    Example::

        w = DiffView(diff_calls(original, replayed), a_label="original", b_label="replay")
        w.update(original, other)   # compare another pair in the same widget
    """

    _esm = esm("diff_view.js")
    _css = _HERE / "diff_view.css"

    diff = t.Dict().tag(sync=True)  # the dict of llmdebug.diff.diff_calls
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
        return render_text(self.diff, self.a_label, self.b_label)

    def _repr_mimebundle_(self, **kwargs: Any):
        # The live widget view, plus text and HTML for saved notebooks, nbviewer, GitHub
        # and nbval, which cannot run the JavaScript.
        out = super()._repr_mimebundle_(**kwargs)
        data, meta = out if isinstance(out, tuple) else (out or {}, {})
        data = dict(data)
        data["text/plain"] = repr(self)
        if self.diff:
            data["text/html"] = render_html(self.diff, self.a_label, self.b_label)
        else:
            data["text/html"] = "<pre>llmdebug diff (empty)</pre>"
        return data, meta


def diff(a: Any, b: Any) -> DiffView:
    """The diff widget of two calls: Span records, span ids (or unique prefixes), or
    ``ld.calls()`` rows (a DataFrame means its newest row).

    Example::

        df = ld.calls()
        ld.diff(df.iloc[-2], df.iloc[-1])   # the last two calls
        ld.diff(original, ld.last())
    """
    query.flush()
    return DiffView(diff_calls(resolve_call(a), resolve_call(b)))
