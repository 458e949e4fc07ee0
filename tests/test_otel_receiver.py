"""The OTLP/HTTP receiver (``ld.receive``): the OTel SDK's own exporter in another process
sends to it; bad requests get the status OTLP/HTTP specifies and never touch the store."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import signal
import subprocess
import sys
import textwrap
import tracemalloc
import zlib
from pathlib import Path

import pandas as pd
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

import llmdebug as ld
from llmdebug import pricing
from llmdebug.otel.receiver import receive

ROOT = Path(__file__).resolve().parents[1]
HANG = 60  # seconds: a deadline only against a hang, never a measurement

# The exporting application: an OTel SDK TracerProvider + BatchSpanProcessor, an agent span
# with two chat spans and a tool span under it (GenAI semantic conventions). Prints the ids.
EXPORTER = textwrap.dedent('''
    import gzip, json, sys, urllib.request
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    mode, url, token = sys.argv[1], sys.argv[2], sys.argv[3] or None
    headers = {"Authorization": "Bearer " + token} if token else {}

    if mode.startswith("protobuf"):
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        inner = OTLPSpanExporter(endpoint=url + "/v1/traces", headers=headers,
                                 compression=Compression.Gzip if mode.endswith("gzip") else Compression.NoCompression)
    else:
        # no OTLP http/json span exporter is installed: the SDK's own encoder, in OTLP/JSON
        from google.protobuf.json_format import MessageToDict
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
        import base64

        def hexed(doc):  # OTLP/JSON writes ids as hex, protobuf's JSON mapping as base64
            for rs in doc["resourceSpans"]:
                for ss in rs["scopeSpans"]:
                    for sp in ss["spans"]:
                        for k in ("traceId", "spanId", "parentSpanId"):
                            if k in sp:
                                sp[k] = base64.b64decode(sp[k]).hex()
            return doc

        class JsonExporter(SpanExporter):
            def export(self, spans):
                body = json.dumps(hexed(MessageToDict(encode_spans(spans)))).encode()
                h = dict(headers, **{"Content-Type": "application/json"})
                if mode.endswith("gzip"):
                    body, h["Content-Encoding"] = gzip.compress(body), "gzip"
                req = urllib.request.Request(url + "/v1/traces", data=body, headers=h, method="POST")
                with urllib.request.urlopen(req, timeout=30) as r:
                    answer = json.loads(r.read())
                    ok = r.status == 200 and answer == {}
                return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

        inner = JsonExporter()

    results = []

    class Checked(SpanExporter):  # BatchSpanProcessor swallows failures: count them
        def export(self, spans):
            r = inner.export(spans)
            results.append(r == SpanExportResult.SUCCESS)
            return r

        def shutdown(self):
            inner.shutdown()

    tp = TracerProvider(resource=Resource.create({"service.name": "exporting-app"}))
    tp.add_span_processor(BatchSpanProcessor(Checked()))
    tracer = tp.get_tracer("app.agents")
    system = "You are a weather assistant."
    question = "What is the weather in Paris?"
    ids = {}
    with tracer.start_as_current_span("invoke_agent weather", attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "weather"}) as agent:
        with tracer.start_as_current_span("chat gpt-4o-mini", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                "gen_ai.request.temperature": 0.2, "gen_ai.usage.input_tokens": 1200,
                "gen_ai.usage.output_tokens": 300, "gen_ai.response.finish_reasons": ("tool_calls",),
                "gen_ai.system_instructions": json.dumps([{"type": "text", "content": system}]),
                "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": question}]}]),
                "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "tool_call",
                    "id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}],
                    "finish_reason": "tool_calls"}])}) as chat:
            ids["chat"] = format(chat.get_span_context().span_id, "016x")
        with tracer.start_as_current_span("execute_tool get_weather", attributes={
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather",
                "gen_ai.tool.call.arguments": json.dumps({"city": "Paris"}),
                "gen_ai.tool.call.result": json.dumps({"temp_c": 18})}) as tool:
            ids["tool"] = format(tool.get_span_context().span_id, "016x")
        with tracer.start_as_current_span("chat gpt-4o-mini", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 1500,
                "gen_ai.usage.output_tokens": 40,
                "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text",
                    "content": "18 degrees and sunny."}], "finish_reason": "stop"}])}) as chat2:
            ids["chat2"] = format(chat2.get_span_context().span_id, "016x")
        ids["agent"] = format(agent.get_span_context().span_id, "016x")
        ids["trace"] = format(agent.get_span_context().trace_id, "032x")
    tp.shutdown()  # flushes the batch processor
    print(json.dumps({"ids": ids, "results": results}))
    sys.exit(0 if results and all(results) else 1)
''')


def run_exporter(tmp_path: Path, mode: str, url: str, token: str = "") -> dict:
    script = tmp_path / "exporting_app.py"
    script.write_text(EXPORTER)
    p = subprocess.run([sys.executable, str(script), mode, url, token], capture_output=True, text=True,
                       timeout=HANG, env={**os.environ, "OTEL_SDK_DISABLED": ""})
    assert p.returncode == 0, (p.stdout, p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])["ids"]


def post(url: str, body: bytes, content_type: str = "application/x-protobuf", *, path: str = "/v1/traces",
         headers: dict | None = None, method: str = "POST") -> tuple[int, dict, bytes]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=HANG)
    try:
        h = {"Content-Type": content_type, **(headers or {})}
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def request(*spans: dict, service: str = "svc") -> ExportTraceServiceRequest:
    """An export request; each span: trace_id/span_id/parent_span_id bytes, name, attributes dict."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", service
    ss = rs.scope_spans.add()
    ss.scope.name = "tests"
    for d in spans:
        sp = ss.spans.add()
        sp.trace_id, sp.span_id = d.get("trace_id", b"\x01" * 16), d.get("span_id", b"")
        sp.parent_span_id = d.get("parent_span_id", b"")
        sp.name = d.get("name", "step")
        sp.start_time_unix_nano, sp.end_time_unix_nano = 1_700_000_000_000_000_000, 1_700_000_001_000_000_000
        for k, v in d.get("attributes", {}).items():
            a = sp.attributes.add()
            a.key = k
            if isinstance(v, int):
                a.value.int_value = v
            else:
                a.value.string_value = v
    return req


