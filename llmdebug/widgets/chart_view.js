// llmdebug chart: one Vega-Lite spec drawn with the shared Vega runtime (vega_runtime.js,
// loaded once per page by the VegaRuntime model this chart references; see vega.py). No
// network, no CDN. Follows the JupyterLab theme, and reports a click on a mark to Python in
// `selection`. Messages go into the DOM as text (textContent), never as HTML.

const WAIT_MS = 30000;

// h(): see _dom.js

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// {vegaEmbed, vega, vegaLite}: from the runtime model this chart references (anywidget's
// host.getWidget), else from the Promise that every runtime model publishes on globalThis.
async function vegaRuntime(model, host) {
  const ref = model.get("runtime");
  if (host && typeof host.getWidget === "function" && typeof ref === "string" && ref.startsWith("anywidget:")) {
    try {
      const w = await host.getWidget(ref);
      if (w && w.exports && typeof w.exports.ready === "function") return await w.exports.ready();
    } catch (e) {
      console.warn("llmdebug: runtime reference not resolved, waiting for the page's Vega runtime", e);
    }
  }
  const t0 = Date.now();
  while (!globalThis.__llmdebugVega) {
    if (Date.now() - t0 > WAIT_MS) throw new Error("the Vega runtime did not load");
    await sleep(50);
  }
  return globalThis.__llmdebugVega;
}

const isDark = () => document.body.dataset.jpThemeLight === "false";

// Axis, legend and title colours from the shared palette (_theme.css's --ld-* variables on the
// chart's root, which follow JupyterLab's theme): charts read well in the light, dark and custom
// themes, in the colours of the other widgets. A spec's own `config` wins over this (Vega-Lite
// merges it last).
function themeConfig(root) {
  const cs = getComputedStyle(root);
  const v = (name, fallback) => cs.getPropertyValue(name).trim() || fallback;
  const dark = isDark();
  const fg0 = v("--ld-fg", dark ? "#fff" : "#000");
  const fg1 = v("--ld-fg1", dark ? "#ddd" : "#333");
  const fg2 = v("--ld-fg2", dark ? "#aaa" : "#777");
  const grid = v("--ld-border", dark ? "#444" : "#ddd");
  const line = v("--ld-border-strong", dark ? "#777" : "#888");
  const font = v("--ld-font", "sans-serif");
  const guide = { labelColor: fg1, titleColor: fg0, labelFont: font, titleFont: font };
  return {
    background: "transparent",
    font,
    axis: { ...guide, domainColor: line, tickColor: line, gridColor: grid },
    legend: guide,
    header: guide,
    title: { color: fg0, subtitleColor: fg2, font, subtitleFont: font },
    view: { stroke: grid },
    text: { color: fg1 },
    mark: { cursor: "pointer" },
  };
}

// Vega-Lite's stack transform adds <f>_start and <f>_end to a stacked datum (every bar
// chart): dropped when they are exactly that (end - start == f), so callers get their fields.
function stackFields(datum) {
  const skip = new Set();
  for (const k of Object.keys(datum)) {
    if (!k.endsWith("_end")) continue;
    const f = k.slice(0, -4), s = `${f}_start`;
    const [v, a, b] = [datum[f], datum[s], datum[k]];
    if ([v, a, b].every((x) => typeof x === "number") && Math.abs(b - a - v) <= 1e-9 * Math.max(1, Math.abs(v))) {
      skip.add(k).add(s);
    }
  }
  return skip;
}

// The clicked datum as plain JSON: no Vega-internal fields, dates as ISO strings.
function plainDatum(datum) {
  const out = {};
  const skip = stackFields(datum || {});
  for (const [k, val] of Object.entries(datum || {})) {
    if (skip.has(k) || k.startsWith("_vgsid_") || k === "vega_id") continue;
    if (val instanceof Date) out[k] = val.toISOString();
    else if (typeof val === "number") out[k] = Number.isFinite(val) ? val : null;
    else if (val === null || typeof val === "string" || typeof val === "boolean") out[k] = val;
    else {
      try {
        out[k] = JSON.parse(JSON.stringify(val));
      } catch (_) { /* cyclic or exotic: skip */ }
    }
  }
  return out;
}

