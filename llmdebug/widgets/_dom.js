// Shared by every llmdebug widget module (each widget's JavaScript is this file and _format.js
// followed by its own, see widgets/__init__.py). h() builds an element whose children are nodes
// or text: strings always become text nodes, so nothing from a prompt is parsed as HTML.

// Bidi controls and invisible characters are drawn as ⟨U+XXXX⟩: the rule and its tables are
// those of llmdebug/widgets/visible.py (read its docstring; the tests check that both agree).
// label = true for names, models, tags...: every such character; else the content rule, which
// keeps ZWNJ/ZWJ, a lone variation selector and an emoji flag tag sequence as they are.
const LD_BIDI = "\u061C\u200E-\u200F\u202A-\u202E\u2066-\u2069";
const LD_INVISIBLE = "\u00AD\u034F\u115F-\u1160\u17B4-\u17B5\u180B-\u180F\u200B-\u200D\u2060-\u2064" +
  "\u206A-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF9-\uFFFB\u{1BCA0}-\u{1BCA3}\u{1D173}-\u{1D17A}" +
  "\u{E0001}\u{E0020}-\u{E007F}\u{E0100}-\u{E01EF}";
const LD_VS = "[\u180B-\u180D\u180F\uFE00-\uFE0F\u{E0100}-\u{E01EF}]";
const LD_ANY = new RegExp(`[${LD_BIDI}${LD_INVISIBLE}]`, "u");
const LD_ALL = new RegExp(`[${LD_BIDI}${LD_INVISIBLE}]`, "gu");
const LD_CONTENT = new RegExp(
  `(\u{1F3F4}[\u{E0030}-\u{E0039}\u{E0061}-\u{E007A}]{1,6}\u{E007F}|(?<!${LD_VS})${LD_VS}(?!${LD_VS})|[\u200C\u200D])` +
  `|([${LD_BIDI}${LD_INVISIBLE}])`, "gu");
const ldMark = (ch) => `⟨U+${ch.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}⟩`;

function visibleText(text, label) {
  if (typeof text !== "string" || !LD_ANY.test(text)) return text;
  if (label) return text.replace(LD_ALL, ldMark);
  return text.replace(LD_CONTENT, (m, keep, show) => keep || ldMark(show));
}

const ldLabel = (text) => visibleText(text, true);

// Strings become text nodes with the content rule applied; labels pass visibleText(s, true).
function h(tag, cls, ...children) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(visibleText(String(c))));
  }
  return e;
}


// A button: h("button") with type="button", the shared class "ld-btn" (_theme.css) and the
// widget's own classes `cls`. A click runs onClick(event, button) and goes no further: the
// widget's or the notebook's own click handlers never see it.
function button(label, cls, onClick, title) {
  const b = h("button", cls ? `ld-btn ${cls}` : "ld-btn", label);
  b.type = "button";
  if (title) b.title = title;
  if (onClick) b.addEventListener("click", (ev) => { ev.stopPropagation(); onClick(ev, b); });
  return b;
}

// A synced table (a list of positional rows, the compact form for thousands of spans) as
// objects. The column names come from the widget's own `fields` trait, Python's list: no
// widget keeps a copy of the order. `strings` decodes the columns Python interned (listed
// under fields[`${table}_interned`]) from indices into that list back to text.
function ldRecords(model, table, strings) {
  const fields = model.get("fields") || {};
  const names = fields[table];
  if (!Array.isArray(names)) throw new Error(`llmdebug: the widget synced no field names for "${table}"`);
  const interned = new Set(fields[`${table}_interned`] || []);
  const decode = names.map((n) => !!strings && interned.has(n));
  const rows = model.get(table) || [];
  const out = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i], o = {};
    for (let k = 0; k < names.length; k++) {
      const v = r[k];
      o[names[k]] = decode[k] && v !== null && v !== undefined ? strings[v] : v;
    }
    out[i] = o;
  }
  return out;
}
