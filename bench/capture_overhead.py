"""Capture overhead: microseconds llmdebug adds to an OpenAI SDK call, side by side with
the bare SDK, OpenInference + OpenTelemetry and the Langfuse drop-in, in one run.

Every call goes through the real ``openai.OpenAI`` client over an in-process
``httpx2.MockTransport`` that returns a canned, realistic ``chat.completion`` JSON body
(non-stream) or SSE body (``stream=True, stream_options={"include_usage": True}``,
fully consumed). The body is delivered through a byte-stream iterator, as a socket
would deliver it: httpx reads it inside ``Client.send`` for a non-stream call and the
SDK reads it chunk by chunk (one SSE event per chunk) for a stream.

Each variant lives in its own worker subprocess (instrumentation is process-global).
The parent starts all workers, lets each warm up, then interleaves rounds: for each
round and each mode it asks every variant in turn (rotating the order) to run N calls.
A round's time runs from the first call to the end of the tracer's flush
(``ld.flush()`` / ``TracerProvider.force_flush()`` / ``Langfuse.flush()``), so work
deferred to background threads is counted. Per variant and mode we report the median
over rounds of the round's mean wall time per call (the headline number), of its CPU
time per call (all threads of the worker: deferred work cannot hide on the second
core) and of the median single-call latency seen by the caller (the hot path).

Usage::

    python bench/capture_overhead.py [--calls N] [--rounds R] [--quick]
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
VARIANTS = ("bare", "llmdebug", "openinference", "langfuse")
MODES = ("nonstream", "stream")
MARK = "@@BENCH "

MODEL = "gpt-4o-mini"
MESSAGES = [
    {
        "role": "system",
        "content": "You are a concise assistant for a data team. Answer in plain English, "
        "cite the table names you rely on, and never invent column names.",
    },
    {
        "role": "user",
        "content": "Our nightly job loads orders into `orders_daily` and refunds into "
        "`refunds_daily`. Revenue on the dashboard dropped 12% yesterday but order counts "
        "are flat. What are the three most likely causes and how do I check each one?",
    },
]
ANSWER = (
    "Three likely causes, with a check for each:\n\n"
    "1. Refunds were double-counted. Compare `refunds_daily` row counts for yesterday "
    "with the source system; a re-run of the refund load without a dedupe key would "
    "subtract the same refunds twice.\n"
    "2. A currency or unit change. If one market started reporting amounts in cents or "
    "in a new currency, the sum drops while counts stay flat. Group yesterday's "
    "`orders_daily` by market and compare the average order value with last week.\n"
    "3. A late partition. If the last hour of orders has not landed, counts can look "
    "flat at day level while the high-value evening orders are missing. Check the "
    "maximum `created_at` in `orders_daily` for yesterday.\n\n"
    "Start with the refunds check: it is the cheapest and the most common cause."
)
USAGE = {
    "prompt_tokens": 96,
    "completion_tokens": 158,
    "total_tokens": 254,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}
HEADERS = {
    "content-type": "application/json",
    "x-request-id": "req_7f2b5c1d9e0a4b3c8d6e5f4a3b2c1d0e",
    "openai-processing-ms": "812",
    "openai-version": "2020-10-01",
    "x-ratelimit-limit-requests": "10000",
    "x-ratelimit-remaining-requests": "9999",
    "x-ratelimit-limit-tokens": "2000000",
    "x-ratelimit-remaining-tokens": "1999712",
}


def completion_body() -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-BXq4rTzQ1kYbV9n2mW8eJc3aF5dL0",
            "object": "chat.completion",
            "created": 1764185914,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ANSWER, "refusal": None, "annotations": []},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": USAGE,
            "service_tier": "default",
            "system_fingerprint": "fp_560af6e559",
        }
    ).encode()


def stream_chunks() -> list[bytes]:
    """The SSE events of the same answer, one event per network chunk (~4 words each)."""
    base = {
        "id": "chatcmpl-BXq4rTzQ1kYbV9n2mW8eJc3aF5dL0",
        "object": "chat.completion.chunk",
        "created": 1764185914,
        "model": "gpt-4o-mini-2024-07-18",
        "service_tier": "default",
        "system_fingerprint": "fp_560af6e559",
    }

    def ev(choices, usage=None):
        d = dict(base, choices=choices, usage=usage)
        if usage is not None:
            d["choices"] = []
        return b"data: " + json.dumps(d).encode() + b"\n\n"

    out = [ev([{"index": 0, "delta": {"role": "assistant", "content": "", "refusal": None},
                "logprobs": None, "finish_reason": None}])]
    words = ANSWER.split(" ")
    for i in range(0, len(words), 4):
        piece = " ".join(words[i:i + 4]) + (" " if i + 4 < len(words) else "")
        out.append(ev([{"index": 0, "delta": {"content": piece}, "logprobs": None, "finish_reason": None}]))
    out.append(ev([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]))
    out.append(ev(None, USAGE))
    out.append(b"data: [DONE]\n\n")
    return out


# --------------------------------------------------------------------------- worker side
def make_client(openai_cls):
    import httpx2

    body = completion_body()
    chunks = stream_chunks()
    json_headers = dict(HEADERS, **{"content-length": str(len(body))})
    sse_headers = dict(HEADERS, **{"content-type": "text/event-stream; charset=utf-8"})

    class Chunks(httpx2.SyncByteStream):
        """A body delivered piece by piece, like a socket (not pre-read like ByteStream)."""

        def __init__(self, parts):
            self._parts = parts

        def __iter__(self):
            yield from self._parts

        def close(self):
            pass

    def handler(request):
        if b'"stream":true' in request.content:
            return httpx2.Response(200, headers=sse_headers, stream=Chunks(chunks))
        return httpx2.Response(200, headers=json_headers, stream=Chunks((body,)))

    return openai_cls(
        api_key="sk-bench",
        base_url="http://bench.local/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )


def encoding_exporter():
    """An OTel exporter that does what OTLPSpanExporter does minus the network:
    encode the batch to OTLP protobuf bytes, then drop them."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class EncodeOnlyExporter(SpanExporter):
        def __init__(self):
            self.spans = 0
            self.bytes = 0

        def export(self, spans):
            self.bytes += len(encode_spans(spans).SerializeToString())
            self.spans += len(spans)
            return SpanExportResult.SUCCESS

        def shutdown(self):
            pass

        def force_flush(self, timeout_millis=30000):
            return True

    return EncodeOnlyExporter()


