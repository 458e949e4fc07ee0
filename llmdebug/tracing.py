"""The Span record every layer passes around, and the trace()/span()/traced() helpers.

A span is one timed step: an LLM call (kind "llm"), a tool run, a retrieval, or any
block the user marks. Spans form a tree through a ContextVar, so nesting follows the
code: a call made inside ``with ld.span(...)`` becomes that span's child, and each
``asyncio`` task keeps its own parent because tasks copy the context they start in.

Threads do not inherit context by themselves. To keep a thread's work under the
current span, run it in a copy of the context::

    ctx = contextvars.copy_context()
    pool.submit(ctx.run, work, arg)

The capture hot path only fills fields and hands the span to the store's writer
thread; everything derived (JSON, tokens, cost, text) is computed there.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import random
import time
from contextvars import ContextVar
from dataclasses import dataclass, fields
from typing import Any, Callable, Generator, Iterator, TypeVar, overload

__all__ = ["Span", "trace", "span", "traced", "current_span", "new_id", "delegate"]

_current: ContextVar["Span | None"] = ContextVar("llmdebug_current_span", default=None)

# Set by ld.replay_trace(): given a tool span just opened, (True, output) answers it from the
# recording and the decorated function is not run; (False, None) runs it.
tool_answers: ContextVar["Callable[[Span], tuple[bool, Any]] | None"] = ContextVar("llmdebug_tool_answers",
                                                                                   default=None)

F = TypeVar("F", bound=Callable[..., Any])

_rand = random.Random(os.urandom(16))


def new_id() -> str:
    """A 32-hex-digit id that sorts by creation time (128 bits, like an OTel trace id)."""
    return "%016x%016x" % (time.time_ns(), _rand.getrandbits(64))


@dataclass(eq=False, repr=False, slots=True)
class Span:
    """One captured step. LLM calls carry request/response; user spans carry input/output."""

    id: str = ""
    trace_id: str = ""
    parent_id: str | None = None
    name: str = ""
    kind: str = "span"
    provider: str | None = None
    model: str | None = None
    request_model: str | None = None
    endpoint: str | None = None
    base_url: str | None = None
    status: str = "ok"
    error_type: str | None = None
    error_message: str | None = None
    http_status: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost_usd: float | None = None
    priced: bool | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    started_at: float = 0.0  # epoch seconds
    ended_at: float | None = None
    stream: bool = False
    retries: int = 0
    rate_limit_hits: int = 0
    replay_of: str | None = None
    cell: int | None = None  # notebook execution count, when made under %load_ext llmdebug
    # rate-limit headroom the API reported (providers/ read the headers), calls in flight
    ratelimit_limit_requests: int | None = None
    ratelimit_remaining_requests: int | None = None
    ratelimit_limit_tokens: int | None = None
    ratelimit_remaining_tokens: int | None = None
    ratelimit_reset_requests_s: float | None = None
    ratelimit_reset_tokens_s: float | None = None
    retry_after_s: float | None = None
    in_flight: int | None = None
    # None until used: an LLM call rarely has them, and every container on the hot
    # path is one more object for the garbage collector to track.
    tags: list | None = None
    metadata: dict | None = None
    # payloads (stored in their own table, loaded when a span is opened)
    request: Any = None
    response: Any = None
    messages: Any = None
    output_text: str | None = None
    tool_calls: Any = None
    events: list | None = None
    input: Any = None
    output: Any = None
    attributes: dict | None = None
    # capture-side scratch (never stored): raw bytes/objects the writer turns into fields
    _raw: Any = None
    _nbytes: int = 0  # the writer's estimate of the memory this span holds while queued

    # -- user-facing helpers ------------------------------------------------------
    def set_output(self, value: Any) -> None:
        """Record what this step produced."""
        self.output = value

    def set_input(self, value: Any) -> None:
        """Record what this step was given."""
        self.input = value

    def set_attribute(self, key: str, value: Any) -> None:
        if self.attributes is None:
            self.attributes = {}
        self.attributes[key] = value

    def add_tag(self, *tags: str) -> None:
        if self.tags is None:
            self.tags = []
        for t in tags:
            if t not in self.tags:
                self.tags.append(t)

    def record_error(self, exc: BaseException) -> None:
        self.status = "error"
        self.error_type = type(exc).__name__
        self.error_message = str(exc)[:4000]

    @property
    def duration_ms(self) -> float | None:
        return self.latency_ms

    def to_dict(self) -> dict:
        """The stored fields as a plain dict (no capture scratch)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    def __repr__(self) -> str:
        bits = [f"{self.kind} {self.name!r}", self.status]
        if self.model:
            bits.append(self.model)
        if self.latency_ms is not None:
            bits.append(f"{self.latency_ms:.0f} ms")
        if self.input_tokens is not None or self.output_tokens is not None:
            bits.append(f"{self.input_tokens or 0}→{self.output_tokens or 0} tok")
        if self.cost_usd is not None:
            bits.append(f"${self.cost_usd:.6f}")
        if self.error_type:
            bits.append(f"{self.error_type}: {(self.error_message or '')[:80]}")
        return f"<Span {self.id[:12]} " + ", ".join(bits) + ">"


