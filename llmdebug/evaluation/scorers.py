"""``ld.scorers``: what ``ld.evaluate`` runs over each span, and the built-in code scorers.

A scorer is a :class:`Scorer`: a name, a function and a source (``"code"``, or ``"llm"``
for :func:`llmdebug.judge`). Any plain function is one too (its name is its
``__name__``): it is called with the keyword parameters it declares among ``span``,
``output``, ``expected``, ``context``, ``input``, ``item`` and ``messages``, and a function
of one other positional parameter gets the span. It returns a bool (pass/fail), a number,
a string (a label), None (no score) or a :class:`Result` to add a comment.

Example::

    import llmdebug as ld
    from llmdebug import scorers

    def short(output):
        return len(output or "") < 400

    ld.evaluate(ld.calls(limit=20), [scorers.valid_json(), scorers.contains("refund"), short])
"""

from __future__ import annotations

import inspect
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping

from ..query import resolve_span, score_value
from .samples import PARAMETERS, as_text, sample, tool_calls

__all__ = ["Scorer", "Result", "scorer", "valid_json", "json_schema", "contains", "contains_expected", "regex",
           "equals", "tool_called", "PARAMETERS"]

SOURCES = ("code", "llm")


@dataclass(frozen=True)
class Result:
    """A score with more to say: ``value`` (bool, number, label string or None), an explicit
    ``label``, a ``comment`` (why), and the judge's span (set by :func:`llmdebug.judge`)."""

    value: Any = None
    label: str | None = None
    comment: str | None = None
    judge_span_id: str | None = None


