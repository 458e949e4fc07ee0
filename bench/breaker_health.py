"""What the operational-health features cost.

(a) ``ld.breaker_view`` and ``ld.breaker_view(summary=True)`` over N stored LLM calls
    (written straight into ``spans`` with executemany: 6 models over 3 providers in turn, a
    call every 0.5 s, 3 % failures of mixed kinds and now and then an outage, a run of 30-120
    failed calls), median of R runs each, and ``ld.charts.breaker`` (the walk plus the hourly
    rollup; altair imported before the clock).
(b) the writer's health sampling (a ``writer_health`` row at most once a second, inside
    the batch's transaction): ``Store.put`` of S prebuilt spans then ``Store.flush()``,
    timed end to end with sampling on and with it off (``HealthSampler.due`` always
    False), in alternating pairs; the median of the paired ratios. The capture path
    (``put``) is the same code either way.

Files live in a temporary directory that is deleted at the end.

Usage::

    python bench/breaker_health.py [--calls N] [--spans S] [--repeats R] [--quick] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
MODELS = [("gpt-4o-mini", "openai"), ("gpt-4o", "openai"), ("o3-mini", "openai"),
          ("claude-3-5-haiku-latest", "anthropic"), ("claude-sonnet-4", "anthropic"), ("gemini-2.0-flash", "litellm")]
FAILURES = [(429, "RateLimitError"), (500, "InternalServerError"), (529, "OverloadedError"),
            (None, "APITimeoutError"), (None, "APIConnectionError"), (400, "BadRequestError")]


def _calls_file(path: Path, n: int) -> None:
    """n LLM calls straight into ``spans`` (the narrow columns breaker_view reads)."""
    from llmdebug.store import connect
    from llmdebug.store.rows import iso

    conn = connect(path)
    rng = random.Random(5)
    step = 0.5
    t0 = time.time() - n * step
    burst = 0
    rows = []
    for i in range(n):
        model, provider = MODELS[i % len(MODELS)]
        if burst == 0 and rng.random() < 0.0005:
            burst = rng.randint(30, 120)  # an outage: a run of failures
        fail = burst > 0 or rng.random() < 0.03
        burst = max(0, burst - 1)
        status, etype = (rng.choice(FAILURES) if fail else (200, None))
        rows.append((f"s{i:08d}", f"t{i // 3}", "chat", "llm", provider, model, "error" if fail else "ok", etype,
                     status, iso(t0 + i * step), 500.0))
    conn.executemany("INSERT INTO spans (id, trace_id, name, kind, provider, model, status, error_type, http_status, "
                     "started_at, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()


def bench_breaker(tmp: Path, n: int, repeats: int) -> dict:
    import llmdebug as ld
    from llmdebug import session

    path = tmp / "calls.db"
    t = time.perf_counter()
    _calls_file(path, n)
    made = time.perf_counter() - t
    ld.init(path, instrument=False)
    ld.metrics(by=None)  # the rollup catches up once, outside the clock
    import altair  # noqa: F401  (imported once, outside the clock)
    out = {"calls": n, "file_s": round(made, 1)}
    for name, fn in (("periods_s", lambda: ld.breaker_view()),
                     ("summary_s", lambda: ld.breaker_view(summary=True)),
                     ("chart_s", lambda: ld.charts.breaker())):
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            res = fn()
            times.append(time.perf_counter() - t)
        out[name] = round(statistics.median(times), 3)
    out["periods"] = len(ld.breaker_view())
    session.close()
    return out


def _spans(n: int) -> list:
    from llmdebug.tracing import Span, new_id

    rng = random.Random(1)
    out = []
    for i in range(n):
        s = Span(id=new_id(), trace_id=f"t{i // 4}", name="chat", kind="llm", provider="openai", model="gpt-4o-mini",
                 started_at=time.time(), status="ok", input_tokens=rng.randint(10, 900), output_tokens=200,
                 latency_ms=500.0)
        s.request = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "q" * 400}]}
        s.messages = s.request["messages"]
        s.output_text = "a" * 600
        out.append(s)
    return out


def _ingest(path: Path, spans: list) -> float:
    from llmdebug.store import Store

    store = Store(path)
    t = time.perf_counter()
    for s in spans:
        store.put(s)
    assert store.flush(300)
    took = time.perf_counter() - t
    store.close()
    return took


def bench_sampling(tmp: Path, n: int, repeats: int) -> dict:
    from llmdebug.store import sampler

    on, off, ratios = [], [], []
    due = sampler.HealthSampler.due
    for r in range(repeats):
        pair = {}
        for mode in (("on", "off") if r % 2 == 0 else ("off", "on")):
            sampler.HealthSampler.due = due if mode == "on" else (lambda self: False)
            try:
                pair[mode] = _ingest(tmp / f"ingest-{r}-{mode}.db", _spans(n))
            finally:
                sampler.HealthSampler.due = due
        on.append(n / pair["on"])
        off.append(n / pair["off"])
        ratios.append(pair["off"] / pair["on"])
    samples = sqlite3.connect(tmp / f"ingest-0-on.db").execute("SELECT count(*) FROM writer_health").fetchone()[0]
    return {"spans": n, "repeats": repeats, "spans_per_s_on": round(statistics.median(on)),
            "spans_per_s_off": round(statistics.median(off)), "on_vs_off": round(statistics.median(ratios), 3),
            "samples_per_run": samples}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--spans", type=int, default=50_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="100,000 calls, 10,000 spans, 1 repeat")
    ap.add_argument("--no-write", action="store_true", help="print only; do not write bench/results")
    args = ap.parse_args()
    if args.quick:
        args.calls, args.spans, args.repeats = 100_000, 10_000, 1
    tmp = Path(tempfile.mkdtemp(prefix="llmdebug-bench-"))
    try:
        result = {"machine": f"{platform.machine()}, {platform.python_version()}, sqlite {sqlite3.sqlite_version}",
                  "breaker": bench_breaker(tmp, args.calls, args.repeats),
                  "sampling": bench_sampling(tmp, args.spans, max(2, args.repeats * 2))}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result, indent=2))
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "breaker_health.json").write_text(json.dumps(result, indent=2) + "\n")
        b, s = result["breaker"], result["sampling"]
        (RESULTS / "breaker_health.md").write_text(
            f"# breaker_view and writer health sampling ({result['machine']})\n\n"
            f"`python bench/breaker_health.py{' --quick' if args.quick else ''}`\n\n"
            f"| what | result |\n|---|---|\n"
            f"| `ld.breaker_view()` over {b['calls']:,} calls ({b['periods']} periods) | {b['periods_s']} s |\n"
            f"| `ld.breaker_view(summary=True)` | {b['summary_s']} s |\n"
            f"| `ld.charts.breaker()` | {b['chart_s']} s |\n"
            f"| store ingest, {s['spans']:,} spans, health sampling on | {s['spans_per_s_on']:,} spans/s |\n"
            f"| the same, sampling off | {s['spans_per_s_off']:,} spans/s |\n"
            f"| on / off (median of {s['repeats']} paired runs) | {s['on_vs_off']} |\n"
            f"| `writer_health` rows per run | {s['samples_per_run']} |\n")


if __name__ == "__main__":
    sys.exit(main())
