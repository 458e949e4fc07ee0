"""Static HTML views of the widgets: the ``text/html`` beside each live widget view.

It is what a notebook shows without a kernel or a widget manager: nbconvert's HTML,
nbviewer, GitHub, VS Code's viewer, JupyterLab opening a notebook it does not trust.
JupyterLab's sanitizer (untrusted notebooks) drops ``<style>`` and ``<svg>``, so only
plain tags with inline styles are used, and a chart is an ``<img>`` of its SVG (rendered
offline by vl-convert) as a data URL. Every string from a prompt, response or name goes
through :func:`visible_text` (bidi and invisible characters as ``⟨U+XXXX⟩``), then
``html.escape``. Each view's outer element has the class :data:`MARK`; the nbconvert
preprocessor (``llmdebug.widgets.nbconvert``) looks for it.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote

from .. import formatting as fmt
from ..store.rows import from_iso
from . import span_scores
from .visible import visible_text

MARK = "llmdebug-static"
TREE_CAP = 200  # spans drawn in a saved tree; the rest is counted
TRACES_CAP = 20  # rows of the recent-traces table
SCORES_CAP = 5  # scores listed under a span in a saved tree
CHART_WIDTH = 460  # for specs whose width is "container" (the dashboard's)
_RED, _AMBER, _GREEN, _BLUE = "#d62728", "#e8a33d", "#2ca02c", "#4c78a8"
_KIND_COLOR = {"llm": _BLUE, "tool": "#9467bd", "retrieval": "#17becf", "agent": "#8c564b", "embedding": "#bcbd22"}
_TABLE = ('<table style="border-collapse:collapse;font-size:12px;line-height:1.35;width:100%;'
          'table-layout:auto;margin:0">')
_TD = "padding:1px 6px;text-align:right;white-space:nowrap"


def label(v: Any) -> str:
    """A name, model, kind...: every bidi/invisible character shown, then escaped."""
    return html.escape(visible_text(str(v), label=True))


def content(v: Any) -> str:
    """Prompt, output or error text: the content rule of visible.py, then escaped."""
    return html.escape(visible_text(str(v)))


def _wrap(kind: str, body: str) -> str:
    return f'<div class="{MARK} {MARK}-{kind}" style="max-width:100%;overflow-x:auto">{body}</div>'


def _num(v: Any) -> float | None:
    n = fmt.number(v)
    return None if n is None or n != n else n


# -- trace tree -------------------------------------------------------------------------

def _depths(rows: list[dict]) -> list[int]:
    index = {r["id"]: i for i, r in enumerate(rows)}
    depth: list[int] = []
    for r in rows:  # parents come first (depth-first order)
        p = index.get(r.get("parent_id"))
        depth.append(depth[p] + 1 if p is not None and p < len(depth) else 0)
    return depth


def _error_inside(rows: list[dict]) -> set:
    by_id = {r["id"]: r for r in rows}
    out: set = set()
    for r in rows:
        if r.get("status") == "error":
            p = by_id.get(r.get("parent_id"))
            while p is not None and p["id"] not in out:
                out.add(p["id"])
                p = by_id.get(p.get("parent_id"))
    return out


def tree_html(rows: list[dict], title: str, *, cap: int = TREE_CAP) -> str:
    """A trace's spans (depth-first stored rows) as an indented table with waterfall bars."""
    starts = [from_iso(r.get("started_at")) or 0.0 for r in rows]
    t0 = min(starts, default=0.0)
    ends = [(from_iso(r.get("ended_at")) or s) for r, s in zip(rows, starts)]
    total_ms = max(max(ends, default=t0) - t0, 0.0) * 1000.0
    depth, inside = _depths(rows), _error_inside(rows)
    calls = [r for r in rows if r.get("kind") == "llm"]
    tin = sum(int(_num(r.get("input_tokens")) or 0) for r in calls)
    tout = sum(int(_num(r.get("output_tokens")) or 0) for r in calls)
    costs = [c for c in (_num(r.get("cost_usd")) for r in calls) if c is not None]
    errors = sum(1 for r in rows if r.get("status") == "error")
    head = [f"<b>{label(title)}</b>", f"{fmt.count(len(rows))} span{'s' if len(rows) != 1 else ''}",
            f"{fmt.count(len(calls))} LLM call{'s' if len(calls) != 1 else ''}", fmt.duration(total_ms)]
    if tin or tout:
        head.append(f"{fmt.tokens(tin, tout)} tokens")
    if costs:
        head.append(fmt.cost(sum(costs)))
    if errors:
        head.append(f'<span style="color:{_RED}">{fmt.count(errors)} error{"s" if errors != 1 else ""}</span>')
    out = [f'<div style="margin:2px 0 4px">{" · ".join(head)}</div>', _TABLE,
           '<tr style="opacity:.65"><th style="text-align:left;padding:1px 6px">span</th>'
           '<th style="text-align:left;padding:1px 6px">model</th><th style="' + _TD + '">latency</th>'
           '<th style="' + _TD + '">tokens in→out</th><th style="' + _TD + '">cost</th>'
           '<th style="text-align:left;padding:1px 6px;width:30%">timeline</th></tr>']
    scale = 100.0 / total_ms if total_ms > 0 else 0.0
    for i, r in enumerate(rows[:cap]):
        out.append(_span_row(r, depth[i], r["id"] in inside, (starts[i] - t0) * 1000.0 * scale,
                             (_num(r.get("latency_ms")) or 0.0) * scale))
    out.append("</table>")
    if len(rows) > cap:
        out.append(f'<div style="opacity:.7">… first {fmt.count(cap)} of {fmt.count(len(rows))} spans shown '
                   "(the live widget and <code>ld.show()</code> have them all)</div>")
    return "".join(out)


