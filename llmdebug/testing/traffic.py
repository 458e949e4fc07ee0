"""A week of realistic LLM traffic in seconds: real SDK calls to the fake server, with
their timestamps laid out over the last days.

:func:`simulate_traffic` makes real ``openai`` (and, given a client, ``anthropic``) calls,
so llmdebug captures them like any others: tokens, cost, HTTP attempts, retries, streams.
Only the wall clock of span timestamps is swapped (``llmdebug.tracing.set_clock``) while it
runs, so the calls land where a week of a small production app would put them:

- a daily cycle (busy working hours UTC, quiet nights, calmer weekends);
- two kinds of bursts: a nightly evaluation run every few days (one trace of many
  cases, tagged ``eval``) and one afternoon incident, a traffic spike that hits rate limits;
- several models: mostly ``gpt-4o-mini``, some ``gpt-4o``, ``claude-3-5-haiku-latest``
  when an Anthropic client is given; all priced by genai-prices;
- 429s that the SDK's retries absorb, a few that fail outright (``max_retries=0``), the
  odd Anthropic 529 (overloaded, retried), and a few slow calls;
- streams (with time to first token), tool calls, and agent traces with nested spans
  (``ld.trace`` → retrieval, LLM call with tools, tool, LLM answer).

Durations are always real: ``latency_ms`` and ``ttft_ms`` are what the calls took against
the fake server (milliseconds; the slow calls take about 300 ms). Only start and end
times are moved. Capture must be on (``ld.init()`` or ``%load_ext llmdebug``).

Give the :class:`~llmdebug.testing.FakeLLMServer` as ``server=`` and faults and latency are
set on it per call (``server.inject``, ``server.latency``), so every call keeps its real
model name and its price. Without it, faults use the model-name triggers (``gpt-4o-mini-
flaky-1``, ``-fail-429``, ``-slow-300``), which genai-prices does not know: those OpenAI
calls are then unpriced and show as models of their own.

Example::

    with FakeLLMServer() as srv:
        client = openai.OpenAI(base_url=srv.openai_base_url, api_key="sk-fake")
        simulate_traffic(client, server=srv, days=7, calls=1500)   # ~20 s
        ld.dashboard(since="7d")

Rate limits: every reply of the server reports its headroom (see
:mod:`llmdebug.testing.ratelimits`), counted in simulated time while this runs. Give the
server limits of its own and they are enforced, so a busy hour uses up its windows: the
headroom falls, then the server answers 429 (the SDK retries when the window starts again,
in simulated time). The 429s then all come from those limits: none is injected::

    srv = FakeLLMServer(rate_limits={"requests": 4, "tokens": 4000, "window_s": 60})
    simulate_traffic(client, server=srv, days=7, calls=1500)
    ld.charts.headroom(since="7d")

Not thread-safe: while it runs, every span opened in this process gets a simulated
timestamp, and ``server.latency`` is changed for every request the server answers.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import json
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["simulate_traffic"]

MINI, FOUR_O, HAIKU = "gpt-4o-mini", "gpt-4o", "claude-3-5-haiku-latest"
# extra server latency per call, as a lognormal (median ms, sigma): scaled down ~100x from
# the real APIs, so a week of calls runs in seconds and the models still differ
LATENCY = {MINI: (1.5, 0.6), FOUR_O: (5.0, 0.5), HAIKU: (2.5, 0.5)}
SLOW_MS = 300  # a slow call (a cold region, a long prompt): real wall time, so keep it short

# share of the calls each burst takes, and fault rates (per call)
EVAL_SHARE, INCIDENT_SHARE = 0.10, 0.08
NORMAL = {"flaky": 0.03, "fail": 0.006, "slow": 0.006}
INCIDENT = {"flaky": 0.30, "fail": 0.08, "slow": 0.0}

QUESTIONS = [
    "Where is my order {n}? It was supposed to arrive on Monday.",
    "Can I get a refund for order {n}? The jacket is unused.",
    "Please summarise ticket {n} for the on-call engineer in two sentences.",
    "Translate the release note {n} into French, keeping the markdown.",
    "Extract the invoice number, total and due date from email {n}.",
    "Classify ticket {n} as billing, bug, feature request or other.",
    "Write a polite reply to customer {n} who was charged twice.",
    "Which of the three SQL queries in ticket {n} returns duplicate rows, and why?",
]
SYSTEM = "You are the support assistant of a small online shop. Be brief and factual."
DOCS = [
    "Refunds are accepted within 30 days of delivery for unused items.",
    "Return shipping is free for damaged items; otherwise it costs $5.",
    "Orders ship within 2 business days; tracking links are emailed.",
    "Gift cards cannot be refunded or exchanged.",
]
TOOLS = [{"type": "function", "function": {
    "name": "lookup_order", "description": "An order's item, status and delivery date by its id.",
    "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}]


@dataclass
class _Job:
    t: float  # simulated epoch seconds
    kind: str  # "chat" | "stream" | "claude" | "agent" | "eval" | "incident"
    n: int = 1  # eval: cases
    tags: list = field(default_factory=list)
    fault: str | None = None  # forced: "fail", "flaky" or "slow" (else drawn at the job's rates)


class _Clock:
    """Simulated wall clock: jumps to a job's start, then runs at real speed. A client that
    waits for a rate limit (``advance``) falls behind: later jobs start no earlier than that."""

    def __init__(self) -> None:
        self.base = time.time()
        self.anchor = time.perf_counter()
        self.floor = -math.inf

    def at(self, t: float) -> None:
        self.base, self.anchor = max(t, self.floor), time.perf_counter()

    def advance(self, seconds: float) -> None:
        self.base, self.anchor = self() + seconds, time.perf_counter()
        self.floor = self.base

    def __call__(self) -> float:
        return self.base + (time.perf_counter() - self.anchor)


def _epoch(end: Any) -> float:
    if end is None:
        return time.time()
    if isinstance(end, _dt.datetime):
        return (end if end.tzinfo else end.replace(tzinfo=_dt.timezone.utc)).timestamp()
    return float(end)


def _activity(t: float) -> float:
    """Relative traffic at epoch ``t``: working hours UTC, quiet nights, calmer weekends."""
    d = _dt.datetime.fromtimestamp(t, _dt.timezone.utc)
    h = d.hour + d.minute / 60
    if 8 <= h < 18:
        w = 1.0 + 0.3 * math.sin((h - 8) / 10 * math.pi)  # a bump around early afternoon
    elif 6 <= h < 8 or 18 <= h < 22:
        w = 0.45
    else:
        w = 0.12
    return w * (0.4 if d.weekday() >= 5 else 1.0)


def plan(*, days: float = 7, calls: int = 1500, seed: int = 0, end: Any = None,
         anthropic: bool = False) -> list[_Job]:
    """The schedule :func:`simulate_traffic` runs, oldest first (deterministic for a seed
    and ``end``). About ``calls`` LLM calls in all."""
    if days <= 0 or calls < 1:
        raise ValueError("days must be > 0 and calls >= 1")
    rng = random.Random(seed)
    t_end = _epoch(end)
    t0 = t_end - days * 86400
    jobs: list[_Job] = []

    # nightly evaluation runs (bursts of one big trace), every ~2.5 days, around 02:00 UTC
    eval_calls = round(EVAL_SHARE * calls) if calls >= 40 else 0
    if eval_calls:
        runs = max(1, round(days / 2.5))
        cases = max(2, eval_calls // (2 * runs))  # two calls per case: answer and judge
        first_midnight = math.floor(t0 / 86400) * 86400
        nights = [first_midnight + 86400 * k + 2 * 3600 for k in range(int(days) + 2)]
        nights = [t for t in nights if t0 <= t < t_end - 3600] or [t0 + (t_end - t0) / 2]
        for k in range(runs):
            night = nights[min(len(nights) - 1, round((k + 0.5) * len(nights) / runs - 0.5))]
            jobs.append(_Job(night + rng.uniform(0, 1800), "eval", n=cases, tags=["eval", "nightly"]))
        eval_calls = 2 * cases * runs

    # one afternoon incident: a spike of plain calls over ~40 minutes, many of them 429s
    incident_calls = round(INCIDENT_SHARE * calls) if calls >= 40 else 0
    if incident_calls:
        last_day = math.floor((t_end - 3600) / 86400) * 86400
        start = last_day - 86400 * min(1, int(days // 2)) + 14 * 3600 + rng.uniform(0, 3600)
        start = min(max(start, t0), t_end - 2700)
        for i, t in enumerate(sorted(start + rng.uniform(0, 2400) for _ in range(incident_calls))):
            # every run has at least one failed and one retried 429, however small
            jobs.append(_Job(t, "incident", tags=["prod"], fault={0: "fail", 1: "flaky"}.get(i)))

    # everyday traffic, following the daily cycle
    slots = max(1, int(days * 1440))
    width = (t_end - t0) / slots
    cum, acc = [], 0.0
    for i in range(slots):
        acc += _activity(t0 + (i + 0.5) * width)
        cum.append(acc)
    kinds = ["chat", "stream", "agent"] + (["claude"] if anthropic else [])
    weights = [0.58, 0.18, 0.12] + ([0.12] if anthropic else [])
    left = calls - eval_calls - incident_calls
    first_chat = True
    while left > 0:
        kind = rng.choices(kinds, weights)[0]
        if kind == "agent" and left < 2:
            kind = "chat"
        slot = bisect.bisect_left(cum, rng.random() * acc)
        t = t0 + (min(slot, slots - 1) + rng.random()) * width
        job = _Job(min(t, t_end - 1), kind, tags=["prod"])
        if kind == "chat" and first_chat:
            job.fault, first_chat = "slow", False  # at least one slow call
        jobs.append(job)
        left -= 2 if kind == "agent" else 1
    jobs.sort(key=lambda j: j.t)
    return jobs


class _Runner:
    def __init__(self, client, anthropic_client, server, rng: random.Random):
        self.client, self.anthropic, self.server, self.rng = client, anthropic_client, server, rng
        limits = getattr(server, "rate_limits", None)
        self.limited = bool(limits is not None and limits.enforce)  # the server's own 429s may fail a call
        self.stats: dict[str, Any] = {"calls": 0, "errors": 0, "rate_limit_hits": 0, "retried_429": 0,
                                      "failed_429": 0, "overloaded_529": 0, "slow": 0, "streams": 0,
                                      "traces": 0, "models": {}}
        self.seq = 0

    # -- faults ---------------------------------------------------------------------------
    def _prepare(self, client, model: str, rates: dict, *, stream: bool,
                 force: str | None = None) -> tuple[Any, str, str | None]:
        """(client, model to request, fault) for one call, with its fault set up; fault is
        "fail" (a 429 with retries off: the call raises), "flaky", "slow" or None."""
        if self.limited:  # the 429s come from the server's enforced limits: none injected
            rates = dict(rates, flaky=0.0, fail=0.0)
            force = None if force in ("fail", "flaky") else force
        r = self.rng.random()
        retries = int(getattr(client, "max_retries", 2) or 0)
        latency = None
        fault = None
        if force is not None:
            fault = None if (force == "flaky" and retries == 0) or (force == "slow" and stream) else force
        elif r < rates["fail"]:
            fault = "fail"
        elif r < rates["fail"] + rates["flaky"] and retries > 0:
            fault = "flaky"
        elif r < rates["fail"] + rates["flaky"] + rates["slow"] and not stream:
            fault = "slow"
        srv = self.server
        if fault == "fail":
            self.stats["failed_429"] += 1
            self.stats["rate_limit_hits"] += 1
            client = client.with_options(max_retries=0)
            if srv is not None:
                srv.inject("429", times=1, model=model)
            else:
                model = f"{model}-fail-429"
        elif fault == "flaky":
            n = 1 if retries < 2 or self.rng.random() < 0.75 else 2
            self.stats["retried_429"] += 1
            self.stats["rate_limit_hits"] += n
            if srv is not None:
                srv.inject("429", times=n, model=model)
            else:
                model = f"{model}-flaky-{n}"
        elif fault == "slow":
            self.stats["slow"] += 1
            if srv is None:
                model = f"{model}-slow-{SLOW_MS}"
            latency = SLOW_MS / 1000
        if srv is not None:
            med, sigma = LATENCY.get(model, (2.0, 0.5))
            srv.latency = latency if latency is not None else self.rng.lognormvariate(math.log(med), sigma) / 1000
        return client, model, fault

    def _count(self, model: str, stream: bool) -> None:
        self.stats["calls"] += 1
        self.stats["streams"] += bool(stream)
        self.stats["models"][model] = self.stats["models"].get(model, 0) + 1

    def _question(self) -> str:
        self.seq += 1  # every request body differs, like real traffic
        return self.rng.choice(QUESTIONS).format(n=10_000 + self.seq)

    # -- calls ------------------------------------------------------------------------------
    def openai_call(self, model: str, messages: list, rates: dict = NORMAL, *, stream: bool = False,
                    force: str | None = None, **params: Any) -> Any:
        client, req_model, fault = self._prepare(self.client, model, rates, stream=stream, force=force)
        self._count(model, stream)
        try:
            if stream:
                chunks = client.chat.completions.create(model=req_model, messages=messages, stream=True,
                                                        stream_options={"include_usage": True}, **params)
                return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            return client.chat.completions.create(model=req_model, messages=messages, **params).choices[0].message
        except Exception as e:
            self._failed(e, fault)
            return None

    def claude_call(self, text: str, rates: dict = NORMAL, *, stream: bool = False) -> None:
        client, model, fault = self._prepare(self.anthropic, HAIKU, rates, stream=stream)
        if fault is None and self.server is not None and self.rng.random() < 0.03 and client.max_retries:
            self.server.inject("529", times=1, model=model)  # overloaded, retried by the SDK
            self.stats["overloaded_529"] += 1
        self._count(HAIKU, stream)
        kwargs = dict(model=model, max_tokens=300, system=SYSTEM, messages=[{"role": "user", "content": text}])
        try:
            if stream:
                for _ in client.messages.create(stream=True, **kwargs):
                    pass
            else:
                client.messages.create(**kwargs)
        except Exception as e:
            self._failed(e, fault)

    def _failed(self, e: Exception, fault: str | None) -> None:
        """A 429 the run meant (or the server's enforced limits sent) is an error of the run."""
        if getattr(e, "status_code", None) != 429 or (fault != "fail" and not self.limited):
            raise e
        self.stats["errors"] += 1
        if fault != "fail":  # its 429s are among the server's refusals, counted at the end
            self.stats["failed_429"] += 1

    # -- jobs -------------------------------------------------------------------------------
    def run(self, job: _Job) -> None:
        import llmdebug as ld

        rng = self.rng
        if job.kind in ("chat", "incident"):
            model = FOUR_O if rng.random() < 0.15 else MINI
            msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": self._question()}]
            self.openai_call(model, msgs, INCIDENT if job.kind == "incident" else NORMAL, force=job.fault)
        elif job.kind == "stream":
            model = FOUR_O if rng.random() < 0.3 else MINI
            self.openai_call(model, [{"role": "user", "content": self._question()}], stream=True)
        elif job.kind == "claude":
            self.claude_call(self._question(), stream=rng.random() < 0.4)
        elif job.kind == "agent":
            self.stats["traces"] += 1
            question = self._question()
            with ld.trace("support agent", tags=job.tags, user=f"customer-{rng.randint(100, 999)}"):
                with ld.span("retrieve policy", kind="retrieval") as s:
                    s.set_input(question)
                    docs = rng.sample(DOCS, 2)
                    s.set_output(docs)
                msgs = [{"role": "system", "content": SYSTEM + "\nPolicy:\n" + "\n".join(docs)},
                        {"role": "user", "content": question}]
                with ld.span("agent loop", kind="agent"):
                    reply = self.openai_call(MINI, msgs, tools=TOOLS)
                    if reply is not None and reply.tool_calls:
                        msgs.append({"role": "assistant", "content": reply.content,
                                     "tool_calls": [c.model_dump() for c in reply.tool_calls]})
                        for call in reply.tool_calls:
                            with ld.span(call.function.name, kind="tool") as s:
                                s.set_input(json.loads(call.function.arguments or "{}"))
                                result = {"status": rng.choice(["shipped", "delivered", "processing"]),
                                          "item": "rain jacket"}
                                s.set_output(result)
                            msgs.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
                        self.openai_call(FOUR_O, msgs)
        elif job.kind == "eval":
            self.stats["traces"] += 1
            with ld.trace("nightly eval", tags=job.tags, cases=job.n):
                for i in range(job.n):
                    with ld.span(f"case {i + 1}", kind="chain"):
                        q = self._question()
                        answer = self.openai_call(MINI, [{"role": "user", "content": q}])
                        text = getattr(answer, "content", None) or ""
                        self.openai_call(FOUR_O, [
                            {"role": "system", "content": "Grade the answer from 1 to 5. Reply with JSON."},
                            {"role": "user", "content": f"Question: {q}\nAnswer: {text}"}],
                            response_format={"type": "json_object"})


def simulate_traffic(client: Any, *, days: float = 7, calls: int = 1500, seed: int = 0, end: Any = None,
                     anthropic_client: Any = None, server: Any = None) -> dict:
    """Make about ``calls`` real SDK calls through ``client`` (an ``openai.OpenAI`` aimed at
    the fake server) and ``anthropic_client`` (optional), timestamped over the ``days``
    days before ``end`` (a datetime or epoch seconds; default now). ``server``: the
    :class:`~llmdebug.testing.FakeLLMServer`, to inject faults and latency per call
    (recommended: every call then keeps its real model name and price).

    Returns what was made: calls, errors, 429s (retried and failed), 529s, slow calls,
    streams, traces, calls per model, the first and last simulated start (ISO) and the
    wall time. 1,500 calls take about 20 s. Under a server's enforced rate limits,
    ``rate_limit_hits`` counts its refusals and ``failed_429`` the calls they failed.
    """
    from .. import session
    from ..tracing import set_clock

    jobs = plan(days=days, calls=calls, seed=seed, end=end, anthropic=anthropic_client is not None)
    runner = _Runner(client, anthropic_client, server, random.Random(seed + 1))
    clock = _Clock()
    saved_latency = server.latency if server is not None else None
    limits = getattr(server, "rate_limits", None)
    saved_clock = limits.clock if limits is not None else None
    refused = limits.refused if limits is not None else 0
    t_wall = time.perf_counter()
    set_clock(clock)
    if limits is not None:
        limits.clock = clock  # windows pass in simulated time
    try:
        for job in jobs:
            clock.at(job.t)
            runner.run(job)
    finally:
        set_clock(None)
        if server is not None:
            server.latency = saved_latency
        if limits is not None:
            limits.clock = saved_clock
            runner.stats["rate_limit_hits"] += limits.refused - refused
    if session.current_store() is not None:
        session.flush()
    iso = lambda t: _dt.datetime.fromtimestamp(t, _dt.timezone.utc).isoformat(timespec="seconds")  # noqa: E731
    return dict(runner.stats, first=iso(jobs[0].t) if jobs else None, last=iso(jobs[-1].t) if jobs else None,
                days=days, seconds=round(time.perf_counter() - t_wall, 1))
