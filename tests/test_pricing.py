"""Tests for llmdebug.pricing.

The answer key is genai-prices' own dataset of real usage objects
(../shared/fixtures/genai-prices/tests/dataset/usages.json, see the README
beside it): each response body with, per provider_id + api_flavor, the price
genai-prices computed at the dataset's commit. We normalise each body's usage
block with ``normalize_usage`` and price it with ``cost``; the result must equal
``input_price + output_price`` exactly (Decimal-exact, compared after the single
rounding to float that ``cost`` performs).
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import pytest

import llmdebug.pricing as pricing
from llmdebug import providers
from llmdebug.providers import normalize_usage
from llmdebug.pricing import cost, register_price, registered_prices, unregister_price


def fixtures_dir() -> Path:
    env = os.environ.get("LLMDEBUG_FIXTURES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"


DATASET = fixtures_dir() / "genai-prices" / "tests" / "dataset" / "usages.json"
FIXTURE_PRICES = fixtures_dir() / "genai-prices" / "prices" / "data.json"


@pytest.fixture(autouse=True)
def _clean_registry():
    for provider, model in list(registered_prices()):
        unregister_price(model, provider)
    yield
    for provider, model in list(registered_prices()):
        unregister_price(model, provider)


# --- answer key ----------------------------------------------------------------

# (genai-prices provider_id, api_flavor) -> our usage flavour.
FLAVOR_MAP = {
    ("openai", "default"): "openai-chat",
    ("openai", "chat"): "openai-chat",
    ("openai", "responses"): "openai-responses",
    ("openai", "embeddings"): "openai-embeddings",
    ("anthropic", "default"): "anthropic",
    # Anthropic's OpenAI-compatible endpoint: chat.completions-shaped usage.
    ("anthropic", "chat"): "openai-chat",
}
# genai-prices usage keys our canonical usage represents.
CANONICAL_GP_KEYS = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cache_read_tokens": "cached_tokens",
    "cache_write_tokens": "cache_write_tokens",
    "output_reasoning_tokens": "reasoning_tokens",
}


@dataclass
class Case:
    provider: str
    api_flavor: str
    model: str | None
    usage: dict | None  # normalised
    expected: Decimal | None  # None: genai-prices could not price it
    skip: str | None  # reason the row is not checked


@lru_cache(maxsize=1)
def answer_key() -> list[Case]:
    rows = json.loads(DATASET.read_text())
    cases: list[Case] = []
    for row in rows:
        model = row.get("model")
        body = row.get("body") or {}
        for extracted in row["extracted"]:
            gp_usage = extracted["usage"]
            for ex in extracted["extractors"]:
                pid, api_flavor = ex["provider_id"], ex["api_flavor"]
                if pid not in ("openai", "anthropic"):
                    continue
                expected = (
                    Decimal(ex["input_price"]) + Decimal(ex["output_price"]) if "input_price" in ex else None
                )
                case = Case(pid, api_flavor, model, None, expected, None)
                cases.append(case)
                flavor = FLAVOR_MAP.get((pid, api_flavor))
                if flavor is None:
                    case.skip = f"api_flavor {api_flavor!r} has no llmdebug usage flavour"
                    continue
                if not model:
                    case.skip = "no model id in the recorded response body"
                    continue
                if not isinstance(body.get("usage"), dict):
                    case.skip = "no top-level usage block in the recorded body"
                    continue
                extra = set(gp_usage) - set(CANONICAL_GP_KEYS)
                # cache_write_5m is a refinement of cache_write priced like it
                # unless the model has a separate 5m price (none of these do).
                extra.discard("cache_write_5m_tokens")
                if extra:
                    case.skip = f"usage has {sorted(extra)}, not part of llmdebug's canonical token usage"
                    continue
                norm = normalize_usage(body["usage"], flavor)
                case.usage = norm
                ours = {k: norm[v] or 0 for k, v in CANONICAL_GP_KEYS.items()}
                theirs = {k: gp_usage.get(k, 0) for k in CANONICAL_GP_KEYS}
                if ours != theirs:
                    if (pid, api_flavor) == ("anthropic", "chat"):
                        # genai-prices' anthropic "chat" extractor reads usage.cached_tokens
                        # at the root and ignores prompt_tokens_details.{cached,cache_write}_tokens,
                        # so it extracts different counts from the same body than we do.
                        case.skip = "genai-prices anthropic/chat extractor reads other cache fields than openai-chat"
                    else:
                        case.skip = f"MISMATCH normalised {ours} != genai-prices extracted {theirs}"
    return cases


def _cost_for(case: Case, **kw) -> float | None:
    u = case.usage
    return cost(
        case.model,
        provider=case.provider,
        input_tokens=u["input_tokens"],
        output_tokens=u["output_tokens"],
        cached_tokens=u["cached_tokens"],
        cache_write_tokens=u["cache_write_tokens"],
        reasoning_tokens=u["reasoning_tokens"],
        **kw,
    )


def _matches(got: float | None, expected: Decimal | None) -> bool:
    if expected is None:
        return got is None
    if got is None:
        return False
    # exact: cost() computes the Decimal and rounds once to float
    return got == float(expected) and math.isclose(got, float(expected), rel_tol=1e-9, abs_tol=0)


@pytest.fixture
def fixture_price_table():
    """Install the fixtures' own price table (the dataset commit's data.json) as
    genai-prices' snapshot for the duration of a test."""
    if not FIXTURE_PRICES.exists():
        pytest.skip(f"fixture price table not found: {FIXTURE_PRICES}")
    from genai_prices import data_snapshot
    from genai_prices.types import _providers_from_raw

    snapshot = data_snapshot.DataSnapshot(_providers_from_raw(json.loads(FIXTURE_PRICES.read_text())), False)
    data_snapshot.set_custom_snapshot(snapshot)
    try:
        yield snapshot
    finally:
        data_snapshot.set_custom_snapshot(None)


