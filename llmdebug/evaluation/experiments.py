"""``ld.experiment``: run every item of a dataset through every variant, capture each run
under one trace per variant, score the results, and return one row per item x variant.

Each variant gets a root span ``experiment <name>: <variant>`` (kind ``experiment``) with
one child span per item (kind ``task``: the item's input and the variant's output); the
variant's own LLM calls are captured under the item's span. Items run on a bounded thread
pool; each task runs in a copy of the context taken under the variant's root span, so
its calls land in that trace. An item that fails records its error on its span and the
run goes on. The scores (``ld.evaluate``) carry the experiment's id; the runs go to the
``experiments`` and ``experiment_runs`` tables, so :func:`experiment_frame` rebuilds the
same DataFrame later.
"""

from __future__ import annotations

import contextvars
import json
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any, Iterable

from ..session import flush, get_store
from ..store.rows import iso, jsonable
from ..tracing import new_id, span, trace
from .dataset_items import Dataset, normalise_item
from .runs import experiment_frame
from .variants import Variant, VariantError, make_variants

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["experiment", "experiment_frame"]


def resolve_items(data: Any, *, expected_key: str = "expected") -> tuple[str | None, int | None, list[dict]]:
    """(dataset name, version, items) of a Dataset, a dataset name or a list of item dicts."""
    if isinstance(data, Dataset):
        v = data.version
        return data.name, v, data.records(v)
    if isinstance(data, str):
        ds = Dataset(data)
        v = ds.version  # KeyError says how to create it
        return data, v, ds.records(v)
    if hasattr(data, "columns") and hasattr(data, "to_dict"):
        data = data.to_dict("records")
    if isinstance(data, Iterable) and not isinstance(data, (dict, bytes)):
        items, seen = [], set()
        for it in data:
            n = normalise_item(it, expected_key=expected_key)
            if n["item_id"] in seen:
                raise ValueError(f"two items with the id {n['item_id']!r} (the same input twice?): give each an id")
            seen.add(n["item_id"])
            items.append(n)
        return None, None, items
    raise TypeError(f"a dataset is a Dataset, a dataset name or a list of item dicts, not {type(data).__name__}")


def _scorer_name(s: Any) -> str:
    return str(getattr(s, "name", None) or getattr(s, "__name__", None) or type(s).__name__)


def _check_scorers(scorers: Iterable[Any]) -> list[Any]:
    scorers = list(scorers or [])
    names = [_scorer_name(s) for s in scorers]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"two scorers are named {dupes[0]!r}: give each scorer its own name")
    return scorers


def _text(out: Any) -> str | None:
    if out is None:
        return None
    if isinstance(out, str):
        return out
    return json.dumps(jsonable(out), ensure_ascii=False)


def _context_of(item: dict, key: str | None) -> Any:
    if not key:
        return None
    meta, inp = item.get("metadata") or {}, item.get("input")
    if key in meta:
        return meta[key]
    return inp.get(key) if isinstance(inp, dict) else None


def _prepared(item: dict, expected_key: str | None, context_key: str | None) -> dict:
    """The item as a variant sees it (its expected value taken out of the input when
    ``expected_key`` names an input key) and what its scorers get."""
    inp, expected = item["input"], item.get("expected")
    if expected_key:
        meta = item.get("metadata") or {}
        if isinstance(inp, dict) and expected_key in inp:
            inp = {k: v for k, v in inp.items() if k != expected_key}
            expected = item["input"][expected_key]
        elif expected_key in meta:
            expected = meta[expected_key]
    return {"item_id": item["item_id"], "input": inp, "expected": expected,
            "context": _context_of(item, context_key), "source_span_id": item.get("source_span_id")}


def _run_item(v: Variant, item: dict, eid: str) -> dict:
    """One item through one variant, in a ``task`` span; never raises an Exception."""
    attrs = {"expected": item["expected"]}
    if item["context"] is not None:
        attrs["context"] = item["context"]
    with span(f"item {item['item_id']}", kind="task", item_id=item["item_id"], **attrs,
              metadata={"experiment_id": eid, "variant": v.name, "item_id": item["item_id"]}) as s:
        s.set_input(item["input"])
        out, error = None, None
        try:
            out = v.run(item["input"], item["source_span_id"])
        except Exception as e:  # the variant's failure is this item's result, not the run's
            s.record_error(e)
            if isinstance(e, VariantError) and e.error_type:
                s.error_type = e.error_type
            error = f"{s.error_type}: {s.error_message}"
        else:
            s.set_output(out)
    return {"item_id": item["item_id"], "span_id": s.id, "trace_id": s.trace_id, "output_text": _text(out),
            "error": error}


