"""What reading the rate-limit headers adds to capture: the bare OpenAI SDK, llmdebug with
header reading switched off, and llmdebug as shipped, in one run.

The call is capture_overhead.py's (a real ``openai.OpenAI`` client over an in-process
``httpx2.MockTransport``; non-stream and a fully read stream), with the response headers
a real OpenAI reply carries: the six ``x-ratelimit-*`` ones (resets as ``"6m0s"`` /
``"120ms"`` durations) among 19 headers in all. Each variant runs in its own worker
process; ``llmdebug-no-headers`` sets ``llmdebug.capture.extract.READ_RATE_LIMITS = False``
(the reading is skipped; everything else, the in-flight count included, is the same).

Three measures:

- wall clock (default): interleaved rounds, each timed from the first call to the end of
  llmdebug's flush and indexing; per variant the median over rounds of the paired
  difference with the same round's bare run;
- ``--instructions``: each worker under valgrind's callgrind, the instructions of N calls
  and their flush (every thread). Deterministic per thread, but the writer's batches
  and idle indexing follow timing: totals move by a few hundred thousand a call;
- ``--phases``: the added work alone. One worker under callgrind captures N calls with
  reading on and N with it off (spans kept in a list, as capture_phases.py does), then
  runs the writer's steps over each set, counted one by one: reading the responses
  (``finalize``), building the rows, inserting them.

    python bench/ratelimit_headers.py [--calls N] [--rounds R] [--quick]
    python bench/ratelimit_headers.py --instructions [--calls N]   # needs valgrind; ~25 minutes here
    python bench/ratelimit_headers.py --phases [--calls N]         # needs valgrind; a few minutes
"""

from __future__ import annotations

import argparse
import glob
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
sys.path.insert(0, str(HERE))
import capture_overhead as co  # noqa: E402

VARIANTS = ("bare", "llmdebug-no-headers", "llmdebug")
MODES = co.MODES
MARK = co.MARK

# A real chat completion's response headers (values as OpenAI sends them; ids made up).
HEADERS = {
    "date": "Tue, 02 Dec 2026 10:12:31 GMT",
    "content-type": "application/json",
    "connection": "keep-alive",
    "access-control-expose-headers": "X-Request-ID",
    "openai-organization": "user-bench",
    "openai-processing-ms": "812",
    "openai-project": "proj_bench",
    "openai-version": "2020-10-01",
    "x-envoy-upstream-service-time": "815",
    "x-ratelimit-limit-requests": "10000",
    "x-ratelimit-limit-tokens": "2000000",
    "x-ratelimit-remaining-requests": "9999",
    "x-ratelimit-remaining-tokens": "1999712",
    "x-ratelimit-reset-requests": "6ms",
    "x-ratelimit-reset-tokens": "8ms",
    "x-request-id": "req_7f2b5c1d9e0a4b3c8d6e5f4a3b2c1d0e",
    "strict-transport-security": "max-age=31536000; includeSubDomains; preload",
    "cf-cache-status": "DYNAMIC",
    "server": "cloudflare",
}


def setup(variant: str, db: str):
    """(client, flush()) of a variant."""
    co.HEADERS = HEADERS  # make_client sends these with every response
    if variant == "bare":
        import openai

        return co.make_client(openai.OpenAI), (lambda: None)
    import llmdebug as ld
    from llmdebug import session
    from llmdebug.capture import extract

    ld.init(db)
    extract.READ_RATE_LIMITS = variant == "llmdebug"
    import openai

    def flush():
        session.get_store().writer.index_now()

    return co.make_client(openai.OpenAI), flush


