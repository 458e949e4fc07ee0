"""Cassettes: record the HTTP exchanges of LLM calls to a file, play them back offline.

Example::

    with ld.cassette("cassettes/summarise.json"):          # mode="auto"
        client.chat.completions.create(model="gpt-4o", messages=[...])

Modes:

- ``"record"``: every call goes to the API; the file is rewritten with exactly this
  run's exchanges (written after each one, and when the cassette stops).
- ``"replay"``: calls are answered from the file, with no network at all; a call with
  no recorded answer raises :class:`CassetteMiss`. The file must exist.
- ``"auto"`` (default): answered from the file when recorded, sent and added to the
  file otherwise.
- ``"off"``: does nothing (calls go to the API, nothing is written).

Works at the HTTP transport (httpx and httpx2 clients, aiohttp sessions), so every
SDK behaves as it did when recording: sync, async, streams (played chunk by chunk),
retries (a 429 then a 200 are two exchanges) and HTTP errors. Only requests to an LLM
API are handled: those made inside an SDK call llmdebug captures, or to a known API
path (``/chat/completions``, ``/messages``, ``:generateContent`` ...); anything else
goes to the network as usual. A call answered from a cassette is still captured (when
capture is on) and its span carries the tag ``"cassette"`` and the attribute
``cassette = {"path": ..., "interaction": n}`` (n counts from 1).

Matching: method, URL path, query string and the JSON body compared canonically
(key order and whitespace do not matter), without credentials and without the fields
in ``ignore`` (default :data:`DEFAULT_IGNORE`: ``user``, ``metadata``,
``safety_identifier``, ``prompt_cache_key``; names or dotted paths, ``*`` for any
key or list item, e.g. ``"messages.*.name"``). The host is not compared: a recording
made against one base URL answers another. Identical requests are answered by their
recordings in recorded order, each recording once.

File format (JSON, ``indent=2``, one object per exchange; write and read it with
:func:`write_cassette` / :func:`read_cassette` and :class:`Interaction`)::

    {
      "llmdebug_cassette": 1,
      "interactions": [
        {
          "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                      "json": {"model": "gpt-4o", "messages": [...]}},
          "response": {"status": 200,
                       "headers": {"content-type": "application/json", "x-request-id": "req_1"},
                       "json": {"id": "chatcmpl-1", "choices": [...]}}
        },
        {
          "request": {...},
          "response": {"status": 200, "headers": {"content-type": "text/event-stream"},
                       "chunks": ["data: {\\"id\\": ...}\\n\\n", "data: [DONE]\\n\\n"]}
        }
      ]
    }

A body is ``"json"`` (parsed JSON: an object or array), ``"text"`` or ``"base64"``;
a streamed response has ``"chunks"`` instead (each a string, or ``{"base64": ...}``)
and may end in ``"stream_error": "RemoteProtocolError: ..."`` (raised after the
chunks). A JSON response body is re-sent byte for byte: ``"json_style"`` (``"indent2"``,
``"spaced+nl"`` ...; absent: compact) says how it was laid out, and a body no known
layout reproduces is kept as ``"text"``. Response headers are kept minus credentials and
``content-encoding`` (bodies are stored decoded); ``content-length`` is set to the
replayed body's length. Nothing secret is stored: no request headers at all, credential
fields of the body and of the URL's query are redacted (:mod:`llmdebug.redaction`), and
the values of the request's credential headers (the API key) are blanked wherever they
appear in a response.

VCR.py YAML cassettes (``.yaml``/``.yml``) are read too, in ``"replay"`` mode.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import zlib
from collections import deque
from pathlib import Path
from typing import Any, Iterable

import wrapt

from .. import providers
from .._guard import report
from ..capture._patch import active
from ..redaction import MARKER, is_secret_header, redact_url
from . import matching
from .files import Interaction, is_vcr, json_style_of, read_cassette, write_cassette
from .matching import DEFAULT_IGNORE

__all__ = ["cassette", "Cassette", "CassetteMiss", "Interaction", "read_cassette", "write_cassette",
           "DEFAULT_IGNORE", "MODES"]

MODES = ("record", "replay", "auto", "off")

# Response headers not kept: the body's encoding (bodies are stored decoded).
# Content-Length is kept and set to the replayed body's length when played back.
_DROP_HEADERS = frozenset({"content-encoding"})


class CassetteMiss(BaseException):
    """A call in ``replay`` mode that the cassette holds no answer for.

    Raised from inside the SDK call. It derives from BaseException (as pytest's
    outcomes and KeyboardInterrupt do) so that neither the SDK's retry loop nor an
    ``except Exception`` in the application turns a missing recording into retries, a
    connection error or a silent fallback: catch it as ``except ld.CassetteMiss``.
    ``request`` (method, url, body), ``closest`` (an :class:`Interaction` or None) and
    ``diff`` (recorded body -> this request's) say what was asked and what is on file.
    """

    def __init__(self, message: str, *, path: Path | None = None, request: dict | None = None,
                 closest: Interaction | None = None, diff: str = ""):
        super().__init__(message)
        self.path, self.request, self.closest, self.diff = path, request, closest, diff


class _Entry:
    __slots__ = ("interaction", "key", "used", "number")

    def __init__(self, interaction: Interaction, key: tuple, number: int, used: bool = False):
        self.interaction, self.key, self.number, self.used = interaction, key, number, used


class Cassette:
    """A cassette file in one mode; a context manager (``start()``/``stop()`` otherwise).
    Made by :func:`cassette`. ``interactions`` lists what is on file (loaded and recorded
    so far); ``played`` and ``recorded`` count this session's answers and recordings."""

    def __init__(self, path: str | os.PathLike, mode: str = "auto", *, ignore: Iterable[str] | None = None):
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"cassette path must be a str or path, not {type(path).__name__}")
        if mode not in MODES:
            raise ValueError(f"cassette mode {mode!r}: choose one of {', '.join(MODES)}")
        self.path = Path(path)
        self.mode = mode
        self.ignore = matching.normalize_ignore(ignore)
        if is_vcr(self.path) and mode in ("record", "auto"):
            raise ValueError(f"{self.path}: a VCR YAML cassette is played back only (mode='replay'); "
                             "llmdebug records into a .json cassette")
        self._lock = threading.RLock()
        self._entries: list[_Entry] = []
        self._unused: dict[tuple, deque[_Entry]] = {}
        self._open: set = set()  # recordings whose response is still being read
        self.played = 0
        self.recorded = 0
        self._running = False
        self._written = False
        self._missing_ok = False  # replay: a missing file is an empty cassette (the pytest plugin)

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> Cassette:
        if self._running:
            raise RuntimeError(f"cassette {self.path} is already running")
        if self.mode != "off":
            if self.path.is_dir():
                raise IsADirectoryError(f"cassette path {self.path} is a directory; give a file such as "
                                        f"{self.path / 'calls.json'}")
            self._load()
            _push(self)
        self._running = True
        return self

    def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        if self.mode == "off":
            return
        _pop(self)
        with self._lock:
            pending = list(self._open)
        for rec in pending:  # streams never read to the end: keep what arrived
            rec.finish()
        if self.mode == "record" and not self._written:
            self._save()

    def __enter__(self) -> Cassette:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def interactions(self) -> list[Interaction]:
        with self._lock:
            return [e.interaction for e in self._entries]

    @property
    def unplayed(self) -> list[Interaction]:
        """Recorded interactions no call has used in this session."""
        with self._lock:
            return [e.interaction for e in self._entries if not e.used]

    def __repr__(self) -> str:
        return (f"<Cassette {str(self.path)!r} mode={self.mode} {len(self._entries)} interactions, "
                f"{self.played} played, {self.recorded} recorded>")

    def _load(self) -> None:
        self._entries, self._unused = [], {}
        self.played = self.recorded = 0
        self._written = False
        if self.mode == "record":
            return
        if not self.path.exists():
            if self.mode == "replay" and not self._missing_ok:
                raise FileNotFoundError(f"no cassette at {self.path}: record it first (mode='record' or 'auto'; "
                                        "under pytest, --llm-record=once)")
            return
        for it in read_cassette(self.path):
            self._add(it, used=False)

    def _add(self, it: Interaction, used: bool) -> _Entry:
        entry = _Entry(it, matching.key(it.method, it.url, it.request_body, self.ignore), len(self._entries) + 1, used)
        self._entries.append(entry)
        if not used:
            self._unused.setdefault(entry.key, deque()).append(entry)
        return entry

    # -- called by the transports -----------------------------------------------------
    def handles(self, path: str) -> bool:
        """Whether a request to URL ``path`` is an LLM API request this cassette handles."""
        return active.get() is not None or providers.wire_for_path(path)[0] is not None

    def answer(self, method: str, url: str, body: bytes | None) -> Interaction | None:
        """The recorded answer to this request, or None to send it (and record it).
        Raises :class:`CassetteMiss` in replay mode."""
        if self.mode == "record":
            return None
        k = matching.key(method, url, body, self.ignore)
        with self._lock:
            queue = self._unused.get(k)
            if queue:
                entry = queue.popleft()
                entry.used = True
                self.played += 1
                _mark_span(self, entry.number, replayed=True)
                return entry.interaction
            if self.mode == "auto":
                return None
            raise self._miss(method, url, body, k)

    def _miss(self, method: str, url: str, body: bytes | None, k: tuple) -> CassetteMiss:
        what = matching.describe(method, url)
        same = [e for e in self._entries if e.key == k]
        lines = [f"llmdebug cassette: no recorded answer for {what}",
                 f"  cassette: {self.path} (mode {self.mode}; {len(self._entries)} interactions, {self.played} played)"]
        near, diff = None, ""
        if same:
            lines.append(f"  all {len(same)} recorded answers to this same request were already played "
                         "(identical requests are answered in recorded order, each recording once)")
            near = same[-1].interaction
        else:
            found = matching.closest(method, url, body, [e.interaction for e in self._entries], self.ignore)
            if found is None:
                lines.append("  the cassette is empty" if self.path.exists() else
                             f"  there is no cassette file at {self.path}: record it (mode='record' or 'auto'; "
                             "pytest: --llm-record=once)")
            else:
                i, near = found
                e = self._entries[i]
                lines.append(f"  closest recorded request: #{e.number} {matching.describe(near.method, near.url)}"
                             f" ({'already played' if e.used else 'not played yet'})")
                if matching.describe(near.method, near.url) != what:
                    lines.append(f"  this request: {what}")
                diff = matching.body_diff(near.request_body, body, self.ignore)
                if diff:
                    lines.append("  body, recorded -> this request:")
                    lines.extend("    " + d for d in diff.splitlines())
                else:
                    lines.append("  (bodies equal; the query string differs)")
        if self.path.exists():
            lines.append("  to record it: mode='auto' (pytest: --llm-record=new); a field that varies between runs: "
                         "ignore=[...]")
        request = {"method": method.upper(), "url": redact_url(url),
                   "body": matching.comparable_body(body, ())}
        return CassetteMiss("\n".join(lines), path=self.path, request=request, closest=near, diff=diff)

    def recording(self, method: str, url: str, body: bytes | None, request_headers: Any, status: int,
                  response_headers: Any) -> _Recording | None:
        """A recorder for this exchange's response (None in modes that do not record)."""
        if self.mode not in ("record", "auto"):
            return None
        try:
            rec = _Recording(self, method, url, body, request_headers, status, response_headers)
            _mark_span(self, None, replayed=False)
            with self._lock:
                self._open.add(rec)
            return rec
        except Exception:
            report("recording an HTTP exchange")
            return None

    def _finished(self, rec: _Recording, it: Interaction) -> None:
        with self._lock:
            self._open.discard(rec)
            self._add(it, used=True)
            self.recorded += 1
            self._save()

    def _save(self) -> None:
        with self._lock:
            write_cassette(self.path, [e.interaction for e in self._entries])
            self._written = True


