"""An OTLP/HTTP trace receiver: any OpenTelemetry exporter can send its spans to llmdebug.

``receive()`` listens for ``POST /v1/traces`` (protobuf or JSON, gzip or not) and stores
what arrives in the current store, as the OTLP/HTTP specification asks a collector to
answer. It is the stdlib's ThreadingHTTPServer on a daemon thread: no new dependency,
and the work per request (decode, map, SQLite) is CPU-bound under the GIL, so an
asyncio server would not take more spans per second.

Bad requests never reach the store: bodies are size-checked before and after
decompression (a gzip bomb stops at the limit), decoded whole, then handed over. A
retried export adds nothing (spans are keyed by id).
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
import socketserver
import threading
import time
import zlib
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .. import session
from .._guard import report
from . import otlp
from .ingest import ingest

__all__ = ["Receiver", "receive", "DEFAULT_MAX_BYTES"]

DEFAULT_MAX_BYTES = 32 * 2**20  # one request, compressed or not (the Collector's default is 20 MB)
PATH = "/v1/traces"
_REMEMBERED = 200_000  # span ids handed to the writer, for retries that arrive before they are written
_QUEUE_SPANS = 50_000  # past this many spans waiting for the writer, requests wait (backpressure)
_WAIT_S = 5.0  # ... at most this long, then 503 + Retry-After (the exporter retries)
_DRAIN_MAX = 256 * 2**20  # an oversized body is read and dropped up to this, so its client sees the 413

# google.rpc.Code for the Status in an error response
_INVALID_ARGUMENT, _NOT_FOUND, _RESOURCE_EXHAUSTED, _UNAUTHENTICATED, _UNAVAILABLE = 3, 5, 8, 16, 14
_CONTENT_TYPES = {"application/x-protobuf": otlp.PROTOBUF, "application/protobuf": otlp.PROTOBUF,
                  "application/json": otlp.JSON}


class _TooLarge(Exception):
    pass


def _inflate(data: bytes, limit: int) -> bytes:
    """A gzip or zlib body, never more than ``limit`` bytes of it in memory."""
    out, total = [], 0
    while data:  # gzip allows several members back to back
        d = zlib.decompressobj(32 + zlib.MAX_WBITS)  # gzip or zlib header, detected
        try:
            chunk = d.decompress(data, limit - total + 1)
        except zlib.error as e:
            raise otlp.Malformed(f"the body is not valid gzip/deflate ({e})") from None
        total += len(chunk)
        if total > limit:
            raise _TooLarge(f"the decompressed body is over the limit of {limit} bytes")
        if not d.eof:
            raise otlp.Malformed("the compressed body is truncated")
        out.append(chunk)
        data = d.unused_data
    return b"".join(out)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve anywhere


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple, receiver: "Receiver"):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.receiver = receiver
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can take seconds
        # on a machine without DNS; the name is not used
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: an exporter sends every batch on one connection
    server_version = "llmdebug-otlp"
    timeout = 60  # a client that stops sending mid-request does not hold a thread forever
    # the reply's headers and body leave in one segment (handle_one_request flushes), and
    # no Nagle delay: written in two, a small reply waits for the client's delayed ACK (40 ms)
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server: _Server

    _consumed = False  # the body was read (this request)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per export on stderr would drown a notebook

    # -- replies ------------------------------------------------------------------------
    def _send(self, code: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _error(self, code: int, rpc_code: int, message: str, fmt: str | None, headers: dict | None = None) -> None:
        self.server.receiver._count("refused")
        if fmt is None:  # not an OTLP content type: plain text says it best
            self._send(code, message.encode("utf-8"), "text/plain; charset=utf-8", headers)
        else:
            self._send(code, otlp.status(fmt, rpc_code, message), fmt, headers)

    def _drop_body(self) -> None:
        """Read and discard an unread body, so the client gets to read the reply (closing
        with unread data makes the kernel reset the connection before it can)."""
        self.close_connection = True
        if self._consumed or "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return
        self._consumed = True
        try:
            left = min(int(self.headers.get("Content-Length") or 0), _DRAIN_MAX)
        except ValueError:
            return
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 16))
            if not chunk:
                return
            left -= len(chunk)

    # -- methods ------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._not_post()

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _not_post(self) -> None:
        self._consumed = False
        self._drop_body()
        if urlsplit(self.path).path == PATH:
            self._error(405, _NOT_FOUND, f"{PATH} takes POST", None, {"Allow": "POST"})
        else:
            self._error(404, _NOT_FOUND, f"not found: only POST {PATH} is served here", None)

    def do_POST(self) -> None:
        r = self.server.receiver
        r._count("requests")
        self._consumed = False
        ctype = self.headers.get_content_type()
        fmt = _CONTENT_TYPES.get(ctype)
        if r.token is not None and not self._authorized(r.token):
            self._drop_body()
            self._error(401, _UNAUTHENTICATED, "a bearer token is required (Authorization: Bearer <token>)",
                        fmt, {"WWW-Authenticate": "Bearer"})
            return
        if urlsplit(self.path).path != PATH:
            self._drop_body()
            self._error(404, _NOT_FOUND, f"not found: only POST {PATH} is served here", fmt)
            return
        if fmt is None:
            self._drop_body()
            self._error(415, _INVALID_ARGUMENT, f"unsupported Content-Type {ctype!r}: send "
                        "application/x-protobuf or application/json", None)
            return
        encoding = (self.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding not in ("identity", "gzip", "deflate"):
            self._drop_body()
            self._error(415, _INVALID_ARGUMENT, f"unsupported Content-Encoding {encoding!r}: send gzip, "
                        "deflate or none", fmt)
            return
        try:
            body = self._read_body(r.max_bytes)
            if encoding != "identity":
                body = _inflate(body, r.max_bytes)
            decoded = otlp.decode(body, fmt)
        except _TooLarge as e:
            self._drop_body()
            self._error(413, _RESOURCE_EXHAUSTED, str(e), fmt)
            return
        except otlp.Malformed as e:
            self._error(400, _INVALID_ARGUMENT, str(e), fmt)
            return
        except _LengthRequired:
            self.close_connection = True
            self._error(411, _INVALID_ARGUMENT, "a Content-Length (or chunked body) is required", fmt)
            return
        del body
        try:
            if not r._wait_for_room():
                self._error(503, _UNAVAILABLE, "llmdebug's writer is behind; retry shortly", fmt,
                            {"Retry-After": "2"})
                return
            r._take(decoded)
        except Exception:
            # the exporter retries a 503, so nothing is lost on our bug
            self._error(503, _UNAVAILABLE, "llmdebug could not take the spans; retry", fmt, {"Retry-After": "1"})
            report("receiving OTLP spans")
            return
        self._send(200, otlp.response(fmt, decoded.rejected, decoded.reason), fmt)

    def _authorized(self, token: str) -> bool:
        scheme, _, given = (self.headers.get("Authorization") or "").strip().partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())

    def _read_body(self, limit: int) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked(limit)
        raw = self.headers.get("Content-Length")
        if raw is None:
            raise _LengthRequired
        try:
            length = int(raw)
        except ValueError:
            self.close_connection = True
            raise otlp.Malformed(f"Content-Length {raw!r} is not a number") from None
        if length > limit:
            raise _TooLarge(f"the body ({length} bytes) is over the limit of {limit} bytes")
        body = self.rfile.read(length)
        self._consumed = True
        if len(body) != length:
            self.close_connection = True
            raise otlp.Malformed(f"the body ended after {len(body)} of {length} bytes")
        return body

    def _read_chunked(self, limit: int) -> bytes:
        parts, total = [], 0
        self._consumed = True
        self.close_connection = True  # on any error below the stream is out of step
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise otlp.Malformed("bad chunked encoding") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                break
            total += size
            if total > limit:
                raise _TooLarge(f"the body is over the limit of {limit} bytes")
            chunk = self.rfile.read(size)
            if len(chunk) != size:
                raise otlp.Malformed("the chunked body is truncated")
            parts.append(chunk)
            self.rfile.readline(1024)
        self.close_connection = False
        return b"".join(parts)


class _LengthRequired(Exception):
    pass


class Receiver:
    """A running receiver: ``url``, ``port``, ``stats``, ``stop()``; a context manager."""

    def __init__(self, host: str, port: int, token: str | None, max_bytes: int):
        self.host = host
        self.token = token
        self.max_bytes = max_bytes
        self._stats = {"requests": 0, "stored": 0, "skipped": 0, "rejected": 0, "refused": 0}
        self._lock = threading.Lock()  # stats, and dedup + hand-over as one step
        self._recent: set[str] = set()
        self._order: deque[str] = deque()
        try:
            self._server = _Server((host, port), self)
        except OSError as e:
            raise OSError(e.errno, f"llmdebug: cannot listen on {host}:{port}: {e.strerror or e}") from None
        self.port: int = self._server.server_address[1]
        h = f"[{host}]" if ":" in host else host
        self.url = f"http://{h}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"llmdebug-otlp-{self.port}", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        state = "running" if self._thread.is_alive() else "stopped"
        return f"<llmdebug Receiver {self.url}{PATH} {state} {self.stats}>"

    def __enter__(self) -> "Receiver":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def stats(self) -> dict:
        """Requests received, spans stored, skipped (already stored), rejected (no valid
        ids, reported to the client), and requests refused (4xx/5xx)."""
        with self._lock:
            return dict(self._stats)

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop listening, then wait for what was received to be written; False if it
        could not be within ``timeout``."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
        return session.flush(timeout)

    # -- called by the handler threads -------------------------------------------------
    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._stats[key] += n

    def _wait_for_room(self) -> bool:
        """Backpressure: the writer's queue is bounded; past it, spans would be shed."""
        writer = session.get_store().writer
        deadline = time.monotonic() + _WAIT_S
        while True:
            st = writer.stats()
            if st["queued_spans"] < _QUEUE_SPANS and st["buffered_bytes"] < st["cap_bytes"] // 2:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    def _take(self, decoded: otlp.Decoded) -> None:
        spans = decoded.spans
        with self._lock:
            # ids this receiver handed over lately may not be written yet; the store knows the rest
            known = {o.span_id for o in spans if o.span_id in self._recent}
            unknown = [o.span_id for o in spans if o.span_id not in known]
            if unknown:
                known |= _stored(unknown)
            done = ingest(spans, known=known)
            for o in spans:
                if o.span_id not in self._recent:
                    self._recent.add(o.span_id)
                    self._order.append(o.span_id)
            while len(self._order) > _REMEMBERED:
                self._recent.discard(self._order.popleft())
            self._stats["stored"] += done.stored
            self._stats["skipped"] += done.skipped
            self._stats["rejected"] += decoded.rejected


