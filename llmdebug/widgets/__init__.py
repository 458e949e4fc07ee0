"""The notebook widgets (anywidget). Each widget's JavaScript and CSS are package files
beside its Python class; :func:`esm` puts the shared helpers in front of a module and
:func:`css` the shared theme in front of a stylesheet."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).parent
# In front of every widget's module: DOM helpers (h, button, the ⟨U+XXXX⟩ rule, named rows),
# then the formatters (fmt, the rules of formatting.py).
SHARED_JS = ("_dom.js", "_format.js")
# In front of every widget's stylesheet: the palette and status colours.
SHARED_CSS = ("_theme.css",)


def _read(*names: str) -> str:
    return "".join((_HERE / n).read_text(encoding="utf-8") for n in names)


def esm(name: str, shared: tuple[str, ...] = SHARED_JS) -> str:
    """The ES module of widget file ``name``: the shared helpers (``SHARED_JS``, or the ones of
    ``shared`` a module that writes no numbers uses), then the file."""
    return _read(*shared, name)


def css(*names: str) -> str:
    """The stylesheet of widget files ``names``: the shared theme (``SHARED_CSS``), then the files."""
    return _read(*SHARED_CSS, *names)