def _secret_values(headers: Any, url: str) -> list[bytes]:
    """The credentials a request carried (header values, query values), to blank out."""
    found = set()
    for name, value in headers or ():
        n = name.decode("latin-1") if isinstance(name, bytes) else str(name)
        if is_secret_header(n):
            v = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            found.add(v)
            found.update(v.split()[1:])  # "Bearer KEY"
    redacted = redact_url(url)
    if redacted != url:
        from urllib.parse import parse_qsl, urlsplit

        mine, theirs = parse_qsl(urlsplit(url).query), parse_qsl(urlsplit(redacted).query)
        found.update(v for (_, v), (_, r) in zip(mine, theirs) if v != r)
    # Short values would blank ordinary text; real keys are long.
    return sorted((v.encode("utf-8") for v in found if len(v) >= 8), key=len, reverse=True)


def _scrub(data: bytes, secrets: list[bytes]) -> bytes:
    for s in secrets:
        if s in data:
            data = data.replace(s, MARKER.encode())
    return data


def _decoder(encoding: str):
    """An incremental decoder for a Content-Encoding, or None when it cannot be undone here."""
    enc = encoding.strip().lower()
    if enc in ("", "identity"):
        return lambda b: b
    if enc in ("gzip", "x-gzip"):
        return zlib.decompressobj(zlib.MAX_WBITS | 16).decompress
    if enc == "deflate":
        return zlib.decompressobj().decompress
    if enc == "br":
        try:
            import brotli  # type: ignore[import-not-found]
        except ImportError:
            return None
        return brotli.Decompressor().process
    return None


