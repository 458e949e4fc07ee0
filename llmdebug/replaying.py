"""Replay a captured LLM call: rebuild its request, apply edits, run it through the same SDK.

The replayed call goes through the normal capture path, so it is stored like any other
call, with ``replay_of`` pointing at the original. It goes where the original went (the
base URL it was captured against, not whatever ``OPENAI_BASE_URL`` says now), through
the client that made it if that client is still alive in this process, else with the
environment's key (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, litellm's own variables).
``client=`` or ``base_url=`` send it elsewhere; the stored request never holds a key.
A request the store did not keep whole (a cut prompt, a summarised image, a redacted
field) is not sent: :class:`ReplayError` names the field, unless an edit replaced it.

Example::

    bad = ld.calls(status="error").iloc[-1]
    fixed = ld.replay(bad, system="Answer in JSON.", temperature=0)
    ld.replay(bad, messages=ld.edit.message(-1, "Try this instead"), model="gpt-4o")
"""

from __future__ import annotations

import copy
import inspect
import json
import os
import re
from typing import TYPE_CHECKING, Any, Callable, Iterable, NamedTuple

from . import capture, providers, query, session
from .capture import replaying
from .capture.clients import client_for
from .redaction import MARKER as REDACTED, URL_MARKER
from .tracing import Span
from .store.rows import MAX_FIELD_CHARS, MAX_INLINE_DATA

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["replay", "replay_all", "edit", "Edit", "ReplayError", "build_request", "stored_gaps"]


class ReplayError(Exception):
    """This call cannot be replayed as asked; the message says what to do instead."""


# -- edits --------------------------------------------------------------------------
class Edit:
    """A change to a call's conversation: a function from the old messages to new ones.

    The messages are the call's ``Span.messages``: the system prompt first (as a
    ``{"role": "system"}`` message, whatever the provider), then the conversation in the
    provider's own shapes. Edits combine with ``+``.
    """

    def __init__(self, fn: Callable[[list], list], label: str):
        self.fn = fn
        self.label = label

    def __call__(self, messages: list) -> list:
        return self.fn(copy.deepcopy(list(messages)))

    def __add__(self, other: Callable[[list], list]) -> "Edit":
        return Edit(lambda m: other(self(m)), f"{self.label} + {getattr(other, 'label', repr(other))}")

    def __repr__(self) -> str:
        return f"<Edit {self.label}>"


def _index(messages: list, i: int) -> int:
    if not -len(messages) <= i < len(messages):
        raise ReplayError(f"message {i} does not exist: this call has {len(messages)} messages "
                          "(the system prompt, if any, is message 0)")
    return i % len(messages)


class _Edits:
    """Ready-made edits: ``ld.edit.system(...)``, ``.message(i, ...)``, ``.append(...)``,
    ``.remove(i)``, ``.replace(old, new)``."""

    @staticmethod
    def system(text: str) -> Edit:
        """Replace the system prompt (or add one)."""
        def fn(m: list) -> list:
            rest = [x for x in m if not (isinstance(x, dict) and x.get("role") in ("system", "developer"))]
            return [{"role": "system", "content": text}] + rest
        return Edit(fn, f"system={text[:30]!r}")

    @staticmethod
    def message(index: int, content: Any = None, *, role: str | None = None) -> Edit:
        """Replace the content and/or the role of message ``index`` (negative counts from the end)."""
        def fn(m: list) -> list:
            i = _index(m, index)
            msg = dict(m[i]) if isinstance(m[i], dict) else {"role": "user", "content": m[i]}
            if content is not None:
                msg["content"] = content
            if role is not None:
                msg["role"] = role
            m[i] = msg
            return m
        return Edit(fn, f"message[{index}]")

    @staticmethod
    def append(role: str, content: Any) -> Edit:
        """Add a message at the end."""
        return Edit(lambda m: m + [{"role": role, "content": content}], f"append {role}")

    @staticmethod
    def insert(index: int, role: str, content: Any) -> Edit:
        """Insert a message before message ``index``."""
        def fn(m: list) -> list:
            m.insert(index, {"role": role, "content": content})
            return m
        return Edit(fn, f"insert {role} at {index}")

    @staticmethod
    def remove(index: int) -> Edit:
        """Drop message ``index``."""
        def fn(m: list) -> list:
            del m[_index(m, index)]
            return m
        return Edit(fn, f"remove[{index}]")

    @staticmethod
    def replace(old: str, new: str) -> Edit:
        """Replace text in every message (string contents and text parts)."""
        def sub(content: Any) -> Any:
            if isinstance(content, str):
                return content.replace(old, new)
            if isinstance(content, list):
                return [dict(p, text=p["text"].replace(old, new)) if isinstance(p, dict) and isinstance(p.get("text"), str)
                        else sub(p) if isinstance(p, str) else p for p in content]
            return content

        return Edit(lambda m: [dict(x, content=sub(x.get("content"))) if isinstance(x, dict) else sub(x) for x in m],
                    f"replace {old[:20]!r}")