def phase_worker(db: str, calls: int) -> None:
    """Captured calls kept in lists (reading on, reading off), then the writer's steps over
    each on command: ``finalize on``, ``rows off``, ``insert on``..."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    client, _ = setup("llmdebug", db)
    from llmdebug import session, tracing
    from llmdebug.capture import extract
    from llmdebug.store import connect
    from llmdebug.store.rows import payload_row, span_row
    from llmdebug.store.tx import immediate
    from llmdebug.store.writer import _PAYLOAD_SQL, _SPAN_SQL

    mode = os.environ.get("BENCH_MODE", "nonstream")
    for _ in range(20):
        co.one_call(client, mode)
    session.flush()
    sets: dict = {}
    for flag in ("warm", "off", "on"):  # "warm": run through every step first, not counted
        sets[flag] = spans = []
        tracing.set_sink(spans.append)
        for _ in range(calls):
            co.one_call(client, mode)
        tracing.set_sink(None)
    rows: dict = {}

    def finalize(flag: str) -> None:
        extract.READ_RATE_LIMITS = flag != "off"
        for s in sets[flag]:
            raw, s._raw = s._raw, None
            raw.finalize(s)

    def build(flag: str) -> None:
        rows[flag] = ([span_row(s) for s in sets[flag]], [p for p in (payload_row(s) for s in sets[flag]) if p])

    # each set goes into a file of its own, made beforehand: the same empty tables for both
    files = {flag: connect(Path(db).with_name(f"insert-{flag}.db")) for flag in sets}

    def insert(flag: str) -> None:
        with immediate(files[flag]) as c:
            c.executemany(_SPAN_SQL, rows[flag][0])
            c.executemany(_PAYLOAD_SQL, rows[flag][1])

    steps = {"finalize": finalize, "rows": build, "insert": insert}
    proto.write(MARK + json.dumps({"ready": "phases"}) + "\n")
    for line in sys.stdin:
        cmd = line.split()
        if cmd and cmd[0] in steps:
            steps[cmd[0]](cmd[1])
            proto.write(MARK + json.dumps({"done": line.strip()}) + "\n")
        elif cmd and cmd[0] == "stop":
            proto.write(MARK + json.dumps({"stopped": "phases"}) + "\n")
            break


def worker(variant: str, db: str, warmup: int) -> None:
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    client, flush = setup(variant, db)
    for mode in MODES:
        co.run_round(client, flush, mode, warmup)
    if variant != "bare":  # the reading really is on (or off) in this worker
        import llmdebug as ld

        ld.flush()
        import pandas as pd

        got = ld.calls(limit=1)["ratelimit_remaining_tokens"].iloc[0]
        assert (got == 1999712) if variant == "llmdebug" else pd.isna(got), got
    proto.write(MARK + json.dumps({"ready": variant}) + "\n")
    for line in sys.stdin:
        cmd = line.split()
        if cmd and cmd[0] == "run":
            proto.write(MARK + json.dumps(co.run_round(client, flush, cmd[1], int(cmd[2]))) + "\n")
        elif cmd and cmd[0] == "stop":
            proto.write(MARK + json.dumps({"stopped": variant}) + "\n")
            break


class Worker:
    def __init__(self, variant: str, tmp: Path, warmup: int, prefix: list[str] | None = None):
        self.variant = variant
        cmd = (prefix or []) + [sys.executable, __file__, "--worker", variant, "--db", str(tmp / f"{variant}.db"),
                                "--warmup", str(warmup)]
        env = dict(os.environ, PYTHONHASHSEED="0")
        env.pop("LLMDEBUG_RAISE_ERRORS", None)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                                     env=env, cwd=str(tmp), stderr=subprocess.DEVNULL if prefix else None)

    def read(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith(MARK):
                return json.loads(line[len(MARK):])
        raise RuntimeError(f"worker {self.variant} exited with {self.proc.wait()}")

    def send(self, text: str) -> None:
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()


def wall(a) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="llmdebug-bench-rl-"))
    workers: dict[str, Worker] = {}
    try:
        for v in VARIANTS:
            workers[v] = Worker(v, tmp, a.warmup)
            workers[v].read()
        rounds = {v: {m: [] for m in MODES} for v in VARIANTS}
        for r in range(a.rounds):
            for mode in MODES:
                for v in VARIANTS[r % 3:] + VARIANTS[:r % 3]:
                    workers[v].send(f"run {mode} {a.calls}")
                    rounds[v][mode].append(workers[v].read())
            print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)
        for w in workers.values():
            w.send("stop")
            w.read()
    finally:
        for w in workers.values():
            if w.proc.poll() is None:
                w.proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    out: dict = {}
    for mode in MODES:
        bare = rounds["bare"][mode]
        res = {}
        for v in VARIANTS:
            rs = rounds[v][mode]
            res[v] = {k: statistics.median(r[k] for r in rs) for k in ("wall_us", "cpu_us")}
            for k in ("wall_us", "cpu_us"):  # paired with the same round's bare run
                res[v]["added_" + k] = statistics.median(x[k] - b[k] for x, b in zip(rs, bare))
        reading = [x["wall_us"] - y["wall_us"] for x, y in zip(rounds["llmdebug"][mode],
                                                                rounds["llmdebug-no-headers"][mode])]
        res["reading_headers_us"] = statistics.median(reading)
        out[mode] = res
    return out


def _summary_of(path: str) -> int:
    for line in open(path):
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no instruction total in {path}")


def _counted(w: Worker, out: Path, command: str) -> int:
    """Instructions callgrind counts in worker ``w`` while it runs ``command``."""
    subprocess.run(["callgrind_control", "-z", str(w.proc.pid)], check=True, capture_output=True)
    before = set(glob.glob(f"{out}.*"))
    w.send(command)
    w.read()
    subprocess.run(["callgrind_control", "-d", str(w.proc.pid)], check=True, capture_output=True)
    for _ in range(600):
        new = set(glob.glob(f"{out}.*")) - before
        if new and os.path.getsize(next(iter(new))) > 0:
            break
        time.sleep(0.1)
    time.sleep(0.5)  # let callgrind finish writing the dump
    return _summary_of(sorted(new)[-1])


def _callgrind(out: Path) -> list[str]:
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p"]


def instructions(a) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="llmdebug-bench-rl-cg-"))
    per: dict = {}
    try:
        for v in VARIANTS:
            out = tmp / f"cg.{v}"
            w = Worker(v, tmp, a.warmup, prefix=_callgrind(out))
            try:
                w.read()
                per[v] = {mode: _counted(w, out, f"run {mode} {a.calls}") / a.calls for mode in MODES}
                w.send("stop")
                w.read()
            finally:
                w.proc.kill()
                w.proc.wait()
            print(f"{v} done", file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return per


def phases(a) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="llmdebug-bench-rl-ph-"))
    per: dict = {}
    try:
        for mode in MODES:
            out = tmp / f"cg.{mode}"
            os.environ["BENCH_MODE"] = mode
            w = Worker("phases", tmp, a.calls, prefix=_callgrind(out))
            try:
                w.read()
                per[mode] = {}
                for step in ("finalize", "rows", "insert"):
                    for flag in ("warm", "off", "on"):  # one-time work (first inserts, memos) goes to "warm"
                        per[mode][f"{step} {flag}"] = _counted(w, out, f"{step} {flag}") / a.calls
                w.send("stop")
                w.read()
            finally:
                w.proc.kill()
                w.proc.wait()
            print(f"{mode} done", file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return per


def table_phases(per: dict, bare: dict | None) -> str:
    lines = ["| mode | step | reading off | reading on | added |", "|---|---|---:|---:|---:|"]
    for mode in MODES:
        total = 0.0
        for step in ("finalize", "rows", "insert"):
            on, off = per[mode][f"{step} on"], per[mode][f"{step} off"]
            total += on - off
            lines.append(f"| {mode} | {step} | {off / 1e3:.1f} k | {on / 1e3:.1f} k | {(on - off) / 1e3:+.1f} k |")
        share = f" ({100 * total / bare[mode]:+.2f} % of the bare call)" if bare else ""
        lines.append(f"| {mode} | **total** | | | **{total / 1e3:+.1f} k**{share} |")
    return "\n".join(lines)


def table_wall(res: dict) -> str:
    lines = ["| mode | variant | µs/call (wall, incl. flush) | added vs bare | CPU µs/call | added CPU |",
             "|---|---|---:|---:|---:|---:|"]
    for mode in MODES:
        bare = res[mode]["bare"]
        for v in VARIANTS:
            x = res[mode][v]
            lines.append(f"| {mode} | {v} | {x['wall_us']:.1f} | {x['added_wall_us']:+.1f} µs "
                         f"({100 * x['added_wall_us'] / bare['wall_us']:+.1f} %) | {x['cpu_us']:.1f} | "
                         f"{x['added_cpu_us']:+.1f} µs |")
    lines.append("")
    for mode in MODES:
        r = res[mode]
        lines.append(f"- {mode}: reading the headers adds **{r['reading_headers_us']:+.1f} µs** a call "
                     f"({100 * r['reading_headers_us'] / r['bare']['wall_us']:+.2f} % of the bare call; "
                     "paired median, llmdebug minus llmdebug-no-headers)")
    return "\n".join(lines)


def table_instructions(per: dict) -> str:
    lines = ["| mode | variant | instructions/call | added vs bare | reading the headers |",
             "|---|---|---:|---:|---:|"]
    for mode in MODES:
        bare = per["bare"][mode]
        reading = per["llmdebug"][mode] - per["llmdebug-no-headers"][mode]
        for v in VARIANTS:
            n = per[v][mode]
            extra = f"{reading / 1e3:+.1f} k ({100 * reading / bare:+.2f} % of bare, " \
                    f"{100 * reading / (per['llmdebug-no-headers'][mode] - bare):+.1f} % of capture)" \
                if v == "llmdebug" else ""
            lines.append(f"| {mode} | {v} | {n / 1e6:.3f} M | {(n - bare) / 1e6:+.3f} M "
                         f"({100 * (n - bare) / bare:+.2f} %) | {extra} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=None, help="calls per round (wall: 200) or per mode (instructions: 100)")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--quick", action="store_true", help="wall clock: 150 calls x 6 rounds")
    ap.add_argument("--instructions", action="store_true", help="count instructions under callgrind instead")
    ap.add_argument("--phases", action="store_true", help="count the writer's added steps alone under callgrind")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker == "phases":
        phase_worker(a.db, a.warmup)  # (the call count travels as --warmup)
        return
    if a.worker:
        worker(a.worker, a.db, a.warmup or 0)
        return
    if a.phases:
        a.calls = a.calls or 200
        per = phases(a)
        bare_file = RESULTS / "ratelimit_headers_instructions.json"
        bare = None
        if bare_file.exists():  # per-call instructions of the bare SDK, for scale
            bare = {m: v["bare"][m] for m, v in [(m, json.loads(bare_file.read_text())["results"]) for m in MODES]}
        table, data, cmd = table_phases(per, bare), per, f"--phases --calls {a.calls}"
        name = "ratelimit_headers_phases"
    elif a.instructions:
        a.calls, a.warmup = a.calls or 100, 20 if a.warmup is None else a.warmup
        per = instructions(a)
        table, data, cmd = table_instructions(per), per, f"--instructions --calls {a.calls}"
        name = "ratelimit_headers_instructions"
    else:
        a.calls = a.calls or (150 if a.quick else 200)
        a.rounds = 6 if a.quick else a.rounds
        a.warmup = (50 if a.quick else 100) if a.warmup is None else a.warmup
        res = wall(a)
        table, data, cmd = table_wall(res), res, f"--calls {a.calls} --rounds {a.rounds}"
        name = "ratelimit_headers"
    print(table)
    if not a.no_write:
        RESULTS.mkdir(exist_ok=True)
        meta = {"command": f"python bench/ratelimit_headers.py {cmd}", "date": time.strftime("%Y-%m-%d %H:%M %Z"),
                "python": platform.python_version(), "cpus": os.cpu_count()}
        (RESULTS / f"{name}.json").write_text(json.dumps({"meta": meta, "results": data}, indent=2) + "\n")
        (RESULTS / f"{name}.md").write_text(
            f"# Reading rate-limit headers\n\n`{meta['command']}` — {meta['date']}, Python {meta['python']}, "
            f"{meta['cpus']} CPUs\n\n{table}\n")


if __name__ == "__main__":
    main()
