"""Bidi controls and invisible characters, shown as ``⟨U+XXXX⟩`` in every widget and fallback.

A model named ``"gpt-4o-mini\\u202e-x"`` would otherwise be drawn reversed, and a zero-width
space makes two names look alike ("Trojan source"). The rule, applied by
:func:`visible_text` here and by ``visibleText`` in ``_dom.js`` (the same tables; the tests
check both on one list of cases):

- BIDI: U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069.
- INVISIBLE: U+00AD, U+034F, U+115F, U+1160, U+17B4, U+17B5, U+180B–U+180F, U+200B–U+200D,
  U+2060–U+2064, U+206A–U+206F, U+3164, U+FE00–U+FE0F, U+FEFF, U+FFA0, U+FFF9–U+FFFB,
  U+1BCA0–U+1BCA3, U+1D173–U+1D17A, U+E0001, U+E0020–U+E007F, U+E0100–U+E01EF (every
  format character (Cf) but the visible Arabic number marks and the Egyptian hieroglyph
  controls, plus fillers, joiners and variation selectors that draw nothing).
- Labels (``label=True``: names, models, providers, kinds, tags, endpoints, error types,
  chart labels, filter options, table cells): every BIDI or INVISIBLE character.
- Content (prompts, outputs, messages, error messages, JSON, diff text): the same, except
  what text legitimately needs: ZWNJ U+200C and ZWJ U+200D (emoji sequences, Persian and
  Indic text), a lone variation selector (U+FE0F after an emoji; a run of two or more, a
  known way to hide data, is shown), and an emoji flag tag sequence (U+1F3F4, one to six
  tag letters or digits, U+E007F). In a diff, an inserted or deleted run made only of BIDI
  or INVISIBLE characters takes the label rule, so that no change is invisible.

Each shown character becomes ``⟨U+`` + at least four upper-case hex digits + ``⟩``. Nothing
else changes and the rule is idempotent. Only what is drawn changes: the stored and synced
values stay real, so filters, searches, clicks and copy buttons use the real strings
(an editable box shows markers and :func:`from_visible` reads them back).
"""

from __future__ import annotations

import re
from typing import Any

BIDI = ((0x061C, 0x061C), (0x200E, 0x200F), (0x202A, 0x202E), (0x2066, 0x2069))
INVISIBLE = ((0x00AD, 0x00AD), (0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
             (0x200B, 0x200D), (0x2060, 0x2064), (0x206A, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F),
             (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF9, 0xFFFB), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
             (0xE0001, 0xE0001), (0xE0020, 0xE007F), (0xE0100, 0xE01EF))
VARIATION_SELECTORS = ((0x180B, 0x180D), (0x180F, 0x180F), (0xFE00, 0xFE0F), (0xE0100, 0xE01EF))


def _cls(ranges: tuple) -> str:
    return "[" + "".join(re.escape(chr(a)) + ("" if a == b else "-" + re.escape(chr(b))) for a, b in ranges) + "]"


_ANY = re.compile(_cls(BIDI + INVISIBLE))
_VS = _cls(VARIATION_SELECTORS)
_FLAG = "\U0001F3F4[\U000E0030-\U000E0039\U000E0061-\U000E007A]{1,6}\U000E007F"
# In content, the first alternative is kept as it is; the second is shown.
_CONTENT = re.compile(f"({_FLAG}|(?<!{_VS}){_VS}(?!{_VS})|[\u200c\u200d])|({_cls(BIDI + INVISIBLE)})")
_MARKER = re.compile(r"⟨U\+([0-9A-F]{4,6})⟩")


def _mark(ch: str) -> str:
    return f"⟨U+{ord(ch):04X}⟩"


def visible_text(text: Any, label: bool = False) -> Any:
    """``text`` with bidi controls and invisible characters written as ``⟨U+XXXX⟩``
    (``label=True``: all of them; else the content rule of the module docstring).
    Anything that is not a string is returned as it is."""
    if not isinstance(text, str) or not _ANY.search(text):
        return text
    if label:
        return _ANY.sub(lambda m: _mark(m.group()), text)
    return _CONTENT.sub(lambda m: m.group(1) or _mark(m.group(2)), text)


def from_visible(text: Any) -> Any:
    """Undo :func:`visible_text`: each ``⟨U+XXXX⟩`` of a BIDI or INVISIBLE character becomes
    that character again (for text edited in a widget that showed it visibly)."""
    if not isinstance(text, str) or "⟨U+" not in text:
        return text

    def back(m: re.Match) -> str:
        ch = chr(int(m.group(1), 16)) if int(m.group(1), 16) <= 0x10FFFF else ""
        return ch if ch and _ANY.fullmatch(ch) else m.group()

    return _MARKER.sub(back, text)
