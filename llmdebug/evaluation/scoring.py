"""``ld.evaluate``: run scorers over captured spans on a bounded thread pool, store the scores.

Each (span, scorer) pair is one task. A scorer that raises gives a row with ``error`` and
stores nothing; the others go on. Scores are stored as they come in (every
``STORE_EVERY`` results), so an interrupted run keeps what it finished.
"""

from __future__ import annotations

import re
import sys
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from ..query import add_scores, calls as calls_frame, flush, get
from ..tracing import Span
from .judges import call_spans
from .samples import sample
from .scorers import Scorer, as_scorers

if TYPE_CHECKING:
    import pandas as pd

EVAL_COLUMNS = ["span_id", "trace_id", "name", "value", "label", "source", "comment", "judge_span_id", "error"]
STORE_EVERY = 64
_SPAN_ID = re.compile(r"[0-9a-f]{16,32}")


def evaluate(calls: Any = None, scorers: Any = (), *, expected: Any = None, context: Any = None, item: Any = None,
             concurrency: int = 8, progress: bool = True, experiment_id: str | None = None,
             **filters: Any) -> "pd.DataFrame":
    """Score spans with scorers and store the scores; returns one row per (span, scorer):
    ``span_id, trace_id, name, value, label, source, comment, judge_span_id, error``.

    ``calls``: a ``ld.calls()`` or ``ld.spans()`` DataFrame (its ``span_id`` or ``id``
    column), a list of span ids or Spans, one of them, or None with filters
    (``ld.calls(**filters)``: ``model``, ``since``, ``limit``, ...). Any span works: an LLM
    call is scored on its output text, another span on what it recorded with
    ``set_output``. ``scorers``: built-ins from ``ld.scorers``, ``ld.judge(...)``, plain
    functions, a list of them, or a dict name -> scorer; names must differ.

    ``expected``, ``context`` and ``item`` (what scorers asking for them get): one value for
    every span, a dict span id -> value (a dict with no span id among its keys is one
    value), or the name of a column of the ``calls`` DataFrame. Scorers run on
    ``concurrency`` threads with a progress bar (tqdm's, a widget in Jupyter;
    ``progress=False`` for none). A scorer that raises gives its row an
    ``error`` and stores no score; a scorer returning None stores none either.
    ``experiment_id`` is stored with each score.

    Example::

        def short(output):
            return len(output or "") < 400

        ld.evaluate(ld.calls(model="gpt-4o-mini", limit=50),
                    [ld.scorers.contains("refund"), short, ld.judge("relevance")])
        ld.scores(name="relevance")
    """
    import pandas as pd

    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency={concurrency!r}: give a whole number ≥ 1 (how many scorers run at once)")
    todo = as_scorers(scorers)
    if not todo:
        raise ValueError("no scorers: pass some, e.g. [ld.scorers.valid_json(), ld.judge('relevance')]")
    frame = calls if _is_frame(calls) else None
    spans = list({s.id: s for s in map(get, _span_ids(calls, filters))}.values())  # each once, in order
    ids = [s.id for s in spans]
    per_span = {key: _per_span(key, value, frame, ids) for key, value in
                (("expected", expected), ("context", context), ("item", item))}
    tasks = [(s, sc, sample(s, **{k: v[n] for k, v in per_span.items()})) for n, s in enumerate(spans)
             for sc in todo]
    rows: list[dict | None] = [None] * len(tasks)
    pending: list[int] = []

    def store() -> None:
        _store([rows[i] for i in pending], experiment_id)  # type: ignore[misc]
        pending.clear()

    bar = _progress(len(tasks), progress)
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="llmdebug-evaluate")
    try:
        running = {pool.submit(_score, sc, values): n for n, (s, sc, values) in enumerate(tasks)}
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            stop = None
            for fut in done:
                n = running.pop(fut)
                if fut.exception() is not None:  # only a BaseException gets out of _score
                    stop = fut.exception()
                    continue
                s, sc, _ = tasks[n]
                rows[n] = _row(s, sc, fut.result())
                pending.append(n)
                bar.update(1)
            if stop is not None:
                raise stop
            if len(pending) >= STORE_EVERY:
                store()
        store()
    except BaseException:  # interrupted: keep what finished, drop what did not start
        pool.shutdown(wait=False, cancel_futures=True)
        store()
        raise
    finally:
        pool.shutdown(wait=True)
        bar.close()
    df = pd.DataFrame.from_records([r for r in rows if r is not None], columns=EVAL_COLUMNS)
    df["value"] = df["value"].astype("float64")
    return df


def _score(sc: Scorer, values: dict) -> tuple[Any, str | None]:
    """(Result, None) or (the judge span if any, the error) for one task."""
    try:
        return sc.run(values), None
    except Exception as e:  # a scorer's failure is its row's error, not the run's
        return getattr(e, "judge_span_id", None), f"{type(e).__name__}: {e}"