def span_id(n: int) -> bytes:
    return n.to_bytes(8, "big")


def three_spans() -> bytes:
    return request({"span_id": span_id(1), "name": "root"},
                   {"span_id": span_id(2), "parent_span_id": span_id(1), "name": "chat",
                    "attributes": {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
                                   "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5}},
                   {"span_id": span_id(3), "parent_span_id": span_id(1), "name": "tool"}).SerializeToString()


def count() -> int:
    ld.flush()
    return len(ld.spans())


@pytest.fixture
def rec(trace_db):
    ld.init(trace_db, instrument=False)
    with receive(port=0) as r:
        yield r


# -- the OTel SDK's exporters, from another process ------------------------------------------


@pytest.mark.parametrize("mode", ["protobuf", "protobuf-gzip", "json", "json-gzip"])
def test_sdk_exporter_in_another_process_stores_the_tree(tmp_path, mode):
    token = "s3cret" if mode == "protobuf-gzip" else None  # and the exporter's headers= carry it
    with receive(port=0, token=token, db=tmp_path / "x.db") as r:
        ids = run_exporter(tmp_path, mode, r.url, token or "")
    assert r.stats["stored"] == 4 and r.stats["rejected"] == r.stats["refused"] == 0

    df = ld.spans().set_index("id")
    assert set(df.index) == {ids["agent"], ids["chat"], ids["tool"], ids["chat2"]}
    assert set(df.trace_id) == {ids["trace"]}
    assert pd.isna(df.loc[ids["agent"], "parent_id"])
    for child in ("chat", "tool", "chat2"):
        assert df.loc[ids[child], "parent_id"] == ids["agent"]
    assert df.loc[ids["agent"], "kind"] == "agent" and df.loc[ids["tool"], "kind"] == "tool"

    chat = ld.get(ids["chat"])
    assert chat.kind == "llm" and chat.provider == "openai" and chat.model == "gpt-4o-mini-2024-07-18"
    assert (chat.input_tokens, chat.output_tokens, chat.total_tokens) == (1200, 300, 1500)
    expected = pricing.cost("gpt-4o-mini-2024-07-18", provider="openai", input_tokens=1200, output_tokens=300)
    assert expected and chat.cost_usd == pytest.approx(expected)
    assert chat.request["messages"] == [{"role": "system", "content": "You are a weather assistant."},
                                        {"role": "user", "content": "What is the weather in Paris?"}]
    assert chat.request["temperature"] == 0.2
    assert chat.tool_calls[0]["function"]["name"] == "get_weather"
    assert chat.metadata["service"] == "exporting-app" and chat.metadata["scope"] == "app.agents"
    assert ld.get(ids["chat2"]).output_text == "18 degrees and sunny."
    assert ld.get(ids["tool"]).output == {"temp_c": 18}


def test_the_same_export_twice_stores_once(rec, tmp_path):
    body = three_spans()
    for _ in range(2):
        status, headers, answer = post(rec.url, body)
        assert status == 200 and headers["content-type"] == "application/x-protobuf"
        resp = ExportTraceServiceResponse.FromString(answer)
        assert not resp.HasField("partial_success")
    assert count() == 3
    assert rec.stats["stored"] == 3 and rec.stats["skipped"] == 3
    # a new receiver (nothing remembered) finds them in the file
    with receive(port=0) as again:
        assert post(again.url, body)[0] == 200
    assert again.stats["skipped"] == 3 and count() == 3


def test_chunked_body(rec):
    host, port = rec.url.removeprefix("http://").rsplit(":", 1)
    body = three_spans()
    conn = http.client.HTTPConnection(host, int(port), timeout=HANG)
    conn.request("POST", "/v1/traces", body=iter([body[:10], body[10:]]),
                 headers={"Content-Type": "application/x-protobuf"}, encode_chunked=True)
    assert conn.getresponse().status == 200
    conn.close()
    assert count() == 3


# -- partial success --------------------------------------------------------------------------


def test_spans_without_ids_are_rejected_the_rest_stored_protobuf(rec):
    body = request({"span_id": span_id(1), "name": "ok"}, {"span_id": b"", "name": "no id"},
                   {"span_id": span_id(3), "trace_id": b"\x00" * 16, "name": "zero trace"}).SerializeToString()
    status, _, answer = post(rec.url, body)
    assert status == 200
    resp = ExportTraceServiceResponse.FromString(answer)
    assert resp.partial_success.rejected_spans == 2
    assert "span_id" in resp.partial_success.error_message
    assert count() == 1 and rec.stats["rejected"] == 2


def test_spans_without_ids_are_rejected_the_rest_stored_json(rec):
    doc = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"scope": {"name": "t"}, "spans": [
        {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", "name": "ok",
         "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001000000000",
         "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}}]},
        {"traceId": "0af7651916cd43dd8448eb211c80319c", "name": "no span id"},
        {"traceId": "nothex", "spanId": "b7ad6b7169203332", "name": "bad trace id"},
        7,
    ]}]}]}
    status, headers, answer = post(rec.url, json.dumps(doc).encode(), "application/json")
    assert status == 200 and headers["content-type"] == "application/json"
    partial = json.loads(answer)["partialSuccess"]
    assert partial["rejectedSpans"] == "3" and partial["errorMessage"]
    assert list(ld.spans().id) == ["b7ad6b7169203331"]


