"""llmdebug.diffing is a package of small modules: each file imports as a module (no public
function shadows one), and the package keeps the names callers and the README use."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import types
from pathlib import Path

import pytest

import llmdebug.diffing

PKG = Path(llmdebug.diffing.__file__).parent
MODULES = sorted(info.name for info in pkgutil.iter_modules([str(PKG)]))


def test_the_package_has_its_modules():
    assert {"text", "structure", "messages", "comparison", "render"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_every_file_imports_as_a_module(name):
    mod = importlib.import_module(f"llmdebug.diffing.{name}")
    assert isinstance(mod, types.ModuleType)
    assert getattr(sys.modules["llmdebug.diffing"], name) is mod


@pytest.mark.parametrize("name", MODULES)
def test_modules_stay_small(name):
    assert len((PKG / f"{name}.py").read_text(encoding="utf-8").splitlines()) <= 400


def test_the_public_names_are_the_same_objects():
    import llmdebug.diffing as d
    from llmdebug.diffing import comparison, messages, render, structure, text

    assert sorted(d.__all__) == ["PARAM_ORDER", "diff_calls", "diff_messages", "json_diff", "render_html",
                                 "render_text", "request_params", "word_diff"]
    assert (d.diff_calls, d.request_params, d.PARAM_ORDER) == (
        comparison.diff_calls, comparison.request_params, comparison.PARAM_ORDER)
    assert d.diff_messages is messages.diff_messages and d.json_diff is structure.json_diff
    assert d.word_diff is text.word_diff
    assert (d.render_text, d.render_html) == (render.render_text, render.render_html)
    for name in d.__all__:
        assert not isinstance(getattr(d, name), types.ModuleType), name


def test_the_readme_way_works():
    from llmdebug.tracing import Span

    a = Span(kind="tool", name="lookup", input={"q": "refund"}, output={"hits": 2})
    b = Span(kind="tool", name="lookup", input={"q": "refunds"}, output={"hits": 3})
    d = llmdebug.diffing.diff_calls(a, b)
    assert "llmdebug diff" in llmdebug.diffing.render_text(d)
