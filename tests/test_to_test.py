"""ld.to_test: a captured call becomes a pytest file plus a cassette. The file is run with
pytest in a subprocess: offline it passes on the fixed answer and fails when the cassette
holds the original failing one; --llm-record=all asks the (fake) model again."""

import json
import os
import subprocess
import sys

import pytest

import llmdebug as ld

pytestmark = pytest.mark.usefixtures("llm_server_env")  # ld.replay reads credentials from the environment

SCHEMA = {"type": "object", "required": ["answer"], "properties": {"answer": {"type": "string"}}}


def _pytest(path, *args, env=None):
    """Run the written file with pytest in a clean process: no OPENAI_*/ANTHROPIC_* set, so nothing
    can reach a server unless the caller says so."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_", "LLMDEBUG_"))}
    clean.update(env or {})
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:nbval", "-p", "llmdebug.testing",
                           "-W", "ignore::DeprecationWarning", str(path), *args],
                          capture_output=True, text=True, cwd=path.parent, env=clean, timeout=120)


def _cassette(path):
    (found,) = (path.parent / "cassettes" / path.stem).glob("*.json")
    return found


@pytest.fixture
def bad_and_fixed(ld_on, llm_openai_client):
    """A call whose answer is not JSON, and its replay with a JSON response format that fixes it."""
    llm_openai_client.chat.completions.create(model="gpt-4o-mini",
                                              messages=[{"role": "user", "content": "Summarise the refund policy"}])
    bad = ld.last()
    fixed = ld.replay(bad, system="Reply in JSON.", response_format={"type": "json_object"})
    assert fixed.replay_of == bad.id and json.loads(fixed.output_text)
    return bad, fixed


def test_the_file_passes_offline_and_fails_on_the_original_answer(bad_and_fixed, tmp_path, llm_server):
    bad, fixed = bad_and_fixed
    path = ld.to_test(fixed, tmp_path / "test_refund_policy.py", expect=["json", {"json_schema": SCHEMA}])
    source = path.read_text()
    assert source.count("llmdebug") <= 3 and "import llmdebug" not in source  # the plugin name, the docstring
    assert "'Reply in JSON.'" in source and "'response_format': {'type': 'json_object'}" in source  # the edit
    assert "jsonschema.validate(json.loads(text), SCHEMA)" in source
    compile(source, str(path), "exec")
    cassette = json.loads(_cassette(path).read_text())
    assert "sk-" not in json.dumps(cassette)  # no key stored

    sent = len(llm_server.requests)
    out = _pytest(path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "1 passed" in out.stdout and len(llm_server.requests) == sent  # offline

    # the original failing answer in place of the fixed one: the test fails
    cassette["interactions"][0]["response"]["json"] = bad.response
    _cassette(path).write_text(json.dumps(cassette))
    out = _pytest(path)
    assert out.returncode == 1 and "1 failed" in out.stdout, out.stdout[-3000:]
    assert "JSONDecodeError" in out.stdout

    # the original call's own test fails on its own recording
    orig = ld.to_test(bad, tmp_path / "test_original.py", expect="json")
    assert _pytest(orig).returncode == 1


def test_llm_record_all_checks_against_the_live_model(bad_and_fixed, tmp_path, llm_server):
    _, fixed = bad_and_fixed
    path = ld.to_test(fixed, tmp_path / "test_live.py", expect={"contains": "refund policy"})
    sent = len(llm_server.requests)
    out = _pytest(path, "--llm-record=all",
                  env={"OPENAI_BASE_URL": llm_server.openai_base_url, "OPENAI_API_KEY": "sk-live-check"})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert len(llm_server.requests) == sent + 1  # the model was asked again
    assert "sk-live-check" not in _cassette(path).read_text()


def test_builtin_expectations(ld_on, llm_openai_client, tmp_path):
    tools = [{"type": "function", "function": {"name": "lookup_order", "parameters": {
        "type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}]
    llm_openai_client.chat.completions.create(model="gpt-4o-mini", tools=tools,
                                              messages=[{"role": "user", "content": "1042"}])
    tool_call = ld.last()
    args = json.loads(tool_call.tool_calls[0]["arguments"])
    path = ld.to_test(tool_call, tmp_path / "test_tool.py", expect=[
        {"tool": "lookup_order", "arguments": args}, {"tool": "lookup_order"}, {"not_contains": "sorry"}])
    out = _pytest(path)
    assert out.returncode == 0, out.stdout[-3000:]
    path = ld.to_test(tool_call, tmp_path / "test_tool_wrong.py", expect={"tool": "lookup_order",
                                                                          "arguments": {"order_id": "9"}})
    assert _pytest(path).returncode == 1

    llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    text = ld.last().output_text
    (tmp_path / "checks.py").write_text(
        "import pydantic\n\n\nclass Reply(pydantic.BaseModel):\n    answer: str\n\n\n"
        "def polite(text):\n    return 'hi' in text\n\n\ndef rude(text):\n    return 'insult' in text\n")
    path = ld.to_test(ld.last(), tmp_path / "test_text.py", expect=[
        {"equals": text}, {"contains": "hi"}, {"function": "checks:polite"}])
    out = _pytest(path)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "from checks import polite" in path.read_text()
    for name, expect in (("rude", {"function": "checks:rude"}), ("model", {"model": "checks:Reply"})):
        assert _pytest(ld.to_test(ld.last(), tmp_path / f"test_{name}.py", expect=expect)).returncode == 1


def test_anthropic_call(ld_on, llm_anthropic_client, tmp_path):
    llm_anthropic_client.messages.create(model="claude-3-5-haiku-latest", max_tokens=100, system="Be brief.",
                                         messages=[{"role": "user", "content": "hello there"}])
    path = ld.to_test(ld.last(), tmp_path / "test_claude.py", expect={"contains": "hello there"})
    assert "import anthropic" in path.read_text() and "block.type == \"text\"" in path.read_text()
    out = _pytest(path)
    assert out.returncode == 0, out.stdout[-3000:]


def test_bad_input_is_a_clear_error(bad_and_fixed, tmp_path):
    _, fixed = bad_and_fixed
    with pytest.raises(ValueError, match="ending in .py"):
        ld.to_test(fixed, tmp_path / "test_x.txt")
    with pytest.raises(ValueError, match="unknown expectation 'matches'"):
        ld.to_test(fixed, tmp_path / "test_x.py", expect={"matches": "x"})
    with pytest.raises(ValueError, match="an expectation is 'json' or a dict"):
        ld.to_test(fixed, tmp_path / "test_x.py", expect=42)
    with pytest.raises(ValueError, match="'package.module:name'"):
        ld.to_test(fixed, tmp_path / "test_x.py", expect={"function": "no_colon"})

    class Local:
        __module__ = "__main__"

    with pytest.raises(ValueError, match="defined in a notebook or script"):
        ld.to_test(fixed, tmp_path / "test_x.py", expect={"model": Local})
    ld.to_test(fixed, tmp_path / "test_x.py")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        ld.to_test(fixed, tmp_path / "test_x.py")
    ld.to_test(fixed, tmp_path / "test_x.py", overwrite=True)
    with ld.trace("not a call") as t:
        pass
    with pytest.raises(ld.ReplayError, match="not an LLM call"):
        ld.to_test(t.id, tmp_path / "test_y.py")


def test_make_test_from_the_trace_tree_and_the_playground(bad_and_fixed, tmp_path):
    from llmdebug.widgets.playground import Playground
    from llmdebug.widgets.trace_tree import TraceTree

    bad, fixed = bad_and_fixed
    tree = TraceTree(fixed.trace_id, select=fixed.id)
    path = tmp_path / "test_from_tree.py"
    tree.action = {"kind": "make_test", "index": tree.selected, "path": str(path), "expect": "json\ncontains: refund"}
    assert tree.message.startswith(f"Wrote {path}") and path.exists()
    tree.action = {"kind": "make_test", "index": tree.selected, "path": str(path), "expect": "json", "n": 2}
    assert tree.message.startswith("Make test: FileExistsError") and "overwrite=True" in tree.message
    tree.action = {"kind": "make_test", "index": tree.selected, "path": str(tmp_path / "t.py"), "expect": ""}
    assert tree.message.startswith("Make test: ValueError: write at least one expectation")

    pg = Playground(bad)
    pg.run(params={"response_format": "{\"type\": \"json_object\"}"}, messages=[
        {"role": "system", "content": "Reply in JSON."}, {"role": "user", "content": "Summarise the refund policy"}])
    path = tmp_path / "test_from_playground.py"
    pg.test_request = {"n": 1, "path": str(path), "expect": "json"}
    assert pg.message.startswith(f"Wrote {path}")
    assert "'Reply in JSON.'" in path.read_text()  # the latest attempt, not the original
    assert _pytest(path).returncode == 0
