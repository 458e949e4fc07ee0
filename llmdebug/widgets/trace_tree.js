// llmdebug trace tree: a span tree on a shared timeline, a detail pane loaded on
// selection, and a browser of recent traces. Every string from a prompt, response or
// user goes into the DOM as text (textContent), never as HTML, with bidi controls and
// invisible characters drawn as ⟨U+XXXX⟩ (visibleText in _dom.js; ldLabel for names,
// models, kinds, tags...). The model's values stay real: search and copy use them.
//
// The parts, top to bottom: the detail pane (renderDetail and one function per section),
// the span tree (buildTree, spanRow, waterfallBar, and the SpanTree view that virtualises,
// filters, selects and handles keys), the traces browser (makeBrowser, traceRow), the
// header (makeHeader, traceStats), and render(), which wires them to the model.
// Rows arrive positional; ldRecords (_dom.js) names their columns from the synced `fields`.

const ROW_H = 24;
const OVERSCAN = 8;
const EMPTY_DETAIL = "Select a span to see its prompt, output, usage and HTTP attempts.";
const EMPTY_TREE = Object.freeze({ rows: [], children: [], roots: [], depth: [], errBelow: new Uint8Array(0), total: 0 });

// h(), button(), ldRecords(): see _dom.js; fmt: see _format.js; scoreBadge(), scoresPart():
// see trace_scores.js

const has = (v) => v !== null && v !== undefined;
const kindCls = (kind) => (/^[a-z_]+$/.test(kind || "") ? kind : "span");
const roleCls = (role) => (/^[a-z_]+$/.test(role || "") ? role : "other");
const plural = (n, one, many) => `${fmt.count(n)} ${n === 1 ? one : many}`;

// --- small pieces of the detail pane ------------------------------------------------------

async function copyText(text, b) {
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
  const label = b.textContent;
  b.textContent = ok ? "Copied" : "Copy failed";
  setTimeout(() => { b.textContent = label; }, 1200);
}

const copyButton = (label, getText) => button(label, "ldt-btn ldt-copy", (ev, b) => copyText(getText(), b));

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
    box.append(h("div", "ldt-toolcall", h("div", "ldt-toolcall-name", `→ ${ldLabel(c.name ?? fmt.MISSING)}`,
      c.id ? h("span", "ldt-dim", `  ${ldLabel(c.id)}`) : null), pre(c.arguments || "")));
  }
  return box;
}

function message(m) {
  const head = h("div", "ldt-msg-head", h("span", `ldt-role ldt-role-${roleCls(m.role)}`, ldLabel(m.role)));
  if (m.name) head.append(h("span", "ldt-dim", ` ${ldLabel(m.name)}`));
  if (m.tool_call_id) head.append(h("span", "ldt-dim", ` result of ${ldLabel(m.tool_call_id)}`));
  const card = h("div", `ldt-msg ldt-msg-${roleCls(m.role)}`, head);
  if (m.text) card.append(pre(m.text, "ldt-text"));
  if (m.tool_calls && m.tool_calls.length) card.append(toolCalls(m.tool_calls));
  return card;
}

// --- the detail pane: one function per part -----------------------------------------------

function detailBadges(d) {
  return h("div", "ldt-badges",
    h("span", `ldt-badge ldt-kind-${kindCls(d.kind)}`, ldLabel(d.kind)),
    h("span", `ldt-badge ldt-status-${d.status === "error" ? "error" : "ok"}`, ldLabel(d.status)),
    d.provider ? h("span", "ldt-badge", ldLabel(d.provider)) : null,
    d.model ? h("span", "ldt-badge ldt-model", ldLabel(d.model)) : null,
    d.retries ? h("span", "ldt-badge ldt-retry", plural(d.retries, "retry", "retries")) : null,
    d.rate_limit_hits ? h("span", "ldt-badge ldt-retry", `${fmt.count(d.rate_limit_hits)} rate-limited`) : null,
    d.replay_of ? h("span", "ldt-badge", `replay of ${d.replay_of.slice(0, 12)}`) : null);
}