def _span_row(r: dict, depth: int, error_inside: bool, left: float, width: float) -> str:
    # One row per span, up to TREE_CAP of them in every saved notebook: attribute values
    # without spaces are left unquoted (JSON would escape each quote), numbers are right
    # aligned by the front ends' own table style.
    status = r.get("status") or "ok"
    retried = (_num(r.get("retries")) or 0) > 0 or (_num(r.get("rate_limit_hits")) or 0) > 0
    icon = (f"<span style=color:{_RED}>✗</span>" if status == "error"
            else f"<span style=color:{_AMBER}>↻</span>" if retried else "✓")
    kind = r.get("kind") or ""
    name = f'{icon} <small style=opacity:.7>{label(kind)}</small> {label(r.get("name") or "")}'
    if error_inside and status != "error":
        name += f" <small style=color:{_RED}>● error inside</small>"
    if r.get("scores"):  # the badge, and every score in its tooltip
        name += (f' <small title="{html.escape(span_scores.tooltip(r["scores"]))}" style="padding:0 4px;'
                 f'border:1px solid rgba(127,127,127,.45);border-radius:8px">{html.escape(span_scores.badge(r["scores"]))}'
                 "</small>")
    lat = _num(r.get("latency_ms"))
    tin, tout = _num(r.get("input_tokens")), _num(r.get("output_tokens"))
    cost = _num(r.get("cost_usd"))
    color = _RED if status == "error" else _AMBER if retried else _KIND_COLOR.get(kind, "#7f7f7f")
    left, width = min(max(left, 0.0), 100.0), min(max(width, 0.0), 100.0 - min(max(left, 0.0), 100.0))
    row = (f"<tr><td style=text-align:left;white-space:nowrap;padding-left:{6 + 14 * depth}px>{name}</td>"
           f"<td style=text-align:left>{label(r['model']) if r.get('model') else ''}</td>"
           f"<td>{fmt.duration(lat) if lat is not None else ''}</td>"
           f"<td>{fmt.tokens(tin, tout) if tin is not None or tout is not None else ''}</td>"
           f"<td>{fmt.cost(cost) if cost is not None else ''}</td>"
           f"<td><div style=margin-left:{left:.1f}%;width:{width:.1f}%;min-width:2px;height:8px;background:{color}>"
           "</div></td></tr>")
    if status == "error":
        msg = str(r.get("error_message") or "")
        msg = msg if len(msg) <= 300 else msg[:300] + "…"
        row += (f'<tr><td colspan=6 style="text-align:left;white-space:pre-wrap;color:{_RED};'
                f'padding-left:{20 + 14 * depth}px">{label(r.get("error_type") or "error")}: {content(msg)}</td></tr>')
    if r.get("scores"):
        items = r["scores"]
        lines = [html.escape(span_scores.describe(sc)) for sc in items[:SCORES_CAP]]
        if len(items) > SCORES_CAP:
            lines.append(f"… {fmt.count(len(items) - SCORES_CAP)} more")
        row += (f'<tr><td colspan=6 style="text-align:left;white-space:pre-wrap;opacity:.8;font-size:11px;'
                f'padding-left:{20 + 14 * depth}px">{"<br>".join(lines)}</td></tr>')
    return row


