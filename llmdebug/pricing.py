"""Cost of an LLM call in USD, from token usage, via genai-prices.

llmdebug keeps no price table of its own: prices come from the data snapshot
bundled with the installed ``genai-prices`` package (or whatever snapshot the
user installed with ``genai_prices.data_snapshot.set_custom_snapshot`` /
``genai_prices.UpdatePrices``). llmdebug itself never calls ``UpdatePrices``,
so pricing never touches the network.

Users can add or override prices for models genai-prices does not know (local,
fine-tuned, private deployments) with :func:`register_price`.

Token convention (the same as :mod:`llmdebug.providers._usage`): ``input_tokens``
counts ALL input tokens, including cache reads (``cached_tokens``) and cache
writes (``cache_write_tokens``); ``output_tokens`` includes reasoning tokens.

Mapping onto ``genai_prices.Usage`` (checked against genai-prices' source,
``genai_prices/decompose.py`` + ``data_units.py``): genai-prices' units form a
hierarchy in which ``cache_read_tokens`` and ``cache_write_tokens`` are
*descendants* of ``input_tokens`` (same ``direction=input`` dimension plus a
``token_type``), and ``compute_leaf_values`` charges ``input_mtok`` only on
``input_tokens - cache_read_tokens - cache_write_tokens``. So genai-prices'
``input_tokens`` INCLUDES cache reads and writes, exactly like ours (its own
Anthropic extractor sums ``input_tokens + cache_read_input_tokens +
cache_creation_input_tokens`` into ``input_tokens``). The mapping is therefore
one to one::

    input_tokens       -> Usage.input_tokens
    cached_tokens      -> Usage.cache_read_tokens
    cache_write_tokens -> Usage.cache_write_tokens
    output_tokens      -> Usage.output_tokens
    reasoning_tokens   -> Usage.output_reasoning_tokens (a descendant of output)

When a model has no cache price, genai-prices charges those tokens at the
plain input rate, which is what the providers bill.

Every public function here is safe to call from the background writer thread:
:func:`cost` never raises; it returns ``None`` when the call cannot be priced.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal
from types import MappingProxyType
from typing import Any, NamedTuple

from ._guard import report

__all__ = ["cost", "register_price", "unregister_price", "registered_prices", "PriceKey"]


class PriceKey(NamedTuple):
    """Under which names a call is priced (each provider module says, see
    ``llmdebug.providers``): registered prices are looked up under each ``(provider,
    model)`` of ``names`` in turn, the public price table under ``public``; ``public``
    None means a model run locally, never priced from the public table."""

    names: tuple
    public: tuple | None


# ---------------------------------------------------------------------------
# user-registered prices


class _Price(NamedTuple):
    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None
    cache_write_per_mtok: float | None
    provider: str | None


# (provider or None, lower-cased model) -> _Price. Replaced wholesale (never
# mutated) under _lock, so readers on other threads take no lock at all.
_registered: MappingProxyType = MappingProxyType({})
_lock = threading.Lock()


def _norm(s: str | None) -> str | None:
    if s is None:
        return None
    s = str(s).strip().lower()
    return s or None


def _check_price(name: str, value: Any, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number (USD per million tokens), got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite non-negative number, got {value!r}")
    return value


def register_price(
    model: str,
    *,
    input_per_mtok: float,
    output_per_mtok: float,
    cached_input_per_mtok: float | None = None,
    cache_write_per_mtok: float | None = None,
    provider: str | None = None,
) -> None:
    """Price ``model`` at these USD-per-million-token rates, ahead of genai-prices.

    ``provider`` scopes the price to calls made through that provider (llmdebug's
    provider name: "openai", "anthropic", "litellm", ...); without it the price
    applies whatever the provider. Model names match case-insensitively and
    exactly. Cache reads/writes default to the input rate when not given.
    """
    key_model = _norm(model)
    if key_model is None:
        raise ValueError("model must be a non-empty string")
    price = _Price(
        _check_price("input_per_mtok", input_per_mtok),
        _check_price("output_per_mtok", output_per_mtok),
        _check_price("cached_input_per_mtok", cached_input_per_mtok, optional=True),
        _check_price("cache_write_per_mtok", cache_write_per_mtok, optional=True),
        _norm(provider),
    )
    global _registered
    with _lock:
        new = dict(_registered)
        new[(price.provider, key_model)] = price
        _registered = MappingProxyType(new)


def unregister_price(model: str, provider: str | None = None) -> None:
    """Remove a price added by :func:`register_price` (no error if absent)."""
    global _registered
    key = (_norm(provider), _norm(model))
    with _lock:
        if key in _registered:
            new = dict(_registered)
            del new[key]
            _registered = MappingProxyType(new)


def registered_prices() -> dict:
    """A copy of the registered prices: ``{(provider, model): {...rates...}}``."""
    return {key: price._asdict() for key, price in _registered.items()}


# ---------------------------------------------------------------------------
# provider / model resolution

_get_snapshot: Any = None


def _snapshot() -> Any:
    global _get_snapshot
    if _get_snapshot is None:  # imported once: an import statement per call costs more than the price
        from genai_prices import data_snapshot

        _get_snapshot = data_snapshot.get_snapshot
    return _get_snapshot()


def _provider_exists(snapshot: Any, provider_id: str) -> bool:
    from genai_prices.data_snapshot import find_provider_by_id

    return find_provider_by_id(snapshot.providers, provider_id) is not None


def _to_provider_id(snapshot: Any, provider: str | None) -> str | None:
    """``provider`` if genai-prices knows it as a provider id, else None."""
    if provider is None:
        return None
    return provider if _provider_exists(snapshot, provider) else None


@functools.lru_cache(maxsize=4096)
def _resolve(snapshot_id: int, provider: str | None, model: str, base_url: str | None) -> Any:
    """(genai-prices Provider, ModelInfo) for this call, or None when not priceable.

    Keyed on the snapshot's id so a user-installed snapshot is honoured; misses
    are cached too (genai-prices only caches hits), so an unknown model costs a
    dict lookup, not a scan of every model's match rules.

    Rules (kept deliberately simple; the provider module has already said under which
    provider and model name the call is priced, see :class:`PriceKey`):

    1. ``base_url`` whose host genai-prices recognises (its ``api_pattern``s:
       api.openai.com, api.anthropic.com, api.groq.com, *.openai.azure.com,
       api.deepseek.com, openrouter.ai, ...) decides the provider: the OpenAI
       SDK pointed at Groq is priced as Groq.
    2. any other ``base_url`` (localhost, Ollama, vLLM, a company gateway): the
       host tells us nothing, so the model is priced only if the declared
       provider itself lists it (``gpt-4o-mini`` through a proxy or llmdebug's
       fake server is still an OpenAI model; ``llama3`` on Ollama via the OpenAI
       SDK is not priced as anything). We never guess a provider by model name
       for an unknown host.
    3. no ``base_url``: the declared provider when genai-prices knows it,
       otherwise genai-prices' own ``model_match`` picks the provider from the
       model name ("claude-..." -> anthropic, "gpt-..." -> openai).
    """
    snapshot = _snapshot()
    pid = _to_provider_id(snapshot, provider)

    if base_url:
        try:
            by_url = snapshot.find_provider(None, None, base_url)
        except LookupError:
            by_url = None
        if by_url is not None:
            pid = by_url.id
        elif pid is None:
            # Unknown host and no provider genai-prices knows to vouch for the
            # model: do not guess from the model name (rule 2).
            return None
        # else: unknown host, look the model up under the declared provider
        # only (find_provider_model with a provider id never falls back to
        # model-name matching across providers; it does follow that
        # provider's own fallbacks, e.g. azure -> openai).

    try:
        return snapshot.find_provider_model(model, None, pid, None)
    except LookupError:
        return None


# ---------------------------------------------------------------------------
# fast path
#
# genai-prices' ModelPrice.calc_price re-derives its unit hierarchy on every
# call (~150-200 us). For a given ModelPrice without tiers the price is linear
# in the token counts (leaf values are differences of counts, each priced at a
# constant rate), so we ask genai-prices itself for the coefficients once, with
# unit usages, and cache them per ModelPrice object. The result is the same
# Decimal genai-prices computes (checked against calc_price over the whole
# answer-key dataset in tests/test_pricing.py). Tiered prices are linear below
# their first tier, so the fast path applies while input_tokens <= that start
# (genai-prices switches tier when the input is *greater than* the start).


class _Linear(NamedTuple):
    const: Decimal
    input: Decimal
    cache_read: Decimal
    cache_write: Decimal
    output: Decimal
    reasoning: Decimal
    max_input: int | None


_linear_cache: dict[int, tuple[Any, _Linear | None]] = {}
_price_memo: dict[tuple, tuple] = {}


def _usage(inp: int, out: int, cached: int, cw: int, reasoning: int) -> Any:
    from genai_prices.types import Usage

    # Absent counts are passed as explicit 0s: for pricing they mean the same,
    # and it spares genai-prices the lazy inference of missing keys.
    return Usage(
        input_tokens=inp,
        output_tokens=out,
        cache_read_tokens=cached,
        cache_write_tokens=cw,
        output_reasoning_tokens=reasoning,
    )


def _genai_total(model_info, gp_provider, ts, inp, out, cached, cw, reasoning) -> Decimal:
    calc = model_info.calc_price(
        _usage(inp, out, cached, cw, reasoning), gp_provider, genai_request_timestamp=ts
    )
    return calc.total_price


def _linear(model_price: Any) -> _Linear | None:
    key = id(model_price)
    hit = _linear_cache.get(key)
    if hit is not None and hit[0] is model_price:
        return hit[1]
    lin: _Linear | None
    try:
        from genai_prices.types import TieredPrices

        max_input = None
        for value in vars(model_price).values():
            if isinstance(value, TieredPrices):
                starts = [tier.start for tier in value.tiers]
                if starts:
                    first = min(starts)
                    max_input = first if max_input is None else min(max_input, first)

        def f(*counts: int) -> Decimal:
            return model_price.calc_price(_usage(*counts))["total_price"]

        z = f(0, 0, 0, 0, 0)
        i1 = f(1, 0, 0, 0, 0)
        o1 = f(0, 1, 0, 0, 0)
        lin = _Linear(
            const=z,
            input=i1 - z,
            cache_read=f(1, 0, 1, 0, 0) - i1,
            cache_write=f(1, 0, 0, 1, 0) - i1,
            output=o1 - z,
            reasoning=f(0, 1, 0, 0, 1) - o1,
            max_input=max_input,
        )
    except Exception:
        lin = None  # use genai-prices' full calculation for this price
    if len(_linear_cache) > 10_000:  # snapshots swapped many times: start over
        _linear_cache.clear()
    _linear_cache[key] = (model_price, lin)
    return lin


# ---------------------------------------------------------------------------
# cost


def _tok(value: Any) -> int | None:
    """A valid token count, None if absent; raises ValueError on garbage."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        if value < 0:
            raise ValueError(value)
        return value
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    raise ValueError(value)


