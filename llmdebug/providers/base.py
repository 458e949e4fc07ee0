"""What a provider module declares, and the pieces every one of them shares.

A provider module (``providers/openai.py``, ...) is one API family. It names:

- ``NAME``, ``SDK`` (the import name whose presence means it is installed) and
  ``ALIASES`` (other ``Span.provider`` values it reads, e.g. "azure");
- ``TARGETS``: the SDK methods to wrap (:class:`Target`), each with its :class:`Endpoint`;
- ``WIRES``: one :class:`Wire` per wire format it speaks, ``ENDPOINT_WIRES`` (the wire
  of each ``Span.endpoint``) and ``PATHS`` (HTTP path suffix -> wire, for SDKs that call
  this API underneath, as litellm does);
- ``adjust(span)``: after a call is read (e.g. provider "azure" for an Azure host);
- ``price_key(provider, model)``: under which names the call is priced;
- ``replay_callable(span, client, base_url)``: the SDK method that sends a rebuilt request
  (without a client: to ``base_url``, else to the base URL the call was captured against).

Nothing outside ``providers/`` names a provider: capture, the store, queries, replay,
diff and the widgets ask through :mod:`llmdebug.providers`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

from ..pricing import PriceKey
from . import _conversation, _params, _usage

__all__ = ["Endpoint", "Target", "Reading", "Wire", "ProviderError", "default_price_key", "sdk_method",
           "captured_base_url"]


class ProviderError(Exception):
    """A request cannot be rebuilt or sent as asked; the message says what to do."""


@dataclass(frozen=True)
class Endpoint:
    provider: str  # the provider module: "openai", "anthropic", "litellm", "google"
    name: str  # Span.endpoint: "chat.completions", "messages", ...
    wire: str | None  # wire format of request and response; None: read from the HTTP path (litellm)


@dataclass(frozen=True)
class Target:
    """An SDK method llmdebug wraps: ``module`` + dotted ``path`` (``Class.method``)."""

    module: str
    path: str
    endpoint: Endpoint
    is_async: bool = False
    # For helpers that return a manager sending the request later (anthropic's
    # messages.stream()): the manager attribute holding the request callable.
    deferred: str | None = None
    stream: bool = False  # the method always streams (generate_content_stream)
    generator: bool = False  # a generator function: its request is sent when first iterated


@dataclass
class Reading:
    """What a response says, in llmdebug's terms."""

    model: str | None = None
    usage: dict = field(default_factory=dict)  # canonical keys, see providers._usage
    output_text: str | None = None
    tool_calls: list | None = None
    error: tuple[str, str] | None = None  # (type, message)


class Wire:
    """How one wire format's requests and responses are read, and rebuilt for replay.

    The defaults fit an API with ``messages`` in the request and no stream format;
    each provider module subclasses what differs."""

    id = ""
    conversational = False  # has messages a replay can edit
    param_aliases: dict[str, str] = {}  # common parameter name -> this API's (replay)
    param_names: dict[str, str] = {}  # this API's parameter name -> common one (diff)
    conversation_keys = _conversation.CONVERSATION_KEYS  # request keys that are not parameters

    # -- requests ---------------------------------------------------------------
    def messages(self, request: Any) -> Any:
        """The conversation, system prompt first, in the API's own shapes."""
        return request.get("messages") if isinstance(request, dict) else None

    def chat_messages(self, request: Any) -> list[dict]:
        """The conversation normalised: ``{"role", "text", "tool_calls", "tool_call_id", "name"}``."""
        return _conversation.normalise(self.messages(request))

    def set_messages(self, request: dict, conversation: list) -> None:
        """Put an edited conversation (system first) back into the request."""
        raise ProviderError(f"messages cannot be edited for a {self.id} call; pass the new input as a parameter")

    def tools(self, request: Any) -> list[dict]:
        return _conversation.tool_definitions(request)

    def params(self, request: Any) -> dict:
        """Parameters under provider-neutral names (everything but conversation and tools)."""
        return _params.common(request, self.param_names, self.conversation_keys)

    # -- responses --------------------------------------------------------------
    def usage(self, block: Any) -> dict:
        """A response's usage block in the canonical shape (see ``_usage``)."""
        return _usage.empty()

    def assemble(self, events: list) -> tuple[dict, float | None]:
        """A streamed response (``(event number, event name, data)`` triples) as the JSON
        body a non-streamed call returns, and the number of the event that carried the
        first token (passed through: capture turns it into a time)."""
        return {"events": [d for _, _, d in events]}, None

    def events(self, response: dict) -> list[bytes] | None:
        """An assembled response as the Server-Sent Events a stream of it would have been
        (the inverse of :meth:`assemble`, token by token no more); None: not streamable."""
        return None

    def read(self, response: dict) -> Reading:
        return Reading(response.get("model"), self.usage(response.get("usage")), error=error_of(response))

    def stored(self, response: Any) -> Any:
        """The response as stored (embeddings are summarised)."""
        return response


def error_of(resp: Any) -> tuple[str, str] | None:
    """(type, message) of an error body in the common shapes (``{"error": {...}}``)."""
    if not isinstance(resp, dict):
        return None
    err = resp.get("error")
    if not err and resp.get("type") == "error":
        err = resp
    if isinstance(err, dict):
        inner = err.get("error") if isinstance(err.get("error"), dict) else err
        return (str(inner.get("type") or inner.get("status") or inner.get("code") or "error"),
                str(inner.get("message") or inner))
    if err:
        return "error", str(err)
    if resp.get("status") == "failed":
        return "response_failed", str(resp.get("error") or "")
    return None


def json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def default_price_key(provider: str | None, model: str) -> PriceKey:
    return PriceKey(names=((provider, model),), public=(provider, model))


def captured_base_url(span: Any) -> str | None:
    """The base URL ``span`` was sent to, if it was stored whole (a redacted one is not)."""
    from ..redaction import URL_MARKER

    url = getattr(span, "base_url", None)
    if isinstance(url, str) and url.startswith(("http://", "https://")) and URL_MARKER not in url:
        return url
    return None


def sdk_method(client: Any, path: tuple[str, ...]) -> Callable:
    target = client
    for attr in path:
        target = getattr(target, attr)
    return target