// "Replay…", "Compare with…" and "Make test…" of an LLM call; act: {replay(i), compare(i), makeTest(i, path, expect)}
function detailActions(d, act) {
  const form = makeTestForm((path, expect) => act.makeTest(d.index, path, expect), `tests/test_call_${(d.id || "").slice(0, 8)}.py`);
  return h("div", null, h("div", "ldt-actions",
    button("Replay…", "ldt-btn ldt-act", () => act.replay(d.index),
      "open a playground: edit this call's prompt, model or parameters and run it again"),
    button("Compare with…", "ldt-btn ldt-act", () => act.compare(d.index),
      "then click another LLM call in the tree to see the diff"),
    button("Make test…", "ldt-btn ldt-act ldt-make-test-btn", () => { form.hidden = !form.hidden; },
      "write a pytest file that replays this call from a cassette and checks its answer")), form);
}

// The "Make test…" form: where to write the test, and what the answer must satisfy
// (one expectation a line, as ld.to_test's parse_expectations reads them).
function makeTestForm(send, defaultPath) {
  const path = h("input", "ldt-mt-path");
  path.type = "text";
  path.value = defaultPath;
  path.setAttribute("aria-label", "test file path");
  const expect = h("textarea", "ldt-mt-expect");
  expect.rows = 3;
  expect.value = "json";
  expect.setAttribute("aria-label", "expectations, one a line");
  expect.placeholder = "json | contains: text | not contains: text | equals: text | schema: {...} | " +
    "tool: name {\"arg\": 1} | model: pkg.mod:Model | function: pkg.mod:check";
  const form = h("div", "ldt-make-test",
    h("label", null, "Test file ", path),
    h("label", null, "Expect (one a line: json, contains: …, not contains: …, equals: …, schema: {…}, tool: name {…}, model: pkg.mod:Model, function: pkg.mod:check)", expect),
    button("Write test", "ldt-btn ldt-mt-write", () => send(path.value, expect.value),
      "write the test file and its cassette (pytest -p llmdebug.testing FILE runs it)"));
  form.hidden = true;
  for (const el of [path, expect]) el.addEventListener("keydown", (ev) => ev.stopPropagation());
  return form;
}

function detailError(d) {
  return h("div", "ldt-error-box",
    h("strong", null, `${ldLabel(d.error_type || "Error")}${d.http_status ? ` (HTTP ${d.http_status})` : ""}`),
    pre(d.error_message || ""));
}

function usageText(d) {
  const usage = [];
  if (has(d.input_tokens)) usage.push(`${fmt.count(d.input_tokens)} in`);
  if (has(d.output_tokens)) usage.push(`${fmt.count(d.output_tokens)} out`);
  if (d.cached_tokens) usage.push(`${fmt.count(d.cached_tokens)} cached`);
  if (d.cache_write_tokens) usage.push(`${fmt.count(d.cache_write_tokens)} cache write`);
  if (d.reasoning_tokens) usage.push(`${fmt.count(d.reasoning_tokens)} reasoning`);
  return usage.join(" · ");
}

function costText(d) {
  if (has(d.cost_usd)) return fmt.cost(d.cost_usd);
  if (d.kind !== "llm") return null;
  return has(d.input_tokens) ? "unknown (no price for this model)" : "none (no usage reported)";
}

// latency, tokens, cost, HTTP, endpoint...: a row only for what the span has
function detailFacts(d) {
  return kv([
    ["latency", has(d.latency_ms) ? fmt.duration(d.latency_ms) : null],
    ["first token", has(d.ttft_ms) ? fmt.duration(d.ttft_ms) : null],
    ["tokens", usageText(d)],
    ["cost", costText(d)],
    ["HTTP", d.http_status],
    ["endpoint", d.endpoint ? `${ldLabel(d.endpoint)}${d.stream ? " (stream)" : ""}` : null],
    ["base URL", ldLabel(d.base_url)],
    ["started", has(d.started_at) ? fmt.timestamp(d.started_at) : null],
    ["span id", ldLabel(d.id)],
    ["tags", d.tags && d.tags.length ? d.tags.map(ldLabel).join(", ") : null],
  ]);
}

function detailMessages(d) {
  const msgs = section("Messages", ...d.messages.map(message));
  msgs.querySelector("h4").append(copyButton("Copy prompt", () => d.prompt_text || ""));
  return msgs;
}

function outputText(d) {
  let t = d.output_text || "";
  for (const c of d.output_tool_calls || []) t += `${t ? "\n" : ""}→ ${c.name}(${c.arguments})`;
  return t;
}

