"""ld.metrics() and ld.dashboard() over 10k, 100k and 1M spans, and the notebook size a chart adds.

(a) speed: stores of N spans written straight into ``spans`` (like ``ingest.py``): a week
    of a production app with a daily cycle and two bursts, six models over three
    providers, 2 % errors, 429s retried and not, 30 % streams with time to first token,
    30 % of calls inside traces of 3-9 spans (root, tool spans, LLM calls). Then, medians
    of ``--runs`` runs after a warm-up: ``ld.metrics()`` by model, by (day, model) and in
    total; ``build_specs()`` (every chart's Vega-Lite spec, shared queries); each chart
    function alone; ``ld.dashboard()`` (controls, options, specs, per-cell table, widgets);
    and a filter change redrawing it. Targets (the issue): metrics() < 1 s and
    dashboard() < 2 s at 1,000,000 spans. A case still running after ``--budget``
    seconds is interrupted (SQLite progress handler) and reported as such; a warm-up
    over 3 s is reported alone. Rows marked [what-if] are NOT llmdebug as it is: the
    same calls with the slowest-traces query's correlated subquery forced onto the
    ``trace_id`` index (``INDEXED BY``), to show what is left once that query plan is fixed.
    ``--profile`` writes a cProfile of one dashboard() at the largest size, as is and
    what-if, to ``<cache>/profile_dashboard_*.pstats`` and prints the top entries.
(b) size: what one displayed chart adds to a saved notebook. llmdebug: the output (widget
    reference + text/HTML fallback) and, when widget state is saved too, the ChartView's
    state (spec + its small JS/CSS), plus the Vega runtime once per notebook. Against
    altair's default renderer (HTML loading Vega from a CDN: nothing renders offline) and
    ``alt.renderers.enable("jupyter", offline=True)`` (a JupyterChart widget carrying the
    Vega bundle from vl-convert-python; measured if installed).

Stores are cached under ``--cache`` (default /tmp/llmdebug-dashboard-scale) and reused,
rollup included: the first run builds 1M spans in ~1-2 minutes, later runs start at once.

Usage::

    python bench/dashboard_scale.py [--sizes 10000,100000,1000000] [--runs 3] [--budget 5] [--quick]
                                    [--profile] [--no-write] [--cache DIR]
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import cProfile
import io
import json
import math
import os
import platform
import pstats
import random
import sqlite3
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))
from ingest import MODELS, pick_model  # noqa: E402  (the same six models and prices)

GEN_VERSION = 1  # bump when the generated data changes: cached stores are rebuilt
DAYS = 7
TARGETS = {"metrics": 1.0, "dashboard": 2.0}  # seconds, at 1,000,000 spans


# -- (a) the stores ----------------------------------------------------------------------

def generate(path: Path, n_spans: int, seed: int = 11) -> dict:
    """Write ``n_spans`` spans of a week's traffic straight into ``spans``."""
    from llmdebug.store import connect
    from llmdebug.store.migrations import SPAN_COLUMNS
    from llmdebug.store.rows import iso
    from llmdebug.testing.traffic import _activity  # the daily cycle simulate_traffic uses

    rng = random.Random(seed)
    cols = list(SPAN_COLUMNS)
    pos = {c: i for i, c in enumerate(cols)}
    sql = f"INSERT INTO spans ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    conn = connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    t0 = time.perf_counter()
    end = math.floor(time.time() / 3600) * 3600
    start = end - DAYS * 86400
    # unit start times: a per-minute density (daily cycle, quiet weekends) with two bursts
    slots = DAYS * 1440
    day0 = math.floor(end / 86400) * 86400
    bursts = [(day0 - 2 * 86400 + 14.5 * 3600, 2400, 6.0), (day0 - 4 * 86400 + 2 * 3600, 1800, 10.0)]
    cum, acc = [], 0.0
    for i in range(slots):
        t = start + i * 60
        w = _activity(t) * next((f for b, d, f in bursts if b <= t < b + d), 1.0)
        acc += w
        cum.append(acc)
    in_burst = lambda t: any(b <= t < b + d for b, d, _ in bursts)  # noqa: E731

    row0 = [None] * len(cols)
    rows: list[tuple] = []
    stats = {"spans": 0, "calls": 0, "traces": 0, "errors": 0, "rate_limit_hits": 0, "streams": 0}

    def llm(sid: str, trace_id: str, parent: str | None, ts: float, burst: bool) -> float:
        model, provider, _, pin, pout, med = pick_model(rng)
        r = row0[:]
        lat = rng.lognormvariate(0, 0.6) * med
        stream = rng.random() < 0.3
        p429 = 0.25 if burst else 0.04
        u = rng.random()
        hits = retries = 0
        status, err_type, err_msg, http = "ok", None, None, 200
        if u < p429 * 0.2:  # failed after its retries
            hits, retries, status, err_type, http = 3, 2, "error", "RateLimitError", 429
            err_msg = "Error code: 429 - Rate limit reached for requests"
        elif u < p429:  # retried, then fine
            hits = retries = 1 if rng.random() < 0.8 else 2
            lat += hits * 500
        elif u < p429 + 0.008:
            status, err_type, err_msg, http = "error", "InternalServerError", "Error code: 500", 500
        elif u < p429 + 0.012:
            status, err_type, err_msg, http = "error", "APITimeoutError", "Request timed out.", None
        ok = status == "ok"
        tin = rng.randint(40, 4000)
        tout = rng.randint(5, 800) if ok else 0
        for k, v in (("id", sid), ("trace_id", trace_id), ("parent_id", parent),
                     ("name", f"{provider}.chat.completions"), ("kind", "llm"), ("provider", provider),
                     ("model", model), ("request_model", model), ("endpoint", "chat.completions"),
                     ("status", status), ("error_type", err_type), ("error_message", err_msg), ("http_status", http),
                     ("input_tokens", tin), ("output_tokens", tout), ("total_tokens", tin + tout),
                     ("cached_tokens", 0), ("cost_usd", (tin * pin + tout * pout) / 1e6 if ok else None),
                     ("priced", 1 if ok else 0), ("latency_ms", lat),
                     ("ttft_ms", lat * rng.uniform(0.1, 0.4) if stream and ok else None),
                     ("started_at", iso(ts)), ("ended_at", iso(ts + lat / 1000)), ("stream", int(stream)),
                     ("retries", retries), ("rate_limit_hits", hits)):
            r[pos[k]] = v
        rows.append(tuple(r))
        stats["calls"] += 1
        stats["errors"] += not ok
        stats["rate_limit_hits"] += hits
        stats["streams"] += stream
        return lat / 1000

    def user_span(sid, trace_id, parent, name, kind, ts, dur, tags=None) -> None:
        r = row0[:]
        for k, v in (("id", sid), ("trace_id", trace_id), ("parent_id", parent), ("name", name), ("kind", kind),
                     ("status", "ok"), ("latency_ms", dur * 1000), ("started_at", iso(ts)),
                     ("ended_at", iso(ts + dur)), ("tags", json.dumps(tags) if tags else None)):
            r[pos[k]] = v
        rows.append(tuple(r))

    def new_id(ts: float) -> str:
        return "%016x%016x" % (int(ts * 1e9), rng.getrandbits(64))

    def when() -> float:
        return start + (min(bisect.bisect_left(cum, rng.random() * acc), slots - 1) + rng.random()) * 60

    conn.execute("BEGIN")
    n = 0
    # units of work: 70 % lone calls, 30 % traces (1 root + 2-7 calls + ~40 % tool spans): ~2.77 spans a unit
    times = iter(sorted(when() for _ in range(round(n_spans / 2.77))))
    while n < n_spans:
        ts = next(times, None)
        if ts is None:  # the rest as lone calls, anywhere in the week
            ts = when()
        burst = in_burst(ts)
        if rng.random() < 0.7 or n_spans - n < 15:  # a lone call: its own trace
            sid = new_id(ts)
            llm(sid, sid, None, ts, burst)
            n += 1
        else:  # a trace: root, then tool spans and LLM calls one after another
            root = new_id(ts)
            name, tag = rng.choice([("support agent", "prod"), ("summarise ticket", "prod"), ("nightly eval", "eval")])
            k = rng.randint(2, 7)
            t = ts + 0.002
            before = len(rows)
            for j in range(k):
                if j and rng.random() < 0.4:
                    dur = rng.uniform(0.01, 0.3)
                    user_span(new_id(t), root, root, "lookup_order", "tool", t, dur)
                    t += dur
                t += llm(new_id(t), root, root, t, burst) + 0.001
            user_span(root, root, None, name, "agent", ts, t - ts + 0.001, [tag])
            rows.insert(before, rows.pop())  # the root first, as it was opened first
            n += len(rows) - before
            stats["traces"] += 1
        if len(rows) >= 50_000:
            conn.executemany(sql, rows)
            stats["spans"] += len(rows)
            rows.clear()
    if rows:
        conn.executemany(sql, rows)
        stats["spans"] += len(rows)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    stats["generate_s"] = round(time.perf_counter() - t0, 1)
    stats["end"] = iso(end)
    return stats


