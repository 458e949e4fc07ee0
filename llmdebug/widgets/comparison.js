// llmdebug comparison: an experiment's variants compared (Python computed every number:
// llmdebug/evaluation/comparing.py). The variants table shows mean scores with 95% intervals,
// cost, tokens, latency and errors; the items table shows each variant's output side by side,
// in dataset order or largest disagreement first; an item's "diff" button asks Python for the
// word diff of two variants' outputs (drawn under the row) and the call diff (drawn below the
// widget). Every string goes into the DOM as text, never as HTML.

// h(), button(), ldLabel(): see _dom.js; fmt: see _format.js

const PAGE = 100;  // item rows drawn at first; a button draws the rest
const isNum = (v) => typeof v === "number" && Number.isFinite(v);
const num2 = (v) => (isNum(v) ? v.toFixed(2) : fmt.MISSING);

function scoreCell(s) {
  const td = h("td", "ldc-num ldc-score");
  if (!s || !isNum(s.mean)) { td.append(fmt.MISSING); return td; }
  td.append(h("div", "ldc-mean", num2(s.mean)));
  if (isNum(s.low) && isNum(s.high)) {
    td.append(h("div", "ldc-ci", `[${num2(s.low)}, ${num2(s.high)}]`));
    // the interval on a 0..1 scale when the score lives there (most do); else no bar
    if (s.low >= 0 && s.high <= 1) {
      const bar = h("div", "ldc-bar");
      const span = h("div", "ldc-bar-ci");
      span.style.left = `${(s.low * 100).toFixed(1)}%`;
      span.style.width = `${Math.max((s.high - s.low) * 100, 0.5).toFixed(1)}%`;
      const mark = h("div", "ldc-bar-mean");
      mark.style.left = `${(s.mean * 100).toFixed(1)}%`;
      bar.append(span, mark);
      td.append(bar);
    }
  }
  return td;
}

function labelCell(counts) {
  const entries = Object.entries(counts || {});
  return h("td", "ldc-num", entries.length ? entries.map(([k, n]) => `${k} ${fmt.count(n)}`).join(", ") : fmt.MISSING);
}

// a score's name may break after its underscores (mentions_answer), never inside a word
function breakable(name) {
  const out = [];
  ldLabel(name).split(/(?<=_)/).forEach((part, i) => { if (i) out.push(document.createElement("wbr")); out.push(part); });
  return out;
}

function variantsTable(summary) {
  const scores = summary.scores || [];
  const numeric = new Set(summary.numeric_scores || []);
  const head = h("tr", null, h("th", null, "variant"), ...scores.map((s) => h("th", "ldc-num ldc-scoreh", ...breakable(s))),
    h("th", "ldc-num", "items"), h("th", "ldc-num", "errors"), h("th", "ldc-num", "cost"),
    h("th", "ldc-num", "tokens in→out"), h("th", "ldc-num", "latency p50"), h("th", "ldc-num", "latency p95"));
  const table = h("table", "ldc-variants", head);
  for (const v of summary.variants || []) {
    const tr = h("tr", "ldc-variant", h("td", "ldc-vname", ldLabel(v.name)),
      ...scores.map((s) => (numeric.has(s) ? scoreCell(v.scores[s]) : labelCell((v.labels || {})[s]))),
      h("td", "ldc-num", fmt.count(v.items)),
      h("td", `ldc-num${v.errors ? " ldc-errors" : ""}`, fmt.count(v.errors)),
      h("td", "ldc-num", fmt.cost(v.cost_usd)),
      h("td", "ldc-num", fmt.tokens(v.input_tokens, v.output_tokens)),
      h("td", "ldc-num", fmt.duration(v.latency_p50_ms)), h("td", "ldc-num", fmt.duration(v.latency_p95_ms)));
    tr.dataset.variant = v.name;
    table.append(tr);
  }
  return table;
}

function pairLine(p) {
  const sign = (v) => (isNum(v) ? (v >= 0 ? "+" : "") + v.toFixed(2) : fmt.MISSING);
  const bits = [`${ldLabel(p.a)} − ${ldLabel(p.b)}: `, h("b", null, ldLabel(p.score)), ` ${sign(p.diff)}`];
  if (isNum(p.low)) bits.push(h("span", "ldc-ci", ` [${sign(p.low)}, ${sign(p.high)}]`));
  if (isNum(p.a_better)) bits.push(`, ${ldLabel(p.a)} higher in ${fmt.percent(p.a_better, 0)} of resamples`);
  return h("div", "ldc-pair", ...bits);
}

function scoreBadges(scores) {
  const box = h("div", "ldc-badges");
  for (const [name, v] of Object.entries(scores || {})) {
    if (v === null || v === undefined) continue;
    const good = isNum(v) ? (v >= 0.5 ? " ldc-good" : " ldc-bad") : "";
    box.append(h("span", `ldc-badge${good}`, `${ldLabel(name)} ${isNum(v) ? num2(v) : v}`));
  }
  return box;
}