function render({ model, el, host, signal }) {
  const plot = h("div", "ldc-plot");
  const message = h("div", "ldc-message", "loading Vega…");
  const root = h("div", "llmdebug llmdebug-chart", plot, message);
  el.append(root);

  let result = null;     // vega-embed's result: {view, finalize}
  let generation = 0;    // a newer draw() makes an older one's result stale
  let retheme = null;
  let disposed = false;

  const finalize = () => {
    if (result) {
      try { result.finalize(); } catch (_) { /* already gone */ }
      result = null;
    }
  };

  const setError = (text) => {
    if (model.get("error") !== text) {
      model.set("error", text);
      model.save_changes();
    }
  };

  const onClick = (event, item) => {
    const hit = item && item.datum && item.mark && item.mark.role === "mark";
    const sel = hit ? plainDatum(item.datum) : {};
    // outline the clicked mark (SVG renderer; a redraw clears it)
    for (const e of plot.querySelectorAll(".ldc-picked")) e.classList.remove("ldc-picked");
    const target = event && event.target;
    if (hit && target instanceof SVGElement && target.closest("g.role-mark")) target.classList.add("ldc-picked");
    if (JSON.stringify(sel) === JSON.stringify(model.get("selection") || {})) return;
    model.set("selection", sel);
    model.save_changes();
    root.dataset.selected = hit ? "1" : "0";
  };

  // One embed at a time into `plot` (vega-embed replaces its content); a draw asked for while
  // another runs is queued, and only the newest queued one runs.
  async function drawNow(mine) {
    const stale = () => mine !== generation || (signal && signal.aborted);
    if (stale()) return;
    try {
      const rt = await vegaRuntime(model, host);
      if (stale()) return;
      const spec = model.get("spec");
      finalize();
      if (!spec || !Object.keys(spec).length) {
        plot.replaceChildren();
        message.textContent = "empty chart";
        return;
      }
      const dark = isDark();
      // A Vega theme the user chose in altair (alt.theme.enable("dark") puts it in
      // usermeta.embedOptions) is theirs: vega-embed applies it, our colours stay out.
      const own = spec.usermeta && spec.usermeta.embedOptions;
      const userTheme = !!(own && (own.theme || own.config));
      const res = await rt.vegaEmbed(plot, structuredClone(spec), {
        actions: false,
        renderer: model.get("renderer") || "svg",
        ...(userTheme ? {} : { config: themeConfig(root) }),
        tooltip: { theme: dark ? "dark" : "light" },
      });
      result = res;
      if (stale()) {  // a newer draw is queued and finalizes this one first; a removed view does it here
        if (disposed) finalize();
        return;
      }
      res.view.addEventListener("click", onClick);
      message.textContent = "";
      root.dataset.theme = dark ? "dark" : "light";
      root.dataset.vega = rt.version || "";
      delete root.dataset.error;
      root.dataset.rendered = "1";
      setError("");
    } catch (e) {
      if (stale()) return;
      const text = String((e && e.message) || e);
      message.textContent = visibleText(`could not draw this chart: ${text}`);
      root.dataset.error = "1";
      setError(text);
      console.error("llmdebug chart:", e);
    }
  }

  let queue = Promise.resolve();
  const draw = () => {
    const mine = ++generation;
    queue = queue.then(() => drawNow(mine));
    return queue;
  };

  model.on("change:spec", draw);
  model.on("change:renderer", draw);

  // JupyterLab switches themes by changing these body attributes: redraw with the new colours
  // (a little later, so the new theme's CSS variables are in force).
  const observer = new MutationObserver(() => {
    clearTimeout(retheme);
    retheme = setTimeout(draw, 80);
  });
  observer.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"] });

  draw();
  return () => {
    disposed = true;
    generation++;
    clearTimeout(retheme);
    observer.disconnect();
    finalize();
  };
}

export default { render };
