"""Request parameters under provider-neutral names, for the diff: ``max_tokens`` for
``max_completion_tokens``/``max_output_tokens``, ``response_format`` for the Responses
API's ``text.format``, ``stop`` for ``stop_sequences``, ``tool_choice`` as
``"auto"|"required"|"none"|"tool:NAME"``. Each wire passes its own renames."""

from __future__ import annotations

from typing import Any

from ._conversation import CONVERSATION_KEYS

__all__ = ["common", "PARAM_ORDER"]

# Provider-neutral parameter names, shown first and in this order.
PARAM_ORDER = ("model", "temperature", "top_p", "top_k", "max_tokens", "response_format", "tool_choice",
               "parallel_tool_calls", "stop", "seed", "n", "presence_penalty", "frequency_penalty",
               "reasoning_effort", "stream")


def _tool_choice(v: Any) -> Any:
    if isinstance(v, str):
        return "required" if v == "any" else v
    if isinstance(v, dict):
        extra = set(v) - {"type", "name", "function"}
        if extra:
            return v
        fn = v.get("function")
        name = v.get("name") or (fn.get("name") if isinstance(fn, dict) else None)
        if name:
            return f"tool:{name}"
        t = v.get("type")
        if t in ("auto", "none"):
            return t
        if t in ("any", "required"):
            return "required"
    return v


def _response_format(v: Any) -> Any:
    # chat: {"type": "json_schema", "json_schema": {"name", "schema", "strict"}}; others
    # put those keys at the top.
    if isinstance(v, dict) and isinstance(v.get("json_schema"), dict):
        flat = {k: x for k, x in v.items() if k != "json_schema"}
        flat.update(v["json_schema"])
        return flat
    return v


def common(request: Any, names: dict[str, str], skip: frozenset = CONVERSATION_KEYS) -> dict:
    """The parameters of ``request`` (everything but the conversation and the tools),
    renamed by ``names`` (this API's name -> the common one), in ``PARAM_ORDER``."""
    out: dict[str, Any] = {}
    if not isinstance(request, dict):
        return out
    for k, v in request.items():
        if k in skip or v is None:
            continue
        if isinstance(v, dict) and k in _NESTED:  # text.format, generationConfig.maxOutputTokens ...
            for sub, x in v.items():
                if x is not None:
                    out[names.get(f"{k}.{sub}", f"{k}.{sub}")] = x
            continue
        out[names.get(k, k)] = v
    if "response_format" in out:
        out["response_format"] = _response_format(out["response_format"])
    if "tool_choice" in out:
        out["tool_choice"] = _tool_choice(out["tool_choice"])
    if isinstance(out.get("stop"), str):
        out["stop"] = [out["stop"]]
    order = {k: i for i, k in enumerate(PARAM_ORDER)}
    return dict(sorted(out.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


# Request keys whose dict value holds parameters one level down.
_NESTED = frozenset({"text", "generationConfig", "generation_config", "config"})
