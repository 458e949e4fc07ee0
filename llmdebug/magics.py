"""IPython integration: ``%load_ext llmdebug``, the ``%llmdebug`` magics and the per-cell summary.

Loading the extension opens the trace store (``$LLMDEBUG_DB`` or ``./llmdebug.db``),
instruments every installed SDK and says so in one line. After any cell that made
LLM calls a one-line summary appears, which expands into the cell's trace trees.
"""

from __future__ import annotations

import re
import shlex
import time
from typing import Any

from . import budgets, capture, query, session
from . import formatting as fmt
from . import tracing
from .tracing import trace
from .widgets.text import CellSummary

USAGE = """\
%llmdebug                 status: where spans go, what is captured
%llmdebug on | off        start or stop capturing
%llmdebug db PATH         write to another SQLite file
%llmdebug show [ID]       the trace tree of a trace or span id (default: the last trace)
%llmdebug last            the most recent LLM call
%llmdebug calls [k=v ...] recent calls as a DataFrame (filters: model=, status=, since=1h, limit=, ...)
%llmdebug summary on|off  the one-line summary after cells that make LLM calls
%llmdebug cassette PATH [record|replay|auto|off]
                          record or replay every later cell's LLM calls (default auto; off: stop)
%llmdebug cassette        the running cassette
%%llmdebug [NAME]         run the cell inside a trace named NAME and show its tree"""