class _Recording:
    """One exchange being recorded: the response's chunks as they pass to the client."""

    def __init__(self, cas: Cassette, method: str, url: str, body: bytes | None, request_headers: Any,
                 status: int, response_headers: Any):
        self.cas = cas
        self.secrets = _secret_values(request_headers, url)
        self.method = method.upper()
        self.url = redact_url(url)
        raw = _scrub(body or b"", self.secrets)
        parsed = matching.comparable_body(raw, ()) if raw else None  # JSON parsed and redacted
        self.request_body = parsed if parsed not in (b"", "") else None
        self.status = status
        pairs = [(_text(k), _text(v)) for k, v in response_headers or ()]
        encoding = next((v for k, v in pairs if k.lower() == "content-encoding"), "")
        self.decode = _decoder(encoding)
        keep = {"content-encoding"} if self.decode is None else set()
        limits = providers.header_names()[1]  # rate-limit headers name "tokens": counts, not credentials
        self.headers = [(k, _scrub(v.encode("utf-8"), self.secrets).decode("utf-8", "replace"))
                        for k, v in pairs
                        if (k.lower() not in _DROP_HEADERS or k.lower() in keep)
                        and (not is_secret_header(k) or k.lower().encode("latin-1", "replace") in limits)]
        ctype = next((v for k, v in pairs if k.lower() == "content-type"), "")
        self.streamed = "event-stream" in ctype or "ndjson" in ctype or "jsonl" in ctype
        self.chunks: list[bytes] = []
        self.done = False

    def chunk(self, data: bytes) -> None:
        try:
            if self.decode is not None:
                data = self.decode(data)
            if data:
                self.chunks.append(bytes(data))
        except Exception:
            self.decode = None  # undecodable: recorded as received, with its encoding
            report("decoding a recorded response")

    def finish(self, error: BaseException | None = None) -> None:
        if self.done:
            return
        self.done = True
        try:
            chunks = [_scrub(c, self.secrets) for c in self.chunks]
            it = Interaction(method=self.method, url=self.url, request_body=self.request_body, status=self.status,
                             headers=self.headers)
            if error is not None and not isinstance(error, GeneratorExit):
                it.stream_error = f"{type(error).__name__}: {_scrub(str(error).encode(), self.secrets).decode()}"
            if self.streamed or it.stream_error:
                it.chunks = chunks
            else:
                whole = b"".join(chunks)
                parsed = _parse(whole)
                style = json_style_of(whole, parsed) if parsed is not None else None
                if style is not None:
                    it.body, it.json_style = parsed, None if style == "compact" else style
                else:  # not JSON, or JSON laid out in a way only its own bytes reproduce
                    it.body = _as_text(whole) if whole else None
            self.cas._finished(self, it)
        except Exception:
            report("saving a recorded HTTP exchange")


