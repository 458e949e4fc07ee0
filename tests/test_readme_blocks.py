"""Every code block in the README works.

- ```python blocks run, in README order, in one IPython shell in a child process (so
  ``%load_ext llmdebug`` and the other magics run too, as in a notebook cell), against the
  fake LLM server through ``openai.OpenAI()``'s own environment variables
  (``OPENAI_BASE_URL``/``OPENAI_API_KEY``), with ``LLMDEBUG_DB`` and the working directory in
  a temp dir. A block the README marks with ``<!-- not run: REASON -->`` on the line before
  it is skipped, with that reason.
- ```bash blocks are checked, not run: the files they name exist, the extras they install
  are in pyproject.toml, and every ``--flag`` they pass to a script or module appears in
  its ``--help``; nbconvert options are options nbconvert knows.
- The ```text block of ``%llmdebug`` lines names only subcommands the magic has.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NOT_RUN = re.compile(r"^<!--\s*not run:\s*(.+?)\s*-->$")


@dataclass
class Block:
    lang: str
    line: int  # of the opening fence, 1-based
    source: str
    not_run: str | None

    @property
    def id(self) -> str:
        return f"{self.lang}-L{self.line}"


def readme_blocks(text: str | None = None) -> list[Block]:
    lines = (README.read_text() if text is None else text).splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        start, body = i, []
        i += 1
        while i < len(lines) and lines[i].rstrip() != "```":
            body.append(lines[i])
            i += 1
        assert i < len(lines), f"README line {start + 1}: a code block is never closed"
        prev = next((lines[k].strip() for k in range(start - 1, -1, -1) if lines[k].strip()), "")
        mark = NOT_RUN.match(prev)
        blocks.append(Block(m.group(1), start + 1, "\n".join(body) + "\n", mark.group(1) if mark else None))
        i += 1
    return blocks


BLOCKS = readme_blocks()
PYTHON = [b for b in BLOCKS if b.lang == "python"]
BASH = [b for b in BLOCKS if b.lang == "bash"]


def test_the_readme_parser_finds_blocks_and_marks():
    blocks = readme_blocks("x\n<!-- not run: needs a collector -->\n```python\na = 1\n```\n\n```bash\nls\n```\n")
    assert [(b.lang, b.line, b.source, b.not_run) for b in blocks] == [
        ("python", 3, "a = 1\n", "needs a collector"), ("bash", 7, "ls\n", None)]
    assert len(PYTHON) >= 10 and len(BASH) >= 5
    assert all(b.lang in ("python", "bash", "text", "") for b in BLOCKS), [b.id for b in BLOCKS]
    # exceptions stay few, and each says why
    skipped = [b for b in PYTHON if b.not_run]
    assert len(skipped) <= 3, [(b.id, b.not_run) for b in skipped]
    assert all(len(b.not_run) > 10 for b in skipped)


# ---- python: run them all, in order, in one IPython shell ------------------------------

RUNNER = r'''
import contextlib, io, json, re, sys, traceback
from IPython.core.interactiveshell import InteractiveShell

blocks = json.load(open(sys.argv[1]))
shell = InteractiveShell.instance()
try:
    shell.colors = "nocolor"  # IPython 9
except Exception:
    shell.colors = "NoColor"
results = []
for b in blocks:
    print(f"\n===== README line {b['line']} =====", flush=True)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        r = shell.run_cell(b["source"], store_history=True)
    sys.stdout.write(out.getvalue())
    err = r.error_before_exec or r.error_in_exec
    error = None if err is None else "".join(traceback.format_exception(err))[-4000:]
    # the magics answer a mistake with a printed usage, not an exception
    bad = re.search(r"^llmdebug: (unknown command|cassette mode|.*\bUsage\b).*$", out.getvalue(), re.M)
    if error is None and bad:
        error = "printed: " + bad.group(0)
    results.append({"line": b["line"], "ok": error is None, "error": error})
    sys.stdout.flush()
json.dump(results, open(sys.argv[2], "w"))
try:  # the receiver and the fake server's threads must not keep the process alive
    import llmdebug as ld
    ld.flush()
except Exception:
    pass
'''


@pytest.fixture(scope="module")
def python_results(tmp_path_factory):
    from llmdebug.testing import FakeLLMServer

    tmp = tmp_path_factory.mktemp("readme")
    blocks = [{"line": b.line, "source": b.source} for b in PYTHON if not b.not_run]
    (tmp / "blocks.json").write_text(json.dumps(blocks))
    (tmp / "runner.py").write_text(RUNNER)
    server = FakeLLMServer().start()
    try:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("OPENAI_", "ANTHROPIC_", "GOOGLE_", "GEMINI_", "LLMDEBUG_", "OTEL_"))}
        env.update(OPENAI_BASE_URL=server.openai_base_url, OPENAI_API_KEY="sk-fake",
                   ANTHROPIC_BASE_URL=server.anthropic_base_url, ANTHROPIC_API_KEY="sk-fake",
                   LLMDEBUG_DB=str(tmp / "llmdebug.db"), LLMDEBUG_RAISE_ERRORS="1",
                   LITELLM_LOCAL_MODEL_COST_MAP="True", MPLBACKEND="Agg")
        out = subprocess.run([sys.executable, str(tmp / "runner.py"), str(tmp / "blocks.json"),
                              str(tmp / "results.json")], cwd=tmp, env=env, capture_output=True, text=True,
                             timeout=300)
    finally:
        server.stop()
    log = f"stdout:\n{out.stdout[-6000:]}\nstderr:\n{out.stderr[-6000:]}"
    assert out.returncode == 0 and (tmp / "results.json").exists(), log
    return {r["line"]: r for r in json.loads((tmp / "results.json").read_text())}, log


@pytest.mark.parametrize("block", PYTHON, ids=[b.id for b in PYTHON])
def test_python_block_runs(block, python_results):
    if block.not_run:
        pytest.skip(f"README marks it not run: {block.not_run}")
    results, log = python_results
    r = results[block.line]
    assert r["ok"], f"README line {block.line}:\n{block.source}\n{r['error']}"


# ---- bash: the commands and flags they name exist --------------------------------------

def _help(argv: list[str]) -> str:
    out = subprocess.run(argv + ["--help"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, f"{' '.join(argv)} --help failed:\n{out.stderr[-2000:]}"
    return out.stdout


def _flags_in_help(argv: list[str], args: list[str]) -> None:
    text = _help(argv)
    for a in args:
        if a.startswith("--"):
            flag = a.split("=", 1)[0]
            assert re.search(rf"(^|[\s\[,]){re.escape(flag)}\b", text), f"{' '.join(argv)} has no {flag}"


def _nbconvert_options() -> str:
    out = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--help-all"], capture_output=True,
                         text=True, timeout=120)
    return out.stdout


def _check_command(tokens: list[str], extras: set[str]) -> None:
    prog = Path(tokens[0]).name
    args = tokens[1:]
    if prog.startswith("python") and args[:2] == ["-m", "venv"]:
        return
    if prog == "pip":
        for a in args:
            m = re.fullmatch(r"\.\[(.+)\]", a)
            if m:
                assert set(m.group(1).split(",")) <= extras, f"pyproject.toml has no extra {m.group(1)}"
        return
    if prog == "jupyter" and args[0] == "lab":
        for a in args[1:]:
            if not a.startswith("-"):
                assert (ROOT / a).exists(), f"{a} does not exist"
        return
    if prog == "jupyter" and args[0] == "nbconvert":
        options = _nbconvert_options()
        for a in args[1:]:
            m = re.fullmatch(r"--(\w+)\.(\w+)=(.+)", a)
            if m:
                cls, trait, value = m.groups()
                assert f"--{cls}.{trait}=" in options, f"nbconvert has no option {cls}.{trait}"
                if re.fullmatch(r"[\w.]+\.[A-Z]\w+", value):  # a class by import path
                    mod, name = value.rsplit(".", 1)
                    assert hasattr(__import__(mod, fromlist=[name]), name), value
            elif a.startswith("--"):
                assert re.search(rf"^{re.escape(a)}\b", options, flags=re.M), f"nbconvert has no {a}"
        return
    if prog.startswith("python"):
        if args[0] == "-m":
            if args[1] == "pytest":
                return
            _flags_in_help([sys.executable, "-m", args[1]], args[2:])
            return
        script = ROOT / args[0]
        assert script.exists(), f"{args[0]} does not exist"
        _flags_in_help([sys.executable, str(script)], args[1:])
        return
    raise AssertionError(f"the README names a command this test does not know how to check: {tokens}")


@pytest.mark.parametrize("block", BASH, ids=[b.id for b in BASH])
def test_bash_block_names_what_exists(block):
    if block.not_run:
        pytest.skip(f"README marks it not run: {block.not_run}")
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    checked = 0
    for line in block.source.splitlines():
        tokens = shlex.split(line, comments=True)
        command: list[str] = []
        for t in tokens + ["&&"]:
            if t == "&&":
                if command:
                    _check_command(command, extras)  # raises for what does not exist
                    checked += 1
                command = []
            else:
                command.append(t)
    assert checked, f"no command found in the README's bash block {block.id}"


def test_magic_listing_names_real_subcommands():
    from llmdebug import magics

    source = Path(magics.__file__).read_text()
    listing = [b for b in BLOCKS if b.lang == "text" and "%llmdebug" in b.source]
    assert listing, "the README lists the %llmdebug magics"
    for line in listing[0].source.splitlines():
        m = re.match(r"%llmdebug (\w+)", line)
        if m:
            assert re.search(rf"[\"']{m.group(1)}[\"']", source), f"%llmdebug has no subcommand {m.group(1)}"