def setup(variant: str, db: str):
    """Returns (client, flush(), captured() -> int, teardown())."""
    if variant == "bare":
        import openai

        return make_client(openai.OpenAI), (lambda: None), (lambda: 0), (lambda: None)

    if variant == "llmdebug":
        import llmdebug as ld
        from llmdebug import session

        ld.init(db)
        import openai

        def captured():
            ld.flush()
            return session.get_store().read("SELECT COUNT(*) FROM spans")[0][0]

        def teardown():
            ld.uninstrument()
            session.close()

        def flush():
            # Everything deferred counts: the writes, and the search indexing that
            # otherwise waits for the notebook to go idle.
            session.get_store().writer.index_now()

        return make_client(openai.OpenAI), flush, captured, teardown

    if variant == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        exporter = encoding_exporter()
        tp = TracerProvider()
        tp.add_span_processor(BatchSpanProcessor(exporter))
        OpenAIInstrumentor().instrument(tracer_provider=tp)
        import openai

        def captured():
            tp.force_flush()
            return exporter.spans

        return make_client(openai.OpenAI), tp.force_flush, captured, tp.shutdown

    if variant == "langfuse":
        # Dummy keys, a base URL on a closed local port, and a span exporter of our own
        # (encode to OTLP protobuf, never send) in place of Langfuse's OTLP/HTTP exporter.
        # Media upload threads off; batch size and interval left at Langfuse defaults.
        os.environ["LANGFUSE_MEDIA_UPLOAD_ENABLED"] = "false"
        from langfuse import Langfuse

        exporter = encoding_exporter()
        lf = Langfuse(
            public_key="pk-lf-bench",
            secret_key="sk-lf-bench",
            base_url="http://127.0.0.1:9",
            span_exporter=exporter,
            media_upload_thread_count=0,
        )
        from langfuse.openai import OpenAI

        def captured():
            lf.flush()
            return exporter.spans

        return make_client(OpenAI), lf.flush, captured, lf.shutdown

    raise SystemExit(f"unknown variant {variant}")


def one_call(client, mode: str):
    if mode == "stream":
        s = client.chat.completions.create(
            model=MODEL, messages=MESSAGES, temperature=0.2,
            stream=True, stream_options={"include_usage": True},
        )
        n = 0
        for _ in s:
            n += 1
        return n
    r = client.chat.completions.create(model=MODEL, messages=MESSAGES, temperature=0.2)
    return r.usage.total_tokens


