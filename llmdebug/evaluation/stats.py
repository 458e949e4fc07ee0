"""Confidence intervals for an experiment's scores: a paired bootstrap over items.

Every variant ran the same items, so the variants are compared item by item: each of
``resamples`` resamples draws the items with replacement (one draw shared by every
variant), and takes each variant's mean score and each pair's mean difference over the
drawn items. The 2.5th and 97.5th percentiles of those means are the 95% interval; the
share of resamples in which A's mean is above B's says how often A wins. The generator
is seeded, so the same scores always give the same intervals.

An item a variant has no score for (its run failed, its scorer raised) is left out of
that variant's means, and out of the differences of the pairs it is in.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["paired_bootstrap", "RESAMPLES", "SEED"]

RESAMPLES = 2000
SEED = 0


def _interval(means: np.ndarray, level: float) -> tuple[float | None, float | None]:
    """The percentile interval of one column of resampled means (NaN rows left out)."""
    finite = means[~np.isnan(means)]
    if finite.size == 0:
        return None, None
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return float(low), float(high)


def _nanmean(x: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():  # a resample with no value for a variant is NaN, said below
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(x, axis=axis)


def paired_bootstrap(df: "pd.DataFrame", scores: Iterable[str], *, variant: str = "variant", item: str = "item_id",
                     resamples: int = RESAMPLES, seed: int = SEED, level: float = 0.95) -> dict[str, Any]:
    """Means with intervals per variant and mean differences per pair of variants, for
    each numeric score column of ``df`` (one row per item x variant).

    Returns ``{"variants": [...], "scores": [...], "means": [{"variant", "score", "mean",
    "low", "high", "n"}], "pairs": [{"a", "b", "score", "diff", "low", "high",
    "a_better", "n"}]}``; ``diff`` is mean(A - B) over the items both have, ``a_better``
    the share of resamples where A's mean difference is above zero. Values are None where
    there is nothing to compute (no scored item).
    """
    if resamples < 1:
        raise ValueError(f"resamples={resamples!r}: give a whole number ≥ 1")
    if not 0 < level < 1:
        raise ValueError(f"level={level!r}: give the interval's coverage as a fraction, e.g. 0.95")
    variants = list(dict.fromkeys(df[variant].tolist())) if len(df) else []
    items = list(dict.fromkeys(df[item].tolist())) if len(df) else []
    out: dict[str, Any] = {"variants": variants, "scores": [], "means": [], "pairs": [], "resamples": resamples,
                           "level": level, "seed": seed}
    if not variants or not items:
        return out
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(items), size=(resamples, len(items)))  # shared by every score and variant
    for score in scores:
        values = _numeric(df[score])
        if values is None:
            continue
        out["scores"].append(score)
        table = (df.assign(_v=values).pivot_table(index=item, columns=variant, values="_v", aggfunc="mean",
                                                  dropna=False)
                 .reindex(index=items, columns=variants))
        x = table.to_numpy(dtype="float64")  # items x variants, NaN where there is no score
        sampled = x[draws]  # resamples x items x variants
        means = _nanmean(sampled, axis=1)  # resamples x variants
        for j, v in enumerate(variants):
            col = x[:, j]
            n = int((~np.isnan(col)).sum())
            low, high = _interval(means[:, j], level)
            out["means"].append({"variant": v, "score": score, "mean": float(np.nanmean(col)) if n else None,
                                 "low": low, "high": high, "n": n})
        for a in range(len(variants)):
            for b in range(a + 1, len(variants)):
                d = x[:, a] - x[:, b]
                n = int((~np.isnan(d)).sum())
                diffs = _nanmean(d[draws], axis=1)
                low, high = _interval(diffs, level)
                finite = diffs[~np.isnan(diffs)]
                out["pairs"].append({"a": variants[a], "b": variants[b], "score": score,
                                     "diff": float(np.nanmean(d)) if n else None, "low": low, "high": high,
                                     "a_better": float((finite > 0).mean()) if finite.size else None, "n": n})
    return out


def _numeric(col: "pd.Series") -> "pd.Series | None":
    """The column as floats, or None when it holds labels (text), not numbers."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        return col.astype("float64")
    converted = pd.to_numeric(col, errors="coerce")
    if converted.notna().sum() < col.notna().sum():
        return None
    return converted.astype("float64")
