"""What an experiment's variants are, and how each runs one item's input.

A variant is one of:

- a function ``fn(input) -> output`` (or an async one, run on the worker thread's own
  event loop): it may call any SDK, its calls are captured under the item's span;
- a prompt template (a string with ``{placeholders}`` or spaces, or a dict
  ``{"template", "system", "model", "params"}``): filled with the item's input dict and
  sent as one user message to ``model`` through ``client``;
- a model name (a string without spaces or braces, or ``{"model": ...}``): the item's
  messages sent to that model, through ``client`` when one is given, else replayed
  (``ld.replay``) where the item's source call went.

Nothing here names a provider: the client's SDK picks its provider module, which builds
the request (``request_from_chat``) and reads the response (its wire format).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import string
import types
from dataclasses import dataclass, field
from typing import Any, Callable

from .. import providers

__all__ = ["Variant", "make_variants", "output_text"]

_TEMPLATE_KEYS = {"template", "system", "model", "params", "client"}


class VariantError(Exception):
    """A variant could not run an item; the message says why. ``error_type``: the error's
    own type name when it stands for another (a replayed call's API error)."""

    def __init__(self, message: str, error_type: str | None = None):
        super().__init__(message)
        self.error_type = error_type


@dataclass
class Variant:
    """One named variant: ``kind`` is ``"function"``, ``"template"`` or ``"model"``."""

    name: str
    kind: str
    fn: Callable[[Any], Any] | None = None
    template: str | None = None
    system: str | None = None
    model: str | None = None
    params: dict = field(default_factory=dict)
    client: Any = None

    def describe(self) -> dict:
        """What is stored in ``experiments.variants_json``."""
        if self.kind == "function":
            fn = self.fn
            return {"name": self.name, "kind": "function",
                    "function": f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}"}
        d = {"name": self.name, "kind": self.kind, "model": self.model}
        if self.kind == "template":
            d.update(template=self.template, system=self.system)
        if self.params:
            d["params"] = self.params
        return d

    def run(self, input: Any, source_span_id: str | None = None) -> Any:
        """The variant's output for one item input (raises what the variant raised)."""
        if self.kind == "function":
            out = self.fn(input)
            if inspect.isawaitable(out):  # an async function: run on this worker thread's own loop
                out = asyncio.run(_awaited(out))
            return out
        if self.kind == "template":
            messages = ([{"role": "system", "content": self.system}] if self.system else []) + \
                [{"role": "user", "content": fill(self.template, input)}]
        else:
            messages = messages_of(input)
        if self.client is not None:
            return send(self.client, self.model, messages, self.params)
        if self.kind == "model" and source_span_id:
            return _replayed(source_span_id, self.model, messages, self.params)
        if self.kind == "model":
            raise VariantError(f"variant {self.name!r} sends the item's messages to {self.model}: pass client= (an "
                               "SDK client) to ld.experiment, or use items captured from calls (ds.from_calls), "
                               "which are replayed where they went")
        raise VariantError(f"template variant {self.name!r} needs a client: pass client= (an SDK client) to "
                           "ld.experiment or put it in the variant's dict")


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def make_variants(variants: dict, *, client: Any = None, model: str | None = None) -> list[Variant]:
    """Variants from ``ld.experiment``'s ``variants=`` dict (name -> spec)."""
    if not isinstance(variants, dict) or not variants:
        raise TypeError("variants= is a dict of name -> a function, a prompt template, a model name, or "
                        "{'template': ..., 'system': ..., 'model': ...}")
    out = []
    for name, spec in variants.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"variant name {name!r}: give each variant a non-empty string name")
        if callable(spec) and not isinstance(spec, (str, dict)):
            out.append(Variant(name, "function", fn=spec))
        elif isinstance(spec, str):
            if _is_template(spec):
                out.append(_template(name, {"template": spec}, client, model))
            else:
                out.append(Variant(name, "model", model=spec, client=client))
        elif isinstance(spec, dict):
            unknown = set(spec) - _TEMPLATE_KEYS
            if unknown:
                raise TypeError(f"variant {name!r}: unknown key(s) {sorted(unknown)}; a variant dict has "
                                f"{', '.join(sorted(_TEMPLATE_KEYS))}")
            if spec.get("template") is not None:
                out.append(_template(name, spec, client, model))
            elif spec.get("model"):
                out.append(Variant(name, "model", model=spec["model"], params=dict(spec.get("params") or {}),
                                   client=spec.get("client", client)))
            else:
                raise TypeError(f"variant {name!r}: a dict variant needs 'template' or 'model'")
        else:
            raise TypeError(f"variant {name!r} is a {type(spec).__name__}: give a function, a prompt template, a "
                            "model name or a dict")
    for v in out:
        if v.client is not None:
            _check_client(v)
    return out


def _is_template(s: str) -> bool:
    # model names have neither spaces nor braces ("gpt-4o-mini", "claude-sonnet-4-5", "openai/gpt-4o")
    return "{" in s or any(c.isspace() for c in s.strip())