# -- bad requests: the right status, and nothing in the store ---------------------------------


def test_malformed_protobuf_is_400_with_a_status(rec):
    post(rec.url, three_spans())
    status, headers, answer = post(rec.url, b"\xff\xff\xff\xff garbage")
    assert status == 400 and headers["content-type"] == "application/x-protobuf"
    st = status_pb2.Status.FromString(answer)
    assert st.code == 3 and "protobuf" in st.message
    assert count() == 3 and rec.stats["refused"] == 1


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"resourceSpans": 5}',
                                  b'{"resourceSpans": [{"scopeSpans": 3}]}',
                                  b'{"resourceSpans": ["x"]}'])
def test_bad_json_is_400_with_a_status(rec, body):
    status, headers, answer = post(rec.url, body, "application/json")
    assert status == 400 and headers["content-type"] == "application/json"
    st = json.loads(answer)
    assert st["code"] == 3 and st["message"]
    assert count() == 0


def test_bad_gzip_is_400(rec):
    for body in (b"not gzip at all", gzip.compress(three_spans())[:-12]):
        status, _, answer = post(rec.url, body, headers={"Content-Encoding": "gzip"})
        assert status == 400, answer
    assert count() == 0


def test_oversized_body_is_413(trace_db):
    ld.init(trace_db, instrument=False)
    with receive(port=0, max_bytes=1000) as r:
        status, _, answer = post(r.url, b"\0" * 5000)
        assert status == 413 and "1000" in status_pb2.Status.FromString(answer).message
        # the decompressed size counts too
        status, _, _ = post(r.url, gzip.compress(b"\0" * 5000), headers={"Content-Encoding": "gzip"})
        assert status == 413
        # and the connection that was refused does not break the next request
        assert post(r.url, three_spans())[0] == 200
    assert count() == 3