def current_span() -> Span | None:
    """The innermost open span of this context, or None."""
    return _current.get()


@contextlib.contextmanager
def current(s: Span) -> Iterator[None]:
    """``s`` is the current span inside the block."""
    token = enter(s)
    try:
        yield
    finally:
        leave(token)


def delegate(gen: Generator, around: Callable[[], Any], counted: list | None = None) -> Generator:
    """``yield from gen`` with each step of ``gen`` run inside ``around()`` (a context
    manager, e.g. making a span current): values sent, exceptions thrown and ``close()``
    all reach ``gen``; returns its return value. ``counted[0]`` counts the items."""
    step, arg = gen.send, None
    while True:
        try:
            with around():
                item = step(arg)
        except StopIteration as stop:
            return stop.value
        if counted is not None:
            counted[0] += 1
        try:
            arg = yield item
            step = gen.send
        except GeneratorExit:
            with around():
                gen.close()
            raise
        except BaseException as e:  # thrown in by the consumer: ``gen`` decides
            step, arg = gen.throw, e


_sink: Callable[[Span], None] | None = None


def set_sink(fn: Callable[[Span], None] | None) -> None:
    """Where finished spans go (the session's store writer); set by a higher layer, so
    this module never imports one."""
    global _sink
    _sink = fn


def sink() -> Callable[[Span], None] | None:
    """Where finished spans go now (None: nowhere yet)."""
    return _sink


def emit(s: Span) -> None:
    """Hand a finished span to the sink (dropped when no sink is set: nothing captures)."""
    sink = _sink
    if sink is not None:
        sink(s)


# Wall clock of span start/end times. llmdebug.testing.traffic swaps it to lay simulated
# traffic out over days; durations always come from the real clock.
_clock = time.time


def set_clock(fn=None) -> None:
    """Use ``fn()`` (epoch seconds) for span timestamps; ``None`` restores ``time.time``."""
    global _clock
    _clock = fn or time.time


# The notebook cell running now (its execution count), the first line of each cell run
# and when the notebook session began: set by the IPython extension, read by the
# per-cell cost table.
CELL: int | None = None
CELL_SOURCES: dict[int, str] = {}
NOTEBOOK_STARTED: float | None = None


def set_cell(n: int | None, source: str | None = None) -> None:
    global CELL
    CELL = n
    if n is not None and source:
        CELL_SOURCES[n] = source


class Bridge:
    """Another tracer's context kept in step with llmdebug's (the OpenTelemetry bridge):
    ``adopt`` may re-parent a new span under the other tracer's current span, ``enter``
    makes an llmdebug span current there too and returns a token for ``leave``."""

    def adopt(self, s: Span, parent: Span | None) -> None:  # pragma: no cover - interface
        pass

    def enter(self, s: Span) -> Any:  # pragma: no cover - interface
        return None

    def leave(self, token: Any) -> None:  # pragma: no cover - interface
        pass


_bridge: Bridge | None = None


