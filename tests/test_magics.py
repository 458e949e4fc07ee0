"""%load_ext llmdebug through IPython's test shell."""

import pytest

import llmdebug as ld

pytest.importorskip("IPython")


def test_load_ext_initialises_and_instruments(trace_db, capsys, fake_llm):
    from IPython.testing.globalipapp import get_ipython

    ip = get_ipython()
    ip.run_line_magic("load_ext", "llmdebug")
    out = capsys.readouterr().out
    assert "llmdebug: capturing" in out and str(trace_db) in out and "openai" in out
    import openai

    openai.OpenAI(base_url=fake_llm.openai_base_url, api_key="sk-x").chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert len(ld.calls()) == 1
    ip.run_line_magic("unload_ext", "llmdebug")
    assert ld.instrument.__module__ == "llmdebug.capture"
    from llmdebug.capture import instrumented

    assert instrumented() == []