needs_dataset = pytest.mark.skipif(not DATASET.exists(), reason=f"answer key not found: {DATASET}")


@needs_dataset
def test_answer_key_normalisation_agrees_with_genai_prices_extractors():
    # No unexplained disagreement between normalize_usage and genai-prices' extractors.
    bad = [c for c in answer_key() if c.skip and c.skip.startswith("MISMATCH")]
    assert not bad, bad[:5]


@needs_dataset
def test_answer_key_skips_are_accounted_for():
    skips = Counter(c.skip for c in answer_key() if c.skip)
    # every reason is one of the documented ones, and few rows are skipped
    allowed = (
        "no model id",
        "usage has ",
        "genai-prices anthropic/chat extractor",
    )
    assert all(reason.startswith(allowed) for reason in skips), skips
    assert sum(skips.values()) <= 40, skips


# Models whose price the installed genai-prices changed after the dataset's
# commit (a dated ConditionalPrice); with the dataset's own price table, or at a
# request time before the change, they price exactly as expected.
def _installed_price_differs_by_date(case: Case) -> bool:
    from genai_prices import data_snapshot
    from genai_prices.types import StartDateConstraint

    try:
        _, model_info = data_snapshot.get_snapshot().find_provider_model(case.model, None, case.provider, None)
    except LookupError:
        return False
    if isinstance(model_info.prices, list) and len(model_info.prices) > 1:
        starts = [
            p.constraint.start_date for p in model_info.prices if isinstance(p.constraint, StartDateConstraint)
        ]
        if starts:
            before = datetime.combine(min(starts), datetime.min.time(), tzinfo=timezone.utc).replace(day=1)
            return _matches(_cost_for(case, timestamp=before), case.expected)
    return False


