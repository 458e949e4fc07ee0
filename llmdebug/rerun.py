"""Re-run an agent function against a captured trace: ``ld.replay_trace``.

The function runs for real, with its own SDK clients. Its LLM calls before the edited
one are answered from the trace, at the HTTP transport (the SDK parses the recorded
body and returns its normal object; nothing goes out); the edited call has its request
body rewritten and goes to the model, like every call after it. Tools decorated with
``@ld.traced(kind="tool")`` return their recorded output without running, unless
``tools="live"``. Every call is captured as usual: the new trace's root has
``replay_of`` = the original root's id, each LLM call ``replay_of`` = the call it
stands for.

Example::

    new = ld.replay_trace(t.trace_id, run_agent, question, at=bad_call,
                          edits={"system": "Always call lookup_order first."})
    ld.diff(t.trace_id, new)
"""

from __future__ import annotations

import contextlib
import inspect
import json
from contextvars import ContextVar
from typing import Any, Callable

import wrapt

from . import providers, query, tracing
from .capture import _patch, replaying
from .diffing import json_diff
from .replaying import ReplayError, build_request, stored_gaps
from .tracing import Span

__all__ = ["replay_trace", "recorded_call", "RecordedToolError"]

TOOLS = ("recorded", "live")


class RecordedToolError(Exception):
    """A tool answered from the recording, where it had failed: the original error's type and message."""


class _Diverged(BaseException):
    # Not an Exception: neither the SDK's retry loop nor the user's ``except Exception``
    # may swallow it; replay_trace turns it into a ReplayError.
    pass


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


class _Run:
    """One replay_trace in progress: the recording, what each new call is, and divergence."""

    def __init__(self, root: Span, llm: list[Span], tools: list[Span], at: int | None, edits: dict, strict: bool):
        self.root, self.llm, self.at, self.edits, self.strict = root, llm, at, edits, strict
        self.tools: dict[str, list[Span]] = {}
        for s in tools:
            self.tools.setdefault(s.name, []).append(s)
        self.used: set[str] = set()
        self.plans: dict[str, tuple[str, Any]] = {}  # new LLM span id -> (kind, recorded span or message): recorded, edit, live, diverged
        self.diverged: str | None = None
        self.new_root: Span | None = None
        self.outer = tracing.current_span()
        self.count = 0
        self.answered: list[tuple[Any, Any]] = []  # (request, response) of each call answered from the recording

    def diverge(self, why: str) -> _Diverged:
        if self.diverged is None:
            self.diverged = why
        return _Diverged(self.diverged)

    def llm_started(self, s: Span) -> None:
        i, self.count = self.count, self.count + 1
        if self.at is None or i < self.at:
            if i >= len(self.llm):
                self.plans[s.id] = ("diverged", f"the function made LLM call #{i + 1} ({s.name}), but the recording "
                                    f"has only {len(self.llm)} before " + ("the end" if self.at is None else "the edited one")
                                    + ": it no longer does what it did when the trace was captured")
                return
            s.replay_of = self.llm[i].id
            self.plans[s.id] = ("recorded", self.llm[i])
            s.add_tag("from-recording")
        elif i == self.at:
            s.replay_of = self.llm[i].id
            self.plans[s.id] = ("edit", self.llm[i])
            s.add_tag("edited")
        else:
            s.replay_of = self.llm[i].id if i < len(self.llm) else None
            self.plans[s.id] = ("live", None)

    def answer_tool(self, s: Span) -> tuple[bool, Any]:
        key = _canonical(s.input)
        for rec in self.tools.get(s.name, ()):
            if rec.id not in self.used and _canonical(rec.input) == key:
                self.used.add(rec.id)
                s.replay_of = rec.id
                s.add_tag("from-recording")
                if rec.status == "error":
                    raise RecordedToolError(f"{rec.error_type}: {rec.error_message}")
                return True, rec.output
        seen = [r.input for r in self.tools.get(s.name, ()) if r.id not in self.used]
        raise self.diverge(f"tool {s.name!r} was called with {key[:300]}, which the recording does not have "
                           + (f"(its unused {s.name!r} calls had {', '.join(_canonical(x)[:200] for x in seen[:3])})"
                              if seen else f"(no unused {s.name!r} call is left)")
                           + ': pass tools="live" to run tools for real')


