"""Altair charts that render offline: Vega shipped once as package data, loaded once per page.

JupyterLab 4 renders only Vega-Lite v3–v5 itself, altair 6 writes v6, and altair's default
renderer fetches Vega from a CDN (so it fails offline) while its offline renderer copies
~900 KB of JavaScript into every chart. Here instead:

- :class:`VegaRuntime` carries the vendored bundle (``vega_runtime.js``: Vega, Vega-Lite,
  vega-embed) once per kernel. Its front-end module runs at model creation (anywidget calls
  ``initialize`` for every model, displayed or not), imports the bundle once per page and
  publishes it as ``globalThis.__llmdebugVega`` (a Promise of ``{vegaEmbed, vega, vegaLite}``).
- :class:`ChartView` holds one Vega-Lite spec (inline data) and a reference to the runtime;
  its JavaScript awaits the runtime, draws with vega-embed, follows the JupyterLab theme and
  reports clicks in ``selection``. Its state is the spec only.
- :class:`LLMDebugChart` is an ``altair.Chart`` that displays itself through a ChartView;
  everything else (``encode``, ``properties``, ``save``, ``to_dict``, ``+``/``|``/``&``) is
  altair's. Other altair charts go through :func:`show`.

Nothing here touches altair's global renderer or theme.
"""

from __future__ import annotations

import functools
import html
import re
from pathlib import Path
from typing import Any

import altair as alt
import anywidget
import traitlets as t

from .. import formatting as fmt
from . import css, esm
from .visible import visible_text

_HERE = Path(__file__).parent
BUNDLE = _HERE / "vega_runtime.js"

__all__ = ["ChartView", "LLMDebugChart", "VegaRuntime", "chart_view", "describe_spec", "runtime", "show"]

# The runtime's front-end module. The ~900 KB bundle is not in here but in the ``_bundle``
# trait, so this module stays tiny and the bundle is imported at most once per page even when
# several kernels (notebooks) each have their runtime model: the Promise lives on globalThis,
# keyed by bundle version. ``initialize`` returns at once (anywidget gives a model's
# initialize 2 s); its exports are what ``host.getWidget(ref).exports`` gives a ChartView.
_RUNTIME_ESM = r"""
const G = globalThis;
function load(model) {
  const version = model.get("version");
  const byVersion = (G.__llmdebugVegaByVersion ||= {});
  if (!byVersion[version]) {
    const url = URL.createObjectURL(new Blob([model.get("_bundle")], { type: "text/javascript" }));
    byVersion[version] = import(/* webpackIgnore: true */ url)
      .then((m) => {
        G.__llmdebugVegaLoads = (G.__llmdebugVegaLoads || 0) + 1;  // bundles evaluated on this page
        return Object.freeze({ vegaEmbed: m.vegaEmbed, vega: m.vega, vegaLite: m.vegaLite, version });
      })
      .finally(() => URL.revokeObjectURL(url));
    byVersion[version].catch((e) => console.error("llmdebug: the Vega runtime failed to load", e));
    G.__llmdebugVega ||= byVersion[version];
  }
  return byVersion[version];
}
export default {
  initialize({ model }) {
    G.__llmdebugVegaRuntimes = (G.__llmdebugVegaRuntimes || 0) + 1;  // runtime models on this page
    const ready = load(model);
    return { ready: () => ready };
  },
  render({ model, el }) {
    el.textContent = `llmdebug Vega runtime: ${model.get("version")}`;
  },
};
"""


@functools.lru_cache(maxsize=1)
def _read_bundle() -> tuple[str, str]:
    """(bundle text, version label), read on first use: importing llmdebug never reads 900 KB."""
    text = BUNDLE.read_text(encoding="utf-8")
    head = text[:2000]
    m = re.search(r"vendored Vega runtime: ([^\n]*?)\.\n", head)
    digest = re.search(r"sha256 of the code below this comment: ([0-9a-f]{12})", head)
    version = (m.group(1) if m else "unknown") + (f" ({digest.group(1)})" if digest else "")
    return text, version


class VegaRuntime(anywidget.AnyWidget):
    """Vega, Vega-Lite and vega-embed for this kernel's charts; one shared instance (:func:`runtime`).

    It need not be displayed: creating the model loads it in the front end.
    """

    _esm = _RUNTIME_ESM
    _bundle = t.Unicode("").tag(sync=True)
    version = t.Unicode("").tag(sync=True)

    def __init__(self, **kwargs: Any):
        text, version = _read_bundle()
        super().__init__(_bundle=text, version=version, **kwargs)

    def __repr__(self) -> str:
        return f"llmdebug Vega runtime: {self.version}"

    def _repr_mimebundle_(self, **kwargs: Any):
        out = super()._repr_mimebundle_(**kwargs)
        data, meta = out if isinstance(out, tuple) else (out or {}, {})
        data = dict(data, **{"text/plain": repr(self)})
        return data, meta