// an LLM call's answer: text and tool calls
function detailOutput(d) {
  const out = section("Output");
  out.querySelector("h4").append(copyButton("Copy output", () => outputText(d)));
  const calls = d.output_tool_calls || [];
  if (d.output_text) out.append(h("div", "ldt-msg ldt-msg-assistant", pre(d.output_text, "ldt-text ldt-output")));
  if (calls.length) out.append(toolCalls(calls));
  if (!d.output_text && !calls.length) out.append(h("div", "ldt-dim", "no output"));
  return out;
}

function detailTools(d) {
  return section(`Tools offered (${d.tools.length})`, ...d.tools.map((t) =>
    collapsible(t.description ? `${ldLabel(t.name)} — ${t.description}` : ldLabel(t.name), t.parameters || "", false)));
}

// parameters, a user span's input and output, attributes, metadata: whichever the span has
function detailData(d) {
  const filled = (o) => o && Object.keys(o).length;
  return [
    filled(d.params) ? section("Parameters", kv(Object.entries(d.params))) : null,
    d.input ? section("Input", pre(d.input)) : null,
    d.output ? section("Output", pre(d.output)) : null,
    filled(d.attributes) ? section("Attributes", kv(Object.entries(d.attributes))) : null,
    filled(d.metadata) ? section("Metadata", kv(Object.entries(d.metadata))) : null,
  ];
}

// span events as a table; HTTP attempts (the usual case) under their own title
function detailEvents(d) {
  const table = h("table", "ldt-events");
  const attemptsOnly = d.events.every((e) => e.type === "http_attempt");
  const keys = [...new Set(d.events.flatMap((e) => Object.keys(e)))].filter((k) => !(attemptsOnly && k === "type"));
  table.append(h("tr", null, ...keys.map((k) => h("th", null, ldLabel(k)))));
  for (const e of d.events) {
    table.append(h("tr", e.status >= 400 ? "ldt-bad" : null, ...keys.map((k) => h("td", null, e[k] ?? fmt.MISSING))));
  }
  return section(attemptsOnly ? `HTTP attempts (${d.events.length})` : "Events", table);
}

// everything the pane shows for one span (d: span_detail() of detail.py); act: see
// detailActions; scores: the element of its scoresPart (trace_scores.js)
function renderDetail(d, act, scores) {
  if (d.load_error) return h("div", "ldt-detail-body", h("div", "ldt-error-box", d.load_error));
  const llm = d.kind === "llm";
  return h("div", "ldt-detail-body",
    h("div", "ldt-detail-title", ldLabel(d.name)),
    detailBadges(d),
    llm && act ? detailActions(d, act) : null,
    d.status === "error" ? detailError(d) : null,
    detailFacts(d),
    scores || null,
    d.messages ? detailMessages(d) : null,
    llm ? detailOutput(d) : null,
    d.tools && d.tools.length ? detailTools(d) : null,
    ...detailData(d),
    d.events && d.events.length ? detailEvents(d) : null,
    d.request_json ? collapsible("Raw request JSON", d.request_json, false) : null,
    d.response_json ? collapsible("Raw response JSON", d.response_json, false) : null);
}

// --- the span tree ----------------------------------------------------------------------------

// The synced rows as a tree: records (named by `fields`), children, depth, and whether an
// error sits below a span (a collapsed or healthy-looking parent still shows it).
function buildTree(model) {
  const rows = ldRecords(model, "rows", model.get("strings") || []);
  const children = rows.map(() => []);
  const depth = new Array(rows.length).fill(0);
  const roots = [];
  rows.forEach((r, i) => {
    const p = r.parent;
    if (p >= 0 && p < i) { children[p].push(i); depth[i] = depth[p] + 1; } else roots.push(i);
  });
  const errBelow = new Uint8Array(rows.length);
  for (let i = rows.length - 1; i >= 0; i--) {
    const p = rows[i].parent;
    if (p >= 0 && (errBelow[i] || rows[i].status === "error")) errBelow[p] = 1;
  }
  return { rows, children, roots, depth, errBelow, total: model.get("total_ms") || 0 };
}

// the span's bar on the trace's timeline, with a tick at its first token
function waterfallBar(r, total) {
  const bar = h("div", `ldt-bar${r.status === "error" ? " ldt-bar-error" : ""} ldt-bar-${kindCls(r.kind)}`);
  const left = Math.min(100, (r.start_ms / total) * 100);
  bar.style.left = `${left}%`;
  bar.style.width = `${Math.max(0.3, Math.min(100 - left, ((r.latency_ms || 0) / total) * 100))}%`;
  if (has(r.ttft_ms) && r.latency_ms) {
    const mark = h("div", "ldt-ttft");
    mark.style.left = `${Math.min(100, (r.ttft_ms / r.latency_ms) * 100)}%`;
    bar.append(mark);
  }
  return bar;
}