@needs_dataset
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_answer_key_installed_price_table(provider):
    checked = Counter()
    failures = []
    dated = []
    for case in answer_key():
        if case.provider != provider or case.skip:
            continue
        got = _cost_for(case)
        checked["priced" if case.expected is not None else "unpriced"] += 1
        if _matches(got, case.expected):
            continue
        if case.expected is not None and _installed_price_differs_by_date(case):
            dated.append(case)
            continue
        failures.append((case.api_flavor, case.model, case.usage, case.expected, got))
    assert not failures, failures[:10]
    # Rows differing only by a dated price change are few and checked exactly in
    # test_answer_key_fixture_price_table; they are not dropped.
    assert len(dated) <= 20, [(c.model, c.expected) for c in dated]
    assert {c.model for c in dated} <= {"gpt-5.6-sol"}
    assert checked["priced"] >= (500 if provider == "openai" else 200), checked


# When the dataset's expected prices were computed. The fixtures' table
# (commit 47df840) has dated prices starting 2026-03-13 and a *scheduled*
# Claude Sonnet 5 increase starting 2026-09-01 that the expected prices do not
# include, so the dataset was priced in between; any instant in that window
# gives the same prices from that table.
DATASET_PRICED_AT = datetime(2026, 8, 31, tzinfo=timezone.utc)


@needs_dataset
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_answer_key_fixture_price_table(provider, fixture_price_table):
    # Every checkable row, priced with the dataset commit's own table at the
    # dataset's pricing time: exact, no exceptions.
    failures = []
    n = 0
    for case in answer_key():
        if case.provider != provider or case.skip:
            continue
        n += 1
        got = _cost_for(case, timestamp=DATASET_PRICED_AT)
        if not _matches(got, case.expected):
            failures.append((case.api_flavor, case.model, case.usage, case.expected, got))
    assert not failures, failures[:10]
    assert n >= (1000 if provider == "openai" else 800)


@needs_dataset
def test_fast_path_equals_genai_prices_calc():
    # cost()'s cached linear coefficients give genai-prices' own Decimal.
    from genai_prices import calc_price
    from genai_prices.types import Usage

    ts = datetime(2026, 1, 15, tzinfo=timezone.utc)
    n = 0
    for case in answer_key():
        if case.skip or case.expected is None:
            continue
        u = case.usage
        usage = Usage(
            input_tokens=u["input_tokens"],
            output_tokens=u["output_tokens"],
            cache_read_tokens=u["cached_tokens"],
            cache_write_tokens=u["cache_write_tokens"],
            output_reasoning_tokens=u["reasoning_tokens"],
        )
        want = calc_price(usage, case.model, provider_id=case.provider, genai_request_timestamp=ts).total_price
        assert _cost_for(case, timestamp=ts) == float(want), (case.model, case.usage)
        n += 1
    assert n > 500


# --- behaviour -------------------------------------------------------------------


def test_known_models_price_and_return_float():
    c = cost("gpt-4o-mini", provider="openai", input_tokens=1_000_000, output_tokens=1_000_000)
    assert type(c) is float
    assert c > 0


def test_unknown_model_is_none():
    assert cost("totally-made-up-model-xyz", provider="openai", input_tokens=10, output_tokens=10) is None
    assert cost("totally-made-up-model-xyz", input_tokens=10, output_tokens=10) is None
    assert cost("totally-made-up-model-xyz", provider="somewhere", input_tokens=10, output_tokens=10) is None


def test_no_model_or_no_tokens_is_none():
    assert cost(None, provider="openai", input_tokens=10, output_tokens=10) is None
    assert cost("", provider="openai", input_tokens=10) is None
    assert cost("gpt-4o-mini", provider="openai") is None


def test_zero_tokens_is_zero_not_none():
    assert cost("gpt-4o-mini", provider="openai", input_tokens=0, output_tokens=0) == 0.0


