"""Everything llmdebug knows about each LLM API, one module per API family.

The rest of llmdebug asks here instead of naming a provider: which SDK methods to
wrap, how a request's conversation, tools and parameters read, how a response or a
stream reads, how a call is priced and replayed. ``NAMES`` lists the modules; a new
provider is a new module (see ``base.py`` for what it declares) added to it.

Example::

    from llmdebug import providers
    providers.conversation(span)      # system prompt first, in the API's own shapes
    providers.chat_messages(span)     # the same, normalised for display and diff
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from types import ModuleType
from typing import Any

from ..pricing import PriceKey
from . import _conversation, _params, _ratelimits, _usage
from .base import Endpoint, ProviderError, Reading, Target, Wire

__all__ = ["NAMES", "module", "installed", "wire", "wire_of", "wire_for_path", "conversation", "chat_messages",
           "tools", "params", "settings", "normalise", "price_key", "normalize_usage", "from_otel_name", "otel_name", "request_from_chat", "header_names", "rate_limits", "CONVERSATION_KEYS", "USAGE_KEYS", "Endpoint",
           "ProviderError", "Reading", "Target", "Wire"]

NAMES = ("openai", "anthropic", "litellm", "google")
CONVERSATION_KEYS = _conversation.CONVERSATION_KEYS
USAGE_KEYS = _usage.USAGE_KEYS
PARAM_ORDER = _params.PARAM_ORDER

_modules: dict[str, ModuleType] = {}
_by_alias: dict[str, str] = {}
_wires: dict[str, Wire] = {}
_by_otel_name: dict[str, str] = {}


def module(name: str) -> ModuleType:
    """The provider module for a provider name or alias (``"azure"`` -> openai); KeyError if unknown."""
    name = _by_alias.get(name, name)
    mod = _modules.get(name)
    if mod is None:
        if name not in NAMES:
            raise KeyError(f"no provider module {name!r}; providers are {', '.join(NAMES)}")
        _load_all()
        mod = _modules[name]
    return mod


def _load_all() -> None:
    if len(_modules) == len(NAMES):
        return
    for name in NAMES:
        mod = importlib.import_module(f"{__name__}.{name}")
        _modules[name] = mod
        for alias in mod.ALIASES:
            _by_alias[alias] = name
        for otel_name in getattr(mod, "OTEL_NAMES", ()):
            _by_otel_name[otel_name] = name
        _wires.update(mod.WIRES)


class _DefaultWire(Wire):
    """How a JSON response of unknown origin is read: as OpenAI chat, the shape most
    OpenAI-compatible servers answer in."""

    def __getattribute__(self, name: str) -> Any:
        return getattr(wire("openai-chat"), name)


DEFAULT_WIRE: Wire = _DefaultWire()


def installed() -> list[str]:
    """Providers whose SDK is importable here."""
    _load_all()
    return [n for n in NAMES if _find(_modules[n].SDK)]


def _find(dotted: str) -> bool:
    try:
        return importlib.util.find_spec(dotted) is not None
    except (ImportError, ValueError):
        return False


def wire(wire_id: str | None) -> Wire | None:
    """A wire format by id (``"openai-chat"``, ``"anthropic"``, ...)."""
    if wire_id is None:
        return None
    _load_all()
    return _wires.get(wire_id)


def wire_of(provider: str | None, endpoint: str | None) -> Wire | None:
    """The wire format of a stored call's request (its ``Span.provider`` and ``.endpoint``)."""
    try:
        mod = module(provider or "")
    except KeyError:
        return _fallback_wire(endpoint)
    return wire(mod.ENDPOINT_WIRES.get(endpoint or "")) or _fallback_wire(endpoint)


def _fallback_wire(endpoint: str | None) -> Wire | None:
    # A span from elsewhere (another tool, an older file) that names only an endpoint.
    _load_all()
    for mod in _modules.values():
        wid = mod.ENDPOINT_WIRES.get(endpoint or "")
        if wid:
            return wire(wid)
    return None


