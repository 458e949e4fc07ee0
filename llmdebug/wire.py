"""Where things live in each provider's request format (shared by capture and query)."""

from __future__ import annotations

from typing import Any

# Span.endpoint -> request/response wire format ("flavor").
ENDPOINT_FLAVORS = {
    "chat.completions": "openai-chat",
    "responses": "openai-responses",
    "embeddings": "openai-embeddings",
    "completions": "openai-completions",
    "images.generate": "openai-images",
    "messages": "anthropic",
}


def messages_of(flavor: str | None, req: Any) -> Any:
    """The conversation of a request, system prompt first, in the provider's own shapes.

    Derived, not stored: the request body already holds it (a second copy of every
    prompt would double the file).
    """
    if not isinstance(req, dict):
        return None
    if flavor in ("openai-chat", None) and "messages" in req:
        msgs = req["messages"]
        if "system" in req:  # anthropic-style request seen through litellm
            return [{"role": "system", "content": req["system"]}] + list(msgs)
        return msgs
    if flavor == "anthropic":
        head = [{"role": "system", "content": req["system"]}] if req.get("system") else []
        return head + list(req.get("messages") or [])
    if flavor == "openai-responses":
        head = [{"role": "system", "content": req["instructions"]}] if req.get("instructions") else []
        inp = req.get("input")
        return head + (list(inp) if isinstance(inp, list) else [{"role": "user", "content": inp}])
    if flavor == "openai-embeddings":
        return req.get("input")
    if flavor in ("openai-completions", "openai-images"):
        return [{"role": "user", "content": req.get("prompt")}]
    return req.get("messages")