// twisty, kind, name, model and badges, indented by depth; scores: the span's span_scores entry
function nameCell(tree, i, collapsed, scores) {
  const r = tree.rows[i];
  const err = r.status === "error";
  const twisty = h("span", "ldt-twisty", tree.children[i].length ? (collapsed ? "▸" : "▾") : "");
  twisty.dataset.toggle = "1";
  const kind = r.kind || "span";
  const cell = h("div", "ldt-cell-name", twisty,
    h("span", `ldt-kind ldt-kind-${kindCls(kind)}`, ldLabel(kind)),
    h("span", "ldt-name", ldLabel(r.name ?? "")),
    has(r.model) ? h("span", "ldt-model", ldLabel(r.model)) : null,
    r.retries ? h("span", "ldt-badge ldt-retry", `↻${r.retries}`) : null,
    scoreBadge(scores),
    err ? h("span", "ldt-badge ldt-status-error", ldLabel(r.error_type || "error")) : null,
    !err && tree.errBelow[i] ? h("span", "ldt-err-below", "● error inside") : null);
  cell.style.paddingLeft = `${4 + tree.depth[i] * 14}px`;
  return cell;
}

// one row of the tree: name cell, waterfall bar, tokens, cost, latency.
// look: {collapsed, selected, context, scores}: whether it is folded, selected, only an ancestor
// of a match; its scores (span_scores entry)
function spanRow(tree, i, look) {
  const r = tree.rows[i];
  const row = h("div", `ldt-row ldt-span${r.status === "error" ? " ldt-bad" : ""}${r.retries ? " ldt-retried" : ""}` +
      `${look.selected ? " ldt-selected" : ""}${look.context ? " ldt-context" : ""}`,
    nameCell(tree, i, look.collapsed, look.scores),
    h("div", "ldt-cell-bar", waterfallBar(r, tree.total || 1)),
    h("div", "ldt-num", fmt.tokens(r.input_tokens, r.output_tokens)),
    h("div", "ldt-num", fmt.cost(r.cost_usd)),
    h("div", "ldt-num", fmt.duration(r.latency_ms)));
  row.dataset.index = i;
  row.setAttribute("role", "treeitem");
  row.title = `${ldLabel(r.name ?? "")}${has(r.model) ? " · " + ldLabel(r.model) : ""} · ${fmt.duration(r.latency_ms)}`;
  return row;
}

// The spans whose name, model, kind, error or status hold q (as stored or as drawn: typing
// "U+202E" finds the span that shows it) or whose text Python matched (textHits), and the
// ancestors that only give them context.
function searchMatches(tree, q, textHits) {
  if (!q) return { matches: null, ancestorsOnly: new Set() };
  const matches = new Set();
  tree.rows.forEach((r, i) => {
    const parts = [r.name, r.model, r.kind, r.error_type, r.status].filter(Boolean);
    const hay = [...parts, ...parts.map(ldLabel)].join(" ").toLowerCase();
    if (hay.includes(q) || textHits.has(i)) matches.add(i);
  });
  const ancestorsOnly = new Set();
  for (const i of matches) {
    let p = tree.rows[i].parent;
    while (p >= 0 && !ancestorsOnly.has(p)) {
      if (!matches.has(p)) ancestorsOnly.add(p);
      p = tree.rows[p].parent;
    }
  }
  return { matches, ancestorsOnly };
}

// The tree and the detail pane: virtualised rows, folding, search filtering, selection (the
// kernel loads the selected span's detail), keys, and picking a second call to compare.
class SpanTree {
  // root: the widget's element; search: the header's search box; note: the message line
  constructor(model, { root, search, note }) {
    this.model = model;
    this.root = root;
    this.search = search;
    this.note = note;
    this.tree = EMPTY_TREE;
    this.collapsed = new Set();
    this.visible = [];
    this.filter = { matches: null, ancestorsOnly: new Set() };
    this.textHits = new Set();
    this.selected = -1;
    this.pickFrom = -1;
    this.selectTimer = null;
    this.scores = {};  // span_scores
    this.scorePart = null;  // the detail pane's scores section, while one is shown
    this.buildDom();
  }

