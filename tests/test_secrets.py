"""No secret is ever stored: every vector a user or an attacker could use, fed through the
real SDKs to the fake server, then the raw database files and every widget's synced
state grepped for the secrets. And the file is private (0600) from the start.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

import llmdebug as ld
from llmdebug import session
from llmdebug.redaction import MARKER, redact_fields, redact_kwargs, redact_text, redact_url

openai = pytest.importorskip("openai")
MSGS = [{"role": "user", "content": "Say hello"}]

# Each secret is unique, so a hit names the vector that leaked it.
S = {name: f"SECRET-{name}-7f3a" for name in (
    "userinfo", "query_key", "query_sig", "body_api_key", "body_client_secret", "litellm_api_key",
    "litellm_userinfo", "litellm_query", "custom_auth", "apim_key", "extra_body_key", "vertex", "aws",
    "traced_arg", "span_attr", "metadata_token", "error_url")}


def file_bytes(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (Path(str(path) + sfx) for sfx in ("", "-wal", "-shm")) if p.exists()}


def leaks(blob: bytes) -> list[str]:
    return [name for name, secret in S.items()
            if secret.encode() in blob or secret.encode("utf-16-le") in blob]


def widget_states() -> str:
    """Everything the trace widget would sync for every trace, with every span opened."""
    from llmdebug.widgets.trace_tree import TraceTree

    out = []
    for tid in ld.traces()["trace_id"]:
        w = TraceTree(tid)
        out.append(json.dumps(w.get_state(), default=str))
        for i in range(len(w.rows)):
            w.selected = i
            out.append(json.dumps(w.detail, default=str))
    return "\n".join(out)


def test_every_vector_is_redacted_in_the_files_and_the_widgets(ld_on, llm_server):
    host = llm_server.openai_base_url.split("://", 1)[1]
    client = openai.OpenAI(base_url=f"http://user:{S['userinfo']}@{host}", api_key="sk-x", max_retries=0,
                           default_query={"key": S["query_key"], "sig": S["query_sig"], "api-version": "2024-01"})
    with ld.trace("secrets", metadata={"auth_token": S["metadata_token"]}):
        client.chat.completions.create(model="gpt-4o-mini", messages=MSGS,
                                       extra_body={"api_key": S["body_api_key"],
                                                   "client_secret": S["body_client_secret"]})
        for _ in client.chat.completions.create(model="gpt-4o-mini", messages=MSGS, stream=True):
            pass

        @ld.traced
        def tool(city: str, api_key: str) -> str:
            return city

        tool("Paris", api_key=S["traced_arg"])
        with ld.span("configured", token=S["span_attr"]):
            pass
        bad = openai.OpenAI(base_url=f"http://user:{S['error_url']}@127.0.0.1:9/v1", api_key="sk-x", max_retries=0)
        with pytest.raises(openai.APIConnectionError):
            bad.chat.completions.create(model="gpt-4o-mini", messages=MSGS)

    litellm = pytest.importorskip("litellm")
    lhost = llm_server.openai_base_url.split("://", 1)[1]
    litellm.completion(
        model="openai/gpt-4o-mini", messages=MSGS, api_key=S["litellm_api_key"],
        api_base=f"http://u:{S['litellm_userinfo']}@{lhost}",
        headers={"X-Custom-Auth": S["custom_auth"]},
        extra_headers={"Ocp-Apim-Subscription-Key": S["apim_key"]},
        extra_body={"api_key": S["extra_body_key"]},
    )
    assert ld.flush(30) is True
    calls = ld.calls()
    assert len(calls) == 4  # the vectors really went through capture

    # The stored values show the marker where a secret was.
    first = ld.get(calls["id"].iloc[0])
    assert first.request["api_key"] == MARKER and first.request["client_secret"] == MARKER
    assert "REDACTED@" in (first.base_url or "") or first.base_url.startswith("http://127.0.0.1")
    lite = ld.get(calls["id"].iloc[-1])
    assert lite.request["api_key"] == MARKER
    assert lite.request["headers"]["X-Custom-Auth"] == MARKER
    assert lite.request["extra_headers"]["Ocp-Apim-Subscription-Key"] == MARKER
    assert "REDACTED@" in lite.request["api_base"]
    traced = ld.spans(name="test_every_vector_is_redacted_in_the_files_and_the_widgets.<locals>.tool")
    assert ld.get(traced["id"].iloc[0]).input["api_key"] == MARKER

    blobs = file_bytes(ld_on)
    assert any(n.endswith("-wal") for n in blobs)
    for name, blob in blobs.items():
        assert leaks(blob) == [], f"secrets in {name}"
    assert leaks(widget_states().encode()) == []
    for sid in ld.spans()["id"]:
        assert leaks(json.dumps(ld.get(sid).to_dict(), default=str).encode()) == []
    session.close()  # checkpointed into the main file
    for name, blob in file_bytes(ld_on).items():
        assert leaks(blob) == [], f"secrets in {name}"
    assert b"Say hello" in b"".join(file_bytes(ld_on).values())  # real traffic is in there


def test_anthropic_custom_auth_header_and_body_field(ld_on, llm_server):
    anthropic = pytest.importorskip("anthropic")
    c = anthropic.Anthropic(base_url=llm_server.anthropic_base_url, api_key="sk-ant-x", max_retries=0,
                            default_headers={"X-Custom-Auth": S["custom_auth"]})
    c.messages.create(model="claude-3-5-haiku-latest", max_tokens=20, messages=MSGS,
                      extra_body={"api_key": S["body_api_key"]})
    assert ld.flush(10) is True
    for name, blob in file_bytes(ld_on).items():
        assert leaks(blob) == [], name
    assert ld.last().request["api_key"] == MARKER


def test_the_database_and_its_wal_are_private(ld_on, llm_openai_client):
    llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=MSGS)
    assert ld.flush(10) is True
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(ld_on) + suffix)
        assert p.exists(), suffix
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, (suffix, oct(p.stat().st_mode))


def test_private_even_with_a_permissive_umask(tmp_path, llm_openai_client):
    old = os.umask(0)
    try:
        ld.init(tmp_path / "open.db")
        llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=MSGS)
        assert ld.flush(10) is True
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "open.db").stat().st_mode) == 0o600


# -- the rule itself ------------------------------------------------------------------------
@pytest.mark.parametrize("url, expected", [
    ("http://user:KEY@host/v1", "http://REDACTED@host/v1"),
    ("https://KEY@host:8443/v1", "https://REDACTED@host:8443/v1"),
    ("https://h/v1?key=K&api-version=1", "https://h/v1?key=REDACTED&api-version=1"),
    ("https://h/v1?api-key=K", "https://h/v1?api-key=REDACTED"),
    ("https://h/b?sig=K&se=2030&sp=r", "https://h/b?sig=REDACTED&se=2030&sp=r"),
    ("https://h/b?token=K", "https://h/b?token=REDACTED"),
    ("https://h/b?X-Amz-Signature=K&X-Amz-Credential=C", "https://h/b?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED"),
    ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"),
])
def test_url_rule(url, expected):
    assert redact_url(url) == expected


def test_field_rule_keeps_what_is_not_a_credential():
    body = {"model": "m", "max_tokens": 5, "max_completion_tokens": 9, "prompt_cache_key": "user-1",
            "tools": [{"type": "function", "function": {"name": "login", "parameters": {
                "type": "object", "properties": {"password": {"type": "string"}, "api_key": {"type": "string"}}}}}],
            "messages": [{"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "abc"}]}]}
    assert redact_fields(body) is body  # nothing to redact: the very same object
    creds = {"api_key": "k", "apiKey": "k", "x-api-key": "k", "client_secret": "k", "access_token": "k",
             "password": "k", "aws_secret_access_key": "k", "aws_access_key_id": "k", "aws_session_token": "k",
             "vertex_credentials": "{...}", "azure_ad_token": "k", "private_key": "k", "Authorization": "Bearer k"}
    assert set(redact_fields(creds).values()) == {MARKER}


def test_litellm_headers_keep_only_protocol_headers():
    from llmdebug.providers import litellm as litellm_provider

    out = redact_kwargs({"headers": {"X-Trace-Id": "t", "Content-Type": "application/json", "anthropic-version": "1"},
                         "extra_headers": {"X-Custom-Auth": "k"}, "api_key": None}, litellm_provider.SAFE_HEADERS)
    assert out["headers"] == {"X-Trace-Id": MARKER, "Content-Type": "application/json", "anthropic-version": "1"}
    assert out["extra_headers"] == {"X-Custom-Auth": MARKER}
    assert "api_key" not in out  # None values are not stored


def test_text_rule_for_error_messages():
    msg = "Error connecting to http://u:KEY@h/v1?key=Q&x=1 with Bearer sk-abcdefghijkl"
    out = redact_text(msg)
    assert "KEY" not in out and "=Q" not in out and "sk-abcdefghijkl" not in out and "x=1" in out
