// llmdebug diff: two LLM calls compared part by part (system prompt, messages, tools,
// parameters, output), side by side or unified. The diff itself is computed in Python
// (llmdebug/diff.py); this file only draws it. Every string from a prompt, response or
// user goes into the DOM as text (textContent), never as HTML, with bidi controls and
// invisible characters drawn as ⟨U+XXXX⟩ (visibleText in _dom.js; ldLabel for names).

const FOLD_LINES = 7;     // unchanged runs longer than this many lines fold
const FOLD_CONTEXT = 2;   // lines kept visible on each side of a fold
const FOLD_CHARS = 1500;  // one-line unchanged runs longer than this fold too
const FOLD_KEEP = 300;

// h(), button(): see _dom.js; fmt: see _format.js

const safeCls = (s) => (/^[a-z_]+$/.test(s || "") ? s : "other");
const plural = (n, w) => `${fmt.count(n)} ${w}${n === 1 ? "" : "s"}`;
const isNum = (v) => typeof v === "number" && Number.isFinite(v);
const FMT = { input_tokens: fmt.count, output_tokens: fmt.count, cost_usd: fmt.cost, latency_ms: fmt.duration };
const DELTA_LABEL = { input_tokens: "input tokens", output_tokens: "output tokens", cost_usd: "cost", latency_ms: "latency" };
const OP_LABEL = { equal: "unchanged", changed: "changed", added: "added", removed: "removed", moved: "moved" };
const MARK = { equal: " ", changed: "~", added: "+", removed: "−", moved: "↕" };

// An inserted or deleted run made only of invisible characters (a ZWJ too) is drawn with
// the label rule: a change is never invisible. The same rule as diff_view.py.
function changeText(text) {
  const shown = ldLabel(text);
  return text && /^(⟨U\+[0-9A-F]{4,6}⟩)+$/.test(shown) ? shown : text;
}

function jsonText(v) {
  if (v === undefined) return "";
  try { return JSON.stringify(v, null, 2); } catch (_) { return String(v); }
}
function jsonShort(v) {
  let s;
  try { s = JSON.stringify(v); } catch (_) { s = String(v); }
  if (s === undefined) s = "undefined";
  return s.length > 300 ? s.slice(0, 299) + "…" : s;
}

// --- text with highlighted changes ------------------------------------------------------

// Texts are drawn by a kit bound to one widget: a fold the user opens is remembered by
// key, so it stays open across redraws and view switches, and opening it in one column
// of the side-by-side view opens the matching fold in the other column too.
function textKit(expanded, root) {
  // One unchanged run, folded when long: the first/last lines stay as context.
  function equalRun(text, first, last, key) {
    const frag = document.createDocumentFragment();
    if (key && expanded.has(key)) { frag.append(text); return frag; }
    const lines = text.split("\n");
    if (lines.length > FOLD_LINES) {
      const head = first ? [] : lines.slice(0, FOLD_CONTEXT);
      const tail = last ? [] : lines.slice(lines.length - FOLD_CONTEXT);
      const hidden = lines.slice(head.length, lines.length - tail.length);
      // the fold is a block of its own: the newlines around it come back on expansion
      const shown = (head.length ? "\n" : "") + hidden.join("\n") + (tail.length ? "\n" : "");
      if (head.length) frag.append(head.join("\n"));
      frag.append(fold(`… ${plural(hidden.length, "unchanged line")}`, shown, true, key));
      if (tail.length) frag.append(tail.join("\n"));
      return frag;
    }
    if (text.length > FOLD_CHARS) {
      const head = first ? "" : text.slice(0, FOLD_KEEP);
      const tail = last ? "" : text.slice(text.length - FOLD_KEEP);
      frag.append(head, fold(`… ${fmt.count(text.length - head.length - tail.length)} unchanged characters`,
        text.slice(head.length, text.length - tail.length), false, key), tail);
      return frag;
    }
    frag.append(text);
    return frag;
  }

  function fold(label, hiddenText, block, key) {
    const b = button(label, `ldd-fold ldd-fold-text${block ? " ldd-fold-block" : ""}`, () => {
      if (!key) { b.replaceWith(document.createTextNode(hiddenText)); return; }
      expanded.add(key);
      for (const other of root.querySelectorAll("button.ldd-fold-text")) {
        if (other.dataset.fold === key) other.replaceWith(document.createTextNode(other._hidden));
      }
    }, "show the unchanged text");
    b._hidden = hiddenText;
    if (key) b.dataset.fold = key;
    return b;
  }

  // segments [[op, text]] as a <pre>: side "a" shows equal+delete, "b" equal+insert, "u" all
  function segText(segs, side, key, cls) {
    const pre = h("pre", "ldd-text" + (cls ? " " + cls : ""));
    const shown = [];
    segs.forEach(([op, text], k) => {
      if (op === "equal" || side === "u" || (side === "a" ? op === "delete" : op === "insert")) shown.push([op, text, k]);
    });
    shown.forEach(([op, text, k], n) => {
      if (op === "equal") pre.append(equalRun(text, n === 0, n === shown.length - 1, key ? `${key}:${k}` : null));
      else if (op === "delete") pre.append(h("del", "ldd-del", changeText(text)));
      else pre.append(h("ins", "ldd-ins", changeText(text)));
    });
    if (!shown.length) pre.append(h("span", "ldd-dim", "(empty)"));
    return pre;
  }

  function plainText(text, key, cls) {
    const pre = h("pre", "ldd-text" + (cls ? " " + cls : ""));
    if (text) pre.append(equalRun(text, true, true, key ? `${key}:0` : null));
    else pre.append(h("span", "ldd-dim", "(empty)"));
    return pre;
  }

  return { segText, plainText };
}

