"""The README tells the truth: every public name is documented, the two commands are
the ones CI runs, and the example script works."""

import re
import subprocess
import sys
from pathlib import Path

import llmdebug as ld

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_every_public_name_is_documented():
    for name in ld.__all__:
        if name.startswith("__"):
            continue
        # functions are shown called, namespaces used, classes named
        pattern = rf"ld\.{name}\b" if name[0].isupper() else rf"ld\.{name}[(.]"
        assert re.search(pattern, README), f"ld.{name} is not in the README's API section"


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"^(python3\.11 -m venv .*)$", README, flags=re.M)
    assert len(commands) == 2, "the README starts with exactly two commands"
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci


def test_fake_server_triggers_are_documented():
    from llmdebug.testing import server

    for trigger in ("fail-429", "fail-500", "fail-400", "fail-529", "fail-401", "flaky-N", "cut", "slow-MS"):
        assert trigger in README and trigger in server.__doc__


def test_example_script_runs(tmp_path):
    env = {"LLMDEBUG_DB": str(tmp_path / "ex.db"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")], capture_output=True,
                         text=True, env=env, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "deterministic reply" in out.stdout and "gpt-4o-mini" in out.stdout


def test_committed_notebooks_have_no_outputs():
    import nbformat

    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert len(notebooks) >= 2
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: outputs not stripped"