@pytest.mark.parametrize(
    "provider, model",
    [
        ("openai", "gpt-4o-mini-2024-07-18"),
        ("openai", "gpt-4o-2024-08-06"),
        ("anthropic", "claude-3-5-sonnet-20241022"),
        ("anthropic", "claude-3-5-haiku-20241022"),
        ("anthropic", "claude-sonnet-4-5-20250929"),
    ],
)
def test_dated_model_ids_price(provider, model):
    assert cost(model, provider=provider, input_tokens=1000, output_tokens=100) > 0


def _price(c):
    """``c`` is a price (a positive float): an equality of two cost() results also holds when
    both are None, which would prove nothing."""
    assert type(c) is float and c > 0, c
    return c


def test_dated_id_prices_like_alias():
    kw = dict(input_tokens=1234, output_tokens=567)
    assert cost("gpt-4o-mini-2024-07-18", provider="openai", **kw) == _price(cost("gpt-4o-mini", provider="openai", **kw))


def test_provider_none_matches_by_model_name():
    kw = dict(input_tokens=1000, output_tokens=100)
    assert cost("claude-3-5-haiku-latest", **kw) == _price(cost("claude-3-5-haiku-latest", provider="anthropic", **kw))
    assert cost("gpt-4o-mini", **kw) == _price(cost("gpt-4o-mini", provider="openai", **kw))


def lcost(model, **kw):
    """A litellm call's cost, priced under the names the litellm provider module gives."""
    return cost(model, provider="litellm", key=providers.price_key("litellm", model), **kw)


def test_litellm_prefixed_models():
    kw = dict(input_tokens=1000, output_tokens=100)
    assert lcost("openai/gpt-4o-mini", **kw) == _price(cost("gpt-4o-mini", provider="openai", **kw))
    assert lcost("anthropic/claude-3-5-haiku-latest", **kw) == _price(cost(
        "claude-3-5-haiku-latest", provider="anthropic", **kw
    ))
    assert lcost("gemini/gemini-2.0-flash", **kw) == cost("gemini-2.0-flash", provider="google", **kw) is not None
    # no prefix: matched by model name
    assert lcost("gpt-4o-mini", **kw) == cost("gpt-4o-mini", provider="openai", **kw)
    # local backends are not priced from the public table
    assert lcost("ollama/llama3", **kw) is None
    assert lcost("hosted_vllm/meta-llama/Llama-3.1-8B-Instruct", **kw) is None


def test_azure_falls_back_to_openai_prices():
    assert cost("gpt-4o", provider="azure", input_tokens=1000, output_tokens=100) is not None


def test_base_url_rules():
    kw = dict(input_tokens=1000, output_tokens=100)
    openai_price = _price(cost("gpt-4o-mini", provider="openai", **kw))
    # official endpoint
    assert cost("gpt-4o-mini", provider="openai", base_url="https://api.openai.com/v1", **kw) == openai_price
    # unknown host (proxy, llmdebug's fake server): a known OpenAI model is still priced as OpenAI
    assert cost("gpt-4o-mini", provider="openai", base_url="http://127.0.0.1:8765/v1", **kw) == openai_price
    # ... but an unknown model on an unknown host is not priced as anything
    assert cost("llama3", provider="openai", base_url="http://localhost:11434/v1", **kw) is None
    assert cost("llama-3.3-70b-versatile", provider="openai", base_url="http://localhost:8000/v1", **kw) is None
    # a recognised non-OpenAI host decides the provider: the OpenAI SDK pointed at Groq
    groq = cost("llama-3.3-70b-versatile", provider="groq", **kw)
    assert groq is not None
    assert cost("llama-3.3-70b-versatile", provider="openai", base_url="https://api.groq.com/openai/v1", **kw) == groq
    # unknown host and no provider: no guessing from the model name
    assert cost("gpt-4o-mini", base_url="http://localhost:4000", **kw) is None


def test_cached_tokens_are_cheaper():
    for provider, model in [("openai", "gpt-4o-mini"), ("anthropic", "claude-3-5-sonnet-20241022")]:
        uncached = cost(model, provider=provider, input_tokens=10_000, output_tokens=100)
        cached = cost(model, provider=provider, input_tokens=10_000, output_tokens=100, cached_tokens=8_000)
        assert cached < uncached, model


