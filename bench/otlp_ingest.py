"""OpenTelemetry spans into llmdebug: the OTLP/HTTP receiver's throughput, and what the
in-process SpanProcessor adds per span.

(a) receiver: ``ld.receive()`` in this process; the OTel SDK's ``OTLPSpanExporter``
    (http/protobuf) in another process sends N spans. Timed from the first export to the
    last span on disk (``ld.flush()`` after the exporter is done). Spans are traces of
    an agent span with two chat spans (~20 GenAI attributes each, a system + user
    message in, an assistant message out) and one tool span. Modes:
    - ``prebuilt``: the exporter process makes every span first, then exports them in
      batches of 512 one after another (what BatchSpanProcessor's thread does), so the
      clock sees the receiver, not the SDK making spans;
    - ``prebuilt gzip``: the same, ``compression=Gzip``;
    - ``live``: the exporter process makes the spans inside the clock, through a
      TracerProvider + BatchSpanProcessor (queue big enough to drop nothing).
    Also where the receiver's time goes, in this process on the same request bodies:
    protobuf decode, the GenAI mapping, row building and the SQLite insert.
    Target (issue 11): >= 10,000 spans/s.
(b) in-process: per-span µs of making the same spans with an OTel TracerProvider and
    no processor, the SDK's BatchSpanProcessor over an exporter that drops the batch,
    and llmdebug's SpanProcessor (``ld.init(path, instrument=False)``), each timed up to
    ``force_flush()`` (for llmdebug: every span written to SQLite). Each variant in its
    own worker process, rounds interleaved, median reported.

Usage::

    python bench/otlp_ingest.py [--spans N] [--rounds R] [--quick] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BATCH = 512  # BatchSpanProcessor's max_export_batch_size default
SYSTEM = "You are a careful assistant for an operations team. Answer briefly and cite the ticket."
QUESTIONS = [
    "Summarise the customer's complaint in one sentence and suggest a reply.",
    "Which of these three SQL queries returns duplicate rows, and why?",
    "Extract the invoice number, total and due date as JSON.",
    "Classify the ticket as billing, bug, feature request or other.",
]
ANSWER = "Here is the answer you asked for, with the reasoning in two short steps. " * 3
SPANS_PER_TRACE = 4
MODES = {  # (a)'s rows
    "prebuilt": "SDK exporter, spans made before the clock",
    "prebuilt gzip": "the same, `compression=Gzip`",
    "live": "TracerProvider + BatchSpanProcessor + exporter, spans made in the clock",
    "capacity": "the exporter's bodies (its encoder, before the clock), 2 connections",
}


def chat_attributes(i: int) -> dict:
    """~20 GenAI semantic-convention attributes of one chat call."""
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.response.id": f"chatcmpl-{i:010d}",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 512,
        "gen_ai.request.top_p": 1.0,
        "gen_ai.request.seed": 7,
        "gen_ai.output.type": "text",
        "gen_ai.conversation.id": f"conv-{i // 2:08d}",
        "gen_ai.usage.input_tokens": 300 + i % 700,
        "gen_ai.usage.output_tokens": 20 + i % 300,
        "gen_ai.usage.cache_read.input_tokens": 0,
        "gen_ai.response.finish_reasons": ("stop",),
        "server.address": "api.openai.com",
        "server.port": 443,
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": SYSTEM}]),
        "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [
            {"type": "text", "content": f"{QUESTIONS[i % len(QUESTIONS)]} (ticket #{i})"}]}]),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [
            {"type": "text", "content": ANSWER}], "finish_reason": "stop"}]),
    }


def make_traces(tracer, n_spans: int) -> None:
    """n_spans spans: traces of agent > (chat, tool, chat)."""
    for t in range(n_spans // SPANS_PER_TRACE):
        with tracer.start_as_current_span("invoke_agent support", attributes={
                "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support",
                "gen_ai.agent.id": "agent-1", "gen_ai.conversation.id": f"conv-{t:08d}"}):
            with tracer.start_as_current_span("chat gpt-4o-mini", attributes=chat_attributes(2 * t)):
                pass
            with tracer.start_as_current_span("execute_tool lookup_ticket", attributes={
                    "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_ticket",
                    "gen_ai.tool.call.id": f"call_{t}", "gen_ai.tool.call.arguments": json.dumps({"id": t}),
                    "gen_ai.tool.call.result": json.dumps({"status": "open", "priority": "high"})}):
                pass
            with tracer.start_as_current_span("chat gpt-4o-mini", attributes=chat_attributes(2 * t + 1)):
                pass


def _provider(processor=None):
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    tp = TracerProvider(resource=Resource.create({"service.name": "bench-app"}))
    if processor is not None:
        tp.add_span_processor(processor)
    return tp


def _Collect():
    """A SpanProcessor keeping ended spans in ``.spans`` (to export them later)."""
    from opentelemetry.sdk.trace import SpanProcessor

    class Collect(SpanProcessor):
        def __init__(self):
            self.spans = []

        def on_end(self, span):
            self.spans.append(span)

    return Collect()


# -- (a) the exporter process ---------------------------------------------------------------


def exporter_child(mode: str, url: str, n: int) -> None:
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

    comp = Compression.Gzip if mode.endswith("gzip") else Compression.NoCompression
    exporter = OTLPSpanExporter(endpoint=url + "/v1/traces", compression=comp, timeout=60)
    if mode == "capacity":
        # the receiver's own limit: the SDK exporter's exact bodies (its encoder, run before
        # the clock) posted on two keep-alive connections, as by two exporting processes
        import threading

        import requests
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

        collect = _Collect()
        make_traces(_provider(collect).get_tracer("bench"), n)
        spans = collect.spans
        bodies = [encode_spans(spans[i:i + BATCH]).SerializeToString() for i in range(0, len(spans), BATCH)]
        codes = []

        def post(part):
            with requests.Session() as s:
                for b in part:
                    codes.append(s.post(url + "/v1/traces", data=b, timeout=60,
                                        headers={"Content-Type": "application/x-protobuf"}).status_code)

        threads = [threading.Thread(target=post, args=(bodies[k::2],)) for k in range(2)]
        print("ready", flush=True)
        sys.stdin.readline()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        failed = sum(c != 200 for c in codes)
    elif mode.startswith("prebuilt"):
        collect = _Collect()
        make_traces(_provider(collect).get_tracer("bench"), n)
        spans = collect.spans
        print("ready", flush=True)
        sys.stdin.readline()  # the parent's clock starts
        failed = sum(exporter.export(spans[i:i + BATCH]) != SpanExportResult.SUCCESS
                     for i in range(0, len(spans), BATCH))
    else:
        results = []

        class Checked(OTLPSpanExporter):
            def export(self, batch):
                r = super().export(batch)
                results.append(r)
                return r

        checked = Checked(endpoint=url + "/v1/traces", compression=comp, timeout=60)
        tp = _provider(BatchSpanProcessor(checked, max_queue_size=n + 1))
        print("ready", flush=True)
        sys.stdin.readline()
        make_traces(tp.get_tracer("bench"), n)
        tp.shutdown()
        failed = sum(r != SpanExportResult.SUCCESS for r in results)
    print(json.dumps({"failed_exports": failed}), flush=True)


def bench_receiver(tmp: Path, n: int, rounds: int) -> dict:
    import llmdebug as ld
    from llmdebug import session

    out = {}
    for mode in MODES:
        times, cpus = [], []
        for r in range(rounds):
            path = tmp / f"recv-{mode.replace(' ', '-')}-{r}.db"
            ld.init(path, instrument=False)
            with ld.receive(port=0) as rec:
                child = subprocess.Popen([sys.executable, __file__, "--exporter", mode.replace(" ", "-"), rec.url,
                                          str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                assert child.stdout.readline().strip() == "ready"
                c0, t0 = time.process_time(), time.perf_counter()
                child.stdin.write("go\n")
                child.stdin.flush()
                result = json.loads(child.stdout.readline())
                ok = ld.flush(600)
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                child.wait()
                stats = rec.stats
            assert ok and result["failed_exports"] == 0, (result, stats)
            assert stats["stored"] == n and stats["refused"] == 0, stats
            stored = session.get_store().read("SELECT COUNT(*) FROM spans")[0][0]
            assert stored == n, stored
            times.append(wall)
            cpus.append(cpu)
            session.close()
        med = statistics.median(times)
        out[mode] = {"seconds": [round(t, 3) for t in times], "median_s": round(med, 3),
                     "spans_per_s": round(n / med), "receiver_cpu_us_per_span": round(statistics.median(cpus) / n * 1e6, 1)}
    return out


def phases(tmp: Path, n: int) -> dict:
    """Where the receiver's time goes, in this process, on the bodies the exporter sends."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from llmdebug import session
    from llmdebug.otel import otlp
    from llmdebug.otel.conventions import to_span
    from llmdebug.otel.ingest import ingest
    from llmdebug.store.rows import payload_row, span_row

    collect = _Collect()
    make_traces(_provider(collect).get_tracer("bench"), n)
    bodies = [encode_spans(collect.spans[i:i + BATCH]).SerializeToString() for i in range(0, n, BATCH)]
    t0 = time.perf_counter()
    decoded = [otlp.decode(b, otlp.PROTOBUF) for b in bodies]
    t_decode = time.perf_counter() - t0
    otel_spans = [o for d in decoded for o in d.spans]
    t0 = time.perf_counter()
    mapped = [to_span(o) for o in otel_spans]
    t_map = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = [(span_row(s), payload_row(s)) for s in mapped]
    t_rows = time.perf_counter() - t0
    del rows, mapped
    session.init(tmp / "phases.db", instrument=False)
    t0 = time.perf_counter()
    for d in decoded:
        ingest(d.spans, known=set())
    t_hand = time.perf_counter() - t0
    session.flush(600)
    t_all = time.perf_counter() - t0
    session.close()
    us = lambda t: round(t / n * 1e6, 1)  # noqa: E731
    return {"decode_us": us(t_decode), "map_us": us(t_map), "rows_us": us(t_rows), "hand_over_us": us(t_hand),
            "write_all_us": us(t_all), "body_bytes_per_span": round(sum(map(len, bodies)) / n)}


