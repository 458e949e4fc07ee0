"""Cassettes under aiohttp (google-genai's async client when aiohttp is installed).

``ClientSession._request`` is wrapped while a cassette is active. A recorded answer is
a real ``aiohttp.ClientResponse`` (the SDK checks the type) whose body is already
buffered. A request sent for real has its body reader switched to a subclass that
notes each chunk as the SDK reads it (aiohttp has already undone Content-Encoding).
"""

from __future__ import annotations

import weakref
from typing import Any
from urllib.parse import urlsplit

import wrapt

from .._guard import report
from ..capture.aio import request_body
from .httpx_hook import handling

# id(reader) -> (reader, recording): StreamReader takes no weak references.
_readers: dict[int, tuple[Any, Any]] = {}
_reader_class: dict[type, type] = {}


def _recording_reader(base: type) -> type:
    cls = _reader_class.get(base)
    if cls is None:

        class RecordingReader(base):  # type: ignore[misc, valid-type]
            __slots__ = ()

            def _read_nowait_chunk(self, n: int) -> bytes:
                data = super()._read_nowait_chunk(n)
                entry = _readers.get(id(self))
                if entry is not None and entry[0] is self:
                    try:
                        entry[1].chunk(data)
                        if self.is_eof() and not self._buffer:
                            _readers.pop(id(self), None)
                            entry[1].finish()
                    except Exception:
                        report("recording a response body")
                return data

            def set_exception(self, exc: BaseException, *args: Any, **kwargs: Any) -> None:
                entry = _readers.pop(id(self), None)
                if entry is not None and entry[0] is self:
                    entry[1].finish(exc)
                return super().set_exception(exc, *args, **kwargs)

        _reader_class[base] = cls = RecordingReader
    return cls


def _abandoned(key: int, rec: Any) -> None:
    _readers.pop(key, None)
    rec.finish()


def _replayed(mod: Any, session: Any, method: str, url: Any, hit: Any, loop: Any) -> Any:
    from aiohttp import client_reqrep, streams
    from aiohttp.client_proto import ResponseHandler
    from multidict import CIMultiDict, CIMultiDictProxy
    from yarl import URL

    url = URL(str(url))

    class _Sent:  # what ClientResponse reads of a request already sent
        output_size = 0

    info = client_reqrep.RequestInfo(url, method.upper(), CIMultiDictProxy(CIMultiDict()), url)
    kwargs = dict(writer=None, continue100=None, timer=None, request_info=info, traces=[], loop=loop,
                  session=session, stream_writer=_Sent())
    try:
        resp = mod.ClientResponse(method.upper(), url, **kwargs)
    except TypeError:  # an aiohttp before stream_writer=
        kwargs.pop("stream_writer")
        resp = mod.ClientResponse(method.upper(), url, **kwargs)
    chunks = hit.response_chunks()
    headers = CIMultiDict(hit.response_headers(chunks))
    resp._headers = CIMultiDictProxy(headers)
    resp._raw_headers = tuple((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
    resp.status = hit.status
    resp.reason = ""
    resp.content = streams.StreamReader(ResponseHandler(loop=loop), limit=2**16, loop=loop)
    for c in chunks:
        resp.content.feed_data(c)
    resp.content.feed_eof()
    return resp


def install(mod: Any, current) -> list:
    """Wrap ``mod.ClientSession._request``; ``current()`` gives the active cassette."""
    import asyncio

    original = mod.ClientSession.__dict__.get("_request")
    if original is None:
        return []

    async def request(wrapped, instance, args, kwargs):
        cas = current()
        if cas is None or handling.get():
            return await wrapped(*args, **kwargs)
        method = args[0] if args else kwargs.get("method", "GET")
        url = args[1] if len(args) > 1 else kwargs.get("str_or_url")
        if not cas.handles(urlsplit(str(url)).path):
            return await wrapped(*args, **kwargs)
        body = request_body(kwargs)
        hit = cas.answer(method, str(url), body)
        if hit is not None:
            resp = _replayed(mod, instance, method, url, hit, asyncio.get_running_loop())
            beneath = getattr(original, "_self_wrapper", None)
            if beneath is None:
                return resp

            async def answered(*a: Any, **k: Any) -> Any:
                return resp

            # A wrapper installed before ours (llmdebug's capture) still sees the answer.
            return await beneath(answered, instance, args, kwargs)
        response = await wrapped(*args, **kwargs)
        try:
            sent = list((getattr(instance, "_default_headers", None) or {}).items())
            sent += list((kwargs.get("headers") or {}).items())
            raw = response.raw_headers
            if getattr(instance, "_auto_decompress", True):  # the reader gets decoded bytes
                raw = [(k, v) for k, v in raw if k.lower() != b"content-encoding"]
            rec = cas.recording(method, str(url), body, sent, response.status, raw)
            if rec is not None:
                reader = response.content
                reader.__class__ = _recording_reader(type(reader))
                _readers[id(reader)] = (reader, rec)
                weakref.finalize(response, _abandoned, id(reader), rec)
                if reader.is_eof() and not reader._buffer:  # an empty body, already over
                    _abandoned(id(reader), rec)
        except Exception:
            report("recording an aiohttp exchange")
        return response

    mod.ClientSession._request = wrapt.FunctionWrapper(original, request)
    return [(mod.ClientSession, "_request", original)]
