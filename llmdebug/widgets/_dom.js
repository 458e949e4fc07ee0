// Shared by every llmdebug widget module (each widget's JavaScript is this file followed by
// its own, see widgets/__init__.py). h() builds an element whose children are nodes or
// text: strings always become text nodes, so nothing from a prompt is parsed as HTML.
function h(tag, cls, ...children) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

