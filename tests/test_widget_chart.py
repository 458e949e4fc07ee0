"""Offline altair charts: the shared Vega runtime, ChartView's state, LLMDebugChart staying
an altair chart, altair's global renderer and theme left alone, the text fallback, and the
vendored bundle itself. Rendering, clicks and the network cut-off: tests/browser/test_chart_ui.py."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import altair as alt
import pandas as pd
import pytest
import traitlets
from ipywidgets.widgets.widget import _instances

from llmdebug.widgets import vega as V

REPO = Path(__file__).resolve().parents[1]
HOSTILE = '<script>window.__pwned=1</script> & "q"'


@pytest.fixture
def costs() -> pd.DataFrame:
    return pd.DataFrame({"model": ["gpt-4o-mini", "claude-haiku", "llama-3"], "cost_usd": [0.012, 0.034, 0.006]})


@pytest.fixture
def bar(costs) -> V.LLMDebugChart:
    return V.LLMDebugChart(costs).mark_bar().encode(x="model:N", y="cost_usd:Q").properties(title="Cost by model")


def _altair_globals():
    return alt.renderers.active, dict(alt.renderers.options), alt.theme.active, alt.data_transformers.active


def _state_bytes(w) -> int:
    return len(json.dumps(w.get_state(), default=str))


def _runtimes() -> list:
    return [w for w in list(_instances.values()) if isinstance(w, V.VegaRuntime)]


# -- ChartView and the runtime --------------------------------------------------------

def test_chart_state_is_the_v6_spec_and_a_reference_to_the_runtime(bar):
    w = V.chart_view(bar)
    state = w.get_state()
    assert state["spec"]["$schema"].endswith(f"/vega-lite/{alt.SCHEMA_VERSION}.json")
    assert alt.SCHEMA_VERSION.startswith("v6")
    assert state["spec"]["mark"] == {"type": "bar"} and state["spec"]["title"] == "Cost by model"
    rows = next(iter(state["spec"]["datasets"].values()))
    assert rows == [{"model": "gpt-4o-mini", "cost_usd": 0.012}, {"model": "claude-haiku", "cost_usd": 0.034},
                    {"model": "llama-3", "cost_usd": 0.006}]
    assert state["runtime"] == f"anywidget:{V.runtime().model_id}"
    assert state["selection"] == {} and state["error"] == "" and state["renderer"] == "svg"


def test_one_runtime_for_many_charts_and_the_bundle_only_in_it(bar, costs):
    rt = V.runtime()
    charts = [V.chart_view(bar), V.chart_view(bar.mark_line()), bar.widget(),
              V.show(bar + alt.Chart(costs).mark_rule().encode(y="mean(cost_usd):Q"))]
    assert all(c.runtime is rt for c in charts)
    assert V.runtime() is rt and _runtimes() == [rt]
    bundle = V.BUNDLE.read_text(encoding="utf-8")
    rt_state = rt.get_state()
    assert rt_state["_bundle"] == bundle and len(rt_state["_esm"]) < 3_000
    code_sample = bundle[-4_000:-2_000]  # a stretch of minified Vega
    for c in charts:
        dumped = json.dumps(c.get_state(), default=str)
        assert code_sample not in dumped
        # the spec plus chart_view.js/.css and the shared _dom.js and _theme.css: two orders of
        # magnitude under the bundle
        assert len(dumped) < len(bundle) // 50, len(dumped)
    print(f"\n[bytes] bundle {V.BUNDLE.stat().st_size:,}; runtime state {_state_bytes(rt):,}; "
          f"chart state {_state_bytes(charts[0]):,} (spec {len(json.dumps(charts[0].spec)):,}, "
          f"chart_view.js+css {len(charts[0]._esm) + len(charts[0]._css):,})")


def test_a_closed_runtime_is_replaced(bar):
    rt = V.runtime()
    rt.close()
    w = V.chart_view(bar)
    assert w.runtime is not rt and w.runtime is V.runtime() and w.runtime.comm is not None


def test_runtime_trait_takes_only_a_vega_runtime(bar):
    w = V.chart_view(bar)
    with pytest.raises(traitlets.TraitError):
        w.runtime = V.chart_view(bar)
    rt = V.runtime()
    w.set_state({"runtime": f"anywidget:{rt.model_id}"})  # the wire form maps back to the widget
    assert w.runtime is rt


def test_runtime_version_names_the_vendored_libraries():
    rt = V.runtime()
    assert rt.version.startswith("vega 6.") and "vega-lite 6." in rt.version and "vega-embed 7." in rt.version
    assert repr(rt) == f"llmdebug Vega runtime: {rt.version}"
    data, _ = rt._repr_mimebundle_()
    assert data["text/plain"] == repr(rt)


def test_chart_view_of_a_spec_dict_and_of_a_plain_altair_chart(costs):
    spec = {"$schema": "https://vega.github.io/schema/vega-lite/v6.json", "mark": "point",
            "data": {"values": [{"a": 1, "b": 2}]}, "encoding": {"x": {"field": "a", "type": "quantitative"}}}
    assert V.chart_view(spec).spec == spec
    plain = alt.Chart(costs).mark_bar().encode(x="model:N", y="cost_usd:Q")
    assert V.show(plain).spec == plain.to_dict()
    assert V.chart_view(plain, renderer="canvas").renderer == "canvas"
    with pytest.raises(TypeError):
        V.chart_view(42)


# -- LLMDebugChart is an altair chart ------------------------------------------------

def test_llmdebug_chart_keeps_its_class_and_altairs_output(bar, costs):
    plain = alt.Chart(costs).mark_bar().encode(x="model:N", y="cost_usd:Q").properties(title="Cost by model")
    assert isinstance(bar, alt.Chart) and type(bar) is V.LLMDebugChart
    for derived in (bar.properties(width=200), bar.interactive(), bar.encode(color="model:N"),
                    bar.mark_point(), bar.copy(), bar.copy(deep=False), bar.configure_axis(grid=False),
                    bar.transform_filter("datum.cost_usd > 0.01")):
        assert type(derived) is V.LLMDebugChart
    assert bar.to_dict() == plain.to_dict()
    assert bar.properties(width=200).to_dict()["width"] == 200
    assert bar.to_json() == plain.to_json()
    rule = alt.Chart(costs).mark_rule().encode(y="mean(cost_usd):Q")
    combos = [(bar + rule, V.LLMDebugLayerChart, plain + rule), (bar | rule, V.LLMDebugHConcatChart, plain | rule),
              (bar & rule, V.LLMDebugVConcatChart, plain & rule),
              ((bar + rule) | bar, V.LLMDebugHConcatChart, (plain + rule) | plain)]
    for ours, cls, theirs in combos:
        assert type(ours) is cls and isinstance(ours, type(theirs)) and ours.to_dict() == theirs.to_dict()
    assert type((bar + rule).properties(title="x")) is V.LLMDebugLayerChart
    assert type(alt.layer(bar, rule)) is alt.LayerChart  # altair's own functions: use show()


def test_llmdebug_chart_saves_like_altair(bar, tmp_path):
    bar.save(tmp_path / "c.json")
    assert json.loads((tmp_path / "c.json").read_text())["mark"] == {"type": "bar"}
    bar.save(tmp_path / "c.html")  # altair's own HTML (it loads Vega from a CDN: the user's choice)
    assert "Cost by model" in (tmp_path / "c.html").read_text()


def test_display_goes_through_a_chart_view(bar):
    data, _ = bar._repr_mimebundle_()
    view = data["application/vnd.jupyter.widget-view+json"]
    w = _instances[view["model_id"]]
    assert isinstance(w, V.ChartView) and w.spec == bar.to_dict()
    assert data["text/plain"].startswith('llmdebug chart: "Cost by model"')


def test_an_undrawable_chart_shows_altairs_traceback_not_an_exception(capsys):
    big = V.LLMDebugChart(pd.DataFrame({"x": range(6000)})).mark_point().encode(x="x:Q")
    assert big._repr_mimebundle_() == {}
    shown = capsys.readouterr()
    assert "MaxRowsError" in shown.out + shown.err  # stdout once IPython is loaded, else stderr


# -- altair's globals ------------------------------------------------------------------

def test_altair_renderer_and_theme_are_never_changed(bar, costs):
    before = _altair_globals()
    bar._repr_mimebundle_()
    V.show(bar + alt.Chart(costs).mark_rule().encode(y="mean(cost_usd):Q"))._repr_mimebundle_()
    V.runtime()._repr_mimebundle_()
    assert _altair_globals() == before


def test_the_users_theme_applies_and_stays_theirs(bar):
    with alt.theme.enable("dark"):
        before = _altair_globals()
        spec = V.chart_view(bar).spec
        assert _altair_globals() == before == (before[0], before[1], "dark", before[3])
    # altair hands a Vega theme to vega-embed inside the spec; chart_view.js then leaves it alone
    assert spec["usermeta"]["embedOptions"]["theme"] == "dark"
    assert alt.theme.active == "default"


# -- text fallback -----------------------------------------------------------------------

def test_text_fallback_is_stable_and_escaped(costs):
    c = V.LLMDebugChart(costs).mark_bar().encode(x="model:N", y="sum(cost_usd):Q", tooltip=["model", "cost_usd"])
    c = c.properties(title=HOSTILE)
    data, _ = V.chart_view(c)._repr_mimebundle_()
    assert data["text/plain"] == (
        f'llmdebug chart: "{HOSTILE}"\n'
        "  bar · 3 rows\n"
        "    tooltip: model (nominal), cost_usd (quantitative)\n"
        "    x: model (nominal)\n"
        "    y: sum(cost_usd) (quantitative)")
    assert " at 0x" not in data["text/plain"]
    assert "<script>" not in data["text/html"] and "&lt;script&gt;" in data["text/html"]
    # the same text for the same chart, in any kernel
    assert V.chart_view(c)._repr_mimebundle_()[0]["text/plain"] == data["text/plain"]


def test_text_fallback_of_composed_charts(bar, costs):
    rule = alt.Chart(costs).mark_rule().encode(y="mean(cost_usd):Q")
    text = repr(V.show((bar + rule) | bar))
    assert text.splitlines()[:4] == ["llmdebug chart", "  hconcat of 2 · 3 rows", "    layer of 2",
                                     '      "Cost by model" · bar']
    assert "y: mean(cost_usd) (quantitative)" in text
    assert repr(V.ChartView()) == "llmdebug chart (empty)"
    w = V.chart_view(bar)
    w.error = "Unrecognized data set: x"
    assert repr(w).endswith("\n  error: Unrecognized data set: x")


# -- the vendored bundle -------------------------------------------------------------------

def _build_script():
    spec = importlib.util.spec_from_file_location("build_vega_bundle", REPO / "scripts" / "build_vega_bundle.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_vendored_bundle_matches_its_pins_and_header():
    build = _build_script()
    assert build.check(V.BUNDLE) == []
    text = V.BUNDLE.read_text(encoding="utf-8")
    head, _, code = text.partition(" */\n")
    assert V.BUNDLE.stat().st_size < 1_000_000
    assert "Copyright" in head and "BSD-3-Clause" in head and "University of Washington" in head
    assert hashlib.sha256(code.encode()).hexdigest() in head
    assert "export{" in code.replace(" ", "")[-300:]
    # Vega-Lite at least as new as the schema altair writes
    vl = tuple(int(x) for x in build.PINS["vega-lite"].split("."))
    assert vl >= tuple(int(x) for x in alt.SCHEMA_VERSION.lstrip("v").split("."))


@pytest.mark.skipif(not shutil.which("node"), reason="node not installed")
def test_vendored_bundle_draws_a_chart_in_node(tmp_path, bar):
    """The shipped file itself: imports, compiles altair's spec, renders SVG headless."""
    script = tmp_path / "draw.mjs"
    script.write_text("""
const m = await import(process.argv[2]);
const spec = JSON.parse(process.argv[3]);
const view = new m.vega.View(m.vega.parse(m.vegaLite.compile(spec).spec), {renderer: "none"});
const svg = await view.toSVG();
console.log(JSON.stringify({embed: typeof m.vegaEmbed, vega: m.vega.version, vl: m.vegaLite.version,
  bars: (svg.match(/<path/g) || []).length, title: svg.includes("Cost by model")}));
""")
    out = subprocess.run(["node", str(script), V.BUNDLE.as_uri(), json.dumps(bar.to_dict())],
                         check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["embed"] == "function" and got["vl"] == _build_script().PINS["vega-lite"]
    assert got["bars"] >= 3 and got["title"]


def test_text_fallback_draws_bidi_and_invisible_characters_visibly():
    from llmdebug.widgets.vega import LLMDebugChart

    df = pd.DataFrame({"model": ["a"], "cost": [1.0]})
    chart = LLMDebugChart(df).mark_bar().encode(x=alt.X("model:N", title="model\u200b"), y="cost:Q").properties(
        title="Cost of gpt\u202e-x")
    text = repr(chart.widget())
    assert 'llmdebug chart: "Cost of gpt⟨U+202E⟩-x"' in text and '"model⟨U+200B⟩"' in text
    assert "\u202e" not in text and "\u200b" not in text