def run_round(client, flush, mode: str, n: int) -> dict:
    pc = time.perf_counter
    lat = [0.0] * n
    cpu0 = time.process_time()
    t_start = pc()
    for i in range(n):
        t0 = pc()
        one_call(client, mode)
        lat[i] = pc() - t0
    flush()
    t_end = pc()
    cpu = time.process_time() - cpu0
    return {
        "wall_us": (t_end - t_start) / n * 1e6,
        "cpu_us": cpu / n * 1e6,
        "median_call_us": statistics.median(lat) * 1e6,
    }


def worker(variant: str, db: str, warmup: int, profile: str | None) -> None:
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything the libraries print goes to stderr, not into the protocol
    client, flush, captured, teardown = setup(variant, db)
    for mode in MODES:
        run_round(client, flush, mode, warmup)
    proto.write(MARK + json.dumps({"ready": variant}) + "\n")
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "run":
            mode, n = cmd[1], int(cmd[2])
            if prof:
                prof.enable()
            res = run_round(client, flush, mode, n)
            if prof:
                prof.disable()
            proto.write(MARK + json.dumps(res) + "\n")
        elif cmd[0] == "stop":
            res = {"captured": captured()}
            teardown()
            if prof:
                prof.dump_stats(profile)
            proto.write(MARK + json.dumps(res) + "\n")
            break


