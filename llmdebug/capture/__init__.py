"""instrument() / uninstrument(): the adapter registry.

Each provider module lists the SDK methods it wraps (``TARGETS``). Installing patches
the classes in place with wrapt; uninstalling puts the exact original objects back.
Importing llmdebug patches nothing: only ``ld.init()``, ``ld.instrument()`` and
``%load_ext llmdebug`` do. An SDK that is installed but not imported yet is patched
when the user's code imports it (a post-import hook), so ``init()`` stays fast and
never imports litellm and its dependencies on its own.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from typing import Any

import wrapt

from .._guard import report
from . import frames
from ._patch import Endpoint, deferred_request_wrapper, method_wrapper, replaying
from .http import make_send_wrapper

__all__ = ["instrument", "uninstrument", "instrumented", "PROVIDERS"]

PROVIDERS = ("openai", "anthropic", "litellm")
_HTTP_LIBS = ("httpx2", "httpx")

_lock = threading.RLock()
_installed: dict[str, list[tuple[Any, str, Any]]] = {}
_wanted: set[str] = set()
_hooked: set[str] = set()


def _wrap_attr(owner: Any, attr: str, wrapper) -> tuple[Any, str, Any]:
    original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
    setattr(owner, attr, wrapt.FunctionWrapper(original, wrapper))
    return owner, attr, original


def _resolve(module: str, path: str) -> tuple[Any, str] | None:
    try:
        obj: Any = importlib.import_module(module)
    except Exception:
        return None
    *parents, attr = path.split(".")
    for name in parents:
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    if isinstance(obj, type) and attr not in obj.__dict__:
        return None
    if not hasattr(obj, attr):
        return None
    return obj, attr


def _install_provider(name: str) -> list:
    adapter = importlib.import_module(f"{__name__}.{name}")
    done = []
    for module, path, endpoint, kind in adapter.TARGETS:
        found = _resolve(module, path)
        if found is None:
            continue  # method absent in this SDK version
        owner, attr = found
        if kind == "sync":
            wrapper = method_wrapper(endpoint, False)
        elif kind == "async":
            wrapper = method_wrapper(endpoint, True)
        else:  # ("deferred", manager attribute, is_async)
            _, manager_attr, is_async = kind
            wrapper = deferred_request_wrapper(endpoint, manager_attr, is_async)
        done.append(_wrap_attr(owner, attr, wrapper))
    return done


def _install_http(mod: Any) -> list:
    return [
        _wrap_attr(mod.Client, "send", make_send_wrapper(mod, False)),
        _wrap_attr(mod.AsyncClient, "send", make_send_wrapper(mod, True)),
    ]


def available() -> list[str]:
    """Providers whose SDK is importable here."""
    return [p for p in PROVIDERS if importlib.util.find_spec(p) is not None]


def instrument(*providers: str) -> list[str]:
    """Capture calls of the given SDKs (default: every installed one). Idempotent."""
    unknown = set(providers) - set(PROVIDERS)
    if unknown:
        raise ValueError(f"unknown provider(s) {sorted(unknown)}; choose from {list(PROVIDERS)}")
    wanted = list(providers) or available()
    with _lock:
        for name in wanted:
            if importlib.util.find_spec(name) is None:
                raise ImportError(f"cannot instrument {name!r}: it is not installed (pip install {name})")
        _wanted.update(wanted)
        if _wanted:
            frames.install()
        for name in (*_HTTP_LIBS, *wanted) if _wanted else ():
            if name in sys.modules:
                _on_import(sys.modules[name])
            elif name not in _hooked:
                _hooked.add(name)
                wrapt.register_post_import_hook(_on_import, name)
        return instrumented()


def _on_import(module: Any) -> None:
    """Patch a module now that it is imported, if it is still wanted."""
    name = module.__name__
    with _lock:
        if name in _installed or not _wanted:
            return
        try:
            if name in _HTTP_LIBS:
                _installed[name] = _install_http(module)
            elif name in _wanted:
                _installed[name] = _install_provider(name)
        except Exception:
            report(f"instrumenting {name}")


def uninstrument(*providers: str) -> list[str]:
    """Put the original SDK methods back (default: all). Returns what stays instrumented."""
    with _lock:
        names = list(providers) or list(_wanted)
        for name in names:
            _wanted.discard(name)
            for owner, attr, original in reversed(_installed.pop(name, [])):
                setattr(owner, attr, original)
        if not _wanted:
            frames.uninstall()
            for lib in _HTTP_LIBS:
                for owner, attr, original in reversed(_installed.pop(lib, [])):
                    setattr(owner, attr, original)
        return instrumented()


def instrumented() -> list[str]:
    """Providers whose calls are captured (patched now, or as soon as they are imported)."""
    return [p for p in PROVIDERS if p in _wanted]


__all__ += ["Endpoint", "available", "replaying"]
