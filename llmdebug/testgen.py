"""Turn a captured call into a pytest file: ``ld.to_test(span, path, expect=...)``.

The file sends the call's request (a replay's edited one included) through the same SDK,
inside a cassette beside it (``cassettes/<name>/test_<name>.json``, written from the stored
answer), and asserts the expectations. Offline it passes or fails on the recorded answer;
``--llm-record=all`` asks the live model again. It is plain SDK code; its one llmdebug
reference is the pytest plugin that provides the ``llm_cassette`` fixture.

Expectations (one, or a list), checked on the answer's text and tool calls::

    "json"                                  # the answer is valid JSON
    {"contains": "30 days"}, {"not_contains": "sorry"}, {"equals": "4"}
    {"json_schema": {...}}                  # the answer is JSON matching the schema (jsonschema)
    {"model": MyModel} / {"model": "pkg.mod:MyModel"}   # a pydantic model validates it
    {"tool": "lookup_order", "arguments": {"order_id": "1042"}}   # arguments optional
    {"function": "pkg.mod:check"} / a function          # check(text) raises or returns False to fail
"""

from __future__ import annotations

import importlib
import inspect
import json
import keyword
import pprint
import re
from pathlib import Path
from typing import Any

from . import capture, providers, query, session
from .cassettes import Interaction, write_cassette
from .replaying import ReplayError, build_request
from .rerun import recorded_call
from .tracing import Span

__all__ = ["to_test", "parse_expectations", "EXPECTATIONS"]

EXPECTATIONS = ("json", "contains", "not_contains", "equals", "json_schema", "model", "tool", "function")


# -- expectations -> assertion lines ----------------------------------------------------
def _import_path(obj: Any, what: str) -> tuple[str, str]:
    """(module, name) of an importable object, or of a "pkg.mod:name" string."""
    if isinstance(obj, str):
        mod, sep, name = obj.partition(":")
        if not sep or not mod or not name.isidentifier():
            raise ValueError(f"{what} by import path is 'package.module:name', not {obj!r}")
        return mod, name
    mod, name = getattr(obj, "__module__", None), getattr(obj, "__qualname__", "")
    if not mod or mod == "__main__" or not name.isidentifier():
        raise ValueError(f"{what} {name or obj!r} is defined in a notebook or script (module {mod!r}): a test "
                         "file cannot import it; move it into a module, or pass its import path 'pkg.mod:name'")
    return mod, name


def _lines(expect: Any) -> tuple[list[str], set[str], dict[str, Any]]:
    """(assertion lines, import lines, module-level constants) for ``expect``."""
    items = expect if isinstance(expect, list) else [expect]
    if not items or expect is None:
        raise ValueError("expect= says what the answer must satisfy: 'json', {'contains': ...}, "
                         "{'json_schema': ...}, {'tool': ...} ... (see ld.to_test)")
    out, imports, consts = [], set(), {}
    for item in items:
        if item == "json":
            item = {"json": True}
        if callable(item) and not isinstance(item, dict):
            item = {"function": item}
        if not isinstance(item, dict) or len(set(item) - {"arguments"}) != 1:
            raise ValueError(f"an expectation is 'json' or a dict with one of {', '.join(EXPECTATIONS)}, "
                             f"not {item!r}")
        kind = next(k for k in item if k != "arguments")
        value = item[kind]
        if kind not in EXPECTATIONS or (kind == "arguments"):
            raise ValueError(f"unknown expectation {kind!r}: use one of {', '.join(EXPECTATIONS)}")
        if kind == "json":
            out.append("json.loads(text)  # the answer is valid JSON")
        elif kind in ("contains", "not_contains", "equals"):
            if not isinstance(value, str):
                raise ValueError(f"{kind} takes a string, not {type(value).__name__}")
            op = {"contains": "in text", "not_contains": "not in text", "equals": "== text"}[kind]
            out.append(f"assert {value!r} {op}")
        elif kind == "json_schema":
            if not isinstance(value, dict):
                raise ValueError("json_schema takes a JSON schema (a dict)")
            name = f"SCHEMA{len([c for c in consts if c.startswith('SCHEMA')]) or ''}"
            consts[name] = value
            imports.add("import jsonschema")
            out.append(f"jsonschema.validate(json.loads(text), {name})")
        elif kind == "model":
            mod, name = _import_path(value, "the pydantic model")
            imports.add(f"from {mod} import {name}")
            out.append(f"{name}.model_validate_json(text)")
        elif kind == "tool":
            if not isinstance(value, str):
                raise ValueError("tool takes the tool's name")
            if "arguments" in item:
                out.append(f"assert ({value!r}, {item['arguments']!r}) in tool_calls")
            else:
                out.append(f"assert {value!r} in [name for name, _ in tool_calls]")
        elif kind == "function":
            mod, name = _import_path(value, "the check function")
            imports.add(f"from {mod} import {name}")
            out.append(f"assert {name}(text) is not False")
    return out, imports, consts


