// llmdebug trace tree: a span tree on a shared timeline, a detail pane loaded on
// selection, and a browser of recent traces. Every string from a prompt, response or
// user goes into the DOM as text (textContent), never as HTML, with bidi controls and
// invisible characters drawn as ⟨U+XXXX⟩ (visibleText in _dom.js; ldLabel for names,
// models, kinds, tags...). The model's values stay real: search and copy use them.

const ROW_H = 24;
const OVERSCAN = 8;
const FIELDS = ["parent", "name", "kind", "model", "status", "start_ms", "latency_ms", "input_tokens",
  "output_tokens", "cost_usd", "retries", "rate_limit_hits", "error_type", "ttft_ms"];
const F = Object.fromEntries(FIELDS.map((f, i) => [f, i]));
const T = { id: 0, name: 1, started_at: 2, duration_ms: 3, spans: 4, calls: 5, input_tokens: 6,
  output_tokens: 7, cost_usd: 8, errors: 9, retries: 10, status: 11 };

// h(): see _dom.js

const fmtMs = (v) => v === null || v === undefined ? "" : v >= 10000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v).toLocaleString()} ms`;
const fmtInt = (v) => v === null || v === undefined ? "" : Number(v).toLocaleString();
const fmtCost = (v) => v === null || v === undefined ? "" : v === 0 ? "$0" : v < 0.01 ? `$${v.toFixed(6)}` : `$${v.toFixed(4)}`;
const fmtTokens = (i, o) => (i === null || i === undefined) && (o === null || o === undefined) ? "" : `${fmtInt(i || 0)}→${fmtInt(o || 0)}`;

async function copyText(text, button) {
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch (_) {
    // Not a secure context, or no permission: the old textarea route.
    const ta = h("textarea");
    ta.value = text;
    ta.style.position = "fixed";
    ta.style.opacity = "0";
    document.body.append(ta);
    ta.select();
    try { ok = document.execCommand("copy"); } catch (_) { ok = false; }
    ta.remove();
  }
  const label = button.textContent;
  button.textContent = ok ? "Copied" : "Copy failed";
  setTimeout(() => { button.textContent = label; }, 1200);
}

function copyButton(label, getText) {
  const b = h("button", "ldt-btn ldt-copy", label);
  b.type = "button";
  b.addEventListener("click", (ev) => { ev.stopPropagation(); copyText(getText(), b); });
  return b;
}

function section(title, ...body) {
  return h("section", "ldt-section", h("h4", "ldt-section-title", title), ...body);
}

function kv(pairs) {
  const dl = h("dl", "ldt-kv");
  for (const [k, v] of pairs) {
    if (v === null || v === undefined || v === "") continue;
    dl.append(h("dt", null, ldLabel(k)), h("dd", null, v));
  }
  return dl;
}

function pre(text, cls) {
  return h("pre", "ldt-pre" + (cls ? " " + cls : ""), text);
}

function collapsible(title, text, open) {
  const d = h("details", "ldt-raw", h("summary", null, title), pre(text));
  if (open) d.open = true;
  return d;
}

function toolCalls(calls) {
  const box = h("div", "ldt-toolcalls");
  for (const c of calls) {
    box.append(h("div", "ldt-toolcall", h("div", "ldt-toolcall-name", `→ ${ldLabel(c.name ?? "?")}`,
      c.id ? h("span", "ldt-dim", `  ${ldLabel(c.id)}`) : null), pre(c.arguments || "")));
  }
  return box;
}

function message(m) {
  const head = h("div", "ldt-msg-head", h("span", `ldt-role ldt-role-${/^[a-z_]+$/.test(m.role) ? m.role : "other"}`, ldLabel(m.role)));
  if (m.name) head.append(h("span", "ldt-dim", ` ${ldLabel(m.name)}`));
  if (m.tool_call_id) head.append(h("span", "ldt-dim", ` result of ${ldLabel(m.tool_call_id)}`));
  const card = h("div", `ldt-msg ldt-msg-${/^[a-z_]+$/.test(m.role) ? m.role : "other"}`, head);
  if (m.text) card.append(pre(m.text, "ldt-text"));
  if (m.tool_calls && m.tool_calls.length) card.append(toolCalls(m.tool_calls));
  return card;
}

function renderDetail(d, act) {
  const pane = h("div", "ldt-detail-body");
  if (d.load_error) {
    pane.append(h("div", "ldt-error-box", d.load_error));
    return pane;
  }
  const badges = h("div", "ldt-badges",
    h("span", `ldt-badge ldt-kind-${/^[a-z_]+$/.test(d.kind) ? d.kind : "span"}`, ldLabel(d.kind)),
    h("span", `ldt-badge ldt-status-${d.status === "error" ? "error" : "ok"}`, ldLabel(d.status)),
    d.provider ? h("span", "ldt-badge", ldLabel(d.provider)) : null,
    d.model ? h("span", "ldt-badge ldt-model", ldLabel(d.model)) : null,
    d.retries ? h("span", "ldt-badge ldt-retry", `${d.retries} retr${d.retries === 1 ? "y" : "ies"}`) : null,
    d.rate_limit_hits ? h("span", "ldt-badge ldt-retry", `${d.rate_limit_hits} rate-limited`) : null,
    d.replay_of ? h("span", "ldt-badge", `replay of ${d.replay_of.slice(0, 12)}`) : null);
  pane.append(h("div", "ldt-detail-title", ldLabel(d.name)), badges);
  if (d.kind === "llm" && act) {
    const replay = h("button", "ldt-btn ldt-act", "Replay…");
    replay.type = "button";
    replay.title = "open a playground: edit this call's prompt, model or parameters and run it again";
    replay.addEventListener("click", () => act.replay(d.index));
    const compare = h("button", "ldt-btn ldt-act", "Compare with…");
    compare.type = "button";
    compare.title = "then click another LLM call in the tree to see the diff";
    compare.addEventListener("click", () => act.compare(d.index));
    pane.append(h("div", "ldt-actions", replay, compare));
  }
  if (d.status === "error") {
    pane.append(h("div", "ldt-error-box",
      h("strong", null, `${ldLabel(d.error_type || "Error")}${d.http_status ? ` (HTTP ${d.http_status})` : ""}`),
      pre(d.error_message || "")));
  }
  const usage = [];
  if (d.input_tokens !== null && d.input_tokens !== undefined) usage.push(`${fmtInt(d.input_tokens)} in`);
  if (d.output_tokens !== null && d.output_tokens !== undefined) usage.push(`${fmtInt(d.output_tokens)} out`);
  if (d.cached_tokens) usage.push(`${fmtInt(d.cached_tokens)} cached`);
  if (d.cache_write_tokens) usage.push(`${fmtInt(d.cache_write_tokens)} cache write`);
  if (d.reasoning_tokens) usage.push(`${fmtInt(d.reasoning_tokens)} reasoning`);
  pane.append(kv([
    ["latency", fmtMs(d.latency_ms)],
    ["first token", d.ttft_ms !== null && d.ttft_ms !== undefined ? fmtMs(d.ttft_ms) : null],
    ["tokens", usage.join(" · ")],
    ["cost", d.cost_usd !== null && d.cost_usd !== undefined ? fmtCost(d.cost_usd)
      : d.kind !== "llm" ? null : d.input_tokens === null || d.input_tokens === undefined ? "none (no usage reported)"
      : "unknown (no price for this model)"],
    ["HTTP", d.http_status],
    ["endpoint", d.endpoint ? `${ldLabel(d.endpoint)}${d.stream ? " (stream)" : ""}` : null],
    ["base URL", ldLabel(d.base_url)],
    ["started", d.started_at],
    ["span id", ldLabel(d.id)],
    ["tags", d.tags && d.tags.length ? d.tags.map(ldLabel).join(", ") : null],
  ]));

  if (d.messages) {
    const msgs = section("Messages", ...d.messages.map(message));
    msgs.querySelector("h4").append(copyButton("Copy prompt", () => d.prompt_text || ""));
    pane.append(msgs);
  }
  if (d.kind === "llm") {
    const out = section("Output");
    out.querySelector("h4").append(copyButton("Copy output", () => {
      let t = d.output_text || "";
      for (const c of d.output_tool_calls || []) t += `${t ? "\n" : ""}→ ${c.name}(${c.arguments})`;
      return t;
    }));
    if (d.output_text) out.append(h("div", "ldt-msg ldt-msg-assistant", pre(d.output_text, "ldt-text ldt-output")));
    if (d.output_tool_calls && d.output_tool_calls.length) out.append(toolCalls(d.output_tool_calls));
    if (!d.output_text && !(d.output_tool_calls && d.output_tool_calls.length)) out.append(h("div", "ldt-dim", "no output"));
    pane.append(out);
  }
  if (d.tools && d.tools.length) {
    pane.append(section(`Tools offered (${d.tools.length})`, ...d.tools.map((t) =>
      collapsible(t.description ? `${ldLabel(t.name)} — ${t.description}` : ldLabel(t.name), t.parameters || "", false))));
  }
  if (d.params && Object.keys(d.params).length) pane.append(section("Parameters", kv(Object.entries(d.params))));
  if (d.input) pane.append(section("Input", pre(d.input)));
  if (d.output) pane.append(section("Output", pre(d.output)));
  if (d.attributes && Object.keys(d.attributes).length) pane.append(section("Attributes", kv(Object.entries(d.attributes))));
  if (d.metadata && Object.keys(d.metadata).length) pane.append(section("Metadata", kv(Object.entries(d.metadata))));
  if (d.events && d.events.length) {
    const table = h("table", "ldt-events");
    const attemptsOnly = d.events.every((e) => e.type === "http_attempt");
    const keys = [...new Set(d.events.flatMap((e) => Object.keys(e)))].filter((k) => !(attemptsOnly && k === "type"));
    table.append(h("tr", null, ...keys.map((k) => h("th", null, ldLabel(k)))));
    for (const e of d.events) {
      const tr = h("tr", e.status >= 400 ? "ldt-bad" : null, ...keys.map((k) => h("td", null, e[k] ?? "")));
      table.append(tr);
    }
    pane.append(section(attemptsOnly ? `HTTP attempts (${d.events.length})` : "Events", table));
  }
  if (d.request_json) pane.append(collapsible("Raw request JSON", d.request_json, false));
  if (d.response_json) pane.append(collapsible("Raw response JSON", d.response_json, false));
  return pane;
}

function render({ model, el }) {
  const t0 = performance.now();
  const root = h("div", "llmdebug-tt");
  root.tabIndex = -1;
  el.append(root);

  // --- traces browser ---------------------------------------------------------
  const fName = h("input", "ldt-input");
  fName.placeholder = "trace name contains…";
  const fModel = h("input", "ldt-input");
  fModel.placeholder = "model contains…";
  const fStatus = h("select", "ldt-input");
  for (const [v, l] of [["", "any status"], ["error", "with errors"], ["ok", "with ok spans"]]) {
    const o = h("option", null, l); o.value = v; fStatus.append(o);
  }
  const fSince = h("select", "ldt-input");
  for (const [v, l] of [["", "any time"], ["15m", "last 15 min"], ["1h", "last hour"], ["1d", "last day"], ["7d", "last 7 days"]]) {
    const o = h("option", null, l); o.value = v; fSince.append(o);
  }
  const tracesBody = h("tbody");
  const tracesTable = h("table", "ldt-traces",
    h("thead", null, h("tr", null, ...["trace", "started", "duration", "spans", "calls", "tokens", "cost", "status"].map((c) => h("th", null, c)))),
    tracesBody);
  const browser = h("div", "ldt-browser",
    h("div", "ldt-filters", fName, fModel, fStatus, fSince),
    h("div", "ldt-traces-scroll", tracesTable));
  let filterTimer = null;
  const pushFilters = () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      model.set("filters", { name: fName.value, model: fModel.value, status: fStatus.value, since: fSince.value });
      model.save_changes();
    }, 250);
  };
  for (const inp of [fName, fModel]) inp.addEventListener("input", pushFilters);
  for (const sel of [fStatus, fSince]) sel.addEventListener("change", pushFilters);

  function drawTraces() {
    tracesBody.replaceChildren();
    const current = model.get("trace_id");
    for (const r of model.get("traces")) {
      const tr = h("tr", `ldt-trace-row${r[T.status] === "error" ? " ldt-bad" : ""}${r[T.id] === current ? " ldt-current" : ""}`,
        h("td", "ldt-trace-name", ldLabel(r[T.name] ?? "")),
        h("td", null, r[T.started_at] ? new Date(r[T.started_at]).toLocaleString() : ""),
        h("td", "ldt-num", fmtMs(r[T.duration_ms])),
        h("td", "ldt-num", fmtInt(r[T.spans])),
        h("td", "ldt-num", fmtInt(r[T.calls])),
        h("td", "ldt-num", fmtTokens(r[T.input_tokens], r[T.output_tokens])),
        h("td", "ldt-num", fmtCost(r[T.cost_usd])),
        h("td", null, r[T.status] === "error" ? `✗ ${r[T.errors]} error${r[T.errors] === 1 ? "" : "s"}` : "✓ ok"));
      tr.dataset.traceId = r[T.id];
      tr.addEventListener("click", () => {
        model.set("trace_id", r[T.id]);
        model.save_changes();
      });
      tracesBody.append(tr);
    }
  }

  // --- header -----------------------------------------------------------------
  const title = h("span", "ldt-title");
  const stats = h("span", "ldt-stats");
  const search = h("input", "ldt-input ldt-search");
  search.placeholder = "search spans, prompts, outputs…  ( / )";
  search.type = "search";
  const toggleBrowser = h("button", "ldt-btn", "");
  toggleBrowser.type = "button";
  toggleBrowser.addEventListener("click", () => {
    model.set("browser", !model.get("browser"));
    model.save_changes();
  });
  const note = h("div", "ldt-message");
  const header = h("div", "ldt-header", title, stats, h("span", "ldt-spacer"), search, toggleBrowser);

  // --- tree (virtualised rows) ---------------------------------------------------
  const axis = h("div", "ldt-row ldt-axis", h("div", "ldt-cell-name", "span"), h("div", "ldt-cell-bar", ""),
    h("div", "ldt-num", "tokens"), h("div", "ldt-num", "cost"), h("div", "ldt-num", "latency"));
  const spacer = h("div", "ldt-spacer-rows");
  const rowsBox = h("div", "ldt-rows");
  spacer.append(rowsBox);
  const tree = h("div", "ldt-tree", spacer);
  tree.tabIndex = 0;
  tree.setAttribute("role", "tree");
  const detail = h("div", "ldt-detail", h("div", "ldt-dim ldt-empty", "Select a span to see its prompt, output, usage and HTTP attempts."));
  const main = h("div", "ldt-main", h("div", "ldt-tree-col", axis, tree), detail);
  root.append(browser, header, note, main);

  let rows = [], strings = [], children = [], depth = [], collapsed = new Set(), visible = [], errBelow = new Uint8Array(0);
  let matches = null, textHits = new Set(), ancestorsOnly = new Set();
  let selected = -1;
  const str = (i) => (i === null || i === undefined ? null : strings[i]);

  function rebuild() {
    rows = model.get("rows");
    strings = model.get("strings");
    children = rows.map(() => []);
    depth = new Array(rows.length).fill(0);
    const roots = [];
    rows.forEach((r, i) => {
      const p = r[F.parent];
      if (p >= 0 && p < i) { children[p].push(i); depth[i] = depth[p] + 1; } else roots.push(i);
    });
    children.roots = roots;
    // a collapsed or healthy-looking parent still shows that something below it failed
    errBelow = new Uint8Array(rows.length);
    for (let i = rows.length - 1; i >= 0; i--) {
      const p = rows[i][F.parent];
      if (p >= 0 && (errBelow[i] || str(rows[i][F.status]) === "error")) errBelow[p] = 1;
    }
    collapsed = new Set();
    selected = model.get("selected");
    applyFilter();
    const total = model.get("total_ms");
    let calls = 0, errors = 0, tin = 0, tout = 0, cost = 0, priced = false, retries = 0;
    for (const r of rows) {
      if (str(r[F.kind]) === "llm") calls++;
      if (str(r[F.status]) === "error") errors++;
      tin += r[F.input_tokens] || 0; tout += r[F.output_tokens] || 0; retries += r[F.retries] || 0;
      if (r[F.cost_usd] !== null) { cost += r[F.cost_usd]; priced = true; }
    }
    title.textContent = ldLabel(model.get("title") || "");
    stats.textContent = rows.length ? [`${rows.length.toLocaleString()} span${rows.length === 1 ? "" : "s"}`,
      `${calls} call${calls === 1 ? "" : "s"}`, fmtMs(total), `${fmtTokens(tin, tout)} tok`,
      priced ? fmtCost(cost) : null, errors ? `${errors} error${errors === 1 ? "" : "s"}` : null,
      retries ? `${retries} retr${retries === 1 ? "y" : "ies"}` : null].filter(Boolean).join(" · ") : "";
    stats.classList.toggle("ldt-has-errors", errors > 0);
    main.style.display = rows.length ? "" : "none";
    drawDetail();
  }

  function applyFilter() {
    const q = search.value.trim().toLowerCase();
    if (!q) { matches = null; ancestorsOnly = new Set(); }
    else {
      matches = new Set();
      rows.forEach((r, i) => {
        const parts = [str(r[F.name]), str(r[F.model]), str(r[F.kind]), str(r[F.error_type]), str(r[F.status])].filter(Boolean);
        // the real text and what is drawn: typing "U+202E" finds the span that shows it
        const hay = [...parts, ...parts.map(ldLabel)].join(" ").toLowerCase();
        if (hay.includes(q) || textHits.has(i)) matches.add(i);
      });
      ancestorsOnly = new Set();
      for (const i of matches) {
        let p = rows[i][F.parent];
        while (p >= 0 && !ancestorsOnly.has(p)) { if (!matches.has(p)) ancestorsOnly.add(p); p = rows[p][F.parent]; }
      }
    }
    computeVisible();
  }

  function computeVisible() {
    visible = [];
    const stack = [...children.roots].reverse();
    while (stack.length) {
      const i = stack.pop();
      if (matches && !matches.has(i) && !ancestorsOnly.has(i)) continue;
      visible.push(i);
      if (!collapsed.has(i)) for (let k = children[i].length - 1; k >= 0; k--) stack.push(children[i][k]);
    }
    spacer.style.height = `${visible.length * ROW_H}px`;
    tree.style.height = `${Math.min(Math.max(visible.length, 1), 16) * ROW_H}px`;
    drawRows();
  }

  function drawRows() {
    const total = model.get("total_ms") || 1;
    const first = Math.max(0, Math.floor(tree.scrollTop / ROW_H) - OVERSCAN);
    const last = Math.min(visible.length, Math.ceil((tree.scrollTop + (tree.clientHeight || 16 * ROW_H)) / ROW_H) + OVERSCAN);
    rowsBox.style.transform = `translateY(${first * ROW_H}px)`;
    const frag = document.createDocumentFragment();
    for (let v = first; v < last; v++) {
      const i = visible[v];
      const r = rows[i];
      const kind = str(r[F.kind]) || "span";
      const err = str(r[F.status]) === "error";
      const twisty = h("span", "ldt-twisty", children[i].length ? (collapsed.has(i) ? "▸" : "▾") : "");
      twisty.dataset.toggle = "1";
      const nameCell = h("div", "ldt-cell-name", twisty,
        h("span", `ldt-kind ldt-kind-${/^[a-z_]+$/.test(kind) ? kind : "span"}`, ldLabel(kind)),
        h("span", "ldt-name", ldLabel(str(r[F.name]) ?? "")),
        r[F.model] !== null ? h("span", "ldt-model", ldLabel(str(r[F.model]))) : null,
        r[F.retries] ? h("span", "ldt-badge ldt-retry", `↻${r[F.retries]}`) : null,
        err ? h("span", "ldt-badge ldt-status-error", ldLabel(str(r[F.error_type]) || "error")) : null,
        !err && errBelow[i] ? h("span", "ldt-err-below", "● error inside") : null);
      nameCell.style.paddingLeft = `${4 + depth[i] * 14}px`;
      const bar = h("div", `ldt-bar${err ? " ldt-bar-error" : ""} ldt-bar-${/^[a-z_]+$/.test(kind) ? kind : "span"}`);
      const left = Math.min(100, (r[F.start_ms] / total) * 100);
      bar.style.left = `${left}%`;
      bar.style.width = `${Math.max(0.3, Math.min(100 - left, ((r[F.latency_ms] || 0) / total) * 100))}%`;
      if (r[F.ttft_ms] !== null && r[F.latency_ms]) {
        const mark = h("div", "ldt-ttft");
        mark.style.left = `${Math.min(100, (r[F.ttft_ms] / r[F.latency_ms]) * 100)}%`;
        bar.append(mark);
      }
      const row = h("div", `ldt-row ldt-span${err ? " ldt-bad" : ""}${r[F.retries] ? " ldt-retried" : ""}${i === selected ? " ldt-selected" : ""}${ancestorsOnly.has(i) ? " ldt-context" : ""}`,
        nameCell, h("div", "ldt-cell-bar", bar),
        h("div", "ldt-num", fmtTokens(r[F.input_tokens], r[F.output_tokens])),
        h("div", "ldt-num", fmtCost(r[F.cost_usd])),
        h("div", "ldt-num", fmtMs(r[F.latency_ms])));
      row.dataset.index = i;
      row.setAttribute("role", "treeitem");
      row.title = `${ldLabel(str(r[F.name]))}${r[F.model] !== null ? " · " + ldLabel(str(r[F.model])) : ""} · ${fmtMs(r[F.latency_ms])}`;
      frag.append(row);
    }
    rowsBox.replaceChildren(frag);
  }

  let selectTimer = null;
  function select(i, { scroll = true } = {}) {
    if (i < 0 || i >= rows.length) return;
    selected = i;
    if (scroll) {
      const v = visible.indexOf(i);
      if (v >= 0) {
        const top = v * ROW_H;
        if (top < tree.scrollTop) tree.scrollTop = top;
        else if (top + ROW_H > tree.scrollTop + tree.clientHeight) tree.scrollTop = top + ROW_H - tree.clientHeight;
      }
    }
    drawRows();
    detail.replaceChildren(h("div", "ldt-dim ldt-empty", "loading…"));
    // Arrow keys move fast: only ask the kernel for the span the user stops on.
    clearTimeout(selectTimer);
    selectTimer = setTimeout(() => { model.set("selected", i); model.save_changes(); }, 80);
  }

  function drawDetail() {
    const d = model.get("detail");
    if (!d || d.index === undefined) {
      if (model.get("selected") < 0) detail.replaceChildren(h("div", "ldt-dim ldt-empty", "Select a span to see its prompt, output, usage and HTTP attempts."));
      return;
    }
    if (d.index !== selected) return; // an answer for an older selection
    detail.replaceChildren(renderDetail(d, actions));
    detail.scrollTop = 0;
  }

  let pickFrom = -1;
  const sendAction = (a) => { model.set("action", { ...a, n: Date.now() }); model.save_changes(); };
  const actions = {
    replay: (i) => sendAction({ kind: "replay", index: i }),
    compare: (i) => {
      pickFrom = i;
      note.textContent = `Click another LLM call to compare with ${ldLabel(str(rows[i][F.name]))} (Esc cancels).`;
      note.style.display = "";
      root.classList.add("ldt-picking");
      tree.focus({ preventScroll: true });
    },
  };
  function endPick() {
    pickFrom = -1;
    root.classList.remove("ldt-picking");
    drawMessage();
  }

  function toggle(i) {
    if (!children[i].length) return;
    if (collapsed.has(i)) collapsed.delete(i); else collapsed.add(i);
    computeVisible();
  }

  rowsBox.addEventListener("click", (ev) => {
    const row = ev.target.closest(".ldt-span");
    if (!row) return;
    const i = Number(row.dataset.index);
    if (pickFrom >= 0 && !ev.target.dataset.toggle) {
      if (i === pickFrom || str(rows[i][F.kind]) !== "llm") {
        note.textContent = "Pick a different LLM call (Esc cancels).";
        return;
      }
      const a = pickFrom;
      endPick();
      sendAction({ kind: "compare", a, b: i });
      return;
    }
    if (ev.target.dataset.toggle) toggle(i);
    else select(i, { scroll: false });
    tree.focus({ preventScroll: true });
  });
  tree.addEventListener("scroll", () => requestAnimationFrame(drawRows));
  tree.addEventListener("keydown", (ev) => {
    const v = visible.indexOf(selected);
    let handled = true;
    switch (ev.key) {
      case "ArrowDown": case "j": select(visible[Math.min(visible.length - 1, v + 1)] ?? visible[0]); break;
      case "ArrowUp": case "k": select(visible[Math.max(0, v - 1)] ?? visible[0]); break;
      case "Home": select(visible[0]); break;
      case "End": select(visible[visible.length - 1]); break;
      case "PageDown": select(visible[Math.min(visible.length - 1, v + 15)]); break;
      case "PageUp": select(visible[Math.max(0, v - 15)]); break;
      case "ArrowRight":
        if (selected >= 0 && collapsed.has(selected)) toggle(selected);
        else if (selected >= 0 && children[selected].length) select(children[selected][0]);
        break;
      case "ArrowLeft":
        if (selected >= 0 && children[selected].length && !collapsed.has(selected)) toggle(selected);
        else if (selected >= 0 && rows[selected][F.parent] >= 0) select(rows[selected][F.parent]);
        break;
      case "Enter": case " ": if (selected >= 0) toggle(selected); break;
      case "/": search.focus(); break;
      case "Escape": if (pickFrom >= 0) endPick(); else handled = false; break;
      default: handled = false;
    }
    if (handled) { ev.preventDefault(); ev.stopPropagation(); }
  });
  // Keys typed into the widget belong to it, not to JupyterLab's notebook shortcuts.
  for (const inp of [search, fName, fModel]) inp.addEventListener("keydown", (ev) => {
    ev.stopPropagation();
    if (ev.key === "Escape") { inp.value = ""; inp.dispatchEvent(new Event("input")); }
    if (ev.key === "Enter" && inp === search) tree.focus();
  });
  let queryTimer = null;
  search.addEventListener("input", () => {
    textHits = new Set();
    applyFilter();
    clearTimeout(queryTimer);
    queryTimer = setTimeout(() => { model.set("query", search.value); model.save_changes(); }, 250);
  });

  function drawBrowser() {
    const on = model.get("browser");
    browser.style.display = on ? "" : "none";
    toggleBrowser.textContent = on ? "Hide traces" : "All traces";
    if (on) drawTraces();
  }
  function drawMessage() {
    note.textContent = visibleText(model.get("message") || "");
    note.style.display = note.textContent ? "" : "none";
  }

  const onRows = () => { rebuild(); drawTraces(); };
  const onDetail = () => drawDetail();
  const onMatches = () => { textHits = new Set(model.get("text_matches")); applyFilter(); };
  const onSelected = () => {
    const s = model.get("selected");
    if (s !== selected) { selected = s; drawRows(); }
  };
  model.on("change:rows", onRows);
  model.on("change:detail", onDetail);
  model.on("change:text_matches", onMatches);
  model.on("change:selected", onSelected);
  model.on("change:browser", drawBrowser);
  model.on("change:traces", drawTraces);
  model.on("change:message", drawMessage);
  const onTitle = () => { title.textContent = ldLabel(model.get("title") || ""); };
  model.on("change:title", onTitle);

  drawBrowser();
  drawMessage();
  rebuild();
  // Rows are drawn into the DOM synchronously above; the browser paints next frame.
  requestAnimationFrame(() => requestAnimationFrame(() => {
    root.dataset.firstPaintMs = (performance.now() - t0).toFixed(1);
    root.dataset.painted = "1";
  }));
  return () => {
    for (const [ev, fn] of [["change:rows", onRows], ["change:detail", onDetail], ["change:text_matches", onMatches],
      ["change:selected", onSelected], ["change:browser", drawBrowser], ["change:traces", drawTraces],
      ["change:message", drawMessage], ["change:title", onTitle]]) model.off(ev, fn);
    clearTimeout(selectTimer); clearTimeout(queryTimer); clearTimeout(filterTimer);
  };
}

export default { render };
