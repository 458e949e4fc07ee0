// llmdebug trace tree, scores: the badge on a scored span's row, the scores in the detail pane,
// and the feedback form (👍 / 👎, a number, a comment, Save) that stores human scores. Put
// between the shared helpers and trace_tree.js (widgets/trace_tree.py). Python words every
// score (span_scores.py: the badge, the tooltip, each value's text); this file lays them out,
// as text. An entry is span_scores[row index]: {badge, tip, items}.

const srcCls = (source) => (/^[a-z_]+$/.test(source || "") ? source : "other");

// the compact badge on a row (👍2 👎1 ⌀0.83), every score in its tooltip
function scoreBadge(entry) {
  if (!entry || !entry.badge) return null;
  const b = h("span", "ldt-badge ldt-score-badge", entry.badge);
  b.title = visibleText(entry.tip || "");
  return b;
}

// one score: name, value or label, source, when, the comment, and the judge's call to open
function scoreItem(s, openSpan) {
  const judge = s.judge_span_id
    ? button("judge's call ↗", "ldt-btn ldt-judge", () => openSpan(s.judge_span_id),
      `open the LLM call that gave this score (span ${s.judge_span_id.slice(0, 12)})`)
    : null;
  return h("li", `ldt-score ldt-score-${srcCls(s.source)}`,
    h("div", "ldt-score-head",
      h("span", "ldt-score-name", ldLabel(s.name ?? "")),
      h("span", "ldt-score-value", s.text ?? ""),
      h("span", `ldt-badge ldt-score-source ldt-src-${srcCls(s.source)}`, ldLabel(s.source || "?")),
      s.created_at ? h("span", "ldt-dim ldt-score-time", fmt.timestamp(s.created_at)) : null,
      judge),
    s.comment ? h("div", "ldt-score-comment", s.comment) : null);
}

// The form. send({thumbs, score, comment}) asks the kernel to store it; reply(r) is its answer
// ({ok, text}): the form empties on success and keeps what was typed on a failure.
function feedbackForm(send) {
  let thumbs = null;
  const thumb = (up) => {
    const b = button(up ? "👍" : "👎", `ldt-btn ldt-thumb ldt-thumb-${up ? "up" : "down"}`, () => choose(up),
      up ? "thumbs up (click again to clear); Save stores it" : "thumbs down (click again to clear); Save stores it");
    b.setAttribute("aria-label", up ? "thumbs up" : "thumbs down");
    b.setAttribute("aria-pressed", "false");
    return b;
  };
  const upBtn = thumb(true), downBtn = thumb(false);
  const choose = (v) => {
    thumbs = thumbs === v ? null : v;
    upBtn.setAttribute("aria-pressed", String(thumbs === true));
    downBtn.setAttribute("aria-pressed", String(thumbs === false));
  };
  const score = h("input", "ldt-input ldt-fb-score");
  score.type = "number";
  score.step = "any";
  score.placeholder = "score";
  score.setAttribute("aria-label", "score (a number)");
  score.title = "a number, any scale (e.g. 1–5); stored as the human score named 'score'";
  const comment = h("textarea", "ldt-input ldt-fb-comment");
  comment.rows = 2;
  comment.placeholder = "comment (optional; Ctrl+Enter saves)";
  comment.setAttribute("aria-label", "comment");
  const status = h("span", "ldt-fb-status");
  status.setAttribute("role", "status");
  const save = button("Save feedback", "ldt-btn ldt-fb-save", () => submit(),
    "store as human scores: ld.scores(source='human') lists them");
  const say = (text, bad) => { status.textContent = text; status.classList.toggle("ldt-fb-bad", !!bad); };
  const submit = () => {
    if (score.validity && score.validity.badInput) { say("The score must be a number.", true); return; }
    if (thumbs === null && !score.value.trim() && !comment.value.trim()) {
      say("Choose 👍 or 👎, type a score or write a comment.", true);
      return;
    }
    save.disabled = true;
    say("saving…");
    send({ thumbs, score: score.value, comment: comment.value });
  };
  score.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); submit(); } });
  comment.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); submit(); }
  });
  const el = h("div", "ldt-fb",
    h("div", "ldt-fb-row", h("span", "ldt-fb-title", "Your feedback"), upBtn, downBtn, score),
    comment,
    h("div", "ldt-fb-row", save, status));
  el.setAttribute("role", "group");
  el.setAttribute("aria-label", "your feedback on this span");
  // keys typed here belong to the form, not to the tree's or JupyterLab's shortcuts
  el.addEventListener("keydown", (ev) => ev.stopPropagation());
  const reply = (r) => {
    save.disabled = false;
    say(r.text || "", !r.ok);
    if (!r.ok) return;
    score.value = "";
    comment.value = "";
    if (thumbs !== null) choose(thumbs);
  };
  return { el, reply };
}

// The "Scores" section of the detail pane of row `index`: the list, then the form.
// act: {feedback(index, request), openSpan(span id)}. update(entry) redraws the list only.
function scoresPart(index, entry, act) {
  const title = h("h4", "ldt-section-title", "Scores");
  const list = h("ul", "ldt-scores");
  const form = feedbackForm((req) => act.feedback(index, req));
  const update = (e) => {
    const items = (e && e.items) || [];
    title.textContent = items.length ? `Scores (${items.length})` : "Scores";
    list.replaceChildren(...items.map((s) => scoreItem(s, act.openSpan)));
    if (!items.length) list.append(h("li", "ldt-dim ldt-no-scores", "none yet"));
  };
  update(entry);
  return { el: h("section", "ldt-section ldt-scores-section", title, list, form.el), update, reply: form.reply };
}
