"""Word-level diff of two texts: :func:`word_diff`.

Fast on 100 KB texts: it compares lines, then sentences, then words, and gives up to one
delete and one insert on blocks too large to compare word by word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from difflib import SequenceMatcher

__all__ = ["word_diff"]


_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
# words (CJK characters one by one), runs of whitespace, single other characters
_TOKEN = re.compile(rf"[{_CJK}]|(?:(?![{_CJK}])\w)+|\s+|[^\w\s]")
# Token-level comparison is quadratic in the worst case: blocks larger than this
# (product of the two token counts) are compared by lines, then sentences, first.
_TOKEN_BUDGET = 1_000_000
_SENTENCE_END = frozenset(".!?;。！？")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _units(tokens: list[str], level: int) -> list[list[str]]:
    """Tokens grouped into lines (level 0) or sentences/lines (level 1)."""
    out: list[list[str]] = []
    cur: list[str] = []
    for t in tokens:
        cur.append(t)
        if "\n" in t or (level == 1 and t in _SENTENCE_END):
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def _diff_tokens(ta: list[str], tb: list[str], level: int, out: list) -> None:
    # common prefix and suffix: most edits touch a small part of a long prompt
    n = min(len(ta), len(tb))
    p = 0
    while p < n and ta[p] == tb[p]:
        p += 1
    s = 0
    while s < n - p and ta[-1 - s] == tb[-1 - s]:
        s += 1
    if p:
        out.append(["equal", "".join(ta[:p])])
    mid_a, mid_b = ta[p:len(ta) - s], tb[p:len(tb) - s]
    _diff_middle(mid_a, mid_b, level, out)
    if s:
        out.append(["equal", "".join(ta[len(ta) - s:])])


def _diff_middle(ta: list[str], tb: list[str], level: int, out: list) -> None:
    if not ta or not tb:
        if ta:
            out.append(["delete", "".join(ta)])
        if tb:
            out.append(["insert", "".join(tb)])
        return
    if len(ta) * len(tb) <= _TOKEN_BUDGET:
        sm = SequenceMatcher(None, ta, tb, autojunk=False)
        for tag, i1, i2, j1, j2 in sm.get_opcodes():
            if tag == "equal":
                out.append(["equal", "".join(ta[i1:i2])])
            else:
                if i2 > i1:
                    out.append(["delete", "".join(ta[i1:i2])])
                if j2 > j1:
                    out.append(["insert", "".join(tb[j1:j2])])
        return
    if level > 1:  # too large to compare word by word: the whole block changed
        out.append(["delete", "".join(ta)])
        out.append(["insert", "".join(tb)])
        return
    ua, ub = _units(ta, level), _units(tb, level)
    if len(ua) == 1 and len(ub) == 1:
        _diff_middle(ta, tb, level + 1, out)
        return
    ka, kb = ["".join(u) for u in ua], ["".join(u) for u in ub]
    # autojunk on: blank lines and other very common units cannot start a match (speed)
    sm = SequenceMatcher(None, ka, kb, autojunk=True)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            out.append(["equal", "".join(ka[i1:i2])])
            continue
        ta2 = [t for u in ua[i1:i2] for t in u]
        tb2 = [t for u in ub[j1:j2] for t in u]
        if tag != "replace" or len(ta2) * len(tb2) <= _TOKEN_BUDGET or (i2 - i1 == 1 and j2 - j1 == 1):
            _diff_tokens(ta2, tb2, level + 1, out)
            continue
        # Many changed lines: too large to compare word by word as one block, so
        # compare them line by line (the first with the first, ...).
        pairs = min(i2 - i1, j2 - j1)
        for k in range(pairs):
            _diff_tokens(ua[i1 + k], ub[j1 + k], level + 1, out)
        if i1 + pairs < i2:
            out.append(["delete", "".join(ka[i1 + pairs:i2])])
        if j1 + pairs < j2:
            out.append(["insert", "".join(kb[j1 + pairs:j2])])


def _merge(segs: Iterable[list]) -> list[list[str]]:
    """Drop empty segments, merge neighbours with the same op, and within each run of
    changes put one delete before one insert."""
    out: list[list[str]] = []
    run_del: list[str] = []
    run_ins: list[str] = []

    def flush() -> None:
        if run_del:
            out.append(["delete", "".join(run_del)])
            run_del.clear()
        if run_ins:
            out.append(["insert", "".join(run_ins)])
            run_ins.clear()

    for op, text in segs:
        if not text:
            continue
        if op == "equal":
            flush()
            if out and out[-1][0] == "equal":
                out[-1][1] += text
            else:
                out.append(["equal", text])
        elif op == "delete":
            run_del.append(text)
        else:
            run_ins.append(text)
    flush()
    return out


def _cleanup(segs: list[list[str]]) -> list[list[str]]:
    """Fold small equalities between two changes into the changes (as diff-match-patch's
    semantic cleanup): "the quick" -> "a slow" reads better than four one-word changes."""
    for _ in range(8):
        changed = False
        out: list[list[str]] = []
        i = 0
        while i < len(segs):
            op, text = segs[i]
            if op == "equal" and 0 < i < len(segs) - 1 and out:
                before = _change_len(out, len(out) - 1, -1)
                after = _change_len(segs, i + 1, 1)
                if 0 < len(text) <= min(before, after) and len(text) <= 8:
                    out.append(["delete", text])
                    out.append(["insert", text])
                    changed = True
                    i += 1
                    continue
            out.append([op, text])
            i += 1
        segs = _merge(out)
        if not changed:
            break
    return segs


def _change_len(segs: list, start: int, step: int) -> int:
    """The larger side (deleted or inserted characters) of the change run at ``start``."""
    d = n = 0
    i = start
    while 0 <= i < len(segs) and segs[i][0] != "equal":
        if segs[i][0] == "delete":
            d += len(segs[i][1])
        else:
            n += len(segs[i][1])
        i += step
    return max(d, n)


def word_diff(a: str | None, b: str | None) -> list[list[str]]:
    """Word-level diff of two texts as ``[[op, text], ...]`` with op ``"equal"``,
    ``"delete"`` or ``"insert"``; adjacent segments never share an op.

    Example::

        >>> word_diff("the quick fox", "the slow fox")
        [['equal', 'the '], ['delete', 'quick'], ['insert', 'slow'], ['equal', ' fox']]
    """
    a = "" if a is None else str(a)
    b = "" if b is None else str(b)
    if a == b:
        return [["equal", a]] if a else []
    out: list = []
    _diff_tokens(_tokens(a), _tokens(b), 0, out)
    return _cleanup(_merge(out))
