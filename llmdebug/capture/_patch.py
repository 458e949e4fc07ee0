"""The shared patch: wrap an SDK method so each call becomes an "llm" span.

Three zones, as in mlflow's ``safe_patch``: before the call (open a span: guarded),
the user's call itself (never inside our try blocks; its exception is re-raised
untouched) and after (close and enqueue: guarded). The user gets exactly what the
SDK returned: streams are observed underneath, at the HTTP byte level (see
``http.py``), so the SDK's own objects are never replaced or proxied.
"""

from __future__ import annotations

import contextlib
import functools
import time
from contextvars import ContextVar
from typing import Any, Callable

from .._guard import report
from ..providers.base import Endpoint
from ..tracing import Span, delegate, emit, enter, leave, start_span

# The LLM call in flight in this context: HTTP attempts attach to it, and an SDK call
# made inside another (litellm -> openai) is not captured twice.
active: ContextVar["Call | None"] = ContextVar("llmdebug_active_call", default=None)

# The LLM calls of this process in flight: begun, not finished (a stream until it ends, fails,
# is closed or is collected). Each call records the count when it starts, itself included
# (so 1 means it ran alone). A set of ids: add, len and discard are each atomic under the
# GIL, about 0.15 µs a call where a threading.Lock round trip is 0.6 µs; ids, not the
# calls, so a call that somehow never finishes is not kept alive by this set.
_in_flight: set[int] = set()


def in_flight() -> int:
    """How many captured LLM calls of this process are in flight now."""
    return len(_in_flight)


# Set by ld.replay() while it runs a call: (original span id, list collecting the spans
# capture opens), so the new call is stored with ``replay_of``.
replaying: ContextVar[tuple[str, list] | None] = ContextVar("llmdebug_replaying", default=None)


class Call:
    """Capture-side scratch for one LLM call; becomes ``Span._raw`` and is turned into
    columns by :func:`llmdebug.capture.extract.finalize` on the writer thread."""

    __slots__ = (
        "span", "endpoint", "client", "kwargs", "attempts", "request", "body",
        "chunks", "stream_pending", "emitted", "t0", "result", "stream_error", "in_send",
    )

    def __init__(self, span: Span, endpoint: Endpoint, client: Any, kwargs: dict):
        self.span = span
        self.endpoint = endpoint
        self.client = client
        self.kwargs = kwargs
        self.attempts: list = []  # (t_start, t_end, status or exception name, headers)
        self.request = None  # last HTTP request
        self.body: bytes | None = None  # last response body, when read whole
        self.chunks: list | None = None  # (perf_counter, bytes) of a streamed body
        self.stream_pending = False
        self.emitted = False
        self.result = None
        self.stream_error: BaseException | None = None
        self.in_send = False  # inside an observed httpx send: a transport underneath it is not observed again
        self.t0 = time.perf_counter()

    def approx_bytes(self) -> int:
        """Roughly the memory this call holds until it is written (request and response
        bytes; the user's own kwargs are about the request's size again)."""
        n = 0
        try:
            req = self.request
            if req is not None:
                n += 2 * len(req.content)
        except Exception:  # a streamed request body has no .content
            pass
        if self.body is not None:
            n += len(self.body)
        if self.chunks:
            n += sum(len(c) for _, c in self.chunks) + 64 * len(self.chunks)
        return n

    def finalize(self, span: Span) -> None:
        from .extract import finalize

        finalize(span, self)

    def finish(self) -> None:
        """Close the span and hand it to the writer (once)."""
        if self.emitted:
            return
        self.emitted = True
        _in_flight.discard(id(self))
        s = self.span
        s.latency_ms = (time.perf_counter() - self.t0) * 1000.0
        s.ended_at = s.started_at + s.latency_ms / 1000.0
        s._raw = self
        emit(s)


def begin(endpoint: Endpoint, client: Any, kwargs: dict) -> Call | None:
    try:
        s = start_span(f"{endpoint.provider}.{endpoint.name}", "llm")
        s.provider = endpoint.provider
        s.endpoint = endpoint.name
        model = kwargs.get("model")
        s.request_model = model if isinstance(model, str) else None
        s.stream = bool(kwargs.get("stream"))
        replay = replaying.get()
        if replay is not None:  # ld.replay() is running this call
            s.replay_of = replay[0]
            replay[1].append(s)
        call = Call(s, endpoint, client, kwargs)
        _in_flight.add(id(call))
        s.in_flight = len(_in_flight)
        return call
    except Exception:
        report("opening an LLM span")
        return None


def succeeded(call: Call, result: Any) -> None:
    try:
        if call.request is None or call.endpoint.wire is None:
            call.result = result  # no HTTP body seen (or litellm): read the SDK object later
        if not call.stream_pending:
            call.finish()
    except Exception:
        report("closing an LLM span")


def failed(call: Call, exc: BaseException) -> None:
    try:
        s = call.span
        s.record_error(exc)
        status = getattr(exc, "status_code", None)
        if isinstance(status, int):
            s.http_status = status
        call.stream_pending = False
        call.finish()
    except Exception:
        report("recording an LLM error")