_runtime: VegaRuntime | None = None


def runtime() -> VegaRuntime:
    """The kernel's one Vega runtime (a new one only if the last was closed)."""
    global _runtime
    if _runtime is None or getattr(_runtime, "comm", None) is None:
        _runtime = VegaRuntime()
    return _runtime


def _widget_ref(value: Any, _widget: Any) -> str | None:
    return None if value is None else f"anywidget:{value.model_id}"


def _from_widget_ref(value: Any, _widget: Any) -> Any:
    from ipywidgets.widgets.widget import _instances

    if isinstance(value, str) and value.startswith("anywidget:"):
        return _instances.get(value.split(":", 1)[1])
    return value


class ChartView(anywidget.AnyWidget):
    """One Vega-Lite chart drawn with the shared :class:`VegaRuntime`.

    ``selection`` is set by the browser when a mark is clicked: the clicked datum's fields
    (Vega's internal fields removed); ``{}`` after a click on empty space. ``error`` holds
    the message if the spec could not be drawn.
    """

    _esm = esm("chart_view.js", shared=("_dom.js",))  # Vega writes the numbers (the spec's formats)
    _css = css("chart_view.css")

    spec = t.Dict().tag(sync=True)
    # Synced as "anywidget:<model id>", the reference anywidget >= 0.11 resolves with
    # host.getWidget(); with older anywidget the JavaScript waits for globalThis.__llmdebugVega.
    runtime = t.Instance(VegaRuntime).tag(sync=True, to_json=_widget_ref, from_json=_from_widget_ref)
    renderer = t.Enum(["svg", "canvas"], "svg").tag(sync=True)
    selection = t.Dict().tag(sync=True)
    error = t.Unicode("").tag(sync=True)

    def __init__(self, spec: dict | None = None, **kwargs: Any):
        kwargs.setdefault("runtime", runtime())  # opened first, so the front end has it before the chart
        super().__init__(spec=dict(spec or {}), **kwargs)

    def __repr__(self) -> str:
        text = describe_spec(self.spec)
        return text + (f"\n  error: {self.error}" if self.error else "")

    def _repr_mimebundle_(self, **kwargs: Any):
        # The live chart for front ends that run widgets; text and a static SVG picture
        # (rendered here, offline) for saved notebooks, nbconvert, nbviewer, GitHub and nbval.
        # The Vega runtime is never part of this output.
        from .static import chart_html

        out = super()._repr_mimebundle_(**kwargs)
        data, meta = out if isinstance(out, tuple) else (out or {}, {})
        data = dict(data)
        data["text/plain"] = repr(self)
        data["text/html"] = chart_html(self.spec)
        return data, meta


# -- text fallback ------------------------------------------------------------------

def _text(v: Any) -> str:
    if isinstance(v, dict):  # {"text": ...} titles
        v = v.get("text", "")
    if isinstance(v, (list, tuple)):
        return " ".join(str(x) for x in v)
    return str(v)


def _channel(name: str, enc: Any) -> str:
    if isinstance(enc, list):  # tooltip: [...]
        return f"{name}: " + ", ".join(_channel("", e).lstrip(": ") for e in enc)
    if not isinstance(enc, dict):
        return f"{name}: {enc}"
    field = enc.get("field")
    if isinstance(field, dict):  # {"repeat": "row"}
        field = "repeat " + next(iter(field.values()), "")
    agg = enc.get("aggregate")
    what = (f"{agg}({field or ''})" if agg else field) or (f"value {enc['value']!r}" if "value" in enc else
                                                           f"datum {enc['datum']!r}" if "datum" in enc else "")
    if enc.get("timeUnit"):
        what = f"{_text(enc['timeUnit'])}({what})"
    if enc.get("type"):
        what += f" ({enc['type']})"
    title = enc.get("title")
    if title and title != field:
        what += f' "{_text(title)}"'
    return f"{name}: {what}"


def _rows(spec: dict, datasets: dict) -> int | None:
    data = spec.get("data")
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("values"), list):
        return len(data["values"])
    if data.get("name") in datasets and isinstance(datasets[data["name"]], list):
        return len(datasets[data["name"]])
    return None