_LINE = re.compile(r"(not[ _]contains|contains|equals|schema|json_schema|model|function|tool)\s*:\s?(.*)$", re.S)


def parse_expectations(text: str) -> list:
    """``expect=`` from the widgets' text box, one expectation a line: ``json``,
    ``contains: text``, ``not contains: text``, ``equals: text``, ``schema: {...}``,
    ``tool: name`` or ``tool: name {"arg": ...}``, ``model: pkg.mod:Model``,
    ``function: pkg.mod:check``."""
    out: list = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        if line.lower() == "json":
            out.append("json")
            continue
        m = _LINE.match(line)
        if m is None:
            raise ValueError(f"expectation {line!r}: write json, contains: …, not contains: …, equals: …, "
                             "schema: {…}, tool: name {…}, model: pkg.mod:Model or function: pkg.mod:check")
        kind, rest = m.group(1).lower().replace(" ", "_"), m.group(2)
        if kind in ("schema", "json_schema", "tool"):
            name, brace, args = rest.partition("{") if kind == "tool" else ("", "{", rest.lstrip("{"))
            try:
                value = json.loads("{" + args) if brace else None
            except ValueError as e:
                raise ValueError(f"expectation {line!r}: the JSON after it does not parse ({e})") from None
            out.append({"json_schema": value} if kind != "tool" else
                       {"tool": name.strip(), **({"arguments": value} if brace else {})})
        else:
            out.append({kind: rest.strip() if kind in ("model", "function") else rest})
    if not out:
        raise ValueError("write at least one expectation (e.g. json, or contains: some text)")
    return out


# -- the SDK call -----------------------------------------------------------------------
_ANSWER = {
    "choices": '''def answer(response):
    """The reply's text and its tool calls as (name, arguments) pairs."""
    message = response.choices[0].message
    calls = [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or []]
    return message.content or "", calls''',
    "content": '''def answer(response):
    """The reply's text and its tool calls as (name, arguments) pairs."""
    text = "".join(block.text for block in response.content if block.type == "text")
    calls = [(block.name, block.input) for block in response.content if block.type == "tool_use"]
    return text, calls''',
    "output": '''def answer(response):
    """The reply's text and its tool calls as (name, arguments) pairs."""
    calls = [(item.name, json.loads(item.arguments)) for item in response.output if item.type == "function_call"]
    return response.output_text or "", calls''',
}


class _Sdk:
    """How the test makes the call: the SDK package, its client class, the method, the key variable."""

    def __init__(self, s: Span):
        try:
            mod = providers.module(s.provider or "")
        except KeyError:
            raise ReplayError(f"ld.to_test cannot make a test of a {s.provider} call") from None
        self.package = mod.NAME
        self.key_env = getattr(mod, "KEY_ENV", None)
        try:
            sdk = importlib.import_module(self.package)
        except ImportError:
            raise ReplayError(f"the {self.package} package is not installed here") from None
        # The client class is the one named like the package (OpenAI, Anthropic).
        self.client = next((n for n in dir(sdk) if n.lower() == self.package and inspect.isclass(getattr(sdk, n))),
                           None)
        self.method = f"{s.endpoint}.create"
        if self.client is None or not self.key_env or not s.endpoint:
            raise ReplayError(f"ld.to_test makes tests of calls through a client SDK (a client class and a "
                              f"'.create' method); {s.name} has none")
        self.sdk = sdk

    def make_client(self, **kwargs: Any) -> Any:
        return getattr(self.sdk, self.client)(**kwargs)

    def bound(self, client: Any) -> Any:
        target = client
        for attr in self.method.split("."):
            target = getattr(target, attr, None)
            if target is None:
                raise ReplayError(f"{self.package}.{self.client} has no {self.method}: ld.to_test cannot call it")
        return target


def _kwargs(fn: Any, req: dict) -> tuple[dict, dict]:
    """(keyword arguments, extra_body): body keys the SDK method has no parameter for go in extra_body."""
    params = inspect.signature(fn).parameters
    return {k: v for k, v in req.items() if k in params}, {k: v for k, v in req.items() if k not in params}


def _test_name(path: Path) -> str:
    stem = re.sub(r"\W+", "_", path.stem).strip("_") or "call"
    name = stem if stem.startswith("test_") else f"test_{stem}"
    return name if not keyword.iskeyword(name) else name + "_"


def _literal(value: Any, indent: int = 0) -> str:
    """A Python literal of JSON-like ``value``, one item per line where a line would be long."""
    one = pprint.pformat(value, width=10_000, sort_dicts=False)
    if len(one) + indent <= 96 or not isinstance(value, (dict, list)) or not value:
        return one
    pad = " " * (indent + 4)
    if isinstance(value, dict):
        items = [f"{pad}{k!r}: {_literal(v, indent + 4)}," for k, v in value.items()]
        return "{\n" + "\n".join(items) + "\n" + " " * indent + "}"
    items = [f"{pad}{_literal(v, indent + 4)}," for v in value]
    return "[\n" + "\n".join(items) + "\n" + " " * indent + "]"


