"""The comparison widget behind ``ld.compare(experiment)``: per variant the mean scores
with 95% intervals (paired bootstrap over items), cost, tokens, latency p50/p95 and
errors; per pair the score differences; per item the variants' outputs side by side,
sortable by how much the variants disagree, with the diff of two variants one click away.

The numbers are :func:`llmdebug.evaluation.comparing.summarise` (pure Python). A click on
an item's "diff" asks Python for the word diff of the two outputs
(:func:`llmdebug.diffing.word_diff`) and, when both runs made LLM calls, opens the call
diff (:class:`DiffView`) of their last calls below. Every string is drawn as text.
Saved notebooks get an escaped ``text/html`` view and a ``text/plain`` table.
"""

from __future__ import annotations

import html
from typing import Any

import anywidget
import ipywidgets
import traitlets as t

from .. import formatting as fmt
from ..diffing import diff_calls, word_diff
from ..evaluation.comparing import frame_of, summarise
from ..session import get_store
from . import css, esm
from .diff_view import DiffView
from .static import content, label, wrap
from .visible import visible_text

__all__ = ["compare", "Comparison", "ComparisonTable"]

SORTS = ("item", "disagreement")
STATIC_ITEMS = 50  # items drawn in a saved notebook; the rest are counted
_STATIC_OUTPUT = 400


class ComparisonTable(anywidget.AnyWidget):
    """The summary and the items; ``selected`` is the item whose diff is open ("" none),
    ``pair`` the two variants compared, ``sort`` the items' order."""

    _esm = esm("comparison.js")
    _css = css("comparison.css")

    summary = t.Dict().tag(sync=True)  # summarise() without its items
    items = t.List().tag(sync=True)
    sort = t.Enum(SORTS, default_value="item").tag(sync=True)
    pair = t.List(t.Unicode()).tag(sync=True)
    selected = t.Unicode("").tag(sync=True)
    item_diff = t.Dict().tag(sync=True)  # {"item_id", "a", "b", "a_text", "b_text", "segments", "calls"}


def _last_call(item_span: str | None) -> str | None:
    """The last LLM call made under an item's span (any depth), or None."""
    if not item_span:
        return None
    rows = get_store().read(
        "WITH RECURSIVE under(id) AS (SELECT id FROM spans WHERE parent_id = ? "
        "UNION ALL SELECT s.id FROM spans s JOIN under u ON s.parent_id = u.id) "
        "SELECT s.id FROM spans s JOIN under u ON s.id = u.id WHERE s.kind = 'llm' "
        "ORDER BY s.started_at DESC, s.id DESC LIMIT 1", [item_span])
    return rows[0][0] if rows else None


def sorted_items(items: list[dict], sort: str) -> list[dict]:
    """The items in the widget's order: dataset order, or the largest disagreement first."""
    if sort == "disagreement":
        return sorted(items, key=lambda it: (-it["spread"], it["position"]))
    return sorted(items, key=lambda it: it["position"])


class Comparison(ipywidgets.VBox):
    """An experiment's comparison: the table, and the call diff of the selected item."""

    def __init__(self, summary: dict):
        items = summary.pop("items")
        names = [v["name"] for v in summary["variants"]]
        pair = (names[:2] if len(names) >= 2 else names * 2) if names else []
        self.table = ComparisonTable(summary=summary, items=items, pair=pair)
        self.calls = DiffView(a_label=pair[0] if pair else "A", b_label=pair[1] if pair else "B")
        self.calls.layout.display = "none"
        super().__init__([self.table, self.calls])
        self.table.observe(self._open, ["selected", "pair"])

    @property
    def summary(self) -> dict:
        return self.table.summary

    @property
    def items(self) -> list[dict]:
        return self.table.items

    def select(self, item_id: str, a: str | None = None, b: str | None = None) -> None:
        """Open the diff of ``item_id`` between variants ``a`` and ``b`` (what a click does)."""
        if a is not None or b is not None:
            self.table.pair = [a or self.table.pair[0], b or self.table.pair[1]]
        self.table.selected = item_id

    def sort_by(self, sort: str) -> None:
        """Order the items: ``"item"`` (dataset order) or ``"disagreement"`` (largest first)."""
        self.table.sort = sort

    def _open(self, change: dict | None = None) -> None:
        iid, pair = self.table.selected, list(self.table.pair)
        item = next((it for it in self.items if it["item_id"] == iid), None)
        if item is None or len(pair) != 2:
            self.table.item_diff = {}
            self.calls.layout.display = "none"
            return
        outs = {o["variant"]: o for o in item["outputs"]}
        a, b = outs.get(pair[0]), outs.get(pair[1])
        if a is None or b is None:
            self.table.item_diff = {}
            self.calls.layout.display = "none"
            return
        a_text = a["output"] if not a["error"] else f"error: {a['error']}"
        b_text = b["output"] if not b["error"] else f"error: {b['error']}"
        calls = [_last_call(a["span_id"]), _last_call(b["span_id"])]
        has_calls = all(calls) and calls[0] != calls[1]
        self.table.item_diff = {"item_id": iid, "a": pair[0], "b": pair[1], "a_text": a_text, "b_text": b_text,
                                "segments": word_diff(a_text, b_text), "calls": has_calls}
        if has_calls:
            self.calls.a_label, self.calls.b_label = pair
            self.calls.diff = diff_calls(calls[0], calls[1])
            self.calls.layout.display = None
        else:
            self.calls.layout.display = "none"

    def __repr__(self) -> str:
        return render_text(self.summary, self.items, self.table.sort)

    def _repr_mimebundle_(self, **kwargs: Any):
        # The live widget view, plus text and HTML for saved notebooks, nbviewer, GitHub and
        # nbval, which cannot run the JavaScript.
        out = super()._repr_mimebundle_(**kwargs)
        data, meta = out if isinstance(out, tuple) else (out or {}, {})
        data = dict(data)
        data["text/plain"] = repr(self)
        data["text/html"] = render_html(self.summary, self.items, self.table.sort)
        return data, meta