def store_for(cache: Path, n: int) -> tuple[Path, dict]:
    """A cached store of ``n`` spans with its rollup caught up (built if missing)."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"spans-{n}-v{GEN_VERSION}.db"
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        meta["cached"] = True
        return path, meta
    for p in cache.glob(f"spans-{n}-v{GEN_VERSION}.db*"):
        p.unlink()
    meta = generate(path, n)
    print(f"  built {meta['spans']:,} spans ({meta['calls']:,} calls) in {meta['generate_s']} s", file=sys.stderr)
    import llmdebug as ld
    from llmdebug import session

    ld.init(path, instrument=False)
    t0 = time.perf_counter()
    ld.metrics(by=None)  # folds every row into the hourly rollup, once (kept in the file)
    session.get_store().writer.index_now()
    meta["rollup_catch_up_s"] = round(time.perf_counter() - t0, 1)
    session.close()
    meta["file_mb"] = round(path.stat().st_size / 1e6, 1)
    meta["cached"] = False
    meta_path.write_text(json.dumps(meta))
    return path, meta


class Interrupted(Exception):
    pass


@contextlib.contextmanager
def deadline(seconds: float):
    """Interrupt the store's SQLite queries after ``seconds`` (a query that would take
    hours must not hang the benchmark): raises :class:`Interrupted`."""
    from llmdebug import session

    conn = session.get_store().db.conn
    end = time.perf_counter() + seconds
    conn.set_progress_handler(lambda: int(time.perf_counter() > end), 100_000)
    try:
        yield
    except sqlite3.OperationalError as e:
        if "interrupt" in str(e) and time.perf_counter() > end:
            raise Interrupted(f"over {seconds:g} s") from e
        raise
    finally:
        conn.set_progress_handler(None, 0)


WHAT_IF_NEEDLE = "EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = r.trace_id"


def what_if_applies() -> bool:
    """Does llmdebug still run the slowest-traces query the what-if rewrites?"""
    import inspect

    from llmdebug.query import engine, records, summaries

    return any(WHAT_IF_NEEDLE in inspect.getsource(m) for m in (engine, records, summaries))


@contextlib.contextmanager
def what_if_trace_index():
    """What-if, not llmdebug as it is: the slowest-traces query with its correlated
    subquery forced onto the trace_id index (SQLite picks (kind, started_at) instead)."""
    from llmdebug import session

    store = session.get_store()
    read = store.read
    needle = WHAT_IF_NEEDLE
    store.read = lambda sql, params=(): read(
        sql.replace(needle, "EXISTS (SELECT 1 FROM spans s INDEXED BY idx_spans_trace_id WHERE s.trace_id = r.trace_id"),
        params)
    try:
        yield
    finally:
        del store.read


def timed(fn, runs: int, budget_s: float = 10.0, once_over_s: float = 3.0) -> dict:
    """Median of ``runs`` after a warm-up. A warm-up over ``once_over_s`` is reported alone
    (1 run); one over ``budget_s`` is interrupted and reported as such."""
    t0 = time.perf_counter()
    try:
        with deadline(budget_s):
            fn()  # warm-up: imports, SQLite page cache (this is the "first" time)
    except Interrupted:
        return {"median_s": None, "over_s": budget_s, "first_s": None, "runs_s": []}
    first = time.perf_counter() - t0
    if first > once_over_s:
        return {"median_s": first, "first_s": round(first, 3), "runs_s": [round(first, 3)], "note": "1 run"}
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        with deadline(budget_s):
            fn()
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "first_s": round(first, 3), "runs_s": [round(t, 3) for t in times]}


def _show(v: dict) -> str:
    return f"> {v['over_s']:g} (interrupted)" if v["median_s"] is None else f"{v['median_s']:.3f}"


def bench_size(path: Path, meta: dict, runs: int, budget_s: float, profile: Path | None) -> dict:
    import llmdebug as ld
    from llmdebug import charts, query, session
    from llmdebug.widgets import dashboard as dash_mod

    ld.init(path, instrument=False)
    out = {"spans": meta["spans"], "calls": meta["calls"], "timings": {}, "charts": {}}

    def run(table: dict, name: str, fn, what_if: bool = False) -> None:
        if what_if:
            def fn(inner=fn):
                with what_if_trace_index():
                    return inner()
        table[name] = v = timed(fn, runs, budget_s)
        print(f"  {meta['spans']:>9,} spans  {name:<48} {_show(v)} s {v['runs_s']}", file=sys.stderr)

    try:
        one_day = {"since": _iso_minus(meta["end"], 86400)}
        m = ld.metrics(by="model")
        assert int(m["calls"].sum()) == meta["calls"], (int(m["calls"].sum()), meta["calls"])
        model = m.index[0]
        for name, fn in {
            "metrics(by='model')": lambda: ld.metrics(by="model"),
            "metrics(by=('day', 'model'))": lambda: ld.metrics(by=("day", "model")),
            "metrics(by=None)": lambda: ld.metrics(by=None),
        }.items():
            run(out["timings"], name, fn)

        # each chart alone, without the shared queries (where the time goes)
        bucket = charts.bucket_for()
        for name, fn in {
            "charts.cost": lambda: charts.cost(bucket=bucket), "charts.tokens": lambda: charts.tokens(bucket=bucket),
            "charts.latency": lambda: charts.latency(), "charts.errors": lambda: charts.errors(bucket=bucket),
            "charts.ttft": lambda: charts.ttft(bucket=bucket), "charts.cells": lambda: charts.cells(since=time.time() - 60),
            "metrics(by=('hour', 'model'))": lambda: ld.metrics(by=("hour", "model")),
            "query.top_traces('cost')": lambda: query.top_traces("cost", n=8),
            "query.top_traces('duration')": lambda: query.top_traces("duration", n=8),
        }.items():
            run(out["charts"], name, fn)
        what_ifs = what_if_applies()
        out["what_if"] = what_ifs
        if what_ifs:
            run(out["charts"], "query.top_traces('duration') [what-if]", lambda: query.top_traces("duration", n=8),
                what_if=True)

        with deadline(60), (what_if_trace_index() if what_ifs else contextlib.nullcontext()):  # outside the clock
            board = ld.dashboard()

        def refilter():
            board.filters = {"model": model} if not board.filters else {}
            assert not board.controls.message, board.controls.message

        def dashboard(**f):
            d = ld.dashboard(**f)
            assert not d.controls.message, d.controls.message
            return d

        for suffix, what_if in (("", False), (" [what-if]", True))[:2 if what_ifs else 1]:
            run(out["timings"], "build_specs({})" + suffix,
                lambda: dash_mod.build_specs({}, cell_since=dash_mod._session_start()), what_if)
            run(out["timings"], "dashboard()" + suffix, dashboard, what_if)
            run(out["timings"], "dashboard(since=1 day)" + suffix, lambda: dashboard(**one_day), what_if)
            run(out["timings"], "filter change (redraw)" + suffix, refilter, what_if)
        with deadline(60), (what_if_trace_index() if what_ifs else contextlib.nullcontext()):
            d = ld.dashboard()
        out["specs"] = {name: len(json.dumps(v.spec)) for name, v in d.charts.items()}
        if profile is not None:
            for label, ctx in (("as is", contextlib.nullcontext), ("what-if", what_if_trace_index))[:2 if what_ifs else 1]:
                prof = cProfile.Profile()
                try:
                    with deadline(budget_s), ctx():
                        prof.enable()
                        try:
                            ld.dashboard()
                        finally:
                            prof.disable()
                except Interrupted:
                    pass
                prof.dump_stats(profile.with_name(f"{profile.stem}_{label.replace(' ', '_')}.pstats"))
                s = io.StringIO()
                pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(r"llmdebug|execute", 25)
                out[f"profile_{label}"] = s.getvalue()
                print(f"[profile: dashboard() {label}]\n" + s.getvalue(), file=sys.stderr)
    finally:
        session.close()
    return out


def _iso_minus(text: str, seconds: float) -> str:
    from llmdebug.store.rows import from_iso, iso

    return iso(from_iso(text) - seconds)


# -- (b) notebook size per chart ------------------------------------------------------------

def _bundle_bytes(bundle) -> int:
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    # as nbformat stores an output: {"output_type": "display_data", "data": ..., "metadata": {}}
    return len(json.dumps({"output_type": "display_data", "data": data, "metadata": {}}, indent=1))


def notebook_sizes(path: Path) -> dict:
    """Bytes one displayed chart adds to a saved .ipynb, for the dashboard's charts of ``path``."""
    import altair as alt

    import llmdebug as ld
    from llmdebug import session
    from llmdebug.widgets.vega import runtime

    ld.init(path, instrument=False)
    out: dict = {"charts": {}, "vl_convert": None}
    try:
        picks = {"cost per hour (largest)": ld.charts.cost(), "latency": ld.charts.latency(),
                 "costliest traces (small)": ld.charts.top_traces("cost", n=8)}
        for label, chart in picks.items():
            view = chart.widget()
            state = view.get_state()
            row = {
                "spec_json": len(json.dumps(view.spec)),
                "llmdebug_output": _bundle_bytes(view._repr_mimebundle_()),
                "llmdebug_widget_state": len(json.dumps(state, default=str)),
                "llmdebug_widget_state_js_css": len(json.dumps(state["_esm"])) + len(json.dumps(state["_css"])),
            }
            plain = alt.Chart.from_dict(chart.to_dict()) if isinstance(chart, alt.Chart) else \
                alt.LayerChart.from_dict(chart.to_dict())
            before = alt.renderers.active, dict(alt.renderers.options)
            try:
                alt.renderers.enable("default")
                row["altair_default_cdn_output"] = _bundle_bytes(plain._repr_mimebundle_())
                try:
                    import vl_convert

                    out["vl_convert"] = vl_convert.__version__
                    alt.JupyterChart.enable_offline(True)
                    jc = alt.JupyterChart(plain)
                    row["altair_jupyter_offline_output"] = _bundle_bytes(jc._repr_mimebundle_())
                    row["altair_jupyter_offline_widget_state"] = len(json.dumps(jc.get_state(), default=str))
                    jc.close()
                    alt.JupyterChart.enable_offline(False)
                except ImportError:
                    pass
            finally:
                alt.renderers.enable(before[0], **before[1])
            out["charts"][label] = row
            view.close()
        out["runtime_state_once"] = len(json.dumps(runtime().get_state()))
        with deadline(60), (what_if_trace_index() if what_if_applies() else contextlib.nullcontext()):
            d = ld.dashboard()
        ws = [d, d.controls, *d.charts.values(), d.actions, d.children[1]]
        ws += [w.layout for w in ws if getattr(w, "layout", None) is not None]
        out["dashboard"] = {"output": _bundle_bytes(d._repr_mimebundle_()),
                            "state": sum(len(json.dumps(w.get_state(), default=str)) for w in ws)}
    finally:
        session.close()
    return out


