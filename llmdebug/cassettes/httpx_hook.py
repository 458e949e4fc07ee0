"""Cassettes under httpx and httpx2 (openai, anthropic, litellm, google-genai's sync client).

``Client._transport_for_url`` is wrapped while a cassette is active: each request an
SDK sends goes through a transport that answers it from the cassette or sends it with
the real transport and records what comes back. Everything above the transport (auth,
redirects, the SDK's retries, decoding, llmdebug's own capture) runs as without a cassette.
"""

from __future__ import annotations

import contextvars
from typing import Any

import wrapt

# Set while a cassette transport sends a request for real: a transport underneath
# (litellm sends httpx requests through aiohttp) is not recorded a second time.
handling: contextvars.ContextVar[bool] = contextvars.ContextVar("llmdebug_cassette_handling", default=False)

_classes: dict[Any, tuple] = {}


def _stream_error(mod: Any, text: str) -> BaseException:
    name, _, message = text.partition(": ")
    cls = getattr(mod, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except Exception:
            pass
    return mod.RemoteProtocolError(text)


def classes(mod: Any) -> tuple:
    """(SyncTransport, AsyncTransport) for httpx module ``mod``."""
    found = _classes.get(mod)
    if found is not None:
        return found

    class ReplayStream(mod.SyncByteStream, mod.AsyncByteStream):
        def __init__(self, chunks: list[bytes], error: str | None):
            self._chunks, self._error = chunks, error

        def __iter__(self):
            yield from self._chunks
            if self._error:
                raise _stream_error(mod, self._error)

        async def __aiter__(self):
            for c in self._chunks:
                yield c
            if self._error:
                raise _stream_error(mod, self._error)

    class RecordingStream(mod.SyncByteStream):
        def __init__(self, inner, rec):
            self._inner, self._rec = inner, rec

        def __getattr__(self, name: str):
            if name in ("_inner", "_rec"):
                raise AttributeError(name)
            return getattr(self._inner, name)

        def __iter__(self):
            try:
                for chunk in self._inner:
                    self._rec.chunk(chunk)
                    yield chunk
            except Exception as e:
                self._rec.finish(e)
                raise

        def close(self) -> None:
            try:
                self._inner.close()
            finally:
                self._rec.finish()

    class AsyncRecordingStream(mod.AsyncByteStream):
        def __init__(self, inner, rec):
            self._inner, self._rec = inner, rec

        def __getattr__(self, name: str):
            if name in ("_inner", "_rec"):
                raise AttributeError(name)
            return getattr(self._inner, name)

        async def __aiter__(self):
            try:
                async for chunk in self._inner:
                    self._rec.chunk(chunk)
                    yield chunk
            except Exception as e:
                self._rec.finish(e)
                raise

        async def aclose(self) -> None:
            try:
                await self._inner.aclose()
            finally:
                self._rec.finish()

    def replayed(hit) -> Any:
        chunks = hit.response_chunks()
        return mod.Response(hit.status, headers=hit.response_headers(chunks),
                            stream=ReplayStream(chunks, hit.stream_error), extensions={"http_version": b"HTTP/1.1"})

    class SyncTransport(mod.BaseTransport):
        def __init__(self, inner, cassette):
            self._inner, self._cassette = inner, cassette

        def handle_request(self, request):
            cas = self._cassette
            if not cas.handles(request.url.path):
                return self._inner.handle_request(request)
            request.read()
            hit = cas.answer(request.method, str(request.url), request.content)
            if hit is not None:
                return replayed(hit)
            token = handling.set(True)
            try:
                response = self._inner.handle_request(request)
            finally:
                handling.reset(token)
            rec = cas.recording(request.method, str(request.url), request.content, request.headers.raw,
                                response.status_code, response.headers.raw)
            if rec is not None:
                response.stream = RecordingStream(response.stream, rec)
            return response

        def close(self) -> None:
            self._inner.close()

    class AsyncTransport(mod.AsyncBaseTransport):
        def __init__(self, inner, cassette):
            self._inner, self._cassette = inner, cassette

        async def handle_async_request(self, request):
            cas = self._cassette
            if not cas.handles(request.url.path):
                return await self._inner.handle_async_request(request)
            await request.aread()
            hit = cas.answer(request.method, str(request.url), request.content)
            if hit is not None:
                return replayed(hit)
            token = handling.set(True)
            try:
                response = await self._inner.handle_async_request(request)
            finally:
                handling.reset(token)
            rec = cas.recording(request.method, str(request.url), request.content, request.headers.raw,
                                response.status_code, response.headers.raw)
            if rec is not None:
                response.stream = AsyncRecordingStream(response.stream, rec)
            return response

        async def aclose(self) -> None:
            await self._inner.aclose()

    _classes[mod] = found = (SyncTransport, AsyncTransport)
    return found


def install(mod: Any, current) -> list:
    """Wrap ``_transport_for_url`` of ``mod.Client``/``mod.AsyncClient``; ``current()``
    gives the active cassette. Returns (owner, attribute, original) of each patch."""
    sync_cls, async_cls = classes(mod)
    done = []
    for owner, cls in ((mod.Client, sync_cls), (mod.AsyncClient, async_cls)):
        original = owner.__dict__.get("_transport_for_url")
        if original is None:
            continue  # an httpx without the method: its requests are not seen

        def wrapper(wrapped, instance, args, kwargs, _cls=cls):
            transport = wrapped(*args, **kwargs)
            cassette = current()
            return transport if cassette is None else _cls(transport, cassette)

        setattr(owner, "_transport_for_url", wrapt.FunctionWrapper(original, wrapper))
        done.append((owner, "_transport_for_url", original))
    return done