# -- text and static HTML -------------------------------------------------------------------

def _score(s: dict | None) -> str:
    if not s or s.get("mean") is None:
        return fmt.MISSING
    if s.get("low") is None:
        return f"{s['mean']:.2f}"
    return f"{s['mean']:.2f} [{s['low']:.2f}, {s['high']:.2f}]"


def _labels(counts: dict | None) -> str:
    return ", ".join(f"{k} {fmt.count(n)}" for k, n in (counts or {}).items()) or fmt.MISSING


def _score_cells(v: dict, summary: dict) -> list[str]:
    return [_score(v["scores"].get(s)) if s in summary["numeric_scores"] else _labels(v["labels"].get(s))
            for s in summary["scores"]]


def _title(summary: dict, n_items: int) -> str:
    bits = [f"llmdebug comparison: {summary.get('name') or 'experiment'}"]
    if summary.get("dataset"):
        bits.append(f"dataset {summary['dataset']} v{summary.get('dataset_version')}")
    bits.append(f"{fmt.count(n_items)} items, {fmt.count(len(summary['variants']))} variants")
    if summary.get("experiment_id"):
        bits.append(f"experiment {summary['experiment_id'][:12]}")
    return " · ".join(bits)


_STATS_HEAD = ["items", "errors", "cost", "tokens in→out", "latency p50 / p95"]


def _stats(v: dict) -> list[str]:
    return [fmt.count(v["items"]), fmt.count(v["errors"]), fmt.cost(v["cost_usd"]),
            fmt.tokens(v["input_tokens"], v["output_tokens"]),
            f"{fmt.duration(v['latency_p50_ms'])} / {fmt.duration(v['latency_p95_ms'])}"]


def _pair_line(p: dict) -> str:
    if p["diff"] is None:
        return f"{p['a']} − {p['b']}: {p['score']} {fmt.MISSING}"
    ci = f" [{p['low']:+.2f}, {p['high']:+.2f}]" if p["low"] is not None else ""
    better = f", {p['a']} higher in {fmt.percent(p['a_better'], 0)} of resamples" if p["a_better"] is not None else ""
    return f"{p['a']} − {p['b']}: {p['score']} {p['diff']:+.2f}{ci}{better}"


def render_text(summary: dict, items: list[dict], sort: str = "item") -> str:
    """The comparison as plain text: the variants table, the pairs, the items in order."""
    head = ["variant", *summary["scores"], *_STATS_HEAD]
    rows = [[v["name"], *_score_cells(v, summary), *_stats(v)] for v in summary["variants"]]
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    lines = [_title(summary, len(items)), ""]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head, *rows]]
    if summary["pairs"]:
        lines += ["", *(_pair_line(p) for p in summary["pairs"])]
    if summary["numeric_scores"]:
        lines.append(f"(means with 95% intervals, paired bootstrap over items, {fmt.count(summary['resamples'])} "
                     "resamples)")
    order = sorted_items(items, sort)
    lines += ["", "items" + (" (largest disagreement first)" if sort == "disagreement" else "") + ":"]
    for it in order[:10]:
        outs = "; ".join(f"{o['variant']}: " + ((o["error"] and f"error {o['error']}") or o["output"])[:60]
                         for o in it["outputs"])
        lines.append(f"  {it['item_id'][:16]:<16}  spread {it['spread']:.2f}  {outs}")
    if len(order) > 10:
        lines.append(f"  … {fmt.count(len(order) - 10)} more")
    return visible_text("\n".join(lines))