def traces_html(traces: list[dict], cap: int = TRACES_CAP) -> str:
    """The recent-traces table (rows of trace_tree.TRACE_FIELDS as dicts, newest first)."""
    out = [f'<div style="margin:2px 0"><b>Recent traces</b> · {fmt.count(len(traces))}'
           + (f" (newest {fmt.count(cap)} shown)" if len(traces) > cap else "") + "</div>", _TABLE,
           '<tr style="opacity:.65"><th style="text-align:left;padding:1px 6px">trace</th>'
           '<th style="text-align:left;padding:1px 6px">started</th><th style="' + _TD + '">duration</th>'
           f'<th style="{_TD}">calls</th><th style="{_TD}">tokens in→out</th><th style="{_TD}">cost</th></tr>']
    for t in traces[:cap]:
        icon = f'<span style="color:{_RED}">✗</span>' if t.get("status") == "error" else \
            f'<span style="color:{_GREEN}">✓</span>'
        cost = _num(t.get("cost_usd"))
        out.append(f'<tr><td style="text-align:left;padding:1px 6px;white-space:nowrap">{icon} {label(t.get("name") or "")}</td>'
                   f'<td style="text-align:left;padding:1px 6px;white-space:nowrap">{html.escape(fmt.timestamp(t.get("started_at")))}</td>'
                   f'<td style="{_TD}">{fmt.duration(t.get("duration_ms"))}</td>'
                   f'<td style="{_TD}">{fmt.count(t.get("calls") or 0)}</td>'
                   f'<td style="{_TD}">{fmt.tokens(t.get("input_tokens"), t.get("output_tokens"))}</td>'
                   f'<td style="{_TD}">{fmt.cost(cost) if cost is not None else ""}</td></tr>')
    out.append("</table>")
    return "".join(out)


def trace_view(rows: list[dict] | None, title: str, traces: list[dict] | None = None, message: str = "") -> str:
    """The static view of a TraceTree: the recent traces (browser mode), then the open tree."""
    parts = []
    if traces:
        parts.append(traces_html(traces))
    if rows:
        parts.append(tree_html(rows, title))
    if not parts:
        parts.append(f"<pre>{content(message or 'llmdebug trace (empty)')}</pre>")
    return _wrap("tree", '<div style="height:6px"></div>'.join(parts))


# -- charts -------------------------------------------------------------------------------

_GEOMETRY = re.compile(r'\s(d|transform|x|y|x1|x2|y1|y2|width|height|points)="([^"]*)"')
_FLOAT = re.compile(r"-?\d+\.\d+(?:e-?\d+)?")
_NOISE = re.compile(r'\s(?:role|aria-[a-z]+|pointer-events)="[^"]*"')


def _round(m: re.Match) -> str:
    v = round(float(m.group()), 1)
    return str(int(v)) if v == int(v) else str(v)


def _compact(svg: str) -> str:
    # a tenth of a pixel is invisible; Vega writes 15 digits
    svg = _GEOMETRY.sub(lambda m: f' {m.group(1)}="{_FLOAT.sub(_round, m.group(2))}"', svg)
    return _NOISE.sub("", svg)


def _fixed_width(spec: Any, width: int) -> Any:
    if isinstance(spec, dict):
        out = {k: _fixed_width(v, width) for k, v in spec.items()}
        if out.get("width") == "container":
            out["width"] = width
        if out.get("height") == "container":
            out["height"] = 220
        return out
    if isinstance(spec, list):
        return [_fixed_width(v, width) for v in spec]
    return spec


def chart_svg(spec: dict, width: int = CHART_WIDTH) -> str:
    """A Vega-Lite spec as SVG text, rendered offline by vl-convert (no browser, no network)."""
    import vl_convert as vlc  # imported on first use: ~50 MB of Deno runtime

    spec = _fixed_width(spec, width)
    config = dict(spec.get("config") or {})
    config.setdefault("aria", False)  # no aria-label per mark: half the bytes of a bar chart
    spec["config"] = config
    return _compact(vlc.vegalite_to_svg(spec))


def svg_img(svg: str, alt: str) -> str:
    """An <img> of ``svg`` as a data URL (kept by every sanitizer that keeps images)."""
    # percent-encode only what would break the URL or the attribute: the rest stays readable
    data = quote(svg, safe=" !$'()*+,-./:;=?@[]^_`{|}~<>")
    return f'<img alt="{html.escape(alt)}" style="max-width:100%;height:auto;margin:0" src="data:image/svg+xml,{data}">'


