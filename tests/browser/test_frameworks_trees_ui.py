"""Each framework's own tree in ``ld.show()``, in a real JupyterLab + headless Chromium.

One notebook, written by this test into its temp root (not one of notebooks/), runs in one
kernel: the fake LLM server and ``ld.init(otel=True)`` once (OTel's global TracerProvider
is set once per process), then one cell per framework that instruments it, runs its small
agent or chain (tests/helpers/frameworks.py, the same ones tests/test_otel_frameworks.py
runs in pytest), uninstruments it and ends with ``ld.show(trace_id)`` of that run. The five
cells run twice: with llmdebug's own capture on (its span of the HTTP exchange is the LLM
row, in the framework's tree) and off (the framework's own LLM spans, read by llmdebug/otel/).

In the browser, for each framework's widget: the tree's rows (depth, kind, name), each LLM
row with its model, the framework's own token counts and a cost, and a click on an LLM row
showing the prompt (the question and the tool's result) in the detail pane.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from jlab import assert_clean, run_notebook, widget  # skips without a browser

from playwright.sync_api import expect  # noqa: E402

# only the kernel imports the frameworks (several seconds): here, only whether they are installed
_missing = [m for m in ("pydantic_ai", "agents", "langchain_openai", "openinference.instrumentation.openai",
                        "openinference.instrumentation.langchain", "opentelemetry.instrumentation.openai_v2")
            if importlib.util.find_spec(m) is None]
if _missing:
    pytest.skip(f"not installed: {', '.join(_missing)}", allow_module_level=True)

from helpers.frameworks import MODEL, QUESTION  # noqa: E402

TESTS = Path(__file__).resolve().parents[1]
NB_REL = "frameworks-trees.ipynb"
LLM = "<llm>"  # the LLM rows' name, by framework and by whether llmdebug's own capture is on
LLM_NAMES = {  # capture on: llmdebug's span (the whole HTTP exchange) is the row; off: the framework's
    "openinference-openai": {"on": "openai.chat.completions", "off": "ChatCompletion"},
    "openai-v2": {"on": "openai.chat.completions", "off": f"chat {MODEL}"},
    "pydantic-ai": {"on": "openai.chat.completions", "off": f"chat {MODEL}"},
    "openai-agents": {"on": "openai.responses", "off": "response"},
    "langchain": {"on": "openai.chat.completions", "off": "ChatOpenAI"},
}
CAPTURE_OFF = "ld.uninstrument();  # llmdebug's own capture off: the frameworks' own LLM spans from here on"

SETUP = f"""\
import json, os, sys
sys.path.insert(0, {str(TESTS)!r})  # tests/helpers/frameworks.py

from llmdebug.testing import FakeLLMServer
import llmdebug as ld
from helpers.frameworks import *

server = FakeLLMServer().start()  # deterministic, on 127.0.0.1
BASE = server.openai_base_url
ld.init(otel=True)  # once: OTel's TracerProvider can be set once per process


def newest_trace() -> str:
    return ld.traces(limit=1).trace_id.iloc[0]"""

# key -> (cell source, expected rows as (depth, kind, name))
FRAMEWORKS = {
    "openinference-openai": ("""\
# OpenInference's OpenAI instrumentation, around a hand-written tool loop
import openai
from opentelemetry import trace
from openinference.instrumentation.openai import OpenAIInstrumentor

inst = OpenAIInstrumentor()
inst.instrument()
try:
    client = openai.OpenAI(base_url=BASE, api_key="sk-test")
    usage = run_tool_loop(client, trace.get_tracer("notebook"), name="weather agent (OpenInference)")
finally:
    inst.uninstrument()
print("USAGE", json.dumps(usage))
trace_id = newest_trace()
ld.show(trace_id)""", [(0, "agent", "weather agent (OpenInference)"), (1, "llm", LLM), (1, "tool", "weather"),
                      (1, "llm", LLM)]),
    "openai-v2": ("""\
# the official opentelemetry-instrumentation-openai-v2, messages on the spans
os.environ.update(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_ONLY",
                  OTEL_SEMCONV_STABILITY_OPT_IN="gen_ai_latest_experimental")
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as OpenAIV2Instrumentor

inst = OpenAIV2Instrumentor()
inst.instrument()
try:
    client = openai.OpenAI(base_url=BASE, api_key="sk-test")
    usage = run_tool_loop(client, trace.get_tracer("notebook"), name="weather agent (openai-v2)")
finally:
    inst.uninstrument()
print("USAGE", json.dumps(usage))
trace_id = newest_trace()
ld.show(trace_id)""", [(0, "agent", "weather agent (openai-v2)"), (1, "llm", LLM), (1, "tool", "weather"),
                      (1, "llm", LLM)]),
    "pydantic-ai": ("""\
# pydantic-ai: its own OTel spans (instrument=True)
agent = pydantic_ai_agent(BASE)
result = await agent.run(QUESTION)
usage = pydantic_ai_usage(result)
print("USAGE", json.dumps(usage))
trace_id = newest_trace()
ld.show(trace_id)""", [(0, "agent", "invoke_agent forecaster"), (1, "llm", LLM), (1, "tool", "execute_tool weather"),
                      (1, "llm", LLM)]),
    "openai-agents": ("""\
