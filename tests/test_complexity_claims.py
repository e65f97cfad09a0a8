"""The claims table of the complexity study passes and fails on the evidence, not by construction."""

from __future__ import annotations

import pandas as pd
import pytest

from featurelab.analysis.complexity import evaluate_claims

CFG = {"reference_pair": ["linear", "xor_xor_xor"], "learned_accuracy": 0.99, "min_fraction_of_seeds": 0.8,
       "min_variance_gap": 0.15, "chance_margin": 0.1}
COND = "linear-vs-xor_xor_xor"


def runs(final_acc_hard: float, r2_easy: float, r2_hard: float, hard_acc_when_easy_learned: float,
         n_seeds: int = 5) -> pd.DataFrame:
    rows = []
    for seed in range(n_seeds):
        curves = {  # epoch -> (linear accuracy, xor accuracy)
            0: (0.5, 0.5), 1: (0.995, hard_acc_when_easy_learned), 2: (1.0, final_acc_hard)}
        for epoch, accs in curves.items():
            for f, (feature, acc) in enumerate(zip(["linear", "xor_xor_xor"], accs)):
                base = dict(study="complexity", condition=COND, seed=seed, epoch=epoch, split="test",
                            feature_index=f, feature=feature)
                rows.append({**base, "metric": "accuracy", "value": acc})
                rows.append({**base, "metric": "r2_weighted", "value": (r2_easy, r2_hard)[f]})
    return pd.DataFrame(rows)


def by_claim(table: pd.DataFrame) -> dict[str, bool]:
    return dict(zip(table["claim"], table["passed"]))


def test_paper_like_results_pass_every_claim():
    table = evaluate_claims(runs(1.0, 0.6, 0.2, 0.52), CFG)
    assert by_claim(table) == {"both_features_learned": True, "easy_feature_dominates_variance": True,
                               "easy_feature_learned_first": True}
    gap = table.set_index("claim").loc["easy_feature_dominates_variance", "measured"]
    assert gap == pytest.approx(0.4)


@pytest.mark.parametrize("args, failing", [
    ((0.9, 0.6, 0.2, 0.52), "both_features_learned"),
    ((1.0, 0.3, 0.2, 0.52), "easy_feature_dominates_variance"),  # gap 0.1 < 0.15
    ((1.0, 0.2, 0.6, 0.52), "easy_feature_dominates_variance"),
    ((1.0, 0.6, 0.2, 0.9), "easy_feature_learned_first"),
])
def test_each_claim_can_fail(args, failing):
    claims = by_claim(evaluate_claims(runs(*args), CFG))
    assert claims[failing] is False
    assert sum(not v for v in claims.values()) == 1