def test_cache_writes_cost_more_for_anthropic():
    kw = dict(provider="anthropic", input_tokens=10_000, output_tokens=100)
    assert cost("claude-3-5-sonnet-20241022", cache_write_tokens=8_000, **kw) > cost(
        "claude-3-5-sonnet-20241022", **kw
    )


def test_anthropic_cache_arithmetic_end_to_end():
    # claude-3-5-sonnet: $3 input, $0.30 cache read, $3.75 cache write, $15 output per MTok
    # (openllmetry .../test_anthropic_prompt_caching_legacy.yaml, call 1)
    u = normalize_usage(
        {"input_tokens": 4, "cache_creation_input_tokens": 1163, "cache_read_input_tokens": 0, "output_tokens": 187},
        "anthropic",
    )
    c = cost(
        "claude-3-5-sonnet-20240620",
        provider="anthropic",
        input_tokens=u["input_tokens"],
        output_tokens=u["output_tokens"],
        cached_tokens=u["cached_tokens"],
        cache_write_tokens=u["cache_write_tokens"],
    )
    want = (Decimal(4) * 3 + Decimal(1163) * Decimal("3.75") + Decimal(187) * 15) / 1_000_000
    assert c == float(want)


def test_openai_cached_arithmetic_end_to_end():
    # gpt-4o-mini: $0.15 input, $0.075 cached input, $0.60 output per MTok
    # (openllmetry .../test_openai_prompt_caching.yaml, interaction 1)
    c = cost("gpt-4o-mini-2024-07-18", provider="openai", input_tokens=1149, output_tokens=353, cached_tokens=1024)
    want = (Decimal(1149 - 1024) * Decimal("0.15") + Decimal(1024) * Decimal("0.075") + Decimal(353) * Decimal("0.6")) / 1_000_000
    assert c == float(want)


def test_tiered_price_above_threshold_uses_genai_prices():
    # gpt-5.6-sol has a tier above 272k input tokens: fast path does not apply
    from genai_prices import calc_price
    from genai_prices.types import Usage

    ts = datetime(2026, 10, 1, tzinfo=timezone.utc)
    for inp in (1000, 272_000, 272_001, 400_000):
        want = calc_price(
            Usage(input_tokens=inp, output_tokens=10), "gpt-5.6-sol", provider_id="openai", genai_request_timestamp=ts
        ).total_price
        assert cost("gpt-5.6-sol", provider="openai", input_tokens=inp, output_tokens=10, timestamp=ts) == float(want)


def test_price_history_follows_timestamp():
    kw = dict(provider="openai", input_tokens=1000, output_tokens=1000)
    before = cost("gpt-5.6-sol", timestamp=datetime(2026, 8, 1, tzinfo=timezone.utc), **kw)
    after = cost("gpt-5.6-sol", timestamp=datetime(2026, 9, 1, tzinfo=timezone.utc), **kw)
    assert before is not None and after is not None and after < before


@pytest.mark.parametrize(
    "kw",
    [
        dict(input_tokens=-1, output_tokens=10),
        dict(input_tokens="100", output_tokens=10),
        dict(input_tokens=100, output_tokens="ten"),
        dict(input_tokens=1.5, output_tokens=1),
        dict(input_tokens=float("nan"), output_tokens=1),
        dict(input_tokens=float("inf"), output_tokens=1),
        dict(input_tokens=True, output_tokens=1),
        dict(input_tokens=[1], output_tokens={}),
        dict(input_tokens=10, output_tokens=1, cached_tokens=11),  # cache reads exceed input
        dict(input_tokens=10, output_tokens=1, cached_tokens=6, cache_write_tokens=6),
        dict(input_tokens=10, output_tokens=1, reasoning_tokens=2),  # reasoning exceeds output
        dict(input_tokens=10, output_tokens=1, timestamp="yesterday"),
    ],
)
def test_garbage_never_raises(kw):
    assert cost("gpt-4o-mini", provider="openai", **kw) is None