_running: ContextVar[_Run | None] = ContextVar("llmdebug_replay_trace", default=None)


class _Collector(list):
    """The list capture appends each new LLM span to (see ``capture._patch.begin``)."""

    def __init__(self, run: _Run):
        super().__init__()
        self.run = run

    def append(self, s: Span) -> None:  # type: ignore[override]
        super().append(s)
        self.run.llm_started(s)


class _RootBridge(tracing.Bridge):
    """Marks the first span the re-run opens at the top as the replay of the original root."""

    def __init__(self, inner: tracing.Bridge | None):
        self.inner = inner

    def adopt(self, s: Span, parent: Span | None) -> None:
        run = _running.get()
        if run is not None and run.new_root is None and parent is run.outer:
            run.new_root = s
            s.replay_of = run.root.id
        if self.inner is not None:
            self.inner.adopt(s, parent)

    def enter(self, s: Span) -> Any:
        return self.inner.enter(s) if self.inner is not None else None

    def leave(self, token: Any) -> None:
        if self.inner is not None:
            self.inner.leave(token)


# -- the HTTP transport: recorded answers and edited requests ------------------------
def _recorded_response(mod: Any, request: Any, rec: Span, stream: bool) -> Any:
    body = rec.response
    if stream and rec.status == "ok":
        wire = providers.wire_of(rec.provider, rec.endpoint)
        events = wire.events(body) if wire is not None and isinstance(body, dict) else None
        if events is None:
            raise _Diverged(f"call {rec.id[:12]} ({rec.name}) was streamed, and its API's stream cannot be rebuilt "
                            "from the stored answer: pick a call at or before it as at=")
        # A byte stream, not content: the SDK and capture read it as the stream it was.
        return mod.Response(200, headers={"content-type": "text/event-stream"}, stream=mod.ByteStream(b"".join(events)),
                            request=request)
    if isinstance(body, (dict, list)):
        content = json.dumps(body).encode()
    elif isinstance(body, str):
        content = body.encode()
    elif isinstance(body, bytes):
        content = body
    else:
        raise _Diverged(f"call {rec.id[:12]} has no stored response to answer with")
    status = rec.http_status or (200 if rec.status == "ok" else 500)
    return mod.Response(status, headers={"content-type": "application/json"}, content=content, request=request)


def _edit_request(mod: Any, request: Any, call: _patch.Call, rec: Span, edits: dict) -> None:
    """Rewrite the request body in place, so capture stores what was sent."""
    try:
        body = json.loads(request.content)
    except ValueError:
        raise _Diverged(f"the call to edit ({call.span.name}) did not send a JSON body") from None
    stand_in = Span(id=rec.id, kind="llm", provider=call.span.provider, endpoint=call.span.endpoint, request=body)
    try:
        _, new = build_request(stand_in, **edits)
    except ReplayError as e:
        raise _Diverged(str(e)) from None
    if isinstance(new.get("model"), str):
        call.span.request_model = new["model"]
    content = json.dumps(new).encode()
    request.stream = mod.ByteStream(content)
    request._content = content
    request.headers["Content-Length"] = str(len(content))