  buildDom() {
    const axis = h("div", "ldt-row ldt-axis", h("div", "ldt-cell-name", "span"), h("div", "ldt-cell-bar", ""),
      h("div", "ldt-num", "tokens"), h("div", "ldt-num", "cost"), h("div", "ldt-num", "latency"));
    this.rowsBox = h("div", "ldt-rows");
    this.spacer = h("div", "ldt-spacer-rows", this.rowsBox);
    this.scroller = h("div", "ldt-tree", this.spacer);
    this.scroller.tabIndex = 0;
    this.scroller.setAttribute("role", "tree");
    this.detail = h("div", "ldt-detail", h("div", "ldt-dim ldt-empty", EMPTY_DETAIL));
    this.el = h("div", "ldt-main", h("div", "ldt-tree-col", axis, this.scroller), this.detail);
    this.rowsBox.addEventListener("click", (ev) => this.onClick(ev));
    this.scroller.addEventListener("scroll", () => requestAnimationFrame(() => this.drawRows()));
    this.scroller.addEventListener("keydown", (ev) => this.onKey(ev));
  }

  // new rows from the kernel (another trace): folds reset, the selection is the model's
  rebuild() {
    this.tree = buildTree(this.model);
    this.scores = this.model.get("span_scores") || {};
    this.collapsed = new Set();
    this.selected = this.model.get("selected");
    this.applyFilter();
    this.el.style.display = this.tree.rows.length ? "" : "none";
    this.drawDetail();
  }

  applyFilter() {
    this.filter = searchMatches(this.tree, this.search.value.trim().toLowerCase(), this.textHits);
    this.computeVisible();
  }

  setTextHits(indices) {
    this.textHits = new Set(indices);
    this.applyFilter();
  }

  // the spans shown, in order: unfolded, and matching the search or leading to a match
  computeVisible() {
    const { children, roots } = this.tree;
    const { matches, ancestorsOnly } = this.filter;
    const visible = [];
    const stack = [...roots].reverse();
    while (stack.length) {
      const i = stack.pop();
      if (matches && !matches.has(i) && !ancestorsOnly.has(i)) continue;
      visible.push(i);
      if (!this.collapsed.has(i)) for (let k = children[i].length - 1; k >= 0; k--) stack.push(children[i][k]);
    }
    this.visible = visible;
    this.spacer.style.height = `${visible.length * ROW_H}px`;
    this.scroller.style.height = `${Math.min(Math.max(visible.length, 1), 16) * ROW_H}px`;
    this.drawRows();
  }

  // only the rows in view (plus some overscan) are in the DOM
  drawRows() {
    const top = this.scroller.scrollTop;
    const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const last = Math.min(this.visible.length,
      Math.ceil((top + (this.scroller.clientHeight || 16 * ROW_H)) / ROW_H) + OVERSCAN);
    this.rowsBox.style.transform = `translateY(${first * ROW_H}px)`;
    const frag = document.createDocumentFragment();
    for (let v = first; v < last; v++) {
      const i = this.visible[v];
      frag.append(spanRow(this.tree, i, { collapsed: this.collapsed.has(i), selected: i === this.selected,
        context: this.filter.ancestorsOnly.has(i), scores: this.scores[i] }));
    }
    this.rowsBox.replaceChildren(frag);
  }

  scrollTo(i) {
    const v = this.visible.indexOf(i);
    if (v < 0) return;
    const top = v * ROW_H, el = this.scroller;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + ROW_H > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_H - el.clientHeight;
  }

  select(i, { scroll = true } = {}) {
    if (i === undefined || i < 0 || i >= this.tree.rows.length) return;
    this.selected = i;
    if (scroll) this.scrollTo(i);
    this.drawRows();
    const d = this.model.get("detail");
    if (this.model.get("selected") === i && d && d.index === i) {
      // already the kernel's selection (chosen from Python, or clicked again): no change
      // would reach the kernel, so no answer would come; its detail is already here
      clearTimeout(this.selectTimer);
      this.drawDetail();
      return;
    }
    this.detail.replaceChildren(h("div", "ldt-dim ldt-empty", "loading…"));
    // Arrow keys move fast: only ask the kernel for the span the user stops on.
    clearTimeout(this.selectTimer);
    this.selectTimer = setTimeout(() => { this.model.set("selected", i); this.model.save_changes(); }, 80);
  }

