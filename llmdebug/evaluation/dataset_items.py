"""Datasets: named, versioned lists of items (an input, an expected output, metadata) that
experiments run through variants of a prompt, a model or a function.

Items live in the ``dataset_items`` table, one row per version of an item: a change ends
the item's row (``version_to``) and starts a new one, so every old version can be read
back. Any change of items (added, changed, removed) bumps the dataset's version once per
call. An item's id is stable: given, or a hash of its input, so adding the same input
again is a no-op (or, with a new expected value, a change of that item).

(The module is not named ``datasets``: that is the public function ``ld.datasets``.)

Example::

    ds = ld.dataset("support", description="questions from the help desk")
    ds.add(input={"question": "Can I return shoes?"}, expected="Yes, within 30 days.")
    ds.from_calls(status="error", since="1d")       # every failure of the last day
    ds.items()                                      # a DataFrame of the current version
    ds.items(version=1)                             # what version 1 held
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import query
from ..session import flush, get_store
from ..store.rows import decode_json, iso, jsonable
from ..tracing import Span

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Dataset", "dataset", "datasets", "item_id_of", "normalise_item"]

ITEM_COLUMNS = ["item_id", "input", "expected", "metadata", "source_span_id", "version_from", "version_to",
                "created_at"]
_ITEM_KEYS = {"input", "expected", "metadata", "id", "item_id", "source_span_id"}
_UNSET: Any = object()


def _canonical(value: Any) -> str:
    """Stable JSON text of a value (keys sorted): what ids hash and contents compare by."""
    return json.dumps(jsonable(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _stored(value: Any) -> str | None:
    """The JSON text stored: keys in the user's order (a template's reader sees them so)."""
    return None if value is None else json.dumps(jsonable(value), ensure_ascii=False)


def _same(stored: str | None, value: Any) -> bool:
    if stored is None or value is None:
        return stored is None and value is None
    return _canonical(decode_json(stored)) == _canonical(value)


def item_id_of(input: Any) -> str:
    """The id an item gets when none is given: a hash of its input (16 hex digits)."""
    return hashlib.sha256(_canonical(input).encode("utf-8")).hexdigest()[:16]


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def normalise_item(item: Any, *, expected_key: str = "expected") -> dict:
    """An item as ``{"item_id", "input", "expected", "metadata", "source_span_id"}``.

    ``item`` is a structured dict (``input``, and any of ``expected``, ``metadata``,
    ``id``, ``source_span_id``), a flat dict that is the input itself (its
    ``expected_key`` and ``id`` keys are taken out), or a list of chat messages.
    """
    if isinstance(item, list):
        item = {"input": item}
    if not isinstance(item, dict):
        raise TypeError(f"a dataset item is a dict (its input, or input=/expected=/metadata=) or a list of chat "
                        f"messages, not {type(item).__name__}")
    if "input" in item and set(item) <= _ITEM_KEYS:
        d = dict(item)
    else:  # a flat item: the dict is the input
        rest = dict(item)
        d = {"expected": rest.pop(expected_key, None), "id": rest.pop("id", None)}
        d["input"] = rest
    inp = d.get("input")
    if not isinstance(inp, (dict, list, str)) or not inp:
        raise ValueError(f"item input {inp!r}: give a non-empty dict (e.g. {{'question': ...}}), a list of chat "
                         "messages or a string")
    meta = d.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise TypeError(f"item metadata must be a dict, not {type(meta).__name__}")
    given = d.get("id", d.get("item_id"))
    return {"item_id": str(given) if not _missing(given) else item_id_of(inp), "input": jsonable(inp),
            "expected": None if _missing(d.get("expected")) else jsonable(d.get("expected")),
            "metadata": jsonable(meta) if meta else None, "source_span_id": d.get("source_span_id")}


def _now() -> str:
    return iso(time.time())


class Dataset:
    """A handle on one stored dataset (see :func:`dataset`). Reading methods read the
    store each time, so two handles on one name always agree."""

    def __init__(self, name: str):
        self.name = name

    # -- reading ---------------------------------------------------------------------
    @property
    def version(self) -> int:
        """The current version (0 before any item was added)."""
        rows = get_store().read("SELECT version FROM datasets WHERE name = ?", [self.name])
        if not rows:
            raise KeyError(f"no dataset named {self.name!r}: create it with ld.dataset({self.name!r})")
        return int(rows[0][0] or 0)

    @property
    def description(self) -> str | None:
        rows = get_store().read("SELECT description FROM datasets WHERE name = ?", [self.name])
        return rows[0][0] if rows else None

    def records(self, version: int | None = None) -> list[dict]:
        """The items of ``version`` (default: the current one) as dicts, in the order they
        were first added."""
        v = self.version if version is None else int(version)
        if not 0 <= v <= self.version:
            raise ValueError(f"dataset {self.name!r} has versions 0 to {self.version}, not {version!r}")
        # items in the order they were first added: a changed item keeps its place
        rows = get_store().read(
            "SELECT i.item_id, i.input_json, i.expected_json, i.metadata_json, i.source_span_id, i.version_from, "
            "i.version_to, i.created_at FROM dataset_items i WHERE i.dataset = ? AND i.version_from <= ? AND "
            "(i.version_to IS NULL OR ? < i.version_to) ORDER BY (SELECT MIN(f.id) FROM dataset_items f "
            "WHERE f.dataset = i.dataset AND f.item_id = i.item_id), i.id", [self.name, v, v])
        return [{"item_id": r[0], "input": decode_json(r[1]), "expected": decode_json(r[2]),
                 "metadata": decode_json(r[3]) or {}, "source_span_id": r[4], "version_from": r[5],
                 "version_to": r[6], "created_at": r[7]} for r in rows]

    def items(self, version: int | None = None) -> "pd.DataFrame":
        """The items of ``version`` (default: the current one), one row each: item_id,
        input, expected, metadata, source_span_id, version_from, version_to, created_at."""
        import pandas as pd

        df = pd.DataFrame.from_records(self.records(version), columns=ITEM_COLUMNS)
        df["created_at"] = pd.to_datetime(df["created_at"], utc=True, format="ISO8601")
        for col in ("version_from", "version_to"):
            df[col] = df[col].astype("Int64")
        return df

    def versions(self) -> "pd.DataFrame":
        """The history: one row per version with the items it held and what changed
        (``added``, ``changed``, ``removed``), and when (the newest row it started; a
        version that only removed items started none, so its time is empty)."""
        import pandas as pd

        rows = get_store().read("SELECT item_id, version_from, version_to, created_at FROM dataset_items "
                                "WHERE dataset = ?", [self.name])
        out = []
        for v in range(1, self.version + 1):
            started = {r[0] for r in rows if r[1] == v}
            ended = {r[0] for r in rows if r[2] == v}
            held = sum(1 for r in rows if r[1] <= v and (r[2] is None or v < r[2]))
            times = [r[3] for r in rows if r[1] == v]
            out.append({"version": v, "items": held, "added": len(started - ended), "changed": len(started & ended),
                        "removed": len(ended - started), "created_at": max(times) if times else None})
        df = pd.DataFrame.from_records(out, columns=["version", "items", "added", "changed", "removed", "created_at"])
        df["created_at"] = pd.to_datetime(df["created_at"], utc=True, format="ISO8601")
        return df

    def __len__(self) -> int:
        v = self.version
        return get_store().read("SELECT COUNT(*) FROM dataset_items WHERE dataset = ? AND version_from <= ? AND "
                                "(version_to IS NULL OR ? < version_to)", [self.name, v, v])[0][0]

    def __repr__(self) -> str:
        try:
            return f"<Dataset {self.name!r} version {self.version}, {len(self)} items>"
        except Exception:  # a closed or missing store: the repr still says what it is
            return f"<Dataset {self.name!r}>"

    # -- writing ---------------------------------------------------------------------
    def add(self, items: Any = None, *, input: Any = _UNSET, expected: Any = None, metadata: dict | None = None,
            id: str | None = None, expected_key: str = "expected") -> "Dataset":
        """Add items: a list of item dicts (``{"input", "expected", "metadata", "id"}``, or a
        flat dict that is the input, its ``expected_key`` taken out as the expected value),
        one such dict, or a single item by keywords. An item whose id exists with the same
        content changes nothing; with other content it is a change of that item. One new
        version for the whole call, none when nothing changed."""
        if input is not _UNSET:
            if items is not None:
                raise TypeError("give items, or one item as input=/expected=/metadata=, not both")
            items = [{"input": input, "expected": expected, "metadata": metadata, "id": id}]
        elif items is None:
            raise TypeError("nothing to add: give a list of items or input=...")
        elif isinstance(items, dict) or (isinstance(items, list) and items and isinstance(items[0], dict)
                                         and items[0].get("role") is not None and "content" in items[0]):
            items = [items]  # one item: a dict, or one list of chat messages
        self._write([normalise_item(it, expected_key=expected_key) for it in items])
        return self

    def update(self, id: str, *, input: Any = _UNSET, expected: Any = _UNSET, metadata: Any = _UNSET) -> "Dataset":
        """Change fields of item ``id`` (the others keep their values): a new version."""
        current = {r["item_id"]: r for r in self.records()}
        if id not in current:
            raise KeyError(f"dataset {self.name!r} has no item {id!r} in its current version")
        old = current[id]
        new = {"item_id": id, "source_span_id": old["source_span_id"],
               "input": old["input"] if input is _UNSET else jsonable(input),
               "expected": old["expected"] if expected is _UNSET else jsonable(expected),
               "metadata": (old["metadata"] or None) if metadata is _UNSET else (jsonable(metadata) or None)}
        self._write([new])
        return self

    def remove(self, *ids: str) -> "Dataset":
        """Remove items by id (from the next version on; older versions keep them)."""
        current = {r["item_id"] for r in self.records()}
        missing = [i for i in ids if i not in current]
        if missing:
            raise KeyError(f"dataset {self.name!r} has no item(s) {missing} in its current version")
        self._write([], remove=set(ids))
        return self

    def _write(self, items: list[dict], remove: set[str] = frozenset()) -> int:
        """Apply additions/changes and removals as one new version; returns the version."""
        store = get_store()
        with store.reading() as db, db.conn:
            row = db.execute("SELECT version FROM datasets WHERE name = ?", [self.name]).fetchone()
            if row is None:
                raise KeyError(f"no dataset named {self.name!r}: create it with ld.dataset({self.name!r})")
            version = int(row[0] or 0)
            live = {r[0]: r for r in db.execute(
                "SELECT item_id, input_json, expected_json, metadata_json, id FROM dataset_items "
                "WHERE dataset = ? AND version_to IS NULL", [self.name])}
            new_version, now = version + 1, _now()
            ending, inserts, seen = set(remove), [], {}
            for it in items:
                seen[it["item_id"]] = it  # the last of duplicates in one call wins
            for iid, it in seen.items():
                values = (it["input"], it["expected"], it["metadata"])
                old = live.get(iid)
                if old is not None and all(_same(o, v) for o, v in zip(old[1:4], values)):
                    continue
                content = tuple(_stored(v) for v in values)
                if old is not None:
                    ending.add(iid)
                inserts.append((self.name, iid, new_version, None, *content, it.get("source_span_id"), now))
            if not ending and not inserts:
                return version
            for iid in ending:
                db.execute("UPDATE dataset_items SET version_to = ? WHERE dataset = ? AND item_id = ? AND "
                           "version_to IS NULL", [new_version, self.name, iid])
            db.conn.executemany(
                "INSERT INTO dataset_items (dataset, item_id, version_from, version_to, input_json, expected_json, "
                "metadata_json, source_span_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", inserts)
            db.execute("UPDATE datasets SET version = ?, updated_at = ? WHERE name = ?", [new_version, now, self.name])
        return new_version

    # -- filling it from elsewhere ---------------------------------------------------
    def from_calls(self, calls: Any = None, *, expected: Any = "output", **filters: Any) -> "Dataset":
        """Add captured calls as items: the input is the call's conversation (system prompt
        first, in the API's own message shapes; a user span's input), the expected value
        its output text (``expected=None``: none; a function ``span -> value``: yours),
        ``source_span_id`` the call. ``calls`` is a ``calls()``/``spans()`` DataFrame, a
        list of spans or ids, or None with the shared query filters, e.g. every failure
        of a run: ``ds.from_calls(status="error", since="1h")``."""
        if calls is None:
            calls = query.calls(**filters)
        elif filters:
            raise TypeError("give calls, or filters, not both")
        if hasattr(calls, "columns") and "id" in getattr(calls, "columns", ()):
            ids = [str(i) for i in calls["id"]]
        elif isinstance(calls, (str, Span)) or (hasattr(calls, "get") and not isinstance(calls, dict)):
            ids = [query.resolve_span(calls, who="Dataset.from_calls()").id]
        else:
            ids = [query.resolve_span(c, who="Dataset.from_calls()").id for c in calls]
        items = []
        for sid in ids:
            s = query.get(sid)
            inp = s.messages if s.kind == "llm" and s.messages else s.input
            if not inp:
                continue  # nothing to run again (an embedding summary, an empty user span)
            if callable(expected):
                exp = expected(s)
            elif expected == "output":
                exp = s.output_text if s.kind == "llm" else s.output
                if exp is None and s.tool_calls:
                    exp = s.tool_calls
            elif expected is None:
                exp = None
            else:
                raise ValueError(f"expected={expected!r}: use 'output' (the call's output), None or a function "
                                 "span -> value")
            meta = {k: v for k, v in (("model", s.model), ("provider", s.provider), ("endpoint", s.endpoint),
                                      ("status", s.status), ("error_type", s.error_type),
                                      ("trace_id", s.trace_id)) if v}
            items.append({"input": inp, "expected": exp, "metadata": meta, "source_span_id": s.id})
        self._write([normalise_item(it) for it in items])
        return self

    def from_frame(self, df: "pd.DataFrame", *, input: str | list[str] | None = None, expected: str | None = None,
                   metadata: str | list[str] | None = None, id: str | None = None) -> "Dataset":
        """Add one item per row of a DataFrame. ``input``: a column holding the input, or
        a list of columns that become the input dict (default: every column not named as
        expected, metadata or id); ``expected``: a column (default: ``"expected"`` if
        there is one); ``metadata``: a column holding dicts, or columns that become the
        metadata dict; ``id``: a column of item ids."""
        cols = list(df.columns)
        if expected is None and "expected" in cols:
            expected = "expected"
        meta_cols = [metadata] if isinstance(metadata, str) else list(metadata or [])
        for c in [expected, id, *meta_cols, *([input] if isinstance(input, str) else input or [])]:
            if c is not None and c not in cols:
                raise KeyError(f"no column {c!r} in the DataFrame; its columns are {cols}")
        taken = {expected, id, *meta_cols} - {None}
        in_cols = input if input is not None else [c for c in cols if c not in taken]
        items = []
        for rec in df.to_dict("records"):
            inp = rec[in_cols] if isinstance(in_cols, str) else {c: rec[c] for c in in_cols}
            if isinstance(metadata, str):
                meta = rec[metadata] if isinstance(rec[metadata], dict) else None
            else:
                meta = {c: rec[c] for c in meta_cols} or None
            items.append({"input": inp, "expected": rec[expected] if expected else None, "metadata": meta,
                          "id": rec[id] if id else None})
        self._write([normalise_item(it) for it in items])
        return self

    def from_file(self, path: str | Path, *, input: str | list[str] | None = None, expected: str | None = None,
                  **kwargs: Any) -> "Dataset":
        """Add the items of a CSV file (columns as in :meth:`from_frame`) or a JSON Lines
        file (``.jsonl``/``.ndjson``: one item dict per line, as :meth:`add` takes)."""
        import pandas as pd

        path = Path(path)
        if path.suffix.lower() in (".jsonl", ".ndjson"):
            lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
            items = []
            for n, ln in enumerate(lines, 1):
                try:
                    items.append(json.loads(ln))
                except ValueError as e:
                    raise ValueError(f"{path}, line {n}: not JSON ({e})") from None
            if input is not None or expected is not None:
                items = [{"input": it[input] if isinstance(input, str) else
                          {k: it[k] for k in (input or [k for k in it if k != expected])},
                          "expected": it.get(expected) if expected else None} for it in items]
            self._write([normalise_item(it) for it in items])
            return self
        if path.suffix.lower() in (".csv", ".tsv"):
            df = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",", keep_default_na=False,
                             na_values=[""])
            return self.from_frame(df, input=input, expected=expected, **kwargs)
        raise ValueError(f"{path.name}: give a .csv, .tsv or .jsonl file")


def dataset(name: str, description: str | None = None) -> Dataset:
    """The dataset called ``name``, created (empty, version 0) if it does not exist yet.
    ``description`` sets its description."""
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"name={name!r}: give the dataset's name as a non-empty string")
    now = _now()
    with get_store().reading() as db, db.conn:
        db.execute("INSERT OR IGNORE INTO datasets (name, version, description, created_at, updated_at) "
                   "VALUES (?, 0, ?, ?, ?)", [name, description, now, now])
        if description is not None:
            db.execute("UPDATE datasets SET description = ? WHERE name = ?", [description, name])
    return Dataset(name)


def datasets() -> "pd.DataFrame":
    """Every dataset: name, version, items (in the current version), description,
    created_at, updated_at."""
    import pandas as pd

    flush()
    rows = get_store().read(
        "SELECT d.name, d.version, (SELECT COUNT(*) FROM dataset_items i WHERE i.dataset = d.name AND "
        "i.version_from <= d.version AND (i.version_to IS NULL OR d.version < i.version_to)), d.description, "
        "d.created_at, d.updated_at FROM datasets d ORDER BY d.created_at, d.name")
    df = pd.DataFrame.from_records(rows, columns=["name", "version", "items", "description", "created_at",
                                                  "updated_at"])
    for col in ("created_at", "updated_at"):
        df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601")
    return df

