"""Claims of the superposition study, judged on made-up tables whose truth is set by construction: each
claim PASSes where the notebook's effect is built in and FAILs where it is refuted, an unmet
precondition is FAIL whatever the numbers say (no vacuous pass), and a claim whose control is not in the
config stays in the table as "not run"."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from featurelab.studies.superposition import train as S
from featurelab.studies.superposition.analysis import FEATURE_COLUMNS, analyze_run
from featurelab.studies.superposition.claims import evaluate
from featurelab.studies.superposition.train import METRIC_COLUMNS
from tests.helpers import assert_claims_table, default_config

CLAIMS_CFG = default_config()["superposition"]["claims"]
PARAMS = {"claims": CLAIMS_CFG, "importance_mass": 0.5}
SEEDS = range(5)
LAST_AE_EPOCH = 20
CLAIMS = [
    "classifier_accurate",
    "reconstruction_improves",
    "importance_tracks_w_norm",
    "importance_tracks_w_norm_vs_init",
    "about_two_features",
]
#: The claims that need a trained autoencoder as well as a trained classifier.
NEED_AUTOENCODER = {"importance_tracks_w_norm", "importance_tracks_w_norm_vs_init", "about_two_features"}

#: A run with every effect of the notebook: accurate classifier, MSE down 40 %, rho 0.7 at the end and
#: -0.1 before training, two features holding half the importance. Each value gets small noise per seed.
GOOD = dict(accuracy=0.965, remaining=0.6, rho=0.7, rho0=-0.1, count=2.0)


def tables(per_seed: dict[int, dict[str, float]], control: bool = True) -> dict[str, pd.DataFrame]:
    """The claims' input tables in the aggregated format from per-seed numbers: accuracy (classifier test
    accuracy at its last epoch), remaining (AE train MSE last / epoch 0), rho and rho0 (Spearman of
    importance and ||W_i|| at the last recorded epoch and at epoch 0), count (features for the mass).
    Without ``control`` epoch 0 is not among the recorded epochs."""
    training, features = [], []
    for seed, v in per_seed.items():
        training += [
            ("superposition", "classifier", seed, 0, "test", "accuracy", 0.1),
            ("superposition", "classifier", seed, 10, "test", "accuracy", v["accuracy"]),
            ("superposition", "autoencoder", seed, 0, "train", "loss", 0.3),
            ("superposition", "autoencoder", seed, LAST_AE_EPOCH, "train", "loss", 0.3 * v["remaining"]),
        ]
        recorded = [(0, v["rho0"], 20.0)] if control else []
        for epoch, rho, count in [*recorded, (LAST_AE_EPOCH, v["rho"], v["count"])]:
            features += [
                ("superposition", seed, epoch, -1, -1, "spearman_importance_w_norm", rho),
                ("superposition", seed, epoch, -1, -1, "features_for_mass", count),
            ]
    return {
        "training": pd.DataFrame(training, columns=list(METRIC_COLUMNS)),
        "features": pd.DataFrame(features, columns=list(FEATURE_COLUMNS)),
    }


def runs(seed: int = 0, counts: tuple[float, ...] = (2, 1, 2, 3, 2), **values: float) -> dict[int, dict]:
    """Five seeds around ``GOOD`` with ``values`` replaced; continuous numbers get a relative noise of
    about 1 %, the counts are ``counts`` unless ``count`` is given."""
    rng = np.random.default_rng(seed)
    out = {}
    for s in SEEDS:
        v = {**GOOD, **values}
        v = {key: x * (1 + 0.01 * rng.standard_normal()) if key != "count" else x for key, x in v.items()}
        v["accuracy"] = min(v["accuracy"], 1.0)
        v["count"] = float(values.get("count", counts[s]))
        out[s] = v
    return out


def judged(per_seed: dict[int, dict], params: dict = PARAMS, control: bool = True) -> pd.DataFrame:
    claims = evaluate(tables(per_seed, control), params)
    assert_claims_table(claims)
    return claims.set_index("claim")


def test_the_declared_claims():
    claims = judged(runs())
    assert list(claims.index) == CLAIMS
    assert (claims["kind"] == "claim").all()
    assert claims["interval"].to_dict() == {
        "classifier_accurate": "t",
        "reconstruction_improves": "log_t",
        "importance_tracks_w_norm": "t",
        "importance_tracks_w_norm_vs_init": "t",
        "about_two_features": "t",
    }
    cfg = CLAIMS_CFG
    assert claims["threshold"].to_dict() == pytest.approx(
        {
            "classifier_accurate": cfg["min_test_accuracy"],
            "reconstruction_improves": 1 - cfg["min_loss_drop"],
            "importance_tracks_w_norm": cfg["min_spearman"],
            "importance_tracks_w_norm_vs_init": cfg["min_spearman"],
            "about_two_features": cfg["notebook_dominant_features"] + cfg["dominant_features_tolerance"],
        }
    )
    assert claims.loc["classifier_accurate", "precondition"] == ""
    assert claims.loc["reconstruction_improves", "precondition"].startswith("classifier trained")
    for claim in NEED_AUTOENCODER:
        assert "autoencoder trained" in claims.loc[claim, "precondition"], claim


def test_every_claim_passes_on_a_run_with_the_notebooks_effects():
    claims = judged(runs())
    assert (claims["verdict"] == "PASS").all(), claims[["verdict", "reason"]]
    assert claims["precondition_met"].all() and (claims["n_seeds"] == 5).all()


#: Per claim, a run where the effect is refuted (every precondition still met), and the estimate it gives.
REFUTED = {
    "classifier_accurate": (dict(accuracy=0.90), 0.90),  # trained, but short of 0.93
    "reconstruction_improves": (dict(remaining=0.93), 0.93),  # MSE fell 7 %, not 15 %
    "importance_tracks_w_norm": (dict(rho=0.05, rho0=0.05), 0.05),  # no correlation after training
    "importance_tracks_w_norm_vs_init": (dict(rho=0.7, rho0=0.7), 0.0),  # as correlated before training
    "about_two_features": (dict(count=8.0), 8.0),  # half the importance spread over 8 features
}


@pytest.mark.parametrize("claim", CLAIMS)
def test_each_claim_fails_where_its_effect_is_refuted(claim):
    values, estimate = REFUTED[claim]
    claims = judged(runs(**values))
    assert claims.loc[claim, "verdict"] == "FAIL", claims.loc[claim, "reason"]
    assert claims.loc[claim, "precondition_met"]
    assert claims.loc[claim, "estimate"] == pytest.approx(estimate, abs=0.02)
    others = claims.drop(claim)
    if claim == "importance_tracks_w_norm":  # no correlation at the end is no gain over epoch 0 either
        others = others.drop("importance_tracks_w_norm_vs_init")
    assert (others["verdict"] == "PASS").all(), others[["verdict", "reason"]]


def test_a_claim_on_its_threshold_is_inconclusive_with_the_seeds_it_needs():
    # counts 2, 3, 4, 3, 3: mean 3 = the threshold; accuracies spread around 0.93
    claims = judged(runs(counts=(2, 3, 4, 3, 3), accuracy=0.93))
    for claim in ("about_two_features", "classifier_accurate"):
        assert claims.loc[claim, "verdict"] == "INCONCLUSIVE", claim
        assert claims.loc[claim, "ci_low"] < claims.loc[claim, "threshold"] < claims.loc[claim, "ci_high"]


@pytest.mark.parametrize("case", ["classifier_untrained", "autoencoder_untrained"])
def test_untrained_runs_pass_no_precondition_bearing_claim(case):
    # numbers that WOULD pass every threshold (high rho, far above epoch 0's; 0 features "carry" an all-zero
    # importance, which is <= 3) from a run whose classifier (accuracy at chance) or autoencoder (MSE
    # never fell) is untrained
    if case == "classifier_untrained":
        run = runs(accuracy=0.11, rho=0.9)
        unmet = set(CLAIMS) - {"classifier_accurate"}
    else:
        run = runs(remaining=1.0, rho=0.9, count=0.0)
        unmet = NEED_AUTOENCODER
    claims = judged(run)
    for claim in unmet:
        assert claims.loc[claim, "verdict"] == "FAIL", claim
        assert not claims.loc[claim, "precondition_met"], claim
        assert claims.loc[claim, "reason"].startswith("precondition not met"), claim
    assert (claims.drop(list(unmet))["verdict"] != "PASS").sum() == 1  # the one claim the case refutes


def test_no_positive_importance_is_no_reading_of_about_two():
    claims = judged(runs(count=0.0))  # both models trained, yet no unit carries positive importance
    row = claims.loc["about_two_features"]
    assert row["verdict"] == "FAIL" and "positive importance" in row["reason"]


def test_the_precondition_must_hold_in_min_fraction_of_seeds():
    run = runs()
    run[4]["accuracy"] = 0.11  # one seed of five untrained: 4 of 5 meet it, 0.8 x 5 = 4 needed
    claims = judged(run)
    assert claims.loc["importance_tracks_w_norm", "verdict"] == "PASS"
    assert claims.loc["importance_tracks_w_norm", "n_seeds"] == 4  # that seed is no evidence
    assert claims.loc["classifier_accurate", "verdict"] != "PASS"  # its own claim counts every seed
    run[3]["accuracy"] = 0.11  # two untrained: 3 of 5, too few
    claims = judged(run)
    assert claims.loc["importance_tracks_w_norm", "verdict"] == "FAIL"
    assert "fails in seed(s) 3, 4" in claims.loc["importance_tracks_w_norm", "reason"]


def test_the_control_not_in_the_config_leaves_its_row_not_run():
    claims = judged(runs(), control=False)
    assert list(claims.index) == CLAIMS
    row = claims.loc["importance_tracks_w_norm_vs_init"]
    assert row["verdict"] == "INCONCLUSIVE"
    assert row["reason"].startswith("not run:") and "not in the config" in row["reason"]
    assert (claims.drop("importance_tracks_w_norm_vs_init")["verdict"] == "PASS").all()


def test_one_seed_gives_no_interval():
    claims = judged({0: runs()[0]})
    assert (claims["verdict"] == "INCONCLUSIVE").all()
    assert claims["reason"].str.startswith("one seed").all()


def test_a_really_untrained_run_passes_no_precondition_bearing_claim():
    """The study's own training and analysis at a learning rate of 1e-12 (nothing is learned)."""
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 400)
    centers = rng.uniform(0, 1, (10, 784)).astype(np.float32)
    x = np.clip(centers[y] + rng.normal(0, 0.2, (len(y), 784)), 0, 1).astype(np.float32)
    data = {"x_train": x[:300], "y_train": y[:300], "x_test": x[300:], "y_test": y[300:]}

    def run(lr: float) -> pd.DataFrame:
        seeds = [0, 1]
        clf = dict(hidden_units=49, n_classes=10, learning_rate=lr, batch_size=32, epochs=2)
        ae = dict(code_dim=2, tied=False, learning_rate=lr, batch_size=32, epochs=3, record_epochs=[0, 3])
        cols, state = S.train_classifier(data, seeds, clf, "cpu")
        h = S.hidden_activations(state, data["x_train"], "cpu")
        ae_cols, snaps = S.train_autoencoder(h, h, seeds, ae, "cpu")
        training = pd.concat([pd.DataFrame(cols), pd.DataFrame(ae_cols)], ignore_index=True)
        features = pd.concat(
            [pd.DataFrame(analyze_run("superposition", s, h[k], snaps, k, 0.5)[0]) for k, s in enumerate(seeds)],
            ignore_index=True,
        )
        claims = evaluate({"training": training, "features": features}, PARAMS)
        assert_claims_table(claims)
        return claims.set_index("claim")

    untrained = run(1e-12)
    pre = untrained[untrained["precondition"] != ""]
    assert set(pre.index) == set(CLAIMS) - {"classifier_accurate"}
    assert (pre["verdict"] == "FAIL").all() and not pre["precondition_met"].any()
    trained = run(3e-2)  # the same pipeline learning: the preconditions can be met
    assert trained.loc["reconstruction_improves", "precondition_met"]
    assert trained.loc["importance_tracks_w_norm", "precondition_met"]
