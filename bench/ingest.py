"""Store throughput and query speed.

(a) ingest: spans/s the store sustains — ``Store.put`` of N prebuilt, finished
    LLM-like spans (request dict, messages, output text, tokens, cost, events), then
    ``Store.flush()``, timed end to end (the writer thread turns spans into rows and
    inserts them in batches) — versus a raw ``executemany`` of the *same rows* (built
    beforehand with ``llmdebug.store.rows.span_row``/``payload_row``, so row building
    is NOT in the baseline) in one transaction into a freshly migrated file with the
    same schema (``llmdebug.store.connect``), FTS triggers included. Target: ≥ 75 %.
(b) queries over a large file: ``ld.metrics(by="model")`` and ``ld.metrics(by="day")``
    over M stored spans (written straight into ``spans`` with executemany: several
    models, 2 % errors, lognormal latency, tokens, cost, a week of ISO start times),
    median of 3 runs (target < 1 s); also ``ld.traces(limit=50)`` and
    ``ld.calls(limit=100)``.

Files live in a temporary directory that is deleted at the end.

Usage::

    python bench/ingest.py [--spans N] [--metrics-rows N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

MODELS = [  # (model, provider, weight, input $/Mtok, output $/Mtok, median latency ms)
    ("gpt-4o-mini-2024-07-18", "openai", 0.40, 0.15, 0.60, 700),
    ("gpt-4o-2024-08-06", "openai", 0.20, 2.50, 10.0, 1400),
    ("claude-sonnet-4-20250514", "anthropic", 0.15, 3.00, 15.0, 1800),
    ("claude-3-5-haiku-20241022", "anthropic", 0.10, 0.80, 4.00, 600),
    ("o3-mini-2025-01-31", "openai", 0.08, 1.10, 4.40, 4000),
    ("gemini-2.0-flash", "litellm", 0.07, 0.10, 0.40, 500),
]
QUESTIONS = [
    "Summarise the customer's complaint in one sentence and suggest a reply.",
    "Which of these three SQL queries returns duplicate rows, and why?",
    "Translate the release notes below into French, keeping the markdown.",
    "Extract the invoice number, total and due date as JSON.",
    "Classify the ticket as billing, bug, feature request or other.",
]


def pick_model(rng: random.Random):
    x, acc = rng.random(), 0.0
    for m in MODELS:
        acc += m[2]
        if x < acc:
            return m
    return MODELS[-1]


def make_spans(n: int, seed: int = 1):
    """N finished LLM spans as capture would leave them after the writer's finalize."""
    from llmdebug.tracing import Span, new_id

    rng = random.Random(seed)
    now = time.time()
    out = []
    for i in range(n):
        model, provider, _, pin, pout, med = pick_model(rng)
        q = QUESTIONS[i % len(QUESTIONS)]
        messages = [
            {"role": "system", "content": "You are a careful assistant for an operations team."},
            {"role": "user", "content": f"{q} (case #{i})"},
        ]
        tin = rng.randint(40, 900)
        tout = rng.randint(10, 400)
        lat = rng.lognormvariate(0, 0.6) * med
        err = rng.random() < 0.02
        sid = new_id()
        started = now - rng.random() * 86400
        text = None if err else ("Here is the answer you asked for. " * (1 + tout // 40)).strip()
        s = Span(
            id=sid, trace_id=sid, name=f"{provider}.chat.completions", kind="llm",
            provider=provider, model=model, request_model=model.rsplit("-2", 1)[0],
            endpoint="chat.completions", base_url="https://api.example.com/v1",
            status="error" if err else "ok",
            error_type="RateLimitError" if err else None,
            error_message="Error code: 429 - rate limit reached" if err else None,
            http_status=429 if err else 200,
            input_tokens=tin, output_tokens=None if err else tout,
            total_tokens=tin + (0 if err else tout), cached_tokens=0,
            cost_usd=None if err else (tin * pin + tout * pout) / 1e6, priced=not err,
            latency_ms=lat, ttft_ms=lat * 0.3, started_at=started, ended_at=started + lat / 1000,
            stream=False, retries=0, rate_limit_hits=1 if err else 0,
            request={"model": model, "messages": messages, "temperature": 0.2, "max_tokens": 512},
            messages=messages,
            response=None if err else {
                "id": f"chatcmpl-{i}", "object": "chat.completion", "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": tin, "completion_tokens": tout, "total_tokens": tin + tout},
            },
            output_text=text,
            events=[{"type": "http_attempt", "attempt": 1, "offset_ms": 0.4, "duration_ms": round(lat, 3),
                     "status": 429 if err else 200, "x-request-id": f"req_{i:08d}"}],
        )
        out.append(s)
    return out


def bench_ingest(tmp: Path, n: int, repeats: int) -> dict:
    from llmdebug.store import Store, connect
    from llmdebug.store.rows import payload_row, span_row
    from llmdebug.store.writer import _PAYLOAD_SQL, _SPAN_SQL

    store_times, raw_times = [], []
    for r in range(repeats):
        spans = make_spans(n, seed=r + 1)
        # baseline rows from the same spans, built before the clock starts
        span_rows = [span_row(s) for s in spans]
        payload_rows = [p for p in (payload_row(s) for s in spans) if p is not None]

        raw_path = tmp / f"raw{r}.db"
        conn = connect(raw_path)
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(_SPAN_SQL, span_rows)
        conn.executemany(_PAYLOAD_SQL, payload_rows)
        conn.execute("COMMIT")
        raw_times.append(time.perf_counter() - t0)
        assert conn.execute("SELECT COUNT(*) FROM spans").fetchone()[0] == n
        conn.close()
        del span_rows, payload_rows

        st_path = tmp / f"store{r}.db"
        connect(st_path).close()  # migrate before timing, as ld.init() does
        store = Store(st_path)
        t0 = time.perf_counter()
        for s in spans:
            store.put(s)
        ok = store.flush(timeout=600)
        store_times.append(time.perf_counter() - t0)
        assert ok, "store.flush timed out"
        cnt = store.read("SELECT COUNT(*) FROM spans")[0][0]
        assert cnt == n, cnt
        store.close()
        for p in tmp.glob("*.db*"):
            p.unlink()
        print(f"  ingest repeat {r + 1}: store {n / store_times[-1]:,.0f} spans/s, "
              f"raw executemany {n / raw_times[-1]:,.0f} spans/s", file=sys.stderr)
    st, raw = statistics.median(store_times), statistics.median(raw_times)
    return {
        "spans": n, "repeats": repeats,
        "store_s": st, "raw_s": raw,
        "store_spans_per_s": n / st, "raw_spans_per_s": n / raw,
        "ratio": raw / st,
        "store_s_runs": [round(x, 3) for x in store_times], "raw_s_runs": [round(x, 3) for x in raw_times],
        "target_ratio_ge_0_75": raw / st >= 0.75,
    }


def generate_spans_table(path: Path, rows: int, seed: int = 7, traces_share: float = 0.3) -> float:
    """Write ``rows`` LLM spans straight into ``spans``; returns seconds taken."""
    from llmdebug.store import connect
    from llmdebug.store.migrations import SPAN_COLUMNS

    rng = random.Random(seed)
    cols = list(SPAN_COLUMNS)
    sql = f"INSERT INTO spans ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    conn = connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    t0 = time.perf_counter()
    end = time.time()
    start = end - 7 * 86400
    # ids that sort by time, like new_id(); ~70 % of calls are their own trace, the rest join the previous one
    times = sorted(start + rng.random() * (end - start) for _ in range(rows))
    conn.execute("BEGIN")
    batch = []
    trace_id = None
    for i in range(rows):
        ts = times[i]
        model, provider, _, pin, pout, med = pick_model(rng)
        sid = "%016x%016x" % (int(ts * 1e9), rng.getrandbits(64))
        if trace_id is None or rng.random() > traces_share:
            trace_id, parent = sid, None
        else:
            parent = trace_id
        err = rng.random() < 0.02
        lat = rng.lognormvariate(0, 0.6) * med
        tin = rng.randint(40, 4000)
        tout = 0 if err else rng.randint(5, 800)
        st = time.gmtime(ts)
        started = time.strftime("%Y-%m-%dT%H:%M:%S", st) + ".%06dZ" % int((ts % 1) * 1e6)
        te = ts + lat / 1000
        ended = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(te)) + ".%06dZ" % int((te % 1) * 1e6)
        row = dict.fromkeys(cols)
        row.update(
            id=sid, trace_id=trace_id, parent_id=parent, name=f"{provider}.chat.completions", kind="llm",
            provider=provider, model=model, request_model=model, endpoint="chat.completions",
            status="error" if err else "ok", error_type="RateLimitError" if err else None,
            error_message="rate limit" if err else None, http_status=429 if err else 200,
            input_tokens=tin, output_tokens=tout, total_tokens=tin + tout, cached_tokens=0,
            cost_usd=None if err else (tin * pin + tout * pout) / 1e6, priced=0 if err else 1,
            latency_ms=lat, ttft_ms=lat * 0.25 if rng.random() < 0.3 else None,
            started_at=started, ended_at=ended, stream=0, retries=0, rate_limit_hits=1 if err else 0,
        )
        batch.append(tuple(row[c] for c in cols))
        if len(batch) >= 50_000:
            conn.executemany(sql, batch)
            batch = []
    if batch:
        conn.executemany(sql, batch)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - t0


