"""Verdicts for ``ld.judge`` prompts: the fake server plays an LLM judge, deterministically.

A judge request is known by its structured-output request named ``judge_verdict`` (an
OpenAI ``response_format`` json_schema, an Anthropic tool). The criterion comes from the
``<criterion>`` tag of the prompt and the texts from its ``<input>``, ``<output>``,
``<context>`` and ``<reference>`` tags. The score (0 to 1, two decimals) is:

- ``relevance``: the share of the input's words that the output uses;
- ``faithfulness``: the share of the output's sentences whose words are at least half
  in the context (``hallucination``: 1 minus that);
- ``correctness``: the share of the reference's words that the output uses;
- anything else (a custom rubric, another criterion): the first 8 hex digits of the
  SHA-256 of the prompt's text, as a number, modulo 101, over 100.

Words are lower-case runs of letters and digits, less ``STOPWORDS``. The verdict is then
put on the requested scale: a 0..1 ``score``, an integer ``score`` from an ``enum``
(``lo + half_up(score * (hi - lo))``) or a ``label`` from an ``enum`` ordered worst to best
(``labels[half_up(score * (n - 1))]``), where ``half_up(x) = floor(x + 0.5)``.

Model-name triggers: ``garbled`` (a dash-separated word, e.g. ``judge-garbled``) answers
with prose instead of the structured verdict; ``out-of-range`` answers a score of 7.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

from .synth import content_text, make_id

VERDICT = "judge_verdict"
STOPWORDS = frozenset(
    "a an the is are was were be been am do does did of to in on at by for with from and or but not no "
    "it its this that these those as if then so than what which who whom whose how why when where "
    "i you he she we they me my your our their his her them us can could will would should may might "
    "must shall has have had please".split())
_TAG = re.compile(r"<(criterion|input|output|context|reference)>\n?(.*?)\n?</\1>", re.S)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_GARBLED = re.compile(r"(?:^|[-_/.])garbled(?:$|[-_/.])")


def words(text: str) -> set[str]:
    """The words a rule compares: lower-case letters and digits, stopwords left out."""
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS}


def _share(part: set[str], whole: set[str]) -> float:
    return len(part & whole) / len(part) if part else 1.0


def score(prompt: str) -> tuple[float, str]:
    """(score 0..1, reasoning) for a judge prompt, by the rules in this module's docstring."""
    tags = {m.group(1): m.group(2) for m in _TAG.finditer(prompt)}
    criterion = tags.get("criterion", "").strip()
    output = words(tags.get("output", ""))
    if criterion == "relevance":
        asked = words(tags.get("input", ""))
        value = _share(asked, output)
        why = f"the answer uses {len(asked & output)} of the question's {len(asked)} words"
    elif criterion in ("faithfulness", "hallucination"):
        context = words(tags.get("context", ""))
        sentences = [w for w in map(words, _SENTENCE.split(tags.get("output", ""))) if w]
        supported = sum(1 for w in sentences if len(w & context) * 2 >= len(w))
        value = supported / len(sentences) if sentences else 1.0
        why = f"{supported} of {len(sentences)} sentences are supported by the context"
        if criterion == "hallucination":
            value = 1.0 - value
    elif criterion == "correctness":
        reference = words(tags.get("reference", ""))
        value = _share(reference, output)
        why = f"the answer has {len(reference & output)} of the reference's {len(reference)} words"
    else:
        value = int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16) % 101 / 100
        why = "a custom rubric: the fake judge scores it by a hash of the prompt"
    return round(value, 2), f"{why} (llmdebug fake judge)"


def _half_up(x: float) -> int:
    return math.floor(x + 0.5)  # round() halves to even: 0.5 would be the first of two labels


def on_scale(value: float, schema: dict[str, Any]) -> dict[str, Any]:
    """A verdict object for ``schema`` (``reasoning`` left out) from a 0..1 score."""
    props = schema.get("properties") or {}
    if "label" in props:
        labels = props["label"].get("enum") or ["fail", "pass"]
        return {"label": labels[_half_up(value * (len(labels) - 1))]}
    allowed = (props.get("score") or {}).get("enum")
    if allowed:
        lo, hi = min(allowed), max(allowed)
        return {"score": lo + _half_up(value * (hi - lo))}
    return {"score": value}


def _verdict(model: str, prompt: str, schema: dict[str, Any]) -> dict[str, Any]:
    value, why = score(prompt)
    verdict = {"reasoning": why, **on_scale(value, schema)}
    if "out-of-range" in model:
        verdict = {"reasoning": why, "score": 7}
    return verdict


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    return next((content_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")


def openai_verdict(body: dict[str, Any]) -> str | None:
    """The message text answering a chat completion that asks for a ``judge_verdict``
    (None: not a judge request)."""
    fmt = body.get("response_format") or {}
    spec = fmt.get("json_schema") or {}
    if fmt.get("type") != "json_schema" or spec.get("name") != VERDICT:
        return None
    model = str(body.get("model") or "")
    if _GARBLED.search(model):
        return "The answer looks mostly fine to me, I would say a seven."
    return json.dumps(_verdict(model, _last_user_text(body.get("messages") or []), spec.get("schema") or {}))


def anthropic_verdict(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The content blocks answering a Messages request offering the ``judge_verdict`` tool
    (None: not a judge request)."""
    tool = next((t for t in body.get("tools") or [] if t.get("name") == VERDICT), None)
    if tool is None:
        return None
    model = str(body.get("model") or "")
    if _GARBLED.search(model):
        return [{"type": "text", "text": "The answer looks mostly fine to me, I would say a seven."}]
    verdict = _verdict(model, _last_user_text(body.get("messages") or []), tool.get("input_schema") or {})
    return [{"type": "tool_use", "id": make_id("toolu_", body, VERDICT), "name": VERDICT, "input": verdict}]