@dataclass(frozen=True, eq=False)
class Scorer:
    """A named scoring function. ``Scorer(name, fn)`` or :func:`scorer`; call one on a span
    to try it: ``scorers.valid_json()(ld.last())`` returns a :class:`Result`."""

    name: str
    fn: Callable[..., Any] = field(repr=False)
    source: str = "code"
    _takes: tuple[str, ...] = field(init=False, repr=False, default=())
    _span_first: bool = field(init=False, repr=False, default=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a scorer needs a name (a non-empty string), not {self.name!r}")
        if self.source not in SOURCES:
            raise ValueError(f"source={self.source!r}: a scorer's source is 'code' or 'llm'")
        if not callable(self.fn):
            raise TypeError(f"scorer {self.name!r}: fn must be callable, not {type(self.fn).__name__}")
        takes, span_first = _binding(self.name, self.fn)
        object.__setattr__(self, "_takes", takes)
        object.__setattr__(self, "_span_first", span_first)

    def named(self, name: str) -> "Scorer":
        """The same scorer under another name (two scorers in one run need two names)."""
        return replace(self, name=name)

    def run(self, values: Mapping[str, Any]) -> Result:
        """Score one sample: ``values`` holds the ``PARAMETERS`` (see :func:`sample`)."""
        if self._span_first:
            returned = self.fn(values.get("span"))
        else:
            returned = self.fn(**{k: values.get(k) for k in self._takes})
        return as_result(returned, self.name)

    def __call__(self, span: Any, **values: Any) -> Result:
        s = resolve_span(span, who=f"scorer {self.name!r}")
        return self.run({**sample(s), **values})


def _binding(name: str, fn: Callable) -> tuple[tuple[str, ...], bool]:
    """Which of ``PARAMETERS`` ``fn`` takes by keyword, or (), True: the span, positionally."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature: give it the span
        return (), True
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return PARAMETERS, False
    named = tuple(p.name for p in params if p.name in PARAMETERS and p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                                                 p.KEYWORD_ONLY))
    others = [p for p in params if p.name not in named and p.kind is not p.VAR_POSITIONAL
              and p.default is p.empty]
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if not named and len(others) == 1 and others[0].kind in positional:
        return (), True
    if others or (not named and not any(p.kind is p.VAR_POSITIONAL for p in params)):
        what = f"parameter {others[0].name!r}" if others else "no parameter"
        raise TypeError(f"scorer {name!r} takes {what}: a scorer takes one positional parameter (the span) or "
                        f"keyword parameters named from {', '.join(PARAMETERS)}")
    if not named:  # only *args
        return (), True
    return named, False


def as_result(returned: Any, name: str = "scorer") -> Result:
    """A scorer's return value as a :class:`Result` with a float ``value`` (or None) and a label."""
    if isinstance(returned, Result):
        value, label = _checked(returned.value, name)
        return Result(value, returned.label or label, returned.comment, returned.judge_span_id)
    value, label = _checked(returned, name)
    return Result(value, label)


def _checked(value: Any, name: str) -> tuple[float | None, str | None]:
    try:
        return score_value(value)
    except TypeError:
        raise TypeError(f"scorer {name!r} returned {type(value).__name__}: return a bool, a number, a label string, "
                        f"None (no score) or ld.scorers.Result(value, label=..., comment=...)") from None


def scorer(fn: Callable | None = None, *, name: str | None = None, source: str = "code") -> Any:
    """A :class:`Scorer` from a function (also a decorator, with or without arguments);
    ``name`` defaults to the function's ``__name__`` (a lambda needs one)."""
    if fn is None:
        return lambda f: scorer(f, name=name, source=source)
    if isinstance(fn, Scorer):
        return fn if name is None else fn.named(name)
    name = name or getattr(fn, "__name__", None)
    if not name or name == "<lambda>":
        raise ValueError("a lambda has no name: give it one with ld.scorers.scorer(fn, name='short'), "
                         "or pass the scorers as a dict {name: fn}")
    return Scorer(name, fn, source)


def as_scorers(scorers: Any) -> list[Scorer]:
    """``evaluate``'s ``scorers`` (one scorer or function, a list of them, or a dict
    name -> scorer) as Scorers with distinct names; a repeated name is a ValueError."""
    if isinstance(scorers, Mapping):
        out = [scorer(fn, name=name) for name, fn in scorers.items()]
    elif isinstance(scorers, Scorer) or callable(scorers):
        out = [scorer(scorers)]
    elif isinstance(scorers, Iterable) and not isinstance(scorers, (str, bytes)):
        out = [scorer(fn) for fn in scorers]
    else:
        raise TypeError(f"scorers must be a scorer, a function, a list of them or a dict name -> scorer, "
                        f"not {type(scorers).__name__}")
    seen: set[str] = set()
    for s in out:
        if s.name in seen:
            raise ValueError(f"two scorers are named {s.name!r}: scores are stored by name, so give each its own, "
                             f"e.g. scorers.contains('x', name='mentions_x') or scorer.named('other')")
        seen.add(s.name)
    return out


def _short(value: Any, n: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= n else text[:n - 1] + "…"


# -- built-in code scorers --------------------------------------------------------------
def valid_json(*, name: str = "valid_json") -> Scorer:
    """Passes when the output parses as JSON (an output recorded as an object passes)."""

    def check(output):
        if output is None:
            return Result(False, comment="no output")
        if not isinstance(output, str):
            return True
        try:
            json.loads(output)
        except ValueError as e:
            return Result(False, comment=f"not JSON: {e}")
        return True

    return Scorer(name, check)


def json_schema(schema: Any, *, name: str = "json_schema") -> Scorer:
    """Passes when the output is JSON matching ``schema``: a JSON Schema dict (checked with
    ``jsonschema``), or a pydantic model or any type pydantic validates (``TypeAdapter``).

    Example::

        class Answer(pydantic.BaseModel):
            city: str
            temperature_c: float

        ld.evaluate(calls, [scorers.json_schema(Answer)])
    """
    if isinstance(schema, Mapping):
        import jsonschema  # altair depends on it, so it is there with llmdebug

        cls = jsonschema.validators.validator_for(schema)
        try:
            cls.check_schema(schema)
        except jsonschema.SchemaError as e:
            raise ValueError(f"json_schema(): the schema is not valid JSON Schema: {e.message}") from None
        validator = cls(dict(schema))

        def check(output):
            obj, bad = _parsed(output)
            if bad:
                return bad
            error = jsonschema.exceptions.best_match(validator.iter_errors(obj))
            if error is None:
                return True
            where = "/".join(map(str, error.absolute_path)) or "(root)"
            return Result(False, comment=f"{where}: {error.message}")

        return Scorer(name, check)
    try:
        from pydantic import TypeAdapter, ValidationError
    except ImportError:  # pragma: no cover - pydantic comes with the SDKs
        raise TypeError("json_schema() takes a JSON Schema dict, or a pydantic model (pip install pydantic)") from None
    try:
        adapter = TypeAdapter(schema)
    except Exception as e:
        raise TypeError(f"json_schema() takes a JSON Schema dict or a pydantic model/type, not {schema!r} "
                        f"({e})") from None

    def check_model(output):
        if output is None:
            return Result(False, comment="no output")
        try:
            adapter.validate_json(output) if isinstance(output, (str, bytes)) else adapter.validate_python(output)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(map(str, first.get("loc") or ())) or "(root)"
            return Result(False, comment=f"{where}: {first.get('msg')} ({e.error_count()} error(s))")
        return True

    return Scorer(name, check_model)


def _parsed(output: Any) -> tuple[Any, Result | None]:
    if output is None:
        return None, Result(False, comment="no output")
    if not isinstance(output, str):
        return output, None
    try:
        return json.loads(output), None
    except ValueError as e:
        return None, Result(False, comment=f"not JSON: {e}")


def contains(text: str | Iterable[str], *, case: bool = False, require: str = "all",
             name: str = "contains") -> Scorer:
    """Passes when the output holds ``text`` (a string, or a list: all of them, or any with
    ``require="any"``); ``case=True`` matches case."""
    wanted = [text] if isinstance(text, str) else list(text)
    if not wanted or not all(isinstance(w, str) and w for w in wanted):
        raise ValueError(f"contains() takes a non-empty string or a list of them, not {text!r}")
    if require not in ("all", "any"):
        raise ValueError(f"require={require!r}: use 'all' or 'any'")

    def check(output):
        hay = as_text(output)
        hay = hay if case else hay.casefold()
        found = [w for w in wanted if (w if case else w.casefold()) in hay]
        if len(found) == len(wanted) or (require == "any" and found):
            return True
        missing = [w for w in wanted if w not in found]
        return Result(False, comment=f"missing: {', '.join(map(repr, missing))}")

    return Scorer(name, check)


def contains_expected(*, case: bool = False, name: str = "contains_expected") -> Scorer:
    """Passes when the output holds each sample's expected value (its text; a list: every
    item), given as ``ld.evaluate(..., expected=...)`` or by a dataset's items."""

    def check(output, expected=None):
        if expected is None:
            raise ValueError("contains_expected(): no expected value for this span: pass expected= to ld.evaluate")
        wanted = [as_text(e) for e in expected] if isinstance(expected, (list, tuple)) else [as_text(expected)]
        hay = as_text(output) if case else as_text(output).casefold()
        missing = [w for w in wanted if (w if case else w.casefold()) not in hay]
        return True if not missing else Result(False, comment=f"missing: {', '.join(map(repr, missing))}")

    return Scorer(name, check)


def regex(pattern: str | re.Pattern, *, flags: int = 0, name: str = "regex") -> Scorer:
    """Passes when ``re.search(pattern, output)`` finds a match."""
    try:
        compiled = re.compile(pattern, flags) if isinstance(pattern, str) else pattern
    except re.error as e:
        raise ValueError(f"regex({pattern!r}): {e}") from None

    def check(output):
        if compiled.search(as_text(output)):
            return True
        return Result(False, comment=f"no match for /{compiled.pattern}/")

    return Scorer(name, check)


_UNSET: Any = object()


def _normal(value: Any) -> Any:
    return " ".join(value.split()).casefold() if isinstance(value, str) else value


def equals(expected: Any = _UNSET, *, normalize: bool | Callable[[Any], Any] = True, name: str = "equals") -> Scorer:
    """Passes when the output equals ``expected`` (default: each sample's expected value,
    ``ld.evaluate(..., expected=...)``). ``normalize=True`` ignores case and runs of
    whitespace in text; a function normalizes both sides; False compares as they are.
    A text output compared with a non-text expected value is parsed as JSON first."""
    norm = normalize if callable(normalize) else (_normal if normalize else (lambda v: v))
    fixed = expected

    def check(output, expected=None):
        target = expected if fixed is _UNSET else fixed
        if target is None:
            raise ValueError("equals(): no expected value for this span: pass expected= to ld.evaluate, "
                             "or give it to equals(...)")
        got = output
        if isinstance(got, str) and not isinstance(target, str):
            try:
                got = json.loads(got)
            except ValueError:
                pass
        if norm(got) == norm(target):
            return True
        return Result(False, comment=f"expected {_short(target)}, got {_short(got)}")

    return Scorer(name, check)


def tool_called(tool: str, arguments: Mapping[str, Any] | None = None, *, name: str = "tool_called") -> Scorer:
    """Passes when the call asked for tool ``tool`` (with ``arguments``, if given: a partial
    match, each given key equal, nested dicts matched the same way, a function as a value
    is a test). On another span (an agent run), the tool calls of the LLM calls under it
    and its ``kind="tool"`` spans count (a span named ``module.tool`` counts as ``tool``).

    Example::

        scorers.tool_called("get_weather", {"city": "Paris"})
    """
    if not isinstance(tool, str) or not tool:
        raise ValueError(f"tool_called() takes the tool's name, not {tool!r}")

    def check(span):
        calls = tool_calls(span)
        named = [c for c in calls if c.get("name") == tool or str(c.get("name")).endswith("." + tool)]
        if not named:
            seen = sorted({str(c.get("name")) for c in calls})
            return Result(False, comment=f"{tool} not called" + (f" (called: {', '.join(seen)})" if seen else ""))
        if arguments is None:
            return True
        for c in named:
            if _matches(arguments, _arguments(c.get("arguments"))):
                return True
        return Result(False, comment=f"{tool} called with {_short(_arguments(named[-1].get('arguments')))}")

    return Scorer(name, check)


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _matches(want: Any, got: Any) -> bool:
    if callable(want):
        return bool(want(got))
    if isinstance(want, Mapping):
        return isinstance(got, Mapping) and all(k in got and _matches(v, got[k]) for k, v in want.items())
    if isinstance(want, (list, tuple)):
        return isinstance(got, (list, tuple)) and len(want) == len(got) and all(map(_matches, want, got))
    return want == got