edit = _Edits()


# -- rebuilding the request ---------------------------------------------------------
def _wire(s: Span) -> providers.Wire:
    return providers.wire_of(s.provider, s.endpoint) or providers.Wire()


def _request_of(s: Span) -> dict:
    if s.kind != "llm":
        raise ReplayError(f"span {s.id[:12]} ({s.kind} {s.name!r}) is not an LLM call: only LLM calls can be replayed")
    req = s.request
    if isinstance(req, (bytes, str)):
        try:
            req = json.loads(req)
        except ValueError:
            req = None
    if not isinstance(req, dict):
        raise ReplayError(f"call {s.id[:12]} has no stored JSON request to rebuild")
    # litellm's kwargs were stored with credentials replaced: let litellm read them again.
    return {k: v for k, v in copy.deepcopy(req).items() if v not in REDACTION_MARKERS}


# -- what the store did not keep whole ------------------------------------------------
# The markers the store leaves in place of a value (see store/rows.py and redaction.py):
# one list, so a new kind of marker is added here and nowhere else.
REDACTION_MARKERS = (REDACTED, URL_MARKER)  # a whole redacted value ("REDACTED" in older files)
_GAP_PATTERNS = (
    ("truncated", re.compile(r"…\[llmdebug: truncated \d+ of \d+ chars\]")),
    ("image", re.compile(r"<[\w/+.-]+ base64 data, \d+ bytes, sha256:[0-9a-f]{16} \(summarised by llmdebug\)>")),
    ("bytes", re.compile(r"<\d+ bytes, sha256:[0-9a-f]{16}>")),
    ("redacted", re.compile(rf"{re.escape(REDACTED)}|://{URL_MARKER}@|[?&][^=&#]*={URL_MARKER}(?=[&#]|$)")),
)


class Gap(NamedTuple):
    """A value of a stored request that is not the value sent: where, what, the marker text."""

    path: str  # e.g. "messages[0].content"
    kind: str  # "truncated" | "image" | "bytes" | "redacted"
    marker: str


def _gap_in(text: str) -> tuple[str, str] | None:
    if text in REDACTION_MARKERS:
        return "redacted", text
    for kind, pattern in _GAP_PATTERNS:
        m = pattern.search(text)
        if m:
            return kind, m.group()
    return None


