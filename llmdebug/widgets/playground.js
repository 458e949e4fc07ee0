// llmdebug playground: edit a captured call's messages and parameters, run it again
// (in the kernel, on a background thread), keep every attempt, diff any two.
// Everything from prompts and responses is set as text, never as HTML, with bidi controls
// and invisible characters drawn as ⟨U+XXXX⟩ (visibleText in _dom.js), in the editable
// boxes too: Python turns what comes back into the real characters (Playground.from_browser).

// h(), button(): see _dom.js; fmt: see _format.js

const ROLES = ["system", "developer", "user", "assistant", "tool"];
const has = (v) => v !== null && v !== undefined;
const tokensOf = (a) => (has(a.input_tokens) || has(a.output_tokens)
  ? `${fmt.tokens(a.input_tokens, a.output_tokens)} tok` : fmt.MISSING);

// Keys typed into the playground are for its fields, not JupyterLab's shortcuts.
function ownKeys(e) {
  e.addEventListener("keydown", (ev) => ev.stopPropagation());
  return e;
}

let diffModule = null;
async function loadDiffModule(model) {
  if (diffModule) return diffModule;
  const src = model.get("_diff_esm");
  if (!src) return null;
  const url = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
  try {
    diffModule = await import(/* webpackIgnore: true */ url);
  } finally {
    URL.revokeObjectURL(url);
  }
  return diffModule;
}

