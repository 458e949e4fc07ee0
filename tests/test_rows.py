"""Rows are built by column name: one cell per column, assembled in column order, and a
row of the wrong width is reported as the bug it is, not as a file that cannot be written."""

from __future__ import annotations

import warnings

import pytest

import llmdebug as ld
from llmdebug import _guard
from llmdebug._guard import LLMDebugWarning
from llmdebug.store import rows
from llmdebug.store.migrations import PAYLOAD_COLUMNS, SPAN_COLUMNS
from llmdebug.tracing import Span


def _span(**kw) -> Span:
    base = dict(id="s1", trace_id="t1", parent_id="p", name="step", kind="span", provider="prov", model="m",
                request_model="rm", endpoint="e", base_url="https://user:pw@example.com/v1", status="error",
                error_type="E", error_message="boom", http_status=500, input_tokens=1, output_tokens=2,
                total_tokens=3, cached_tokens=4, cache_write_tokens=5, reasoning_tokens=6, cost_usd=0.5,
                priced=True, latency_ms=7.0, ttft_ms=8.0, started_at=1.25, ended_at=2.5, stream=True, retries=9,
                rate_limit_hits=10, replay_of="r", tags=["x"], metadata={"k": "v"}, cell=11,
                input={"q": 1}, output="out", events=[{"type": "e"}], attributes={"a": 1})
    return Span(**{**base, **kw})


def test_every_column_has_one_cell():
    assert list(rows.SPAN_CELLS) == list(SPAN_COLUMNS)
    assert list(rows.PAYLOAD_CELLS) == list(PAYLOAD_COLUMNS)


def test_rows_hold_each_cell_under_its_column():
    s = _span()
    by_name = dict(zip(rows.SPAN_FIELDS, rows.span_row(s)))
    assert by_name == {c: rows.SPAN_CELLS[c](getattr(s, c)) for c in rows.SPAN_FIELDS}
    assert by_name["started_at"] == "1970-01-01T00:00:01.250000Z" and by_name["cell"] == 11
    assert by_name["base_url"] == "https://REDACTED@example.com/v1" and by_name["priced"] == 1
    payload = dict(zip(rows.PAYLOAD_FIELDS, rows.payload_row(s)))
    made = {}
    for column, (attribute, make) in rows.PAYLOAD_CELLS.items():
        value = s if attribute is None else getattr(s, attribute)
        made[column] = value if make is None else make(value)
    assert payload == made
    assert payload["span_id"] == "s1" and payload["output_text"] == "out" and payload["prompt_text"] is None
    assert rows.payload_row(Span(id="bare", trace_id="t")) is None


@pytest.mark.parametrize("change, named", [
    (lambda cells: cells.pop("cell"), "no cell for column 'cell'"),
    (lambda cells: cells.update(colour=("colour", str)), "cell 'colour' is not a column"),
])
def test_a_column_without_a_cell_or_a_cell_without_a_column_fails_at_build_time(change, named):
    cells = {column: (column, make) for column, make in rows.SPAN_CELLS.items()}
    change(cells)
    with pytest.raises(rows.RowShapeError, match=named):
        rows.row_builder("span_row", "spans", rows.SPAN_FIELDS, cells, "doc")


def test_a_row_of_the_wrong_width_is_reported_as_a_bug_not_a_file_problem(ld_on, monkeypatch):
    import llmdebug.store.writer as writer_mod

    monkeypatch.delenv("LLMDEBUG_RAISE_ERRORS", raising=False)
    monkeypatch.setattr(_guard, "_warned", set())
    real = writer_mod.span_row
    monkeypatch.setattr(writer_mod, "span_row", lambda s: real(s)[:-1] if s.name == "short" else real(s))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with ld.span("short"):
            pass
        with ld.span("fine"):
            pass
        assert ld.flush(10) is True  # nothing is held back as if the file could not be written
    texts = [str(w.message) for w in caught if issubclass(w.category, LLMDebugWarning)]
    assert len(texts) == 1, texts
    width = len(SPAN_COLUMNS)
    assert "serialising a span" in texts[0] and f"{width - 1} values for its {width} columns" in texts[0], texts[0]
    assert "cannot write" not in texts[0]
    assert list(ld.spans()["name"]) == ["fine"]


def test_under_test_a_wrong_width_raises():
    with pytest.raises(rows.RowShapeError, match="payloads row of 2 values"):
        rows.check_width(("a", "b"), "payloads")