# --------------------------------------------------------------------------- parent side
class Worker:
    def __init__(self, variant: str, tmp: Path, warmup: int, profile: bool):
        self.variant = variant
        cmd = [sys.executable, __file__, "--worker", variant, "--db", str(tmp / f"{variant}.db"),
               "--warmup", str(warmup)]
        if profile:
            cmd += ["--profile-out", str(RESULTS / f"profile_{variant}.pstats")]
        env = dict(os.environ, PYTHONHASHSEED="0")
        env.pop("LLMDEBUG_RAISE_ERRORS", None)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     bufsize=1, env=env, cwd=str(tmp))

    def read(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith(MARK):
                return json.loads(line[len(MARK):])
        raise RuntimeError(f"worker {self.variant} exited with {self.proc.wait()}")

    def send(self, text: str) -> None:
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()


def summarise(rounds: dict, captured: dict, calls: int, n_rounds: int) -> dict:
    out = {}
    for mode in MODES:
        res = {}
        for v in VARIANTS:
            rs = rounds[v][mode]
            res[v] = {k: statistics.median(r[k] for r in rs) for k in ("wall_us", "cpu_us", "median_call_us")}
            res[v]["wall_us_rounds"] = [round(r["wall_us"], 2) for r in rs]
        bare = res["bare"]
        for v in VARIANTS:
            r = res[v]
            for k, name in (("wall_us", "added_us"), ("cpu_us", "added_cpu_us"), ("median_call_us", "added_median_call_us")):
                # Paired: each round's variant minus the same round's bare run, then the
                # median. This machine's speed drifts between rounds by more than the
                # effect measured; adjacent runs drift together.
                diffs = [a[k] - b[k] for a, b in zip(rounds[v][mode], rounds["bare"][mode])]
                r[name] = statistics.median(diffs)
            r["overhead_pct"] = 100.0 * r["added_us"] / bare["wall_us"]
            r["overhead_cpu_pct"] = 100.0 * r["added_cpu_us"] / bare["cpu_us"]
        ld_add = res["llmdebug"]["added_us"]
        ld_add_cpu = res["llmdebug"]["added_cpu_us"]
        for v in VARIANTS:
            r = res[v]
            r["added_vs_llmdebug"] = (r["added_us"] / ld_add) if ld_add > 0 and v not in ("bare",) else None
            r["added_cpu_vs_llmdebug"] = (r["added_cpu_us"] / ld_add_cpu) if ld_add_cpu > 0 and v != "bare" else None
        out[mode] = res
    targets = {}
    for mode in MODES:
        r = out[mode]
        others = [r[v]["added_vs_llmdebug"] for v in ("openinference", "langfuse")]
        targets[mode] = {
            "llmdebug_overhead_le_3pct": r["llmdebug"]["overhead_pct"] <= 3.0,
            "others_add_ge_10x": all(x is not None and x >= 10.0 for x in others)
            or r["llmdebug"]["added_us"] <= 0,
        }
    return {"results": out, "targets": targets, "captured_spans": captured}


def fmt_table(summary: dict) -> str:
    lines = []
    for mode in MODES:
        r = summary["results"][mode]
        lines.append(f"\n**{mode}** (`stream=True, stream_options={{include_usage: True}}`, fully consumed)"
                     if mode == "stream" else f"\n**{mode}**")
        lines.append("")
        lines.append("| variant | µs/call (wall, incl. flush) | added µs | overhead vs bare | "
                     "added ÷ llmdebug's | CPU µs/call | added CPU µs | caller median µs |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for v in VARIANTS:
            x = r[v]
            ratio = "—" if x["added_vs_llmdebug"] is None else f"{x['added_vs_llmdebug']:.1f}×"
            if v == "llmdebug":
                ratio = "1.0×"
            lines.append(
                f"| {v} | {x['wall_us']:.1f} | {x['added_us']:+.1f} | {x['overhead_pct']:+.1f} % | {ratio} | "
                f"{x['cpu_us']:.1f} | {x['added_cpu_us']:+.1f} | {x['median_call_us']:.1f} |"
            )
    lines.append("")
    for mode, t in summary["targets"].items():
        lines.append(f"- {mode}: llmdebug ≤ 3 % overhead: **{'met' if t['llmdebug_overhead_le_3pct'] else 'NOT met'}**; "
                     f"others add ≥ 10× more: **{'met' if t['others_add_ge_10x'] else 'NOT met'}**")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=200, help="calls per round per variant and mode")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--quick", action="store_true", help="300 calls x 3 rounds, 50 warm-up calls")
    ap.add_argument("--profile", action="store_true", help="cProfile each worker's timed rounds into bench/results/")
    ap.add_argument("--no-write", action="store_true", help="print only, do not write bench/results/")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--profile-out", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        worker(a.worker, a.db, a.warmup, a.profile_out)
        return
    if a.quick:
        a.calls, a.rounds, a.warmup = 150, 6, 50

    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="llmdebug-bench-"))
    workers = {}
    t_begin = time.time()
    try:
        # Start and warm up one at a time so start-up does not overlap the others.
        for v in VARIANTS:
            workers[v] = Worker(v, tmp, a.warmup, a.profile)
            workers[v].read()
        rounds = {v: {m: [] for m in MODES} for v in VARIANTS}
        for r in range(a.rounds):
            for mode in MODES:
                order = VARIANTS[r % len(VARIANTS):] + VARIANTS[:r % len(VARIANTS)]
                for v in order:
                    workers[v].send(f"run {mode} {a.calls}")
                    rounds[v][mode].append(workers[v].read())
            print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)
        captured = {}
        for v, w in workers.items():
            w.send("stop")
            captured[v] = w.read()["captured"]
            w.proc.wait(timeout=60)
    finally:
        for w in workers.values():
            if w.proc.poll() is None:
                w.proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    from importlib.metadata import version

    summary = summarise(rounds, captured, a.calls, a.rounds)
    summary["config"] = {
        "calls_per_round": a.calls, "rounds": a.rounds, "warmup_calls_per_mode": a.warmup,
        "python": platform.python_version(), "platform": platform.platform(),
        "cpus": os.cpu_count(), "elapsed_s": round(time.time() - t_begin, 1),
        "versions": {p: version(p) for p in ("openai", "httpx2", "llmdebug", "opentelemetry-sdk",
                                              "openinference-instrumentation-openai", "langfuse", "wrapt")},
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    table = fmt_table(summary)
    print(table)
    if not a.no_write:
        (RESULTS / "capture_overhead.json").write_text(json.dumps(summary, indent=2) + "\n")
        c = summary["config"]
        (RESULTS / "capture_overhead.md").write_text(
            f"# Capture overhead\n\n`python bench/capture_overhead.py --calls {a.calls} --rounds {a.rounds}` — "
            f"{c['date']}, Python {c['python']}, {c['cpus']} CPUs, {c['platform']}\n\n"
            f"Paired medians over {a.rounds} interleaved rounds of {a.calls} calls each (after {a.warmup} warm-up calls per mode). "
            f"Spans captured per variant (sanity check): {summary['captured_spans']}.\n"
            + table + "\n"
        )


if __name__ == "__main__":
    main()
