"""The paired bootstrap behind ld.compare, against cases worked out by hand (and scipy's
bootstrap when scipy is installed)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from llmdebug.evaluation.stats import paired_bootstrap


def _frame(scores: dict[str, list], name: str = "s") -> pd.DataFrame:
    rows = [{"variant": v, "item_id": f"i{k}", name: x} for v, xs in scores.items() for k, x in enumerate(xs)]
    return pd.DataFrame(rows)


def _mean(out: dict, variant: str, score: str = "s") -> dict:
    return next(m for m in out["means"] if m["variant"] == variant and m["score"] == score)


def test_a_constant_difference_has_a_zero_width_interval():
    out = paired_bootstrap(_frame({"A": [1, 1, 0.5, 0.25], "B": [0, 0, -0.5, -0.75]}), ["s"])
    (pair,) = out["pairs"]
    assert (pair["a"], pair["b"]) == ("A", "B")
    assert pair["diff"] == pytest.approx(1.0) and pair["low"] == pytest.approx(1.0) and pair["high"] == pytest.approx(1.0)
    assert pair["a_better"] == 1.0 and pair["n"] == 4
    a = _mean(out, "A")
    assert a["mean"] == pytest.approx(0.6875) and a["n"] == 4
    assert a["low"] >= 0.25 and a["high"] <= 1.0


def test_two_items_match_the_exact_resampling_distribution():
    # A scores 0 and 1, B 0 and 0: a resample of 2 items is {0,0} (1/4), {0,1} (1/2) or {1,1} (1/4),
    # so A's resampled mean is 0, 0.5 or 1 and A beats B in 3/4 of the resamples.
    out = paired_bootstrap(_frame({"A": [0.0, 1.0], "B": [0.0, 0.0]}), ["s"], resamples=4000)
    (pair,) = out["pairs"]
    assert pair["diff"] == 0.5
    assert pair["a_better"] == pytest.approx(0.75, abs=0.03)  # sd of the estimate ≈ 0.007
    assert (pair["low"], pair["high"]) == (0.0, 1.0)
    a = _mean(out, "A")
    assert (a["mean"], a["low"], a["high"]) == (0.5, 0.0, 1.0)


def test_three_items_against_full_enumeration():
    a, b = [0.2, 0.9, 0.5], [0.4, 0.3, 0.5]
    d = [x - y for x, y in zip(a, b)]
    resamples = list(itertools.product(range(3), repeat=3))  # all 27, equally likely
    means = sorted(sum(d[i] for i in r) / 3 for r in resamples)
    exact_better = sum(m > 1e-12 for m in means) / len(means)
    out = paired_bootstrap(_frame({"A": a, "B": b}), ["s"], resamples=20_000, seed=7)
    (pair,) = out["pairs"]
    assert pair["diff"] == pytest.approx(sum(d) / 3)
    assert pair["a_better"] == pytest.approx(exact_better, abs=0.02)

    def quantile(q: float) -> float:  # of the exact discrete distribution
        k = math.ceil(q * len(means)) - 1
        return means[max(k, 0)]

    # the percentile interval lands on (or next to) the exact quantiles of the 27 means
    support = sorted(set(round(m, 9) for m in means))
    low_i = support.index(round(quantile(0.025), 9))
    high_i = support.index(round(quantile(0.975), 9))
    assert round(pair["low"], 9) in support[max(low_i - 1, 0):low_i + 2]
    assert round(pair["high"], 9) in support[max(high_i - 1, 0):high_i + 2]


def test_missing_scores_are_left_out_and_labels_skipped():
    df = _frame({"A": [1.0, None, 0.0], "B": [1.0, 1.0, None]})
    df["verdict"] = ["good", "bad", "good", "good", "bad", "bad"]
    out = paired_bootstrap(df, ["s", "verdict"])
    assert out["scores"] == ["s"]  # a label column has no mean
    assert _mean(out, "A")["n"] == 2 and _mean(out, "A")["mean"] == 0.5
    assert _mean(out, "B")["n"] == 2 and _mean(out, "B")["mean"] == 1.0
    (pair,) = out["pairs"]
    assert pair["n"] == 1 and pair["diff"] == 0.0  # only item 0 has both


def test_seeded_and_every_pair():
    df = _frame({"A": [0.1, 0.5, 0.9, 0.3], "B": [0.2, 0.2, 0.8, 0.1], "C": [0.9, 0.9, 0.9, 0.9]})
    one, two = paired_bootstrap(df, ["s"]), paired_bootstrap(df, ["s"])
    assert one == two
    assert [(p["a"], p["b"]) for p in one["pairs"]] == [("A", "B"), ("A", "C"), ("B", "C")]
    assert next(p for p in one["pairs"] if p["b"] == "C" and p["a"] == "A")["a_better"] == 0.0
    with pytest.raises(ValueError, match="resamples"):
        paired_bootstrap(df, ["s"], resamples=0)


def test_against_scipy_when_installed():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    a = rng.uniform(0, 1, 30)
    b = np.clip(a - 0.1 + rng.normal(0, 0.2, 30), 0, 1)
    out = paired_bootstrap(_frame({"A": list(a), "B": list(b)}), ["s"], resamples=20_000)
    (pair,) = out["pairs"]
    ref = stats.bootstrap((a - b,), np.mean, method="percentile", n_resamples=20_000, random_state=1)
    assert pair["low"] == pytest.approx(ref.confidence_interval.low, abs=0.01)
    assert pair["high"] == pytest.approx(ref.confidence_interval.high, abs=0.01)