# -- (b) in-process: the worker ---------------------------------------------------------------


def worker(variant: str, tmp: str) -> None:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Drop(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

    flush_index = None
    if variant == "none":
        tp = _provider()
    elif variant == "batch":
        tp = _provider(BatchSpanProcessor(Drop()))
    else:
        import llmdebug as ld
        from llmdebug import session
        from llmdebug.otel import SpanProcessor

        ld.init(Path(tmp) / "inproc.db", instrument=False)
        tp = _provider(SpanProcessor())
        flush_index = session.get_store().writer.index_now
    tracer = tp.get_tracer("bench")
    made = 0
    for line in sys.stdin:
        n = int(line)
        c0, t0 = time.process_time(), time.perf_counter()
        make_traces(tracer, n)
        tp.force_flush(600_000)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        t1 = time.perf_counter()
        if flush_index is not None:  # search/rollup indexing the writer would do when idle
            flush_index(600)
        index = time.perf_counter() - t1
        made += n - n % SPANS_PER_TRACE
        if flush_index is not None:
            stored = session.get_store().read("SELECT COUNT(*) FROM spans")[0][0]
            assert stored == made, (stored, made)
        print(json.dumps({"wall": wall, "cpu": cpu, "index": index}), flush=True)


def bench_inprocess(tmp: Path, n: int, rounds: int) -> dict:
    variants = ["none", "batch", "llmdebug"]
    procs = {v: subprocess.Popen([sys.executable, __file__, "--worker", v, str(tmp)], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True) for v in variants}
    res = {v: {"wall": [], "cpu": [], "index": []} for v in variants}
    try:
        def run(v: str, count: int) -> dict:
            p = procs[v]
            p.stdin.write(f"{count}\n")
            p.stdin.flush()
            return json.loads(p.stdout.readline())

        for v in variants:  # warm-up
            run(v, max(n // 4, SPANS_PER_TRACE))
        for r in range(rounds):
            for v in variants[r % 3:] + variants[:r % 3]:
                x = run(v, n)
                for k in x:
                    res[v][k].append(x[k])
    finally:
        for p in procs.values():
            p.stdin.close()
            p.wait()
    out = {}
    base = statistics.median(res["none"]["wall"]) / n * 1e6
    for v in variants:
        wall = statistics.median(res[v]["wall"]) / n * 1e6
        out[v] = {"us_per_span": round(wall, 2), "cpu_us_per_span": round(statistics.median(res[v]["cpu"]) / n * 1e6, 2),
                  "added_us": round(wall - base, 2), "index_us": round(statistics.median(res[v]["index"]) / n * 1e6, 2)}
    return out


# -- report -----------------------------------------------------------------------------------


def fmt(res: dict) -> str:
    c = res["config"]
    n = c["spans"]
    lines = [f"**(a) OTLP/HTTP receiver** — {n:,} spans ({n // SPANS_PER_TRACE:,} traces of agent > chat, tool, "
             f"chat), OTel SDK `OTLPSpanExporter` (http/protobuf) in another process, batches of {BATCH}; "
             f"median of {c['rounds']}", "",
             "| mode | median s | runs (s) | spans/s | receiver CPU µs/span |", "|---|---:|---|---:|---:|"]
    for mode, r in res["receiver"].items():
        lines.append(f"| {mode}: {MODES[mode]} | {r['median_s']} | {r['seconds']} | {r['spans_per_s']:,} | "
                     f"{r['receiver_cpu_us_per_span']} |")
    sdk = res["receiver"]["prebuilt"]["spans_per_s"]
    cap = res["receiver"]["capacity"]["spans_per_s"]
    lines += ["", f"Target ≥ 10,000 spans/s: **{'met' if sdk >= 10_000 else 'NOT met'}** from one SDK exporter "
              f"({sdk:,}), **{'met' if cap >= 10_000 else 'NOT met'}** at the receiver's capacity ({cap:,}).", ""]
    p = res["phases"]
    lines += ["Where the receiver's time goes (one thread, this process, same bodies; µs per span):", "",
              "| protobuf decode | GenAI mapping (`to_span`) | row building | hand-over (`ingest`) | "
              "hand-over + writer to disk (mapping, rows, INSERT) | body bytes/span |",
              "|---:|---:|---:|---:|---:|---:|",
              f"| {p['decode_us']} | {p['map_us']} | {p['rows_us']} | {p['hand_over_us']} | {p['write_all_us']} | "
              f"{p['body_bytes_per_span']} |", ""]
    lines += [f"**(b) in-process**: the same {n:,} spans made in one process, timed to `force_flush()`; "
              f"median of {c['rounds']} interleaved rounds", "",
              "| processor | µs/span | CPU µs/span | added µs/span | then indexing µs/span |",
              "|---|---:|---:|---:|---:|"]
    names = {"none": "no processor", "batch": "OTel `BatchSpanProcessor` (exporter drops the batch)",
             "llmdebug": "llmdebug `SpanProcessor` (written to SQLite)"}
    for v, r in res["inprocess"].items():
        lines.append(f"| {names[v]} | {r['us_per_span']} | {r['cpu_us_per_span']} | {r['added_us']} | "
                     f"{r['index_us'] if v == 'llmdebug' else '—'} |")
    lines += ["", "\"then indexing\": the search and rollup indexing llmdebug's writer does once idle "
              "(`writer.index_now()` after the flush), outside the per-span time."]
    return "\n".join(lines)


def main() -> None:
    if sys.argv[1:2] == ["--exporter"]:
        return exporter_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    if sys.argv[1:2] == ["--worker"]:
        return worker(sys.argv[2], sys.argv[3])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spans", type=int, default=40_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="8,000 spans x 1")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.spans, a.rounds = 8_000, 1
    a.spans -= a.spans % SPANS_PER_TRACE
    tmp = Path(tempfile.mkdtemp(prefix="llmdebug-otlp-"))
    t_begin = time.time()
    load_before = os.getloadavg()[0]
    try:
        res = {"receiver": bench_receiver(tmp, a.spans, a.rounds), "phases": phases(tmp, a.spans),
               "inprocess": bench_inprocess(tmp, a.spans, a.rounds)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    import sqlite3
    from importlib.metadata import version

    res["config"] = {"spans": a.spans, "rounds": a.rounds, "python": platform.python_version(),
                     "sqlite": sqlite3.sqlite_version, "cpus": os.cpu_count(),
                     "protobuf": version("protobuf"), "opentelemetry-sdk": version("opentelemetry-sdk"),
                     "elapsed_s": round(time.time() - t_begin, 1),
                     "load": f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}", "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    table = fmt(res)
    print(table)
    if not a.no_write:
        c = res["config"]
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "otlp_ingest.md").write_text(
            f"# OpenTelemetry ingest\n\n`python bench/otlp_ingest.py --spans {a.spans} --rounds {a.rounds}` — "
            f"{c['date']}, Python {c['python']}, SQLite {c['sqlite']}, protobuf {c['protobuf']}, "
            f"opentelemetry-sdk {c['opentelemetry-sdk']}, {c['cpus']} CPUs, {c['elapsed_s']} s, "
            f"1-minute load average {c['load']} (other work on the machine during the run)\n\n" + table + "\n")


if __name__ == "__main__":
    main()
