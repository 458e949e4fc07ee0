"""Rate limits for the fake server: headers that count down within a window, and 429s.

Every OpenAI and Anthropic reply of :class:`~llmdebug.testing.FakeLLMServer` carries the
API's rate-limit headers: requests and tokens per window (a minute by default), what is
left after this request, and when the window resets, for each API and model apart as the
real limits are (OpenAI: ``x-ratelimit-*``, resets as
durations such as ``"6m0s"``; Anthropic: ``anthropic-ratelimit-{requests,tokens,
input-tokens,output-tokens}-*``, resets as RFC 3339 times). A request costs one request
and its tokens as the APIs count them at admission: the request's bytes / 4 in, plus the
``max_tokens`` it asks for out. Windows are fixed (aligned to multiples of ``window_s`` on
the clock) and start again at their end.

The default server only reports (10,000 requests and 2,000,000 tokens a minute, never
refused); limits given to it are enforced::

    FakeLLMServer(rate_limits={"requests": 60, "tokens": 40_000, "window_s": 60})

A request that does not fit what is left is answered 429 with ``retry-after`` (seconds
to the window's end) and ``retry-after-ms``, is not charged, and the SDK retries it.

``clock`` is epoch seconds (``time.time``); :func:`~llmdebug.testing.simulate_traffic`
swaps in its simulated clock, so windows pass in simulated time. A clock with an
``advance(seconds)`` method is simulated: a 429 then tells the SDK to retry after 1 ms
and moves the clock to the window's end instead (the client waited, in simulated time).
"""

from __future__ import annotations

import datetime as _dt
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from .synth import approx_tokens

__all__ = ["RateLimits", "Window", "go_duration"]

_OUT_KEYS = ("max_tokens", "max_completion_tokens", "max_output_tokens")


@dataclass(frozen=True)
class Window:
    """What one request saw: the limits, what is left after it, when the window resets."""

    admitted: bool
    requests: int
    tokens: int
    remaining_requests: int
    remaining_tokens: int
    remaining_input_tokens: int
    remaining_output_tokens: int
    reset_s: float  # seconds until the window ends
    reset_at: float  # the clock's time (epoch seconds) it ends


