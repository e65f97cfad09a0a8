"""The complexity study's per-run analysis: variance curves normalised by the final total variance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from featurelab.studies.complexity.analysis import normalize_variance_curves


def test_normalized_curve_ends_exactly_at_final_r2():
    rows = []
    tvs = [0.5, 2.0, 4.0, 8.0]
    for seed in (0, 1):
        for epoch, tv in enumerate(tvs):
            base = dict(study="complexity", condition="linear-vs-xor_xor_xor", seed=seed, epoch=epoch, split="test")
            rows.append({**base, "feature_index": -1, "feature": "", "metric": "total_variance", "value": tv + seed})
            for f, feature in enumerate(["linear", "xor_xor_xor"]):
                for metric in ("r2_weighted", "r2_unweighted"):
                    rows.append(
                        {
                            **base,
                            "feature_index": f,
                            "feature": feature,
                            "metric": metric,
                            "value": 0.1 * (epoch + 1) * (f + 1) + 0.01 * seed,
                        }
                    )
    metrics = pd.DataFrame(rows)
    out = normalize_variance_curves(metrics)
    for metric in ("r2_weighted", "r2_unweighted"):
        norm = out[out["metric"] == f"{metric}_normalized"]
        raw = out[out["metric"] == metric]
        last = norm[norm["epoch"] == 3].sort_values(["seed", "feature_index"])["value"].to_numpy()
        final = raw[raw["epoch"] == 3].sort_values(["seed", "feature_index"])["value"].to_numpy()
        assert np.array_equal(last, final)
        first = norm[(norm["epoch"] == 0) & (norm["seed"] == 0)].sort_values("feature_index")["value"].to_numpy()
        np.testing.assert_allclose(first, np.array([0.1, 0.2]) * 0.5 / 8.0)
