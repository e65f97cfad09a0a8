"""featurelab.stats: the summaries over seeds and the one Spearman helper every study uses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from featurelab.stats import spearman, summarize_over_seeds


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=30), rng.normal(size=30)
    b[:5] = b[5]  # ties
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic)


def test_spearman_of_a_constant_is_nan():
    assert np.isnan(spearman(np.ones(5), np.arange(5.0)))


def test_summary_over_seeds_is_mean_sd_and_a_t_interval():
    df = pd.DataFrame({"condition": ["a"] * 3 + ["b"], "seed": [0, 1, 2, 0], "value": [1.0, 2.0, 6.0, 4.0]})
    out = summarize_over_seeds(df, ["condition"]).set_index("condition")
    a = out.loc["a"]
    assert a["mean"] == 3.0 and a["n"] == 3 and a["sd"] == pytest.approx(np.std([1, 2, 6], ddof=1))
    half = stats.t.ppf(0.975, 2) * a["sd"] / np.sqrt(3)
    assert (a["ci_low"], a["ci_high"]) == (pytest.approx(3 - half), pytest.approx(3 + half))
    b = out.loc["b"]  # one seed: no spread can be estimated, the interval collapses to the mean
    assert b["sd"] == 0.0 and b["ci_low"] == b["ci_high"] == 4.0
