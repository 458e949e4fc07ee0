"""Capture cost in CPU instructions: a measure this noisy 2-core VM cannot blur.

Wall-clock timings here drift by tens of percent between runs (see
capture_overhead.py, which pairs rounds to cope). Valgrind's callgrind counts the
instructions every thread of a process executes, repeatably. Each variant of
capture_overhead.py (bare SDK, llmdebug, OpenInference + OpenTelemetry, Langfuse)
runs in its own worker under callgrind; after warm-up the counters are zeroed,
N calls are made and the tracer is flushed (llmdebug: writes and search indexing;
the others: their batch exporters), and the counters are dumped. Reported: the
instructions per call, what each tracer adds over the bare SDK, and how many times
llmdebug's addition the others' are.

    python bench/capture_instructions.py [--calls N]      # needs valgrind (Debian: valgrind)

About 10 minutes: the Python start-up and imports run under callgrind too.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))
from capture_overhead import MARK, MODES, VARIANTS  # noqa: E402


def _summary(path: str) -> int:
    for line in open(path):
        if line.startswith("summary:") or line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no instruction total in {path}")


def measure(variant: str, calls: int, warmup: int, tmp: Path) -> dict:
    out = tmp / f"cg.{variant}"
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p", sys.executable,
           str(HERE / "capture_overhead.py"), "--worker", variant, "--db", str(tmp / f"{variant}.db"),
           "--warmup", str(warmup)]
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop("LLMDEBUG_RAISE_ERRORS", None)
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, bufsize=1, env=env, cwd=str(tmp))

    def read() -> dict:
        for line in proc.stdout:
            if line.startswith(MARK):
                return json.loads(line[len(MARK):])
        raise RuntimeError(f"{variant} worker exited with {proc.wait()}")

    def control(flag: str) -> None:
        subprocess.run(["callgrind_control", flag, str(proc.pid)], check=True, capture_output=True)

    result = {}
    try:
        read()  # warmed up
        for mode in MODES:
            control("-z")
            before = set(glob.glob(f"{out}.*"))
            proc.stdin.write(f"run {mode} {calls}\n")
            proc.stdin.flush()
            read()
            control("-d")
            for _ in range(600):
                new = set(glob.glob(f"{out}.*")) - before
                if new and os.path.getsize(next(iter(new))) > 0:
                    break
                time.sleep(0.1)
            time.sleep(0.5)  # let callgrind finish writing the dump
            result[mode] = _summary(sorted(new)[-1]) / calls
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        read()
    finally:
        proc.kill()
        proc.wait()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="llmdebug-instr-"))
    per = {v: measure(v, a.calls, a.warmup, tmp) for v in VARIANTS}
    lines = ["| variant | mode | instructions/call | added | vs bare | added ÷ llmdebug's |",
             "|---|---|---:|---:|---:|---:|"]
    summary: dict = {"calls": a.calls, "results": {}}
    for mode in MODES:
        bare = per["bare"][mode]
        ld_add = per["llmdebug"][mode] - bare
        for v in VARIANTS:
            n = per[v][mode]
            add = n - bare
            ratio = "—" if v in ("bare", "llmdebug") else f"{add / ld_add:.1f}×"
            lines.append(f"| {v} | {mode} | {n / 1e6:.2f} M | {add / 1e6:+.2f} M | {100 * add / bare:+.1f} % | {ratio} |")
            summary["results"].setdefault(mode, {})[v] = {"instructions": n, "added": add,
                                                           "added_pct": 100 * add / bare}
    table = "\n".join(lines)
    print(table)
    if not a.no_write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "capture_instructions.json").write_text(json.dumps(summary, indent=2) + "\n")
        (RESULTS / "capture_instructions.md").write_text(
            f"# Capture cost in instructions\n\n`python bench/capture_instructions.py --calls {a.calls}` — "
            f"{time.strftime('%Y-%m-%d')}, callgrind, all threads, {a.calls} calls after {a.warmup} warm-up.\n\n"
            + table + "\n")


if __name__ == "__main__":
    main()
