"""Named rows: widgets sync tables of thousands of rows as positional lists, and the column names
with them (a ``fields`` trait), so the JavaScript never keeps a copy of Python's column order.
``ldRecords`` in _dom.js decodes a widget's synced state; here node runs it on the real state
of the trace tree (rows and the traces browser) and the dashboard (per-cell costs) and must
get what Python decodes, also after Python's column order changes."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import llmdebug as ld
from llmdebug import tracing
from llmdebug.widgets import dashboard as dash
from llmdebug.widgets import trace_tree as tt
from llmdebug.widgets.trace_tree import ROW_FIELDS, STRING_FIELDS, TRACE_FIELDS, TraceTree

WIDGETS = Path(__file__).resolve().parents[1] / "llmdebug" / "widgets"

_NODE_SCRIPT = r"""
const fs = require("fs");
const ldRecords = new Function(fs.readFileSync(process.argv[1], "utf8") + "; return ldRecords;")();
const { state, tables } = JSON.parse(fs.readFileSync(0, "utf8"));
const model = { get: (k) => state[k] };
const out = {};
for (const [table, interned] of tables) out[table] = ldRecords(model, table, interned ? state.strings : undefined);
process.stdout.write(JSON.stringify(out));
"""


def js_records(state: dict, tables: list[tuple[str, bool]]) -> dict:
    """What ldRecords (_dom.js) makes of ``state``'s tables ((name, decode interned strings))."""
    node = shutil.which("node")
    if not node:
        pytest.skip("node not installed")
    keep = {k: v for k, v in state.items() if k not in ("_esm", "_css")}
    out = subprocess.run([node, "-e", _NODE_SCRIPT, str(WIDGETS / "_dom.js")],
                         input=json.dumps({"state": keep, "tables": tables}),
                         capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


@pytest.fixture
def two_traces(ld_on, llm_openai_client):
    with ld.trace("agent"):
        with ld.span("plan", kind="agent"):
            llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        with ld.span("lookup", kind="tool") as s:
            s.set_input({"id": 1})
        try:
            llm_openai_client.with_options(max_retries=0).chat.completions.create(
                model="fail-400", messages=[{"role": "user", "content": "bad"}])
        except Exception:
            pass
    with ld.trace("second"):
        llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "again"}])
    ld.flush()


def _tree_and_browser() -> TraceTree:
    w = TraceTree(ld.traces()["trace_id"].iloc[0], browser=True)
    assert w.rows and w.traces
    return w


def test_the_tree_syncs_its_field_names(two_traces):
    w = _tree_and_browser()
    assert w.fields == {"rows": ROW_FIELDS, "rows_interned": STRING_FIELDS, "traces": TRACE_FIELDS}
    assert all(len(r) == len(w.fields["rows"]) for r in w.rows)
    assert all(len(r) == len(w.fields["traces"]) for r in w.traces)
    assert set(STRING_FIELDS) <= set(ROW_FIELDS)


def test_js_reads_the_rows_by_the_synced_names(two_traces):
    w = _tree_and_browser()
    js = js_records(w.get_state(), [("rows", True), ("traces", False)])
    assert js["rows"] == [{k: v for k, v in r.items() if k != "id"} for r in w.span_rows()]
    assert [r["name"] for r in js["rows"]] == ["agent", "plan", "openai.chat.completions", "lookup",
                                               "openai.chat.completions"]
    assert js["rows"][-1]["status"] == "error" and js["rows"][-1]["model"] == "fail-400"
    assert js["traces"] == w.trace_rows()
    assert {r["name"] for r in js["traces"]} == {"agent", "second"}


def test_a_new_column_order_in_python_needs_no_change_in_js(two_traces, monkeypatch):
    before = _tree_and_browser()
    expected_rows, expected_traces = before.span_rows(), before.trace_rows()
    monkeypatch.setattr(tt, "ROW_FIELDS", list(reversed(ROW_FIELDS)))
    monkeypatch.setattr(tt, "TRACE_FIELDS", TRACE_FIELDS[3:] + TRACE_FIELDS[:3])
    w = _tree_and_browser()
    assert w.rows != before.rows and w.traces != before.traces  # other positions...
    js = js_records(w.get_state(), [("rows", True), ("traces", False)])
    assert js["rows"] == [{k: v for k, v in r.items() if k != "id"} for r in expected_rows]  # ...same records
    assert js["traces"] == expected_traces


def test_the_dashboard_cells_are_named_too(ld_on, llm_openai_client):
    tracing.set_cell(7, "client.chat.completions.create(...)")
    try:
        llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        ld.flush()
        d = ld.dashboard()
    finally:
        tracing.set_cell(None)
        tracing.CELL_SOURCES.pop(7, None)
    c = d.controls
    assert c.fields == {"cells": dash.CELL_FIELDS} and c.cells
    js = js_records(c.get_state(), [("cells", False)])
    assert js["cells"] == [dict(zip(dash.CELL_FIELDS, row)) for row in c.cells]
    cell = js["cells"][0]
    assert cell["cell"] == 7 and cell["source"].startswith("client.chat") and cell["calls"] == 1
    assert cell["input_tokens"] > 0 and cell["cost_usd"] > 0


def test_a_table_without_synced_names_is_an_error_not_a_blank():
    node = shutil.which("node")
    if not node:
        pytest.skip("node not installed")
    script = _NODE_SCRIPT.replace('process.stdout.write(JSON.stringify(out));', '')
    r = subprocess.run([node, "-e", script, str(WIDGETS / "_dom.js")],
                       input=json.dumps({"state": {"rows": [[1, 2]]}, "tables": [["rows", False]]}),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and 'no field names for "rows"' in r.stderr


def test_no_widget_module_keeps_a_copy_of_a_column_order():
    """The old positional contract: a JS list or index map of Python's columns, kept in step by hand."""
    tables = {"rows": ROW_FIELDS, "traces": TRACE_FIELDS, "cells": dash.CELL_FIELDS}
    for js in WIDGETS.glob("*.js"):
        if js.name == "vega_runtime.js":
            continue
        text = js.read_text(encoding="utf-8")
        for table, names in tables.items():
            for a, b, c in zip(names, names[1:], names[2:]):
                assert not re.search(rf'"{a}",\s*"{b}",\s*"{c}"', text), (js.name, table, a, b, c)
                assert not re.search(rf'\b{a}:\s*\d+,\s*{b}:\s*\d+', text), (js.name, table, a, b)
        assert not re.search(r"const \[[a-z_]+, [a-z_]+, [a-z_]+, [a-z_]+", text), js.name  # row destructuring
