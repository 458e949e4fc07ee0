"""Schema of the trace store, as numbered migrations applied when a store opens.

Never edit a migration that has shipped: add the next one. A fresh file and an old
file take the same path (every pending migration, in order). So each migration spells
out the columns it creates as they were when it shipped, and never reads a constant
that later code may change: ``SPAN_COLUMNS`` and ``PAYLOAD_COLUMNS`` below are what the
migrations add up to today (rows.py and query/ use them), not what m001 or m002 made.
tests/test_store.py checks both a fresh and an old file against a literal schema.

Layout: ``spans`` is narrow (ids, times, model, status, tokens, cost, latency) so that
aggregates over millions of rows scan little; the big JSON payloads live in
``payloads``, keyed by span id, and are read only when one span is opened.
"""

from __future__ import annotations

from ._sqlite_utils import Database, Migrations

migrations = Migrations("llmdebug")

# The columns of ``spans`` once every migration has run (m001, ``cell`` from m008, m012's).
# A new column: a new migration that adds it, then add it here and a cell in rows.py.
SPAN_COLUMNS = {
    "id": str,
    "trace_id": str,
    "parent_id": str,
    "name": str,
    "kind": str,
    "provider": str,
    "model": str,
    "request_model": str,
    "endpoint": str,
    "base_url": str,
    "status": str,
    "error_type": str,
    "error_message": str,
    "http_status": int,
    "input_tokens": int,
    "output_tokens": int,
    "total_tokens": int,
    "cached_tokens": int,
    "cache_write_tokens": int,
    "reasoning_tokens": int,
    "cost_usd": float,
    "priced": int,
    "latency_ms": float,
    "ttft_ms": float,
    "started_at": str,
    "ended_at": str,
    "stream": int,
    "retries": int,
    "rate_limit_hits": int,
    "replay_of": str,
    "tags": str,
    "metadata": str,
    "cell": int,  # the notebook cell (execution count) that made the span, under %load_ext
    # m012: rate-limit headroom from the response headers, calls in flight at the start
    "ratelimit_limit_requests": int,
    "ratelimit_remaining_requests": int,
    "ratelimit_limit_tokens": int,
    "ratelimit_remaining_tokens": int,
    "ratelimit_reset_requests_s": float,
    "ratelimit_reset_tokens_s": float,
    "retry_after_s": float,
    "in_flight": int,
}

# The columns of ``payloads`` once every migration has run (all from m002).
PAYLOAD_COLUMNS = {
    "span_id": str,
    "request_json": str,
    "response_json": str,
    "messages_json": str,
    "tool_calls_json": str,
    "events_json": str,
    "input_json": str,
    "output_json": str,
    "attributes_json": str,
    "prompt_text": str,
    "output_text": str,
}


@migrations()
def m001_spans(db: Database) -> None:
    # The columns as they shipped, written out: `cell` came later, with m008.
    db["spans"].create(
        {
            "id": str,
            "trace_id": str,
            "parent_id": str,
            "name": str,
            "kind": str,
            "provider": str,
            "model": str,
            "request_model": str,
            "endpoint": str,
            "base_url": str,
            "status": str,
            "error_type": str,
            "error_message": str,
            "http_status": int,
            "input_tokens": int,
            "output_tokens": int,
            "total_tokens": int,
            "cached_tokens": int,
            "cache_write_tokens": int,
            "reasoning_tokens": int,
            "cost_usd": float,
            "priced": int,
            "latency_ms": float,
            "ttft_ms": float,
            "started_at": str,
            "ended_at": str,
            "stream": int,
            "retries": int,
            "rate_limit_hits": int,
            "replay_of": str,
            "tags": str,
            "metadata": str,
        },
        pk="id",
        if_not_exists=True,
    )
    db["spans"].create_index(["trace_id"], if_not_exists=True)
    db["spans"].create_index(["started_at"], if_not_exists=True)
    db["spans"].create_index(["kind", "started_at"], if_not_exists=True)


@migrations()
def m002_payloads(db: Database) -> None:
    # The columns as they shipped, written out (not read from PAYLOAD_COLUMNS).
    db["payloads"].create(
        {
            "span_id": str,
            "request_json": str,
            "response_json": str,
            "messages_json": str,
            "tool_calls_json": str,
            "events_json": str,
            "input_json": str,
            "output_json": str,
            "attributes_json": str,
            "prompt_text": str,
            "output_text": str,
        },
        pk="span_id",
        if_not_exists=True,
    )


@migrations()
def m003_feedback(db: Database) -> None:
    db["feedback"].create(
        {"id": int, "span_id": str, "name": str, "value": str, "comment": str, "created_at": str},
        pk="id",
        if_not_exists=True,
    )
    db["feedback"].create_index(["span_id"], if_not_exists=True)


@migrations()
def m004_calls_view(db: Database) -> None:
    # The LLM calls only; users can query it directly with sqlite3 or Datasette.
    db.create_view("calls", "SELECT * FROM spans WHERE kind = 'llm'", ignore=True)


@migrations()
def m005_payloads_fts(db: Database) -> None:
    # Full-text search over prompt and output text. No triggers: the writer indexes
    # new rows when idle (fts.py), keeping tokenisation off the capture path.
    db["payloads"].enable_fts(["prompt_text", "output_text"], create_triggers=False, replace=True)
    db["llmdebug_state"].create({"key": str, "value": str}, pk="key", if_not_exists=True)