def _stored(ids: list[str]) -> set[str]:
    """Which ids the store holds on disk (without waiting for the writer: see _take)."""
    store = session.get_store()
    found: set[str] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        found.update(r[0] for r in store.read(f"SELECT id FROM spans WHERE id IN ({', '.join('?' * len(chunk))})",
                                              chunk))
    return found


def receive(port: int = 4318, host: str = "127.0.0.1", *, token: str | None = None,
            max_bytes: int = DEFAULT_MAX_BYTES, db: str | Path | None = None) -> Receiver:
    """Start an OTLP/HTTP receiver; point an exporter at ``receiver.url``
    (``OTEL_EXPORTER_OTLP_ENDPOINT``). Spans go to the current store, or ``db``.

    Listens on loopback by default. Any other ``host`` needs ``token``: traces carry
    prompts and outputs, and anyone who can reach the port could write into the store.
    With a token, requests must send ``Authorization: Bearer <token>``.
    """
    if token is not None and not token.strip():
        raise ValueError("token must not be empty")
    if not is_loopback(host) and token is None:
        raise ValueError(
            f"llmdebug.receive(host={host!r}) would accept traces from other machines without "
            "authentication: anyone who can reach the port could write into your trace store. "
            "Pass token='<secret>' (clients then send 'Authorization: Bearer <secret>', e.g. "
            "OTEL_EXPORTER_OTLP_HEADERS='Authorization=Bearer <secret>'), or bind 127.0.0.1.")
    if not isinstance(max_bytes, int) or max_bytes <= 0:
        raise ValueError(f"max_bytes must be a positive number of bytes, not {max_bytes!r}")
    if db is not None:
        session.init(db, instrument=False)
    else:
        session.get_store()
    return Receiver(host, port, token, max_bytes)
