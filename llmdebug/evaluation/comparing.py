"""The numbers behind ``ld.compare``: per variant the mean scores with paired-bootstrap
intervals, cost, tokens, latency p50/p95 and errors; per pair of variants the score
differences; per item every variant's output and scores, and how much the variants
disagree on it. Pure Python over an experiment's DataFrame; the result is JSON-safe
(a widget syncs it as it is)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .runs import BASE_COLUMNS, experiment_frame
from .stats import RESAMPLES, paired_bootstrap

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["summarise", "frame_of", "score_columns", "TEXT_LIMIT"]

TEXT_LIMIT = 4000  # characters of an input, expected value or output kept per item


def frame_of(experiment: Any) -> "pd.DataFrame":
    """An experiment's DataFrame: the one given, or read back by id (None: the latest)."""
    if hasattr(experiment, "columns") and hasattr(experiment, "attrs"):
        missing = [c for c in ("variant", "item_id") if c not in experiment.columns]
        if missing:
            raise TypeError(f"the DataFrame has no {missing} column(s): pass the DataFrame ld.experiment returned, "
                            "or an experiment id")
        return experiment
    if experiment is None or isinstance(experiment, str):
        return experiment_frame(experiment)
    raise TypeError(f"compare() takes the DataFrame ld.experiment returned, an experiment id or None (the latest), "
                    f"not {type(experiment).__name__}")


def score_columns(df: "pd.DataFrame") -> list[str]:
    """The score columns: ``df.attrs["scores"]`` when set, else every non-base column."""
    named = df.attrs.get("scores")
    if named is not None:
        return [c for c in named if c in df.columns]
    return [c for c in df.columns if c not in BASE_COLUMNS]


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _cell(v: Any) -> Any:
    """A score cell as synced: a number, a label, or None."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    n = _num(v)
    if n is not None and not isinstance(v, str):
        return n
    try:
        if v != v:  # pandas NA
            return None
    except TypeError:
        return None
    return str(v)


def _text(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if not isinstance(v, str):
        import json

        from ..store.rows import jsonable

        v = json.dumps(jsonable(v), ensure_ascii=False)
    return v if len(v) <= TEXT_LIMIT else v[:TEXT_LIMIT - 1] + "…"


def _input_text(v: Any) -> str:
    """An item's input for reading: a dict of texts as ``key: value`` lines, else as JSON."""
    if isinstance(v, dict) and v and all(isinstance(x, (str, int, float, bool)) for x in v.values()):
        return _text("\n".join(f"{k}: {x}" for k, x in v.items()))
    return _text(v)


def _percentile(values: list[float], q: float) -> float | None:
    import numpy as np

    return float(np.percentile(values, q)) if values else None


def _variant_rows(df: "pd.DataFrame", variants: list[str], boot: dict) -> list[dict]:
    means = {(m["variant"], m["score"]): m for m in boot["means"]}
    out = []
    for v in variants:
        rows = df[df["variant"] == v]
        lat = [x for x in (_num(x) for x in rows["latency_ms"]) if x is not None] if "latency_ms" in rows else []
        costs = [x for x in (_num(x) for x in rows["cost_usd"]) if x is not None] if "cost_usd" in rows else []
        errors = int(rows["error"].notna().sum()) if "error" in rows else 0
        out.append({
            "name": v, "items": int(len(rows)), "errors": errors,
            "cost_usd": math.fsum(costs) if costs else None,
            "input_tokens": int(rows["input_tokens"].fillna(0).sum()) if "input_tokens" in rows else None,
            "output_tokens": int(rows["output_tokens"].fillna(0).sum()) if "output_tokens" in rows else None,
            "latency_p50_ms": _percentile(lat, 50), "latency_p95_ms": _percentile(lat, 95),
            "scores": {s: {k: means[(v, s)][k] for k in ("mean", "low", "high", "n")}
                       for s in boot["scores"] if (v, s) in means},
            "labels": {},
        })
    return out


def _labels(df: "pd.DataFrame", variants: list[str], label_scores: list[str], rows: list[dict]) -> None:
    """Counts of each label of the label-only scores, per variant."""
    for r in rows:
        part = df[df["variant"] == r["name"]]
        for s in label_scores:
            counts = part[s].dropna().astype(str).value_counts()
            r["labels"][s] = {str(k): int(c) for k, c in counts.items()}


def _items(df: "pd.DataFrame", variants: list[str], scores: list[str], numeric: list[str]) -> list[dict]:
    by_item: dict[str, dict] = {}
    for rec in df.to_dict("records"):
        iid = str(rec["item_id"])
        it = by_item.get(iid)
        if it is None:
            it = by_item[iid] = {"item_id": iid, "input": _input_text(rec.get("input")),
                                 "expected": _text(rec.get("expected")), "outputs": {}}
        err = rec.get("error")
        it["outputs"][rec["variant"]] = {
            "output": _text(rec.get("output")), "error": None if _cell(err) is None else str(err),
            "span_id": rec.get("span_id"), "latency_ms": _num(rec.get("latency_ms")),
            "scores": {s: _cell(rec.get(s)) for s in scores}}
    out = []
    for pos, it in enumerate(by_item.values()):
        outs = [it["outputs"].get(v) for v in variants]
        it["outputs"] = [dict(o, variant=v) if o else {"variant": v, "output": "", "error": "not run",
                                                      "span_id": None, "latency_ms": None, "scores": {}}
                         for v, o in zip(variants, outs)]
        it["spread"] = _spread(it["outputs"], scores, numeric)
        it["position"] = pos
        out.append(it)
    return out


def _spread(outputs: list[dict], scores: list[str], numeric: list[str]) -> float:
    """How much the variants disagree on an item: the largest range of a numeric score
    across them (a label score counts 1 when the labels differ; a variant that failed
    where another did not counts 1)."""
    spread = 0.0
    for s in scores:
        vals = [o["scores"].get(s) for o in outputs]
        present = [v for v in vals if v is not None]
        if s in numeric:
            nums = [v for v in present if isinstance(v, (int, float))]
            if len(nums) >= 2:
                spread = max(spread, max(nums) - min(nums))
        elif len(set(map(str, present))) > 1:
            spread = max(spread, 1.0)
    failed = [bool(o["error"]) for o in outputs]
    if any(failed) and not all(failed):
        spread = max(spread, 1.0)
    return spread


def summarise(df: "pd.DataFrame", *, resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """Everything the comparison shows, from an experiment's DataFrame (see module doc)."""
    variants = list(df.attrs.get("variants") or dict.fromkeys(df["variant"].tolist()))
    variants = [v for v in variants if v in set(df["variant"])]
    scores = score_columns(df)
    boot = paired_bootstrap(df, scores, resamples=resamples, seed=seed)
    numeric = boot["scores"]
    rows = _variant_rows(df, variants, boot)
    _labels(df, variants, [s for s in scores if s not in numeric], rows)
    return {"experiment_id": df.attrs.get("experiment_id"), "name": df.attrs.get("name"),
            "dataset": df.attrs.get("dataset"), "dataset_version": df.attrs.get("dataset_version"),
            "variants": rows, "scores": scores, "numeric_scores": numeric, "pairs": boot["pairs"],
            "resamples": resamples, "items": _items(df, variants, scores, numeric)}
