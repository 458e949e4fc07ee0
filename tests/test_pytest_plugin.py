"""The pytest plugin is opt-in: a project that merely has llmdebug installed gets no
fixtures, hooks or imports from it; ``pytest_plugins = ["llmdebug.testing"]`` in a
conftest, or ``-p llmdebug.testing``, brings the ``llm_*`` fixtures. Each case is a
real pytest run in a subprocess, in a throwaway project outside this repository."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

FIXTURES = ["llm_server", "llm_server_env", "llm_openai_client", "llm_async_openai_client",
            "llm_anthropic_client", "llm_async_anthropic_client", "llm_gemini_client", "llm_async_gemini_client"]
OLD_NAMES = ["fake_llm", "fake_llm_env", "openai_client", "async_openai_client", "anthropic_client",
             "async_anthropic_client", "gemini_client", "async_gemini_client"]

# Passes only if nothing of llmdebug was imported into the run; the second test asks for a
# fixture, which must then be unknown.
UNRELATED_TEST = """
import sys

def test_llmdebug_is_not_loaded(pytestconfig):
    assert not [m for m in sys.modules if m.split(".")[0] == "llmdebug"]
    assert not [name for name, _ in pytestconfig.pluginmanager.list_name_plugin() if "llmdebug" in str(name)]

def test_asks_for_the_server(llm_server_env):
    pass
"""

# Uses the fixtures the way a user's project would: a real SDK call to the fake server.
USER_TEST = """
import os

def test_fake_server_answers(llm_server_env, llm_openai_client):
    r = llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content
    assert os.environ["OPENAI_BASE_URL"] == llm_server_env.openai_base_url
    assert len(llm_server_env.requests) == 1
"""


def _project(root: Path, test: str, conftest: str | None = None) -> Path:
    root.mkdir()
    (root / "pytest.ini").write_text("[pytest]\n")  # rootdir here, never this repository's config
    (root / "test_it.py").write_text(textwrap.dedent(test))
    if conftest is not None:
        (root / "conftest.py").write_text(conftest)
    return root


def _pytest(root: Path, *args: str, autoload: bool = True) -> subprocess.CompletedProcess:
    """pytest in ``root``. ``autoload``: installed plugins load as in any project (an entry point
    of llmdebug's would load here); without it the run takes a tenth of the time."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTEST_") and k not in ("PYTHONPATH", "LLMDEBUG_DB")}
    if not autoload:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def _fixture_names(out: str) -> set[str]:
    """The fixture names ``pytest --fixtures`` lists (each at the start of a line)."""
    return {line.split()[0] for line in out.splitlines() if line[:1].isalpha() or line[:1] == "_"}


def test_installed_llmdebug_adds_nothing_to_an_unrelated_project(tmp_path):
    root = _project(tmp_path / "unrelated", UNRELATED_TEST)
    listing = _pytest(root, "--fixtures")
    assert listing.returncode == 0, listing.stdout + listing.stderr
    names = _fixture_names(listing.stdout)
    assert "monkeypatch" in names  # the listing was read
    assert not {n for n in names if n.startswith("llm_")}, listing.stdout
    assert not names & set(OLD_NAMES), listing.stdout
    plugins = [line for line in listing.stdout.splitlines() if line.startswith("plugins:")]
    assert plugins and "llmdebug" not in plugins[0], plugins  # the header lists installed plugins
    run = _pytest(root, "-q", "-rE")
    assert "1 passed, 1 error" in run.stdout, run.stdout + run.stderr
    assert "fixture 'llm_server_env' not found" in run.stdout, run.stdout


def test_opting_in_with_pytest_plugins_in_conftest(tmp_path):
    root = _project(tmp_path / "user", USER_TEST, conftest='pytest_plugins = ["llmdebug.testing"]\n')
    listing = _pytest(root, "--fixtures", autoload=False)
    assert listing.returncode == 0, listing.stdout + listing.stderr
    names = _fixture_names(listing.stdout)
    assert set(FIXTURES) <= names, listing.stdout
    assert not names & set(OLD_NAMES), listing.stdout
    run = _pytest(root, "-q")
    assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout + run.stderr


def test_opting_in_for_one_run_with_dash_p(tmp_path):
    root = _project(tmp_path / "user", USER_TEST)
    run = _pytest(root, "-p", "llmdebug.testing", "-q", autoload=False)
    assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout + run.stderr


def test_this_suite_loads_the_plugin_explicitly():
    conftest = (Path(__file__).parent / "conftest.py").read_text()
    assert 'pytest_plugins = ["llmdebug.testing"]' in conftest


def test_importing_llmdebug_testing_does_not_import_pytest():
    code = "import sys, llmdebug.testing; print('pytest' in sys.modules, '_pytest' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
