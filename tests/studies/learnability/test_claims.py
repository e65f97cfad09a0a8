"""The learnability study's claims: measured and judged on made-up runs, an untrained run passes none (the
vacuous ones fail on their precondition), a briefly trained one passes some, and verdicts that the last
bits cannot change."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.helpers import perturbed, study_claims_config


def claims_cfg(**changes) -> dict:
    return study_claims_config("learnability", **changes)


def _row(family, condition, seed, metric, value, step=-1, inp=-1, name="") -> dict:
    """One row of a learnability runs table."""
    generator = condition.split("[")[0]
    return dict(study="learnability", family=family, condition=condition, generator=generator, params="{}",
                seed=seed, step=step, input=inp, input_name=name, metric=metric, value=value)  # fmt: skip


def _fake_runs() -> pd.DataFrame:
    rows = []

    def add(family, condition, seed, metric, value, step=-1, inp=-1, name=""):
        rows.append(_row(family, condition, seed, metric, value, step, inp, name))

    for seed in range(5):
        add("run_all", "constant", seed, "final_eval_mse", 0.001)
        add("run_all", "constant", seed, "steps_to_threshold", 100)
        add("run_all", "constant", seed, "threshold_reached", 1)
        add("run_all", "constant", seed, "peak_running_loss_epoch1", 0.8)
        add("run_all", "sum[spread=1]", seed, "final_eval_mse", 0.5 if seed == 0 else 0.002)
        add("run_all", "sum[spread=1]", seed, "steps_to_threshold", 300)
        add("run_all", "sum[spread=1]", seed, "threshold_reached", 1)
        add("run_all", "sum[spread=1]", seed, "peak_running_loss_epoch1", 1.1)
        add("features", "distractors[k=2]", seed, "final_eval_mse", 0.001)
        add("features", "distractors[k=2]", seed, "attribution_mean", 1.0, inp=0, name="y")
        add("features", "distractors[k=2]", seed, "attribution_mean", 0.2 if seed < 2 else 0.01, inp=1, name="n1")
    return pd.DataFrame(rows)


def test_claims_measure_and_judge():
    from featurelab.claims import CLAIM_COLUMNS
    from featurelab.studies.learnability.claims import evaluate_claims

    claims = evaluate_claims(_fake_runs(), claims_cfg(), 0.05).set_index("claim")
    assert list(claims.reset_index().columns) == list(CLAIM_COLUMNS)
    assert claims.loc["constant_converges", "passed"] and claims.loc["constant_converges", "seeds_passing"] == 5
    assert claims.loc["sum[spread=1]_slower", "measured"] == pytest.approx(3.0)
    assert (
        claims.loc["sum[spread=1]_converges", "seeds_passing"] == 4 and claims.loc["sum[spread=1]_converges", "passed"]
    )
    bad = claims.loc["bad_feature_barely_used"]
    assert bad["seeds_passing"] == 3 and not bad["passed"]  # 3 of 5 < ceil(0.8 * 5)
    assert bad["precondition_met"] and "3 of 5 seeds pass" in bad["reason"]
    assert "continuity_no_convergence" not in claims.index  # task not configured: no row


def _runs(values: dict[tuple[str, str, str], list[float]], attributions: dict | None = None) -> pd.DataFrame:
    """A runs table from ``{(family, condition, metric): per-seed values}`` (and attribution
    ``{(family, condition, input): per-seed values}``)."""
    cells = [(family, condition, metric, -1, "", per_seed) for (family, condition, metric), per_seed in values.items()]
    cells += [
        (family, condition, "attribution_mean", inp, f"x{inp}", per_seed)
        for (family, condition, inp), per_seed in (attributions or {}).items()
    ]
    rows = [
        _row(family, condition, seed, metric, float(v), inp=inp, name=name)
        for family, condition, metric, inp, name, per_seed in cells
        for seed, v in enumerate(per_seed)
    ]
    return pd.DataFrame(rows)


def five(value: float) -> list[float]:
    """The same value for five seeds."""
    return [value] * 5


def converged(condition: str, mse: float, steps: int, family: str = "run_all") -> dict:
    """A task's final MSE and its steps to the loss threshold, reached, on five seeds (the rows of
    :func:`_runs`)."""
    return {
        (family, condition, "final_eval_mse"): five(mse),
        (family, condition, "steps_to_threshold"): five(steps),
        (family, condition, "threshold_reached"): five(1),
    }


def test_convergence_band_and_slower_factor():
    """'Does not converge' is far from 'converges': a task at 0.0125 is neither; 'slower' needs the stated
    factor (1.19x is not slower, exactly 1.5x is), and both need the reference/control to have trained."""
    from featurelab.studies.learnability.claims import evaluate_claims

    ra = "run_all"
    runs = _runs(
        {
            **converged("constant", 0.004, 400),
            (ra, "scale_shift[scale=0.1,shift=0]", "final_eval_mse"): five(0.0125),
            (ra, "scale_shift[scale=1,shift=10]", "final_eval_mse"): five(0.83),
            (ra, "continuity", "final_eval_mse"): five(0.068),
            **converged("sum[spread=1]", 0.0125, 600),
            **converged("double[offset=1]", 0.003, 476),
        }
    )
    c = evaluate_claims(runs, claims_cfg(), 0.05).set_index("claim")
    assert not c.loc["scale0.1_no_convergence", "passed"] and not c.loc["sum[spread=1]_converges", "passed"]
    assert c.loc["shift10_no_convergence", "passed"] and c.loc["shift10_no_convergence", "precondition_met"]
    assert not c.loc["continuity_no_convergence", "passed"]  # 0.068: in the band, neither
    assert c.loc["sum[spread=1]_slower", "passed"]  # 600 / 400 = 1.5 exactly: at least 1.5x
    assert not c.loc["double[offset=1]_slower", "passed"]  # 1.19x is not 'slower'
    # the control did not converge: 'x = y + 10 does not converge' says nothing, FAIL with the reason
    untrained = runs.copy()
    untrained.loc[(untrained["condition"] == "constant") & (untrained["metric"] == "final_eval_mse"), "value"] = 0.9
    untrained.loc[(untrained["condition"] == "constant") & (untrained["metric"] == "threshold_reached"), "value"] = 0
    u = evaluate_claims(untrained, claims_cfg(), 0.05).set_index("claim")
    assert not u.loc["shift10_no_convergence", "passed"] and not u.loc["shift10_no_convergence", "precondition_met"]
    assert u.loc["shift10_no_convergence", "reason"].startswith("precondition not met: control task constant")
    assert not u.loc["sum[spread=1]_slower", "passed"] and not u.loc["sum[spread=1]_slower", "precondition_met"]


def test_untrained_run_passes_no_claim(untrained_runs):
    """An untrained network (learning rate 0) makes no claim PASS: the ones it would pass vacuously
    ('x = y + 10 does not converge', 'the bad input is barely used', 'a big spike') fail on their
    precondition, with the reason."""
    from featurelab.studies.learnability.claims import evaluate_claims

    claims = evaluate_claims(untrained_runs, claims_cfg(), 0.05).set_index("claim")
    assert len(claims) == 36 and claims.index.is_unique
    assert not claims["passed"].any(), claims[claims["passed"]].index.tolist()
    with_pre = claims[claims["precondition"] != ""]
    assert not with_pre["precondition_met"].any()
    assert with_pre["reason"].str.startswith("precondition not met").all()
    # without its precondition this one would pass: the untrained net's x = y + 10 is far from converged
    assert claims.loc["shift10_no_convergence", "measured"] > 0.1
    vacuous = {
        "shift10_no_convergence",
        "shift10_no_convergence_10ep",
        "scale0.1_no_convergence",
        "continuity_no_convergence",
        "scale0.01_no_convergence",
        "shift5_no_convergence",
        "scale10_early_spike",
        "scale10_early_spike_10ep",
        "bad_feature_barely_used",
        "hard_better_features_learned",
        "two_good_both_used_x1",
        "two_good_both_used_x2",
        "noisy_used_less",
        "best_scale_range",
        "distractors_slow_learning",
    }
    assert vacuous <= set(with_pre.index)
    assert all("slower" not in c or c in with_pre.index for c in claims.index)


VERDICT = ["passed", "precondition_met", "seeds_passing"]


@pytest.mark.parametrize("which", ["trained", "untrained"])
def test_verdicts_do_not_flip_with_last_bits(which, request):
    """Every value of the claims' inputs moved by 1e-6 of itself (random signs, 5 draws): no verdict, no
    precondition and no seed count changes."""
    from featurelab.studies.learnability.claims import evaluate_claims

    runs = request.getfixturevalue(f"{which}_runs")
    ref = evaluate_claims(runs, claims_cfg(), 0.05)
    for draw in range(5):
        got = evaluate_claims(perturbed(runs, ["value"], np.random.default_rng(draw), 1e-6), claims_cfg(), 0.05)
        pd.testing.assert_frame_equal(got[VERDICT], ref[VERDICT])


def test_verdicts_at_the_thresholds_do_not_flip():
    """Values that sit on a threshold (within float rounding: an MSE of 0.01 * (1 +- 1e-6), an exact 1.5x
    step ratio, a gradient of exactly the 'unused' limit) get the same verdict on either side."""
    from featurelab.studies.learnability.claims import evaluate_claims

    ra, feat = "run_all", "features"
    runs = _runs(
        {
            **converged("constant", 0.01 * (1 - 1e-6), 400),
            (ra, "scale_shift[scale=1,shift=10]", "final_eval_mse"): five(0.1 * (1 + 1e-6)),
            **converged("sum[spread=1]", 0.001, 600),
            (feat, "distractors[k=2]", "final_eval_mse"): five(0.001),
        },
        {(feat, "distractors[k=2]", 0): five(1.0), (feat, "distractors[k=2]", 1): five(0.05)},
    )
    ref = evaluate_claims(runs, claims_cfg(), 0.05)
    for rel in (1e-6, 1e-7, 1e-9):
        for draw in range(4):
            got = evaluate_claims(perturbed(runs, ["value"], np.random.default_rng(draw), rel), claims_cfg(), 0.05)
            pd.testing.assert_frame_equal(got[VERDICT], ref[VERDICT])
    ref = ref.set_index("claim")
    assert not ref.loc["constant_converges", "passed"]  # on the threshold: too close to call
    assert ref.loc["sum[spread=1]_slower", "passed"]  # integer steps: an exact 1.5x is 1.5x


def test_trained_run_passes_some_claims(trained_runs):
    """The precondition machinery does not fail everything: a (briefly) trained run passes claims."""
    from featurelab.studies.learnability.claims import evaluate_claims

    claims = evaluate_claims(trained_runs, claims_cfg(), 0.05).set_index("claim")
    assert claims.loc["constant_converges", "passed"]
    assert claims.loc["shift10_no_convergence", "passed"] and claims.loc["shift10_no_convergence", "precondition_met"]
    assert claims["precondition_met"].sum() >= 10 and claims["passed"].sum() >= 5