# -- report ---------------------------------------------------------------------------------

def _cell(v: dict, target: float | None = None) -> str:
    if v["median_s"] is None:
        return f"**> {v['over_s']:g} (interrupted)**"
    text = f"{v['median_s']:.3f}" + (" (1 run)" if v.get("note") else "")
    return f"**{text}**" if target is not None else text


def fmt(res: dict) -> str:
    sizes = res["sizes"]
    c = res["config"]
    kb = lambda b: f"{b / 1000:,.1f} KB"  # noqa: E731
    cols = " | ".join(f"{s['spans']:,} spans ({s['calls']:,} calls)" for s in sizes)
    lines = [f"**(a) speed**, seconds: median of {c['runs']} runs after a warm-up (a warm-up over 3 s is "
             f"reported alone, a case over {c['budget_s']:g} s is interrupted). Bold: the issue's targets at 1M.", "",
             f"| | {cols} |", "|---|" + "---:|" * len(sizes)]
    for name in sizes[0]["timings"]:
        tgt = TARGETS["metrics"] if name.startswith("metrics") else TARGETS["dashboard"] if name == "dashboard()" else None
        row = [_cell(s["timings"][name], tgt if s["spans"] >= 1_000_000 else None) for s in sizes]
        lines.append(f"| `{name}` | " + " | ".join(row) + " |")
    def first(s: dict) -> str:
        for name, tag in (("dashboard()", ""), ("dashboard() [what-if]", " [what-if]")):
            if name in s["timings"] and s["timings"][name]["first_s"] is not None:
                return f"{s['timings'][name]['first_s']:.3f}{tag}"
        return "—"

    lines.append("| first `ld.dashboard()` on the store (its warm-up run) | " + " | ".join(first(s) for s in sizes) + " |")
    what_ifs = all(s.get("what_if") for s in sizes)
    lines += [] if not what_ifs else ["", "[what-if]: not llmdebug as it is. The same call with the slowest-traces query's correlated "
                  "subquery forced onto the `trace_id` index (`INDEXED BY idx_spans_trace_id`), which SQLite "
                  "does not pick by itself (see the `query.top_traces('duration')` rows below)."]
    lines += ["", "Each chart or query alone (no shared queries), seconds:", "",
              f"| | {cols} |", "|---|" + "---:|" * len(sizes)]
    for name in sizes[0]["charts"]:
        lines.append(f"| `{name}` | " + " | ".join(_cell(s["charts"][name]) for s in sizes) + " |")
    slow = [s for s in sizes if what_ifs and (s["charts"]["query.top_traces('duration')"]["median_s"] is None
            or s["charts"]["query.top_traces('duration')"]["median_s"]
            > 10 * s["charts"]["query.top_traces('duration') [what-if]"]["median_s"])]
    if slow:
        lines += ["", "`query.top_traces('duration')` (the dashboard's \"slowest traces\" chart, so also every "
                      "`dashboard()` and every filter change) is quadratic: SQLite runs its correlated "
                      "`EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = r.trace_id AND s.kind = 'llm')` on the "
                      "`(kind, started_at)` index, i.e. it scans every LLM span for every root span, instead of "
                      "the `trace_id` index (no `ANALYZE` statistics to tell it otherwise). Forced onto the right "
                      "index it is the [what-if] row."]
    big = [s for s in sizes if s["spans"] >= 1_000_000]
    if big:
        b = big[-1]
        lines.append("")
        for name, tgt in (("metrics(by='model')", "metrics"), ("metrics(by=('day', 'model'))", "metrics"),
                          ("metrics(by=None)", "metrics"), ("dashboard()", "dashboard"),
                          ("dashboard() [what-if]", "dashboard"))[:5 if what_ifs else 4]:
            v = b["timings"][name]["median_s"]
            ok = v is not None and v < TARGETS[tgt]
            shown = f"{v:.3f} s" if v is not None else f"over {b['timings'][name]['over_s']:g} s, interrupted"
            lines.append(f"- `ld.{name}` at 1M < {TARGETS[tgt]:g} s: **{'met' if ok else 'NOT met'}** ({shown})")
    nb = res.get("notebook")
    if nb:
        lines += ["", f"**(b) what one displayed chart adds to a saved notebook** (charts over {nb['spans']:,} spans)",
                  "",
                  "| chart | spec JSON | llmdebug: output (widget ref + text/HTML fallback) | llmdebug: widget state, "
                  "if saved (spec + JS/CSS) | altair default renderer (HTML, Vega from a CDN: blank offline) | "
                  "altair `jupyter`, offline=True: output | its widget state, if saved |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for label, r in nb["charts"].items():
            off_o = kb(r["altair_jupyter_offline_output"]) if "altair_jupyter_offline_output" in r else "n/a"
            off_s = kb(r["altair_jupyter_offline_widget_state"]) if "altair_jupyter_offline_widget_state" in r else "n/a"
            lines.append(f"| {label} | {kb(r['spec_json'])} | {kb(r['llmdebug_output'])} | "
                         f"{kb(r['llmdebug_widget_state'])} | {kb(r['altair_default_cdn_output'])} | {off_o} | {off_s} |")
        dash = nb.get("dashboard")
        lines += ["", f"llmdebug's Vega runtime is one more widget, once per notebook and only in saved widget state: "
                      f"{kb(nb['runtime_state_once'])}. "
                  + (f"A whole `ld.dashboard()` (eight charts, controls, filter bar): output {kb(dash['output'])}, "
                     f"widget state if saved {kb(dash['state'])}. " if dash else "")
                  + (f"altair's offline renderer measured with vl-convert-python {nb['vl_convert']}: its Vega "
                     "bundle is in every chart's widget state. " if nb["vl_convert"] else
                     "vl-convert-python is not installed here, so altair's offline renderer was not measured "
                     "(/work/shared/TESTING.md: ~900 KB of JavaScript per chart). ")
                  + "JupyterLab saves no widget state by default, so a notebook saved there holds only the output "
                    "column (and a reopened chart shows its text until the cell runs again); `jupyter nbconvert "
                    "--execute` and Lab's \"Save Widget State Automatically\" add the state columns."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000", help="spans per store, comma-separated")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per case (median)")
    ap.add_argument("--cache", default="/tmp/llmdebug-dashboard-scale", help="where the stores are kept and reused")
    ap.add_argument("--quick", action="store_true", help="10,000 and 100,000 spans only")
    ap.add_argument("--budget", type=float, default=5.0, help="seconds before a case is interrupted")
    ap.add_argument("--profile", action="store_true", help="cProfile one dashboard() at the largest size")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    sizes = [10_000, 100_000] if a.quick else [int(x) for x in a.sizes.split(",")]
    cache = Path(a.cache)
    t_begin = time.time()
    os.environ.pop("LLMDEBUG_DB", None)
    os.environ["LLMDEBUG_RAISE_ERRORS"] = "1"  # a failing query must fail here, not become a warning
    res: dict = {"sizes": []}
    stores = []
    for n in sizes:
        path, meta = store_for(cache, n)
        stores.append((path, meta))
        res.setdefault("stores", []).append(meta)
    for i, (path, meta) in enumerate(stores):
        prof = cache / "profile_dashboard.pstats" if a.profile and i == len(stores) - 1 else None
        res["sizes"].append(bench_size(path, meta, a.runs, a.budget, prof))
    path, meta = stores[-1]
    res["notebook"] = dict(notebook_sizes(path), spans=meta["spans"])
    from importlib.metadata import version

    res["config"] = {
        "sizes": sizes, "runs": a.runs, "budget_s": a.budget, "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(), "cpus": os.cpu_count(), "llmdebug": version("llmdebug-notebook"),
        "altair": version("altair"), "elapsed_s": round(time.time() - t_begin, 1),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    table = fmt(res)
    print(table)
    if not a.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "dashboard_scale.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
        c = res["config"]
        built = ", ".join(f"{m['spans']:,} spans: {'cached' if m.get('cached') else 'built'} "
                          f"({m['generate_s']} s + rollup {m.get('rollup_catch_up_s', '?')} s, {m.get('file_mb', '?')} MB)"
                          for m in res["stores"])
        (RESULTS / "dashboard_scale.md").write_text(
            f"# Dashboard and metrics at scale\n\n`python bench/dashboard_scale.py --sizes {a.sizes if not a.quick else '10000,100000'} "
            f"--runs {a.runs}` — {c['date']}, Python {c['python']}, SQLite {c['sqlite']}, altair {c['altair']}, "
            f"{c['cpus']} CPUs, {c['elapsed_s']} s in all\n\nStores: {built}.\n\n" + table + "\n")


if __name__ == "__main__":
    main()
