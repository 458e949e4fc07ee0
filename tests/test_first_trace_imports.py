"""The first trace loads only what it needs: %load_ext, one call and ld.show() in a fresh
process never import pandas, numpy or altair (they load when a DataFrame or chart is asked
for). Structural, not timed: bench/first_trace.py measures the time."""

import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("IPython")
pytest.importorskip("openai")

HEAVY = ("pandas", "numpy", "altair", "vl_convert", "narwhals", "jsonschema")

SCRIPT = textwrap.dedent("""
    import json, sys

    def heavy():
        return sorted(m for m in HEAVY if m in sys.modules)

    seen = {}
    import llmdebug as ld
    ld.init()
    seen["init"] = heavy()

    from IPython.core.interactiveshell import InteractiveShell
    from llmdebug.testing import FakeLLMServer

    server = FakeLLMServer().start()
    shell = InteractiveShell.instance()
    seen["ipython"] = heavy()  # what IPython itself loads is not llmdebug's doing
    ok = [shell.run_cell("%load_ext llmdebug").success]
    seen["load_ext"] = heavy()
    ok.append(shell.run_cell(
        "import llmdebug as ld, openai\\n"
        f"client = openai.OpenAI(base_url={server.openai_base_url!r}, api_key='sk-fake', max_retries=0)\\n"
        "client.chat.completions.create(model='gpt-4o-mini', messages=[{'role': 'user', 'content': 'Hi'}])"
    ).success)
    seen["call"] = heavy()
    ok.append(shell.run_cell("tree = ld.show()\\nassert len(tree.rows) == 1, tree.rows").success)
    seen["show"] = heavy()
    ok.append(shell.run_cell("ld.calls()").success)  # the DataFrame API still works, loading pandas now
    seen["calls"] = heavy()
    server.stop()
    print(json.dumps({"ok": ok, "seen": seen}))
""")


def test_first_trace_loads_no_pandas_or_charts(tmp_path):
    env_script = f"HEAVY = {HEAVY!r}\n" + SCRIPT
    out = subprocess.run([sys.executable, "-c", env_script], capture_output=True, text=True, cwd=tmp_path,
                         timeout=120, env={"PATH": "/usr/bin:/bin", "LLMDEBUG_DB": str(tmp_path / "t.db"),
                                           "HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["ok"] == [True] * 4, out.stdout[-3000:]
    seen = res["seen"]
    assert seen["init"] == [], seen
    for step in ("load_ext", "call", "show"):
        assert set(seen[step]) == set(seen["ipython"]), (step, seen)
    assert "pandas" in seen["calls"]  # the check above would catch a lazy import that never happens


def test_sqlite_utils_keeps_numpy_and_pandas_types(tmp_path):
    # the store imports sqlite-utils without pandas; sqlite-utils still maps their types later
    code = textwrap.dedent("""
        import llmdebug.store
        import sys
        assert "pandas" not in sys.modules and "numpy" not in sys.modules
        import numpy, pandas, sqlite_utils
        db = sqlite_utils.Database(memory=True)
        db["t"].insert({"n": numpy.int64(3), "x": numpy.float32(0.5), "t": pandas.Timestamp("2026-01-01")})
        print(db["t"].columns_dict)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "{'n': <class 'int'>, 'x': <class 'float'>, 't': <class 'str'>}"
