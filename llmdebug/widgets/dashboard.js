// llmdebug dashboard controls: the filter bar, the headline numbers and the per-cell cost
// table. The charts under it are ChartView widgets (chart_view.js); Python redraws them when
// a filter changes. Every value goes into the DOM as text, never as HTML, with bidi controls
// and invisible characters drawn as ⟨U+XXXX⟩ (visibleText in _dom.js).

// h(), ldRecords(): see _dom.js; fmt: see _format.js

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
  const root = h("div", "llmdebug llmdebug-dash");
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
        stat("calls", fmt.count(s.calls)),
        stat("cost", fmt.cost(s.cost_usd)),
        stat("error rate", fmt.percent(s.error_rate || 0), s.errors > 0),
        stat("rate-limit hits", fmt.count(s.rate_limit_hits), s.rate_limit_hits > 0),
        stat("latency p50 / p95 / p99",
          `${fmt.duration(s.latency_p50_ms)} / ${fmt.duration(s.latency_p95_ms)} / ${fmt.duration(s.latency_p99_ms)}`),
        stat("tokens in→out", fmt.tokens(s.input_tokens, s.output_tokens)),
      );
    }
    const m = model.get("message");
    note.textContent = visibleText(m || "");
    note.style.display = m ? "" : "none";
    const el = model.get("elapsed_ms");
    root.title = el ? `computed in ${fmt.duration(el)}` : "";
  }

  function drawCells() {
    const rows = ldRecords(model, "cells");
    const body = h("tbody");
    for (const c of rows) {
      body.append(h("tr", c.errors ? "lld-bad" : null, h("td", "lld-num", `In [${c.cell}]`),
        h("td", "lld-src", ldLabel(c.source || "")), h("td", "lld-num", fmt.count(c.calls)),
        h("td", "lld-num", fmt.tokens(c.input_tokens, c.output_tokens)), h("td", "lld-num", fmt.cost(c.cost_usd)),
        h("td", "lld-num", fmt.count(c.errors))));
    }
    const wasOpen = cellsBox.open;
    cellsBox.replaceChildren(
      h("summary", null, `Cost per notebook cell (${rows.length} cell${rows.length === 1 ? "" : "s"} this session)`),
      rows.length ? h("table", "lld-table", h("thead", null, h("tr", null, ...["cell", "code", "calls", "tokens in→out", "cost", "errors"].map((c) => h("th", null, c)))), body)
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
