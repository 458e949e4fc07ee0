"""instrument() / uninstrument(): generic patching of the SDK methods each provider
module lists (``TARGETS``, see :mod:`llmdebug.providers`).

Installing patches the classes in place with wrapt; uninstalling puts the exact
original objects back.
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
from .. import providers
from . import frames
from ._patch import deferred_request_wrapper, method_wrapper, replaying
from . import aio, http

__all__ = ["instrument", "uninstrument", "instrumented", "PROVIDERS"]

PROVIDERS = providers.NAMES
# HTTP libraries the SDKs send with, and how each is observed.
_HTTP_LIBS = {"httpx2": http.install, "httpx": http.install, "aiohttp": aio.install}

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
    done = []
    for target in providers.module(name).TARGETS:
        found = _resolve(target.module, target.path)
        if found is None:
            continue  # method absent in this SDK version
        owner, attr = found
        if target.deferred:
            wrapper = deferred_request_wrapper(target.endpoint, target.deferred, target.is_async)
        else:
            wrapper = method_wrapper(target.endpoint, target.is_async, stream=target.stream,
                                     generator=target.generator)
        done.append(_wrap_attr(owner, attr, wrapper))
    return done


def available() -> list[str]:
    """Providers whose SDK is importable here."""
    return providers.installed()


def instrument(*names: str) -> list[str]:
    """Capture calls of the given providers' SDKs (default: every installed one). Idempotent."""
    unknown = set(names) - set(PROVIDERS)
    if unknown:
        raise ValueError(f"unknown provider(s) {sorted(unknown)}; choose from {list(PROVIDERS)}")
    wanted = list(names) or available()
    with _lock:
        for name in wanted:
            if name not in available():
                sdk = providers.module(name).SDK
                raise ImportError(f"cannot instrument {name!r}: its SDK is not installed (pip install {sdk})")
        _wanted.update(wanted)
        if _wanted:
            frames.install()
        for modname in (*_HTTP_LIBS, *(providers.module(n).SDK for n in wanted)) if _wanted else ():
            if modname in sys.modules:
                _on_import(sys.modules[modname])
            elif modname not in _hooked:
                _hooked.add(modname)
                wrapt.register_post_import_hook(_on_import, modname)
        return instrumented()


def _provider_of(modname: str) -> str | None:
    return next((n for n in PROVIDERS if providers.module(n).SDK == modname), None)


def _on_import(module: Any) -> None:
    """Patch a module now that it is imported, if it is still wanted."""
    modname = module.__name__
    name = modname if modname in _HTTP_LIBS else _provider_of(modname)
    with _lock:
        if name is None or name in _installed or not _wanted:
            return
        try:
            if name in _HTTP_LIBS:
                _installed[name] = _HTTP_LIBS[name](module)
            elif name in _wanted:
                _installed[name] = _install_provider(name)
        except Exception:
            report(f"instrumenting {name}")


def uninstrument(*names: str) -> list[str]:
    """Put the original SDK methods back (default: all). Returns what stays instrumented."""
    with _lock:
        for name in list(names) or list(_wanted):
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


__all__ += ["available", "replaying"]
