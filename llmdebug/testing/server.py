"""A deterministic OpenAI-, Anthropic- and Gemini-compatible HTTP server on 127.0.0.1.

Used by demo notebooks, the test-suite and ``python -m llmdebug.testing``::

    with FakeLLMServer() as srv:
        openai.OpenAI(base_url=srv.openai_base_url, api_key=srv.api_key)
        anthropic.Anthropic(base_url=srv.anthropic_base_url, api_key=srv.api_key)
        genai.Client(api_key=srv.api_key, http_options=genai.types.HttpOptions(base_url=srv.gemini_base_url))

Notebooks use :func:`demo_server` (``FakeLLMServer.shared()``): one server per process,
started on first use and reused, so cells can be re-run in any order.

Endpoints (with or without the ``/v1`` prefix; routed by path suffix, so Azure
``/openai/deployments/<d>/...`` and ``/beta/...`` style bases work too):
``POST /v1/chat/completions``, ``/v1/responses``, ``/v1/embeddings``,
``/v1/completions``, ``/v1/messages`` (+ ``/v1/messages/count_tokens``), ``GET /v1/models``;
Gemini: ``POST /{v1,v1beta,...}/models/{model}:generateContent``, ``:streamGenerateContent``,
``:countTokens``, ``:embedContent``, ``:batchEmbedContents``, ``GET .../models[/{model}]``
(see :mod:`llmdebug.testing.gemini_responders` for what the google-genai SDK sends).
JSON bodies carry ``Content-Length``; SSE streams use chunked transfer encoding.
The same request body always yields the same response body.

Model-name triggers (usable from notebooks and the CLI without Python access):

- ``fail-429`` / ``fail-500`` / ``fail-400`` / ``fail-529`` / ``fail-401`` in the
  model name: that error on every attempt. (Gemini: the model is the one in the URL
  path, and 529 is sent as Gemini's 503 UNAVAILABLE.)
- ``flaky-N`` (e.g. ``fake-flaky-2``): 429 for the first N attempts of an
  identical request body, then success (so SDK retries succeed at N <= 2); the
  count then starts again, so the same call made again (a re-run cell) retries again.
- ``cut`` (as a dash-separated word, e.g. ``fake-cut``): the stream is dropped
  after about half of its events (non-stream: the socket closes without a reply).
- ``slow-MS`` (e.g. ``fake-slow-250``): MS milliseconds of extra latency.

Rate limits (see :mod:`llmdebug.testing.ratelimits`): every OpenAI and Anthropic reply
carries the API's rate-limit headers, counting down within a minute and starting again,
for each API and model apart (the default server reports 10,000 requests and 2,000,000 tokens a minute and refuses
nothing). ``FakeLLMServer(rate_limits={"requests": 60, "tokens": 40000, "window_s": 60})``
sets smaller limits and enforces them: a request that does not fit is answered 429 with
``retry-after``. ``rate_limits=None``: no rate-limit headers. Replayed cassettes send
their recorded headers only.

Error bodies follow the provider picked by path (``/messages`` and ``/complete``
are Anthropic, ``/models/<m>:<method>`` is Gemini, everything else OpenAI; a GET
from the google-genai SDK, known by its ``x-goog-*`` headers, is Gemini too).
OpenAI and Anthropic 429 and 5xx replies carry ``retry-after`` and
``retry-after-ms`` (at least 1 ms: the SDKs ignore a zero ``retry-after`` and fall
back to ~0.5-1 s backoff, while 1 ms keeps retry tests fast); Gemini's do not (the
real API sends none and the SDK ignores them), its 429 says ``RetryInfo`` in ``details``.

LiteLLM: ``litellm.completion(model="openai/<m>", api_base=srv.openai_base_url)``
and ``litellm.completion(model="anthropic/<m>", api_base=srv.anthropic_base_url)``
(litellm appends ``/v1/messages``; ``srv.url + "/v1/messages"`` works as well).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import anthropic_responders as anth
from . import gemini_responders as gem
from . import openai_responders as oai
from .sse import Reply, json_reply
from .ratelimits import RateLimits
from .synth import approx_tokens, content_text, digest, make_id

FAULTS = ("429", "500", "529", "400", "401", "cut", "timeout")
_REDACT = {"authorization", "x-api-key", "api-key", "x-goog-api-key"}
_KEY_PARAM = re.compile(r"(^|&)(key|api_key)=[^&]*")
_FAIL = re.compile(r"fail-(429|500|400|401|529)")
_FLAKY = re.compile(r"flaky-(\d+)")
_SLOW = re.compile(r"slow-(\d+)")
_CUT = re.compile(r"(?:^|[-_/.])cut(?:$|[-_/.])")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # idle keep-alive connections must not block shutdown

    def handle_error(self, request, client_address) -> None:
        # A client dropping its keep-alive connection (a closed SDK client, a killed
        # stream) is normal here; socketserver would print a traceback into the notebook.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class FakeLLMServer:
    """Start/stop a fake LLM API on a background thread (also a context manager)."""

    #: Any key is accepted; this one is for clients that insist on having one.
    api_key = "sk-fake-llmdebug"
    _shared: FakeLLMServer | None = None
    _shared_lock = threading.Lock()

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        chunk_delay: float = 0.0,
        cassette: str | Path | list[dict[str, Any]] | None = None,
        rate_limits: RateLimits | dict[str, Any] | bool | None = True,
    ) -> None:
        self.host, self.port = host, port
        self.rate_limits = rate_limits  # type: ignore[assignment]  # read back as RateLimits | None
        self.latency, self.chunk_delay = latency, chunk_delay
        self.requests: list[dict[str, Any]] = []
        self.unmatched: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._faults: list[dict[str, Any]] = []
        self._flaky: dict[str, int] = {}
        self._cassette: list[dict[str, Any]] | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        if cassette is not None:
            self.load(cassette)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> FakeLLMServer:
        if self._httpd is not None:
            return self
        httpd = _HTTPServer((self.host, self.port), _Handler)
        httpd.fake = self  # type: ignore[attr-defined]
        self._httpd, self.port = httpd, httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"FakeLLMServer:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    @classmethod
    def shared(cls) -> FakeLLMServer:
        """This process's demo server: started on first use and the same one afterwards
        (started again, on its port, if something stopped it)."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared.start()

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:  # wake handler threads parked on keep-alive reads
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def gemini_base_url(self) -> str:
        """For ``HttpOptions(base_url=...)`` / ``GOOGLE_GEMINI_BASE_URL`` (the SDK adds ``/v1/models/...``)."""
        return self.url

    # ------------------------------------------------------------ control
    @property
    def rate_limits(self) -> RateLimits | None:
        """The rate limits replies report (and enforce, when given): set a dict such as
        ``{"requests": 60, "tokens": 40000, "window_s": 60}``, a RateLimits, True (the
        default: report 10,000 requests and 2,000,000 tokens a minute) or None (no headers)."""
        return self._rate_limits

    @rate_limits.setter
    def rate_limits(self, value: RateLimits | dict[str, Any] | bool | None) -> None:
        self._rate_limits = RateLimits.of(value)

    def inject(self, fault: str | int, times: int = 1, retry_after: float = 0.0, model: str | None = None) -> None:
        """Queue ``fault`` for the next ``times`` requests (only those for ``model`` if given)."""
        fault = str(fault)
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {FAULTS}")
        with self._lock:
            self._faults.append({"fault": fault, "times": int(times), "retry_after": float(retry_after), "model": model})

    def reset(self) -> None:
        """Clear injected faults, the request log, unmatched requests and flaky counters;
        the rate limits start a fresh window."""
        with self._lock:
            self._faults.clear()
            self.requests.clear()
            self.unmatched.clear()
            self._flaky.clear()
        if self.rate_limits is not None:
            self.rate_limits.reset()

    def load(self, cassette: str | Path | list[dict[str, Any]] | None) -> None:
        """Switch to replaying ``cassette`` (a path or interaction list); None = synthesize again."""
        if cassette is None:
            interactions = None
        elif isinstance(cassette, (str, Path)):
            from .cassettes import load_cassette

            interactions = load_cassette(cassette)
        else:
            interactions = copy.deepcopy(list(cassette))
        with self._lock:
            self._cassette = interactions
            self.unmatched.clear()

    @property
    def remaining(self) -> list[dict[str, Any]]:
        """Cassette interactions not replayed yet."""
        with self._lock:
            return list(self._cassette or [])

    # ------------------------------------------------------------ request handling
    def _take_fault(self, model: Any) -> dict[str, Any] | None:
        with self._lock:
            for f in self._faults:
                if f["times"] > 0 and (f["model"] is None or f["model"] == model):
                    f["times"] -= 1
                    return f
        return None

    def _model_trigger(self, model: str, key: str) -> dict[str, Any] | None:
        if m := _FAIL.search(model):
            return {"fault": m.group(1), "retry_after": 0.0}
        if m := _FLAKY.search(model):
            n = int(m.group(1))
            with self._lock:
                seen = self._flaky.get(key, 0)
                self._flaky[key] = 0 if seen >= n else seen + 1
            if seen < n:
                return {"fault": "429", "retry_after": 0.0}
        if _CUT.search(model):
            return {"fault": "cut", "retry_after": 0.0}
        return None

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> tuple[Reply, bool]:
        """Compute the reply for one request; returns (reply, cut)."""
        url = urlsplit(target)
        path = url.path.rstrip("/") or "/"
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        shown = {k: ("REDACTED" if k in _REDACT else v) for k, v in headers.items()}
        query = _KEY_PARAM.sub(r"\1\2=REDACTED", url.query)
        with self._lock:
            self.requests.append({"method": method, "path": path, "query": query, "headers": shown, "json": body})
            cassette = self._cassette
        # Error shape: Anthropic for its paths or when its SDK is talking (only it sends the header);
        # Gemini for ``/models/<m>:<method>`` or when the google-genai SDK is talking.
        gemini_call = gem.PATH.search(path)
        gemini = bool(gemini_call) or (
            "anthropic-version" not in headers
            and ("x-goog-api-key" in headers or "x-goog-api-client" in headers)
            and bool(gem.MODEL_PATH.search(path))
        )
        anthropic = not gemini and (
            path.endswith(("/messages", "/complete", "/count_tokens")) or "anthropic-version" in headers
        )
        model = str(body.get("model") or "") if isinstance(body, dict) else ""
        if gemini_call and not model:
            model = gemini_call.group(1)  # Gemini names the model in the URL only
        delay = self.latency + (int(m.group(1)) / 1000 if (m := _SLOW.search(model)) else 0.0)
        if delay > 0:
            time.sleep(delay)
        limits = self.rate_limits
        if limits is None or cassette is not None or gemini or method != "POST":
            return self._answer(method, path, body, raw, model, anthropic, gemini, cassette)
        window = limits.take(("anthropic" if anthropic else "openai", model), *limits.cost(body, raw))
        if window.admitted:
            reply, cut = self._answer(method, path, body, raw, model, anthropic, gemini, cassette)
        else:
            reply, cut = _error_reply(429, anthropic, 0.0, raw, retry=limits.retry_headers(window)), False
        have = {name.lower() for name, _ in reply.headers}  # an injected 429 keeps its own "0 left"
        extra = [(k, v) for k, v in limits.headers(window, anthropic) if k not in have]
        return dataclasses.replace(reply, headers=reply.headers + extra), cut

    def _answer(self, method: str, path: str, body: Any, raw: bytes, model: str, anthropic: bool, gemini: bool,
                cassette: list | None) -> tuple[Reply, bool]:
        fault = self._take_fault(model or None)
        if fault is None and cassette is None:
            fault = self._model_trigger(model, digest(path) + digest(raw.decode("utf-8", "replace")))
        cut = False
        if fault is not None:
            kind = fault["fault"]
            if kind == "timeout":
                time.sleep(fault["retry_after"])
            elif kind == "cut":
                cut = True
            elif gemini:
                return gem.error_reply(gem.wire_status(int(kind)), retry_after=fault["retry_after"]), False
            else:
                return _error_reply(int(kind), anthropic, fault["retry_after"], raw), False
        if cassette is not None:
            return self._replay(method, path, raw, gemini), cut
        if gemini:
            try:
                return gem.route(method, path, body if isinstance(body, dict) else {}), cut
            except Exception as exc:  # a responder bug: an HTTP error in Gemini's shape
                return gem.error_reply(500, f"llmdebug fake server error: {exc!r}"), False
        return _route(method, path, body if isinstance(body, dict) else {}, anthropic, raw), cut

    def _replay(self, method: str, path: str, raw: bytes, gemini: bool = False) -> Reply:
        with self._lock:
            cassette = self._cassette or []
            for i, it in enumerate(cassette):
                if it["method"] == method and (it["path"].rstrip("/") or "/") == path:
                    cassette.pop(i)
                    return Reply(status=it["status"], body=it["body"], headers=list(it["headers"]))
            self.unmatched.append({"method": method, "path": path, "body": raw.decode("utf-8", "replace")})
        message = f"llmdebug fake server: no recorded interaction left for {method} {path}"
        if gemini:
            return gem.error_reply(418, message)
        return json_reply({"error": {"message": message, "type": "cassette_mismatch", "param": None, "code": None}}, 418)


