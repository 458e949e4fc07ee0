"""A notebook recorded against the fake server re-runs under nbval with the server
stopped and the network blocked, with identical outputs (issue 13's "done when").

Run 1 executes the notebook in a real kernel (nbclient) with the server up; its
``%llmdebug cassette ... auto`` cell records. Run 2 is ``pytest --nbval`` on the saved
notebook (every output compared) in a process whose Python sockets cannot connect
anywhere (a sitecustomize; the kernel's own ZMQ sockets are libzmq's, not Python's).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from llmdebug.testing import FakeLLMServer

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("nbval")
pytest.importorskip("openai")

pytestmark = pytest.mark.slow

SECRET = "sk-notebook-secret-0123456789"
IGNORE = "# NBVAL_IGNORE_OUTPUT\n"  # what differs between the runs by design: paths, counts

CELLS = [
    IGNORE + "import os\nimport openai\nimport llmdebug as ld\n"
    f"client = openai.OpenAI(base_url=os.environ['NB_API_URL'], api_key='{SECRET}', max_retries=1)",
    IGNORE + "%load_ext llmdebug",
    "%llmdebug summary off",
    IGNORE + "%llmdebug cassette calls.json auto",
    "r = client.chat.completions.create(model='gpt-4o-mini', messages=[{'role': 'user', 'content': 'hello'}])\n"
    "print(r.choices[0].message.content)\nprint(r.usage.total_tokens)",
    "chunks = client.chat.completions.create(model='gpt-4o-mini', stream=True,\n"
    "    messages=[{'role': 'user', 'content': 'Count to three'}])\n"
    "print([c.choices[0].delta.content for c in chunks if c.choices])",
    "r = client.chat.completions.create(model='gpt-4o-mini-flaky-1', messages=[{'role': 'user', 'content': 'retry'}])\n"
    "print(r.choices[0].message.content)",
    "try:\n    client.chat.completions.create(model='fail-400', messages=[{'role': 'user', 'content': 'x'}])\n"
    "except openai.BadRequestError as e:\n    print(type(e).__name__, e.status_code, e.body)",
    "r = client.chat.completions.create(model='gpt-4o-mini', messages=[{'role': 'user', 'content': 'hello'}])\n"
    "print(r.choices[0].message.content)  # the same request again: the second recording",
]

# Every Python-level connect refused: a request that is not answered from the cassette fails.
BLOCK = """
import socket

def _blocked(self, address, *args, **kwargs):
    raise OSError(f"network blocked by the test: connect to {address!r}")

socket.socket.connect = _blocked
socket.socket.connect_ex = _blocked
"""


def test_recorded_notebook_reruns_under_nbval_offline(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS],
                                  metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    path = tmp_path / "recorded.ipynb"
    env = dict(os.environ, LLMDEBUG_DB=str(tmp_path / "run1.db"))
    with FakeLLMServer() as srv:
        env["NB_API_URL"] = url = srv.openai_base_url
        saved = dict(os.environ)
        os.environ.update(env)  # the kernel inherits this process's environment
        try:
            nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                    resources={"metadata": {"path": str(tmp_path)}}).execute()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        assert len(srv.requests) == 6  # hello, stream, 429 + retry, 400, hello again (auto: recorded twice)
    nbformat.write(nb, path)
    cassette = (tmp_path / "calls.json").read_text()
    assert SECRET not in cassette and "authorization" not in cassette.lower()
    outputs = ["".join(o.get("text", "")) for c in nb.cells for o in c.outputs if o.get("name") == "stdout"]
    assert any("BadRequestError 400" in o for o in outputs)

    block = tmp_path / "block"
    block.mkdir()
    (block / "sitecustomize.py").write_text(textwrap.dedent(BLOCK))
    env.update(NB_API_URL=url, LLMDEBUG_DB=str(tmp_path / "run2.db"),
               PYTHONPATH=os.pathsep.join([str(block), *filter(None, [os.environ.get("PYTHONPATH")])]))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not this repository's addopts (--nbval-lax)
    run = subprocess.run([sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
                          "-q", "--color=no", path.name], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert f"{len(CELLS)} passed" in run.stdout
    assert (tmp_path / "calls.json").read_text() == cassette  # everything replayed, nothing added


def test_blocking_works(tmp_path):
    """The block is real: with it, the kernel's request to a live server fails."""
    block = tmp_path / "block"
    block.mkdir()
    (block / "sitecustomize.py").write_text(textwrap.dedent(BLOCK))
    env = dict(os.environ, PYTHONPATH=str(block))
    with FakeLLMServer() as srv:
        code = f"import httpx; httpx.get({srv.url + '/v1/models'!r})"
        run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "network blocked by the test" in run.stderr