def _filters(tokens: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tok in tokens:
        key, sep, value = tok.partition("=")
        if not sep or not key:
            raise ValueError(f"expected key=value, got {tok!r}")
        # Text that is no whole number goes on as it is: query.calls() says what limit takes.
        out[key] = int(value) if key == "limit" and re.fullmatch(r"-?\d+", value) else value
    return out


def trace_view(x: Any = None):
    """The trace widget of span/trace id ``x`` (default: the most recent trace)."""
    from .widgets.trace_tree import TraceTree, show

    if x is not None:
        return show(x)
    ids = query.recent_trace_ids(limit=1)
    if not ids:
        raise LookupError("no trace captured yet")
    return TraceTree(ids[0])


class _Magics:
    """Built lazily so that importing llmdebug never imports IPython."""

    def __init__(self, shell):
        self.shell = shell
        self.summary = True
        self._seen = 0
        self._cell_start = 0.0
        self._skip_summary = False
        # the %load_ext cell is running now: its result tells how IPython counts
        self._pre_count: int | None = shell.execution_count
        self._count_offset: int | None = None
        self._pre_counted = True
        self._cassette = None  # %llmdebug cassette: runs until off, another one, or the extension unloads
        tracing.NOTEBOOK_STARTED = time.time()  # this kernel session, for the per-cell cost table

    # -- per-cell summary -----------------------------------------------------------
    def pre_run_cell(self, info=None) -> None:
        self._seen = session.submitted()
        self._cell_start = time.time()
        self._skip_summary = False
        # IPython 9 counts the cell before this event, IPython 8 after it: the offset is
        # learned from the first cell's result (see post_run_cell).
        self._pre_count = self.shell.execution_count
        counted = getattr(info, "store_history", True)  # only history cells are numbered
        self._pre_counted = counted
        n = self._pre_count + ((self._count_offset if self._count_offset is not None else -1) if counted else 0)
        source = (getattr(info, "raw_cell", None) or "").strip()
        # spans made by this cell carry its number (per-cell costs); its first line labels it
        tracing.set_cell(n, source.splitlines()[0][:120] if source else None)

    def post_run_cell(self, result=None) -> None:
        tracing.set_cell(None)
        try:
            from IPython.display import display

            if budgets.RULES and session.submitted() != self._seen:
                session.flush()  # the cell's calls are checked against the rules before it ends
            budgets.deliver(display, where=self._cell_file(result))
        except Exception:
            from ._guard import report

            report("showing alerts")
        count = getattr(result, "execution_count", None)
        if (self._count_offset is None and isinstance(count, int) and self._pre_count is not None
                and self._pre_counted):
            self._count_offset = count - self._pre_count
        try:
            if not self.summary or self._skip_summary or session.submitted() == self._seen:
                return
            # plain rows, not DataFrames: the first cell with a call must not wait for pandas
            records = query.span_rows(kind="llm", since=self._cell_start)
            if not records:
                return
            trees = {tid: query.span_rows(trace_id=tid) for tid in dict.fromkeys(r["trace_id"] for r in records)}
            from IPython.display import display

            display(CellSummary(records, trees))
        except Exception:
            from ._guard import report

            report("showing the cell summary")

    def _cell_file(self, result: Any) -> tuple[str, int] | None:
        """(filename, 1) of the cell that just ran, as its tracebacks name it: the alerts
        it set off point at it, not at this file."""
        info = getattr(result, "info", None)
        raw = getattr(info, "raw_cell", None)
        try:
            if raw is None:
                return None
            transformed = getattr(info, "transformed_cell", None) or raw
            number = getattr(result, "execution_count", None) or self.shell.execution_count
            return self.shell.compile.get_code_name(raw, transformed, number), 1
        except Exception:
            return None

    # -- %llmdebug ------------------------------------------------------------------
    def line(self, line: str) -> Any:
        try:
            args = shlex.split(line)
        except ValueError as e:
            print(f"llmdebug: {e}\n{USAGE}")
            return None
        if not args:
            return self.status()
        cmd, rest = args[0], args[1:]
        if cmd in ("on", "off") and not rest:
            session.enabled = cmd == "on"
            print(f"llmdebug: capturing {'on' if session.enabled else 'off'}")
        elif cmd == "db" and len(rest) == 1:
            store = session.init(rest[0])
            print(f"llmdebug: writing to {store.path}")
        elif cmd == "show" and len(rest) <= 1:
            try:
                return trace_view(rest[0] if rest else None)
            except (LookupError, KeyError) as e:
                print(f"llmdebug: {e.args[0] if e.args else e}")
        elif cmd == "last" and not rest:
            return query.last()
        elif cmd == "calls":
            try:
                return query.calls(**_filters(rest))
            except (TypeError, ValueError) as e:
                print(f"llmdebug: {e}\n{USAGE}")
        elif cmd == "cassette" and len(rest) <= 2:
            self.cassette(rest)
        elif cmd == "summary" and rest in (["on"], ["off"]):
            self.summary = rest[0] == "on"
            print(f"llmdebug: cell summary {rest[0]}")
        else:
            print(f"llmdebug: unknown command {line!r}\n{USAGE}")
        return None

    def cassette(self, args: list[str]) -> None:
        from .cassettes import MODES, Cassette

        if not args:
            print(f"llmdebug: {self._cassette!r}" if self._cassette else "llmdebug: no cassette running")
            return
        if args == ["off"]:
            path, mode = None, "off"
        else:
            path, mode = args[0], args[1] if len(args) > 1 else "auto"
            if mode not in MODES:
                print(f"llmdebug: cassette mode {mode!r}: choose one of {', '.join(MODES)}\n{USAGE}")
                return
        new = Cassette(path, mode) if path is not None and mode != "off" else None
        if self._cassette is not None:
            self._cassette.stop()
            self._cassette = None
        if new is None:
            print("llmdebug: cassette off")
            return
        self._cassette = new.start()  # a missing file in replay mode raises here, with what to do
        n = len(new.interactions)
        print(f"llmdebug: cassette {new.path} ({mode}; {n} recorded exchange{'s' if n != 1 else ''})")

    def cell(self, line: str, cell: str) -> Any:
        name = line.strip() or f"cell {self.shell.execution_count}"
        self._skip_summary = True  # the tree below says it all
        with trace(name) as t:
            self.shell.ex(cell)
        return trace_view(t.trace_id)

    def status(self) -> None:
        store = session.get_store()
        what = ", ".join(capture.instrumented()) or "nothing (no SDK instrumented)"
        try:
            n = store.read("SELECT count(*), sum(kind = 'llm') FROM spans")[0]
            stored = f"{n[0]:,} spans stored ({n[1] or 0:,} LLM calls)"
        except Exception as e:  # locked, deleted, refused: say so, the rest still holds
            stored = f"the file cannot be read now ({type(e).__name__}: {e})"
        print(f"llmdebug: {'on' if session.enabled else 'off'}, capturing {what} into {store.path}; "
              f"{stored}; cell summary {'on' if self.summary else 'off'}")
        print(writer_line(store.writer.stats()))


def writer_line(w: dict) -> str:
    """The writer's health in one line: what waits in memory, its slowest batch of the last
    minute, and anything shed or dropped (``ld.health()`` has it over time)."""
    line = (f"llmdebug: writer {'keeping up' if w['writing'] else 'waiting for the file: ' + str(w['last_error'])}; "
            f"{w['queued_spans']:,} spans in memory ({w['buffered_bytes'] / 2**20:.1f} of "
            f"{w['cap_bytes'] / 2**20:.0f} MB, LLMDEBUG_MAX_BUFFER_MB)")
    worst = w.get("worst_batch_ms_recent")
    line += "; no batch written in the last minute" if worst is None else \
        f"; slowest batch in the last minute {fmt.duration(worst)}"
    if w["shed_payloads"] or w["dropped_spans"]:
        line += (f"; over the cap so far: {w['shed_payloads']:,} payloads shed ({w['shed_bytes'] / 2**20:.1f} MB), "
                 f"{w['dropped_spans']:,} spans dropped")
    else:
        line += "; nothing shed"
    if w["restarts"]:
        line += f"; writer restarted {w['restarts']}×"
    if w["reopened"]:
        line += f"; file recreated {w['reopened']}×"
    return line


_state: _Magics | None = None


def load_ipython_extension(ipython) -> None:
    global _state
    opened = session.current_store()  # ld.init(path) before %load_ext: that file stays
    store = session.init(opened.path if opened is not None else None)
    if _state is None or _state.shell is not ipython:
        _state = _Magics(ipython)
        ipython.register_magic_function(_magic, "line_cell", "llmdebug")
        ipython.events.register("pre_run_cell", _state.pre_run_cell)
        ipython.events.register("post_run_cell", _state.post_run_cell)
        budgets.deliver_later()  # alerts show under the cell, from post_run_cell
    providers = capture.instrumented()
    what = ", ".join(providers) if providers else "no LLM SDK found (install openai, anthropic or litellm)"
    print(f"llmdebug: capturing {what} calls into {store.path}")


def unload_ipython_extension(ipython) -> None:
    global _state
    if _state is not None:
        for name, fn in (("pre_run_cell", _state.pre_run_cell), ("post_run_cell", _state.post_run_cell)):
            try:
                ipython.events.unregister(name, fn)
            except ValueError:
                pass
        if _state._cassette is not None:
            _state._cassette.stop()
        _state = None
    budgets.deliver_later(False)
    capture.uninstrument()
    session.flush()


def _magic(line: str, cell: str | None = None) -> Any:
    if _state is None:
        print("llmdebug: run %load_ext llmdebug first")
        return None
    if cell is not None:
        return _state.cell(line, cell)
    return _state.line(line)
