"""The rollup's accumulator is named: every column it stores is merged, written and read back."""

import pytest

from llmdebug.query.engine import Group
from llmdebug.store import rollup


def _filled(cls=rollup.Acc, base: int = 1):
    a = cls()
    for i, name in enumerate(rollup.SUM_COLS):
        setattr(a, name, base + i)
    a.latency_hist = {10: base}
    a.ttft_hist = {3: base}
    return a


def test_merge_adds_every_rollup_column():
    a, b = _filled(base=1), _filled(base=100)
    a.merge(b)
    for i, name in enumerate(rollup.SUM_COLS):
        assert getattr(a, name) == (1 + i) + (100 + i), name
    assert a.latency_hist == {10: 101} and a.ttft_hist == {3: 101}


def test_stored_row_round_trips_in_column_order():
    a = _filled()
    row = a.stored()
    assert len(row) == len(rollup.SUM_COLS + rollup.HIST_COLS)
    assert row[: len(rollup.SUM_COLS)] == tuple(range(1, len(rollup.SUM_COLS) + 1))
    back = rollup.Acc.from_stored(row)
    assert [getattr(back, n) for n in rollup.SUM_COLS] == [getattr(a, n) for n in rollup.SUM_COLS]
    assert back.latency_hist == a.latency_hist and back.ttft_hist == a.ttft_hist


def test_a_rollup_row_of_the_wrong_width_is_refused_by_name():
    with pytest.raises(ValueError, match="calls, rate_limit_hits"):
        rollup.Acc.from_stored((1, 2, 3))


def test_every_slot_is_a_rollup_column_and_groups_add_errors():
    assert rollup.Acc.__slots__ == rollup.SUM_COLS + rollup.HIST_COLS
    g = Group()
    assert g.errors == 0 and g.calls == 0 and "errors=0" in repr(g)


def test_add_row_counts_one_span_by_name():
    acc: dict = {}
    row = dict(started_at="2026-11-20T12:34:00.000000Z", kind="llm", provider="p", model="m", name="n",
               endpoint="e", status="ok", tags=None, latency_ms=100.0, ttft_ms=20.0, http_status=429,
               rate_limit_hits=2, retries=1, input_tokens=5, output_tokens=7, total_tokens=12, cached_tokens=3,
               cost_usd=0.5, priced=0)
    rollup.add_row(acc, tuple(row[c] for c in rollup.SPAN_FIELDS))
    rollup.add_row(acc, tuple(row[c] for c in rollup.SPAN_FIELDS))
    [(key, a)] = acc.items()
    assert key == ("2026-11-20T12", "llm", "p", "m", "n", "e", "ok", "[]")
    assert (a.calls, a.rate_limit_hits, a.rate_limited_calls, a.retries, a.latency_sum, a.latency_n) == (
        2, 4, 2, 2, 200.0, 2)
    assert (a.input_tokens, a.output_tokens, a.total_tokens, a.cached_tokens) == (10, 14, 24, 6)
    assert (a.cost_sum, a.cost_n, a.unpriced) == (1.0, 2, 2)
    assert sum(a.latency_hist.values()) == 2 and sum(a.ttft_hist.values()) == 2