function wholeText(text, op) {
  // an added or removed text: all of it is the change
  const pre = h("pre", "ldd-text");
  if (!text) { pre.append(h("span", "ldd-dim", "(empty)")); return pre; }
  pre.append(h(op === "added" ? "ins" : "del", op === "added" ? "ldd-ins" : "ldd-del", text));
  return pre;
}

function jsonChanges(changes, limit = 200) {
  const box = h("div", "ldd-jchanges");
  for (const c of changes.slice(0, limit)) {
    const row = h("div", `ldd-jc ldd-jc-${safeCls(c.op)}`, h("span", "ldd-mark", MARK[c.op === "changed" ? "changed" : c.op] || "?"),
      h("code", "ldd-path", ldLabel(c.path)));
    if (c.op !== "added") row.append(h("del", "ldd-del", jsonShort(c.old)));
    if (c.op === "changed") row.append(h("span", "ldd-arrow", "→"));
    if (c.op !== "removed") row.append(h("ins", "ldd-ins", jsonShort(c.new)));
    box.append(row);
  }
  if (changes.length > limit) box.append(h("div", "ldd-dim", `… ${changes.length - limit} more changes`));
  return box;
}

// --- the widget -----------------------------------------------------------------------------

function render({ model, el }) {
  const root = h("div", "llmdebug llmdebug-diff");
  el.append(root);
  const expanded = new Set(); // folds the user opened (runs of messages, tools, params, lines)
  const { segText, plainText } = textKit(expanded, root);

  function draw() {
    const d = model.get("diff") || {};
    const view = model.get("view") === "unified" ? "unified" : "side";
    root.dataset.view = view;
    root.className = `llmdebug llmdebug-diff ldd-view-${view}`;
    if (!d.summary) {
      root.replaceChildren(h("div", "ldd-dim", "llmdebug diff: nothing to compare"));
      return;
    }
    const labels = { a: model.get("a_label") || "A", b: model.get("b_label") || "B" };
    root.replaceChildren(
      header(d, labels, view),
      systemSection(d.system, view),
      messagesSection(d, view),
      toolsSection(d, view),
      paramsSection(d, view, labels),
      outputSection(d.output, view));
    root.dataset.painted = "1";
  }

  // --- header: the two calls, the deltas, the summary and the view switch ------------------
  function sideCard(s, label, which) {
    const status = s.status === "error" ? "error" : "ok";
    const card = h("div", `ldd-call ldd-call-${which}`,
      h("span", `ldd-label ldd-label-${which}`, ldLabel(label)),
      h("span", "ldd-model", ldLabel(s.model || fmt.MISSING)),
      s.provider ? h("span", "ldd-badge", ldLabel(s.provider)) : null,
      h("span", `ldd-badge ldd-status-${status}`, s.status === "error" ? ldLabel(s.error_type || "error") : "ok"));
    const stats = [];
    if (isNum(s.input_tokens) || isNum(s.output_tokens)) stats.push(`${fmt.tokens(s.input_tokens, s.output_tokens)} tok`);
    if (isNum(s.cost_usd)) stats.push(fmt.cost(s.cost_usd));
    if (isNum(s.latency_ms)) stats.push(fmt.duration(s.latency_ms));
    card.append(h("span", "ldd-stats", stats.join(" · ")));
    if (s.id) {
      const id = h("span", "ldd-id", s.id.slice(0, 12));
      id.title = ldLabel(s.id);
      card.append(id);
    }
    return card;
  }

  function header(d, labels, view) {
    const deltas = h("div", "ldd-deltas", h("span", "ldd-dim", "Δ B − A"));
    for (const [k, v] of Object.entries(d.deltas || {})) {
      const show = FMT[k] || String;
      let text, cls = "ldd-delta";
      if (v.delta === null || v.delta === undefined) {
        text = `${DELTA_LABEL[k] || k} ${fmt.MISSING}`;
        cls += " ldd-unknown";
      } else {
        const sign = v.delta > 0 ? "+" : v.delta < 0 ? "−" : "±";
        const pct = isNum(v.a) && v.a !== 0 && v.delta !== 0 ? ` (${sign}${fmt.percent(Math.abs(v.delta / v.a), 0)})` : "";
        text = `${DELTA_LABEL[k] || k} ${sign}${show(Math.abs(v.delta))}${pct}`;
        // more tokens, cost or time is worse
        cls += v.delta > 0 ? " ldd-worse" : v.delta < 0 ? " ldd-better" : " ldd-same";
      }
      const chip = h("span", cls, text);
      chip.dataset.key = k;
      chip.title = `${ldLabel(labels.a)}: ${show(v.a)}   ${ldLabel(labels.b)}: ${show(v.b)}`;
      deltas.append(chip);
    }
    const s = d.summary;
    const summary = h("div", `ldd-summary${s.same ? " ldd-identical" : ""}`,
      s.same ? "Same prompt, parameters and output" : `${plural(s.changes, "change")}: ${s.parts.join(", ")}`);
    const toggle = h("div", "ldd-viewtoggle");
    toggle.setAttribute("role", "group");
    for (const [v, label] of [["side", "Side by side"], ["unified", "Unified"]]) {
      const b = button(label, `ldd-btn ldd-view-btn${v === view ? " ldd-active" : ""}`, () => {
        model.set("view", v);
        model.save_changes();
      });
      b.dataset.view = v;
      b.setAttribute("aria-pressed", String(v === view));
      toggle.append(b);
    }
    return h("div", "ldd-head",
      h("div", "ldd-calls", sideCard(d.a, labels.a, "a"), sideCard(d.b, labels.b, "b")),
      deltas,
      h("div", "ldd-toolbar", summary, h("span", "ldd-spacer"), toggle));
  }

  function section(name, title, counts, ...body) {
    const head = h("h4", "ldd-section-title", title);
    for (const [op, n] of counts) if (n) head.append(h("span", `ldd-chip ldd-chip-${op}`, `${n} ${OP_LABEL[op] || op}`));
    const sec = h("section", `ldd-section ldd-sec-${name}`, head, ...body);
    return sec;
  }

  // --- system prompt ---------------------------------------------------------------------
  function systemSection(sy, view) {
    if (!sy.a && !sy.b) return section("system", "System", [], h("div", "ldd-dim", "no system prompt on either side"));
    let body;
    if (sy.op === "equal") body = view === "side" ? pair(plainText(sy.a, "sys"), plainText(sy.b, "sys")) : plainText(sy.a, "sys");
    else if (view === "side") body = pair(sy.a ? segText(sy.text, "a", "sys") : emptyCell("no system prompt"),
      sy.b ? segText(sy.text, "b", "sys") : emptyCell("no system prompt"));
    else body = segText(sy.text, "u", "sys");
    const sec = section("system", "System", [[sy.op, 1]], body);
    sec.dataset.op = sy.op;
    return sec;
  }

  function pair(left, right, op) {
    const row = h("div", `ldd-row${op ? " ldd-op-" + safeCls(op) : ""}`, cell(left, "a"), cell(right, "b"));
    if (op) row.dataset.op = op;
    return row;
  }
  function cell(content, which) {
    if (content && content.classList && content.classList.contains("ldd-cell")) return content;
    return h("div", `ldd-cell ldd-cell-${which}`, content);
  }
  function emptyCell(note) {
    return h("div", "ldd-cell ldd-empty", note ? h("span", "ldd-dim", note) : null);
  }

  // --- messages ------------------------------------------------------------------------------
  function role(m) {
    return h("span", `ldd-role ldd-role-${safeCls(m.role)}`, ldLabel(m.role));
  }

  function msgHead(e, m, which) {
    const idx = which === "a" ? e.a_index : e.b_index;
    const head = h("div", "ldd-msg-head");
    if (e.op === "changed" && e.role_changed && which === "u") {
      head.append(h("del", "ldd-del ldd-role", ldLabel(e.a.role)), h("span", "ldd-arrow", "→"), h("ins", "ldd-ins ldd-role", ldLabel(e.b.role)));
    } else if (e.op === "changed" && e.role_changed) {
      head.append(h(which === "a" ? "del" : "ins", `${which === "a" ? "ldd-del" : "ldd-ins"} ldd-role`, ldLabel(m.role)));
    } else head.append(role(m));
    if (idx !== null && idx !== undefined) head.append(h("span", "ldd-idx", `#${idx}`));
    if (m.name) head.append(h("span", "ldd-dim", ldLabel(m.name)));
    if (m.tool_call_id) head.append(h("span", "ldd-dim", `result of ${ldLabel(m.tool_call_id)}`));
    if (e.op === "moved" && which !== "a") head.append(h("span", "ldd-chip ldd-chip-moved", `moved from #${e.a_index}`));
    if (e.op === "moved" && which === "a") head.append(h("span", "ldd-chip ldd-chip-moved", `moved to #${e.b_index}`));
    if (e.op !== "equal" && e.op !== "moved" && which === "u") head.append(h("span", `ldd-chip ldd-chip-${safeCls(e.op)}`, OP_LABEL[e.op]));
    if (e.op === "changed" && e.role_changed) head.append(h("span", "ldd-chip ldd-chip-changed", "role changed"));
    return head;
  }

  function callsPlain(calls, op, key) {
    const box = h("div", "ldd-toolcalls");
    (calls || []).forEach((c, i) => {
      const args = prettyArgs(c.arguments);
      box.append(h("div", `ldd-toolcall${op ? " ldd-op-" + op : ""}`, h("div", "ldd-toolcall-name", `→ ${ldLabel(c.name ?? fmt.MISSING)}`),
        op === "added" || op === "removed" ? wholeText(args, op) : plainText(args, `${key}:c${i}`)));
    });
    return box;
  }
  function prettyArgs(a) {
    try { return JSON.stringify(JSON.parse(a), null, 2); } catch (_) { return a || ""; }
  }

  // tool-call diffs: which = "a" | "b" | "u"
  function callDiffs(diffs, which, key) {
    const box = h("div", "ldd-toolcalls");
    diffs.forEach((c, i) => {
      const ckey = `${key}:c${i}`;
      const call = which === "a" ? c.a : which === "b" ? c.b : (c.b || c.a);
      if (!call && which !== "u") { box.append(h("div", "ldd-toolcall ldd-toolcall-missing", h("span", "ldd-dim", "no call"))); return; }
      const row = h("div", `ldd-toolcall ldd-op-${safeCls(c.op)}`);
      row.dataset.op = c.op;
      const name = h("div", "ldd-toolcall-name", "→ ");
      if (c.name_changed && which === "u") name.append(h("del", "ldd-del", ldLabel(c.a.name)), " ", h("ins", "ldd-ins", ldLabel(c.b.name)));
      else if (c.name_changed) name.append(h(which === "a" ? "del" : "ins", which === "a" ? "ldd-del" : "ldd-ins", ldLabel(call.name ?? fmt.MISSING)));
      else name.append(ldLabel(call.name ?? fmt.MISSING));
      if (c.op !== "equal") name.append(h("span", `ldd-chip ldd-chip-${safeCls(c.op)}`, OP_LABEL[c.op]));
      row.append(name);
      if (c.op === "added" || c.op === "removed") row.append(wholeText(prettyArgs(call.arguments), c.op));
      else if (c.op === "equal") row.append(plainText(prettyArgs(call.arguments), ckey));
      else {
        if (c.arguments_text) row.append(segText(c.arguments_text, which, ckey));
        // long arguments: the structural changes as a list too
        const long = c.arguments_text && c.arguments_text.reduce((n, [, t]) => n + t.split("\n").length - 1, 0) > 15;
        if (long && c.arguments && c.arguments.length && which !== "a") row.append(jsonChanges(c.arguments));
      }
      box.append(row);
    });
    return box;
  }

  function msgCard(e, which) {
    const key = `msg:${e.a_index}:${e.b_index}`;
    const m = which === "a" ? e.a : which === "b" ? e.b : (e.b || e.a);
    const card = h("div", `ldd-msg ldd-msg-${safeCls(m.role)} ldd-op-${safeCls(e.op)}`, msgHead(e, m, which));
    if (e.op === "changed") {
      if (m.text || e.text.some(([op]) => op !== "equal")) card.append(segText(e.text, which, key));
      if (e.tool_calls.length) card.append(callDiffs(e.tool_calls, which, key));
    } else if (e.op === "added" || e.op === "removed") {
      if (m.text) card.append(wholeText(m.text, e.op));
      if (m.tool_calls.length) card.append(callsPlain(m.tool_calls, e.op, key));
    } else {
      if (m.text) card.append(plainText(m.text, key));
      if (m.tool_calls.length) card.append(callsPlain(m.tool_calls, null, key));
    }
    return card;
  }

  function msgRow(e, view) {
    if (view === "unified") {
      const row = h("div", `ldd-urow ldd-op-${safeCls(e.op)}`, h("span", "ldd-mark", MARK[e.op] || "?"), msgCard(e, "u"));
      row.dataset.op = e.op;
      return row;
    }
    const left = e.a ? cell(msgCard(e, "a"), "a") : emptyCell();
    const right = e.b ? cell(msgCard(e, "b"), "b") : emptyCell();
    return pair(left, right, e.op);
  }

  // runs of unchanged entries (>= 2) fold behind "… N unchanged <noun>s"
  function foldedRows(entries, key, noun, drawRow) {
    const out = [];
    let k = 0;
    while (k < entries.length) {
      if (entries[k].op === "equal") {
        let r = k;
        while (r < entries.length && entries[r].op === "equal") r++;
        const fkey = `${key}:${k}`;
        const run = entries.slice(k, r);
        k = r;
        if (run.length < 2 || expanded.has(fkey)) {
          out.push(...run.map(drawRow));
          continue;
        }
        const holder = h("div", "ldd-fold-row");
        holder.append(button(`… ${plural(run.length, "unchanged " + noun)}`, "ldd-fold ldd-fold-rows", () => {
          expanded.add(fkey);
          holder.replaceWith(...run.map(drawRow));
        }));
        out.push(holder);
        continue;
      }
      out.push(drawRow(entries[k]));
      k++;
    }
    return out;
  }

  function messagesSection(d, view) {
    const c = d.summary.messages;
    const msgs = d.messages || [];
    const body = msgs.length ? foldedRows(msgs, "messages", "message", (e) => msgRow(e, view))
      : [h("div", "ldd-dim", "no messages")];
    return section("messages", "Messages", [["changed", c.changed], ["added", c.added], ["removed", c.removed],
      ["moved", c.moved], ["equal", c.equal]], ...body);
  }

  // --- tools --------------------------------------------------------------------------------
  function toolCard(t, which) {
    const def = which === "a" ? t.a : which === "b" ? t.b : (t.b || t.a);
    const card = h("div", `ldd-tool ldd-op-${safeCls(t.op)}`);
    const tname = ldLabel(t.name);
    const name = h("div", "ldd-tool-name", t.op === "added" ? h("ins", "ldd-ins", tname) : t.op === "removed" ? h("del", "ldd-del", tname) : tname);
    if (t.op !== "equal" && which === "u") name.append(h("span", `ldd-chip ldd-chip-${safeCls(t.op)}`, OP_LABEL[t.op]));
    card.append(name);
    if (t.op === "changed" && t.description) card.append(segText(t.description, which, `tool:${t.name}:d`, "ldd-desc"));
    else if (def.description) card.append(h("div", "ldd-desc", def.description));
    if (t.op === "changed" && t.parameters.length && which !== "a") card.append(jsonChanges(t.parameters));
    const params = h("details", "ldd-raw", h("summary", null, "parameters"), plainText(jsonText(def.parameters), `tool:${t.name}:p:${which}`));
    card.append(params);
    return card;
  }

  function toolsSection(d, view) {
    const tools = d.tools || [];
    if (!tools.length) return section("tools", "Tools", [], h("div", "ldd-dim", "no tools on either side"));
    const c = d.summary.tools;
    const drawRow = (t) => {
      if (view === "unified") {
        const row = h("div", `ldd-urow ldd-op-${safeCls(t.op)}`, h("span", "ldd-mark", MARK[t.op]), toolCard(t, "u"));
        row.dataset.op = t.op;
        return row;
      }
      return pair(t.a ? cell(toolCard(t, "a"), "a") : emptyCell(), t.b ? cell(toolCard(t, "b"), "b") : emptyCell(), t.op);
    };
    return section("tools", "Tools", [["changed", c.changed], ["added", c.added], ["removed", c.removed], ["equal", c.equal]],
      ...foldedRows(tools, "tools", "tool", drawRow));
  }

  // --- parameters ---------------------------------------------------------------------------
  function paramsSection(d, view, labels) {
    const params = d.params || [];
    if (!params.length) return section("params", "Parameters", [], h("div", "ldd-dim", "no parameters"));
    const table = h("table", "ldd-params");
    if (view === "side") table.append(h("tr", null, h("th", null, "parameter"), h("th", null, ldLabel(labels.a)), h("th", null, ldLabel(labels.b))));
    const value = (v, present, tag) => {
      if (!present) return h("span", "ldd-dim", fmt.MISSING);
      const text = jsonShort(v);
      return tag ? h(tag, tag === "del" ? "ldd-del" : "ldd-ins", text) : h("span", null, text);
    };
    const drawRow = (p) => {
      const tr = h("tr", `ldd-param ldd-op-${safeCls(p.op)}`);
      tr.dataset.op = p.op;
      tr.dataset.key = p.key;
      const changed = p.op !== "equal";
      if (view === "side") {
        tr.append(h("td", "ldd-pkey", ldLabel(p.key)),
          h("td", "ldd-pval", value(p.old, p.op !== "added", changed ? "del" : null)),
          h("td", "ldd-pval", value(p.new, p.op !== "removed", changed ? "ins" : null)));
      } else {
        const td = h("td", "ldd-pval");
        if (p.op === "equal") td.append(value(p.new, true, null));
        if (p.op === "changed" || p.op === "removed") td.append(value(p.old, true, "del"));
        if (p.op === "changed") td.append(h("span", "ldd-arrow", "→"));
        if (p.op === "changed" || p.op === "added") td.append(value(p.new, true, "ins"));
        tr.append(h("td", "ldd-mark", MARK[p.op] || ""), h("td", "ldd-pkey", ldLabel(p.key)), td);
      }
      if (p.changes && p.changes.length) {
        const sub = h("tr", "ldd-param-changes", h("td", null), h("td", null, jsonChanges(p.changes)));
        sub.lastChild.colSpan = 2;
        return [tr, sub];
      }
      return [tr];
    };
    // changed parameters first, the unchanged ones folded below them
    const changed = params.filter((p) => p.op !== "equal");
    const same = params.filter((p) => p.op === "equal");
    for (const p of changed) table.append(...drawRow(p));
    if (same.length) {
      if (expanded.has("params") || same.length < 2) for (const p of same) table.append(...drawRow(p));
      else {
        const tr = h("tr", "ldd-fold-row");
        const td = h("td", null, button(`… ${plural(same.length, "unchanged parameter")}`, "ldd-fold ldd-fold-rows", () => {
          expanded.add("params");
          tr.replaceWith(...same.flatMap(drawRow));
        }));
        td.colSpan = 3;
        tr.append(td);
        table.append(tr);
      }
    }
    return section("params", "Parameters", [["changed", changed.length], ["equal", same.length]], table);
  }

  // --- output ---------------------------------------------------------------------------------
  function statusText(s) {
    let t = ldLabel(s.status || fmt.MISSING);
    if (s.error_type) t += ` — ${ldLabel(s.error_type)}${s.http_status ? ` (HTTP ${s.http_status})` : ""}`;
    if (s.error_message) t += `: ${s.error_message.length > 300 ? s.error_message.slice(0, 299) + "…" : s.error_message}`;
    return t;
  }

  function outputSection(out, view) {
    const body = [];
    const st = out.status;
    if (st.op !== "equal") {
      const box = h("div", "ldd-status-change");
      box.dataset.op = "changed";
      if (view === "side") box.append(pair(h("div", "ldd-cell ldd-cell-a", h("del", "ldd-del", statusText(st.a))),
        h("div", "ldd-cell ldd-cell-b", h("ins", "ldd-ins", statusText(st.b)))));
      else box.append(h("span", "ldd-dim", "status "), h("del", "ldd-del", statusText(st.a)), h("span", "ldd-arrow", "→"),
        h("ins", "ldd-ins", statusText(st.b)));
      body.push(box);
    } else if (st.a.status === "error") {
      body.push(h("div", "ldd-error", statusText(st.a)));
    }
    const textChanged = out.text.some(([op]) => op !== "equal");
    const hasText = out.a_text || out.b_text;
    if (hasText) {
      const label = out.mode === "json" ? "JSON output" : "text";
      if (!textChanged) {
        body.push(view === "side" ? pair(plainText(out.a_text, "out"), plainText(out.b_text, "out")) : plainText(out.b_text, "out"));
      } else if (view === "side") {
        body.push(pair(out.a_text ? segText(out.text, "a", "out", "ldd-output") : emptyCell(`no ${label}`),
          out.b_text ? segText(out.text, "b", "out", "ldd-output") : emptyCell(`no ${label}`), "changed"));
      } else body.push(segText(out.text, "u", "out", "ldd-output"));
      if (out.mode === "json" && out.json && out.json.length) {
        body.push(h("div", "ldd-subtitle", `structural changes (${out.json.length})`), jsonChanges(out.json));
      }
    } else if (!out.tool_calls.length) body.push(h("div", "ldd-dim", "no output on either side"));
    if (out.tool_calls.length) {
      body.push(h("div", "ldd-subtitle", "tool calls"));
      if (view === "side") body.push(pair(callDiffs(out.tool_calls, "a", "out"), callDiffs(out.tool_calls, "b", "out")));
      else body.push(callDiffs(out.tool_calls, "u", "out"));
    }
    const sec = section("output", out.mode === "json" ? "Output (JSON)" : "Output", [[out.op, 1]], ...body);
    sec.dataset.op = out.op;
    return sec;
  }

  const redraw = () => draw();
  const onDiff = () => { expanded.clear(); draw(); };
  model.on("change:diff", onDiff);
  model.on("change:view", redraw);
  model.on("change:a_label", redraw);
  model.on("change:b_label", redraw);
  draw();
  return () => {
    model.off("change:diff", onDiff);
    model.off("change:view", redraw);
    model.off("change:a_label", redraw);
    model.off("change:b_label", redraw);
  };
}

export default { render };
