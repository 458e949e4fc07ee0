"""Message-aware diff of two LLM calls (pure Python: no widget, no browser).

Everything returned is JSON-safe (dicts, lists, strings, numbers, booleans, None), so
a widget syncs it as it is. Four functions are the API:

- :func:`word_diff` ``(a, b) -> [[op, text], ...]``: word-level text diff, ``op`` in
  ``"equal" | "delete" | "insert"``. Joining the ``equal`` and ``delete`` texts gives
  ``a``; joining ``equal`` and ``insert`` gives ``b``. Fast on 100 KB texts (it works
  down from lines to sentences to words, and gives up to delete+insert on blocks too
  large to compare word by word).
- :func:`json_diff` ``(a, b) -> [{"path", "op", "old", "new"}, ...]``: structural
  changes between two JSON values, ``op`` in ``"added" | "removed" | "changed"``;
  paths look like ``$.a[2]["odd key"]``. Changed strings also carry ``"words"`` (their
  :func:`word_diff`).
- :func:`diff_calls` ``(a, b) -> dict``: the whole comparison of two calls (Span
  records, span ids or prefixes, or ``calls()`` rows), provider-neutral: an OpenAI call
  diffs against an Anthropic or Responses API call. Shape below.
- :func:`render_text` ``(d) -> str`` (and :func:`render_html`): a readable unified
  diff for terminals and saved notebooks.

One module per job: :mod:`.text` (word diff), :mod:`.structure` (JSON diff, canonical
forms), :mod:`.messages` (message and tool call alignment), :mod:`.comparison` (the
whole call) and :mod:`.render` (text and HTML).

The dict of :func:`diff_calls`::

    {"version": 1,
     "a": SIDE, "b": SIDE,     # id, name, provider, model, endpoint, status, error_type,
                               # input_tokens, output_tokens, cost_usd, latency_ms, replay_of
     "system":   {"op", "a": str, "b": str, "text": SEGMENTS},
     "messages": [{"op": "equal"|"changed"|"added"|"removed"|"moved",
                   "a_index", "b_index",          # position among the non-system messages, or None
                   "a": MESSAGE|None, "b": MESSAGE|None,   # providers.chat_messages() shape
                   "role_changed": bool,
                   "text": SEGMENTS|None,         # changed only
                   "tool_calls": [TOOL_CALL_DIFF]}],   # changed only, else []
     "tools":    [{"op", "name", "a": TOOL|None, "b": TOOL|None,   # providers.tools() shape
                   "description": SEGMENTS|None, "parameters": [JSON_CHANGE]}],
     "params":   [{"key", "op", "old", "new", "changes": [JSON_CHANGE]}],   # equal ones too
     "output":   {"op", "mode": "text"|"json", "a_text", "b_text",
                  "text": SEGMENTS,               # JSON outputs: of the indented JSON
                  "json": [JSON_CHANGE]|None,
                  "tool_calls": [TOOL_CALL_DIFF],
                  "status": {"op", "a": STATUS, "b": STATUS}},   # status, error_type, error_message, http_status
     "deltas":   {"input_tokens"|"output_tokens"|"cost_usd"|"latency_ms": {"a", "b", "delta"}},  # delta = b - a or None
     "summary":  {"same": bool, "changes": int, "parts": [str], "system": bool,
                  "messages": {op: count}, "tools": {op: count}, "params": int,
                  "output": bool, "tool_calls": int, "status": bool}}

    TOOL_CALL_DIFF = {"op": "equal"|"changed"|"added"|"removed", "a": CALL|None, "b": CALL|None,
                      "name_changed": bool, "arguments": [JSON_CHANGE]|None,
                      "arguments_text": SEGMENTS|None}

``op`` of ``system`` and ``output`` is ``"equal" | "changed" | "added" | "removed"``.
Messages are aligned on (role, text, tool call names and arguments); tool call ids
are ignored everywhere (they differ on every run and between providers).
"""

from __future__ import annotations

from .comparison import PARAM_ORDER, diff_calls, request_params
from .messages import diff_messages
from .render import render_html, render_text
from .structure import json_diff
from .text import word_diff

__all__ = ["PARAM_ORDER", "diff_calls", "diff_messages", "json_diff", "render_html", "render_text",
           "request_params", "word_diff"]
