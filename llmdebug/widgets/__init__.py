"""The notebook widgets (anywidget). Each widget's JavaScript and CSS are package files
beside its Python class; :func:`esm` puts the shared DOM helpers in front of a module."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).parent


def esm(name: str) -> str:
    """The ES module of widget file ``name``: ``_dom.js`` (shared helpers), then the file."""
    return (_HERE / "_dom.js").read_text(encoding="utf-8") + (_HERE / name).read_text(encoding="utf-8")
