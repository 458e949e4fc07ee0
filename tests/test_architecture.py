"""The architecture is a contract: layers import one way (import-linter), capture never
loads the read side, every file is a module, no provider is named outside providers/,
no module reaches for another's private names, and bugs are not swallowed silently."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import sqlite3
import subprocess
import sys
import types
from pathlib import Path

import pytest

import llmdebug as ld
from llmdebug import _guard

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "llmdebug"


def _modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages([str(PKG)], prefix="llmdebug."):
        names.append(info.name)
    return names


def test_layers_import_one_way():
    lint = Path(sys.executable).parent / "lint-imports"
    r = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "broken" not in r.stdout.split("Contracts:")[-1].replace("0 broken", "")


def test_capture_does_not_load_the_read_side():
    code = ("import sys, llmdebug.capture; "
            "print(sorted(m for m in sys.modules if m.startswith(('llmdebug', 'pandas', 'altair', 'anywidget', "
            "'IPython'))))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    loaded = eval(r.stdout.strip())  # noqa: S307 - our own printout
    assert not [m for m in loaded if m.startswith(("llmdebug.query", "llmdebug.widgets", "llmdebug.charts",
                                                    "pandas", "altair", "anywidget", "IPython"))], loaded


def test_import_llmdebug_is_light():
    r = subprocess.run([sys.executable, "-c", "import sys, llmdebug; print(sorted(sys.modules))"],
                       capture_output=True, text=True, timeout=120)
    loaded = eval(r.stdout.strip())  # noqa: S307
    assert "pandas" not in loaded and "sqlite_utils" not in loaded and "llmdebug.query" not in loaded


@pytest.mark.parametrize("name", _modules())
def test_every_file_is_a_module(name):
    mod = importlib.import_module(name)
    assert isinstance(mod, types.ModuleType)
    parent, _, last = name.rpartition(".")
    assert isinstance(getattr(sys.modules[parent], last), types.ModuleType), (
        f"{name} is shadowed by {getattr(sys.modules[parent], last)!r}")


def test_public_names_resolve_and_are_not_modules():
    for name in ld.__all__:
        value = getattr(ld, name)
        assert value is not None
        # namespaces of functions: ld.charts.latency(...), ld.scorers.valid_json()
        if name not in ("charts", "scorers", "__version__"):
            assert not isinstance(value, types.ModuleType), name


# Provider names and their wire formats, as code would spell them.
_PROVIDER_WORDS = re.compile(r"""["'](openai|anthropic|litellm|google|gemini|azure)(-[a-z]+)?["']""")


def test_no_provider_is_named_outside_providers():
    offenders = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).as_posix()
        if rel.startswith(("providers/", "testing/")):
            continue  # the provider modules, and the fake server that speaks every API
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _PROVIDER_WORDS.fullmatch(
                    repr(node.value)):
                offenders.append(f"{rel}:{node.lineno} {node.value!r}")
    assert offenders == [], offenders


def test_no_module_reaches_for_anothers_private_names():
    offenders = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).as_posix()
        tree = ast.parse(path.read_text())
        imported_modules = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("llmdebug")):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        # a private *module* of a package (``from . import _usage``) is fine, and so
                        # are the helpers a package's __init__ keeps for its own modules (charts/)
                        target = ((node.module or "") + "." + alias.name).lstrip(".")
                        own_package = node.level == 1 and not node.module and path.name != "__init__.py"
                        if not _is_module_file(path, node, alias.name) and not own_package:
                            offenders.append(f"{rel}:{node.lineno} imports {alias.name} from {target}")
                    else:
                        imported_modules.add(alias.asname or alias.name)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and isinstance(node.value, ast.Name) and node.value.id in imported_modules
                    and _is_llmdebug_module(path, tree, node.value.id)):
                offenders.append(f"{rel}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert offenders == [], offenders


def _is_module_file(path: Path, node: ast.ImportFrom, name: str) -> bool:
    base = path.parent
    for _ in range(max(node.level - 1, 0)):
        base = base.parent
    if node.module and node.level:
        base = base.joinpath(*node.module.split("."))
    elif node.module:
        base = ROOT.joinpath(*node.module.split("."))
    return (base / f"{name}.py").exists() or (base / name / "__init__.py").exists()


def _is_llmdebug_module(path: Path, tree: ast.Module, name: str) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("llmdebug")):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return _is_module_file(path, node, alias.name)
    return False


# -- bugs surface under LLMDEBUG_RAISE_ERRORS, and are warned about otherwise -------------------
def test_a_pricing_bug_is_not_swallowed(monkeypatch):
    from llmdebug import pricing

    def broken():
        raise RuntimeError("pricing bug (injected)")

    monkeypatch.setattr(pricing, "_snapshot", broken)
    pricing._resolve.cache_clear()
    with pytest.raises(RuntimeError, match="injected"):
        pricing.cost("gpt-4o-mini", provider="openai", input_tokens=10, output_tokens=1)
    monkeypatch.delenv("LLMDEBUG_RAISE_ERRORS")
    monkeypatch.setattr(_guard, "_warned", set())
    with pytest.warns(_guard.LLMDebugWarning, match="pricing a call"):
        assert pricing.cost("gpt-4o-mini", provider="openai", input_tokens=10, output_tokens=2) is None
    pricing._resolve.cache_clear()


def test_a_search_bug_in_the_tree_is_not_swallowed(ld_on, monkeypatch):
    from llmdebug import query
    from llmdebug.widgets.trace_tree import TraceTree

    with ld.trace("t") as t:
        pass
    tree = TraceTree(t.trace_id)

    def broken(*a, **k):
        raise RuntimeError("search bug (injected)")

    monkeypatch.setattr(query, "search", broken)
    with pytest.raises(RuntimeError, match="injected"):
        tree.query = "anything"


def test_an_indexing_bug_is_reported_but_a_locked_file_is_not(ld_on, monkeypatch):
    from llmdebug import session
    from llmdebug.store import fts

    monkeypatch.delenv("LLMDEBUG_RAISE_ERRORS")
    monkeypatch.setattr(_guard, "_warned", set())
    writer = session.get_store().writer

    def locked(conn):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(fts, "catch_up", locked)
    with _no_llmdebug_warning():
        writer._connection()
        writer._index()

    def bug(conn):
        raise sqlite3.OperationalError("no such column: prompt_txt")

    monkeypatch.setattr(fts, "catch_up", bug)
    with pytest.warns(_guard.LLMDebugWarning, match="indexing spans"):
        writer._index()


class _no_llmdebug_warning:
    def __enter__(self):
        import warnings

        self._cm = warnings.catch_warnings(record=True)
        self._got = self._cm.__enter__()
        warnings.simplefilter("always")

    def __exit__(self, *exc):
        self._cm.__exit__(*exc)
        assert not [w for w in self._got if issubclass(w.category, _guard.LLMDebugWarning)]