def _parse(data: bytes) -> Any:
    try:
        parsed = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    return parsed if isinstance(parsed, (dict, list)) else None


def _text(v: Any) -> str:
    return v.decode("latin-1") if isinstance(v, bytes) else str(v)


def _as_text(data: bytes) -> str | bytes:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


def _mark_span(cas: Cassette, number: int | None, replayed: bool) -> None:
    call = active.get()
    if call is None:
        return
    span = call.span
    if replayed:
        span.add_tag("cassette")
        span.set_attribute("cassette", {"path": str(cas.path), "interaction": number})
    else:
        span.set_attribute("cassette", {"path": str(cas.path), "recorded": True})


# -- the active cassettes and the patches they need ------------------------------------------
_stack: list[Cassette] = []
_stack_lock = threading.RLock()
_installed: dict[str, list] = {}
_hooked: set[str] = set()


def current() -> Cassette | None:
    """The innermost running cassette (process-wide: threads see it too)."""
    stack = _stack
    return stack[-1] if stack else None


def _installer(name: str):
    if name == "aiohttp":
        from . import aiohttp_hook

        return lambda mod: aiohttp_hook.install(mod, current)
    from . import httpx_hook

    return lambda mod: httpx_hook.install(mod, current)


_LIBS = ("httpx", "httpx2", "aiohttp")


