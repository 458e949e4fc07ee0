"""HTTP-level observation: every attempt the SDK makes, and the raw bytes of streams.

``Client.send`` of httpx2 (openai, anthropic) and httpx (litellm's own handlers) is
wrapped. Outside an LLM call the wrapper is one ContextVar lookup. Inside one it
notes the attempt (so SDK retries and 429s are counted) and, for a streamed body,
swaps the response's byte stream for a recorder that passes every chunk through
unchanged and closes the span when the stream ends, fails or is closed early.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

import wrapt

from .._guard import report
from ._patch import Call, active

_recorders: dict[Any, tuple[type, type]] = {}


def _recorder_classes(mod: Any) -> tuple[type, type]:
    """Byte-stream recorders subclassing the module's own stream ABCs (httpx checks)."""
    classes = _recorders.get(mod)
    if classes is not None:
        return classes

    class SyncRecorder(mod.SyncByteStream):
        def __init__(self, inner, call: Call):
            self._inner = inner
            self._call = call

        # Everything else the SDK or the user reads from the stream it replaced
        # (httpx2's ``response.elapsed`` reads ``stream.elapsed``) comes from the original.
        def __getattr__(self, name: str):
            if name in ("_inner", "_call"):
                raise AttributeError(name)
            return getattr(self._inner, name)

        def __iter__(self):
            call, chunks = self._call, self._call.chunks
            try:
                for chunk in self._inner:
                    chunks.append((time.perf_counter(), chunk))
                    yield chunk
            except BaseException as e:
                stream_failed(call, e)
                raise

        def close(self) -> None:
            try:
                self._inner.close()
            finally:
                stream_done(self._call)

    class AsyncRecorder(mod.AsyncByteStream):
        def __init__(self, inner, call: Call):
            self._inner = inner
            self._call = call

        def __getattr__(self, name: str):
            if name in ("_inner", "_call"):
                raise AttributeError(name)
            return getattr(self._inner, name)

        async def __aiter__(self):
            call, chunks = self._call, self._call.chunks
            try:
                async for chunk in self._inner:
                    chunks.append((time.perf_counter(), chunk))
                    yield chunk
            except BaseException as e:
                stream_failed(call, e)
                raise

        async def aclose(self) -> None:
            try:
                await self._inner.aclose()
            finally:
                stream_done(self._call)

    _recorders[mod] = classes = (SyncRecorder, AsyncRecorder)
    return classes


def stream_failed(call: Call, e: BaseException) -> None:
    try:
        if not isinstance(e, GeneratorExit):
            call.stream_error = e
        stream_done(call)
    except Exception:
        report("recording a stream error")


def stream_done(call: Call) -> None:
    try:
        call.stream_pending = False
        call.finish()
    except Exception:
        report("closing a stream span")


def _note(call: Call, t0: float, response: Any, request: Any, mod: Any, is_async: bool) -> None:
    # Keep no reference to the response itself: an abandoned stream must be collectable.
    call.attempts.append((t0, time.perf_counter(), response.status_code, response.headers))
    call.request = request
    call.body = getattr(response, "_content", None)
    if call.body is None and 200 <= response.status_code < 300:
        # A streamed body the SDK will read later: observe it on the way through.
        sync_cls, async_cls = _recorder_classes(mod)
        call.chunks = []
        call.stream_pending = True
        response.stream = (async_cls if is_async else sync_cls)(response.stream, call)
        # Abandoned without being closed: record what arrived when it is collected.
        weakref.finalize(response, stream_done, call)


def install(mod: Any) -> list:
    """Patch ``Client.send`` / ``AsyncClient.send`` of httpx2 or httpx; returns (owner,
    attribute, original) of each patch."""
    done = []
    for owner, is_async in ((mod.Client, False), (mod.AsyncClient, True)):
        original = owner.__dict__["send"]
        setattr(owner, "send", wrapt.FunctionWrapper(original, make_send_wrapper(mod, is_async)))
        done.append((owner, "send", original))
    return done


def make_send_wrapper(mod: Any, is_async: bool):
    if is_async:

        async def async_send(wrapped, instance, args, kwargs):
            call = active.get()
            if call is None:
                return await wrapped(*args, **kwargs)
            t0 = time.perf_counter()
            call.in_send = True  # litellm's httpx transport sends through aiohttp: seen once, here
            try:
                response = await wrapped(*args, **kwargs)
            except BaseException as e:
                call.attempts.append((t0, time.perf_counter(), type(e).__name__, None))
                raise
            finally:
                call.in_send = False
            try:
                _note(call, t0, response, args[0] if args else kwargs.get("request"), mod, True)
            except Exception:
                report("observing an HTTP attempt")
            return response

        return async_send

    def send(wrapped, instance, args, kwargs):
        call = active.get()
        if call is None:
            return wrapped(*args, **kwargs)
        t0 = time.perf_counter()
        try:
            response = wrapped(*args, **kwargs)
        except BaseException as e:
            call.attempts.append((t0, time.perf_counter(), type(e).__name__, None))
            raise
        try:
            _note(call, t0, response, args[0] if args else kwargs.get("request"), mod, False)
        except Exception:
            report("observing an HTTP attempt")
        return response

    return send