def stored_gaps(value: Any, path: str = "") -> list[Gap]:
    """Every string in ``value`` (a request, a message list) holding a marker the store
    puts in place of what it did not keep: cut text, summarised images and bytes,
    redacted credentials."""
    found: list[Gap] = []
    if isinstance(value, str):
        gap = _gap_in(value)
        if gap:
            found.append(Gap(path, *gap))
    elif isinstance(value, dict):
        for k, v in value.items():
            found += stored_gaps(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found += stored_gaps(v, f"{path}[{i}]")
    return found


def _refuse_gaps(s: Span, req: dict) -> None:
    """ReplayError if ``req`` still holds a value the store did not keep whole; values an
    edit put in (even one quoting a marker) are the user's and go ahead."""
    stored = {g.marker for g in stored_gaps(_request_of(s))}
    gaps = [g for g in stored_gaps(req) if g.marker in stored] if stored else []
    if not gaps:
        return
    gap, wire = gaps[0], _wire(s)
    top = re.split(r"[.\[]", gap.path, maxsplit=1)[0]
    index = next((int(g.path[1:g.path.index("]")]) for g in stored_gaps(wire.messages(req) or [])
                  if g.marker == gap.marker), None)
    if index == 0 and (wire.messages(req) or [{}])[0].get("role") == "system":
        fix = 'system="..."'
    elif index is not None and wire.conversational:
        fix = f"messages=ld.edit.message({index}, ...)"
    else:
        fix = f"{top}=..."
    call = f"call {s.id[:12]}"
    if gap.kind == "truncated":
        why = (f"{gap.path} was cut when {call} was stored (text over LLMDEBUG_MAX_FIELD_CHARS={MAX_FIELD_CHARS:,} "
               f"characters), so a replay would send the cut text. The full value is gone: pass it whole with "
               f"{fix}, and set LLMDEBUG_MAX_FIELD_CHARS higher before capturing calls like this to keep it next time")
    elif gap.kind == "image":
        why = (f"{gap.path} held an image that was summarised when {call} was stored (inline data over "
               f"{MAX_INLINE_DATA // 1024} KB is not kept), so a replay would send the summary: pass the image "
               f"again with {fix.replace('...', 'content parts with the image')}")
    elif gap.kind == "bytes":
        why = (f"{gap.path} held binary data that was stored only as a summary ({gap.marker}), so a replay "
               f"would send the summary: pass the data again with {fix}")
    else:
        why = (f"{gap.path} was redacted when {call} was stored (it looks like a credential), so a replay "
               f"would send the marker: pass the value again with {fix}"
               + (", or give credentials through client=" if getattr(providers.module(s.provider or ""), "KEY_ENV", None)
                  else ""))
    more = f"; not kept whole either: {', '.join(g.path for g in gaps[1:4])}{', ...' if len(gaps) > 4 else ''}"
    raise ReplayError(why + (more if len(gaps) > 1 else ""))


def build_request(span: Any, *, messages: Any = None, system: str | None = None, model: str | None = None,
                  **params: Any) -> tuple[Span, dict]:
    """The original call and the request a replay would send (provider-native kwargs).

    ``messages`` is a new conversation (system prompt first, as in ``Span.messages``) or
    a function/:class:`Edit` mapping the old one to a new one. ``params`` set request
    parameters (``None`` removes one); ``max_tokens`` works for every API.
    """
    s = query.resolve_span(span, who="ld.replay()")
    req = _request_of(s)
    wire = _wire(s)
    if messages is not None or system is not None:
        if not wire.conversational:
            raise ReplayError(f"a {s.endpoint} call has no conversation to edit; pass its input as a parameter")
        conv = list(wire.messages(req) or [])
        if callable(messages):
            conv = messages(copy.deepcopy(conv))
            if not isinstance(conv, list):
                raise ReplayError(f"the messages function returned {type(conv).__name__}, not a list of messages")
        elif messages is not None:
            conv = list(messages)
        if system is not None:
            conv = edit.system(system)(conv)
        try:
            wire.set_messages(req, conv)
        except providers.ProviderError as e:
            raise ReplayError(str(e)) from None
    if model is not None:
        req["model"] = model
    aliases = wire.param_aliases
    for key, value in params.items():
        key = aliases.get(key, key)
        if key == "max_tokens" and "max_completion_tokens" in req:
            key = "max_completion_tokens"
        if value is None:
            req.pop(key, None)
        else:
            req[key] = value
    if not req.get("stream"):
        req.pop("stream_options", None)
    return s, req


# -- running it ---------------------------------------------------------------------
def _method(s: Span, client: Any, base_url: str | None) -> Callable:
    """The SDK method that sends the rebuilt request (the provider module knows which):
    through ``client``, else the live client that made the call, else a new one."""
    if client is not None and type(client).__name__.startswith("Async"):
        raise ReplayError("replay runs synchronously: pass a sync client")
    try:
        mod = providers.module(s.provider or "")
        if client is None and base_url is None:
            client = client_for(mod.NAME, s.base_url)
            if client is not None and type(client).__name__.startswith("Async"):
                twin = getattr(mod, "sync_client", None)  # the call came from an async client
                client = twin(client) if twin is not None else None
        return mod.replay_callable(s, client, base_url)
    except KeyError:
        raise ReplayError(f"replay of {s.provider} calls is not supported") from None
    except providers.ProviderError as e:
        raise ReplayError(str(e)) from None


def _unreachable(exc: BaseException) -> str | None:
    """The URL a replay could not connect to, if ``exc`` is a connection failure (a
    refused or failed connection, not a timeout or an HTTP error)."""
    seen, e = set(), exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if type(e).__name__ in ("APIConnectionError", "ConnectError", "ConnectionRefusedError"):
            request = getattr(e, "request", None)
            try:
                url = str(request.url) if request is not None else None
            except Exception:  # httpx raises when an error carries no request
                url = None
            return url.partition("?")[0] if url else ""
        e = e.__cause__ or e.__context__
    return None


def _unreachable_error(s: Span, url: str, base_url: str | None) -> ReplayError:
    where = providers.wire_for_path(url)[1] if url else (base_url or s.base_url or "the server")
    if base_url is None and where == s.base_url:
        what = f"the server call {s.id[:12]} was captured against"
    else:
        what = "the server the replay was sent to"
    return ReplayError(f"could not connect to {where} ({what}): start it again, or send the replay elsewhere "
                       f"with base_url=\"http://...\" or client=<an SDK client>")


def _kwargs_for(fn: Callable, req: dict) -> dict:
    """Body keys the SDK method has no parameter for travel in ``extra_body``."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return req
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return req
    known = {k: v for k, v in req.items() if k in params}
    extra = {k: v for k, v in req.items() if k not in params}
    if extra and "extra_body" in params:
        known["extra_body"] = extra
    return known


def _ensure_captured(provider: str) -> None:
    session.get_store()
    if not session.enabled:
        raise ReplayError("capturing is off (%llmdebug off): turn it on so the replay is recorded")
    wanted = providers.module(provider).NAME
    if wanted not in capture.instrumented():
        capture.instrument(wanted)


def replay(span: Any, *, messages: Any = None, system: str | None = None, model: str | None = None,
           client: Any = None, base_url: str | None = None, **params: Any) -> Span:
    """Run a captured call again, edited, through the same SDK; returns the new call.

    ``span`` is a Span, an id (or prefix) or a ``calls()`` row. It is sent where the call
    went (its base URL), unless ``client=`` (an SDK client) or ``base_url=`` says
    otherwise. The new call is captured like any other, with ``replay_of`` set to the
    original's id. A replay that fails (an API error) is returned as a span with
    ``status == "error"``, not raised; :class:`ReplayError` means the replay could not be
    made at all: the server could not be reached, or the stored request was not kept
    whole (a prompt over ``LLMDEBUG_MAX_FIELD_CHARS``, an inline image over 64 KB, a
    redacted field) and no edit replaced that part.
    """
    if base_url is not None and (not isinstance(base_url, str) or not base_url.startswith(("http://", "https://"))):
        raise ReplayError(f"base_url must be an http(s) URL such as \"http://localhost:8000/v1\", not {base_url!r}")
    s, req = build_request(span, messages=messages, system=system, model=model, **params)
    _refuse_gaps(s, req)
    fn = _method(s, client, base_url)
    _ensure_captured(s.provider or "")
    collected: list[Span] = []
    token = replaying.set((s.id, collected))
    try:
        try:
            result = fn(**_kwargs_for(fn, req))
            if req.get("stream") or (s.stream and inspect.isgenerator(result)):
                for _ in result:  # the span closes when the stream ends
                    pass
        except Exception as e:  # an API error: recorded on the new span, returned below
            url = _unreachable(e)
            if url is not None:  # nothing answered: say where, and how to go elsewhere
                query.flush()
                raise _unreachable_error(s, url, base_url) from None
            if not collected:
                raise
    finally:
        replaying.reset(token)
    query.flush()
    if not collected:
        raise ReplayError("the replayed call was not captured: is this SDK instrumented (ld.instrument())?")
    return query.get(collected[0].id)


def _calls_of(selection: Any) -> list[str]:
    if isinstance(selection, dict):
        return list(query.calls(**selection)["id"])
    if hasattr(selection, "columns") and "id" in selection.columns:  # a DataFrame
        return [str(i) for i in selection["id"]]
    if isinstance(selection, (str, Span)) or hasattr(selection, "get"):
        return [query.resolve_span(selection, who="ld.replay_all()").id]
    if isinstance(selection, Iterable):
        return [query.resolve_span(x, who="ld.replay_all()").id for x in selection]
    raise TypeError(f"replay_all takes a DataFrame of calls, a list of calls or a dict of filters, not {type(selection).__name__}")


_BEFORE_AFTER = ("status", "model", "output_text", "error_type", "input_tokens", "output_tokens", "cost_usd", "latency_ms")


def replay_all(calls: Any, *, messages: Any = None, system: str | None = None, model: str | None = None,
               client: Any = None, base_url: str | None = None, **params: Any) -> "pd.DataFrame":
    """Replay a set of calls with one edit; a before/after table, one row per call.

    ``calls`` is a DataFrame (e.g. ``ld.calls(status="error", trace_id=t)``), a list of
    calls or a dict of filters. Calls are run one after another. A call that cannot be
    replayed (a user span, a missing key) gets its reason in ``replay_error``.

    Example::

        ld.replay_all({"status": "error", "since": "1h"}, system="Reply in JSON.")
    """
    import pandas as pd

    rows = []
    for cid in _calls_of(calls):
        before = query.get(cid)
        row: dict[str, Any] = {"original_id": before.id, "replay_id": None, "replay_error": None}
        for f in _BEFORE_AFTER:
            row[f"{f}_before"] = getattr(before, f)
        try:
            after = replay(before, messages=messages, system=system, model=model, client=client, base_url=base_url,
                           **params)
            row["replay_id"] = after.id
            for f in _BEFORE_AFTER:
                row[f"{f}_after"] = getattr(after, f)
        except ReplayError as e:
            row["replay_error"] = str(e)
        rows.append(row)
    cols = ["original_id", "replay_id"] + [f"{f}_{w}" for f in _BEFORE_AFTER for w in ("before", "after")] + ["replay_error"]
    df = pd.DataFrame.from_records(rows, columns=cols)
    for c in ("input_tokens_before", "input_tokens_after", "output_tokens_before", "output_tokens_after"):
        df[c] = df[c].astype("Int64")
    df["fixed"] = (df["status_before"] == "error") & (df["status_after"] == "ok")
    return df
