"""The hierarchy study's claims: preconditions, an untrained (or input-ignoring) model passes no claim
about trained models, and verdicts that the last bits cannot change."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import perturbed, tiny


def _tiny_hierarchy() -> dict:
    return tiny()["hierarchy"]


def _study_runs(untrained: bool = False):
    """(runs, TMS features) of the tiny config's study, trained in process; ``untrained``: one step at
    learning rate 0, i.e. the init weights (what a run that never trained would hand to the claims)."""
    import pandas as pd

    from featurelab.studies.hierarchy.analysis import tms_tables
    from featurelab.studies.hierarchy.train import train_depth, train_tms

    hi = _tiny_hierarchy()
    scale = {"learning_rate": 0.0, "steps": 1} if untrained else {}
    training = {**hi["training"], **scale}
    runs = pd.concat(
        [
            pd.DataFrame(train_depth(d, s, hi["tree"], hi["model"], training, hi["evaluation"], "cpu")[0])
            for d in hi["tree"]["depths"]
            for s in hi["seeds"]
        ],
        ignore_index=True,
    )
    tms = {**hi["tms"], "training": {**hi["tms"]["training"], **scale}}
    trained = [train_tms(s, tms, "cpu") for s in hi["tms"]["seeds"]]
    features, _ = tms_tables(
        pd.concat([pd.DataFrame(w) for _, w in trained], ignore_index=True),
        pd.concat([pd.DataFrame(m) for m, _ in trained], ignore_index=True),
    )
    return runs, features


def _claims(runs, features, **claims_cfg):
    from featurelab.studies.hierarchy.analysis import summarize, width_needed
    from featurelab.studies.hierarchy.claims import evaluate_claims

    hi = _tiny_hierarchy()
    a = hi["analysis"]
    summary = summarize(runs)
    widths = width_needed(summary, a["metric"], a["statistic"], float(a["loss_threshold"]))
    return evaluate_claims(
        runs, summary, widths, features, {**hi["claims"], **claims_cfg}, hi["tree"], a, hi["tms"]
    ).set_index("claim")


#: The claims about trained models (the generator's claims do not depend on training).
TRAINED_CLAIMS = [
    "depth1_solved",
    "loss_nonincreasing_in_width",
    "width_grows_slowly",
    "tms_dense_features_represented",
    "tms_sparse_features_represented",
]


@pytest.fixture(scope="module")
def trained_runs():
    return _study_runs()


@pytest.fixture(scope="module")
def untrained_runs():
    return _study_runs(untrained=True)


def test_claims_of_trained_runs_have_their_preconditions(trained_runs):
    claims = _claims(*trained_runs)
    assert list(claims.index) == ["generator_marginals", "siblings_exclusive", "child_implies_parent", *TRAINED_CLAIMS]
    assert claims["precondition_met"].all(), claims[["precondition_met", "reason"]]
    for claim in TRAINED_CLAIMS[1:]:
        assert claims.loc[claim, "precondition"], f"{claim} has no precondition"
    assert (claims.loc[~claims["passed"], "reason"] != "").all()


def test_untrained_run_passes_no_claim_about_trained_models(untrained_runs):
    """An untrained run (init weights) makes every claim about trained models FAIL; those with a
    precondition fail on it, with the reason."""
    claims = _claims(*untrained_runs)
    assert not claims.loc[TRAINED_CLAIMS, "passed"].any(), claims.loc[TRAINED_CLAIMS, ["measured", "reason"]]
    for claim in TRAINED_CLAIMS:
        if claims.loc[claim, "precondition"]:
            assert not claims.loc[claim, "precondition_met"]
            assert claims.loc[claim, "reason"].startswith("precondition not met"), claims.loc[claim, "reason"]
    # the generator's claims do not depend on the runs
    assert claims.loc[["siblings_exclusive", "child_implies_parent"], "passed"].all()


def test_input_ignoring_model_would_pass_vacuously_without_the_precondition(untrained_runs):
    """The bias-only model (W = 0, b = E[x]): its losses equal the baseline at every width (so "loss does
    not increase with width" holds) and no TMS feature is represented (so "dense: at most n_hidden" holds).
    The precondition fails both; with the precondition switched off (fraction 10) both would pass."""
    from featurelab.studies.hierarchy.analysis import constant_output_loss, tms_constant_output_loss

    runs, features = untrained_runs
    runs = runs.copy()
    runs["value"] = [constant_output_loss(int(d), "exclusive") for d in runs["depth"]]
    features = features.copy()
    features["norm"] = 0.0
    features["final_loss"] = [
        tms_constant_output_loss(
            features[(features["seed"] == r.seed) & (features["sparsity"] == r.sparsity)].sort_values("feature")[
                "importance"
            ],
            r.sparsity,
        )
        for r in features.itertuples()
    ]
    claims = _claims(runs, features)
    vacuous = ["loss_nonincreasing_in_width", "tms_dense_features_represented"]
    assert not claims.loc[TRAINED_CLAIMS, "passed"].any()
    assert not claims.loc[vacuous, "precondition_met"].any()
    assert _claims(runs, features, trained_loss_fraction=10.0).loc[vacuous, "passed"].all()


def test_generator_claims_need_enough_samples():
    """With 20 samples the rarest node (4^-3) is expected 0.3 times: the z-test and the structural checks
    have nothing to test, and would pass vacuously; the preconditions fail them."""
    runs, features = _fake_tables()
    claims = _claims(runs, features, generator_samples=20)
    assert not claims.loc[["generator_marginals", "siblings_exclusive", "child_implies_parent"], "passed"].any()
    assert claims.loc["generator_marginals", "reason"].startswith("precondition not met")


def _fake_tables():
    """Minimal runs / TMS features (one depth-3 run of 2 widths, one TMS run per sparsity) for claim logic."""
    import pandas as pd

    runs = pd.DataFrame(
        [
            dict(
                study="hierarchy",
                condition="depth3",
                depth=3,
                seed=0,
                n_features=14,
                n_hidden=h,
                step=step,
                metric=m,
                value=v,
            )
            for h in (2, 3)
            for step, m, v in ((0, "loss_exact", 0.1), (10, "loss_exact", 1e-4), (10, "loss_fresh", 1e-4))
        ]
    )
    features = pd.DataFrame(
        [
            dict(
                seed=0,
                sparsity=s,
                feature=f,
                importance=0.7**f,
                norm=1.0,
                interference=0.0,
                bias=0.0,
                final_loss=1e-6,
                initial_loss=0.1,
            )
            for s in (0.0, 0.9)
            for f in range(8)
        ]
    )
    return runs, features


def test_verdicts_do_not_change_with_the_last_bits(trained_runs, untrained_runs):
    """Inputs perturbed at the 1e-6 relative level (and solved losses, ~1e-15, moved by up to 1e-12
    absolute, as rounding with another thread count does) leave every verdict and precondition unchanged."""
    for runs, features in (trained_runs, untrained_runs):
        base = _claims(runs, features)
        for k in range(3):
            rng = np.random.default_rng(k)
            r = perturbed(runs, ["value"], rng)
            r["value"] = r["value"] + rng.uniform(0, 1e-12, len(r))
            f = perturbed(features, ["norm", "final_loss", "initial_loss", "importance"], rng)
            again = _claims(r, f)
            pd_cols = ["passed", "precondition_met", "seeds_passing"]
            assert (again[pd_cols] == base[pd_cols]).all().all(), (base[pd_cols], again[pd_cols])
