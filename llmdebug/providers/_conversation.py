"""The conversation and tools of a request in one shape for every API.

Shared by the provider modules: a message list may mix shapes (chat messages,
content blocks with ``tool_use``/``tool_result``, Responses API items), so one
normaliser reads them all.
"""

from __future__ import annotations

from typing import Any

__all__ = ["normalise", "tool_definitions", "text_of", "CONVERSATION_KEYS", "message", "call"]


def text_of(content: Any) -> str:
    """Message content (a string or a list of parts in any provider's shape) as text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return _json_text(content)
    out = []
    for part in content:
        if isinstance(part, str):
            out.append(part)
            continue
        if not isinstance(part, dict):
            out.append(_json_text(part))
            continue
        kind = part.get("type")
        if isinstance(part.get("text"), str):
            if not part.get("thought"):  # Gemini's thought summaries are not the message
                out.append(part["text"])
        elif "inlineData" in part or "inline_data" in part or "fileData" in part or "file_data" in part:
            data = part.get("inlineData") or part.get("inline_data") or part.get("fileData") or part.get("file_data")
            mime = data.get("mimeType") or data.get("mime_type") if isinstance(data, dict) else None
            out.append(f"[{'image' if str(mime).startswith('image') else 'file'}{' ' + mime if mime else ''}]")
        elif any(k in part for k in _GEMINI_CALL_KEYS):
            continue  # carried as tool calls / tool messages
        elif kind in ("image_url", "input_image", "image"):
            src = part.get("image_url") or part.get("source") or {}
            url = src.get("url") if isinstance(src, dict) else src
            media = src.get("media_type") if isinstance(src, dict) else None
            out.append(f"[image{': ' + str(url)[:80] if url else ''}{' ' + media if media else ''}]")
        elif kind in ("input_audio", "audio", "file", "input_file", "document"):
            out.append(f"[{kind}]")
        elif kind in ("tool_use", "tool_result", "function_call", "function_call_output"):
            continue  # carried as tool calls / tool messages
        else:
            out.append(_json_text(part))
    return "\n".join(out)


_GEMINI_CALL_KEYS = ("functionCall", "function_call", "functionResponse", "function_response")


def _json_text(value: Any) -> str:
    import json

    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def _args_text(args: Any) -> str:
    return args if isinstance(args, str) else _json_text(args)


def normalise(raw: Any) -> list[dict]:
    """A conversation (a provider's native messages) in one shape for every provider.

    Each message is ``{"role", "text", "tool_calls": [{"id", "name", "arguments"}],
    "tool_call_id", "name"}``; tool results become ``role: "tool"`` messages, and
    non-text parts (images, audio, files) become short ``[image …]`` placeholders.
    Message shapes of every API are understood in any list (litellm passes one API's
    messages to another), so this lives here, shared by the provider modules.
    """
    if raw is None:
        return []
    if not isinstance(raw, list):  # embeddings input, a bare prompt
        raw = [{"role": "user", "content": raw}]
    out: list[dict] = []
    for m in raw:
        if not isinstance(m, dict):
            out.append(message("user", text_of(m)))
            continue
        kind = m.get("type")
        if kind == "function_call":  # Responses API input item
            out.append(message("assistant", "", [call(m.get("call_id") or m.get("id"), m.get("name"), m.get("arguments"))]))
            continue
        if kind == "function_call_output":
            out.append(message("tool", text_of(m.get("output")), tool_call_id=m.get("call_id")))
            continue
        role = str(m.get("role") or "user")
        content = m.get("content")
        if content is None and isinstance(m.get("parts"), list):  # Gemini: {role: user|model, parts}
            role = "assistant" if role == "model" else role
            content = m["parts"]
        calls = [call(c.get("id"), (c.get("function") or {}).get("name"), (c.get("function") or {}).get("arguments"))
                 for c in m.get("tool_calls") or [] if isinstance(c, dict)]
        if m.get("function_call"):  # legacy OpenAI functions
            fc = m["function_call"]
            calls.append(call(None, fc.get("name"), fc.get("arguments")))
        results = []
        if isinstance(content, list):  # Anthropic blocks, Gemini parts
            for b in content:
                if not isinstance(b, dict):
                    continue
                if b.get("type") == "tool_use":
                    calls.append(call(b.get("id"), b.get("name"), b.get("input")))
                elif b.get("type") == "tool_result":
                    results.append(message("tool", text_of(b.get("content")), tool_call_id=b.get("tool_use_id")))
                elif isinstance(b.get("functionCall") or b.get("function_call"), dict):
                    fc = b.get("functionCall") or b.get("function_call")
                    calls.append(call(fc.get("id"), fc.get("name"), fc.get("args")))
                elif isinstance(b.get("functionResponse") or b.get("function_response"), dict):
                    fr = b.get("functionResponse") or b.get("function_response")
                    results.append(message("tool", _json_text(fr.get("response")), tool_call_id=fr.get("id"),
                                           name=fr.get("name")))
        text = text_of(content)
        if text or calls or not results:
            out.append(message(role, text, calls, tool_call_id=m.get("tool_call_id"), name=m.get("name")))
        out.extend(results)
    return out


def call(id_: Any, name: Any, arguments: Any) -> dict:
    return {"id": id_, "name": name, "arguments": _args_text(arguments)}


def message(role: str, text: str, tool_calls: list | None = None, *, tool_call_id: Any = None,
             name: Any = None) -> dict:
    return {"role": role, "text": text, "tool_calls": tool_calls or [], "tool_call_id": tool_call_id, "name": name}


def tool_definitions(req: Any) -> list[dict]:
    """The tools a request offered, as ``{"name", "description", "parameters"}``."""
    if not isinstance(req, dict):
        return []
    out = []
    for t in req.get("tools") or req.get("functions") or []:
        if not isinstance(t, dict):
            continue
        fn = t.get("function") if isinstance(t.get("function"), dict) else t
        params = fn.get("parameters", fn.get("input_schema"))
        out.append({"name": fn.get("name") or t.get("type"), "description": fn.get("description"),
                    "parameters": params})
    return out


# Request keys that are the conversation or the tools, not parameters.
CONVERSATION_KEYS = frozenset({"messages", "input", "system", "instructions", "prompt", "tools", "functions"})
