// llmdebug dashboard controls: the filter bar, the headline numbers and the per-cell cost
// table. The charts under it are ChartView widgets (chart_view.js); Python redraws them when
// a filter changes. Every value goes into the DOM as text, never as HTML, with bidi controls
// and invisible characters drawn as ⟨U+XXXX⟩ (visibleText in _dom.js).

// h(): see _dom.js

const num = (v, d = 0) => (v === null || v === undefined ? "–" : Number(v).toLocaleString(undefined, { maximumFractionDigits: d }));
const ms = (v) => (v === null || v === undefined ? "–" : `${num(v)} ms`);
const usd = (v) => (v === null || v === undefined ? "unknown" : v < 0.01 ? `$${v.toFixed(6)}` : `$${v.toFixed(4)}`);

function select(label, choices, value) {
  const s = h("select", "lld-input");
  s.setAttribute("aria-label", label);
  for (const [v, text] of choices) {
    const o = h("option", null, text);
    o.value = v;
    s.append(o);
  }
  s.value = value || "";
  return s;
}

function render({ model, el }) {
  const root = h("div", "llmdebug-dash");
  el.append(root);
  const bar = h("div", "lld-filters");
  const headline = h("div", "lld-headline");
  const note = h("div", "lld-message");
  const cellsBox = h("details", "lld-cells");
  root.append(h("div", "lld-title", h("strong", null, "llmdebug dashboard")), bar, headline, note, cellsBox);

  let inputs = {};
  function drawBar() {
    const o = model.get("options") || {};
    const f = model.get("filters") || {};
    // an option shows its name visibly and keeps the real one as its value: the filter
    // Python gets is the real model, provider or tag
    const any = (xs, what) => [["", `any ${what}`], ...(xs || []).map((x) => [x, ldLabel(x)])];
    inputs = {
      since: select("time range", Object.entries(o.since || { "": "all time" }), f.since),
      model: select("model", any(o.models, "model"), f.model),
      provider: select("provider", any(o.providers, "provider"), f.provider),
      tag: select("tag", any(o.tags, "tag"), f.tag),
      name: h("input", "lld-input"),
    };
    inputs.name.placeholder = "span name";
    inputs.name.value = ldLabel(f.name || "");  // Python turns ⟨U+XXXX⟩ back into the character
    inputs.name.addEventListener("keydown", (ev) => ev.stopPropagation());
    let timer = null;
    const push = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        const next = {};
        for (const [k, inp] of Object.entries(inputs)) if (inp.value) next[k] = inp.value;
        model.set("filters", next);
        model.save_changes();
        root.dataset.pending = "1";
      }, 200);
    };
    for (const [k, inp] of Object.entries(inputs)) inp.addEventListener(k === "name" ? "input" : "change", push);
    bar.replaceChildren(...Object.values(inputs));
  }

  function drawSummary() {
    const s = model.get("summary") || {};
    root.dataset.pending = "0";
    root.dataset.refreshes = String(Number(root.dataset.refreshes || 0) + 1);
    if (!s.calls) {
      headline.replaceChildren();
    } else {
      const stat = (label, value, bad) => h("div", `lld-stat${bad ? " lld-bad" : ""}`, h("div", "lld-value", value), h("div", "lld-label", label));
      headline.replaceChildren(
        stat("calls", num(s.calls)),
        stat("cost", usd(s.cost_usd)),
        stat("error rate", `${(100 * (s.error_rate || 0)).toFixed(1)} %`, s.errors > 0),
        stat("rate-limit hits", num(s.rate_limit_hits), s.rate_limit_hits > 0),
        stat("latency p50 / p95 / p99", `${ms(s.latency_p50_ms)} / ${ms(s.latency_p95_ms)} / ${ms(s.latency_p99_ms)}`),
        stat("tokens in / out", `${num(s.input_tokens)} / ${num(s.output_tokens)}`),
      );
    }
    const m = model.get("message");
    note.textContent = visibleText(m || "");
    note.style.display = m ? "" : "none";
    const el = model.get("elapsed_ms");
    root.title = el ? `computed in ${num(el)} ms` : "";
  }

  function drawCells() {
    const rows = model.get("cells") || [];
    const body = h("tbody");
    for (const [n, head, calls, tin, tout, cost, errors] of rows) {
      body.append(h("tr", errors ? "lld-bad" : null, h("td", "lld-num", `In [${n}]`), h("td", "lld-src", ldLabel(head || "")),
        h("td", "lld-num", num(calls)), h("td", "lld-num", `${num(tin)} / ${num(tout)}`), h("td", "lld-num", usd(cost)),
        h("td", "lld-num", num(errors))));
    }
    const wasOpen = cellsBox.open;
    cellsBox.replaceChildren(
      h("summary", null, `Cost per notebook cell (${rows.length} cell${rows.length === 1 ? "" : "s"} this session)`),
      rows.length ? h("table", "lld-table", h("thead", null, h("tr", null, ...["cell", "code", "calls", "tokens in / out", "cost", "errors"].map((c) => h("th", null, c)))), body)
        : h("div", "lld-dim", "No calls from notebook cells yet (they are counted under %load_ext llmdebug)."));
    cellsBox.open = wasOpen;
  }

  const handlers = [["change:options", drawBar], ["change:summary", drawSummary], ["change:message", drawSummary],
    ["change:cells", drawCells]];
  for (const [ev, fn] of handlers) model.on(ev, fn);
  drawBar();
  drawSummary();
  drawCells();
  return () => { for (const [ev, fn] of handlers) model.off(ev, fn); };
}

export default { render };
