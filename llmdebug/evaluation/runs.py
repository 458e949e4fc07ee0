"""An experiment's results read back from the store: ``experiment_frame(id)`` is the
DataFrame ``ld.experiment`` returned, rebuilt from ``experiments``, ``experiment_runs``,
the item spans (input, expected value, latency), the LLM calls under them (tokens, cost)
and the scores made with the experiment's id."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from ..session import flush, get_store
from ..store.rows import decode_json

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["experiment_frame", "experiments_list", "BASE_COLUMNS"]

BASE_COLUMNS = ["experiment_id", "variant", "item_id", "input", "expected", "output", "error", "span_id", "trace_id",
                "latency_ms", "cost_usd", "input_tokens", "output_tokens"]


def _experiment_row(experiment_id: str | None) -> tuple:
    store = get_store()
    if experiment_id is None:
        rows = store.read("SELECT id, name, dataset, dataset_version, variants_json, scorers_json, created_at "
                          "FROM experiments ORDER BY created_at DESC, rowid DESC LIMIT 1")
        if not rows:
            raise LookupError("no experiment in this store yet: run one with ld.experiment(...)")
        return rows[0]
    rows = store.read("SELECT id, name, dataset, dataset_version, variants_json, scorers_json, created_at "
                      "FROM experiments WHERE id = ?", [experiment_id])
    if not rows:
        rows = store.read("SELECT id, name, dataset, dataset_version, variants_json, scorers_json, created_at "
                          "FROM experiments WHERE id >= ? AND id < ? LIMIT 2", [experiment_id, experiment_id + "\uffff"])
        if len(rows) > 1:
            raise KeyError(f"experiment id prefix {experiment_id!r} is ambiguous; give more characters")
    if not rows:
        raise KeyError(f"no experiment with id {experiment_id!r} in {store.path}")
    return rows[0]


def _call_totals(trace_ids: list[str], item_spans: set[str]) -> dict[str, dict]:
    """Tokens and cost of the LLM calls under each item span (any depth)."""
    if not trace_ids:
        return {}
    rows = get_store().read(
        f"SELECT id, parent_id, kind, input_tokens, output_tokens, cost_usd FROM spans "
        f"WHERE trace_id IN ({', '.join('?' * len(trace_ids))})", trace_ids)
    parent = {r[0]: r[1] for r in rows}
    totals = {sid: {"calls": 0, "input_tokens": 0, "output_tokens": 0, "costs": []} for sid in item_spans}
    for sid, _, kind, tin, tout, cost in rows:
        if kind != "llm":
            continue
        p, hops = parent.get(sid), 0
        while p is not None and p not in item_spans and hops < 1000:
            p, hops = parent.get(p), hops + 1
        if p is None or p not in totals:
            continue
        t = totals[p]
        t["calls"] += 1
        t["input_tokens"] += tin or 0
        t["output_tokens"] += tout or 0
        if cost is not None:
            t["costs"].append(cost)
    return totals


def _score_cells(experiment_id: str) -> tuple[dict[tuple[str, str], Any], list[str], set[str]]:
    """{(span_id, name): value or label}, the score names in first-seen order, and the
    names with a label where there is no value (their columns hold text)."""
    cells: dict[tuple[str, str], Any] = {}
    names: list[str] = []
    labelled: set[str] = set()
    rows = get_store().read("SELECT span_id, name, value, label FROM scores WHERE experiment_id = ? ORDER BY id",
                            [experiment_id])
    for span_id, name, value, label in rows:  # a later score of the same name replaces an earlier one
        if name not in names:
            names.append(name)
        if value is None and label is not None:
            labelled.add(name)
        cells[(span_id, name)] = value if value is not None else label
    return cells, names, labelled


def experiment_frame(experiment_id: str | None = None) -> "pd.DataFrame":
    """The results of an experiment (by id or unique id prefix; None: the latest), as
    ``ld.experiment`` returned them: one row per item x variant, one column per score.
    ``df.attrs`` holds experiment_id, name, dataset, dataset_version, variants, scores."""
    import pandas as pd

    flush()
    eid, name, ds, ds_version, variants_json, scorers_json, created_at = _experiment_row(experiment_id)
    variants = [v["name"] for v in decode_json(variants_json) or []]
    order = {v: i for i, v in enumerate(variants)}
    runs = get_store().read(
        "SELECT r.variant, r.item_id, r.trace_id, r.span_id, r.output_text, r.error, s.latency_ms, p.input_json, "
        "p.attributes_json FROM experiment_runs r LEFT JOIN spans s ON s.id = r.span_id "
        "LEFT JOIN payloads p ON p.span_id = r.span_id WHERE r.experiment_id = ? ORDER BY r.rowid", [eid])
    runs.sort(key=lambda r: order.get(r[0], len(order)))  # stable: items keep their order within a variant
    totals = _call_totals(sorted({r[2] for r in runs if r[2]}), {r[3] for r in runs if r[3]})
    cells, seen_names, labelled = _score_cells(eid)
    score_names = [n for n in decode_json(scorers_json) or [] if n in seen_names] + \
        [n for n in seen_names if n not in (decode_json(scorers_json) or [])]
    records = []
    for variant, item_id, trace_id, span_id, output, error, latency, input_json, attrs_json in runs:
        attrs = decode_json(attrs_json) or {}
        t = totals.get(span_id) or {"calls": 0, "input_tokens": 0, "output_tokens": 0, "costs": []}
        cost = math.fsum(t["costs"]) if t["costs"] else (0.0 if t["calls"] == 0 else None)
        rec = {"experiment_id": eid, "variant": variant, "item_id": item_id, "input": decode_json(input_json),
               "expected": attrs.get("expected"), "output": output, "error": error, "span_id": span_id,
               "trace_id": trace_id, "latency_ms": latency, "cost_usd": cost, "input_tokens": t["input_tokens"],
               "output_tokens": t["output_tokens"]}
        for n in score_names:
            rec[n] = cells.get((span_id, n))
        records.append(rec)
    df = pd.DataFrame.from_records(records, columns=BASE_COLUMNS + score_names)
    for col in ("latency_ms", "cost_usd"):
        df[col] = df[col].astype("float64")
    for col in ("input_tokens", "output_tokens"):
        df[col] = df[col].astype("Int64")
    for n in score_names:
        if n not in labelled:
            df[n] = df[n].astype("float64")
    df.attrs.update({"experiment_id": eid, "name": name, "dataset": ds, "dataset_version": ds_version,
                     "variants": variants, "scores": score_names, "created_at": created_at})
    return df


def experiments_list() -> "pd.DataFrame":
    """Every experiment: id, name, dataset, dataset_version, variants, scorers, items, created_at."""
    import pandas as pd

    flush()
    rows = get_store().read(
        "SELECT e.id, e.name, e.dataset, e.dataset_version, e.variants_json, e.scorers_json, "
        "(SELECT COUNT(DISTINCT item_id) FROM experiment_runs r WHERE r.experiment_id = e.id), e.created_at "
        "FROM experiments e ORDER BY e.created_at, e.rowid")
    out = [{"id": r[0], "name": r[1], "dataset": r[2], "dataset_version": r[3],
            "variants": [v["name"] for v in json.loads(r[4] or "[]")], "scorers": json.loads(r[5] or "[]"),
            "items": r[6], "created_at": r[7]} for r in rows]
    df = pd.DataFrame.from_records(out, columns=["id", "name", "dataset", "dataset_version", "variants", "scorers",
                                                 "items", "created_at"])
    df["created_at"] = pd.to_datetime(df["created_at"], utc=True, format="ISO8601")
    return df
