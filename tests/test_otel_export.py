"""OTLP export: llmdebug's spans to an OTLP/HTTP endpoint, live and after the fact.

The round trips go through the OTel SDK's own exporter to an llmdebug receiver in another
process, and compare the second trace file with the first. Content switches, an
unreachable endpoint and refusals are checked against a small recording endpoint here.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

import llmdebug as ld
from llmdebug import providers
from llmdebug._guard import LLMDebugWarning
from llmdebug.otel import exporter
from llmdebug.otel.ingest import ingest
from llmdebug.otel.record import OtelSpan, from_otlp_json

ROOT = Path(__file__).resolve().parents[1]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                          "required": ["city"]}}}]
SECRET_PROMPT = "the-password-is-swordfish"  # content that must not leave with capture_content=False


@pytest.fixture(autouse=True)
def _no_export_left(monkeypatch):
    monkeypatch.delenv(exporter.CONTENT_ENV, raising=False)
    yield
    exporter.stop_export(5.0)


# -- a receiver in another process -------------------------------------------------------------

# Prints its URL, stores what it receives in argv[1] until stdin closes; with argv[2] ==
# "self" it also exports everything it stores to itself (a loop that must not be one).
RECEIVER = r"""
import sys
import llmdebug as ld
from llmdebug.otel import exporter
from llmdebug.otel.receiver import receive

ld.init(sys.argv[1], instrument=False)
r = receive(0)
if sys.argv[2:] == ["self"]:
    exporter.start_export(r.url)
print(r.url, flush=True)
sys.stdin.read()
exporter.stop_export(30)
r.stop()
print(r.stats["stored"], r.stats["skipped"], flush=True)
"""


class OtherProcess:
    """``llmdebug``'s receiver in a subprocess, storing into its own file."""

    def __init__(self, db: Path, *args: str):
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.db = db
        self.proc = subprocess.Popen([sys.executable, "-c", RECEIVER, str(db), *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        self.url = self.proc.stdout.readline().strip()
        if not self.url:
            raise AssertionError(f"the receiver did not start: {self.proc.communicate(timeout=60)[1]}")

    def close(self) -> tuple[int, int]:
        """Stop it once everything it took is written; (stored, skipped)."""
        out, err = self.proc.communicate("", timeout=120)  # a hang guard only
        assert self.proc.returncode == 0, err
        stored, skipped = out.split()
        return int(stored), int(skipped)


def snapshot(db: Path | None = None) -> dict[str, ld.Span]:
    """Every span of the current store (or ``db``), whole, by id."""
    if db is not None:
        ld.init(db, instrument=False)
    return {sid: ld.get(sid) for sid in ld.spans()["id"]}


def _messages(s: ld.Span) -> list[dict]:
    """A call's conversation, comparable across APIs (tool-call arguments parsed)."""
    out = []
    for m in providers.chat_messages(s):
        calls = [(c["name"], json.loads(c["arguments"] or "{}")) for c in m["tool_calls"]]
        out.append((m["role"], m["text"], calls, m["tool_call_id"]))
    return out


def assert_same_traces(first: dict[str, ld.Span], second: dict[str, ld.Span]) -> None:
    """``second`` holds ``first``'s spans under their OTel ids, same tree, tokens, cost, messages."""
    assert len(second) == len(first)
    for sid, a in first.items():
        b = second[exporter.otel_span_id(sid)]
        assert b.trace_id == a.trace_id
        assert b.parent_id == exporter.otel_span_id(a.parent_id), a.name
        assert (b.name, b.status, b.error_type, b.error_message) == (a.name, a.status, a.error_type, a.error_message)
        assert b.kind == a.kind or (a.kind in ("trace", "span") and b.kind == "chain"), (a.kind, b.kind)
        assert abs(b.started_at - a.started_at) < 1e-6 and abs(b.ended_at - a.ended_at) < 1e-6
        assert b.tags == a.tags
        if a.kind != "llm":
            assert (b.input, b.output) == (a.input, a.output)
            continue
        assert (b.provider, b.model, b.request_model) == (a.provider, a.model, a.request_model)
        assert (b.input_tokens, b.output_tokens, b.total_tokens, b.cached_tokens, b.cache_write_tokens,
                b.reasoning_tokens) == (a.input_tokens, a.output_tokens, a.total_tokens, a.cached_tokens,
                                        a.cache_write_tokens, a.reasoning_tokens)
        assert a.cost_usd and b.cost_usd == a.cost_usd
        assert b.output_text == a.output_text
        assert _messages(b) == _messages(a), a.name
        calls_a = [(c["name"], json.loads(c["arguments"])) for c in a.tool_calls or ()]
        calls_b = [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in b.tool_calls or ()]
        assert calls_b == calls_a
        assert b.http_status == a.http_status


def make_traffic(openai_client, anthropic_client) -> None:
    """One trace with every shape: a tool step, a tool call and its answer, a stream, an
    Anthropic call, a failing step."""
    with ld.trace("plan trip", tags=["export-test"]):
        with ld.span("lookup", kind="tool") as sp:
            sp.set_input({"city": "Paris"})
            sp.set_output({"temp_c": 21})
        msgs = [{"role": "system", "content": "You plan trips."}, {"role": "user", "content": "Weather in Paris?"}]
        r = openai_client.chat.completions.create(model="gpt-4o-mini", messages=msgs, tools=TOOLS, temperature=0.1)
        call = r.choices[0].message.tool_calls[0]
        msgs += [r.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "21 C and sunny"}]
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=msgs, max_tokens=80)
        for _ in openai_client.chat.completions.create(model="gpt-4o", stream=True, stream_options={"include_usage": True},
                                                       messages=[{"role": "user", "content": "Say hi"}]):
            pass
        anthropic_client.messages.create(model="claude-3-5-haiku-latest", max_tokens=100,
                                         messages=[{"role": "user", "content": "Pack for rain?"}])
        with pytest.raises(ValueError):
            with ld.span("book hotel"):
                raise ValueError("no rooms left")