def bench_queries(tmp: Path, rows: int, runs: int = 3) -> dict:
    import llmdebug as ld
    from llmdebug import session

    path = tmp / "metrics.db"
    gen_s = generate_spans_table(path, rows)
    print(f"  generated {rows:,} spans in {gen_s:.1f} s ({path.stat().st_size / 1e6:.0f} MB)", file=sys.stderr)
    ld.init(path, instrument=False)
    out = {"rows": rows, "generate_s": round(gen_s, 2), "file_mb": round(path.stat().st_size / 1e6, 1), "queries": {}}
    # The rows went straight into `spans`, not through llmdebug's writer: the first
    # query finds a rollup that has counted none of them. Time folding them in once
    # (what the writer does while a notebook is idle), then the queries themselves.
    t0 = time.perf_counter()
    first = ld.metrics(by="model")
    out["first_metrics_with_catch_up_s"] = round(time.perf_counter() - t0, 2)
    print(f"  first metrics() incl. rollup catch-up of {rows:,} rows: {out['first_metrics_with_catch_up_s']} s",
          file=sys.stderr)
    assert int(first["calls"].sum()) == rows
    cases = [
        ("metrics(by='model')", lambda: ld.metrics(by="model")),
        ("metrics(by='day')", lambda: ld.metrics(by="day")),
        ("traces(limit=50)", lambda: ld.traces(limit=50)),
        ("calls(limit=100)", lambda: ld.calls(limit=100)),
    ]
    try:
        for name, fn in cases:
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                df = fn()
                times.append(time.perf_counter() - t0)
            out["queries"][name] = {"median_s": statistics.median(times), "runs_s": [round(t, 3) for t in times],
                                    "result_rows": len(df)}
            print(f"  {name}: median {statistics.median(times):.3f} s {[round(t, 3) for t in times]}", file=sys.stderr)
        m = ld.metrics(by="model")
        out["check"] = {"calls_total": int(m["calls"].sum()), "error_rate_overall":
                        round(float(m["errors"].sum() / m["calls"].sum()), 4)}
    finally:
        session.close()
    out["targets"] = {name: out["queries"][name]["median_s"] < 1.0 for name in ("metrics(by='model')", "metrics(by='day')")}
    return out


