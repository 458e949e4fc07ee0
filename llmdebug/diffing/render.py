"""A diff from :func:`~llmdebug.diffing.diff_calls` as readable unified text
(:func:`render_text`: deletions ``[-like this-]``, insertions ``{+like this+}``) or escaped
HTML (:func:`render_html`), for terminals and saved notebooks."""

from __future__ import annotations

import json
from typing import Any

from .. import formatting as fmt

__all__ = ["render_html", "render_text"]


class _Plain:
    """Markup for render_text; _Html below for render_html."""

    def esc(self, s: str) -> str:
        return s

    def dele(self, s: str) -> str:
        return f"[-{s}-]"

    def ins(self, s: str) -> str:
        return f"{{+{s}+}}"

    def head(self, s: str) -> str:
        return s


class _Html(_Plain):
    def esc(self, s: str) -> str:
        import html

        return html.escape(s)

    def dele(self, s: str) -> str:
        return ('<del style="background:rgba(211,47,47,.18);color:inherit">' + self.esc(s) + "</del>")

    def ins(self, s: str) -> str:
        return ('<ins style="background:rgba(56,142,60,.22);color:inherit;text-decoration:none">'
                + self.esc(s) + "</ins>")

    def head(self, s: str) -> str:
        return "<strong>" + self.esc(s) + "</strong>"


_MARK = {"equal": " ", "changed": "~", "added": "+", "removed": "-", "moved": ">"}


def _fmt_num(v: Any, kind: str) -> str:
    """A side's or a delta's value, as the widget writes it (the shared formatters)."""
    if kind == "cost_usd":
        return fmt.cost(v)
    if kind == "latency_ms":
        return fmt.duration(v)
    return fmt.count(v)


def _fmt_delta(v: Any, kind: str) -> str:
    if fmt.number(v) is None:
        return fmt.MISSING
    sign = "+" if v > 0 else "−" if v < 0 else "±"
    return sign + _fmt_num(abs(v), kind)


def _short(text: str, n: int = 100) -> str:
    t = " ".join(str(text).split())
    return t if len(t) <= n else t[: n - 1] + "…"


def _elide(text: str, first: bool, last: bool) -> str:
    """An unchanged run inside a changed text, shortened to its edges."""
    lines = text.split("\n")
    if len(lines) > 7:
        head = [] if first else lines[:2]
        tail = [] if last else lines[-2:]
        hidden = len(lines) - len(head) - len(tail)
        return "\n".join(head + [f"… {fmt.count(hidden)} unchanged lines …"] + tail)
    if len(text) > 400:
        return (("" if first else text[:120]) + f" … {fmt.count(len(text) - 240)} unchanged characters … "
                + ("" if last else text[-120:]))
    return text


def _segments(segs: list, m: _Plain, elide: bool = True) -> str:
    out = []
    for k, (op, text) in enumerate(segs):
        if op == "equal":
            out.append(m.esc(_elide(text, k == 0, k == len(segs) - 1) if elide else text))
        elif op == "delete":
            out.append(m.dele(text))
        else:
            out.append(m.ins(text))
    return "".join(out)


def _indent(text: str, pad: str = "    ") -> str:
    return text.replace("\n", "\n" + pad)


def _call_line(c: dict | None, m: _Plain) -> str:
    if not c:
        return ""
    return m.esc(f"{c.get('name')}({_short(c.get('arguments') or '', 200)})")


def _tool_call_lines(calls: list, m: _Plain, pad: str) -> list[str]:
    out = []
    for c in calls:
        mark = _MARK.get(c["op"], "?")
        if c["op"] in ("added", "removed", "equal"):
            out.append(f"{pad}{mark} → " + _call_line(c["b"] or c["a"], m))
            continue
        name = c["b"]["name"] if not c["name_changed"] else f"{c['a']['name']} → {c['b']['name']}"
        out.append(f"{pad}{mark} → " + m.esc(str(name)))
        if c["arguments"]:
            out.extend(_json_change_lines(c["arguments"], m, pad + "    "))
        elif c["arguments_text"]:
            out.append(pad + "    " + _indent(_segments(c["arguments_text"], m), pad + "    "))
    return out


