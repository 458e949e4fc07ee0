"""The trace diff behind ``ld.diff(trace_a, trace_b)``: spans of two traces aligned, with
totals side by side; a click on an aligned LLM call opens its call diff (:class:`DiffView`)
below. The comparison is :func:`llmdebug.diffing.alignment.diff_traces`; every string is
drawn as text. Saved notebooks get an escaped ``text/html`` table and ``text/plain``."""

from __future__ import annotations

import html
from typing import Any

import anywidget
import ipywidgets
import traitlets as t

from ..diffing import diff_calls
from ..diffing.alignment import TOTALS, diff_traces, render_trace_text
from .visible import visible_text
from . import css, esm
from .diff_view import DiffView


class TraceDiffTable(anywidget.AnyWidget):
    """The aligned spans and totals; ``selected`` is the row whose call diff is open (-1: none)."""

    _esm = esm("trace_diff.js")
    _css = css("trace_diff.css")

    tdiff = t.Dict().tag(sync=True)
    a_label = t.Unicode("A").tag(sync=True)
    b_label = t.Unicode("B").tag(sync=True)
    selected = t.Int(-1).tag(sync=True)


class TraceDiff(ipywidgets.VBox):
    """Two traces compared: the table, and the call diff of the selected pair."""

    def __init__(self, d: dict, a_label: str = "A", b_label: str = "B"):
        self.table = TraceDiffTable(tdiff=d, a_label=a_label, b_label=b_label)
        self.calls = DiffView(a_label=a_label, b_label=b_label)
        self.calls.layout.display = "none"
        super().__init__([self.table, self.calls])
        self.table.observe(self._open, "selected")

    @property
    def diff(self) -> dict:
        return self.table.tdiff

    def select(self, index: int) -> None:
        """Open the call diff of row ``index`` (what a click does)."""
        self.table.selected = index

    def _open(self, change: dict) -> None:
        rows = self.diff.get("rows", [])
        i = change["new"]
        if not 0 <= i < len(rows) or rows[i]["a"] is None or rows[i]["b"] is None or rows[i]["kind"] != "llm":
            self.calls.layout.display = "none"
            return
        self.calls.diff = diff_calls(rows[i]["a"]["id"], rows[i]["b"]["id"])
        self.calls.layout.display = None

    def __repr__(self) -> str:
        return visible_text(render_trace_text(self.diff, self.table.a_label, self.table.b_label), label=False)

    def _repr_mimebundle_(self, **kwargs: Any):
        out = super()._repr_mimebundle_(**kwargs)
        data, meta = out if isinstance(out, tuple) else (out or {}, {})
        data = dict(data)
        data["text/plain"] = repr(self)
        data["text/html"] = render_trace_html(self.diff, self.table.a_label, self.table.b_label)
        return data, meta


def render_trace_html(d: dict, a_label: str = "A", b_label: str = "B") -> str:
    """The static trace diff: every value escaped."""
    e = lambda v: html.escape(visible_text("" if v is None else str(v), label=False))  # noqa: E731
    a, b = d["a"], d["b"]
    head = (f"<tr><th></th><th>{e(a_label)}: {e(a['name'])} {e(a['trace_id'][:12])}</th>"
            f"<th>{e(b_label)}: {e(b['name'])} {e(b['trace_id'][:12])}</th></tr>")
    totals = "".join(f"<tr><td>{e(f)}</td><td>{e(a[f])}</td><td>{e(b[f])}</td></tr>" for f in TOTALS)
    rows = []
    for r in d["rows"]:
        cells = []
        for side in (r["a"], r["b"]):
            cells.append("" if side is None else
                         f"{e(side.get('model') or '')} {e(side['status'])} {e(side.get('output') or '')[:200]}")
        rows.append(f"<tr class='ldtd-{e(r['op'])}'><td>{e(r['op'])}</td>"
                    f"<td style='padding-left:{int(r['depth']) * 12}px'>{e(r['kind'])} {e(r['name'])}</td>"
                    f"<td>{cells[0]}</td><td>{cells[1]}</td><td>{e(', '.join(r['changes']))}</td></tr>")
    return (f"<div class='llmdebug-trace-diff'><table>{head}{totals}</table>"
            f"<table><tr><th>op</th><th>span</th><th>{e(a_label)}</th><th>{e(b_label)}</th><th>changed</th></tr>"
            + "".join(rows) + "</table></div>")


def traces_widget(a: Any, b: Any, a_label: str = "A", b_label: str = "B") -> TraceDiff:
    """The trace diff widget of two traces."""
    return TraceDiff(diff_traces(a, b), a_label, b_label)