class RateLimits:
    """Requests and tokens per ``window_s`` seconds; ``enforce``: refuse what does not fit
    with a 429 (otherwise remaining counts stop at 0 and every request is answered)."""

    def __init__(self, requests: int = 60, tokens: int = 40_000, window_s: float = 60.0, *,
                 enforce: bool = True, clock: Callable[[], float] = time.time) -> None:
        if int(requests) < 1 or int(tokens) < 1 or not float(window_s) > 0:
            raise ValueError("rate limits need requests >= 1, tokens >= 1 and window_s > 0")
        self.requests, self.tokens, self.window_s = int(requests), int(tokens), float(window_s)
        self.enforce = bool(enforce)
        self.clock = clock
        self._lock = threading.Lock()
        self._used: dict[Any, list] = {}  # (api, model) -> [window index, requests, input, output tokens]
        self.refused = 0  #: requests answered 429 so far

    @classmethod
    def of(cls, value: Any) -> "RateLimits | None":
        """``FakeLLMServer(rate_limits=...)``: a RateLimits, a dict of its arguments, True
        (the default, reporting only) or None/False (no rate-limit headers)."""
        if value is None or value is False:
            return None
        if value is True:
            return cls(10_000, 2_000_000, 60.0, enforce=False)
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            return cls(**value)
        raise TypeError(f"rate_limits: expected a dict such as {{'requests': 60, 'tokens': 40000, 'window_s': 60}}, "
                        f"a RateLimits, True or None, not {type(value).__name__}")

    def __repr__(self) -> str:
        return (f"RateLimits(requests={self.requests}, tokens={self.tokens}, window_s={self.window_s:g}, "
                f"enforce={self.enforce})")

    def reset(self) -> None:
        """Start a fresh window."""
        with self._lock:
            self._used.clear()

    @staticmethod
    def cost(body: Any, raw: bytes) -> tuple[int, int]:
        """(input, output) tokens a request is charged: its bytes / 4, and the output it asks for."""
        out = 0
        if isinstance(body, dict):
            for key in _OUT_KEYS:
                v = body.get(key)
                if isinstance(v, int) and not isinstance(v, bool) and v > 0:
                    out = v
                    break
        return approx_tokens(raw.decode("utf-8", "replace")) if raw else 0, out

    def take(self, key: Any, input_tokens: int, output_tokens: int) -> Window:
        """Charge one request of ``key`` (the API and model) unless enforced and it does not
        fit, and say what is left."""
        with self._lock:
            now = self.clock()
            index = math.floor(now / self.window_s)
            used = self._used.get(key)
            if used is None or used[0] != index:  # a new window (or a clock set back): counts start again
                used = self._used[key] = [index, 0, 0, 0]
            _, n, used_in, used_out = used
            admitted = not self.enforce or (n < self.requests
                                            and used_in + used_out + input_tokens + output_tokens <= self.tokens)
            if admitted:
                n, used_in, used_out = n + 1, used_in + input_tokens, used_out + output_tokens
                used[1:] = n, used_in, used_out
            else:
                self.refused += 1
            end = (index + 1) * self.window_s
            return Window(
                admitted, self.requests, self.tokens,
                remaining_requests=max(0, self.requests - n),
                remaining_tokens=max(0, self.tokens - used_in - used_out),
                remaining_input_tokens=max(0, self.tokens - used_in),
                remaining_output_tokens=max(0, self.tokens - used_out),
                reset_s=max(0.0, end - now), reset_at=end)

    def headers(self, w: Window, anthropic: bool) -> list[tuple[str, str]]:
        """The rate-limit headers of a reply, in the API's names and formats."""
        if anthropic:
            reset = _rfc3339(w.reset_at)
            out = []
            for name, limit, left in (("requests", w.requests, w.remaining_requests),
                                      ("tokens", w.tokens, w.remaining_tokens),
                                      ("input-tokens", w.tokens, w.remaining_input_tokens),
                                      ("output-tokens", w.tokens, w.remaining_output_tokens)):
                out += [(f"anthropic-ratelimit-{name}-limit", str(limit)),
                        (f"anthropic-ratelimit-{name}-remaining", str(left)),
                        (f"anthropic-ratelimit-{name}-reset", reset)]
            return out
        reset = go_duration(w.reset_s)
        return [("x-ratelimit-limit-requests", str(w.requests)), ("x-ratelimit-limit-tokens", str(w.tokens)),
                ("x-ratelimit-remaining-requests", str(w.remaining_requests)),
                ("x-ratelimit-remaining-tokens", str(w.remaining_tokens)),
                ("x-ratelimit-reset-requests", reset), ("x-ratelimit-reset-tokens", reset)]

    def retry_headers(self, w: Window) -> list[tuple[str, str]]:
        """``retry-after`` / ``retry-after-ms`` of a refused request. Under a simulated clock
        the SDK is told 1 ms and the clock jumps to the window's end instead."""
        advance = getattr(self.clock, "advance", None)
        if callable(advance):
            advance(w.reset_s)
            return [("retry-after", str(math.ceil(w.reset_s))), ("retry-after-ms", "1")]
        return [("retry-after", str(max(1, math.ceil(w.reset_s)))),
                ("retry-after-ms", str(max(1, math.ceil(w.reset_s * 1000))))]


def go_duration(seconds: float) -> str:
    """A duration as OpenAI writes resets (Go's format): ``"120ms"``, ``"17.28s"``, ``"6m0s"``."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    text = f"{secs:.3f}".rstrip("0").rstrip(".")
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if hours or minutes else "") + f"{text}s"


def _rfc3339(epoch: float) -> str:
    # whole seconds, as the API writes them: rounded up, so the reset is never early
    return _dt.datetime.fromtimestamp(math.ceil(epoch), _dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
