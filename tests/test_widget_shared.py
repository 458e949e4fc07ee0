"""What every widget shares: _theme.css in front of its CSS, _dom.js (and _format.js) in front of
its JavaScript, one button() and no formatter or palette of its own. The rendering itself is
checked in a real JupyterLab (tests/browser/), in the light and dark themes."""

import re
from pathlib import Path

import pytest

from llmdebug.widgets import SHARED_CSS, SHARED_JS
from llmdebug.widgets.dashboard import DashboardControls
from llmdebug.widgets.diff_view import DiffView
from llmdebug.widgets.playground import Playground
from llmdebug.widgets.trace_tree import TraceTree
from llmdebug.widgets.vega import ChartView

WIDGETS = Path(__file__).resolve().parents[1] / "llmdebug" / "widgets"
OWN_JS = ["trace_tree.js", "diff_view.js", "playground.js", "dashboard.js", "chart_view.js"]
OWN_CSS = ["trace_tree.css", "diff_view.css", "playground.css", "dashboard.css", "chart_view.css"]
# (widget class, its own module, the shared modules in front of it)
CLASSES = [(TraceTree, "trace_tree.js", (*SHARED_JS, "trace_scores.js")), (DiffView, "diff_view.js", SHARED_JS),
           (Playground, "playground.js", SHARED_JS), (DashboardControls, "dashboard.js", SHARED_JS),
           (ChartView, "chart_view.js", ("_dom.js",))]  # Vega writes a chart's numbers


def _read(name: str) -> str:
    return (WIDGETS / name).read_text(encoding="utf-8")


def _value(trait) -> str:
    return trait if isinstance(trait, str) else str(trait)


@pytest.mark.parametrize("cls,own,shared", CLASSES, ids=[c[1] for c in CLASSES])
def test_shared_code_and_theme_come_first(cls, own, shared):
    assert _value(cls._esm) == "".join(_read(n) for n in shared) + _read(own)
    css = _value(cls._css)
    theme = "".join(_read(n) for n in SHARED_CSS)
    assert css.startswith(theme) and css != theme


@pytest.mark.parametrize("name", OWN_CSS)
def test_no_widget_stylesheet_redeclares_the_palette(name):
    css = _read(name)
    assert "--jp-" not in css, "the JupyterLab variable mapping lives in _theme.css"
    assert not re.search(r"--ld-[\w-]+\s*:", css), "the shared palette is declared in _theme.css only"
    assert not re.search(r"#[0-9a-fA-F]{3,6}\b|rgba?\(", css), "colours come from the palette"


@pytest.mark.parametrize("name", OWN_JS)
def test_no_widget_module_formats_or_builds_buttons_itself(name):
    js = _read(name)
    assert not re.search(r"function button\b|\bfmt[A-Z]\w* =|toLocaleString\(|Intl\.", js)
    assert not re.search(r'h\("button"', js), "buttons come from button() in _dom.js"
    # toFixed only for the paint timing the benchmark reads, never for what a user sees
    assert re.findall(r"\.toFixed\(", js) == ([".toFixed("] if name == "trace_tree.js" else [])
    # the root takes the theme: class "llmdebug" beside the widget's own
    assert re.search(r'h\("div", "llmdebug llmdebug-[a-z]+"', js)


def test_one_missing_mark_everywhere():
    """The old marks for a missing value ("?", "unknown", "—", an empty cell) are gone."""
    for name in OWN_JS:
        js = re.sub(r'MARK\[[^\n]*?\] \|\| "\?"', "", _read(name))  # the diff's mark of an unknown op: a glyph
        assert not re.search(r'\?\? "\?"|\|\| "\?"|"unknown"|"—"|: "\?"', js), name