def test_export_after_the_fact_round_trips_through_a_receiver(ld_on, tmp_path, llm_openai_client,
                                                             llm_anthropic_client):
    make_traffic(llm_openai_client, llm_anthropic_client)
    first = snapshot()
    assert len(first) == 7
    other = OtherProcess(tmp_path / "received.db")
    assert ld.export(other.url) == 7
    assert other.close() == (7, 0)
    assert_same_traces(first, snapshot(other.db))


def test_live_export_round_trips_through_a_receiver(trace_db, tmp_path, llm_openai_client, llm_anthropic_client):
    other = OtherProcess(tmp_path / "received.db")
    ld.init(trace_db, export=other.url)
    make_traffic(llm_openai_client, llm_anthropic_client)
    assert exporter.stop_export(60)
    first = snapshot()
    assert other.close() == (7, 0)
    assert_same_traces(first, snapshot(other.db))


def test_export_filters_like_spans(ld_on, tmp_path, llm_openai_client):
    for q in ("one", "two"):
        with ld.trace(f"trace {q}"):
            llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": q}])
    tid = ld.spans(name="trace two")["trace_id"].iloc[0]
    with Recorder() as rec:
        assert ld.export(rec.url, trace_id=tid) == 2
        assert {s.trace_id for s in rec.spans} == {tid}
        assert ld.export(rec.url, name="trace one") == 1
        assert ld.export(rec.url, name="nothing by this name") == 0
        assert ld.export(rec.url, since="1h") == 4
        assert len(rec.spans) == 7


def test_a_receiver_exporting_to_itself_stores_each_span_once(ld_on, tmp_path, llm_openai_client):
    with ld.trace("t"):
        llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    other = OtherProcess(tmp_path / "received.db", "self")
    assert ld.export(other.url) == 2
    stored, skipped = other.close()
    # each span stored once; its echo came back and was skipped (same ids), and the echo stopped there
    assert (stored, skipped) == (2, 2)
    assert len(snapshot(other.db)) == 2


def test_anthropic_system_prompt_round_trips(ld_on, tmp_path, llm_anthropic_client):
    llm_anthropic_client.messages.create(model="claude-3-5-haiku-latest", max_tokens=100, system="Be brief.",
                                         messages=[{"role": "user", "content": "Pack for rain?"}])
    first = snapshot()
    with Recorder() as rec:
        assert ld.export(rec.url) == 1
    ld.init(tmp_path / "second.db", instrument=False)
    ingest(rec.spans)
    assert_same_traces(first, snapshot())


# -- a recording endpoint in this process -----------------------------------------------------


