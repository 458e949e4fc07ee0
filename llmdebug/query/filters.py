"""Filters shared by every query: validation, the SQL WHERE they become, and the pandas
frames rows are returned in.

The value filters (``model``, ``provider``, ``status``, ``trace_id``, ``name``, ``tag``)
take a string or a list of strings (any of them matches; an empty list matches nothing);
``since`` and ``until`` take a time (see ``TIME_FORMS``); ``limit`` a whole number ≥ 0.
A bad value is a ValueError or TypeError saying what is accepted.
"""

from __future__ import annotations

import datetime as _dt
import numbers
import time
from typing import TYPE_CHECKING, Any

from .. import durations
from ..store.migrations import SPAN_COLUMNS
from ..store.rows import decode_json, iso
from ..tracing import Span

if TYPE_CHECKING:
    import pandas as pd

FILTERS = ("model", "provider", "status", "trace_id", "name", "since", "until", "tag", "limit")
SPAN_COLS = list(SPAN_COLUMNS)
INT_COLS = [c for c, t in SPAN_COLUMNS.items() if t is int] + [
    "spans", "calls", "errors", "input_tokens", "output_tokens", "retries", "rate_limit_hits"]
STATUSES = ("ok", "error")
TIME_FORMS = ("a datetime, an ISO-8601 string ('2026-11-20T12:00Z'), epoch seconds (finite, years 1-9999), "
              "a timedelta ≥ 0, or a duration ago such as '90s', '15m', '2h', '7d', '1w'")


def parse_time(value: Any, name: str = "since") -> str:
    """Any supported time value -> the stored ISO text form (UTC)."""
    try:
        if isinstance(value, _dt.timedelta):
            return _epoch(time.time() - durations.seconds(value, name=name, allow_zero=True))
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, numbers.Real):
            return _epoch(float(value))
        if isinstance(value, str):
            try:
                ago = durations.seconds(value, name=name, allow_zero=True)
            except ValueError:
                value = _dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            else:
                return _epoch(time.time() - ago)
        if hasattr(value, "to_pydatetime"):  # pandas Timestamp
            value = value.to_pydatetime()
        if isinstance(value, _dt.datetime):
            if value.tzinfo is None:
                value = value.astimezone()  # naive means local time, as datetime.now() gives
            return iso(value.timestamp())
        if isinstance(value, _dt.date):
            return iso(_dt.datetime(value.year, value.month, value.day).astimezone().timestamp())
    except (ValueError, OverflowError, OSError):  # garbage text, NaN, a time before year 1 or after 9999
        raise ValueError(f"{name}={value!r} is not a time: give {TIME_FORMS}") from None
    except TypeError:
        pass
    raise TypeError(f"{name}={value!r} is not a time: give {TIME_FORMS}")


def _epoch(ts: float) -> str:
    # Years 1-9999 only: the stored ISO text compares as text (epoch milliseconds passed
    # as seconds would otherwise silently select nothing).
    _dt.datetime.fromtimestamp(ts, _dt.timezone.utc)  # raises for NaN, inf and years out of range
    return iso(ts)


def check_limit(value: Any) -> int | None:
    """``limit`` as an int (None: no limit)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"limit={value!r}: give a whole number ≥ 0 (0 returns no rows), or None for no limit")
    return int(value)


def choices(key: str, value: Any) -> list[str]:
    """A value filter as the strings it matches (any of them)."""
    if isinstance(value, (list, tuple, set, frozenset)):
        values = list(value)
    elif not isinstance(value, str) and callable(getattr(value, "tolist", None)):  # a Series / array of ids
        values = value.tolist()
        values = values if isinstance(values, list) else [values]
    else:
        values = [value]
    if key == "trace_id":
        values = [v.trace_id if isinstance(v, Span) else v for v in values]
    if not all(isinstance(v, str) for v in values):
        raise TypeError(f"{key}={value!r}: give a string or a list of strings (any of them matches)")
    if key == "status" and not set(values) <= set(STATUSES):
        raise ValueError(f"status={value!r}: use 'ok' or 'error' (or a list of them)")
    return values


def value_clauses(filters: dict, alias: str, keys: tuple) -> tuple[list[str], list]:
    """``IN`` clauses of the value filters among ``keys``; an empty list matches nothing."""
    clauses, params = [], []
    for key in keys:
        if filters.get(key) is None:
            continue
        values = choices(key, filters[key])
        if not values:
            clauses.append("0")
            continue
        test = "= ?" if len(values) == 1 else f"IN ({', '.join('?' * len(values))})"
        if key == "tag":
            clauses.append(f"EXISTS (SELECT 1 FROM json_each({alias}.tags) WHERE json_each.value {test})")
        else:
            clauses.append(f"{alias}.{key} {test}")
        params.extend(values)
    return clauses, params


def where(filters: dict, *, alias: str = "s") -> tuple[str, list]:
    """SQL WHERE clause (without the keyword) and parameters for the shared filters.
    Every value is checked: a bad one is a ValueError/TypeError saying what is accepted."""
    unknown = set(filters) - set(FILTERS) - {"kind"}
    if unknown:
        raise TypeError(f"unknown filter(s) {sorted(unknown)}; filters are {', '.join(FILTERS)}")
    check_limit(filters.get("limit"))
    clauses, params = value_clauses(filters, alias, ("model", "provider", "status", "name", "kind", "trace_id",
                                                      "tag"))
    for key, op in (("since", ">="), ("until", "<")):
        if filters.get(key) is not None:
            clauses.append(f"{alias}.started_at {op} ?")
            params.append(parse_time(filters[key], key))
    return (" AND ".join(clauses) or "1"), params


def frame(rows: list, columns: list[str]) -> "pd.DataFrame":
    """Rows as a DataFrame with typed columns: UTC times, decoded tags and metadata,
    nullable booleans and integers."""
    import pandas as pd

    df = pd.DataFrame.from_records(rows, columns=columns)
    for col in ("started_at", "ended_at"):
        if col in df:
            df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601")
    for col in ("tags", "metadata"):
        if col in df:
            df[col] = [decode_json(v) if isinstance(v, str) else ([] if col == "tags" else {}) for v in df[col]]
    for col in ("stream", "priced"):
        if col in df:
            df[col] = df[col].astype("boolean")
    for col in INT_COLS:
        if col in df:
            df[col] = df[col].astype("Int64")  # nullable: "not reported" stays <NA>, not NaN
    return df
