"""Summaries over seeds: mean, standard deviation and a 95% t-interval for the mean."""

from __future__ import annotations

import numpy as np
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
