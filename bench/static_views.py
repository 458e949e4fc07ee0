"""Bytes the static views add to a saved notebook, per trace tree of N spans and per chart.

Every widget output carries ``text/html`` (and ``text/plain``) beside its widget view, so
that saved and exported notebooks show it (llmdebug/widgets/static.py). This measures, in a
temp store against the built-in fake LLM server:

- trace trees of N spans (nested agent → step → leaves; one leaf in four a real ``openai``
  call, one in forty of those failing): the ``text/html`` and ``text/plain`` of
  ``ld.show(trace_id)`` as they are written into the .ipynb (JSON-encoded string), and the
  widget's saved state (what ``nbconvert --execute`` also stores) for comparison;
- each ``ld.charts`` chart and ``ld.dashboard()`` over a simulated week (1,500 calls):
  the ``text/html`` (SVG as an ``<img>`` data URL), the SVG itself, the same SVG as base64,
  and the time vl-convert takes to render it (median of 3, after a warm-up).

Usage::

    python bench/static_views.py [--sizes 10,50,200,1000] [--calls 1500] [--no-write]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def _bundle(obj) -> dict:
    out = obj._repr_mimebundle_()
    return out[0] if isinstance(out, tuple) else out


def _ipynb_bytes(s: str) -> int:
    return len(json.dumps(s, ensure_ascii=False).encode())  # nbformat writes non-ASCII as UTF-8


def _make_trace(ld, client, n: int) -> str:
    made, k = 1, 0
    with ld.trace(f"agent-{n}") as t:
        while made < n:
            with ld.span(f"sub-agent {k}", kind="agent"):
                made += 1
                for s in range(3):
                    if made >= n:
                        break
                    with ld.span(f"step {k}.{s}", kind="chain"):
                        made += 1
                        for leaf in range(8):
                            if made >= n:
                                break
                            made += 1
                            if leaf % 4 == 0:
                                model = "fail-400" if made % 40 == 1 else "gpt-4o-mini"
                                try:
                                    client.with_options(max_retries=0).chat.completions.create(
                                        model=model, messages=[{"role": "user", "content": f"question {made}"}])
                                except Exception:
                                    pass
                            else:
                                with ld.span(f"lookup {made}", kind="tool" if leaf % 2 else "retrieval") as sp:
                                    sp.set_input({"q": f"item {made}"})
            k += 1
    return t.trace_id


def _median_s(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10,50,200,1000")
    ap.add_argument("--calls", type=int, default=1500)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    tmp = Path(tempfile.mkdtemp(prefix="llmdebug-static-"))
    os.environ["LLMDEBUG_DB"] = str(tmp / "bench.db")
    import openai

    import llmdebug as ld
    from llmdebug.testing import FakeLLMServer, simulate_traffic
    from llmdebug.widgets import static

    server = FakeLLMServer().start()
    try:
        ld.init(tmp / "bench.db")
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-fake")
        trees = []
        for n in sizes:
            tid = _make_trace(ld, client, n)
            ld.flush()
            w = ld.show(tid)
            b = _bundle(w)
            state = {k: v for k, v in w.get_state().items() if k not in ("_esm", "_css")}
            trees.append({"spans": n, "html": _ipynb_bytes(b["text/html"]), "plain": _ipynb_bytes(b["text/plain"]),
                          "drawn": min(n, static.TREE_CAP), "state": len(json.dumps(state)),
                          "esm_css": len(w._esm) + len(w._css)})
            print(f"tree {n:>5} spans: text/html {trees[-1]['html']:>7,} B  text/plain {trees[-1]['plain']:>7,} B")

        # a week of traffic in a store of its own, for the charts
        os.environ["LLMDEBUG_DB"] = str(tmp / "week.db")
        ld.init(tmp / "week.db")
        simulate_traffic(client, server=server, days=7, calls=args.calls)
        ld.flush()
        t0 = time.perf_counter()
        static.chart_svg(ld.charts.cells().to_dict())  # vl-convert's first render starts its runtime
        first_s = time.perf_counter() - t0
        charts = []
        for name, make in [("cost", ld.charts.cost), ("tokens", ld.charts.tokens), ("latency", ld.charts.latency),
                           ("errors", ld.charts.errors), ("ttft", ld.charts.ttft),
                           ("top_traces", lambda: ld.charts.top_traces("cost"))]:
            spec = make().to_dict()
            svg = static.chart_svg(spec)
            html = static.chart_html(spec)
            charts.append({"chart": name, "html": _ipynb_bytes(html), "svg": len(svg.encode()),
                           "base64": len(base64.b64encode(svg.encode())),
                           "spec": len(json.dumps(spec)), "render_s": _median_s(lambda: static.chart_svg(spec))})
            print(f"chart {name:>10}: text/html {charts[-1]['html']:>7,} B  svg {charts[-1]['svg']:>7,} B  "
                  f"render {charts[-1]['render_s'] * 1000:.0f} ms")
        dash = ld.dashboard()
        t0 = time.perf_counter()
        db = _bundle(dash)
        dash_s = time.perf_counter() - t0
        dash_row = {"html": _ipynb_bytes(db["text/html"]), "plain": _ipynb_bytes(db["text/plain"]), "bundle_s": dash_s,
                    "charts": sum(1 for v in dash.charts.values() if v.spec)}
        print(f"dashboard: text/html {dash_row['html']:,} B, bundle built in {dash_s:.2f} s")
    finally:
        server.stop()

    if args.no_write:
        return
    RESULTS.mkdir(exist_ok=True)
    lines = [
        "# Static views: bytes added to a saved notebook",
        "",
        f"`python bench/static_views.py` on {datetime.now(timezone.utc):%Y-%m-%d}, Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} cores. Sizes are the JSON-encoded strings as written into the "
        ".ipynb; nbconvert's HTML holds about the same.",
        "",
        "## Trace trees (`ld.show(trace_id)`)",
        "",
        f"Drawn up to {static.TREE_CAP} spans (the rest counted). For comparison: the widget's synced "
        "data, which `nbconvert --execute` also saves as widget state, and its JS + CSS (saved once per "
        "widget model in that state).",
        "",
        "| spans | drawn | text/html | per drawn span | text/plain | widget data | widget JS+CSS |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in trees:
        lines.append(f"| {t['spans']:,} | {t['drawn']:,} | {t['html']:,} B | {t['html'] / t['drawn']:.0f} B | "
                     f"{t['plain']:,} B | {t['state']:,} B | {t['esm_css']:,} B |")
    lines += [
        "",
        f"## Charts over a simulated week ({args.calls:,} calls)",
        "",
        "text/html is the SVG as an `<img>` data URL (percent-encoded where needed); base64 is what the "
        "same SVG would take base64-encoded. Render: vl-convert, median of 3 after a warm-up; the first "
        f"render in a process took {first_s:.1f} s (vl-convert starts its JavaScript runtime).",
        "",
        "| chart | text/html | SVG | as base64 | Vega-Lite spec | render |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for c in charts:
        lines.append(f"| `{c['chart']}` | {c['html']:,} B | {c['svg']:,} B | {c['base64']:,} B | {c['spec']:,} B | "
                     f"{c['render_s'] * 1000:.0f} ms |")
    lines += [
        "",
        f"`ld.dashboard()`: text/html {dash_row['html']:,} B (headline numbers + {dash_row['charts']} charts), "
        f"bundle built in {dash_row['bundle_s']:.2f} s.",
        "",
    ]
    out = RESULTS / "static_views.md"
    out.write_text("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