def _progress_bar(total: int, enabled: bool, desc: str) -> Any:
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, leave=False)


def _run_variant(v: Variant, items: list[dict], eid: str, name: str, dataset: str | None, concurrency: int,
                 bar: Any) -> list[dict]:
    results: dict[str, dict] = {}
    with trace(f"experiment {name}: {v.name}", kind="experiment", experiment_id=eid, variant=v.name,
               dataset=dataset, metadata={"experiment_id": eid, "variant": v.name}):
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(items) or 1)),
                                thread_name_prefix="llmdebug-experiment") as pool:
            # one context copy per task, taken here under the root span: threads do not inherit it
            futures = [pool.submit(contextvars.copy_context().run, _run_item, v, it, eid) for it in items]
            for f in as_completed(futures):
                r = f.result()
                results[r["item_id"]] = r
                if bar is not None:
                    bar.update(1)
    return [results[it["item_id"]] for it in items]


def _write(sql: str, rows: list[tuple]) -> None:
    with get_store().reading() as db, db.conn:
        db.conn.executemany(sql, rows)


def experiment(dataset: Any, variants: dict, scorers: Iterable[Any] = (), *, concurrency: int = 8,
               name: str | None = None, client: Any = None, model: str | None = None,
               expected_key: str | None = None, context_key: str | None = "context",
               progress: bool = True) -> "pd.DataFrame":
    """Run every item of ``dataset`` through every variant, score the outputs, and return
    one row per item x variant.

    :param dataset: a :class:`Dataset`, a dataset's name, or a list of item dicts
        (``{"input", "expected", "metadata", "id"}``, or flat dicts that are the input).
    :param variants: name -> a function ``fn(input) -> output``, a prompt template
        (``"Answer briefly: {question}"``, filled from the item's input dict, sent to
        ``model`` through ``client``; or ``{"template", "system", "model", "params"}``),
        or a model name (the item's messages sent to it through ``client``, or replayed
        where the item's source call went).
    :param scorers: ``ld.scorers`` results, ``ld.judge(...)`` results or plain functions;
        they get each item's expected value and context (``ld.evaluate``).
    :param expected_key: an input (or metadata) key holding the expected value, taken out
        of the input before the variants see it.
    :param context_key: the metadata (or input) key holding the context the scorers get.
    :returns: a DataFrame with experiment_id, variant, item_id, input, expected, output,
        error, span_id, trace_id, latency_ms, cost_usd, input_tokens, output_tokens and
        one column per score; ``df.attrs["experiment_id"]``. ``ld.compare(df)`` shows it.

    Example::

        df = ld.experiment("support", {"terse": "Answer briefly: {question}",
                                       "grounded": "Use this: {context}\\nQuestion: {question}"},
                           [ld.scorers.contains_expected()], client=client, model="gpt-4o-mini")
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency={concurrency!r}: give a whole number ≥ 1")
    runners = make_variants(variants, client=client, model=model)
    scorers = _check_scorers(scorers)
    ds_name, ds_version, raw = resolve_items(dataset, expected_key=expected_key or "expected")
    if not raw:
        raise ValueError("the dataset has no items: add some first (ds.add(...))")
    items = [_prepared(it, expected_key, context_key) for it in raw]
    eid = new_id()
    name = name or ds_name or "experiment"
    _write("INSERT INTO experiments (id, name, dataset, dataset_version, variants_json, scorers_json, created_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?)",
           [(eid, name, ds_name, ds_version, json.dumps([v.describe() for v in runners]),
             json.dumps([_scorer_name(s) for s in scorers]), iso(time.time()))])
    bar = _progress_bar(len(items) * len(runners), progress, f"experiment {name}")
    try:
        for v in runners:
            rows = _run_variant(v, items, eid, name, ds_name, concurrency, bar)
            _write("INSERT INTO experiment_runs (experiment_id, variant, item_id, trace_id, span_id, output_text, "
                   "error) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [(eid, v.name, r["item_id"], r["trace_id"], r["span_id"], r["output_text"], r["error"])
                    for r in rows])
            for it, r in zip(items, rows):
                it.setdefault("spans", []).append(r["span_id"])
    finally:
        if bar is not None:
            bar.close()
    flush()
    if scorers:
        from .scoring import evaluate

        span_ids = [sid for it in items for sid in it["spans"]]
        expected = {sid: it["expected"] for it in items for sid in it["spans"]}
        context = {sid: it["context"] for it in items for sid in it["spans"]}
        evaluate(span_ids, scorers, expected=expected, context=context, experiment_id=eid, progress=progress,
                 concurrency=concurrency)
    return experiment_frame(eid)