def _jv(v: Any) -> str:
    return _short(json.dumps(v, ensure_ascii=False, default=str), 160)


def _change_line(m: _Plain, pad: str, label: str, op: str, old: Any, new: Any) -> str:
    """One added (+), removed (-) or changed (~) value, as a text line."""
    if op == "added":
        return f"{pad}+ {m.esc(label)}: {m.ins(_jv(new))}"
    if op == "removed":
        return f"{pad}- {m.esc(label)}: {m.dele(_jv(old))}"
    return f"{pad}~ {m.esc(label)}: {m.dele(_jv(old))} → {m.ins(_jv(new))}"


def _json_change_lines(changes: list, m: _Plain, pad: str, limit: int = 50) -> list[str]:
    out = []
    for c in changes[:limit]:
        out.append(_change_line(m, pad, c["path"], c["op"], c.get("old"), c.get("new")))
    if len(changes) > limit:
        out.append(f"{pad}… {fmt.count(len(changes) - limit)} more changes")
    return out


def _side_line(label: str, s: dict) -> str:
    bits = [label, (s.get("id") or "")[:12] or "(unsaved)", s.get("provider") or fmt.MISSING,
            s.get("model") or fmt.MISSING, s.get("status") or fmt.MISSING]
    if fmt.number(s.get("input_tokens")) is not None or fmt.number(s.get("output_tokens")) is not None:
        bits.append(f"{fmt.tokens(s.get('input_tokens'), s.get('output_tokens'))} tok")
    if fmt.number(s.get("cost_usd")) is not None:
        bits.append(fmt.cost(s["cost_usd"]))
    if fmt.number(s.get("latency_ms")) is not None:
        bits.append(fmt.duration(s["latency_ms"]))
    return "  " + " · ".join(bits[:2]) + "  " + " · ".join(bits[2:])


def _render(d: dict, m: _Plain, a_label: str = "A", b_label: str = "B") -> str:
    s = d["summary"]
    L = [m.head("llmdebug diff"), m.esc(_side_line(a_label, d["a"])), m.esc(_side_line(b_label, d["b"]))]
    deltas = [f"{k.replace('_usd', '').replace('_ms', '').replace('_', ' ')} {_fmt_delta(v['delta'], k)}"
              for k, v in d["deltas"].items() if v["delta"] is not None]
    if deltas:
        L.append(m.esc("  Δ " + " · ".join(deltas)))
    L.append(m.esc("  same prompt, parameters and output" if s["same"] else "  changed: " + ", ".join(s["parts"])))

    sy = d["system"]
    if sy["a"] or sy["b"]:
        L += ["", m.head(f"── System ({sy['op']})")]
        if sy["op"] == "equal":
            L.append("    " + m.esc(_short(sy["a"])))
        else:
            L.append("    " + _indent(_segments(sy["text"], m)))

    msgs = d["messages"]
    if msgs:
        c = s["messages"]
        counts = ", ".join(f"{v} {k}" for k, v in c.items() if v and k != "equal")
        L += ["", m.head(f"── Messages ({counts + ', ' if counts else ''}{c['equal']} unchanged)")]
        k = 0
        while k < len(msgs):
            e = msgs[k]
            if e["op"] == "equal":
                run = k
                while run < len(msgs) and msgs[run]["op"] == "equal":
                    run += 1
                if run - k >= 2:
                    L.append(m.esc(f"    … {fmt.count(run - k)} unchanged messages"))
                    k = run
                    continue
            L.extend(_message_lines(e, m))
            k += 1

    tools = [t for t in d["tools"]]
    if tools:
        c = s["tools"]
        L += ["", m.head(f"── Tools ({', '.join(f'{v} {k}' for k, v in c.items() if v and k != 'equal')}"
                         f"{', ' if any(v for k, v in c.items() if k != 'equal') else ''}{c['equal']} unchanged)")]
        for t in tools:
            L.append(f"  {_MARK[t['op']]} " + m.esc(t["name"]))
            if t["description"]:
                L.append("      description: " + _segments(t["description"], m))
            L.extend(_json_change_lines(t["parameters"], m, "      "))

    params = d["params"]
    if params:
        L += ["", m.head(f"── Parameters ({s['params']} changed)")]
        same = [p["key"] for p in params if p["op"] == "equal"]
        for p in params:
            if p["op"] == "equal":
                continue
            L.append(_change_line(m, "  ", p["key"], p["op"], p.get("old"), p.get("new")))
        if same:
            L.append(m.esc("    unchanged: " + ", ".join(f"{k}={_short(_jv(next(p['new'] for p in params if p['key'] == k)), 40)}" for k in same)))

    out = d["output"]
    L += ["", m.head(f"── Output ({out['op']}{', JSON' if out['mode'] == 'json' else ''})")]
    st = out["status"]
    if st["op"] != "equal":
        def desc(x: dict) -> str:
            return x["status"] + (f" ({x['error_type']}: {_short(x['error_message'] or '', 120)})" if x["error_type"] else "")
        L.append("  status: " + m.dele(desc(st["a"])) + " → " + m.ins(desc(st["b"])))
    if out["op"] == "equal" or not any(op != "equal" for op, _ in out["text"]):
        if out["b_text"]:
            L.append("    " + m.esc(_short(out["b_text"], 200)))
    elif out["mode"] == "json":
        L.extend(_json_change_lines(out["json"] or [], m, "  "))
    else:
        L.append("    " + _indent(_segments(out["text"], m)))
    if out["tool_calls"]:
        L.append("  tool calls:")
        L.extend(_tool_call_lines(out["tool_calls"], m, "    "))
    return "\n".join(L)


