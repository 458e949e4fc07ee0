"""Make test… in a real JupyterLab + headless Chromium: a notebook makes a call to the
fake server and shows it in the trace tree and the playground; the test clicks Make test…
in the detail pane and in the playground, types a path and expectations, writes the
files, checks the kernel saw them, and runs each written file with pytest (offline)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jlab import assert_clean, run_notebook, widget  # skips without a browser

import nbformat  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

NB_REL = "notebooks/make-test-check.ipynb"

SETUP = '''\
from llmdebug.testing import FakeLLMServer

server = FakeLLMServer().start()  # deterministic, on 127.0.0.1

import llmdebug as ld
ld.init("make-test-check.db")

import openai
client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-fake")'''

CALL = '''\
client.chat.completions.create(model="gpt-4o-mini", response_format={"type": "json_object"}, messages=[
    {"role": "system", "content": "Reply in JSON."}, {"role": "user", "content": "Summarise the refund policy"}])
call = ld.last()'''

SHOW = "ld.show(call)"
PLAYGROUND = "ld.playground(call)"
PROBE = 'import pathlib\nprint(sorted(p.as_posix() for p in pathlib.Path("made").rglob("*.py")))'


def _write_notebook(path: Path) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    sources = [SETUP, CALL, SHOW, PLAYGROUND, PROBE]
    nb.cells = [nbformat.v4.new_markdown_cell("# Make test… check")] + [nbformat.v4.new_code_cell(s) for s in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return {"n_code": len(sources), "show": sources.index(SHOW), "playground": sources.index(PLAYGROUND),
            "probe": sources.index(PROBE)}


@pytest.fixture(scope="module")
def run(browser, lab, lab_root, artifacts):
    cells = _write_notebook(lab_root / NB_REL)
    with run_notebook(browser, lab, artifacts, NB_REL, cells, workspace="make-test") as r:
        r.root = lab_root / "notebooks"  # the kernel's working directory
        yield r


def _pytest(path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LLMDEBUG_"))}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:nbval",
                           "-p", "llmdebug.testing", "-W", "ignore::DeprecationWarning", str(path)],
                          capture_output=True, text=True, cwd=path.parent, env=env, timeout=120)


def _probe(run, text: str) -> None:
    probe = run.code_cell(run.cells["probe"])
    probe.locator(".jp-InputArea-editor").click()
    run.page.keyboard.press("Control+Enter")  # run it, stay on it
    expect(probe.locator(".jp-OutputArea-output")).to_contain_text(text, timeout=30_000)


def test_make_test_in_the_detail_pane_writes_a_test_that_passes(run):
    with run.shot("make-test-01-detail-pane"):
        assert_clean(run)
        w = widget(run, run.cells["show"])
        detail = w.locator(".ldt-detail")
        expect(detail.locator(".ldt-detail-title")).to_contain_text("openai.chat.completions", timeout=30_000)
        form = detail.locator(".ldt-make-test")
        expect(form).to_be_hidden()
        detail.locator("button.ldt-make-test-btn").click()
        expect(form).to_be_visible()
        form.locator("input.ldt-mt-path").fill("made/test_refund_policy.py")
        form.locator("textarea.ldt-mt-expect").fill('json\ncontains: refund policy\nschema: {"type": "object"}')
        form.locator("button.ldt-mt-write").click()
        expect(w.locator(".ldt-message")).to_contain_text("Wrote made/test_refund_policy.py", timeout=30_000)
        expect(w.locator(".ldt-message")).to_contain_text("pytest -p llmdebug.testing")
    _probe(run, "made/test_refund_policy.py")
    path = run.root / "made" / "test_refund_policy.py"
    source = path.read_text()
    assert "assert 'refund policy' in text" in source and "jsonschema.validate" in source
    out = _pytest(path)
    assert out.returncode == 0 and "1 passed" in out.stdout, out.stdout[-3000:] + out.stderr[-2000:]


def test_a_bad_expectation_says_so_in_place(run):
    with run.shot("make-test-02-bad-expectation"):
        w = widget(run, run.cells["show"])
        form = w.locator(".ldt-detail .ldt-make-test")
        if form.is_hidden():
            w.locator(".ldt-detail button.ldt-make-test-btn").click()
        form.locator("input.ldt-mt-path").fill("made/test_other.py")
        form.locator("textarea.ldt-mt-expect").fill("looks good")
        form.locator("button.ldt-mt-write").click()
        expect(w.locator(".ldt-message")).to_contain_text("Make test: ValueError: expectation 'looks good'",
                                                          timeout=30_000)
        assert not (run.root / "made" / "test_other.py").exists()
        assert_clean(run)


def test_make_test_in_the_playground(run):
    with run.shot("make-test-03-playground"):
        cell = run.code_cell(run.cells["playground"])
        cell.evaluate("e => e.scrollIntoView({block: 'start'})")
        pg = cell.locator(".jp-OutputArea-output .llmdebug-pg")
        expect(pg).to_have_count(1)
        form = pg.locator(".ldp-make-test")
        expect(form).to_be_hidden()
        pg.locator("button.ldp-make-test-btn").click()
        form.locator("input.ldp-mt-path").fill("made/test_from_playground.py")
        form.locator("textarea.ldp-mt-expect").fill("json\nnot contains: sorry")
        form.locator("button.ldp-mt-write").click()
        expect(pg.locator(".ldp-status")).to_contain_text("Wrote made/test_from_playground.py", timeout=30_000)
    _probe(run, "made/test_from_playground.py")
    out = _pytest(run.root / "made" / "test_from_playground.py")
    assert out.returncode == 0 and "1 passed" in out.stdout, out.stdout[-3000:] + out.stderr[-2000:]
    assert_clean(run)