_path_memo: dict[str, tuple[Wire | None, str]] = {}


def wire_for_path(path: str) -> tuple[Wire | None, str]:
    """(wire format, base URL) of an HTTP request URL such as ``…/v1/chat/completions``."""
    found = _path_memo.get(path)
    if found is None:
        found = _wire_for_path(path)
        if len(_path_memo) > 4096:  # URLs repeat: a handful per process; bounded all the same
            _path_memo.clear()
        _path_memo[path] = found
    return found


def _wire_for_path(path: str) -> tuple[Wire | None, str]:
    _load_all()
    for mod in _modules.values():
        for suffix, wid in mod.PATHS:
            if path.endswith(suffix):
                return wire(wid), path[: -len(suffix)]
        matcher = getattr(mod, "match_path", None)
        if matcher is not None:
            found = matcher(path)
            if found is not None:
                return wire(found[0]), found[1]
    return None, path


def _wire_and_request(span: Any, request: Any, provider: str | None, endpoint: str | None) -> tuple[Any, Any]:
    if span is not None:
        provider = provider or getattr(span, "provider", None)
        endpoint = endpoint or getattr(span, "endpoint", None)
        if request is None:
            request = getattr(span, "request", None)
    w = wire_of(provider, endpoint) if (provider or endpoint) else _any_wire()
    return w or Wire(), _as_dict(request)


class _AnyWire(Wire):
    """A request of unknown origin (a bare dict): every API's parameter names understood."""

    id = "any"

    def __init__(self, wires: list[Wire]):
        self.param_names = {k: v for w in wires for k, v in w.param_names.items()}
        self.conversation_keys = frozenset().union(*(w.conversation_keys for w in wires))
        self._chat = next(w for w in wires if w.id == "openai-chat")

    def messages(self, request: Any) -> Any:
        return self._chat.messages(request)


_ANY: list[Wire] = []


def _any_wire() -> Wire:
    if not _ANY:
        _load_all()
        _ANY.append(_AnyWire(list(_wires.values())))
    return _ANY[0]


def _as_dict(req: Any) -> Any:
    if isinstance(req, (bytes, bytearray, memoryview)):
        req = bytes(req).decode("utf-8", "replace")
    if isinstance(req, str):
        try:
            req = json.loads(req)
        except ValueError:
            return None
    return req


def conversation(span: Any = None, *, request: Any = None, provider: str | None = None,
                 endpoint: str | None = None) -> Any:
    """A call's conversation, system prompt first, in its API's own message shapes. Give a
    Span (or anything with ``provider``, ``endpoint``, ``request``), or the three as keywords
    (``request`` also overrides the span's, e.g. an edited one)."""
    w, req = _wire_and_request(span, request, provider, endpoint)
    return w.messages(req)


def chat_messages(span: Any = None, *, request: Any = None, provider: str | None = None,
                  endpoint: str | None = None) -> list[dict]:
    """The conversation normalised for every API: ``{"role", "text", "tool_calls",
    "tool_call_id", "name"}`` each (see ``_conversation.normalise``)."""
    raw = conversation(span, request=request, provider=provider, endpoint=endpoint)
    if raw is not None and not isinstance(raw, list):  # embeddings input, a bare prompt
        raw = [{"role": "user", "content": raw}]
    return _conversation.normalise(raw)


def tools(span: Any = None, *, request: Any = None) -> list[dict]:
    """The tools a call offered: ``{"name", "description", "parameters"}`` each."""
    w, req = _wire_and_request(span, request, None, None)
    return w.tools(req)


def settings(span: Any = None, *, request: Any = None) -> dict:
    """A call's request as sent minus the conversation and the tools: its parameters
    under the API's own names (the detail pane shows them so)."""
    w, req = _wire_and_request(span, request, None, None)
    if not isinstance(req, dict):
        return {}
    return {k: v for k, v in req.items() if k not in w.conversation_keys}


def normalise(messages: list) -> list[dict]:
    """Native messages of any API (a list, perhaps of mixed shapes) normalised like
    :func:`chat_messages`."""
    return _conversation.normalise(messages)


