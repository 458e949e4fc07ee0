"""The SDK clients seen making calls in this process, by provider and base URL, so a
replay can go where a call went with the credentials it went with.

Weak references: a client the user dropped is not kept alive, and no key is copied.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

_seen: dict[tuple[str, str], list[weakref.ref]] = {}
_lock = threading.Lock()
_KEEP = 4  # a few per URL: with_options() copies come and go beside the long-lived client


def remember(provider: str | None, base_url: str | None, resource: Any) -> None:
    """Note the client behind ``resource`` (an SDK resource such as ``client.chat.completions``)."""
    client = getattr(resource, "_client", None)  # openai's and anthropic's resources hold their client here
    if client is None or not provider or not base_url:
        return
    key = (provider, base_url)
    with _lock:
        refs = [r for r in _seen.get(key, ()) if r() is not None and r() is not client]
        try:
            refs.append(weakref.ref(client))
        except TypeError:  # not weak-referenceable: not remembered
            return
        _seen[key] = refs[-_KEEP:]


def client_for(provider: str | None, base_url: str | None) -> Any:
    """The newest live client that sent a ``provider`` call to ``base_url``, or None."""
    with _lock:
        for ref in reversed(_seen.get((provider or "", base_url or ""), ())):
            client = ref()
            closed = getattr(client, "is_closed", None)
            if client is not None and not (callable(closed) and closed()):
                return client
    return None