class _Transport:
    """Answers from the recording, or rewrites then forwards to the client's own transport."""

    def __init__(self, mod: Any, inner: Any, run: _Run, plan: tuple):
        self.mod, self.inner, self.run, self.plan = mod, inner, run, plan

    def _prepare(self, request: Any) -> Any:
        kind, rec = self.plan
        call = _patch.active.get()
        if kind == "diverged":
            raise self.run.diverge(rec)
        if (rec.provider, rec.endpoint) != (call.span.provider, call.span.endpoint):
            raise self.run.diverge(f"LLM call #{list(self.run.plans).index(call.span.id) + 1} is a {call.span.name} "
                                   f"call, but the recorded one at that position is {rec.name} ({rec.id[:12]})")
        if kind == "recorded":
            if self.run.strict:
                self._same_request(request, call, rec)
            response = _recorded_response(self.mod, request, rec, call.span.stream)
            self.run.answered.append((request, response))
            return response
        _edit_request(self.mod, request, call, rec, self.run.edits)
        return None

    def _same_request(self, request: Any, call: _patch.Call, rec: Span) -> None:
        # A recorded answer fits only the request it answered: a shifted or changed call is a divergence.
        if call.endpoint.wire is None:  # an SDK over another (litellm): its keyword arguments were stored
            body = json.loads(_canonical(call.kwargs))
        else:
            try:
                body = json.loads(request.content)
            except ValueError:
                return
        changes = [c for c in json_diff(rec.request, body)
                   if not (isinstance(c.get("old"), str) and stored_gaps(c["old"]))]  # not kept whole: unknown
        if changes:
            c = changes[0]
            n = list(self.run.plans).index(call.span.id) + 1
            raise self.run.diverge(
                f"LLM call #{n} sent another request than the recorded one ({rec.id[:12]}): {c['path']} "
                f"{c['op']}" + (f", was {_canonical(c.get('old'))[:80]}" if c["op"] != "added" else "")
                + (f", now {_canonical(c.get('new'))[:80]}" if c["op"] != "removed" else "")
                + " (pass strict=False to answer calls by position and endpoint only)")

    def handle_request(self, request: Any) -> Any:
        return self._prepare(request) or self.inner.handle_request(request)

    async def handle_async_request(self, request: Any) -> Any:
        return self._prepare(request) or await self.inner.handle_async_request(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _transport_for_url(mod: Any):
    def wrapper(wrapped, instance, args, kwargs):
        transport = wrapped(*args, **kwargs)
        run = _running.get()
        call = _patch.active.get()
        if run is None or call is None:
            return transport
        plan = run.plans.get(call.span.id)
        if plan is None or plan[0] == "live":
            return transport
        return _Transport(mod, transport, run, plan)

    return wrapper


_installed: set[str] = set()


def _install() -> None:
    """Wrap ``_transport_for_url`` of httpx2 and httpx clients (once; a ContextVar look-up when not re-running)."""
    import importlib

    for name in ("httpx2", "httpx"):
        if name in _installed:
            continue
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        for owner in (mod.Client, mod.AsyncClient):
            wrapt.wrap_function_wrapper(owner, "_transport_for_url", _transport_for_url(mod))
        _installed.add(name)


# -- the recording --------------------------------------------------------------------
def _recording(trace: Any) -> tuple[Span, list[Span], list[Span]]:
    """(root, LLM calls, tool spans) of a trace, or of the subtree under a span, in start order."""
    query.flush()
    tid, sid = query.resolve_trace(trace, who="ld.replay_trace()")
    rows = query.span_rows(trace_id=tid)
    if not rows:
        raise ReplayError(f"trace {tid[:12]} has no spans")
    by_id = {r["id"]: r for r in rows}
    root_id = sid if sid is not None and by_id.get(sid, {}).get("parent_id") else next(
        (r["id"] for r in rows if not r["parent_id"] or r["parent_id"] not in by_id), rows[0]["id"])
    children: dict[str, list[str]] = {}
    for r in rows:
        children.setdefault(r["parent_id"], []).append(r["id"])
    inside, todo = set(), [root_id]
    while todo:
        i = todo.pop()
        inside.add(i)
        todo += children.get(i, [])
    ordered = [r for r in rows if r["id"] in inside]  # rows come in start order
    llm = [query.get(r["id"]) for r in ordered if r["kind"] == "llm"]
    tools = [query.get(r["id"]) for r in ordered if r["kind"] == "tool"]
    return query.get(root_id), llm, tools


def _edits_of(edits: Any) -> dict:
    if edits is None:
        return {}
    if callable(edits):  # an ld.edit.*() or a function of the messages
        return {"messages": edits}
    if not isinstance(edits, dict):
        raise TypeError(f"edits= takes a dict such as {{'system': '...'}} or {{'model': '...'}}, or an ld.edit, "
                        f"not {type(edits).__name__}")
    if "stream" in edits:
        raise ReplayError("edits= cannot change stream: the function reads the reply the way it asked for it")
    return dict(edits)


def replay_trace(trace: Any, fn: Callable[..., Any], *args: Any, edits: Any = None, at: Any = None,
                 tools: str = "recorded", strict: bool = True, **kwargs: Any) -> Any:
    """Run ``fn(*args, **kwargs)`` again with the LLM calls of ``trace`` before ``at``
    answered from the recording, ``at`` sent to the model with ``edits`` applied (a dict
    of ld.replay's arguments: ``messages``, ``system``, ``model``, parameters; or an
    ``ld.edit``), and every call after it sent to the model. ``at=None``: every call is
    answered from the recording. ``tools="recorded"`` answers ``@ld.traced(kind="tool")``
    functions with their recorded output (``"live"`` runs them). Returns the new trace's
    root span (``replay_of`` = the original root's id); for a coroutine function, an
    awaitable of it. :class:`ReplayError` when the function does not do what it did when
    recorded: another request before ``at`` (``strict=False``: only position and endpoint
    must match), more calls, a tool input the recording lacks.
    """
    if not callable(fn):
        raise TypeError(f"ld.replay_trace(trace, fn, ...) needs the agent function to run, not {type(fn).__name__}")
    if tools not in TOOLS:
        raise ValueError(f"tools= is one of {', '.join(map(repr, TOOLS))}, not {tools!r}")
    edit_kwargs = _edits_of(edits)
    root, llm, tool_spans = _recording(trace)
    at_index = None
    if at is not None:
        target = query.resolve_span(at, who="ld.replay_trace(at=)")
        at_index = next((i for i, s in enumerate(llm) if s.id == target.id), None)
        if at_index is None:
            raise ReplayError(f"at= {target.kind} {target.name!r} ({target.id[:12]}) is not an LLM call of trace "
                              f"{root.trace_id[:12]}: pass one of its calls (ld.calls(trace_id=...))")
    elif edit_kwargs:
        raise ReplayError("edits= needs at=: the LLM call of the trace to edit")
    _install()
    run = _Run(root, llm, tool_spans, at_index, edit_kwargs, strict)
    if inspect.iscoroutinefunction(fn):
        return _run_async(run, fn, args, kwargs, tools)
    with _running_as(run, tools):
        fn(*args, **kwargs)
    return _result(run)


async def _run_async(run: _Run, fn: Callable, args: tuple, kwargs: dict, tools: str) -> Span:
    with _running_as(run, tools):
        await fn(*args, **kwargs)
    return _result(run)


@contextlib.contextmanager
def _running_as(run: _Run, tools: str):
    """The re-run's context: capture collects into it, the transports and tools ask it."""
    previous = tracing.bridge()
    bridge = _RootBridge(previous)
    tracing.set_bridge(bridge)
    tokens = (_running.set(run), replaying.set((run.root.id, _Collector(run))),
              tracing.tool_answers.set(run.answer_tool if tools == "recorded" else None))
    try:
        yield
    except _Diverged:
        pass
    except Exception:
        if run.diverged is None:
            raise
    finally:
        tracing.tool_answers.reset(tokens[2])
        replaying.reset(tokens[1])
        _running.reset(tokens[0])
        if tracing.bridge() is bridge:
            tracing.set_bridge(previous)


def _result(run: _Run) -> Span:
    root = run.root
    if run.diverged is not None:
        raise ReplayError(f"the re-run diverged from trace {root.trace_id[:12]}: {run.diverged}")
    if run.at is not None and run.count <= run.at:
        raise ReplayError(f"the function made {run.count} LLM call(s) and never reached the call to edit "
                          f"(#{run.at + 1} of the recording): it no longer does what it did when recorded")
    if run.new_root is None:
        raise ReplayError("the function opened no span and made no LLM call: nothing was re-run")
    query.flush()
    return query.get(run.new_root.id)


def recorded_call(span: Span, thunk: Callable[[], Any]) -> list[tuple[Any, Any]]:
    """Run ``thunk()``, which makes one SDK call, with ``span``'s stored answer returned
    instead of sending it; returns the (httpx request, response) pairs answered."""
    _install()
    run = _Run(span, [span], [], None, {}, strict=False)
    with _running_as(run, "live"):
        thunk()
    if run.diverged is not None:
        raise ReplayError(run.diverged)
    if not run.answered:
        raise ReplayError(f"the {span.name} call was not captured, so it could not be answered from call "
                          f"{span.id[:12]}: is capture on (ld.init())?")
    return run.answered
