// llmdebug trace diff: the spans of two traces aligned (Python computed it), totals side by
// side; a click on an aligned LLM call asks Python for its call diff (shown below by the
// DiffView). Every string goes into the DOM as text, never as HTML.

// h(), button(): see _dom.js; fmt: see _format.js

const TOTAL_FMT = { spans: fmt.count, calls: fmt.count, errors: fmt.count, input_tokens: fmt.count,
  output_tokens: fmt.count, cost_usd: fmt.cost, latency_ms: fmt.duration };
const MARKS = { equal: " ", changed: "~", added: "+", dropped: "−" };
const safeOp = (s) => (/^[a-z]+$/.test(s || "") ? s : "other");

function sideCell(side) {
  if (!side) return h("td", "ldtd-none", "—");
  const bits = [side.model ? ldLabel(side.model) + " " : "", side.status,
    " · ", fmt.tokens(side.input_tokens, side.output_tokens), " · ", fmt.cost(side.cost_usd),
    " · ", fmt.duration(side.latency_ms)];
  const out = side.tool_calls && side.tool_calls.length ? side.tool_calls.join(", ") : (side.output || "");
  return h("td", `ldtd-side ldtd-${side.status === "error" ? "error" : "ok"}`,
    h("div", "ldtd-stats", bits.join("")), h("div", "ldtd-out", out.length > 160 ? out.slice(0, 159) + "…" : out));
}

function render({ model, el }) {
  const root = h("div", "llmdebug llmdebug-trace-diff");
  el.append(root);
  function draw() {
    const d = model.get("tdiff") || {};
    const A = model.get("a_label"), B = model.get("b_label");
    root.replaceChildren();
    if (!d.rows) { root.append(h("div", "ldtd-dim", "llmdebug trace diff (empty)")); return; }
    const totals = h("table", "ldtd-totals",
      h("tr", null, h("th"), h("th", null, `${A}: `, ldLabel(d.a.name), ` ${d.a.trace_id.slice(0, 12)}`),
        h("th", null, `${B}: `, ldLabel(d.b.name), ` ${d.b.trace_id.slice(0, 12)}`)));
    for (const f of Object.keys(TOTAL_FMT)) {
      const changed = d.a[f] !== d.b[f];
      totals.append(h("tr", changed ? "ldtd-total-changed" : null, h("td", null, f.replace("_", " ")),
        h("td", "ldtd-num", TOTAL_FMT[f](d.a[f])), h("td", "ldtd-num", TOTAL_FMT[f](d.b[f]))));
    }
    const s = d.summary;
    const summary = h("div", "ldtd-summary",
      `${s.changed} changed · ${s.added} added · ${s.dropped} dropped · ${s.equal} unchanged`);
    const table = h("table", "ldtd-rows",
      h("tr", null, h("th"), h("th", null, "span"), h("th", null, A), h("th", null, B), h("th", null, "changed")));
    const selected = model.get("selected");
    d.rows.forEach((r, i) => {
      const openable = r.kind === "llm" && r.a && r.b;
      const name = h("td", "ldtd-name", h("span", "ldtd-kind", r.kind), " ", ldLabel(r.name));
      name.style.paddingLeft = `${4 + 14 * (r.depth || 0)}px`;
      const tr = h("tr", `ldtd-row ldtd-${safeOp(r.op)}${i === selected ? " ldtd-selected" : ""}`,
        h("td", "ldtd-mark", MARKS[r.op] || "?"), name, sideCell(r.a), sideCell(r.b),
        h("td", "ldtd-changes", r.changes.join(", ")));
      tr.dataset.op = safeOp(r.op);
      if (openable) {
        tr.classList.add("ldtd-openable");
        tr.title = "Show this call's diff";
        tr.addEventListener("click", () => { model.set("selected", i === model.get("selected") ? -1 : i); model.save_changes(); });
      }
      table.append(tr);
    });
    root.append(totals, summary, table);
  }
  model.on("change:tdiff", draw);
  model.on("change:selected", draw);
  model.on("change:a_label", draw);
  draw();
}

export default { render };