function render({ model, el }) {
  const root = h("div", "llmdebug llmdebug-pg");
  el.append(root);

  // --- editable request -----------------------------------------------------------
  let boxes = model.get("messages").map((m) => ({ ...m }));
  const msgList = h("div", "ldp-messages");
  function drawMessages() {
    msgList.replaceChildren();
    boxes.forEach((m, i) => {
      const role = h("select", "ldp-role");
      for (const r of new Set([...ROLES, m.role])) {
        const o = h("option", null, ldLabel(r));
        o.value = r;
        role.append(o);
      }
      role.value = m.role;
      role.disabled = !!m.locked;
      role.addEventListener("change", () => { m.role = role.value; });
      const text = ownKeys(h("textarea", "ldp-text"));
      text.value = visibleText(m.content);
      text.readOnly = !!m.locked;
      text.rows = Math.min(12, Math.max(2, (m.content.match(/\n/g) || []).length + 1));
      text.addEventListener("input", () => { m.content = text.value; });
      const remove = button("×", "ldp-btn ldp-remove", () => { boxes.splice(i, 1); drawMessages(); }, "remove this message");
      msgList.append(h("div", `ldp-msg ldp-msg-${/^[a-z]+$/.test(m.role) ? m.role : "other"}${m.locked ? " ldp-locked" : ""}`,
        h("div", "ldp-msg-head", role, m.locked ? h("span", "ldp-dim", "sent as captured (tool call, tool result or non-text parts)") : null, h("span", "ldp-spacer"), remove),
        text));
    });
  }
  const add = button("+ message", "ldp-btn", () => {
    boxes.push({ role: "user", content: "", locked: false, source: null });
    drawMessages();
    const areas = msgList.querySelectorAll("textarea");
    if (areas.length) areas[areas.length - 1].focus();
  });

  const fields = {};
  const paramsRow = h("div", "ldp-params");
  const original = model.get("params");
  // a field as first shown (the model with the label rule): Run sends only fields that differ
  const shownParam = (name) => {
    const o = original[name];
    const v = o === null || o === undefined ? "" : String(o);
    return name === "model" ? ldLabel(v) : visibleText(v);
  };
  for (const name of Object.keys(original)) {
    const input = ownKeys(h("input", "ldp-input"));
    input.value = shownParam(name);
    input.placeholder = name === "model" ? "model" : name === "response_format" ? '{"type": "json_object"}' : "unset";
    if (!["model", "response_format"].includes(name)) input.inputMode = "decimal";
    if (name === "response_format") input.classList.add("ldp-wide");
    fields[name] = input;
    paramsRow.append(h("label", "ldp-param", h("span", "ldp-dim", name), input));
  }
  const runBtn = button("Run", "ldp-btn ldp-run", () => {
    const params = {};
    for (const [name, input] of Object.entries(fields)) {
      const v = input.value.trim();
      if (v !== shownParam(name)) params[name] = v;
    }
    model.set("run_request", { n: Date.now(), messages: boxes.map((m) => ({ ...m })), params });
    model.save_changes();
  });
  const reset = button("Reset", "ldp-btn", () => {
    boxes = model.get("messages").map((m) => ({ ...m }));
    drawMessages();
    for (const [name, input] of Object.entries(fields)) input.value = shownParam(name);
  });
  // "Make test…": ld.to_test of the latest attempt (a path and expectations, one a line)
  const testPath = h("input", "ldp-mt-path");
  testPath.type = "text";
  testPath.value = `tests/test_call_${String(model.get("original").id).slice(0, 8)}.py`;
  const testExpect = h("textarea", "ldp-mt-expect");
  testExpect.rows = 2;
  testExpect.value = "json";
  const testForm = h("div", "ldp-make-test",
    h("label", null, "Test file ", testPath),
    h("label", null, "Expect (one a line: json, contains: …, not contains: …, equals: …, schema: {…}, tool: name {…}, model: pkg.mod:Model, function: pkg.mod:check)", testExpect),
    button("Write test", "ldp-btn ldp-mt-write", () => {
      model.set("test_request", { n: Date.now(), path: testPath.value, expect: testExpect.value });
      model.save_changes();
    }, "write a pytest file that replays the latest attempt from a cassette and checks its answer"));
  testForm.hidden = true;
  for (const el of [testPath, testExpect]) el.addEventListener("keydown", (ev) => ev.stopPropagation());
  const makeTest = button("Make test…", "ldp-btn ldp-make-test-btn", () => { testForm.hidden = !testForm.hidden; },
    "turn the latest attempt into a pytest file");
  const status = h("span", "ldp-status");
  const o = model.get("original");
  const head = h("div", "ldp-head", h("strong", null, "Playground"),
    h("span", "ldp-dim", ` ${ldLabel(o.provider)} ${ldLabel(o.endpoint)} · call ${String(o.id).slice(0, 12)}`));
  const editor = h("div", "ldp-editor", msgList, h("div", "ldp-row", add), paramsRow,
    h("div", "ldp-row", runBtn, reset, makeTest, status), testForm);

  // --- results ----------------------------------------------------------------------
  const latest = h("div", "ldp-latest");
  const historyBody = h("tbody");
  const history = h("table", "ldp-history",
    h("thead", null, h("tr", null, ...["A", "B", "attempt", "status", "model", "tokens", "cost", "latency", "output"].map((c) => h("th", null, c)))),
    historyBody);
  const diffBox = h("div", "ldp-diff");
  // the history scrolls sideways in its own box rather than pushing the widget wider
  const results = h("div", "ldp-results", h("h4", null, "Response"), latest, h("h4", null, "History"),
    h("div", "ldp-history-box", history),
    h("h4", null, "Diff"), diffBox);
  root.append(head, h("div", "ldp-main", editor, results));

  // the latest attempt: a line of what is known about it, then its output
  function attemptView(a) {
    const meta = [a.label, a.status, a.model, tokensOf(a) === fmt.MISSING ? null : tokensOf(a),
      has(a.cost_usd) ? fmt.cost(a.cost_usd) : null, has(a.latency_ms) ? fmt.duration(a.latency_ms) : null];
    const box = h("div", `ldp-attempt ldp-${a.status === "error" ? "error" : "ok"}`,
      h("div", "ldp-meta", meta.filter(Boolean).map(ldLabel).join(" · ")));
    if (a.error) box.append(h("pre", "ldp-pre ldp-err", a.error));
    if (a.output_text) box.append(h("pre", "ldp-pre ldp-output", a.output_text));
    for (const c of a.tool_calls || []) box.append(h("pre", "ldp-pre", `→ ${ldLabel(c.name)}(${c.arguments})`));
    return box;
  }

  function drawHistory() {
    const hist = model.get("history");
    const [ca, cb] = model.get("compare");
    latest.replaceChildren(attemptView(hist[hist.length - 1]));
    historyBody.replaceChildren();
    hist.forEach((a, i) => {
      const pick = (side) => {
        const r = h("input");
        r.type = "radio";
        r.name = `ldp-${side}-${model.cid || ""}`;
        r.checked = (side === "a" ? ca : cb) === i;
        r.addEventListener("change", () => {
          const cur = model.get("compare");
          model.set("compare", side === "a" ? [i, cur[1]] : [cur[0], i]);
          model.save_changes();
        });
        return r;
      };
      const out = a.error || a.output_text || (a.tool_calls || []).map((c) => `→ ${ldLabel(c.name)}`).join(", ");
      historyBody.append(h("tr", `ldp-hrow${a.status === "error" ? " ldp-bad" : ""}`,
        h("td", null, pick("a")), h("td", null, pick("b")), h("td", null, ldLabel(a.label)), h("td", null, ldLabel(a.status)),
        h("td", null, ldLabel(a.model ?? fmt.MISSING)), h("td", null, tokensOf(a)), h("td", null, fmt.cost(a.cost_usd)),
        h("td", null, fmt.duration(a.latency_ms)), h("td", "ldp-snip", out.slice(0, 120))));
    });
  }

  // The diff is drawn by the diff widget's own module, on a local stand-in for a model.
  const diffState = { diff: {}, view: "unified", a_label: "A", b_label: "B" };
  const diffListeners = {};
  const diffModel = {
    get: (k) => diffState[k],
    set: (k, v) => { diffState[k] = v; for (const f of diffListeners[`change:${k}`] || []) f(); },
    save_changes: () => {},
    on: (ev, f) => { (diffListeners[ev] = diffListeners[ev] || []).push(f); },
    off: (ev, f) => { diffListeners[ev] = (diffListeners[ev] || []).filter((g) => g !== f); },
  };
  let diffCleanup = null;
  async function drawDiff() {
    const d = model.get("diff");
    if (!d || !Object.keys(d).length) {
      if (diffCleanup) { diffCleanup(); diffCleanup = null; }
      diffBox.replaceChildren(h("div", "ldp-dim", "Run the call, or pick two different attempts (A and B) to compare."));
      return;
    }
    const hist = model.get("history");
    const [ca, cb] = model.get("compare");
    diffState.a_label = hist[ca] ? hist[ca].label : "A";
    diffState.b_label = hist[cb] ? hist[cb].label : "B";
    if (diffCleanup) { diffModel.set("diff", d); return; }
    const mod = await loadDiffModule(model).catch(() => null);
    diffBox.replaceChildren();
    diffState.diff = d;
    if (mod && mod.default && mod.default.render) {
      diffCleanup = (await mod.default.render({ model: diffModel, el: diffBox })) || (() => {});
    } else {
      diffBox.append(h("pre", "ldp-pre", JSON.stringify(d, null, 2)));
    }
  }

  function drawStatus() {
    const running = model.get("running");
    runBtn.disabled = running;
    runBtn.textContent = running ? "Running…" : "Run";
    status.textContent = visibleText(model.get("message") || (running ? "the kernel is free meanwhile" : ""));
    status.classList.toggle("ldp-err", !!model.get("message") && !model.get("message").startsWith("Wrote "));
    root.dataset.running = running ? "1" : "0";
    // A Run that failed before making a call (no attempt added) shows as the latest card,
    // in the error colour: the card of the attempt before would stay there, green.
    if (running && !wasRunning) runFrom = model.get("history").length;
    wasRunning = running;
    if (!running && runFrom !== null && model.get("message")) {
      if (model.get("history").length === runFrom) {
        latest.replaceChildren(h("div", "ldp-attempt ldp-error ldp-failed-run",
          h("div", "ldp-meta", "run failed"), h("pre", "ldp-pre ldp-err", model.get("message"))));
      }
      runFrom = null;
    }
  }
  let runFrom = null, wasRunning = false;

  const handlers = [["change:history", drawHistory], ["change:compare", drawHistory], ["change:diff", drawDiff],
    ["change:running", drawStatus], ["change:message", drawStatus]];
  for (const [ev, fn] of handlers) model.on(ev, fn);
  drawMessages();
  drawHistory();
  drawDiff();
  drawStatus();
  return () => {
    for (const [ev, fn] of handlers) model.off(ev, fn);
    if (diffCleanup) diffCleanup();
  };
}

export default { render };