def _on_import(module: Any) -> None:
    with _stack_lock:
        name = module.__name__
        if not _stack:
            return
        patches = _installed.get(name)
        if patches is not None and all(_in_chain(owner.__dict__.get(attr), ours) for owner, attr, _, ours in patches):
            return  # still in place (perhaps under llmdebug's capture, which wrapped the same method since)
        try:
            _installed[name] = [(owner, attr, original, owner.__dict__[attr])
                                for owner, attr, original in _installer(name)(module)]
        except Exception:
            report(f"installing cassettes for {name}")


def _in_chain(fn: Any, ours: Any) -> bool:
    for _ in range(8):
        if fn is ours:
            return True
        if not isinstance(fn, wrapt.FunctionWrapper):
            return False
        fn = fn.__wrapped__
    return False


def _push(cas: Cassette) -> None:
    with _stack_lock:
        _stack.append(cas)
        for name in _LIBS:
            if name in sys.modules:
                _on_import(sys.modules[name])
            elif name not in _hooked:
                _hooked.add(name)
                wrapt.register_post_import_hook(_on_import, name)


def _pop(cas: Cassette) -> None:
    with _stack_lock:
        if cas in _stack:
            _stack.remove(cas)
        if _stack:
            return
        for name in list(_installed):
            kept = []
            for owner, attr, original, ours in reversed(_installed.pop(name)):
                if owner.__dict__.get(attr) is ours:
                    setattr(owner, attr, original)
                else:  # wrapped again since (llmdebug's capture): ours stays, passing calls through
                    kept.append((owner, attr, original, ours))
            if kept:
                _installed[name] = kept


def cassette(path: str | os.PathLike, mode: str = "auto", *, ignore: Iterable[str] | None = None) -> Cassette:
    """A cassette at ``path`` (JSON; ``.yaml`` for a VCR.py one, replay only) in ``mode``
    ``"record"``, ``"replay"``, ``"auto"`` or ``"off"``; use it as ``with ld.cassette(path):``.
    ``ignore``: body fields left out of matching (default :data:`DEFAULT_IGNORE`).
    See :mod:`llmdebug.cassettes` for matching and the file format."""
    return Cassette(path, mode, ignore=ignore)
