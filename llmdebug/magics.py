"""IPython integration: ``%load_ext llmdebug``.

Loading the extension opens the trace store (``$LLMDEBUG_DB`` or ``./llmdebug.db``)
and instruments every installed SDK, then says so in one line.
"""

from __future__ import annotations

from . import capture, session


def load_ipython_extension(ipython) -> None:
    store = session.init()
    providers = capture.instrumented()
    what = ", ".join(providers) if providers else "no LLM SDK found (install openai, anthropic or litellm)"
    print(f"llmdebug: capturing {what} calls into {store.path}")


def unload_ipython_extension(ipython) -> None:
    capture.uninstrument()
    session.flush()
