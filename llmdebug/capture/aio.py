"""HTTP-level observation for aiohttp (google-genai's async client uses it when installed).

Like ``http.py`` for httpx: ``ClientSession._request`` notes each attempt of an LLM call
in flight, and the bytes of its response are seen as the SDK reads them, through the
one primitive every read method of aiohttp's ``StreamReader`` ends in. Nothing the SDK
gets is replaced: the wrappers only look. Outside an LLM call each costs one lookup.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

import wrapt

from .._guard import report
from ._patch import Call, active
from .http import stream_done, stream_failed

# id(body reader) -> (reader, call) of each observed response (aiohttp's StreamReader
# takes no weak references); an entry goes when the body is read, fails or is collected.
_readers: dict[int, tuple[Any, Call]] = {}


class _Request:
    """What finalize reads of a request: its URL and body bytes."""

    __slots__ = ("url", "content")

    def __init__(self, url: Any, content: bytes | None):
        self.url = url
        self.content = content or b""


class _Headers:
    """aiohttp's raw response headers in the shape finalize reads (``.raw``, ``.get``)."""

    __slots__ = ("raw",)

    def __init__(self, raw: Any):
        self.raw = tuple(raw or ())

    def get(self, name: str, default: Any = None) -> Any:
        want = name.lower().encode("latin-1")
        for k, v in self.raw:
            if k.lower() == want:
                return v.decode("latin-1")
        return default


def request_body(kwargs: dict) -> bytes | None:
    """The bytes an aiohttp request sends for its ``data=`` / ``json=`` keyword arguments."""
    data = kwargs.get("data")
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("utf-8")
    js = kwargs.get("json")
    if js is not None:
        import json

        return json.dumps(js).encode("utf-8")
    return None


async def _request(wrapped, instance, args, kwargs):
    call = active.get()
    if call is None or call.in_send:
        return await wrapped(*args, **kwargs)
    t0 = time.perf_counter()
    try:
        response = await wrapped(*args, **kwargs)
    except BaseException as e:
        call.attempts.append((t0, time.perf_counter(), type(e).__name__, None))
        raise
    try:
        url = response.url if getattr(response, "url", None) is not None else (args[1] if len(args) > 1 else "")
        call.attempts.append((t0, time.perf_counter(), response.status, _Headers(response.raw_headers)))
        call.request = _Request(url, request_body(kwargs))
        call.body = None
        call.chunks = []
        call.stream_pending = True
        reader = response.content
        _readers[id(reader)] = (reader, call)
        # Abandoned without being read to the end: record what arrived when it is collected.
        weakref.finalize(response, _abandoned, id(reader), call)
    except Exception:
        report("observing an HTTP attempt")
    return response


def _call_of(reader: Any) -> Call | None:
    entry = _readers.get(id(reader))
    return entry[1] if entry is not None and entry[0] is reader else None


def _abandoned(key: int, call: Call) -> None:
    _readers.pop(key, None)
    stream_done(call)


def _read_chunk(wrapped, instance, args, kwargs):
    data = wrapped(*args, **kwargs)
    call = _call_of(instance)
    if call is not None:
        try:
            call.chunks.append((time.perf_counter(), data))
            if instance.is_eof() and not instance._buffer:
                _readers.pop(id(instance), None)
                stream_done(call)
        except Exception:
            report("observing a response body")
    return data


def _set_exception(wrapped, instance, args, kwargs):
    call = _call_of(instance)
    if call is not None:
        _readers.pop(id(instance), None)
        stream_failed(call, args[0] if args else kwargs.get("exc"))
    return wrapped(*args, **kwargs)


def install(mod: Any) -> list:
    """Patch aiohttp; returns (owner, attribute, original) of each patch."""
    from aiohttp import streams

    patches = ((mod.ClientSession, "_request", _request),
               (streams.StreamReader, "_read_nowait_chunk", _read_chunk),
               (streams.StreamReader, "set_exception", _set_exception))
    if any(attr not in owner.__dict__ for owner, attr, _ in patches):
        return []  # an aiohttp built otherwise: its calls are read from the SDK's objects instead
    done = []
    for owner, attr, wrapper in patches:
        original = owner.__dict__[attr]
        setattr(owner, attr, wrapt.FunctionWrapper(original, wrapper))
        done.append((owner, attr, original))
    return done