  // the kernel changed `selected` (a span chosen from Python)
  syncSelected() {
    const s = this.model.get("selected");
    if (s !== this.selected) { this.selected = s; this.drawRows(); }
  }

  toggle(i) {
    if (!this.tree.children[i].length) return;
    if (this.collapsed.has(i)) this.collapsed.delete(i); else this.collapsed.add(i);
    this.computeVisible();
  }

  drawDetail() {
    const d = this.model.get("detail");
    if (!d || d.index === undefined) {
      if (this.model.get("selected") < 0) this.detail.replaceChildren(h("div", "ldt-dim ldt-empty", EMPTY_DETAIL));
      return;
    }
    if (d.index !== this.selected) return; // an answer for an older selection
    this.scorePart = d.load_error ? null : scoresPart(d.index, this.scores[d.index], {
      feedback: (i, req) => this.sendAction({ kind: "feedback", index: i, ...req }),
      openSpan: (id) => this.sendAction({ kind: "open_span", span_id: id }),
    });
    this.detail.replaceChildren(renderDetail(d, {
      replay: (i) => this.sendAction({ kind: "replay", index: i }),
      compare: (i) => this.startPick(i),
      makeTest: (i, path, expect) => this.sendAction({ kind: "make_test", index: i, path, expect }),
    }, this.scorePart && this.scorePart.el));
    this.detail.scrollTop = 0;
  }

  // new scores from the kernel (feedback saved, or a span reselected): rows and the open list
  setScores(scores) {
    this.scores = scores || {};
    this.drawRows();
    const d = this.model.get("detail");
    if (this.scorePart && d && d.index === this.selected) this.scorePart.update(this.scores[this.selected]);
  }

  // the kernel's answer to a Save of the feedback form
  feedbackReply(r) {
    if (this.scorePart && r && r.index === this.selected) this.scorePart.reply(r);
  }

  sendAction(a) {
    this.model.set("action", { ...a, n: Date.now() });
    this.model.save_changes();
  }

  // "Compare with…": the next LLM call clicked is the other side
  startPick(i) {
    this.pickFrom = i;
    this.note.textContent = `Click another LLM call to compare with ${ldLabel(this.tree.rows[i].name)} (Esc cancels).`;
    this.note.style.display = "";
    this.root.classList.add("ldt-picking");
    this.scroller.focus({ preventScroll: true });
  }

  endPick() {
    this.pickFrom = -1;
    this.root.classList.remove("ldt-picking");
    this.drawMessage();
  }

  picked(i) {
    if (i === this.pickFrom || this.tree.rows[i].kind !== "llm") {
      this.note.textContent = "Pick a different LLM call (Esc cancels).";
      return;
    }
    const a = this.pickFrom;
    this.endPick();
    this.sendAction({ kind: "compare", a, b: i });
  }

  drawMessage() {
    this.note.textContent = visibleText(this.model.get("message") || "");
    this.note.style.display = this.note.textContent ? "" : "none";
  }

  onClick(ev) {
    const row = ev.target.closest(".ldt-span");
    if (!row) return;
    const i = Number(row.dataset.index);
    const onTwisty = !!ev.target.dataset.toggle;
    if (this.pickFrom >= 0 && !onTwisty) { this.picked(i); return; }
    if (onTwisty) this.toggle(i);
    else this.select(i, { scroll: false });
    this.scroller.focus({ preventScroll: true });
  }