_TH = 'style="text-align:left;padding:2px 6px;white-space:nowrap"'
_TD = 'style="text-align:left;padding:2px 6px;vertical-align:top"'
_TDN = 'style="text-align:right;padding:2px 6px;vertical-align:top;white-space:nowrap"'
_TABLE = '<table style="border-collapse:collapse;font-size:12px;line-height:1.35;margin:4px 0">'


def _clip(text: str, n: int = _STATIC_OUTPUT) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def render_html(summary: dict, items: list[dict], sort: str = "item") -> str:
    """The static view: the variants table, the pairs, then the items with every output."""
    parts = [f'<div style="margin:2px 0 4px"><b>{label(_title(summary, len(items)))}</b></div>', _TABLE,
             "<tr>" + "".join(f"<th {_TH}>{label(h)}</th>" for h in ["variant", *summary["scores"], *_STATS_HEAD])
             + "</tr>"]
    for v in summary["variants"]:
        cells = [f"<td {_TD}><b>{label(v['name'])}</b></td>"]
        cells += [f"<td {_TDN}>{html.escape(c)}</td>" for c in _score_cells(v, summary)]
        cells += [f"<td {_TDN}>{html.escape(c)}</td>" for c in _stats(v)]
        parts.append("<tr style=\"border-top:1px solid rgba(127,127,127,.35)\">" + "".join(cells) + "</tr>")
    parts.append("</table>")
    if summary["pairs"]:
        parts.append("<div>" + "<br>".join(content(_pair_line(p)) for p in summary["pairs"]) + "</div>")
    if summary["numeric_scores"]:
        parts.append(f'<div style="opacity:.7;font-size:11px">means with 95% intervals: paired bootstrap over '
                     f'items, {fmt.count(summary["resamples"])} resamples</div>')
    order = sorted_items(items, sort)
    names = [v["name"] for v in summary["variants"]]
    parts += [f'<div style="margin-top:6px"><b>items</b>'
              f'{" · largest disagreement first" if sort == "disagreement" else ""}</div>', _TABLE,
              "<tr>" + "".join(f"<th {_TH}>{label(h)}</th>" for h in ["item", "expected", *names, "spread"])
              + "</tr>"]
    for it in order[:STATIC_ITEMS]:
        cells = [f"<td {_TD}><code>{label(it['item_id'][:12])}</code><br>{content(_clip(it['input'], 200))}</td>",
                 f"<td {_TD}>{content(_clip(it['expected'], 200))}</td>"]
        for o in it["outputs"]:
            scores = " · ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                                for k, v in o["scores"].items() if v is not None)
            body = (f'<span style="color:#d62728">{content(o["error"])}</span>' if o["error"]
                    else content(_clip(o["output"])))
            cells.append(f'<td {_TD}><div style="white-space:pre-wrap">{body}</div>'
                         f'<div style="opacity:.7;font-size:11px">{content(scores)}</div></td>')
        cells.append(f"<td {_TDN}>{it['spread']:.2f}</td>")
        parts.append("<tr style=\"border-top:1px solid rgba(127,127,127,.35)\">" + "".join(cells) + "</tr>")
    parts.append("</table>")
    if len(order) > STATIC_ITEMS:
        parts.append(f'<div style="opacity:.7">… first {fmt.count(STATIC_ITEMS)} of {fmt.count(len(order))} items '
                     "shown (the live widget has them all)</div>")
    return wrap("comparison", "".join(parts))


def compare(experiment: Any = None) -> Comparison:
    """The comparison widget of an experiment: the DataFrame ``ld.experiment`` returned, an
    experiment id (or unique prefix), or None for the latest experiment.

    Example::

        df = ld.experiment(ds, {"terse": ..., "grounded": ...}, [ld.scorers.contains_expected()])
        w = ld.compare(df)
        w.sort_by("disagreement")        # what the "most disagreement" button does
        w.select(df.item_id[0])          # what an item's "diff" button does
    """
    return Comparison(summarise(frame_of(experiment)))
