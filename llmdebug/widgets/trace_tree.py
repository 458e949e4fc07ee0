"""The trace-tree widget behind ``ld.show()``: a span tree on a shared timeline, a detail
pane, and a browser of recent traces.

Only span summaries are synced to the browser (strings interned, numbers rounded), as
positional rows whose column names the widget syncs too (``fields``: the JavaScript reads
them from there, never from a copy); a span's payload (messages, tool calls, raw JSON) is
loaded when it is selected. Every
string is rendered by the JavaScript as text, never as HTML, with bidi controls and
invisible characters drawn as ``⟨U+XXXX⟩`` (visible.py); the synced values stay real.
"""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets as t

from .. import query
from .. import formatting as fmt
from .._guard import report
from ..tracing import Span
from ..store.rows import from_iso
from . import SHARED_JS, css, esm, span_scores, static
from .detail import span_detail
from .text import TraceText
from .visible import visible_text

# One synced row per span, its columns in this order (synced as ``fields["rows"]``); the
# columns in ``STRING_FIELDS`` hold indices into ``strings``.
ROW_FIELDS = ["parent", "name", "kind", "model", "status", "start_ms", "latency_ms", "input_tokens",
              "output_tokens", "cost_usd", "retries", "rate_limit_hits", "error_type", "ttft_ms"]
STRING_FIELDS = ["name", "kind", "model", "status", "error_type"]
_SQL_COLS = ["id", "parent_id", "name", "kind", "model", "status", "started_at", "latency_ms", "input_tokens",
             "output_tokens", "cost_usd", "retries", "rate_limit_hits", "error_type", "ttft_ms", "ended_at", "error_message"]
# One row of the traces browser (synced as ``fields["traces"]``).
TRACE_FIELDS = ["trace_id", "name", "started_at", "duration_ms", "spans", "calls", "input_tokens",
                "output_tokens", "cost_usd", "errors", "retries", "status"]
BROWSER_LIMIT = 200
FALLBACK_SPANS = 300


def _round(v: Any, digits: int) -> Any:
    return None if v is None else round(float(v), digits)