def _interaction(request: Any, response: Any) -> Interaction:
    """The exchange as the cassette keeps it: what the SDK sent, the stored answer."""
    try:
        sent = json.loads(request.content)
    except ValueError:
        sent = request.content.decode("utf-8", "replace")
    return Interaction(method=request.method, url=str(request.url), request_body=sent, status=response.status_code,
                       headers=[("content-type", "application/json")], body=json.loads(response.content))


def to_test(span: Any, path: str | Path, expect: Any = "json", *, overwrite: bool = False) -> Path:
    """Write a pytest file at ``path`` that makes ``span``'s call (the request as sent:
    a replay's edits included) from a cassette written beside it
    (``cassettes/<name>/<test>.json``) and asserts ``expect`` (see :mod:`llmdebug.testgen`).
    ``pytest -p llmdebug.testing <path>`` runs it offline; add ``--llm-record=all`` to
    check it against the live model. A streamed call is asked for whole (its answer is
    stored assembled). Returns the path."""
    s = query.resolve_span(span, who="ld.to_test()")
    path = Path(path)
    if path.suffix != ".py":
        raise ValueError(f"path is the test file to write, ending in .py (e.g. tests/test_refund.py), not {str(path)!r}")
    cassette = path.parent / "cassettes" / path.stem / f"{_test_name(path)}.json"  # the llm_cassette fixture's own
    if not overwrite:
        for p in (path, cassette):
            if p.exists():
                raise FileExistsError(f"{p} exists: pass overwrite=True to replace it")
    checks, imports, consts = _lines(expect)
    _, req = build_request(s)  # the stored request; ReplayError when it is not an LLM call
    if s.status == "error" and not s.response:
        raise ReplayError(f"call {s.id[:12]} has no stored answer to record (it failed with {s.error_type})")
    req.pop("stream", None)  # a stream's answer is stored assembled: the test asks for it whole
    req.pop("stream_options", None)
    sdk = _Sdk(s)
    client = sdk.make_client(api_key="offline", max_retries=0)
    kwargs, extra = _kwargs(sdk.bound(client), req)
    if extra:
        kwargs["extra_body"] = extra

    # The cassette: the SDK sends the request, the stored answer comes back, the cassette records both.
    if not session.enabled:
        raise ReplayError("capturing is off (%llmdebug off): turn it on to write the test's cassette")
    if sdk.package not in capture.instrumented():
        capture.instrument(sdk.package)
    path.parent.mkdir(parents=True, exist_ok=True)
    cassette.parent.mkdir(parents=True, exist_ok=True)
    try:
        answered = recorded_call(s, lambda: sdk.bound(client)(**kwargs))
    finally:
        client.close()
    write_cassette(cassette, [_interaction(request, response) for request, response in answered])

    path.write_text(_source(s, sdk, kwargs, checks, imports, consts, cassette.relative_to(path.parent), path),
                    encoding="utf-8")
    return path


def _source(s: Span, sdk: _Sdk, kwargs: dict, checks: list[str], imports: set[str], consts: dict,
            cassette: Path, path: Path) -> str:
    shape = next((k for k in _ANSWER if isinstance(s.response, dict) and k in s.response), "choices")
    what = f"call {s.id[:12]} ({s.name}, {s.model or s.request_model}"
    what += f", a replay of {s.replay_of[:12]})" if s.replay_of else ")"
    head = [
        f'"""Written by llmdebug\'s ld.to_test from {what}.',
        "",
        f"Offline (the default), the model's answer is played back from {cassette.as_posix()}.",
        f"`pytest -p llmdebug.testing {path.name} --llm-record=all` sends the request to the model",
        f"again and re-records the answer (set {sdk.key_env}; the SDK's base URL variable points",
        "it at another server).",
        '"""',
        "",
        "import json",
        "import os",
        "",
        *sorted([f"import {sdk.package}", "import pytest", *(i for i in imports if i.startswith("import "))]),
        *sorted(i for i in imports if i.startswith("from ")),
        "",
        'pytest_plugins = ["llmdebug.testing"]  # the llm_cassette fixture and --llm-record',
        "",
        f"REQUEST = {_literal(kwargs)}",
    ]
    for name, value in consts.items():
        head.append(f"{name} = {_literal(value)}")
    body = [
        "",
        "",
        _ANSWER[shape],
        "",
        "",
        f"def {_test_name(path)}(llm_cassette):",
        f'    client = {sdk.package}.{sdk.client}(api_key=os.environ.get("{sdk.key_env}", "offline"), max_retries=0)',
        f"    text, tool_calls = answer(client.{sdk.method}(**REQUEST))",
        *[f"    {c}" for c in checks],
        "",
    ]
    return "\n".join(head + body)