# the OpenAI Agents SDK: its own tracing, through llmdebug's TracingProcessor
import agents
from llmdebug.otel.agents import TracingProcessor

agents.set_trace_processors([TracingProcessor()])  # and nothing sent to OpenAI
try:
    agent, aclient = agents_sdk_agent(BASE)
    result = await agents.Runner.run(agent, QUESTION)
    await aclient.close()
finally:
    agents.set_trace_processors([])
usage = agents_sdk_usage(result)
print("USAGE", json.dumps(usage))
trace_id = newest_trace()
ld.show(trace_id)""", [(0, "trace", "Agent workflow"), (1, "agent", "Forecaster"), (2, "chain", "turn 1"),
                      (3, "llm", LLM), (3, "tool", "weather_tool"), (4, "retrieval", "lookup"),
                      (2, "chain", "turn 2"), (3, "llm", LLM)]),
    "langchain": ("""\
# LangChain, through OpenInference's LangChain instrumentation
from openinference.instrumentation.langchain import LangChainInstrumentor

inst = LangChainInstrumentor()
inst.instrument()
try:
    chain, usage = langchain_chain(BASE)
    answer = chain.invoke(QUESTION)
finally:
    inst.uninstrument()
print("USAGE", json.dumps(usage))
trace_id = newest_trace()
ld.show(trace_id)""", [(0, "chain", "weather chain"), (1, "llm", LLM), (1, "tool", "weather"), (1, "llm", LLM)]),
}


def _write_notebook(path: Path) -> dict:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Each framework's own tree in `ld.show()`"),
                nbformat.v4.new_code_cell(SETUP)]
    cells = {}
    for capture in ("on", "off"):
        if capture == "off":
            nb.cells.append(nbformat.v4.new_code_cell(CAPTURE_OFF))
        for key, (src, _) in FRAMEWORKS.items():
            cells[key, capture] = len(nb.cells) - 1  # index among code cells (one markdown cell first)
            nb.cells.append(nbformat.v4.new_code_cell(src))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, path)
    return {"n_code": len(nb.cells) - 1, **cells}


@pytest.fixture(scope="module")
def run(browser, lab, lab_root, artifacts):
    cells = _write_notebook(lab_root / NB_REL)
    with run_notebook(browser, lab, artifacts, NB_REL, cells) as r:
        r.page.set_viewport_size({"width": 1280, "height": 1500})  # a whole widget per screenshot
        yield r


def _rows(rows) -> list[tuple[int, str, str]]:
    """(depth, kind, name) of every drawn tree row (one round trip); depth from the name
    cell's indent, 4 + 14 px per level."""
    drawn = rows.evaluate_all("""rs => rs.map(r => [parseFloat(r.querySelector('.ldt-cell-name').style.paddingLeft),
        r.querySelector('.ldt-kind').innerText.trim().toLowerCase(), r.querySelector('.ldt-name').innerText.trim()])""")
    return [(round((pad - 4) / 14), kind, name) for pad, kind, name in drawn]


def test_notebook_runs_clean(run):
    with run.shot("frameworks-trees-00-clean"):
        assert_clean(run)


@pytest.mark.parametrize("capture", ["on", "off"], ids=["ld-capture-on", "ld-capture-off"])
@pytest.mark.parametrize("key", list(FRAMEWORKS))
def test_each_framework_shows_its_own_tree(run, key, capture):
    llm_name = LLM_NAMES[key][capture]
    expected = [(d, kind, llm_name if name == LLM else name) for d, kind, name in FRAMEWORKS[key][1]]
    i_cell = run.cells[key, capture]
    with run.shot(f"frameworks-trees-{key}-capture-{capture}"):
        cell = run.code_cell(i_cell)
        out = cell.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stdout']").inner_text()
        usage = json.loads(re.search(r"USAGE (\[.*\])", out).group(1))
        w = widget(run, i_cell)
        expect(w.locator(".ldt-title")).to_have_text(expected[0][2])
        rows = w.locator(".ldt-span")
        expect(rows).to_have_count(len(expected))
        assert _rows(rows) == expected
        llm = [i for i, (_, kind, _) in enumerate(expected) if kind == "llm"]
        assert len(llm) == len(usage) == 2, (llm, usage)
        for i, (tin, tout) in zip(llm, usage):  # the model, the framework's own counts, a price
            expect(rows.nth(i).locator(".ldt-model")).to_have_text(MODEL)
            nums = rows.nth(i).locator(".ldt-num")
            expect(nums.nth(0)).to_have_text(f"{tin:,}→{tout:,}")
            expect(nums.nth(1)).to_have_text(re.compile(r"^\$0\.\d+$"))
        # the second model call's prompt: the question, and the tool's result sent back
        rows.nth(llm[1]).click()
        expect(rows.nth(llm[1])).to_have_class(re.compile("ldt-selected"))
        detail = w.locator(".ldt-detail")
        expect(detail.locator(".ldt-msg-user")).to_contain_text(QUESTION, timeout=30_000)
        expect(detail.locator(".ldt-msg-tool")).to_contain_text("sunny in")
        expect(detail).to_contain_text(f"{usage[1][0]} in · {usage[1][1]} out")
        w.evaluate("e => e.scrollIntoView({block: 'start'})")