def chart_html(spec: dict, *, width: int = CHART_WIDTH) -> str:
    """A chart's static view: its SVG picture, or its text description if it cannot be drawn."""
    from .vega import describe_spec

    text = describe_spec(spec)
    if not spec:
        return _wrap("chart", f"<pre>{html.escape(text)}</pre>")
    try:
        svg = chart_svg(spec, width)
    except Exception as e:  # vl-convert missing or the spec invalid: the text still says what it was
        return _wrap("chart", f"<pre>{html.escape(text)}\n(no picture: {content(type(e).__name__)}: "
                              f"{content(str(e)[:200])})</pre>")
    return _wrap("chart", svg_img(svg, text.splitlines()[0]))


# -- dashboard ------------------------------------------------------------------------------

def _stat(name: str, value: str, color: str = "") -> str:
    c = f";color:{color}" if color else ""
    return (f'<div style="padding:4px 10px;border:1px solid rgba(127,127,127,.35);border-radius:4px">'
            f'<div style="font-size:11px;opacity:.7">{name}</div><div style="font-size:15px;font-weight:600{c}">{value}</div></div>')


def dashboard_html(summary: dict, specs: dict, filters: dict, message: str = "",
                   rows: dict[str, tuple[dict, str]] | None = None) -> str:
    """The dashboard's static view: the filters, the headline numbers, every chart's picture,
    then each of ``rows`` ({title: (specs, note)}): its title, and its pictures or (a row
    with nothing to draw) its note."""
    shown = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    head = "<b>llmdebug dashboard</b>" + (" · " + ", ".join(f"{label(k)}={label(v)}" for k, v in shown.items())
                                          if shown else " · all calls")
    parts = [f'<div style="margin:2px 0 4px">{head}</div>']
    if summary:
        s = summary
        cost = fmt.cost(s["cost_usd"]) if s.get("cost_usd") is not None else "unknown"
        rate = s.get("error_rate") or 0
        stats = [_stat("calls", fmt.count(s.get("calls") or 0)), _stat("cost", cost),
                 _stat("error rate", fmt.percent(rate), _RED if rate else ""),
                 _stat("rate-limit hits", fmt.count(s.get("rate_limit_hits") or 0),
                       _AMBER if s.get("rate_limit_hits") else ""),
                 _stat("latency p50 / p95 / p99", " / ".join(fmt.duration(s.get(k)) for k in
                                                             ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms"))),
                 _stat("tokens in → out", fmt.tokens(s.get("input_tokens"), s.get("output_tokens")))]
        parts.append(f'<div style="display:flex;flex-wrap:wrap;gap:6px;margin-bottom:6px">{"".join(stats)}</div>')
    else:
        parts.append(f"<div>{content(message or 'no LLM calls match these filters')}</div>")
    if summary:
        parts.append(f'<div>{"".join(_pictures(specs))}</div>')
    for title, (row_specs, note) in (rows or {}).items():
        parts.append(f'<div style="margin:8px 0 4px;font-weight:600">{content(title)}</div>')
        parts.append(f"<div>{content(note)}</div>" if note else f'<div>{"".join(_pictures(row_specs))}</div>')
    return _wrap("dashboard", "".join(parts))


def _pictures(specs: dict) -> list[str]:
    # inline blocks, not flex items: JupyterLab's sanitizer keeps these styles
    return [f'<div style="display:inline-block;vertical-align:top;width:{CHART_WIDTH + 80}px;max-width:100%;'
            f'margin:0 8px 8px 0">{chart_html(spec)}</div>' for spec in specs.values() if spec]


def pre(text: str, kind: str) -> str:
    """Already-visible text (a widget's repr) as an escaped <pre>."""
    return _wrap(kind, f'<pre style="white-space:pre-wrap;margin:0">{html.escape(text)}</pre>')


def mark(page: str, kind: str) -> str:
    """``page`` (escaped HTML whose first element has a class) with the static-view classes added."""
    head, sep, rest = page.partition('class="')
    cls, q, tail = rest.partition('"')
    return f'{head}{sep}{cls} {MARK} {MARK}-{kind}{q}{tail}' if sep and q else wrap(kind, page)


def wrap(kind: str, body: str) -> str:
    """``body`` (already escaped HTML) inside the marked outer element."""
    return _wrap(kind, body)