def _template(name: str, spec: dict, client: Any, model: str | None) -> Variant:
    tmpl = spec["template"]
    if not isinstance(tmpl, str) or not tmpl.strip():
        raise TypeError(f"variant {name!r}: the template must be a non-empty string")
    try:
        list(string.Formatter().parse(tmpl))
    except ValueError as e:
        raise ValueError(f"variant {name!r}: the template is not a format string ({e}); write a literal brace "
                         "as {{ or }}") from None
    m = spec.get("model") or model
    if not m:
        raise TypeError(f"template variant {name!r} needs a model: pass model= to ld.experiment, or give "
                        "{'template': ..., 'model': ...}")
    return Variant(name, "template", template=tmpl, system=spec.get("system"), model=m,
                   params=dict(spec.get("params") or {}), client=spec.get("client", client))


def fill(template: str, input: Any) -> str:
    """The template filled with the item's input (a dict's keys; a string is ``{input}``)."""
    values = dict(input) if isinstance(input, dict) else {"input": input}
    try:
        return template.format_map(values)
    except KeyError as e:
        raise VariantError(f"the template uses {{{e.args[0]}}} but the item's input has only "
                           f"{sorted(values)}") from None
    except (IndexError, ValueError) as e:
        raise VariantError(f"the template cannot be filled: {e}") from None


def messages_of(input: Any) -> list[dict]:
    """An item's input as chat messages: a list of messages as it is, ``{"messages": [...]}``,
    a string as one user message, another dict as one user message of its values."""
    if isinstance(input, list):
        return input
    if isinstance(input, dict) and isinstance(input.get("messages"), list):
        return input["messages"]
    if isinstance(input, str):
        return [{"role": "user", "content": input}]
    if isinstance(input, dict):
        texts = [v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in input.values()]
        text = texts[0] if len(texts) == 1 else "\n".join(f"{k}: {t}" for k, t in zip(input, texts))
        return [{"role": "user", "content": text}]
    raise VariantError(f"an item input of type {type(input).__name__} has no chat messages")


def _sdk_root(client: Any) -> str:
    if isinstance(client, types.ModuleType):
        return client.__name__.split(".")[0]
    return type(client).__module__.split(".")[0]


def _provider_of(client: Any) -> Any:
    root = _sdk_root(client)
    for name in providers.NAMES:
        mod = providers.module(name)
        if mod.SDK.split(".")[0] == root and hasattr(mod, "request_from_chat"):
            return mod
    raise VariantError(f"a {type(client).__name__} client cannot run prompt or model variants: pass a sync OpenAI- "
                       "or Anthropic-style SDK client, or make the variant a function that calls your SDK")


def _check_client(v: Variant) -> None:
    if type(v.client).__name__.startswith("Async"):
        raise TypeError(f"variant {v.name!r}: experiments run items on threads; pass a sync client, not "
                        f"{type(v.client).__name__}")
    try:
        _provider_of(v.client)
    except VariantError as e:
        raise TypeError(f"variant {v.name!r}: {e}") from None


class _Target:
    """What a provider's replay_callable reads of a span: the endpoint and where it went."""

    def __init__(self, provider: str, endpoint: str):
        self.provider, self.endpoint, self.base_url = provider, endpoint, None


def send(client: Any, model: str | None, messages: list[dict], params: dict) -> str | list:
    """Send ``messages`` to ``model`` through ``client``; the answer's text (its tool calls
    when it has no text). An API error is raised as the SDK raised it."""
    mod = _provider_of(client)
    endpoint, req = mod.request_from_chat(model, messages, [], dict(params))
    method = mod.replay_callable(_Target(mod.NAME, endpoint), client)
    result = method(**_known(method, req))
    return output_text(result, providers.wire_of(mod.NAME, endpoint))


def _known(fn: Callable, req: dict) -> dict:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return req
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return req
    extra = {k: v for k, v in req.items() if k not in params}
    known = {k: v for k, v in req.items() if k in params}
    if extra and "extra_body" in params:
        known["extra_body"] = extra
    return known


def output_text(result: Any, wire: Any) -> Any:
    """The text an SDK response holds (its tool calls if it has none), read by its wire format."""
    dump = getattr(result, "model_dump", None)
    body = dump(mode="json") if callable(dump) else result
    if wire is None or not isinstance(body, dict):
        return body
    reading = wire.read(body)
    if reading.output_text is None and reading.tool_calls:
        return reading.tool_calls
    return reading.output_text


def _replayed(source_span_id: str, model: str | None, messages: list, params: dict) -> Any:
    from ..replaying import replay

    s = replay(source_span_id, messages=messages, model=model, **params)
    if s.status == "error":
        raise VariantError(s.error_message or "the replayed call failed", s.error_type)
    return s.output_text if s.output_text is not None or not s.tool_calls else s.tool_calls