class TraceTree(anywidget.AnyWidget):
    """A trace as a collapsible span tree and waterfall, with a lazily loaded detail pane."""

    _esm = esm("trace_tree.js", shared=(*SHARED_JS, "trace_scores.js"))
    _css = css("trace_tree.css")

    # the column names of the positional tables below ("rows", "traces"), and which row
    # columns are indices into ``strings`` ("rows_interned")
    fields = t.Dict().tag(sync=True)
    # the tree
    trace_id = t.Unicode("").tag(sync=True)  # set from the browser when a trace row is clicked
    title = t.Unicode("").tag(sync=True)
    strings = t.List().tag(sync=True)
    rows = t.List().tag(sync=True)  # parents before children (depth-first, by start time)
    total_ms = t.Float(0.0).tag(sync=True)
    # the detail pane: the browser sets ``selected``, Python answers with ``detail``
    selected = t.Int(-1).tag(sync=True)
    detail = t.Dict().tag(sync=True)
    # search inside the trace: names/models match in the browser; prompt and output text here
    query = t.Unicode("").tag(sync=True)
    text_matches = t.List().tag(sync=True)
    # the traces browser
    browser = t.Bool(False).tag(sync=True)
    filters = t.Dict().tag(sync=True)
    traces = t.List().tag(sync=True)  # newest first, one row of TRACE_FIELDS per trace
    message = t.Unicode("").tag(sync=True)
    # "Replay…" / "Compare with…" in the detail pane: {"kind": "replay", "index": i} or
    # {"kind": "compare", "a": i, "b": j}; the widget they open appears under the tree.
    # Feedback: {"kind": "feedback", "index": i, "thumbs", "score", "comment"}, answered in
    # ``feedback_reply``; a judge's call: {"kind": "open_span", "span_id": id}
    action = t.Dict().tag(sync=True)
    # the scores of the scored spans, {row index: {badge, tip, items}} (span_scores.synced)
    span_scores = t.Dict().tag(sync=True)
    feedback_reply = t.Dict().tag(sync=True)

    def __init__(self, trace_id: str | None = None, *, select: str | None = None, browser: bool = False):
        super().__init__(fields={"rows": list(ROW_FIELDS), "rows_interned": list(STRING_FIELDS),
                                 "traces": list(TRACE_FIELDS)})
        self.opened = None  # the last widget opened from the detail pane
        self._ids: list[str] = []
        self._rows_plain: list[dict] = []
        self.observe(self._on_trace_id, "trace_id")
        self.observe(self._on_selected, "selected")
        self.observe(self._on_query, "query")
        self.observe(self._on_browser, ["browser", "filters"])
        self.observe(self._on_action, "action")
        self._box = None
        self._out = None
        if browser:
            self.browser = True
        if trace_id:
            self.trace_id = trace_id
            if select and select in self._ids:
                self.selected = self._ids.index(select)

    # -- loading ------------------------------------------------------------------
    def _on_trace_id(self, change: dict) -> None:
        try:
            with self.hold_sync():  # one message: the title never arrives before its rows
                self._load(change["new"])
        except Exception:
            report("loading a trace into the widget")
            self.message = "llmdebug: could not load this trace (see the warning in the kernel log)"

    def _load(self, trace_id: str) -> None:
        self.selected = -1
        self.detail = {}
        self.text_matches = []
        if not trace_id:
            self._ids, self._rows_plain = [], []
            self.strings, self.rows, self.title, self.total_ms = [], [], "", 0.0
            self.span_scores = {}
            return
        query.flush()
        store = query.get_store()
        raw = store.read(f"SELECT {', '.join(_SQL_COLS)} FROM spans WHERE trace_id = ? "
                         "ORDER BY started_at, id", [trace_id])
        recs = [dict(zip(_SQL_COLS, r)) for r in raw]
        ordered = _depth_first(recs)
        starts = [from_iso(r["started_at"]) or 0.0 for r in ordered]
        t0 = min(starts, default=0.0)
        t1 = max((from_iso(r["ended_at"]) or st for r, st in zip(ordered, starts)), default=t0)
        index = {r["id"]: i for i, r in enumerate(ordered)}
        strings: dict[str, int] = {}

        def intern(v: Any) -> int | None:
            if v is None:
                return None
            return strings.setdefault(str(v), len(strings))

        rows = []
        for r, st in zip(ordered, starts):
            row = {
                "parent": index.get(r["parent_id"], -1), "start_ms": _round((st - t0) * 1000.0, 1),
                "latency_ms": _round(r["latency_ms"], 1), "input_tokens": r["input_tokens"],
                "output_tokens": r["output_tokens"], "cost_usd": _round(r["cost_usd"], 10),
                "retries": r["retries"] or 0, "rate_limit_hits": r["rate_limit_hits"] or 0,
                "ttft_ms": _round(r["ttft_ms"], 1),
            }
            for k in STRING_FIELDS:
                row[k] = intern(r[k])
            rows.append([row[k] for k in ROW_FIELDS])
        self._ids = [r["id"] for r in ordered]
        self._rows_plain = ordered
        by_span = span_scores.load(self._ids)
        for r in ordered:  # the text and HTML views list them too
            r["scores"] = by_span.get(r["id"])
        self.span_scores = span_scores.synced(self._ids, by_span)
        root = next((r for r in ordered if r["parent_id"] not in index), None)
        self.title = f"{root['name'] if root else 'trace'}"
        self.total_ms = round(max(t1 - t0, 0.0) * 1000.0, 1)
        self.strings = list(strings)
        self.rows = rows
        self.message = "" if rows else f"no spans in trace {trace_id[:12]}"

    def _on_selected(self, change: dict) -> None:
        i = change["new"]
        if not 0 <= i < len(self._ids):
            self.detail = {}
            return
        try:
            self._refresh_scores(i)  # scored in another cell since the tree was loaded
            d = span_detail(query.get(self._ids[i]))
        except KeyError as e:  # deleted since the tree was loaded, or another store opened
            d = {"load_error": f"could not load this span: {e.args[0] if e.args else e}"}
        except Exception as e:
            report("loading a span's detail")
            d = {"load_error": f"could not load this span: {type(e).__name__}: {e}"}
        d["index"] = i
        self.detail = d

    def _refresh_scores(self, i: int) -> None:
        sid = self._ids[i]
        items = span_scores.load([sid]).get(sid)
        self._rows_plain[i]["scores"] = items
        entry = span_scores.synced([sid], {sid: items} if items else {}).get("0")
        current = {k: v for k, v in self.span_scores.items() if k != str(i)}
        if entry:
            current[str(i)] = entry
        if current != self.span_scores:
            self.span_scores = current

    def _feedback(self, a: dict) -> None:
        """The detail pane's feedback form: store it, show it on the span, say what was saved."""
        i = int(a["index"])
        try:
            text, ok = span_scores.save(self._ids[i], a), True
        except (ValueError, KeyError) as e:  # a bad number, nothing chosen, a span deleted since
            text, ok = f"Not saved: {e.args[0] if e.args else e}", False
        except Exception as e:
            report("saving feedback from the trace tree")
            text, ok = f"Not saved: {type(e).__name__}: {e}", False
        self._refresh_scores(i)
        self.feedback_reply = {"index": i, "n": a.get("n"), "ok": ok, "text": text}

    def _judge_tree(self, span_id: str) -> "TraceTree | None":
        """A judge's call: selected here when it is in this trace, else its own tree (returned)."""
        if span_id in self._ids:
            self.selected = self._ids.index(span_id)
            return None
        trace_id, select = query.resolve_trace(span_id, who="the judge's call")
        return TraceTree(trace_id, select=select)

    def _on_query(self, change: dict) -> None:
        text = change["new"].strip()
        if not text or not self.trace_id:
            self.text_matches = []
            return
        # Each word a quoted prefix term: user text never becomes FTS syntax.
        terms = " ".join('"' + w.replace('"', '""') + '"*' for w in text.split())
        try:
            hits = query.search(terms, syntax="fts", trace_id=self.trace_id, limit=len(self._ids) or 1)
            where = {sid: i for i, sid in enumerate(self._ids)}
            self.text_matches = sorted(where[s] for s in hits["id"] if s in where)
        except Exception:
            self.text_matches = []
            report("searching the trace's text")

    def _on_browser(self, change: dict) -> None:
        if self.browser:
            self.refresh_traces()

    def refresh_traces(self) -> None:
        """Reload the traces browser's table with the current filters."""
        try:
            f = self.filters or {}
            ids = query.recent_trace_ids(name=str(f.get("name") or ""), status=str(f.get("status") or ""),
                                         model=str(f.get("model") or ""), since=f.get("since") or None,
                                         limit=BROWSER_LIMIT)
            rows = [dict(zip(query.TRACE_COLUMNS, r)) for r in query.trace_summaries(ids)]
            out = []
            for r in sorted(rows, key=lambda r: r["started_at"] or "", reverse=True):
                start, end = from_iso(r["started_at"]), from_iso(r["ended_at"])
                dur = None if start is None or end is None else round((end - start) * 1000.0, 1)
                row = dict(r, duration_ms=dur, cost_usd=_round(r["cost_usd"], 10),
                           status="error" if r["errors"] else "ok")
                out.append([row[k] for k in TRACE_FIELDS])
            self.traces = out
            if not out:
                self.message = "no traces match" if any(f.values()) else "no traces captured yet"
            elif self.message.startswith("no traces"):
                self.message = ""
        except Exception as e:
            report("listing traces")
            self.message = f"could not list traces: {type(e).__name__}: {e}"

    @property
    def actions(self):
        """The output area under the tree where Replay… and Compare with… open their widgets."""
        if self._out is None:
            import ipywidgets

            self._out = ipywidgets.Output()
        return self._out

    def _on_action(self, change: dict) -> None:
        a = change["new"] or {}
        if a.get("kind") == "make_test":
            self.message = make_test(self._ids[int(a["index"])], a.get("path"), a.get("expect"))
            return
        if a.get("kind") == "feedback":
            self._feedback(a)
            return
        out = self.actions
        try:
            if a.get("kind") == "replay":
                from .playground import Playground

                opened = Playground(self._ids[int(a["index"])])
            elif a.get("kind") == "compare":
                from .diff_view import diff

                opened = diff(self._ids[int(a["a"])], self._ids[int(a["b"])])
            elif a.get("kind") == "open_span":
                opened = self._judge_tree(str(a.get("span_id") or ""))
                if opened is None:
                    return
            else:
                return
        except Exception as e:  # e.g. a span that cannot be replayed: say so in place
            from ..replaying import ReplayError

            if not isinstance(e, (ReplayError, KeyError, IndexError)):
                report("opening a widget from the trace tree")
            self.message = f"{type(e).__name__}: {e}"
            return
        from IPython.display import display

        self.message = ""
        out.clear_output()
        with out:  # inside a comm message: the Output widget routes the display to itself
            display(opened)
        self.opened = opened

    # -- Python-side views ----------------------------------------------------------
    def span_rows(self) -> list[dict]:
        """The synced rows decoded back into dicts by their synced field names (what the browser draws)."""
        out = []
        for sid, row in zip(self._ids, self.rows):
            d = dict(zip(self.fields["rows"], row), id=sid)
            for k in self.fields["rows_interned"]:
                d[k] = None if d[k] is None else self.strings[d[k]]
            out.append(d)
        return out

    def trace_rows(self) -> list[dict]:
        """The traces browser's synced rows as dicts, newest first."""
        return [dict(zip(self.fields["traces"], row)) for row in self.traces]

    def _fallback(self) -> TraceText | None:
        if not self._rows_plain:
            return None
        rows, title = self._rows_plain, f"trace {self.trace_id[:12]} · {self.title}"
        if len(rows) > FALLBACK_SPANS:  # a saved notebook keeps this text: the first spans are enough
            title += f" · first {fmt.count(FALLBACK_SPANS)} of {fmt.count(len(rows))} spans"
            rows = rows[:FALLBACK_SPANS]
        return TraceText(rows, title)

    def __repr__(self) -> str:
        fb = self._fallback()
        if fb is not None:
            return repr(fb)
        if self.browser:
            return f"llmdebug traces: {len(self.traces)} recent" + "".join(
                f"\n  {'✗' if r['status'] == 'error' else '✓'} {visible_text(str(r['name']), label=True)} · "
                f"{fmt.timestamp(r['started_at'])} · {fmt.count(r['calls'] or 0)} calls"
                for r in self.trace_rows()[:20])
        return "llmdebug trace (empty)"

    def _repr_mimebundle_(self, **kwargs: Any):
        # The widget view for live front ends, plus text and HTML for saved notebooks,
        # nbviewer, GitHub and nbval, which cannot run the JavaScript.
        out = super()._repr_mimebundle_(**kwargs)
        data, meta = out if isinstance(out, tuple) else (out or {}, {})
        data = dict(data)
        view = data.get("application/vnd.jupyter.widget-view+json")
        if view:
            # The tree with its action area under it, as one output.
            import ipywidgets

            if self._box is None:
                self._box = ipywidgets.VBox([self, self.actions])
            data["application/vnd.jupyter.widget-view+json"] = dict(view, model_id=self._box.model_id)
        data["text/plain"] = repr(self)
        title = f"{self.title} · trace {self.trace_id[:12]}" if self.trace_id else self.title
        data["text/html"] = static.trace_view(self._rows_plain, title, self.trace_rows() if self.browser else None,
                                              self.message or repr(self))
        return data, meta