def params(span: Any = None, *, request: Any = None) -> dict:
    """A call's parameters under provider-neutral names (``max_tokens``, ``response_format``,
    ``stop``, ``tool_choice``...), for the diff."""
    w, req = _wire_and_request(span, request, None, None)
    return w.params(req)


def price_key(provider: str | None, model: str) -> PriceKey:
    """Under which names a call of ``provider`` with ``model`` is priced."""
    try:
        return module(provider or "").price_key(provider, model)
    except KeyError:
        return PriceKey(names=((provider, model),), public=(provider, model))


def normalize_usage(usage: Any, wire_id: str) -> dict:
    """The canonical usage (see ``_usage``) of a response's usage block in a wire format."""
    w = wire(wire_id)
    if w is None:
        raise ValueError(f"unknown wire format {wire_id!r}")
    return w.usage(usage)


def from_otel_name(name: str) -> str:
    """llmdebug's provider name for an OpenTelemetry ``gen_ai.provider.name`` /
    ``gen_ai.system`` / OpenInference ``llm.provider`` value (unknown ones, lowercased, as given)."""
    _load_all()
    key = name.strip().lower()
    return _by_otel_name.get(key, _by_alias.get(key, key))


def otel_name(provider: str) -> str:
    """The ``gen_ai.provider.name`` of an llmdebug provider (the first of its module's
    ``OTEL_NAMES``); a provider llmdebug has no module for, as given."""
    try:
        names = getattr(module(provider), "OTEL_NAMES", ())
    except KeyError:
        return provider
    return names[0] if names else provider


def request_from_chat(provider: str | None, model: Any, messages: list[dict], tools: list[dict],
                      params: dict) -> tuple[str, dict]:
    """(endpoint, request) a call recorded elsewhere would have sent, rebuilt from its
    messages (``{"role", "content", "tool_calls": [{"id", "name", "arguments"}],
    "tool_call_id", "name"}``), tools (OpenAI function shape) and parameters: the
    provider's own request shape when its module knows one, OpenAI chat otherwise."""
    try:
        build = module(provider or "").request_from_chat
    except (KeyError, AttributeError):
        build = module("openai").request_from_chat
    return build(model, messages, tools, params)



# -- rate limits ------------------------------------------------------------------------
_headers: list = []  # [(event header names, rate-limit header names, {name: its family})] once loaded


def _header_tables() -> tuple[frozenset, frozenset, dict]:
    if not _headers:
        _load_all()
        families = [m.RATE_LIMITS for m in _modules.values() if getattr(m, "RATE_LIMITS", None)]
        family_of = {n: f for f in families for n in f.names()}
        retry = {_ratelimits.RETRY_AFTER, _ratelimits.RETRY_AFTER_MS}
        events = frozenset(n for m in _modules.values() for n in getattr(m, "EVENT_HEADERS", ())) | retry
        _headers.append((events, frozenset(family_of) | retry, family_of))
    return _headers[0]


def header_names() -> tuple[frozenset, frozenset]:
    """(response headers kept in an HTTP attempt's event, headers :func:`rate_limits`
    reads), lowercase bytes: every provider's, matched by name so a call reads right
    whichever SDK or server sent it (litellm, an OpenAI-compatible server)."""
    events, limits, _ = _header_tables()
    return events, limits


def rate_limits(found: dict, at: float) -> dict:
    """The ``ratelimit_*`` and ``retry_after_s`` Span attributes of one response's headers
    (``found``: lowercase name -> value, bytes, of the names :func:`header_names` lists;
    ``at``: epoch seconds it arrived). Values that do not read are None; never raises."""
    family_of = _header_tables()[2]
    out: dict = {}
    for family in {family_of[n] for n in found if n in family_of}:  # only the families the response speaks
        try:
            family.read(found, at, out)
        except Exception:  # a header no parser expected: that family's values are left out
            continue
    out["retry_after_s"] = _ratelimits.retry_after_s(found, at)
    return out
