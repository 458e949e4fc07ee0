"""``scores()``: every score (human feedback, code scorers, LLM judges) as a DataFrame,
with the model, provider and name of the span it is about."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..session import flush, get_store
from .filters import check_limit, choices, parse_time

if TYPE_CHECKING:
    import pandas as pd

SCORE_COLUMNS = ["id", "span_id", "trace_id", "name", "value", "label", "source", "comment", "judge_span_id",
                 "experiment_id", "created_at", "span_name", "kind", "model", "provider", "started_at"]
SCORE_FILTERS = ("name", "source", "span_id", "trace_id", "experiment_id", "model", "provider", "label", "since",
                 "until", "limit")


def scores(**filters: Any) -> "pd.DataFrame":
    """One row per score, oldest first. Filters: ``name`` (the score's name), ``source``
    (``"human"``, ``"code"``, ``"llm"``), ``span_id``, ``trace_id``, ``experiment_id``,
    ``label``, ``model`` and ``provider`` (of the scored span), each a string or a list;
    ``since``/``until`` (when the score was made) and ``limit`` (the newest n)."""
    import pandas as pd

    where, params = score_where(filters)
    flush()
    limit = check_limit(filters.get("limit"))
    sql = (f"SELECT c.id, c.span_id, COALESCE(c.trace_id, s.trace_id), c.name, c.value, c.label, c.source, "
           f"c.comment, c.judge_span_id, c.experiment_id, c.created_at, s.name, s.kind, s.model, s.provider, "
           f"s.started_at FROM scores c LEFT JOIN spans s ON s.id = c.span_id "
           f"WHERE {where} ORDER BY c.id")
    if limit is not None:
        sql = f"SELECT * FROM ({sql} DESC LIMIT {limit}) ORDER BY 1"
    with get_store().reading() as db:
        rows = db.execute(sql, params).fetchall()
    df = pd.DataFrame.from_records(rows, columns=SCORE_COLUMNS)
    df["value"] = df["value"].astype("float64")
    for col in ("created_at", "started_at"):
        df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601")
    df["id"] = df["id"].astype("Int64")
    return df


def score_where(filters: dict) -> tuple[str, list]:
    """The WHERE clause (without the keyword) and parameters of ``scores()``'s filters, over
    ``scores c LEFT JOIN spans s``; ``limit`` is checked but not applied."""
    unknown = set(filters) - set(SCORE_FILTERS)
    if unknown:
        raise TypeError(f"unknown filter(s) {sorted(unknown)}; ld.scores() filters are {', '.join(SCORE_FILTERS)}")
    clauses, params = [], []
    for key in ("name", "source", "span_id", "trace_id", "experiment_id", "label", "model", "provider"):
        if filters.get(key) is None:
            continue
        values = choices(key, filters[key])
        if not values:
            clauses.append("0")
            continue
        col = f"s.{key}" if key in ("model", "provider") else f"c.{key}"
        clauses.append(f"{col} IN ({', '.join('?' * len(values))})")
        params.extend(values)
    for key, op in (("since", ">="), ("until", "<")):
        if filters.get(key) is not None:
            clauses.append(f"c.created_at {op} ?")
            params.append(parse_time(filters[key], key))
    check_limit(filters.get("limit"))
    return " AND ".join(clauses) or "1", params


def scores_of(span_ids: list[str]) -> dict[str, list[dict]]:
    """The scores of each span in ``span_ids`` (oldest first), for widgets."""
    out: dict[str, list[dict]] = {}
    if not span_ids:
        return out
    with get_store().reading() as db:
        for i in range(0, len(span_ids), 500):
            chunk = span_ids[i:i + 500]
            cur = db.execute(f"SELECT id, span_id, name, value, label, source, comment, judge_span_id, created_at "
                             f"FROM scores WHERE span_id IN ({', '.join('?' * len(chunk))}) ORDER BY id", chunk)
            for sid, span_id, name, value, label, source, comment, judge, created in cur:
                out.setdefault(span_id, []).append({"id": sid, "name": name, "value": value, "label": label,
                                                    "source": source, "comment": comment, "judge_span_id": judge,
                                                    "created_at": created})
    return out