def make_test(span_id: str, path: Any, expect: Any) -> str:
    """"Make test…" of a detail pane or the playground: ld.to_test, and a line saying what happened."""
    from ..replaying import ReplayError
    from ..testgen import parse_expectations, to_test

    try:
        written = to_test(span_id, str(path or "").strip(), expect=parse_expectations(str(expect or "")))
    except (ValueError, OSError, ReplayError, KeyError) as e:  # bad path or expectation, file exists, no answer
        return f"Make test: {type(e).__name__}: {e}"
    return f"Wrote {written} and its cassette: run it with pytest -p llmdebug.testing {written}"


def _depth_first(recs: list[dict]) -> list[dict]:
    """Spans ordered parents first, siblings by start time; orphans become roots."""
    ids = {r["id"] for r in recs}
    children: dict[Any, list[dict]] = {}
    for r in recs:  # already in start order
        children.setdefault(r["parent_id"] if r["parent_id"] in ids else None, []).append(r)
    out: list[dict] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        r = stack.pop()
        out.append(r)
        stack.extend(reversed(children.get(r["id"], [])))
    return out


def show(x: Any = None) -> TraceTree:
    """The trace tree of a trace id, span id (or prefix), Span, or calls()/traces() row.

    With no argument: the browser of recent traces, with the newest trace open.
    """
    query.flush()
    if x is None:
        ids = query.recent_trace_ids(limit=1)
        return TraceTree(ids[0] if ids else None, browser=True)
    trace_id, select = query.resolve_trace(x, who="ld.show()")
    return TraceTree(trace_id, select=select)

