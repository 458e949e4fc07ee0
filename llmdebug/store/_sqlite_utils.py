"""sqlite-utils without pandas: ``Database`` and ``Migrations``, imported cheaply.

sqlite-utils imports pandas and numpy at import time (0.4-0.8 s), only to map their
scalar types to column types. The store never creates columns from such values, so
they are hidden from that one import, on this thread only; the type table learns them
as soon as the process has imported them, so other users of sqlite-utils lose nothing.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

_HIDDEN = ("pandas", "numpy")


class _Hide:
    """A meta path finder refusing pandas and numpy to one thread, while sqlite-utils imports."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name in _HIDDEN and threading.get_ident() == self.thread:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


class _ColumnTypes(dict):
    """sqlite-utils' ``COLUMN_TYPE_MAPPING``, completed with numpy and pandas types once loaded."""

    def _learn(self) -> bool:
        np, pd = sys.modules.get("numpy"), sys.modules.get("pandas")
        new: dict = {}
        if np is not None and getattr(np, "int64", None) not in self:
            new.update({getattr(np, t): "INTEGER" for t in ("int8", "int16", "int32", "int64", "uint8",
                                                            "uint16", "uint32", "uint64") if hasattr(np, t)})
            new.update({getattr(np, t): "REAL" for t in ("float16", "float32", "float64") if hasattr(np, t)})
        if pd is not None and getattr(pd, "Timestamp", None) not in self and hasattr(pd, "Timestamp"):
            new[pd.Timestamp] = "TEXT"
        self.update(new)
        return bool(new)

    def __missing__(self, key: Any) -> str:
        if self._learn() and key in self:
            return self[key]
        raise KeyError(key)

    def get(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self._learn()
        return super().get(key, default)


def _import() -> Any:
    if "sqlite_utils.db" in sys.modules:
        return sys.modules["sqlite_utils"]
    hide = _Hide()
    sys.meta_path.insert(0, hide)
    try:
        import sqlite_utils
    finally:
        sys.meta_path.remove(hide)
    db = sys.modules["sqlite_utils.db"]
    if not isinstance(db.COLUMN_TYPE_MAPPING, _ColumnTypes):
        db.COLUMN_TYPE_MAPPING = _ColumnTypes(db.COLUMN_TYPE_MAPPING)
        db.COLUMN_TYPE_MAPPING._learn()  # pandas or numpy may have been imported already
    return sqlite_utils


_su = _import()
Database = _su.Database
Migrations = _su.Migrations

__all__ = ["Database", "Migrations"]