# gpt-4o-mini: $0.15 input, $0.60 output per MTok
GPT_4O_MINI_10_IN_1_OUT = float((Decimal(10) * Decimal("0.15") + Decimal(1) * Decimal("0.6")) / 1_000_000)


@pytest.mark.parametrize(
    "model, provider, base_url, expected",
    [
        (123, "openai", None, None),
        (b"gpt-4o-mini", "openai", None, None),
        # an unusable provider or endpoint is ignored: the model name still prices the call
        ("gpt-4o-mini", 42, None, GPT_4O_MINI_10_IN_1_OUT),
        ("gpt-4o-mini", "openai", 42, GPT_4O_MINI_10_IN_1_OUT),
        ("gpt-4o-mini", "openai", "not a url", GPT_4O_MINI_10_IN_1_OUT),
        ("   ", None, None, None),
        ("a" * 10_000, None, None, None),
        ("litellm/", "litellm", None, None),
        ("/", "litellm", None, None),
    ],
)
def test_garbage_identifiers_never_raise(model, provider, base_url, expected):
    assert cost(model, provider=provider, base_url=base_url, input_tokens=10, output_tokens=1) == expected


def test_integral_floats_accepted():
    assert cost("gpt-4o-mini", provider="openai", input_tokens=1000.0, output_tokens=10.0) == _price(cost(
        "gpt-4o-mini", provider="openai", input_tokens=1000, output_tokens=10
    ))


def test_genai_prices_exception_becomes_none_for_a_user(monkeypatch):
    """A failure inside genai-prices never reaches the writer: the call is unpriced and a
    warning says so once (and under LLMDEBUG_RAISE_ERRORS, as in these tests, it raises)."""
    from llmdebug import _guard

    def boom(*a, **k):
        raise RuntimeError("broken price data")

    monkeypatch.setattr(pricing, "_snapshot", boom)
    monkeypatch.delenv("LLMDEBUG_RAISE_ERRORS")
    monkeypatch.setattr(_guard, "_warned", set())
    pricing._resolve.cache_clear()
    try:
        with pytest.warns(_guard.LLMDebugWarning, match="pricing a call"):
            assert cost("gpt-4o-mini", provider="openai", input_tokens=10, output_tokens=1) is None
    finally:
        monkeypatch.undo()
        pricing._resolve.cache_clear()


# --- registered prices -----------------------------------------------------------


def test_register_and_unregister():
    kw = dict(input_tokens=2_000_000, output_tokens=1_000_000)
    assert cost("my-finetune", provider="openai", **kw) is None
    register_price("my-finetune", input_per_mtok=1.0, output_per_mtok=4.0)
    assert cost("my-finetune", provider="openai", **kw) == pytest.approx(2 * 1.0 + 1 * 4.0)
    assert cost("My-Finetune", **kw) == pytest.approx(6.0)  # case-insensitive, any provider
    assert (None, "my-finetune") in registered_prices()
    unregister_price("my-finetune")
    assert cost("my-finetune", provider="openai", **kw) is None
    assert registered_prices() == {}
    unregister_price("my-finetune")  # absent: no error


def test_registered_price_overrides_genai_prices():
    kw = dict(provider="openai", input_tokens=1_000_000, output_tokens=0)
    original = _price(cost("gpt-4o-mini", **kw))
    register_price("gpt-4o-mini", input_per_mtok=100.0, output_per_mtok=100.0)
    assert cost("gpt-4o-mini", **kw) == pytest.approx(100.0)
    unregister_price("gpt-4o-mini")
    assert cost("gpt-4o-mini", **kw) == original


