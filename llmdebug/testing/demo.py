"""What the demo notebooks share across their cells: one fake server per process, and a
trace file made fresh once per process (so a re-run cell keeps it, a new kernel starts over)."""

from __future__ import annotations

import threading
from pathlib import Path

from .server import FakeLLMServer

_fresh: set[Path] = set()
_lock = threading.Lock()


def demo_server() -> FakeLLMServer:
    """The fake server demo notebooks talk to: started on first use in this process and
    reused by every cell that asks (see :meth:`FakeLLMServer.shared`)."""
    return FakeLLMServer.shared()


def demo_db(path: str | Path) -> Path:
    """``path``, with any file an earlier process left there removed the first time this
    process asks, so a notebook's trace file holds only this kernel's calls."""
    path = Path(path)
    with _lock:
        key = path.resolve()
        if key not in _fresh:
            _fresh.add(key)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path