def _registered_price(candidates: list[tuple[str | None, str]]) -> _Price | None:
    reg = _registered
    if not reg:
        return None
    for prov, mod in candidates:
        if prov is not None and (price := reg.get((prov, mod))) is not None:
            return price
    for _, mod in candidates:
        if (price := reg.get((None, mod))) is not None:
            return price
    return None


def _registered_cost(price: _Price, inp: int, out: int, cached: int, cache_write: int) -> float | None:
    uncached = inp - cached - cache_write
    if uncached < 0:
        return None  # inconsistent usage (cache counts larger than the input)
    cached_rate = price.input_per_mtok if price.cached_input_per_mtok is None else price.cached_input_per_mtok
    write_rate = price.input_per_mtok if price.cache_write_per_mtok is None else price.cache_write_per_mtok
    total = (
        uncached * price.input_per_mtok
        + cached * cached_rate
        + cache_write * write_rate
        + out * price.output_per_mtok
    )
    return total / 1_000_000


def cost(
    model: str | None,
    *,
    provider: str | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    cached_tokens: int | None = None,
    cache_write_tokens: int | None = None,
    base_url: str | None = None,
    reasoning_tokens: int | None = None,
    timestamp: datetime | float | None = None,
    key: PriceKey | None = None,
) -> float | None:
    """Cost of one call in USD, or None when it cannot be priced. Never raises.

    Tokens follow the canonical convention (``input_tokens`` includes
    ``cached_tokens`` and ``cache_write_tokens``). ``provider`` is llmdebug's
    provider name; ``key`` the names the provider module prices the call under
    (default: ``provider`` and ``model`` as given); ``base_url`` the SDK's endpoint,
    if not the default one.
    ``timestamp`` is when the call was made, a datetime or epoch seconds (prices
    change over time; default now). ``reasoning_tokens`` matters only for the rare model that prices
    reasoning output separately.

    Returns None for: no model, no token counts at all, invalid counts
    (negative, non-numeric, cache counts above the input), a model neither
    registered nor known to genai-prices, or any internal error.
    """
    try:
        if not isinstance(model, str) or not model.strip():
            return None
        try:
            inp = _tok(input_tokens)
            out = _tok(output_tokens)
            cached = _tok(cached_tokens)
            cw = _tok(cache_write_tokens)
            reasoning = _tok(reasoning_tokens)
        except ValueError:
            return None  # invalid counts cannot be priced (not a bug of ours)
        if inp is None and out is None and cached is None and cw is None:
            return None
        inp, out, cached, cw, reasoning = inp or 0, out or 0, cached or 0, cw or 0, reasoning or 0
        if cached + cw > inp or reasoning > out:
            return None  # inconsistent usage: cache counts are part of the input
        if key is None:
            key = PriceKey(names=((provider, model),), public=(provider, model))
        if _registered:
            price = _registered_price([(_norm(p) if isinstance(p, str) else None, m.strip().lower())
                                       for p, m in key.names])
            if price is not None:
                return _registered_cost(price, inp, out, cached, cw)
        if key.public is None:
            return None  # run locally: not priced from the public table
        public_provider, public_model = key.public
        model_key = public_model.strip().lower()
        prov = _norm(public_provider) if isinstance(public_provider, str) else None

        if timestamp is None:
            epoch = time.time()
        elif isinstance(timestamp, datetime):
            epoch = timestamp.timestamp()
        elif isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool) and math.isfinite(timestamp):
            epoch = float(timestamp)
        else:
            return None
        url = base_url.strip() if isinstance(base_url, str) and base_url.strip() else None
        snapshot = _snapshot()
        # The price of a (provider, model, host) in a given hour, looked up once: genai-prices'
        # own lookup and price selection cost more than the arithmetic below. (Prices change
        # on dates; a change in the middle of an hour applies from the next hour.)
        memo_key = (id(snapshot), prov, model_key, url, int(epoch // 3600))
        hit = _price_memo.get(memo_key)
        if hit is None:
            found = _resolve(id(snapshot), prov, model_key, url)
            if found is None:
                hit = (None, None, None)
            else:
                ts = datetime.fromtimestamp(epoch, tz=timezone.utc)
                model_price = found[1].get_prices(ts)
                hit = (found, ts, _linear(model_price))
            if len(_price_memo) > 10_000:
                _price_memo.clear()
            _price_memo[memo_key] = hit
        found, ts, lin = hit
        if found is None:
            return None
        gp_provider, model_info = found
        if lin is not None and (lin.max_input is None or inp <= lin.max_input):
            # Decimal arithmetic is most of a priced call's cost: the zero terms (no cache,
            # no reasoning, usually) are skipped, which changes nothing in the sum.
            total = lin.const
            if inp:
                total += lin.input * inp
            if cached:
                total += lin.cache_read * cached
            if cw:
                total += lin.cache_write * cw
            if out:
                total += lin.output * out
            if reasoning:
                total += lin.reasoning * reasoning
        else:
            total = _genai_total(model_info, gp_provider, ts, inp, out, cached, cw, reasoning)
        result = float(total)
        return result if math.isfinite(result) and result >= 0 else None
    except Exception:  # cost never raises into the writer; a bug is reported (raised under LLMDEBUG_RAISE_ERRORS)
        report("pricing a call")
        return None