def _describe(spec: dict, datasets: dict, indent: str, out: list[str], top: bool = False) -> None:
    mark = spec.get("mark")
    mark = mark.get("type") if isinstance(mark, dict) else mark
    bits = [str(mark)] if mark else []
    n = _rows(spec, datasets)
    if n is not None:
        bits.append(f"{fmt.count(n)} row{'s' if n != 1 else ''}")
    for key in ("layer", "hconcat", "vconcat", "concat"):
        if isinstance(spec.get(key), list):
            bits.insert(0, f"{key} of {len(spec[key])}")
    for key in ("facet", "repeat"):
        if key in spec:
            bits.insert(0, key)
    if spec.get("title") and not top:
        bits.insert(0, f'"{_text(spec["title"])}"')
    if bits:
        out.append(indent + " · ".join(bits))
    for ch, enc in (spec.get("encoding") or {}).items():
        out.append(f"{indent}  {_channel(ch, enc)}")
    inner = spec.get("spec")
    if isinstance(inner, dict):
        _describe(inner, datasets, indent + "  ", out)
    for key in ("layer", "hconcat", "vconcat", "concat"):
        for sub in spec.get(key) or []:
            if isinstance(sub, dict):
                _describe(sub, datasets, indent + "  ", out)


def describe_spec(spec: dict) -> str:
    """A short, stable text summary of a Vega-Lite spec: title, marks, encodings, row counts."""
    if not spec:
        return "llmdebug chart (empty)"
    head = "llmdebug chart"
    if spec.get("title"):
        head += f': "{_text(spec["title"])}"'
    out = [head]
    _describe(spec, spec.get("datasets") or {}, "  ", out, top=True)
    return visible_text("\n".join(out), label=True)


# -- altair -------------------------------------------------------------------------

def _spec_of(chart: Any) -> dict:
    if isinstance(chart, ChartView):
        return dict(chart.spec)
    if isinstance(chart, dict):
        return chart
    if isinstance(chart, alt.TopLevelMixin):
        return chart.to_dict()  # the user's active altair theme applies, as it would in altair
    to_dict = getattr(chart, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    raise TypeError(f"expected an altair chart or a Vega-Lite spec dict, got {type(chart).__name__}")


def chart_view(chart_or_spec: Any, *, renderer: str = "svg") -> ChartView:
    """A :class:`ChartView` of an altair chart (any kind) or a Vega-Lite spec dict."""
    return ChartView(_spec_of(chart_or_spec), renderer=renderer)


def show(chart: Any, *, renderer: str = "svg") -> ChartView:
    """Show any altair chart (layered, concatenated, faceted…) offline; returns its ChartView."""
    return chart_view(chart, renderer=renderer)


class _OfflineDisplay:
    """Displays an altair chart through a ChartView; combining charts keeps the behaviour."""

    def widget(self, *, renderer: str = "svg") -> ChartView:
        """A new ChartView of this chart (keep it to read ``selection`` after clicks)."""
        return chart_view(self, renderer=renderer)

    def _repr_mimebundle_(self, *args: Any, **kwargs: Any):
        try:
            view = chart_view(self)
        except Exception:  # noqa: BLE001 -- as altair does: the traceback in the cell, no half-drawn output
            from altair.utils import display_traceback

            display_traceback(in_ipython=True)
            return {}
        return view._repr_mimebundle_(**kwargs)

    def __add__(self, other: Any):
        return _offline(super().__add__(other))  # type: ignore[misc]

    def __and__(self, other: Any):
        return _offline(super().__and__(other))  # type: ignore[misc]

    def __or__(self, other: Any):
        return _offline(super().__or__(other))  # type: ignore[misc]


class LLMDebugChart(_OfflineDisplay, alt.Chart):
    """``altair.Chart`` that renders in JupyterLab with no network (through :class:`ChartView`).

    Build, restyle and save it exactly like an ``alt.Chart``; ``.widget()`` gives the
    ChartView to keep for click-through.
    """


class LLMDebugLayerChart(_OfflineDisplay, alt.LayerChart):
    """``chart + chart`` of LLMDebugCharts."""


class LLMDebugHConcatChart(_OfflineDisplay, alt.HConcatChart):
    """``chart | chart`` of LLMDebugCharts."""


class LLMDebugVConcatChart(_OfflineDisplay, alt.VConcatChart):
    """``chart & chart`` of LLMDebugCharts."""


class LLMDebugConcatChart(_OfflineDisplay, alt.ConcatChart):
    """``concat | chart`` of LLMDebugCharts."""


_OFFLINE = {alt.LayerChart: LLMDebugLayerChart, alt.HConcatChart: LLMDebugHConcatChart,
            alt.VConcatChart: LLMDebugVConcatChart, alt.ConcatChart: LLMDebugConcatChart}


def _offline(chart: Any) -> Any:
    cls = _OFFLINE.get(type(chart))
    if cls is not None:
        object.__setattr__(chart, "__class__", cls)  # SchemaBase.__setattr__ writes spec keys
    return chart
