"""Statistics every study uses: summaries over seeds (mean, sd, a 95% t-interval) and rank correlation.

NumPy only at import (pandas is the caller's: the per-run analyses that use :func:`spearman` do not
load it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def summarize_over_seeds(df: pd.DataFrame, by: list[str], value: str = "value", level: float = 0.95) -> pd.DataFrame:
    """Group ``df`` by ``by`` (seed excluded) and summarise ``value`` across seeds.

    The interval is mean +- t_{n-1} * sd / sqrt(n); with a single seed it collapses to the mean (no
    spread can be estimated from one run, and drawing a band would suggest one).
    """
    from scipy import stats

    grouped = df.groupby(by, sort=True, observed=True)[value]
    out = grouped.agg(mean="mean", sd="std", n="count").reset_index()
    out["sd"] = out["sd"].fillna(0.0)
    tq = np.where(out["n"] > 1, stats.t.ppf(0.5 + level / 2, np.maximum(out["n"] - 1, 1)), 0.0)
    half = tq * out["sd"] / np.sqrt(out["n"])
    out["ci_low"], out["ci_high"] = out["mean"] - half, out["mean"] + half
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two 1-D arrays of the same length (average ranks for ties; NaN when
    either side is constant), without SciPy or pandas."""

    def ranks(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        order = np.argsort(x, kind="stable")
        r = np.empty(len(x))
        r[order] = np.arange(len(x), dtype=np.float64)
        for v in np.unique(x):  # average the ranks of ties
            tie = x == v
            if tie.sum() > 1:
                r[tie] = r[tie].mean()
        return r

    ra, rb = ranks(a), ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = np.sqrt((ra**2).sum() * (rb**2).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else float("nan")