@migrations()
def m006_rollup(db: Database) -> None:
    # Hourly pre-aggregates for metrics() (see rollup.py: its KEY_COLS, SUM_COLS and
    # HIST_COLS name these columns). Existing spans are counted by the first catch-up,
    # like spans written by anything else than llmdebug.
    db["rollup"].create(
        {
            "hour": str,
            "kind": str,
            "provider": str,
            "model": str,
            "name": str,
            "endpoint": str,
            "status": str,
            "tags": str,
            "calls": int,
            "rate_limit_hits": int,
            "rate_limited_calls": int,
            "retries": int,
            "latency_sum": float,
            "latency_n": int,
            "input_tokens": int,
            "output_tokens": int,
            "total_tokens": int,
            "cached_tokens": int,
            "cost_sum": float,
            "cost_n": int,
            "unpriced": int,
            "latency_hist": str,
            "ttft_hist": str,
        },
        pk=("hour", "kind", "provider", "model", "name", "endpoint", "status", "tags"),
        if_not_exists=True,
    )


@migrations()
def m007_state_table(db: Database) -> None:
    # m005 creates it too; files from before that change get it here.
    db["llmdebug_state"].create({"key": str, "value": str}, pk="key", if_not_exists=True)


@migrations()
def m008_cell_column(db: Database) -> None:
    # Which notebook cell made a span (per-cell costs); files from before it get the column.
    if "cell" not in db["spans"].columns_dict:
        db["spans"].add_column("cell", int)


@migrations()
def m009_alerts(db: Database) -> None:
    # Budgets and alerts that fired (llmdebug/budgets.py), queryable afterwards.
    db["alerts"].create({"id": int, "rule": str, "kind": str, "threshold": float, "value": float,
                         "message": str, "fired_at": str}, pk="id", if_not_exists=True)


@migrations()
def m010_trace_cost_index(db: Database) -> None:
    # The costliest traces (dashboard, charts.top_traces) sum cost per trace: with this
    # covering index SQLite reads the index alone instead of the table (1.5 -> 0.4 s at 1M).
    db["spans"].create_index(["kind", "trace_id", "cost_usd"], if_not_exists=True)


@migrations()
def m011_quality(db: Database) -> None:
    # Scores of any source (human feedback, code scorers, LLM judges), datasets with
    # versioned items, and experiments (llmdebug/evaluation/). ``feedback`` rows from
    # older files become human scores; the ``feedback`` table itself stays, untouched.
    db["scores"].create(
        {"id": int, "span_id": str, "trace_id": str, "name": str, "value": float, "label": str, "source": str,
         "comment": str, "judge_span_id": str, "experiment_id": str, "created_at": str},
        pk="id",
        if_not_exists=True,
    )
    db["scores"].create_index(["span_id"], if_not_exists=True)
    db["scores"].create_index(["name", "created_at"], if_not_exists=True)
    db["scores"].create_index(["experiment_id"], if_not_exists=True)
    rows = db.execute("SELECT f.span_id, s.trace_id, f.name, f.value, f.comment, f.created_at "
                      "FROM feedback f LEFT JOIN spans s ON s.id = f.span_id ORDER BY f.id").fetchall()
    for span_id, trace_id, name, raw, comment, created_at in rows:
        value, label = _score_of_feedback(raw)
        db.execute("INSERT INTO scores (span_id, trace_id, name, value, label, source, comment, created_at) "
                   "VALUES (?, ?, ?, ?, ?, 'human', ?, ?)", (span_id, trace_id, name, value, label, comment, created_at))
    # An item's versions: it is in version v of its dataset when version_from <= v and
    # (version_to is null or v < version_to). A change ends one row and starts another.
    db["datasets"].create({"name": str, "version": int, "description": str, "created_at": str, "updated_at": str},
                          pk="name", if_not_exists=True)
    db["dataset_items"].create(
        {"id": int, "dataset": str, "item_id": str, "version_from": int, "version_to": int, "input_json": str,
         "expected_json": str, "metadata_json": str, "source_span_id": str, "created_at": str},
        pk="id",
        if_not_exists=True,
    )
    db["dataset_items"].create_index(["dataset", "item_id"], if_not_exists=True)
    db["experiments"].create(
        {"id": str, "name": str, "dataset": str, "dataset_version": int, "variants_json": str, "scorers_json": str,
         "created_at": str},
        pk="id",
        if_not_exists=True,
    )
    db["experiment_runs"].create(
        {"experiment_id": str, "variant": str, "item_id": str, "trace_id": str, "span_id": str, "output_text": str,
         "error": str},
        pk=("experiment_id", "variant", "item_id"),
        if_not_exists=True,
    )


def _score_of_feedback(raw: str | None) -> tuple[float | None, str | None]:
    # m003 stored a string value as is and anything else as JSON text.
    import json

    try:
        value = json.loads(raw) if raw is not None else None
    except ValueError:
        return None, raw
    if isinstance(value, bool):
        return float(value), "up" if value else "down"
    if isinstance(value, (int, float)):
        return float(value), None
    return None, raw


@migrations()
def m012_operations(db: Database) -> None:
    # Rate-limit headroom the API reported on each call, how many calls of the process were
    # in flight when it started (providers/ read the headers; capture counts), and the
    # writer's own health over time (store/writer.py samples it).
    spans = db["spans"]
    have = spans.columns_dict
    for column, kind in (("ratelimit_limit_requests", int), ("ratelimit_remaining_requests", int),
                         ("ratelimit_limit_tokens", int), ("ratelimit_remaining_tokens", int),
                         ("ratelimit_reset_requests_s", float), ("ratelimit_reset_tokens_s", float),
                         ("retry_after_s", float), ("in_flight", int)):
        if column not in have:
            spans.add_column(column, kind)
    db["writer_health"].create(
        {"at": str, "queue_depth": int, "queued_bytes": int, "batch_ms": float, "batch_spans": int,
         "written": int, "shed_spans": int, "shed_payloads": int},
        if_not_exists=True,
    )
    db["writer_health"].create_index(["at"], if_not_exists=True)