def _error_reply(status: int, anthropic: bool, retry_after: float, raw: bytes,
                 retry: list[tuple[str, str]] | None = None) -> Reply:
    """An error reply in the API's shape (``retry``: the rate limiter's own retry headers,
    sent instead of ``retry_after``'s and of a "nothing left" count)."""
    request_id = make_id("req_", raw.decode("utf-8", "replace"))
    headers: list[tuple[str, str]] = list(retry or [])
    if retry is None and (status == 429 or status >= 500):
        headers += [("retry-after", f"{retry_after:g}"), ("retry-after-ms", str(max(1, int(retry_after * 1000))))]
    if anthropic:
        if status == 429 and retry is None:
            headers.append(("anthropic-ratelimit-requests-remaining", "0"))
        return json_reply(anth.error(status, request_id), status, headers + [("request-id", request_id)])
    if status == 429 and retry is None:
        headers.append(("x-ratelimit-remaining-requests", "0"))
    return json_reply(oai.error(status), status, headers + [("x-request-id", request_id)])


def _route(method: str, path: str, body: dict[str, Any], anthropic: bool, raw: bytes) -> Reply:
    if method == "GET" and path.endswith("/models"):
        return anth.models() if anthropic else oai.models()
    if method == "POST":
        if path.endswith("/chat/completions"):
            return oai.chat_completions(body)
        if path.endswith("/responses"):
            return oai.responses(body)
        if path.endswith("/embeddings"):
            return oai.embeddings(body)
        if path.endswith("/completions"):
            return oai.completions(body)
        if path.endswith("/messages/count_tokens"):
            text = content_text(body.get("system")) + content_text([m.get("content") for m in body.get("messages") or []])
            return json_reply({"input_tokens": approx_tokens(text)})
        if path.endswith("/messages"):
            return anth.messages(body)
    message = f"Unknown request URL: {method} {path}."
    if anthropic:
        return json_reply(anth.error(404, make_id("req_", raw.decode("utf-8", "replace")), message), 404)
    return json_reply(oai.error(404, message), 404)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the SDKs' connection pools are exercised
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle plus
    # delayed ACKs add ~40 ms to every keep-alive request.
    disable_nagle_algorithm = True
    server_version = "llmdebug-fake/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by design
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.fake._lock:  # type: ignore[attr-defined]
            self.server.fake._conns.add(self.connection)  # type: ignore[attr-defined]

    def finish(self) -> None:
        with self.server.fake._lock:  # type: ignore[attr-defined]
            self.server.fake._conns.discard(self.connection)  # type: ignore[attr-defined]
        try:
            super().finish()
        except OSError:
            pass

    def _serve(self) -> None:
        fake: FakeLLMServer = self.server.fake  # type: ignore[attr-defined]
        raw = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            reply, cut = fake.handle(self.command, self.path, headers, raw)
        except Exception as exc:  # a responder bug must surface as an HTTP error, not a hung client
            reply, cut = json_reply(oai.error(500, f"llmdebug fake server error: {exc!r}"), 500), False
        try:
            if reply.is_stream:
                self._send_stream(reply, cut, fake.chunk_delay)
            elif cut:
                self._drop()
            else:
                self._send_head(reply, [("Content-Length", str(len(reply.body or b"")))])
                self.wfile.write(reply.body or b"")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # the client went away mid-reply
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()  # CRLF after each chunk
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_head(self, reply: Reply, extra: list[tuple[str, str]]) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers + extra:
            self.send_header(name, value)
        self.end_headers()

    def _send_stream(self, reply: Reply, cut: bool, chunk_delay: float) -> None:
        events = reply.events or []
        self._send_head(reply, [("Transfer-Encoding", "chunked")])
        self.wfile.flush()  # headers out first, so time-to-first-token is measurable
        stop_at = max(1, len(events) // 2) if cut else None
        for i, event in enumerate(events):
            if stop_at is not None and i >= stop_at:
                return self._drop()  # no terminating events and no zero-length chunk
            if chunk_delay and i:
                time.sleep(chunk_delay)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