def test_provider_scoped_registration():
    kw = dict(input_tokens=1_000_000, output_tokens=0)
    register_price("llama3", input_per_mtok=0.0, output_per_mtok=0.0, provider="ollama")
    register_price("llama3", input_per_mtok=0.5, output_per_mtok=0.5)
    assert cost("llama3", provider="ollama", **kw) == 0.0
    assert cost("llama3", provider="groq-proxy", **kw) == pytest.approx(0.5)  # global fallback
    unregister_price("llama3")
    assert cost("llama3", provider="groq-proxy", **kw) is None
    assert cost("llama3", provider="ollama", **kw) == 0.0
    unregister_price("llama3", provider="ollama")
    assert cost("llama3", provider="ollama", **kw) is None


def test_registered_price_with_litellm_prefix():
    kw = dict(input_tokens=1_000_000, output_tokens=0)
    register_price("llama3", input_per_mtok=0.2, output_per_mtok=0.2, provider="ollama")
    assert lcost("ollama/llama3", **kw) == pytest.approx(0.2)
    register_price("hosted_vllm/my-model", input_per_mtok=0.3, output_per_mtok=0.3, provider="litellm")
    assert lcost("hosted_vllm/my-model", **kw) == pytest.approx(0.3)


def test_registered_cache_prices():
    register_price("local-cached", input_per_mtok=1.0, output_per_mtok=2.0, cached_input_per_mtok=0.1,
                   cache_write_per_mtok=1.25)
    c = cost("local-cached", input_tokens=1_000_000, cached_tokens=400_000, cache_write_tokens=100_000,
             output_tokens=0)
    assert c == pytest.approx(0.5 * 1.0 + 0.4 * 0.1 + 0.1 * 1.25)
    uncached = cost("local-cached", input_tokens=1_000_000, output_tokens=0)
    assert c < uncached
    # cache rates default to the input rate
    register_price("local-plain", input_per_mtok=1.0, output_per_mtok=2.0)
    assert cost("local-plain", input_tokens=1_000_000, cached_tokens=500_000) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "kw",
    [
        dict(input_per_mtok=-1.0, output_per_mtok=1.0),
        dict(input_per_mtok=float("nan"), output_per_mtok=1.0),
        dict(input_per_mtok="1", output_per_mtok=1.0),
        dict(input_per_mtok=1.0, output_per_mtok=1.0, cached_input_per_mtok=-0.1),
    ],
)
def test_register_rejects_bad_prices(kw):
    with pytest.raises((ValueError, TypeError)):
        register_price("bad", **kw)
    assert registered_prices() == {}


def test_registry_thread_safety():
    errors = []

    def worker(i):
        try:
            for j in range(200):
                register_price(f"m{i}-{j}", input_per_mtok=1, output_per_mtok=1, provider=f"p{i}")
                assert cost(f"m{i}-{j}", provider=f"p{i}", input_tokens=1_000_000) == pytest.approx(1.0)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(registered_prices()) == 800


def test_cost_from_threads_is_consistent():
    want = _price(cost("claude-3-5-haiku-latest", provider="anthropic", input_tokens=5000, output_tokens=500))
    results = []

    def worker():
        for _ in range(200):
            results.append(cost("claude-3-5-haiku-latest", provider="anthropic", input_tokens=5000, output_tokens=500))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results) == {want}


def test_no_price_updates_triggered(monkeypatch):
    # cost() must use the bundled snapshot only: never start genai-prices' updater.
    import genai_prices.update_prices as up

    def forbidden(*a, **k):  # pragma: no cover - fails the test if reached
        raise AssertionError("UpdatePrices used")

    monkeypatch.setattr(up.UpdatePrices, "start", forbidden)
    monkeypatch.setattr(up.UpdatePrices, "fetch", forbidden)
    pricing._resolve.cache_clear()
    assert cost("gpt-4o-mini", provider="openai", input_tokens=10, output_tokens=1) is not None
    assert cost("nope-model", provider="openai", input_tokens=10, output_tokens=1) is None