def _row(s: Span, sc: Scorer, outcome: tuple[Any, str | None]) -> dict:
    result, error = outcome
    row = {"span_id": s.id, "trace_id": s.trace_id, "name": sc.name, "value": None, "label": None,
           "source": sc.source, "comment": None, "judge_span_id": None, "error": error}
    if error is None:
        row.update(value=result.value, label=result.label, comment=result.comment, judge_span_id=result.judge_span_id)
    else:
        row["judge_span_id"] = result
    return row


def _store(rows: list[dict], experiment_id: str | None) -> None:
    """Store the scores among ``rows``; a judge's span becomes its LLM call's, once captured."""
    judged = [r["judge_span_id"] for r in rows if r["judge_span_id"]]
    if judged:
        flush()
        calls = call_spans(judged)
        for r in rows:
            r["judge_span_id"] = calls.get(r["judge_span_id"], r["judge_span_id"])
    add_scores({"span_id": r["span_id"], "trace_id": r["trace_id"], "name": r["name"], "value": r["value"],
                "label": r["label"], "source": r["source"], "comment": r["comment"],
                "judge_span_id": r["judge_span_id"], "experiment_id": experiment_id}
               for r in rows if r["error"] is None and (r["value"] is not None or r["label"] is not None))


# -- what to score ----------------------------------------------------------------------
def _is_frame(x: Any) -> bool:
    return hasattr(x, "columns") and hasattr(x, "iloc")


def _id_of(x: Any) -> str:
    if isinstance(x, Span):
        return x.id
    if isinstance(x, str):
        return x
    if hasattr(x, "get"):  # a calls()/spans() row (Series or dict)
        for key in ("span_id", "id"):
            v = x.get(key)
            if isinstance(v, str):
                return v
    raise TypeError(f"cannot score {type(x).__name__}: give span ids, Spans, calls() rows or a calls() DataFrame")


def _span_ids(calls: Any, filters: dict) -> list[str]:
    """The span ids (or prefixes) ``calls`` and ``filters`` stand for, in order."""
    if calls is None:
        if not filters:
            raise ValueError("which spans? pass calls= (a ld.calls() DataFrame, span ids) or filters such as "
                             "model='gpt-4o-mini', limit=50; ld.evaluate(ld.calls(), ...) scores every call")
        return list(calls_frame(**filters)["id"])
    if filters:
        raise TypeError(f"filters ({', '.join(sorted(filters))}) apply when calls is None: filter the DataFrame "
                        f"or pass ld.calls(...) instead")
    elif _is_frame(calls):
        column = "span_id" if "span_id" in calls.columns else "id"
        if column not in calls.columns:
            raise ValueError("the DataFrame has no 'id' or 'span_id' column: pass a ld.calls() / ld.spans() frame")
        return list(calls[column])
    if isinstance(calls, (str, Span)) or hasattr(calls, "get") or not hasattr(calls, "__iter__"):
        return [_id_of(calls)]
    return [_id_of(x) for x in calls]


def _per_span(key: str, value: Any, frame: Any, ids: list[str]) -> list[Any]:
    """``expected``/``context``/``item`` for each span: one value, a dict by span id, or a column."""
    if value is None:
        return [None] * len(ids)
    if isinstance(value, str) and frame is not None and value in frame.columns:
        column = "span_id" if "span_id" in frame.columns else "id"
        by_id = dict(zip(frame[column], frame[value]))
        return [_missing_as_none(by_id.get(i)) for i in ids]
    if isinstance(value, dict) or (hasattr(value, "items") and hasattr(value, "index")):  # a dict or a Series
        by_id = dict(value.items())
        wanted = set(ids)
        if any(k in wanted for k in by_id):
            return [_missing_as_none(by_id.get(i)) for i in ids]
        if by_id and all(isinstance(k, str) and _SPAN_ID.fullmatch(k) for k in by_id):
            raise ValueError(f"{key}= is keyed by span id, and none of its keys ({_first(list(by_id))}) is a span "
                             f"being scored")
        # no span id among its keys: a dict is the one value for every span (a JSON answer, an item)
    return [value] * len(ids)


def _missing_as_none(v: Any) -> Any:
    return None if isinstance(v, float) and v != v else v  # NaN in a pandas column: no value


def _first(keys: list) -> str:
    return ", ".join(map(repr, keys[:3])) + (", ..." if len(keys) > 3 else "")


# -- progress ---------------------------------------------------------------------------
class _Bar:
    """A text counter on stderr, when tqdm is not installed."""

    def __init__(self, total: int):
        self.total, self.n = total, 0

    def update(self, k: int) -> None:
        self.n += k
        sys.stderr.write(f"\revaluate: {self.n}/{self.total}")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()


class _NoBar:
    def update(self, k: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, enabled: bool) -> Any:
    if not enabled or total == 0:
        return _NoBar()
    try:
        from tqdm.auto import tqdm  # a widget in Jupyter, text in a terminal
    except ImportError:
        return _Bar(total)
    return tqdm(total=total, desc="evaluate", unit="score")