def _role(msg: dict | None) -> str:
    if not msg:
        return fmt.MISSING
    return msg["role"] + (f" ({msg['name']})" if msg.get("name") else "")


def _message_lines(e: dict, m: _Plain) -> list[str]:
    op = e["op"]
    idx = e["b_index"] if e["b_index"] is not None else e["a_index"]
    if op == "changed" and e["role_changed"]:
        role = f"{_role(e['a'])} → {_role(e['b'])}"
    else:
        role = _role(e["b"] or e["a"])
    head = f"  {_MARK[op]} #{idx} {role}"
    if op == "moved":
        head += f" (moved from #{e['a_index']})"
    msg = e["b"] or e["a"]
    if op == "changed":
        lines = [m.esc(head)]
        if any(o != "equal" for o, _ in e["text"]) or msg["text"]:
            lines.append("      " + _indent(_segments(e["text"], m), "      "))
        lines.extend(_tool_call_lines(e["tool_calls"], m, "      "))
        return lines
    if op in ("added", "removed"):
        mark = m.ins if op == "added" else m.dele
        text = msg["text"] if len(msg["text"]) <= 2000 else msg["text"][:2000] + "…"
        lines = [m.esc(head)]
        if text:
            lines.append("      " + _indent(mark(text), "      "))
        lines.extend(f"      {_MARK[op]} → " + _call_line(c, m) for c in msg["tool_calls"])
        return lines
    tail = _short(msg["text"], 90) if msg["text"] else ", ".join(f"→ {c['name']}" for c in msg["tool_calls"])
    return [m.esc(f"{head}  {tail}")]


def render_text(d: dict, a_label: str = "A", b_label: str = "B") -> str:
    """A diff from :func:`diff_calls` as readable unified text: deletions ``[-like this-]``,
    insertions ``{+like this+}``, runs of unchanged messages and lines folded."""
    return _render(d, _Plain(), a_label, b_label)


def render_html(d: dict, a_label: str = "A", b_label: str = "B") -> str:
    """The same as :func:`render_text` as HTML (every prompt/response string escaped)."""
    return ('<pre class="llmdebug-diff-text" style="white-space:pre-wrap;margin:0">'
            + _render(d, _Html(), a_label, b_label) + "</pre>")
