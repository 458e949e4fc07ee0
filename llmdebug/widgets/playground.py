"""The playground behind ``ld.playground(span)``: edit a captured call's messages, model
and parameters, run it again, and compare any two attempts.

Runs happen on a background thread, so the notebook stays usable while a model
answers; every attempt is a normal captured call with ``replay_of`` set, kept in the
widget's history.

The browser shows bidi controls and invisible characters as ``⟨U+XXXX⟩`` (visible.py), in
the editable boxes too: what comes back is turned into the real characters again.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import anywidget
import traitlets as t

from .. import providers, query
from .._guard import report
from ..diffing import diff_calls, render_text
from ..replaying import ReplayError, replay
from ..tracing import Span
from . import css, esm
from .diff_view import visible_diff
from .visible import from_visible, visible_text

# Parameters offered as fields (others of the original request are kept as they are).
PARAMS = ("temperature", "max_tokens", "top_p", "response_format")
_JSON_PARAMS = {"response_format"}


def _attempt(s: Span, label: str) -> dict:
    return {"id": s.id, "label": label, "status": s.status, "model": s.model, "provider": s.provider,
            "output_text": (s.output_text or "")[:20_000],
            "tool_calls": [{"name": c.get("name"), "arguments": str(c.get("arguments"))[:4000]}
                           for c in (s.tool_calls or []) if isinstance(c, dict)],
            "error": f"{s.error_type}: {s.error_message}" if s.status == "error" else "",
            "input_tokens": s.input_tokens, "output_tokens": s.output_tokens, "cost_usd": s.cost_usd,
            "latency_ms": None if s.latency_ms is None else round(s.latency_ms, 1)}


def _param_value(req: dict, name: str) -> Any:
    if name == "max_tokens":
        for k in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
            if k in req:
                return req[k]
        return None
    value = req.get(name)
    if name == "response_format" and value is None and isinstance(req.get("text"), dict):
        value = req["text"].get("format")  # the Responses API keeps it under text.format
    if name in _JSON_PARAMS and value is not None:
        return json.dumps(value, ensure_ascii=False)
    return value


class Playground(anywidget.AnyWidget):
    """Edit and re-run one captured LLM call; every attempt kept and comparable."""

    _esm = esm("playground.js")
    # the diff under the Run button is drawn by the diff widget's module: its CSS comes along
    _css = css("playground.css", "diff_view.css")
    _diff_esm = t.Unicode("").tag(sync=True)  # the diff view's module, for rendering diffs in place

    original = t.Dict().tag(sync=True)
    messages = t.List().tag(sync=True)  # [{"role", "content", "locked"}]
    params = t.Dict().tag(sync=True)  # {"model": ..., "temperature": ..., ...}: the original's values
    run_request = t.Dict().tag(sync=True)  # set by the browser's Run button
    running = t.Bool(False).tag(sync=True)
    history = t.List().tag(sync=True)  # attempts, the original first
    compare = t.List([0, 0]).tag(sync=True)  # indices into history
    diff = t.Dict().tag(sync=True)
    message = t.Unicode("").tag(sync=True)
    test_request = t.Dict().tag(sync=True)  # "Make test…": {"path", "expect"} for the latest attempt

    def __init__(self, span: Any, *, client: Any = None, base_url: str | None = None):
        super().__init__()
        self._send_to = {"client": client, "base_url": base_url}  # as ld.replay: default, where the call went
        s = query.resolve_span(span, who="ld.playground()")
        if s.kind != "llm":
            raise ReplayError(f"span {s.id[:12]} ({s.kind} {s.name!r}) is not an LLM call: only LLM calls can be replayed")
        self._original = s
        self._attempts: list[Span] = [s]
        self._raw = list(providers.conversation(s, request=s.request if isinstance(s.request, dict) else {}) or [])
        self._diff_esm = esm("diff_view.js")
        req = s.request if isinstance(s.request, dict) else {}
        self.original = {"id": s.id, "provider": s.provider, "endpoint": s.endpoint, "name": s.name}
        self.messages = [dict(self._editable(raw), source=i) for i, raw in enumerate(self._raw)]
        self.params = {"model": s.request_model or s.model or ""} | {p: _param_value(req, p) for p in PARAMS}
        self.history = [_attempt(s, "original")]
        self._lock = threading.Lock()
        self.observe(self._on_run, "run_request")
        self.observe(self._on_compare, "compare")
        self.observe(self._on_test_request, "test_request")

    @staticmethod
    def _editable(raw: Any) -> dict:
        if isinstance(raw, dict) and isinstance(raw.get("content"), str) and not raw.get("tool_calls"):
            return {"role": str(raw.get("role") or "user"), "content": raw["content"], "locked": False}
        # images, tool calls, tool results: shown as text, sent back unchanged unless removed
        text = providers.normalise([raw])
        shown = "\n".join(m["text"] + "".join(f"\n→ {c['name']}({c['arguments']})" for c in m["tool_calls"])
                          for m in text)
        role = raw.get("role") if isinstance(raw, dict) else "user"
        return {"role": str(role or raw.get("type", "item")), "content": shown, "locked": True}

    # -- running ---------------------------------------------------------------------
    def conversation(self, edited: list[dict]) -> list:
        """The request conversation from the browser's boxes: locked ones as captured."""
        out = []
        for m in edited:
            src = m.get("source")
            raw = self._raw[src] if isinstance(src, int) and 0 <= src < len(self._raw) else None
            if m.get("locked") and raw is not None:
                out.append(raw)
            elif isinstance(raw, dict):  # keeps tool_call_id, name, ... of the captured message
                out.append(dict(raw, role=m.get("role") or raw.get("role") or "user", content=m.get("content") or ""))
            else:
                out.append({"role": m.get("role") or "user", "content": m.get("content") or ""})
        return out

    def _changes(self, params: dict) -> dict:
        kw: dict[str, Any] = {}
        for name, value in (params or {}).items():
            if name not in self.params or value == self.params[name]:
                continue
            if value in ("", None):
                kw[name] = None  # an emptied field removes the parameter
                continue
            if name == "model":
                kw[name] = str(value)
            elif name in _JSON_PARAMS:
                try:
                    kw[name] = json.loads(value)
                except ValueError:
                    raise ReplayError(f"{name} must be JSON, e.g. {{\"type\": \"json_object\"}}; got {value!r}") from None
            else:
                try:
                    kw[name] = int(value) if name == "max_tokens" else float(value)
                except (TypeError, ValueError):
                    raise ReplayError(f"{name} must be a number, not {value!r}") from None
        return kw

    def run(self, messages: list[dict] | None = None, params: dict | None = None) -> Span:
        """Replay with these edits now (what the Run button does, but blocking)."""
        with self._lock:
            self.running = True
            try:
                kw = self._changes(params or {})
                conv = self.conversation(messages) if messages is not None else None
                s = replay(self._original, messages=conv, **self._send_to, **kw)
                self._attempts.append(s)
                self.history = self.history + [_attempt(s, f"attempt {len(self._attempts) - 1}")]
                self.compare = [0, len(self._attempts) - 1]
                self.message = ""
                return s
            finally:
                self.running = False

    def from_browser(self, req: dict) -> tuple[list[dict] | None, dict]:
        """The messages and parameters of a Run request with the ``⟨U+XXXX⟩`` the boxes
        showed turned back into characters; a message left as shown stays as captured."""
        shown = {m.get("source"): m["content"] for m in self.messages}
        messages = req.get("messages")
        if isinstance(messages, list):
            messages = [dict(m) for m in messages if isinstance(m, dict)]
            for m in messages:
                content, src = m.get("content"), m.get("source")
                original = shown.get(src) if isinstance(src, int) else None
                if original is not None and content in (original, visible_text(original)):
                    m["content"] = original
                else:
                    m["content"] = from_visible(content)
        params = {k: from_visible(v) for k, v in (req.get("params") or {}).items()}
        return messages, params

    def _on_run(self, change: dict) -> None:
        req = change["new"] or {}
        if not req or self.running:
            return

        def work() -> None:
            try:
                self.run(*self.from_browser(req))
            except ReplayError as e:
                self.message = str(e)
            except Exception as e:
                self.message = f"replay failed: {type(e).__name__}: {e}"
                report("running a playground replay")

        self.message = ""
        # The kernel stays free while the model answers: the work runs beside it.
        threading.Thread(target=work, name="llmdebug-playground", daemon=True).start()

    def _on_test_request(self, change: dict) -> None:
        req = change["new"] or {}
        if req:
            from .trace_tree import make_test

            self.message = make_test(self._attempts[-1].id, req.get("path"), req.get("expect"))

    def _on_compare(self, change: dict) -> None:
        try:
            a, b = (int(x) for x in change["new"])
            if a == b or not (0 <= a < len(self._attempts) and 0 <= b < len(self._attempts)):
                self.diff = {}
                return
            self.diff = diff_calls(query.get(self._attempts[a].id), query.get(self._attempts[b].id))
        except Exception as e:
            report("comparing playground attempts")
            self.message = f"could not compare: {type(e).__name__}: {e}"

    # -- fallbacks ---------------------------------------------------------------------
    def __repr__(self) -> str:
        def label(v: Any) -> str:
            return visible_text(str(v), label=True)

        lines = [f"llmdebug playground · {label(self.original.get('name'))} · {len(self.history) - 1} attempt(s)"]
        for h in self.history:
            out = h["error"] or h["output_text"] or ", ".join(label(c["name"] or "") for c in h["tool_calls"])
            lines.append(f"  {h['label']}: {label(h['status'])} · {label(h['model'])} · {visible_text(out[:100])!r}")
        if self.diff:
            lines.append(render_text(visible_diff(self.diff)))
        return "\n".join(lines)

    def _repr_mimebundle_(self, **kwargs: Any):
        from .static import pre

        out = super()._repr_mimebundle_(**kwargs)
        data, meta = out if isinstance(out, tuple) else (out or {}, {})
        data = dict(data, **{"text/plain": repr(self), "text/html": pre(repr(self), "playground")})
        return data, meta


def playground(span: Any, *, client: Any = None, base_url: str | None = None) -> Playground:
    """A playground for a captured LLM call (a Span, id, id prefix or ``calls()`` row);
    runs go where the call went unless ``client=`` or ``base_url=`` says otherwise."""
    return Playground(span, client=client, base_url=base_url)