def fmt(res: dict) -> str:
    a = res["ingest"]
    lines = [
        "**(a) ingest**",
        "",
        "| path | spans | seconds | spans/s |",
        "|---|---:|---:|---:|",
        f"| `Store.put` × N + `flush()` (row building + writer thread) | {a['spans']:,} | {a['store_s']:.2f} | {a['store_spans_per_s']:,.0f} |",
        f"| raw `executemany`, same prebuilt rows, one transaction | {a['spans']:,} | {a['raw_s']:.2f} | {a['raw_spans_per_s']:,.0f} |",
        "",
        f"Store / raw throughput: **{a['ratio'] * 100:.0f} %** (target ≥ 75 %: **{'met' if a['target_ratio_ge_0_75'] else 'NOT met'}**)",
        "",
    ]
    q = res.get("queries")
    if q:
        lines += [
            f"**(b) queries over {q['rows']:,} spans** ({q['file_mb']} MB file, median of 3 runs)",
            "",
            "| query | median s | runs (s) | rows returned |",
            "|---|---:|---|---:|",
        ]
        for name, v in q["queries"].items():
            lines.append(f"| `ld.{name}` | {v['median_s']:.3f} | {v['runs_s']} | {v['result_rows']} |")
        lines.append("")
        lines.append(f"The rows were inserted straight into `spans`; the first `metrics()` also folded all of "
                     f"them into the hourly rollup (what the writer does while the notebook is idle): "
                     f"{q['first_metrics_with_catch_up_s']} s, once.")
        lines.append("")
        for name, ok in q["targets"].items():
            lines.append(f"- `ld.{name}` < 1 s: **{'met' if ok else 'NOT met'}**")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spans", type=int, default=50_000)
    ap.add_argument("--repeats", type=int, default=3, help="ingest repeats (median)")
    ap.add_argument("--metrics-rows", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="5,000 spans x 1, 100,000 metric rows")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.spans, a.repeats, a.metrics_rows = 5_000, 1, 100_000
    tmp = Path(tempfile.mkdtemp(prefix="llmdebug-ingest-"))
    t_begin = time.time()
    try:
        res = {"ingest": bench_ingest(tmp, a.spans, a.repeats)}
        if a.metrics_rows > 0:
            res["queries"] = bench_queries(tmp, a.metrics_rows)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    from importlib.metadata import version
    import sqlite3

    res["config"] = {
        "spans": a.spans, "repeats": a.repeats, "metrics_rows": a.metrics_rows,
        "python": platform.python_version(), "sqlite": sqlite3.sqlite_version, "platform": platform.platform(),
        "cpus": os.cpu_count(), "llmdebug": version("llmdebug-notebook"), "elapsed_s": round(time.time() - t_begin, 1),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    table = fmt(res)
    print(table)
    if not a.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "ingest.json").write_text(json.dumps(res, indent=2) + "\n")
        c = res["config"]
        (RESULTS / "ingest.md").write_text(
            f"# Ingest and query speed\n\n`python bench/ingest.py --spans {a.spans} --metrics-rows {a.metrics_rows}` — "
            f"{c['date']}, Python {c['python']}, SQLite {c['sqlite']}, {c['cpus']} CPUs\n\n" + table + "\n")


if __name__ == "__main__":
    main()
