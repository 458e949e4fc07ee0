"""The read side: captured spans as pandas DataFrames, Span records and SQL aggregates.

Every function takes the same keyword filters: ``model``, ``provider``, ``status``,
``trace_id``, ``name``, ``since``, ``until``, ``tag`` and ``limit``. The value filters
take a string or a list of strings (any of them matches; an empty list matches
nothing); ``status`` is ``"ok"`` or ``"error"``. ``since`` and ``until`` take a
datetime, an ISO string, epoch seconds, a ``timedelta`` or a string such as ``"15m"``,
``"2h"``, ``"7d"``, ``"1w"`` (that long ago). ``limit`` is a whole number ≥ 0. A bad
value is a ValueError or TypeError saying what is accepted. Aggregates run in SQLite
over the narrow ``spans`` table, never by loading every row into Python.

Modules: ``filters`` (validation, WHERE, frames), ``records`` (calls, spans, search,
get, last, the resolvers), ``summaries`` (traces and trace lists), ``engine`` (metrics
over the hourly rollup), ``writes`` (scores and feedback), ``scoreboard`` (the scores frame). This package re-exports what the rest
of llmdebug uses; tuning constants (``engine.EXACT_PERCENTILES_UP_TO``) live in their
module only, so setting them here cannot silently do nothing.
"""

from ..session import flush, get_store
from .engine import METRIC_COLUMNS, groups_memo, metric_groups, metrics
from .filters import FILTERS, STATUSES, where
from .records import SEARCH_SYNTAXES, calls, get, last, resolve_span, resolve_trace, search, span_rows, spans
from .summaries import TRACE_COLUMNS, recent_trace_ids, top_traces, trace_summaries, traces
from .scoreboard import SCORE_COLUMNS, scores, scores_of
from .writes import add_scores, feedback, score, score_value

__all__ = ["calls", "spans", "traces", "metrics", "last", "get", "feedback", "scores", "search", "resolve_span",
           "resolve_trace"]