  // ↑/↓ (j/k), Home/End, PageUp/PageDown move; ←/→ fold, unfold or go to the parent or
  // first child; Enter/Space fold; / searches; Esc cancels a pick
  onKey(ev) {
    const { visible, selected } = this;
    const { rows, children } = this.tree;
    const v = visible.indexOf(selected);
    const open = selected >= 0 && children[selected].length && !this.collapsed.has(selected);
    const moves = {
      ArrowDown: () => this.select(visible[Math.min(visible.length - 1, v + 1)] ?? visible[0]),
      ArrowUp: () => this.select(visible[Math.max(0, v - 1)] ?? visible[0]),
      Home: () => this.select(visible[0]),
      End: () => this.select(visible[visible.length - 1]),
      PageDown: () => this.select(visible[Math.min(visible.length - 1, v + 15)]),
      PageUp: () => this.select(visible[Math.max(0, v - 15)]),
      ArrowRight: () => {
        if (selected >= 0 && this.collapsed.has(selected)) this.toggle(selected);
        else if (selected >= 0 && children[selected].length) this.select(children[selected][0]);
      },
      ArrowLeft: () => {
        if (open) this.toggle(selected);
        else if (selected >= 0 && rows[selected].parent >= 0) this.select(rows[selected].parent);
      },
      Enter: () => { if (selected >= 0) this.toggle(selected); },
      "/": () => this.search.focus(),
    };
    moves.j = moves.ArrowDown;
    moves.k = moves.ArrowUp;
    moves[" "] = moves.Enter;
    if (ev.key === "Escape" && this.pickFrom >= 0) moves.Escape = () => this.endPick();
    if (!Object.hasOwn(moves, ev.key)) return;
    moves[ev.key]();
    ev.preventDefault();
    ev.stopPropagation();
  }
}

// --- the traces browser -----------------------------------------------------------------------

function options(pairs) {
  const s = h("select", "ldt-input");
  for (const [v, l] of pairs) {
    const o = h("option", null, l);
    o.value = v;
    s.append(o);
  }
  return s;
}

function traceRow(r, current, open) {
  const bad = r.status === "error";
  const tr = h("tr", `ldt-trace-row${bad ? " ldt-bad" : ""}${r.trace_id === current ? " ldt-current" : ""}`,
    h("td", "ldt-trace-name", ldLabel(r.name ?? fmt.MISSING)),
    h("td", null, fmt.timestamp(r.started_at)),
    h("td", "ldt-num", fmt.duration(r.duration_ms)),
    h("td", "ldt-num", fmt.count(r.spans)),
    h("td", "ldt-num", fmt.count(r.calls)),
    h("td", "ldt-num", fmt.tokens(r.input_tokens, r.output_tokens)),
    h("td", "ldt-num", fmt.cost(r.cost_usd)),
    h("td", null, bad ? `✗ ${plural(r.errors, "error", "errors")}` : "✓ ok"));
  tr.dataset.traceId = r.trace_id;
  tr.addEventListener("click", () => open(r.trace_id));
  return tr;
}

// The filters and the table of recent traces; a click opens a trace in the tree.
function makeBrowser(model) {
  const name = h("input", "ldt-input");
  name.placeholder = "trace name contains…";
  const modelBox = h("input", "ldt-input");
  modelBox.placeholder = "model contains…";
  const status = options([["", "any status"], ["error", "with errors"], ["ok", "with ok spans"]]);
  const since = options([["", "any time"], ["15m", "last 15 min"], ["1h", "last hour"], ["1d", "last day"],
    ["7d", "last 7 days"]]);
  const body = h("tbody");
  const table = h("table", "ldt-traces", h("thead", null, h("tr", null,
    ...["trace", "started", "duration", "spans", "calls", "tokens", "cost", "status"].map((c) => h("th", null, c)))), body);
  const el = h("div", "ldt-browser", h("div", "ldt-filters", name, modelBox, status, since),
    h("div", "ldt-traces-scroll", table));
  let timer = null;
  const push = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      model.set("filters", { name: name.value, model: modelBox.value, status: status.value, since: since.value });
      model.save_changes();
    }, 250);
  };
  for (const inp of [name, modelBox]) inp.addEventListener("input", push);
  for (const sel of [status, since]) sel.addEventListener("change", push);
  const open = (id) => { model.set("trace_id", id); model.save_changes(); };
  const draw = () => {
    const current = model.get("trace_id");
    body.replaceChildren(...ldRecords(model, "traces").map((r) => traceRow(r, current, open)));
  };
  return { el, draw, inputs: [name, modelBox], dispose: () => clearTimeout(timer) };
}

// --- the header -------------------------------------------------------------------------------

// "12 spans · 5 calls · 3.2 s · 1,234→567 tok · $0.0123 · 1 error · 2 retries"
function traceStats(tree) {
  let calls = 0, errors = 0, tin = 0, tout = 0, cost = 0, priced = false, retries = 0;
  for (const r of tree.rows) {
    if (r.kind === "llm") calls++;
    if (r.status === "error") errors++;
    tin += r.input_tokens || 0; tout += r.output_tokens || 0; retries += r.retries || 0;
    if (has(r.cost_usd)) { cost += r.cost_usd; priced = true; }
  }
  const n = tree.rows.length;
  const text = !n ? "" : [plural(n, "span", "spans"), plural(calls, "call", "calls"), fmt.duration(tree.total),
    `${fmt.tokens(tin, tout)} tok`, priced ? fmt.cost(cost) : null, errors ? plural(errors, "error", "errors") : null,
    retries ? plural(retries, "retry", "retries") : null].filter(Boolean).join(" · ");
  return { text, errors };
}

