"""Tests for llmdebug.providers.normalize_usage (each provider module's usage reading).

Real usage blocks are copied from recorded cassettes under ../shared/fixtures
(the file is cited above each one); they are hard-coded here so these tests do
not depend on the fixtures being present.
"""

from __future__ import annotations

import pytest

from llmdebug.providers import USAGE_KEYS, normalize_usage

FLAVORS = ("openai-chat", "openai-responses", "openai-embeddings", "anthropic")

ALL_NONE = dict.fromkeys(USAGE_KEYS)


# --- real blocks --------------------------------------------------------------

# openllmetry/packages/opentelemetry-instrumentation-openai/tests/traces/cassettes/
#   test_prompt_caching/test_openai_prompt_caching.yaml, interaction 1 (gpt-4o-mini-2024-07-18)
OPENAI_CACHED = {
    "prompt_tokens": 1149,
    "completion_tokens": 353,
    "total_tokens": 1502,
    "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}

# openllmetry/packages/opentelemetry-instrumentation-openai/tests/traces/cassettes/
#   test_chat/test_chat_reasoning.yaml, interaction 0 (gpt-5-nano-2025-08-07)
OPENAI_CHAT_REASONING = {
    "prompt_tokens": 11,
    "completion_tokens": 228,
    "total_tokens": 239,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 192,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}

# openllmetry/packages/opentelemetry-instrumentation-anthropic/tests/cassettes/
#   test_prompt_caching/test_anthropic_prompt_caching_legacy.yaml (claude-3-5-sonnet-20240620)
ANTHROPIC_CACHE_WRITE = {
    "input_tokens": 4,
    "cache_creation_input_tokens": 1163,
    "cache_read_input_tokens": 0,
    "output_tokens": 187,
}
ANTHROPIC_CACHE_READ = {
    "input_tokens": 4,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 1163,
    "output_tokens": 202,
}

# otel-python-contrib/instrumentation-genai/opentelemetry-instrumentation-openai-v2/tests/
#   cassettes/test_responses_create_reports_reasoning_tokens[content_mode0].yaml (gpt-5.4-2026-03-05)
RESPONSES_REASONING = {
    "input_tokens": 44,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 288,
    "output_tokens_details": {"reasoning_tokens": 9},
    "total_tokens": 332,
}

# genai-prices/tests/dataset/usages.json: the body of
#   models/anthropic/cassettes/test_web_tools/test_anthropic_unsupported_model_uses_previous_web_tools.yaml
#   (newer Anthropic shape with the cache_creation breakdown and extra string keys)
ANTHROPIC_NEW_SHAPE = {
    "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
    "inference_geo": "not_available",
    "input_tokens": 2743,
    "output_tokens": 4,
    "service_tier": "standard",
}


def test_openai_chat_prompt_caching_cassette():
    assert normalize_usage(OPENAI_CACHED, "openai-chat") == {
        "input_tokens": 1149,  # prompt_tokens already includes the 1024 cached tokens
        "output_tokens": 353,
        "total_tokens": 1502,
        "cached_tokens": 1024,
        "cache_write_tokens": None,  # OpenAI did not report cache writes
        "reasoning_tokens": 0,
    }


def test_openai_chat_reasoning_cassette():
    u = normalize_usage(OPENAI_CHAT_REASONING, "openai-chat")
    assert u["output_tokens"] == 228  # includes the reasoning tokens
    assert u["reasoning_tokens"] == 192
    assert u["total_tokens"] == 239
    assert u["cached_tokens"] == 0


def test_anthropic_cache_write_cassette():
    assert normalize_usage(ANTHROPIC_CACHE_WRITE, "anthropic") == {
        "input_tokens": 4 + 1163 + 0,
        "output_tokens": 187,
        "total_tokens": 4 + 1163 + 187,
        "cached_tokens": 0,
        "cache_write_tokens": 1163,
        "reasoning_tokens": None,
    }


def test_anthropic_cache_read_cassette():
    assert normalize_usage(ANTHROPIC_CACHE_READ, "anthropic") == {
        "input_tokens": 4 + 0 + 1163,
        "output_tokens": 202,
        "total_tokens": 4 + 1163 + 202,
        "cached_tokens": 1163,
        "cache_write_tokens": 0,
        "reasoning_tokens": None,
    }


def test_responses_reasoning_cassette():
    assert normalize_usage(RESPONSES_REASONING, "openai-responses") == {
        "input_tokens": 44,
        "output_tokens": 288,
        "total_tokens": 332,
        "cached_tokens": 0,
        "cache_write_tokens": None,
        "reasoning_tokens": 9,
    }


def test_anthropic_new_shape_ignores_extra_keys():
    u = normalize_usage(ANTHROPIC_NEW_SHAPE, "anthropic")
    assert u["input_tokens"] == 2743
    assert u["output_tokens"] == 4
    assert u["total_tokens"] == 2747
    assert u["cached_tokens"] == 0
    assert u["cache_write_tokens"] == 0


# --- flavours -----------------------------------------------------------------


def test_openai_chat_minimal_legacy_completions():
    # legacy completions: no details blocks at all
    u = normalize_usage({"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}, "openai-chat")
    assert u == {
        "input_tokens": 5,
        "output_tokens": 7,
        "total_tokens": 12,
        "cached_tokens": None,
        "cache_write_tokens": None,
        "reasoning_tokens": None,
    }


def test_openai_chat_deepseek_cache_hit():
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 10,
        "total_tokens": 110,
        "prompt_cache_hit_tokens": 64,
        "prompt_cache_miss_tokens": 36,
    }
    u = normalize_usage(usage, "openai-chat")
    assert u["cached_tokens"] == 64
    assert u["input_tokens"] == 100


def test_openai_chat_details_cached_wins_over_deepseek_field():
    usage = {"prompt_tokens": 100, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 32},
             "prompt_cache_hit_tokens": 64}
    assert normalize_usage(usage, "openai-chat")["cached_tokens"] == 32


def test_openai_chat_cache_write_tokens_when_reported():
    usage = {"prompt_tokens": 4020, "completion_tokens": 4,
             "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 4012}}
    u = normalize_usage(usage, "openai-chat")
    assert u["cache_write_tokens"] == 4012
    assert u["cached_tokens"] == 0


def test_openai_responses_cached():
    usage = {"input_tokens": 2000, "input_tokens_details": {"cached_tokens": 1536},
             "output_tokens": 50, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 2050}
    u = normalize_usage(usage, "openai-responses")
    assert (u["input_tokens"], u["cached_tokens"], u["output_tokens"], u["total_tokens"]) == (2000, 1536, 50, 2050)


def test_openai_embeddings():
    u = normalize_usage({"prompt_tokens": 8, "total_tokens": 8}, "openai-embeddings")
    assert u == {
        "input_tokens": 8,
        "output_tokens": None,
        "total_tokens": 8,
        "cached_tokens": None,
        "cache_write_tokens": None,
        "reasoning_tokens": None,
    }


def test_anthropic_without_cache_fields():
    u = normalize_usage({"input_tokens": 10, "output_tokens": 20}, "anthropic")
    assert u == {
        "input_tokens": 10,
        "output_tokens": 20,
        "total_tokens": 30,
        "cached_tokens": None,
        "cache_write_tokens": None,
        "reasoning_tokens": None,
    }


def test_anthropic_cache_arithmetic_all_three():
    u = normalize_usage(
        {"input_tokens": 3, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 200, "output_tokens": 50},
        "anthropic",
    )
    assert u["input_tokens"] == 1203
    assert u["cached_tokens"] == 1000
    assert u["cache_write_tokens"] == 200
    assert u["total_tokens"] == 1253
    # the canonical invariant: cache reads and writes are part of the input
    assert u["cached_tokens"] + u["cache_write_tokens"] <= u["input_tokens"]


def test_anthropic_cache_creation_breakdown_only():
    u = normalize_usage(
        {"input_tokens": 3, "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 20},
         "output_tokens": 5},
        "anthropic",
    )
    assert u["cache_write_tokens"] == 120
    assert u["input_tokens"] == 123


def test_anthropic_streaming_message_delta_only_output():
    # message_delta events carry only output_tokens; input is unknown -> None, not 0
    u = normalize_usage({"output_tokens": 42}, "anthropic")
    assert u["output_tokens"] == 42
    assert u["input_tokens"] is None
    assert u["total_tokens"] is None


# --- absent and malformed -----------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
def test_none_usage_all_none(flavor):
    assert normalize_usage(None, flavor) == ALL_NONE


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("usage", [{}, [], "usage", 3, {"unrelated": {"x": 1}}])
def test_empty_or_non_dict_usage_all_none(flavor, usage):
    assert normalize_usage(usage, flavor) == ALL_NONE


def test_unknown_flavor_raises():
    with pytest.raises(ValueError):
        normalize_usage({}, "cohere-v2")


def test_gemini_usage_metadata():
    # Gemini reports thinking apart from the answer, and cached tokens inside the prompt
    u = normalize_usage({"promptTokenCount": 120, "candidatesTokenCount": 30, "thoughtsTokenCount": 50,
                         "cachedContentTokenCount": 100, "toolUsePromptTokenCount": 8, "totalTokenCount": 208},
                        "gemini")
    assert u == {"input_tokens": 128, "output_tokens": 80, "total_tokens": 208, "cached_tokens": 100,
                 "cache_write_tokens": None, "reasoning_tokens": 50}
    snake = normalize_usage({"prompt_token_count": 5, "candidates_token_count": 2}, "gemini")  # the SDK's dump
    assert (snake["input_tokens"], snake["output_tokens"], snake["total_tokens"]) == (5, 2, 7)


def test_nulls_and_missing_details():
    usage = {"prompt_tokens": 10, "completion_tokens": None, "total_tokens": None,
             "prompt_tokens_details": None, "completion_tokens_details": None}
    u = normalize_usage(usage, "openai-chat")
    assert u["input_tokens"] == 10
    assert u["output_tokens"] is None
    assert u["total_tokens"] is None
    assert u["cached_tokens"] is None
    assert u["reasoning_tokens"] is None


def test_details_blocks_of_wrong_type():
    usage = {"input_tokens": 10, "output_tokens": 2, "input_tokens_details": [1, 2],
             "output_tokens_details": "reasoning"}
    u = normalize_usage(usage, "openai-responses")
    assert u["cached_tokens"] is None and u["reasoning_tokens"] is None
    assert u["total_tokens"] == 12


@pytest.mark.parametrize("bad", ["10", 10.5, 10.0, True, False, -3, [10], {"n": 10}, float("nan")])
def test_non_int_values_ignored(bad):
    u = normalize_usage({"prompt_tokens": bad, "completion_tokens": 5, "total_tokens": 15}, "openai-chat")
    assert u["input_tokens"] is None
    assert u["output_tokens"] == 5
    # a part is missing: fall back to the API's own total
    assert u["total_tokens"] == 15


def test_anthropic_malformed_cache_values_ignored():
    u = normalize_usage(
        {"input_tokens": 10, "cache_read_input_tokens": "5", "cache_creation_input_tokens": None, "output_tokens": 1},
        "anthropic",
    )
    assert u["input_tokens"] == 10
    assert u["cached_tokens"] is None
    assert u["cache_write_tokens"] is None


def test_total_is_sum_when_api_total_inconsistent():
    u = normalize_usage({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 999}, "openai-chat")
    assert u["total_tokens"] == 15


def test_total_from_parts_when_api_omits_it():
    u = normalize_usage({"input_tokens": 10, "output_tokens": 5}, "openai-responses")
    assert u["total_tokens"] == 15


def test_result_is_fresh_dict_with_exact_keys():
    a = normalize_usage(None, "openai-chat")
    a["input_tokens"] = 1
    assert normalize_usage(None, "openai-chat")["input_tokens"] is None
    assert set(normalize_usage(OPENAI_CACHED, "openai-chat")) == set(USAGE_KEYS)


def test_input_not_mutated():
    import copy

    before = copy.deepcopy(ANTHROPIC_CACHE_WRITE)
    normalize_usage(ANTHROPIC_CACHE_WRITE, "anthropic")
    assert ANTHROPIC_CACHE_WRITE == before