class Recorder:
    """An OTLP/HTTP endpoint keeping what it is sent (decoded), answering ``status``."""

    def __init__(self, status: int = 200):
        rec = self
        self.status = status
        self.requests: list[dict] = []
        self.got = threading.Condition()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                req = ExportTraceServiceRequest()
                req.ParseFromString(body)
                answer = ExportTraceServiceResponse().SerializeToString()
                with rec.got:
                    rec.requests.append({"path": self.path, "headers": dict(self.headers),
                                         "body": MessageToDict(req), "raw": body})
                    rec.got.notify_all()
                self.send_response(rec.status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def spans(self) -> list[OtelSpan]:
        return [o for r in self.requests for o in from_otlp_json(r["body"])]

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def _call(client, text: str = f"Tell me {SECRET_PROMPT}") -> None:
    with ld.trace("root"):
        with ld.span("step", kind="chain") as sp:
            sp.set_input(SECRET_PROMPT)
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])


def _by_name(spans: list[OtelSpan]) -> dict[str, OtelSpan]:
    return {o.name: o for o in spans}


def test_live_export_sends_both_conventions(trace_db, llm_openai_client):
    with Recorder() as rec:
        ld.init(trace_db, export=rec.url, headers={"x-team": "core"})
        _call(llm_openai_client, "Weather in Paris?")
        assert exporter.stop_export(30)
        assert {r["path"] for r in rec.requests} == {"/v1/traces"}
        assert all(r["headers"].get("x-team") == "core" for r in rec.requests)
        spans = _by_name(rec.spans)
    llm, step, root = spans["openai.chat.completions"], spans["step"], spans["root"]
    assert llm.parent_id == step.span_id and step.parent_id == root.span_id and root.parent_id is None
    assert llm.kind == "client" and root.resource["service.name"] == "llmdebug" and llm.scope == "llmdebug"
    call = ld.last()
    a = llm.attributes
    assert llm.span_id == call.id[-16:] and llm.trace_id == call.trace_id and a["llmdebug.span_id"] == call.id
    assert a["openinference.span.kind"] == "LLM" and step.attributes["openinference.span.kind"] == "CHAIN"
    assert (a["gen_ai.operation.name"], a["gen_ai.provider.name"], a["gen_ai.system"], a["llm.provider"]) == (
        "chat", "openai", "openai", "openai")
    assert a["gen_ai.request.model"] == a["gen_ai.response.model"] == a["llm.model_name"] == "gpt-4o-mini"
    assert a["gen_ai.usage.input_tokens"] == a["llm.token_count.prompt"] == call.input_tokens
    assert a["gen_ai.usage.output_tokens"] == a["llm.token_count.completion"] == call.output_tokens
    assert a["llm.token_count.total"] == call.total_tokens and a["llm.cost.total"] == call.cost_usd
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
    assert json.loads(a["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}]
    assert json.loads(a["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": call.output_text}], "finish_reason": "stop"}]
    assert a["llm.input_messages.0.message.role"] == "user"
    assert a["llm.input_messages.0.message.content"] == "Weather in Paris?"
    assert a["llm.output_messages.0.message.content"] == a["output.value"] == call.output_text
    assert json.loads(a["input.value"])["messages"] == [{"role": "user", "content": "Weather in Paris?"}]
    assert json.loads(a["llm.invocation_parameters"]) == {"model": "gpt-4o-mini"}
    assert step.attributes["input.value"] == SECRET_PROMPT


def test_error_span_has_status_and_exception_event(ld_on):
    with pytest.raises(KeyError):
        with ld.span("lookup", kind="tool"):
            raise KeyError("missing")
    with Recorder() as rec:
        assert ld.export(rec.url) == 1
        (o,) = rec.spans
    assert o.status == "error" and o.status_message == "'missing'"
    (ev,) = o.events
    assert ev.name == "exception" and ev.attributes == {"exception.type": "KeyError", "exception.message": "'missing'"}
    assert o.attributes["error.type"] == "KeyError" and o.attributes["openinference.span.kind"] == "TOOL"


def _assert_no_content(rec: Recorder) -> None:
    assert rec.requests
    assert all(SECRET_PROMPT.encode() not in r["raw"] for r in rec.requests)
    for o in rec.spans:
        assert not [k for k in o.attributes if "messages" in k or k.startswith(("input.", "output."))], o.name
    llm = _by_name(rec.spans)["openai.chat.completions"].attributes
    assert llm["gen_ai.usage.input_tokens"] > 0 and llm["llm.cost.total"] > 0  # the numbers still go


def test_capture_content_false_leaves_content_out(trace_db, llm_openai_client):
    with Recorder() as rec:
        ld.init(trace_db, export=rec.url, capture_content=False)
        _call(llm_openai_client)
        assert exporter.stop_export(30)
        _assert_no_content(rec)


