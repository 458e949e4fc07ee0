"""%load_ext llmdebug, the %llmdebug magics and the per-cell summary, through IPython's test shell."""

import pytest

import llmdebug as ld

pytest.importorskip("IPython")


@pytest.fixture
def ip(trace_db, llm_server, monkeypatch, capsys):
    from IPython.testing.globalipapp import get_ipython

    shell = get_ipython()
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.openai_base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake")
    shell.run_line_magic("load_ext", "llmdebug")
    shell.run_cell("import openai, llmdebug as ld\nclient = openai.OpenAI()")
    capsys.readouterr()
    yield shell
    shell.run_line_magic("unload_ext", "llmdebug")


def _chat(text="hi", model="gpt-4o-mini"):
    return f"client.chat.completions.create(model={model!r}, messages=[{{'role': 'user', 'content': {text!r}}}])"


def test_load_ext_initialises_and_instruments(ip, trace_db, capsys):
    ip.run_line_magic("unload_ext", "llmdebug")
    ip.run_line_magic("load_ext", "llmdebug")
    out = capsys.readouterr().out
    assert "llmdebug: capturing" in out and str(trace_db) in out and "openai" in out
    ip.run_cell(_chat())
    assert len(ld.calls()) == 1


def test_status_on_off_and_db(ip, tmp_path, capsys):
    ip.run_line_magic("llmdebug", "")
    assert "capturing" in capsys.readouterr().out
    ip.run_line_magic("llmdebug", "off")
    ip.run_cell(_chat())
    assert len(ld.calls()) == 0
    ip.run_line_magic("llmdebug", "on")
    ip.run_cell(_chat())
    assert len(ld.calls()) == 1
    other = tmp_path / "other.db"
    ip.run_line_magic("llmdebug", f"db {other}")
    assert str(other) in capsys.readouterr().out
    ip.run_cell(_chat())
    from llmdebug import session

    assert session.get_store().path == other and len(ld.calls()) == 1


def test_show_last_and_calls(ip):
    ip.run_cell("with ld.trace('agent <script>'):\n    " + _chat("<script>alert(1)</script>"))
    view = ip.run_line_magic("llmdebug", "show")
    assert view.__class__.__name__ == "TraceTree" and len(view.rows) == 2
    text = repr(view)
    assert "agent <script>" in text and "openai.chat.completions" in text
    data, _ = view._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data and data["text/plain"] == text
    assert "<script>" not in data["text/html"] and "agent &lt;script&gt;" in data["text/html"]
    last = ip.run_line_magic("llmdebug", "last")
    assert last.model == "gpt-4o-mini"
    df = ip.run_line_magic("llmdebug", "calls model=gpt-4o-mini limit=5")
    assert len(df) == 1
    span_view = ip.run_line_magic("llmdebug", f"show {last.id}")
    assert repr(span_view) == text


def test_cell_magic_runs_cell_in_a_named_trace(ip):
    view = ip.run_cell_magic("llmdebug", "my step", _chat("one") + "\n" + _chat("two"))
    tr = ld.traces()
    assert list(tr["name"]) == ["my step"] and tr.iloc[0]["calls"] == 2
    assert repr(view).count("openai.chat.completions") == 2


def test_unknown_subcommand_prints_usage(ip, capsys):
    assert ip.run_line_magic("llmdebug", "frobnicate") is None
    out = capsys.readouterr().out
    assert "unknown command" in out and "%llmdebug show" in out
    ip.run_line_magic("llmdebug", "calls nonsense")
    assert "key=value" in capsys.readouterr().out


def test_cell_summary_after_cells_with_calls(ip, capsys):
    shown = []
    import IPython.display as d

    orig = d.display
    d.display = lambda obj, **k: shown.append(obj)
    try:
        ip.run_cell("x = 1")  # no LLM call: no summary
        ip.run_cell(_chat("a"))
        ip.run_cell("try:\n    " + _chat("b", model="fail-400").replace("client.", "client.with_options(max_retries=0).")
                    + "\nexcept Exception:\n    pass")
        ip.run_line_magic("llmdebug", "summary off")
        ip.run_cell(_chat("c"))
    finally:
        d.display = orig
    assert len(shown) == 2
    assert repr(shown[0]).startswith("llmdebug: 1 LLM call") and "0 errors" in repr(shown[0])
    assert "1 error" in repr(shown[1])
    html = shown[0]._repr_html_()
    assert html.startswith("<details") and "openai.chat.completions" in html


def test_summary_and_tree_escape_hostile_text():
    from llmdebug.widgets.text import CellSummary, TraceText

    row = {"id": "a", "parent_id": None, "name": "<img src=x onerror=alert(1)>", "kind": "llm", "status": "error",
           "error_type": "X", "error_message": "<script>alert(2)</script>", "model": "<b>m</b>", "latency_ms": 5.0,
           "started_at": "t", "trace_id": "a", "input_tokens": 1, "output_tokens": 2, "cost_usd": None, "retries": 0}
    html = TraceText([row], "<i>t</i>")._repr_html_() + CellSummary([row], {"a": [row]})._repr_html_()
    assert "<img" not in html and "<script>" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_spans_remember_the_cell_that_made_them(ip):
    n1 = ip.run_cell(_chat("first"), store_history=True).execution_count
    n2 = ip.run_cell("with ld.trace('two calls'):\n    " + _chat("a") + "\n    " + _chat("b"),
                     store_history=True).execution_count
    df = ld.spans()
    assert list(df["cell"]) == [n1, n2, n2, n2]
    per_cell = ld.metrics(by="cell")
    assert per_cell["calls"].to_dict() == {n1: 1, n2: 2} and per_cell["cost_usd"].notna().all()
    from llmdebug import tracing

    assert tracing.CELL_SOURCES[n1].startswith("client.chat.completions.create(")
    assert tracing.CELL is None  # outside a cell (e.g. a later background thread)
    ld.flush()
    with ld.trace("outside"):
        pass
    assert ld.spans(name="outside")["cell"].isna().all()


def test_status_shows_the_writers_buffer_and_what_was_shed(ip, trace_db, capsys, monkeypatch):
    from llmdebug import session

    ip.run_line_magic("llmdebug", "")
    out = capsys.readouterr().out
    assert "writer keeping up; 0 spans in memory (0.0 of 256 MB, LLMDEBUG_MAX_BUFFER_MB)" in out
    w = session.get_store().writer
    monkeypatch.setattr(w, "shed_payloads", 12)
    monkeypatch.setattr(w, "shed_bytes", 3 * 2**20)
    monkeypatch.setattr(w, "dropped", 2)
    ip.run_line_magic("llmdebug", "")
    assert "over the cap so far: 12 payloads shed (3.0 MB), 2 spans dropped" in capsys.readouterr().out