def set_bridge(b: Bridge | None) -> None:
    """Install (or with None remove) the bridge to another tracer; set by a higher layer."""
    global _bridge
    _bridge = b


def bridge() -> Bridge | None:
    """The bridge installed now (a second tracer's bridge wraps the first)."""
    return _bridge


class _Entered:
    __slots__ = ("token", "bridge", "inner")

    def __init__(self, token, bridge, inner):
        self.token, self.bridge, self.inner = token, bridge, inner


def enter(s: Span) -> Any:
    """Make ``s`` the current span (in the bridged tracer too); returns the token for :func:`leave`."""
    token = _current.set(s)
    b = _bridge
    if b is None:
        return token
    try:
        return _Entered(token, b, b.enter(s))
    except Exception:
        _report("entering a span in the bridged tracer")
        return token


def leave(token: Any) -> None:
    """Undo :func:`enter`."""
    if type(token) is _Entered:
        try:
            token.bridge.leave(token.inner)
        except Exception:
            _report("leaving a span in the bridged tracer")
        token = token.token
    _current.reset(token)


def _report(what: str) -> None:
    from ._guard import report

    report(what)


def start_span(name: str, kind: str, *, root: bool = False, attributes: dict | None = None) -> Span:
    parent = None if root else _current.get()
    s = Span(
        id=new_id(),
        trace_id=parent.trace_id if parent is not None else "",
        parent_id=parent.id if parent is not None else None,
        name=name,
        kind=kind,
        started_at=_clock(),
        cell=CELL,
    )
    if parent is not None and parent.tags:  # a trace's tags apply to every span in it
        s.tags = list(parent.tags)
    if not s.trace_id:
        s.trace_id = s.id
    b = _bridge
    if b is not None:
        try:
            b.adopt(s, parent)
        except Exception:
            _report("placing a span in the bridged tracer's tree")
    if attributes:
        tags = attributes.pop("tags", None)
        meta = attributes.pop("metadata", None)
        if tags:
            s.add_tag(*([tags] if isinstance(tags, str) else tags))
        if meta:
            s.metadata = dict(meta)
        s.attributes = attributes
    return s


def end_span(s: Span, exc: BaseException | None = None, latency_ms: float | None = None) -> None:
    end = _clock()
    s.ended_at = end
    s.latency_ms = latency_ms if latency_ms is not None else (end - s.started_at) * 1000.0
    if exc is not None and s.status != "error":
        s.record_error(exc)
    emit(s)


class _SpanContext:
    """Context manager (sync and async) that opens a span and makes it current."""

    __slots__ = ("_name", "_kind", "_root", "_attrs", "_span", "_token", "_t0")

    def __init__(self, name: str, kind: str, root: bool, attrs: dict):
        self._name, self._kind, self._root, self._attrs = name, kind, root, attrs
        self._span: Span | None = None

    def __enter__(self) -> Span:
        s = start_span(self._name, self._kind, root=self._root, attributes=self._attrs)
        self._t0 = time.perf_counter()
        self._span = s
        self._token = enter(s)
        return s

    def __exit__(self, et, exc, tb) -> None:
        s = self._span
        leave(self._token)
        if s is not None:
            try:
                end_span(s, exc, (time.perf_counter() - self._t0) * 1000.0)
            except Exception:  # pragma: no cover - recording must never raise
                from ._guard import report

                report("span end")

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(self, et, exc, tb) -> None:
        self.__exit__(et, exc, tb)


def trace(name: str = "trace", **attributes: Any) -> _SpanContext:
    """Open the root span of a new trace (``with`` or ``async with``).

    Example::

        with ld.trace("answer question", user="ana") as t:
            client.chat.completions.create(...)
    """
    kind = attributes.pop("kind", "trace")
    return _SpanContext(name, kind, True, attributes)


def span(name: str, kind: str = "span", **attributes: Any) -> _SpanContext:
    """Open a child span of the current one (or a new trace if none is open).

    ``kind`` is free text; the widgets know "tool", "retrieval", "agent", "chain",
    "embedding" and "llm". Keyword arguments become attributes; ``tags=`` and
    ``metadata=`` go to their own columns.
    """
    return _SpanContext(name, kind, False, attributes)