function diffPanel(d) {
  // side by side: A keeps equal + deleted runs, B equal + inserted ones
  const side = (keep, cls) => {
    const pre = h("pre", "ldc-dtext");
    for (const [op, text] of d.segments || []) {
      if (op === "equal") pre.append(text);
      else if (op === keep) pre.append(h(cls, `ldc-${cls}`, text));
    }
    if (!pre.childNodes.length) pre.append(h("span", "ldc-dim", "(empty)"));
    return pre;
  };
  const same = (d.segments || []).every(([op]) => op === "equal");
  return h("div", "ldc-diff",
    h("div", "ldc-diff-head", `${ldLabel(d.a)} ↔ ${ldLabel(d.b)}`, same ? " · same output" : "",
      d.calls ? " · the call diff of their last LLM calls is below" : ""),
    h("div", "ldc-diff-cols", h("div", null, h("div", "ldc-dlabel", ldLabel(d.a)), side("delete", "del")),
      h("div", null, h("div", "ldc-dlabel", ldLabel(d.b)), side("insert", "ins"))));
}

function render({ model, el }) {
  const root = h("div", "llmdebug llmdebug-comparison");
  el.append(root);
  let shown = PAGE;

  function sorted(items) {
    const copy = items.slice();
    if (model.get("sort") === "disagreement") copy.sort((x, y) => (y.spread - x.spread) || (x.position - y.position));
    else copy.sort((x, y) => x.position - y.position);
    return copy;
  }

  function pick(cls, value, names, index) {
    const sel = h("select", `ldc-pick ${cls}`);
    for (const n of names) {
      const o = h("option", null, ldLabel(n));
      o.value = n;
      if (n === value) o.selected = true;
      sel.append(o);
    }
    sel.addEventListener("change", () => {
      const pair = model.get("pair").slice();
      pair[index] = sel.value;
      model.set("pair", pair);
      model.save_changes();
    });
    return sel;
  }

  function draw() {
    const summary = model.get("summary") || {};
    const items = model.get("items") || [];
    const names = (summary.variants || []).map((v) => v.name);
    const pair = model.get("pair") || [];
    const selected = model.get("selected");
    const sort = model.get("sort");
    const d = model.get("item_diff") || {};
    root.replaceChildren();
    const title = [summary.name || "experiment"];
    if (summary.dataset) title.push(`dataset ${summary.dataset} v${summary.dataset_version}`);
    title.push(`${fmt.count(items.length)} items`, `${fmt.count(names.length)} variants`);
    root.append(h("div", "ldc-title", h("b", null, "Experiment "), ldLabel(title.join(" · "))));
    root.append(variantsTable(summary));
    if ((summary.pairs || []).length) root.append(h("div", "ldc-pairs", ...summary.pairs.map(pairLine)));
    if ((summary.numeric_scores || []).length) {
      root.append(h("div", "ldc-note", `means with 95% intervals: paired bootstrap over items, ` +
        `${fmt.count(summary.resamples)} resamples`));
    }

    const sortBtn = (value, text) => {
      const b = button(text, `ldc-sort${sort === value ? " ldc-active" : ""}`, () => {
        model.set("sort", value);
        model.save_changes();
      });
      b.dataset.sort = value;
      return b;
    };
    const controls = h("div", "ldc-controls", "Items: ", sortBtn("item", "dataset order"),
      sortBtn("disagreement", "most disagreement first"));
    if (names.length > 1) controls.append(" · diff ", pick("ldc-pick-a", pair[0], names, 0), " ↔ ",
      pick("ldc-pick-b", pair[1], names, 1));
    root.append(controls);

    const table = h("table", "ldc-items", h("tr", null, h("th", null, "item"), h("th", null, "expected"),
      ...names.map((n) => h("th", null, ldLabel(n))), h("th", "ldc-num", "spread"), h("th")));
    const order = sorted(items);
    order.slice(0, shown).forEach((it) => {
      const cells = [h("td", "ldc-input", h("code", "ldc-id", it.item_id.slice(0, 12)), h("div", "ldc-text", it.input)),
        h("td", "ldc-expected", h("div", "ldc-text", it.expected))];
      for (const o of it.outputs) {
        const td = h("td", `ldc-out${o.error ? " ldc-error" : ""}`,
          h("div", "ldc-text", o.error ? `error: ${o.error}` : o.output), scoreBadges(o.scores));
        td.dataset.variant = o.variant;
        cells.push(td);
      }
      cells.push(h("td", "ldc-num ldc-spread", num2(it.spread)));
      const open = selected === it.item_id;
      cells.push(h("td", null, names.length > 1 ? button(open ? "close" : "diff", "ldc-diff-btn", () => {
        model.set("selected", model.get("selected") === it.item_id ? "" : it.item_id);
        model.save_changes();
      }, `the diff of ${pair[0]} and ${pair[1]} on this item`) : null));
      const tr = h("tr", `ldc-item${open ? " ldc-selected" : ""}`, ...cells);
      tr.dataset.item = it.item_id;
      table.append(tr);
      if (open && d.item_id === it.item_id) {
        const td = h("td", null, diffPanel(d));
        td.colSpan = names.length + 4;
        table.append(h("tr", "ldc-diff-row", td));
      }
    });
    root.append(table);
    if (order.length > shown) {
      root.append(button(`show ${fmt.count(order.length - shown)} more items`, "ldc-more", () => {
        shown = order.length;
        draw();
      }));
    }
  }

  const events = ["change:summary", "change:items", "change:sort", "change:pair", "change:selected",
    "change:item_diff"];
  for (const e of events) model.on(e, draw);
  draw();
  return () => { for (const e of events) model.off(e, draw); };
}

export default { render };