@pytest.mark.parametrize("value", ["false", "0", "No"])
def test_content_env_variable_is_honoured(trace_db, llm_openai_client, monkeypatch, value):
    monkeypatch.setenv(exporter.CONTENT_ENV, value)
    with Recorder() as rec:
        ld.init(trace_db, export=rec.url)
        _call(llm_openai_client)
        assert exporter.stop_export(30)
        _assert_no_content(rec)
    monkeypatch.setenv(exporter.CONTENT_ENV, "true")
    with Recorder() as rec:
        assert ld.export(rec.url) == 3
        assert any(SECRET_PROMPT.encode() in r["raw"] for r in rec.requests)
        with Recorder() as quiet:  # an explicit argument wins over the variable
            assert ld.export(quiet.url, capture_content=False) == 3
            _assert_no_content(quiet)


def test_ingested_otel_spans_keep_their_ids_and_service(ld_on):
    o = OtelSpan(trace_id="ab" * 16, span_id="cd" * 8, parent_id="ef" * 8, name="retrieve", start_ns=10**18,
                 end_ns=10**18 + 5 * 10**6, attributes={"openinference.span.kind": "RETRIEVER",
                                                         "input.value": SECRET_PROMPT, "custom.n": 3},
                 resource={"service.name": "rag-app"}, scope="openinference.instrumentation.langchain")
    ingest([o])
    with Recorder() as rec:
        assert ld.export(rec.url) == 1
        (got,) = rec.spans
    assert (got.trace_id, got.span_id, got.parent_id, got.name) == (o.trace_id, o.span_id, o.parent_id, o.name)
    assert got.resource["service.name"] == "rag-app" and got.scope == o.scope
    assert got.attributes["openinference.span.kind"] == "RETRIEVER" and got.attributes["custom.n"] == 3
    assert got.attributes["input.value"] == SECRET_PROMPT
    with Recorder() as rec:
        assert ld.export(rec.url, capture_content=False) == 1
        assert "input.value" not in rec.spans[0].attributes and rec.spans[0].attributes["custom.n"] == 3


# -- endpoints that do not take the spans ------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_endpoint_is_harmless(trace_db, llm_openai_client, monkeypatch, caplog):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1")  # each failed batch gives up after ~1 s
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        ld.init(trace_db, export=f"http://127.0.0.1:{_closed_port()}")
        for i in range(3):
            _call(llm_openai_client, f"call {i}")
            assert ld.flush()
            assert exporter.flush(30) is False  # sent and failed, in this thread: nothing raised
        assert len(ld.calls()) == 3
        assert exporter.stop_export(30)
    ours = [w for w in seen if issubclass(w.category, LLMDebugWarning)]
    assert len(ours) == 1 and "could not export spans" in str(ours[0].message)
    # the SDK's own per-batch error lines stay out of the user's logs
    assert not [r for r in caplog.records if r.name.startswith("opentelemetry") and r.levelno >= logging.WARNING]


def test_export_raises_when_the_endpoint_refuses(ld_on, llm_openai_client):
    _call(llm_openai_client)
    with Recorder(status=401) as rec:
        with pytest.raises(exporter.ExportError, match="did not take the spans.*401"):
            ld.export(rec.url)
    with pytest.raises(exporter.ExportError, match="did not take the spans"):
        ld.export(f"http://127.0.0.1:{_closed_port()}", timeout=1)


def test_endpoint_urls():
    assert exporter._url("http://h:4318") == "http://h:4318/v1/traces"
    assert exporter._url("http://h:4318/") == "http://h:4318/v1/traces"
    assert exporter._url("http://h:6006/v1/traces") == "http://h:6006/v1/traces"
    assert exporter._url("https://cloud.langfuse.com/api/public/otel") == (
        "https://cloud.langfuse.com/api/public/otel/v1/traces")
    assert exporter._url(None) is None


def test_ids():
    ld_id = "18ed77a8bc57badcdd979a8a552ec76b"
    assert exporter.otel_span_id(ld_id) == "dd979a8a552ec76b"
    assert exporter.otel_span_id("cd" * 8) == "cd" * 8
    assert exporter.otel_span_id(None) is None
    odd = exporter.otel_span_id("not-hex")
    assert len(odd) == 16 and odd == exporter.otel_span_id("not-hex") and int(odd, 16)


