"""The rule that shows bidi controls and invisible characters as ⟨U+XXXX⟩
(llmdebug/widgets/visible.py), and that ``visibleText`` in ``_dom.js`` applies the same one:
one table of cases checked in Python and in node, and every code point compared."""

import json
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

from llmdebug.widgets.visible import BIDI, INVISIBLE, from_visible, visible_text

DOM_JS = Path(__file__).resolve().parents[1] / "llmdebug" / "widgets" / "_dom.js"
FLAG_ENGLAND = "🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F"
FAMILY = "👨\u200d👩\u200d👧"

# (text, label rule, content rule)
CASES = [
    ("gpt-4o-mini", "gpt-4o-mini", "gpt-4o-mini"),
    ("", "", ""),
    ("gpt-4o-mini\u202e-x", "gpt-4o-mini⟨U+202E⟩-x", "gpt-4o-mini⟨U+202E⟩-x"),
    ("gpt\u200b-4o", "gpt⟨U+200B⟩-4o", "gpt⟨U+200B⟩-4o"),
    ("\u2066a\u2069\u200e\u200f\u061c", "⟨U+2066⟩a⟨U+2069⟩⟨U+200E⟩⟨U+200F⟩⟨U+061C⟩",
     "⟨U+2066⟩a⟨U+2069⟩⟨U+200E⟩⟨U+200F⟩⟨U+061C⟩"),
    ("soft\u00adhyphen\u2060\ufeff\u180e", "soft⟨U+00AD⟩hyphen⟨U+2060⟩⟨U+FEFF⟩⟨U+180E⟩",
     "soft⟨U+00AD⟩hyphen⟨U+2060⟩⟨U+FEFF⟩⟨U+180E⟩"),
    # ZWJ / ZWNJ: visible in labels, kept in content (emoji sequences, Persian)
    (FAMILY, "👨⟨U+200D⟩👩⟨U+200D⟩👧", FAMILY),
    ("می\u200cخواهم", "می⟨U+200C⟩خواهم", "می\u200cخواهم"),
    # a lone variation selector is kept in content; a run of them is shown
    ("❤\ufe0f", "❤⟨U+FE0F⟩", "❤\ufe0f"),
    ("x\ufe00\ufe01\U000E0100", "x⟨U+FE00⟩⟨U+FE01⟩⟨U+E0100⟩", "x⟨U+FE00⟩⟨U+FE01⟩⟨U+E0100⟩"),
    # a flag tag sequence is kept in content; other tag characters (hidden ASCII) are shown
    (FLAG_ENGLAND, "🏴⟨U+E0067⟩⟨U+E0062⟩⟨U+E0065⟩⟨U+E006E⟩⟨U+E0067⟩⟨U+E007F⟩", FLAG_ENGLAND),
    ("hi\U000E0069\U000E0067\U000E006E", "hi⟨U+E0069⟩⟨U+E0067⟩⟨U+E006E⟩", "hi⟨U+E0069⟩⟨U+E0067⟩⟨U+E006E⟩"),
    ("🏴\U000E0041\U000E007F", "🏴⟨U+E0041⟩⟨U+E007F⟩", "🏴⟨U+E0041⟩⟨U+E007F⟩"),
    ("\u3164\u115f", "⟨U+3164⟩⟨U+115F⟩", "⟨U+3164⟩⟨U+115F⟩"),
    # not touched: RTL letters, visible format marks, other controls, the marker itself
    ("שלום abc", "שלום abc", "שלום abc"),
    ("\u0600\u06dd", "\u0600\u06dd", "\u0600\u06dd"),
    ("tab\tnl\n", "tab\tnl\n", "tab\tnl\n"),
    ("⟨U+202E⟩", "⟨U+202E⟩", "⟨U+202E⟩"),
]


def _in(ranges, cp: int) -> bool:
    return any(a <= cp <= b for a, b in ranges)


@pytest.mark.parametrize("text,label,content", CASES)
def test_the_rule(text, label, content):
    assert visible_text(text, label=True) == label
    assert visible_text(text) == content
    # idempotent, and undone by from_visible (unless the text held a marker already)
    assert visible_text(label, label=True) == label and visible_text(content) == content
    if "⟨U+" not in text:
        assert from_visible(label) == text and from_visible(content) == text


def test_non_strings_pass_through():
    for v in (None, 3, 1.5, ["\u202e"]):
        assert visible_text(v) is v and visible_text(v, label=True) is v


def test_every_format_character_is_covered():
    """Every Cf character is BIDI or INVISIBLE, except the Arabic marks that draw a glyph and
    the Egyptian hieroglyph controls, which lay out hieroglyphs."""
    drawn = {0x0600, 0x0601, 0x0602, 0x0603, 0x0604, 0x0605, 0x06DD, 0x070F, 0x0890, 0x0891, 0x08E2,
             0x110BD, 0x110CD}
    for cp in range(0x110000):
        if unicodedata.category(chr(cp)) != "Cf" or cp in drawn or 0x13430 <= cp <= 0x1345F:
            continue
        assert _in(BIDI + INVISIBLE, cp), f"U+{cp:04X} {unicodedata.name(chr(cp), '')}"


def test_from_visible_leaves_other_markers():
    assert from_visible("⟨U+0041⟩ ⟨U+202E⟩ ⟨U+110000⟩") == "⟨U+0041⟩ \u202e ⟨U+110000⟩"


# -- the JavaScript helper applies the same rule ----------------------------------------

_NODE_SCRIPT = r"""
const fs = require("fs");
const visibleText = new Function(fs.readFileSync(process.argv[1], "utf8") + "; return visibleText;")();
const cases = JSON.parse(fs.readFileSync(0, "utf8"));
const table = cases.map((t) => [visibleText(t, true), visibleText(t, false)]);
// every code point alone: which ones each rule changes
const changed = { label: [], content: [] };
for (let cp = 0; cp <= 0x10FFFF; cp++) {
  if (cp >= 0xD800 && cp <= 0xDFFF) continue;
  const s = String.fromCodePoint(cp);
  if (visibleText(s, true) !== s) changed.label.push(cp);
  if (visibleText(s, false) !== s) changed.content.push(cp);
}
process.stdout.write(JSON.stringify({ table, changed }));
"""


@pytest.fixture(scope="module")
def node_results():
    node = shutil.which("node")
    if not node:
        pytest.skip("node not installed")
    texts = [c[0] for c in CASES]
    out = subprocess.run([node, "-e", _NODE_SCRIPT, str(DOM_JS)], input=json.dumps(texts),
                         capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)


def test_js_agrees_on_the_table(node_results):
    assert node_results["table"] == [[label, content] for _, label, content in CASES]


def test_js_agrees_on_every_code_point(node_results):
    label, content = [], []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        s = chr(cp)
        if visible_text(s, label=True) != s:
            label.append(cp)
        if visible_text(s) != s:
            content.append(cp)
    assert node_results["changed"]["label"] == label
    assert node_results["changed"]["content"] == content
    # a lone ZWJ / ZWNJ / variation selector stays in content, a lone tag character does not
    assert 0x200D not in content and 0xFE0F not in content and 0xE0041 in content