def _call_input(sig: inspect.Signature | None, args: tuple, kwargs: dict) -> Any:
    if sig is None:
        return {"args": list(args), "kwargs": kwargs} if (args or kwargs) else None
    try:
        bound = sig.bind_partial(*args, **kwargs)
        d = dict(bound.arguments)
        d.pop("self", None)
        d.pop("cls", None)
        return d or None
    except TypeError:
        return {"args": list(args), "kwargs": kwargs}


def _answered(answer: Callable[[Span], tuple[bool, Any]], s: Span) -> tuple[bool, Any]:
    """Ask ``answer`` for a tool span's recorded output; when it has one, the span ends with it."""
    try:
        done, result = answer(s)
    except BaseException as e:  # the recording says the tool failed, or the run diverged
        end_span(s, e)
        raise
    if done:
        s.output = result
        end_span(s)
    return done, result


@overload
def traced(fn: F) -> F: ...
@overload
def traced(*, name: str | None = None, kind: str = "span", capture_args: bool = True) -> Callable[[F], F]: ...


def traced(fn=None, *, name=None, kind="span", capture_args=True):
    """Decorate a function, coroutine function, generator or async generator so each
    call is a span. Arguments become the span's input and the return value its output.
    """
    if fn is None:
        return lambda f: traced(f, name=name, kind=kind, capture_args=capture_args)
    span_name = name or getattr(fn, "__qualname__", getattr(fn, "__name__", "function"))
    try:
        sig = inspect.signature(fn) if capture_args else None
    except (TypeError, ValueError):
        sig = None

    def opened(args, kwargs) -> Span:
        s = start_span(span_name, kind)
        if capture_args:
            s.input = _call_input(sig, args, kwargs)
        return s

    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def agen_wrapper(*args, **kwargs):
            # Delegates by hand (async generators have no ``yield from``): asend, athrow
            # and aclose reach the user's generator, each step runs with the span current.
            s = opened(args, kwargs)
            agen = fn(*args, **kwargs)
            items, err = 0, None
            step, arg = agen.asend, None
            try:
                while True:
                    token = enter(s)
                    try:
                        item = await step(arg)
                    except StopAsyncIteration:
                        break
                    finally:
                        leave(token)
                    items += 1
                    try:
                        arg = yield item
                        step = agen.asend
                    except GeneratorExit:
                        token = enter(s)
                        try:
                            await agen.aclose()
                        finally:
                            leave(token)
                        raise
                    except BaseException as e:  # thrown in by the consumer: the user's generator decides
                        step, arg = agen.athrow, e
            except BaseException as e:
                err = e
                raise
            finally:
                s.output = {"items": items}
                end_span(s, err if not isinstance(err, GeneratorExit) else None)

        return agen_wrapper

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            s = opened(args, kwargs)
            counted = [0]
            err = None
            try:
                value = yield from delegate(fn(*args, **kwargs), lambda: current(s), counted)
                s.output = value if value is not None else {"items": counted[0]}
                return value
            except BaseException as e:
                err = e
                raise
            finally:
                if s.output is None:
                    s.output = {"items": counted[0]}
                end_span(s, err if not isinstance(err, GeneratorExit) else None)

        return gen_wrapper

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args, **kwargs):
            s = opened(args, kwargs)
            answer = tool_answers.get() if kind == "tool" else None
            if answer is not None:
                done, result = _answered(answer, s)
                if done:
                    return result
            token = enter(s)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as e:
                leave(token)
                end_span(s, e)
                raise
            leave(token)
            s.output = result
            end_span(s)
            return result

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        s = opened(args, kwargs)
        answer = tool_answers.get() if kind == "tool" else None
        if answer is not None:
            done, result = _answered(answer, s)
            if done:
                return result
        token = enter(s)
        try:
            result = fn(*args, **kwargs)
        except BaseException as e:
            leave(token)
            end_span(s, e)
            raise
        leave(token)
        s.output = result
        end_span(s)
        return result

    return wrapper