function makeHeader(model) {
  const title = h("span", "ldt-title");
  const stats = h("span", "ldt-stats");
  const search = h("input", "ldt-input ldt-search");
  // short enough for the box; the "/" shortcut is in the tooltip
  search.placeholder = "search spans, prompts, outputs";
  search.title = "Search span names, models, prompts and outputs (press / to get here)";
  search.type = "search";
  const toggleBrowser = button("", "ldt-btn", () => {
    model.set("browser", !model.get("browser"));
    model.save_changes();
  });
  const el = h("div", "ldt-header", title, stats, h("span", "ldt-spacer"), search, toggleBrowser);
  const drawTitle = () => { title.textContent = ldLabel(model.get("title") || ""); };
  const drawStats = (tree) => {
    const s = traceStats(tree);
    stats.textContent = s.text;
    stats.classList.toggle("ldt-has-errors", s.errors > 0);
  };
  return { el, search, toggleBrowser, drawTitle, drawStats };
}

// --- the widget -------------------------------------------------------------------------------

// Keys typed into the widget's boxes belong to them, not to JupyterLab's notebook shortcuts;
// Esc clears a box, Enter in the search box goes to the tree.
function ownKeys(inputs, search, tree) {
  for (const inp of inputs) inp.addEventListener("keydown", (ev) => {
    ev.stopPropagation();
    if (ev.key === "Escape") { inp.value = ""; inp.dispatchEvent(new Event("input")); }
    if (ev.key === "Enter" && inp === search) tree.scroller.focus();
  });
}

function render({ model, el }) {
  const t0 = performance.now();
  const root = h("div", "llmdebug llmdebug-tt");
  root.tabIndex = -1;
  el.append(root);
  const browser = makeBrowser(model);
  const header = makeHeader(model);
  const note = h("div", "ldt-message");
  const tree = new SpanTree(model, { root, search: header.search, note });
  root.append(browser.el, header.el, note, tree.el);
  ownKeys([header.search, ...browser.inputs], header.search, tree);

  let queryTimer = null;
  header.search.addEventListener("input", () => {
    tree.setTextHits([]);  // names match at once; Python answers for prompt and output text
    clearTimeout(queryTimer);
    queryTimer = setTimeout(() => { model.set("query", header.search.value); model.save_changes(); }, 250);
  });

  const drawBrowser = () => {
    const on = model.get("browser");
    browser.el.style.display = on ? "" : "none";
    header.toggleBrowser.textContent = on ? "Hide traces" : "All traces";
    if (on) browser.draw();
  };
  const drawTree = () => { tree.rebuild(); header.drawTitle(); header.drawStats(tree.tree); };
  const handlers = [
    ["change:rows", () => { drawTree(); browser.draw(); }],
    ["change:detail", () => tree.drawDetail()],
    ["change:span_scores", () => tree.setScores(model.get("span_scores"))],
    ["change:feedback_reply", () => tree.feedbackReply(model.get("feedback_reply"))],
    ["change:text_matches", () => tree.setTextHits(model.get("text_matches"))],
    ["change:selected", () => tree.syncSelected()],
    ["change:browser", drawBrowser],
    ["change:traces", () => browser.draw()],
    ["change:message", () => tree.drawMessage()],
    ["change:title", () => header.drawTitle()],
  ];
  for (const [ev, fn] of handlers) model.on(ev, fn);

  drawBrowser();
  tree.drawMessage();
  drawTree();
  // Rows are drawn into the DOM synchronously above; the browser paints next frame.
  requestAnimationFrame(() => requestAnimationFrame(() => {
    root.dataset.firstPaintMs = (performance.now() - t0).toFixed(1);
    root.dataset.painted = "1";
  }));
  return () => {
    for (const [ev, fn] of handlers) model.off(ev, fn);
    clearTimeout(tree.selectTimer); clearTimeout(queryTimer); browser.dispose();
  };
}

export default { render };