# -- Arize Phoenix ----------------------------------------------------------------------------
# Phoenix is a large install (~850 MB, pins older anthropic/google-genai than [dev]), so it
# lives in a venv of its own: scripts/phoenix_roundtrip.py makes it and runs this test with
# LLMDEBUG_PHOENIX_PYTHON pointing there. The server and Phoenix's client run on that
# interpreter; llmdebug exports from this one, as a user's app would.

PHOENIX_QUERY = r"""
import sys
from phoenix.client import Client
df = Client(base_url=sys.argv[1]).spans.get_spans_dataframe(project_identifier="default", limit=1000)
if df is not None and "context.span_id" not in df.columns:
    df = df.reset_index()
print("[]" if df is None else df.to_json(orient="records"))
"""


def _phoenix_python() -> str | None:
    exe = os.environ.get("LLMDEBUG_PHOENIX_PYTHON")
    if exe:
        return exe
    import importlib.util

    try:
        found = importlib.util.find_spec("phoenix.server.main") and importlib.util.find_spec("phoenix.client")
    except ModuleNotFoundError:
        found = None
    return sys.executable if found else None


class Phoenix:
    """A Phoenix server on loopback, its data in ``workdir``."""

    def __init__(self, python: str, workdir: Path):
        self.python = python
        port, grpc = _closed_port(), _closed_port()
        env = dict(os.environ, PHOENIX_PORT=str(port), PHOENIX_GRPC_PORT=str(grpc), PHOENIX_HOST="127.0.0.1",
                   PHOENIX_WORKING_DIR=str(workdir), PHOENIX_TELEMETRY_ENABLED="false")
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(workdir.parent / "phoenix.log", "w")
        self.proc = subprocess.Popen([python, "-m", "phoenix.server.main", "serve"], env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self._wait(lambda: self._get("/healthz") == 200, "to start")

    def _get(self, path: str) -> int | None:
        import urllib.request

        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as r:
                return r.status
        except OSError:
            return None

    def _wait(self, ready, what: str, limit: float = 300.0) -> None:
        import time

        deadline = time.monotonic() + limit  # a hang guard: readiness is polled, never assumed
        while not ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.log.flush()
                raise AssertionError(f"Phoenix did not get {what}: {Path(self.log.name).read_text()[-3000:]}")
            threading.Event().wait(0.25)

    def spans(self, count: int) -> list[dict]:
        """Phoenix's spans through its own client, once ``count`` of them are in."""
        rows: list[dict] = []

        def ready() -> bool:
            nonlocal rows
            out = subprocess.run([self.python, "-c", PHOENIX_QUERY, self.url], capture_output=True, text=True,
                                 timeout=120)
            assert out.returncode == 0, out.stderr
            rows = json.loads(out.stdout.strip().splitlines()[-1])
            return len(rows) >= count

        self._wait(ready, f"{count} spans")
        return rows

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.mark.phoenix
@pytest.mark.skipif(_phoenix_python() is None, reason="Phoenix is not installed: run scripts/phoenix_roundtrip.py")
def test_phoenix_shows_the_spans_with_kinds_and_tokens(trace_db, tmp_path, llm_openai_client, llm_anthropic_client):
    (tmp_path / "phoenix").mkdir()
    phx = Phoenix(_phoenix_python(), tmp_path / "phoenix")
    try:
        ld.init(trace_db, export=phx.url)
        make_traffic(llm_openai_client, llm_anthropic_client)
        assert exporter.stop_export(60)
        first = snapshot()
        rows = phx.spans(len(first))
    finally:
        phx.stop()
    assert len(rows) == len(first)
    by_id = {r["context.span_id"]: r for r in rows}
    kinds = {"llm": "LLM", "tool": "TOOL", "trace": "CHAIN", "span": "CHAIN"}
    for sid, s in first.items():
        r = by_id[exporter.otel_span_id(sid)]
        assert (r["name"], r["context.trace_id"], r["span_kind"]) == (s.name, s.trace_id, kinds[s.kind])
        assert r["parent_id"] == exporter.otel_span_id(s.parent_id)
        assert r["status_code"] == ("ERROR" if s.status == "error" else "OK")
        if s.kind == "llm":
            assert r["attributes.llm.model_name"] == s.model and r["attributes.llm.provider"] == s.provider
            assert r["attributes.llm.token_count.prompt"] == s.input_tokens
            assert r["attributes.llm.token_count.completion"] == s.output_tokens
            assert r["attributes.llm.token_count.total"] == s.total_tokens
            assert r["attributes.llm.output_messages"][0]["message.role"] == "assistant"
            assert r["attributes.llm.input_messages"][0]["message.role"] in ("system", "user")
