"""Where llmdebug's capture instructions go: each phase of its work on one call, counted
by callgrind (the profile behind bench/README.md's "capture cost, by phase").

    python bench/capture_phases.py nonstream 200     # or: stream 60 (needs valgrind; ~3 min)

The parent starts a worker under valgrind and zeroes/dumps callgrind's counters around
each phase it asks the worker to run: ``bare`` (the SDK call alone), ``caller`` (the
captured call on the caller's thread, spans kept in a list), then the writer thread's
phases one at a time over those spans: ``finalize`` (parse the response, usage, price),
``rows`` (the row tuples), ``insert`` (the two executemany), ``fts`` (search index) and
``rollup`` (hourly metrics). Reaches into the writer's internals on purpose: it times
them one by one.
"""
import glob
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PHASES = ["bare", "caller", "finalize", "rows", "insert", "fts", "rollup"]

def parent(mode, n):
    tmp = tempfile.mkdtemp(prefix="cgph-")
    out = f"{tmp}/cg"
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p", sys.executable,
                             __file__, "--worker", mode, str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, bufsize=1, env=dict(os.environ, PYTHONHASHSEED="0"))
    assert proc.stdout.readline().strip() == "ready"
    res = {}
    for ph in PHASES:
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True, capture_output=True)
        before = set(glob.glob(f"{out}.*"))
        proc.stdin.write(ph + "\n"); proc.stdin.flush()
        assert proc.stdout.readline().strip() == "done"
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
        for _ in range(600):
            new = set(glob.glob(f"{out}.*")) - before
            if new and os.path.getsize(next(iter(new))) > 0:
                break
            time.sleep(0.1)
        time.sleep(0.5)
        total = next(int(l.split()[1]) for l in open(sorted(new)[-1]) if l.startswith(("summary:", "totals:")))
        res[ph] = total / n
    proc.stdin.write("stop\n"); proc.stdin.flush(); proc.wait(60)
    bare = res["bare"]
    res["caller"] -= bare
    for ph in PHASES:
        print(f"{mode:9s} {ph:9s} {res[ph] / 1e3:9.1f} k instr/call  {'' if ph == 'bare' else f'{100 * res[ph] / bare:+6.2f} %'}")
    print(f"{mode:9s} {'TOTAL':9s} {sum(v for k, v in res.items() if k != 'bare') / 1e3:9.1f} k instr/call  "
          f"{100 * sum(v for k, v in res.items() if k != 'bare') / bare:+6.2f} %")

def worker(mode, n):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import capture_overhead as co
    import openai
    import llmdebug as ld
    from llmdebug import session, tracing
    from llmdebug.store import fts, rollup
    from llmdebug.store.rows import span_row, payload_row
    from llmdebug.store.tx import immediate
    from llmdebug.store.writer import _SPAN_SQL, _PAYLOAD_SQL
    db = tempfile.mkdtemp() + "/w.db"
    ld.init(db)
    client = co.make_client(openai.OpenAI)
    def call():
        if mode == "stream":
            for _ in client.chat.completions.create(model=co.MODEL, messages=co.MESSAGES, stream=True, stream_options={"include_usage": True}): pass
        else:
            client.chat.completions.create(model=co.MODEL, messages=co.MESSAGES)
    for _ in range(30): call()
    ld.flush(); ld.get(ld.last().id); conn = session.get_store().writer._connection()
    fts.catch_up(conn); rollup.catch_up(conn)
    spans, rows = [], {}
    def fin():
        for s in spans:
            raw = s._raw; s._raw = None; raw.finalize(s)
    def build():
        rows["s"] = [span_row(s) for s in spans]
        rows["p"] = [p for p in (payload_row(s) for s in spans) if p]
    def insert():
        with immediate(conn) as c:
            c.executemany(_SPAN_SQL, rows["s"]); c.executemany(_PAYLOAD_SQL, rows["p"])
    def bare():
        ld.uninstrument()
        for _ in range(n): call()
        ld.instrument()
    def caller():
        tracing.set_sink(spans.append)
        for _ in range(n): call()
    actions = {"bare": bare, "caller": caller, "finalize": fin, "rows": build, "insert": insert,
               "fts": lambda: fts.catch_up(conn), "rollup": lambda: rollup.catch_up(conn)}
    print("ready", flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "stop":
            return
        actions[cmd]()
        print("done", flush=True)

if __name__ == "__main__":
    if "-h" in sys.argv or "--help" in sys.argv:
        print(__doc__)
        sys.exit(0)
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    if sys.argv[1] == "--worker":
        worker(sys.argv[2], int(sys.argv[3]))
    else:
        parent(sys.argv[1], int(sys.argv[2]))