def test_gzip_bomb_is_413_without_inflating_it(trace_db):
    ld.init(trace_db, instrument=False)
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip; 256 MB of zeros, built 1 MB at a time
    zeros = bytes(2**20)
    bomb = b"".join(packer.compress(zeros) for _ in range(256)) + packer.flush()
    assert len(bomb) < 2**20
    with receive(port=0, max_bytes=4 * 2**20) as r:
        tracemalloc.start()
        try:
            status, _, _ = post(r.url, bomb, headers={"Content-Encoding": "gzip"})
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert status == 413
    assert peak < 32 * 2**20, f"{peak / 2**20:.0f} MB allocated for a 4 MB limit"
    assert count() == 0


def test_other_content_types_are_415(rec):
    status, _, answer = post(rec.url, three_spans(), "text/plain")
    assert status == 415 and b"application/x-protobuf" in answer
    status, _, _ = post(rec.url, three_spans(), headers={"Content-Encoding": "br"})
    assert status == 415
    assert count() == 0


def test_other_paths_are_404(rec):
    assert post(rec.url, three_spans(), path="/v1/metrics")[0] == 404
    assert post(rec.url, three_spans(), path="/")[0] == 404
    status, headers, _ = post(rec.url, b"", method="GET")
    assert status == 405 and headers["allow"] == "POST"
    assert count() == 0


def test_token_is_required_when_set(trace_db):
    ld.init(trace_db, instrument=False)
    with receive(port=0, token="s3cret") as r:
        status, headers, answer = post(r.url, three_spans())
        assert status == 401 and headers["www-authenticate"] == "Bearer"
        assert status_pb2.Status.FromString(answer).code == 16
        assert post(r.url, three_spans(), headers={"Authorization": "Bearer wrong"})[0] == 401
        assert post(r.url, three_spans(), headers={"Authorization": "Basic s3cret"})[0] == 401
        assert count() == 0
        assert post(r.url, three_spans(), headers={"Authorization": "Bearer s3cret"})[0] == 200
    assert count() == 3


def test_non_loopback_needs_a_token(trace_db):
    ld.init(trace_db, instrument=False)
    for host in ("0.0.0.0", "::", "example.org"):
        with pytest.raises(ValueError, match="token"):
            receive(port=0, host=host)
    with receive(port=0, host="0.0.0.0", token="s3cret") as r:
        assert r.url == f"http://0.0.0.0:{r.port}"
        assert post(f"http://127.0.0.1:{r.port}", three_spans(), headers={"Authorization": "Bearer s3cret"})[0] == 200
    with pytest.raises(ValueError, match="max_bytes"):
        receive(port=0, max_bytes=0)


def test_a_taken_port_is_a_clear_error(rec):
    with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{rec.port}"):
        receive(port=rec.port)


def test_stop_answers_nothing_more_and_keeps_what_came(rec):
    assert post(rec.url, three_spans())[0] == 200
    assert rec.stop()
    with pytest.raises(OSError):
        post(rec.url, three_spans())
    assert count() == 3
    assert rec.stats == {"requests": 1, "stored": 3, "skipped": 0, "rejected": 0, "refused": 0}


# -- the command --------------------------------------------------------------------------------


def test_cli_receives_until_interrupted(tmp_path):
    db = tmp_path / "cli.db"
    p = subprocess.Popen([sys.executable, "-m", "llmdebug.cli", "receive", "--port", "0", "--db", str(db)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        first = p.stdout.readline()
        env_line = p.stdout.readline().strip()
        assert "receiving OpenTelemetry traces at http://127.0.0.1:" in first, (first, p.stderr.read())
        assert env_line.startswith("OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:")
        url = env_line.split("=", 1)[1]
        assert post(url, three_spans())[0] == 200
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=HANG)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert "3 spans stored" in out
    ld.init(db, instrument=False)
    assert count() == 3


def test_cli_stops_on_terminate_and_refuses_an_open_host(tmp_path):
    db = tmp_path / "cli.db"
    p = subprocess.Popen([sys.executable, "-m", "llmdebug.cli", "receive", "--port", "0", "--db", str(db),
                          "--token", "tok en"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        p.stdout.readline()
        url = p.stdout.readline().strip().split("=", 1)[1]
        assert p.stdout.readline().strip() == "OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20tok%20en"
        assert post(url, three_spans(), headers={"Authorization": "Bearer tok en"})[0] == 200
        p.terminate()
        out, err = p.communicate(timeout=HANG)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    ld.init(db, instrument=False)
    assert count() == 3

    p = subprocess.run([sys.executable, "-m", "llmdebug.cli", "receive", "--port", "0", "--host", "0.0.0.0",
                        "--db", str(db)], capture_output=True, text=True, timeout=HANG, cwd=ROOT)
    assert p.returncode == 2 and "token" in p.stderr