def call_sync(endpoint: Endpoint, instance: Any, info: dict, fn: Callable, args: tuple, kwargs: dict):
    """Run ``fn(*args, **kwargs)`` as a captured call described by ``info`` (the SDK kwargs)."""
    if active.get() is not None:
        return fn(*args, **kwargs)
    call = begin(endpoint, instance, info)
    if call is None:
        return fn(*args, **kwargs)
    token, current = active.set(call), enter(call.span)
    try:
        result = fn(*args, **kwargs)
    except BaseException as e:
        leave(current)
        active.reset(token)
        failed(call, e)
        raise
    leave(current)
    active.reset(token)
    succeeded(call, result)
    return result


def call_async(endpoint: Endpoint, instance: Any, info: dict, fn: Callable, args: tuple, kwargs: dict):
    """Async twin of :func:`call_sync`; returns the coroutine the SDK method would."""
    if active.get() is not None:
        return fn(*args, **kwargs)
    call = begin(endpoint, instance, info)
    if call is None:
        return fn(*args, **kwargs)
    return _run_async(call, fn, args, kwargs)


async def _run_async(call: Call, fn: Callable, args: tuple, kwargs: dict):
    token, current = active.set(call), enter(call.span)
    try:
        result = await fn(*args, **kwargs)
    except BaseException as e:
        leave(current)
        active.reset(token)
        failed(call, e)
        raise
    leave(current)
    active.reset(token)
    succeeded(call, result)
    return result


def method_wrapper(endpoint: Endpoint, is_async: bool, stream: bool = False, generator: bool = False) -> Callable:
    """A wrapt wrapper for an SDK resource method such as ``Completions.create``
    (``stream``: a method that always streams, such as ``generate_content_stream``;
    ``generator``: a generator function that sends its request when iterated)."""
    if generator:
        return functools.partial(_sync_generator_method, endpoint)
    if stream:
        return functools.partial(_async_stream_method if is_async else _sync_stream_method, endpoint)
    return functools.partial(_async_method if is_async else _sync_method, endpoint)


def _sync_method(endpoint, wrapped, instance, args, kwargs):
    return call_sync(endpoint, instance, kwargs, wrapped, args, kwargs)


def _async_method(endpoint, wrapped, instance, args, kwargs):
    return call_async(endpoint, instance, kwargs, wrapped, args, kwargs)


def _sync_stream_method(endpoint, wrapped, instance, args, kwargs):
    return call_sync(endpoint, instance, dict(kwargs, stream=True), wrapped, args, kwargs)


def _async_stream_method(endpoint, wrapped, instance, args, kwargs):
    return call_async(endpoint, instance, dict(kwargs, stream=True), wrapped, args, kwargs)


def _sync_generator_method(endpoint, wrapped, instance, args, kwargs):
    return _captured_generator(endpoint, instance, dict(kwargs, stream=True), wrapped(*args, **kwargs))


def _captured_generator(endpoint: Endpoint, instance: Any, info: dict, gen: Any):
    """Iterate the SDK's generator as one captured call: every step of it (the first
    sends the request) runs with the call active."""
    if active.get() is not None:
        return (yield from gen)
    call = begin(endpoint, instance, info)
    if call is None:
        return (yield from gen)
    try:
        result = yield from delegate(gen, lambda: _activated(call))
    except GeneratorExit:
        succeeded(call, None)  # abandoned: what arrived is recorded
        raise
    except BaseException as e:
        failed(call, e)
        raise
    succeeded(call, None)
    return result


@contextlib.contextmanager
def _activated(call: Call):
    token, current = active.set(call), enter(call.span)
    try:
        yield
    finally:
        leave(current)
        active.reset(token)


class _Deferred:
    """The request callable of a stream manager, run as a captured call when entered."""

    __slots__ = ("endpoint", "instance", "info", "original")

    def __init__(self, endpoint, instance, info, original):
        self.endpoint, self.instance, self.info, self.original = endpoint, instance, info, original

    def __call__(self):
        return call_sync(self.endpoint, self.instance, self.info, self.original, (), {})


def deferred_request_wrapper(endpoint: Endpoint, attr: str, is_async: bool) -> Callable:
    """For helpers such as ``anthropic.messages.stream()`` that return a manager whose
    ``__enter__`` sends the request later: wrap the manager's stored request callable."""
    return functools.partial(_deferred, endpoint, attr, is_async)


def _deferred(endpoint, attr, is_async, wrapped, instance, args, kwargs):
    manager = wrapped(*args, **kwargs)
    try:
        original = getattr(manager, attr)
        info = dict(kwargs, stream=True)
        if is_async:
            # The async manager holds an awaitable (a coroutine), not a callable.
            setattr(manager, attr, call_async(endpoint, instance, info, _awaiting, (original,), {}))
        else:
            setattr(manager, attr, _Deferred(endpoint, instance, info, original))
    except Exception:
        report("instrumenting a stream helper")
    return manager


async def _awaiting(awaitable):
    return await awaitable


# Frames of these functions sit between an SDK method and its caller: SDK warnings skip them.
WRAPPER_CODES = frozenset(f.__code__ for f in (
    call_sync, _run_async, _sync_method, _async_method, _sync_stream_method, _async_stream_method,
    _Deferred.__call__, _deferred, _awaiting, _captured_generator, delegate))
