"""Subprocess worker for tests/test_robustness.py.

usage: robust_worker.py MODE DB_PATH N READY_FILE GO_FILE [BASE_URL]

MODE "openai": N real openai chat calls to BASE_URL; "spans": N ld.span spans,
flushing after each; "forever": spans in a loop (for kill -9), never exits, printing how many spans it has
handed over so far.
The worker imports everything, touches READY_FILE, waits for GO_FILE, then calls
ld.init(DB_PATH) (so that every worker opens the new file at the same moment).
"""

import os
import sys
import time

os.environ["LLMDEBUG_RAISE_ERRORS"] = "1"

import llmdebug as ld  # noqa: E402


def main() -> int:
    mode, db, n, ready, go = sys.argv[1:6]
    n = int(n)
    client = None
    if mode == "openai":
        import openai

        client = openai.OpenAI(base_url=sys.argv[6], api_key="sk-fake-test", max_retries=2)
    open(ready, "w").close()
    deadline = time.monotonic() + 60
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            return 3
        time.sleep(0.005)
    ld.init(db)
    pid = os.getpid()
    if mode == "openai":
        # Several threads per process: the fake server answers in ~50 ms (a delayed-ACK
        # round trip), so this keeps the test short and adds in-process contention too.
        from concurrent.futures import ThreadPoolExecutor

        def one(i):
            r = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"worker {pid} call {i}"}]
            )
            assert r.choices[0].message.content

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, range(n)))
    elif mode == "spans":
        for i in range(n):
            with ld.span(f"worker {pid} span {i}", kind="tool", i=i) as s:
                s.set_output({"i": i, "pid": pid})
            ld.flush()
    elif mode == "forever":
        i = 0
        payload = "x" * 4000
        handed = 0
        while True:
            with ld.trace(f"t{i}"):
                for j in range(20):
                    with ld.span(f"s{i}.{j}", data=payload, j=j) as s:
                        s.set_output(payload)
                    handed += 1
                    print(handed, flush=True)  # spans handed to llmdebug so far
            handed += 1  # the trace's own span
            print(handed, flush=True)
            i += 1
            if i % 5 == 0:
                ld.flush()
    ok = ld.flush(60)
    return 0 if ok else 4


if __name__ == "__main__":
    sys.exit(main())
