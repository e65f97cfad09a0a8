"""The learnability study's claims, judged on runs tables whose truth is known from their construction.

A "paper world" holds every effect the notebook describes (each claim PASS); for each claim, one edit of
that world refutes it and only it (that claim FAIL, its precondition met). Five seeds, 5 % noise per seed:
pure pandas, no training (except the untrained-network tests, which share the package's fixture).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.helpers import assert_claims_table, study_claims_config

SEEDS = range(5)
BUDGET = {"run_all": 4000, "scale_shift": 8000, "simplicity": 8000, "distractors": 16000, "features": 16000}
LOSS_THRESHOLD = 0.05
CLAIMS_CONFIG = study_claims_config("learnability")

#: Every claim of the study, in table order.
CLAIM_IDS = [
    "constant_converges",
    "scale10_converges",
    "scale10_early_spike",
    "shift10_no_convergence",
    "scale0.1_no_convergence",
    "sum[spread=1]_slower",
    "sum[spread=1]_converges",
    "distractors[k=2]_slower",
    "distractors[k=2]_converges",
    "double[offset=1]_slower",
    "double[offset=1]_converges",
    "double_noisy[noise=0.2]_slower",
    "double_noisy[noise=0.2]_converges",
    "sum_distractor[noise=0.2]_slower",
    "sum_distractor[noise=0.2]_converges",
    "continuity_no_convergence",
    "scale0.01_no_convergence",
    "scale10_converges_10ep",
    "scale10_early_spike_10ep",
    "best_scale_range",
    "shift5_no_convergence",
    "shift10_no_convergence_10ep",
    "shift0_converges",
    "shift1_converges",
    "shift2_converges",
    "sum15_slower_than_sum1",
    "sum_slower_than_constant_10ep",
    "sum[spread=1]_converges_10ep",
    "sum[spread=15]_converges_10ep",
    "distractors_slow_learning",
    "two_good_both_used_x1",
    "two_good_both_used_x2",
    "bad_feature_barely_used",
    "noisy_used_less",
    "hard_better_features_learned",
    "continuity_converges_later",
]


def ss(scale: float, shift: float) -> str:
    return f"scale_shift[scale={scale:g},shift={shift:g}]"


def task(mse: float, steps: float | None = None, peak: float = 0.8, grads: tuple = ()) -> dict:
    """One task's true values: final held-out MSE, steps to the loss threshold (None: never reached, the
    step budget), epoch-1 peak running loss and the mean input gradients."""
    return {"mse": mse, "steps": steps, "peak": peak, "grads": grads}


def paper_world() -> dict[tuple[str, str], dict]:
    """Every effect of the notebook's comments, with margins that five noisy seeds cannot blur."""
    learned, stuck = 0.001, 0.6
    world = {
        ("run_all", "constant"): task(learned, 100),
        ("run_all", ss(10, 0)): task(learned, 150, peak=12.0),
        ("run_all", ss(1, 10)): task(stuck),
        ("run_all", ss(0.1, 0)): task(stuck),
        ("run_all", "sum[spread=1]"): task(learned, 300),
        ("run_all", "distractors[k=2]"): task(learned, 300),
        ("run_all", "double[offset=1]"): task(learned, 130),
        ("run_all", "double_noisy[noise=0.2]"): task(learned, 400),
        ("run_all", "sum_distractor[noise=0.2]"): task(learned, 400),
        ("run_all", "continuity"): task(stuck),
        ("simplicity", "constant"): task(learned, 100),
        ("simplicity", "sum[spread=1]"): task(learned, 300),
        ("simplicity", "sum[spread=15]"): task(learned, 1500),
        ("features", "double[offset=1]"): task(learned, 200, grads=(0.5, -0.5)),
        ("features", "distractors[k=2]"): task(learned, 200, grads=(1.0, 0.002)),
        ("features", "double_noisy[noise=0.2]"): task(learned, 200, grads=(0.02, 0.98)),
        ("features", "sum_distractor[noise=0.2]"): task(learned, 400, grads=(0.01, 1.0, 1.0)),
        ("features", "continuity"): task(learned, 3000),
    }
    for scale in (0.01, 0.1, 0.5, 1, 5, 10):
        fast = 0.5 <= scale <= 5
        world[("scale_shift", ss(scale, 0))] = task(learned if scale > 0.01 else stuck, 100 if fast else 300)
    world[("scale_shift", ss(0.01, 0))] = task(stuck)
    world[("scale_shift", ss(10, 0))] = task(learned, 300, peak=12.0)
    for shift in (1, 2):
        world[("scale_shift", ss(1, shift))] = task(learned, 150)
    for shift in (5, 10):
        world[("scale_shift", ss(1, shift))] = task(stuck)
    for k in (1, 2, 10, 100):
        world[("distractors", f"distractors[k={k}]")] = task(learned, 100 * k**0.5)
    return world


def runs_table(world: dict[tuple[str, str], dict], noise: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """The analyze rule's runs table (final rows only) of ``world``: each value times exp(noise * N(0, 1))
    per seed; steps rounded, and the step budget where the task never reaches the loss threshold."""
    rng = np.random.default_rng(seed)
    rows = []

    def add(family, condition, s, metric, value, inp=-1):
        rows.append(
            dict(study="learnability", family=family, condition=condition, generator=condition.split("[")[0],
                 params="{}", seed=s, step=-1, input=inp, input_name="" if inp < 0 else f"x{inp}", metric=metric,
                 value=float(value))
        )  # fmt: skip

    def noisy(value: float) -> float:
        return value * float(np.exp(noise * rng.standard_normal()))

    for (family, condition), t in world.items():
        for s in SEEDS:
            never = t["steps"] is None
            add(family, condition, s, "final_eval_mse", noisy(t["mse"]))
            add(family, condition, s, "steps_to_threshold", BUDGET[family] if never else round(noisy(t["steps"])))
            add(family, condition, s, "threshold_reached", 0.0 if never else 1.0)
            add(family, condition, s, "peak_running_loss_epoch1", noisy(t["peak"]))
            for i, g in enumerate(t["grads"]):
                add(family, condition, s, "attribution_mean", noisy(g), inp=i)
    return pd.DataFrame(rows)


def judged(runs: pd.DataFrame, **changes) -> pd.DataFrame:
    """The claims table of ``runs`` (indexed by claim), checked for consistency."""
    from featurelab.studies.learnability.claims import evaluate

    params = {"claims": {**CLAIMS_CONFIG, **changes}, "loss_threshold": LOSS_THRESHOLD}
    claims = evaluate({"runs": runs}, params)
    assert_claims_table(claims)
    return claims.set_index("claim")


def judged_one(runs: pd.DataFrame, claim: str) -> pd.Series:
    """One claim's row, judged alone (the table's other claims are not computed: fast)."""
    from featurelab.claims import judge_claims
    from featurelab.studies.learnability.claims import claims, final_values

    declared = [c for c in claims(CLAIMS_CONFIG, LOSS_THRESHOLD) if c.claim == claim]
    tables = {"runs": runs, "finals": final_values(runs)}
    table = judge_claims(declared, tables, sorted(runs["seed"].unique()), CLAIMS_CONFIG["min_fraction_of_seeds"])
    assert_claims_table(table)
    return table.set_index("claim").loc[claim]


def edited(**tasks: dict) -> dict:
    """The paper world with some tasks' values replaced: ``{"family|condition": {"mse": ...}}``."""
    world = paper_world()
    for key, change in tasks.items():
        family, condition = key.split("|")
        world[(family, condition)] = {**world[(family, condition)], **change}
    return world


#: Per claim, the edit of the paper world that refutes it (and keeps its precondition).
REFUTED = {
    "constant_converges": {"run_all|constant": {"mse": 0.3}},
    "scale10_converges": {"run_all|" + ss(10, 0): {"mse": 0.3}},
    "scale10_early_spike": {"run_all|" + ss(10, 0): {"peak": 0.3}},
    "shift10_no_convergence": {"run_all|" + ss(1, 10): {"mse": 0.001}},
    "scale0.1_no_convergence": {"run_all|" + ss(0.1, 0): {"mse": 0.001}},
    "continuity_no_convergence": {"run_all|continuity": {"mse": 0.001}},
    "scale0.01_no_convergence": {"scale_shift|" + ss(0.01, 0): {"mse": 0.001}},
    "scale10_converges_10ep": {"scale_shift|" + ss(10, 0): {"mse": 0.03}},
    "scale10_early_spike_10ep": {"scale_shift|" + ss(10, 0): {"peak": 0.3}},
    "best_scale_range": {"scale_shift|" + ss(10, 0): {"steps": 50}},
    "shift5_no_convergence": {"scale_shift|" + ss(1, 5): {"mse": 0.001}},
    "shift10_no_convergence_10ep": {"scale_shift|" + ss(1, 10): {"mse": 0.001}},
    "shift0_converges": {"scale_shift|" + ss(1, 0): {"mse": 0.3}},
    "shift1_converges": {"scale_shift|" + ss(1, 1): {"mse": 0.3}},
    "shift2_converges": {"scale_shift|" + ss(1, 2): {"mse": 0.3}},
    "sum15_slower_than_sum1": {"simplicity|sum[spread=15]": {"steps": 200}},
    "sum_slower_than_constant_10ep": {"simplicity|sum[spread=1]": {"steps": 60}},
    "sum[spread=1]_converges_10ep": {"simplicity|sum[spread=1]": {"mse": 0.3}},
    "sum[spread=15]_converges_10ep": {"simplicity|sum[spread=15]": {"mse": 0.3}},
    "distractors_slow_learning": {f"distractors|distractors[k={k}]": {"steps": 1000 / k**0.5} for k in (1, 2, 10, 100)},
    "two_good_both_used_x1": {"features|double[offset=1]": {"grads": (0.001, -1.0)}},
    "two_good_both_used_x2": {"features|double[offset=1]": {"grads": (1.0, -0.001)}},
    "bad_feature_barely_used": {"features|distractors[k=2]": {"grads": (0.5, 0.5)}},
    "noisy_used_less": {"features|double_noisy[noise=0.2]": {"grads": (0.98, 0.02)}},
    "hard_better_features_learned": {"features|sum_distractor[noise=0.2]": {"grads": (0.5, 0.5, 0.5)}},
    "continuity_converges_later": {"features|continuity": {"mse": 0.3}},
}
for _task in ("sum[spread=1]", "distractors[k=2]", "double[offset=1]", "double_noisy[noise=0.2]",
              "sum_distractor[noise=0.2]"):  # fmt: skip
    REFUTED[f"{_task}_slower"] = {f"run_all|{_task}": {"steps": 60}}  # faster than constant's 100
    REFUTED[f"{_task}_converges"] = {f"run_all|{_task}": {"mse": 0.3}}


def test_the_table_lists_every_claim_once():
    claims = judged(runs_table(paper_world()))
    assert list(claims.index) == CLAIM_IDS
    assert set(REFUTED) == set(CLAIM_IDS)
    assert (claims["kind"] == "claim").all()
    assert set(claims["interval"]) == {"t", "log_t"}


def test_every_claim_passes_where_its_effect_is_there():
    """The paper world: every claim PASS, every precondition met, all five seeds counted."""
    claims = judged(runs_table(paper_world()))
    failed = claims[claims["verdict"] != "PASS"]
    assert failed.empty, failed[["verdict", "estimate", "ci_low", "ci_high", "reason"]].to_string()
    assert claims["precondition_met"].all() and (claims["n_seeds"] == 5).all()


@pytest.mark.parametrize("claim", CLAIM_IDS)
def test_each_claim_fails_where_it_is_refuted(claim):
    """The paper world with one task changed so that the claim's effect is reversed: FAIL on the
    evidence (its precondition met), not on a precondition."""
    row = judged_one(runs_table(edited(**REFUTED[claim])), claim)
    assert row["verdict"] == "FAIL", row.to_dict()
    assert row["precondition_met"], row["reason"]


def test_noisy_input_used_less_reads_clean_minus_noisy():
    """double_noisy's input 0 is the noisy y + n/5 and input 1 the clean y: the statistic is |clean| -
    |noisy|, about +0.96 in the paper world and -0.96 when the two are swapped."""
    ok = judged_one(runs_table(paper_world()), "noisy_used_less")
    swapped = judged_one(runs_table(edited(**REFUTED["noisy_used_less"])), "noisy_used_less")
    assert ok["estimate"] == pytest.approx(0.96, abs=0.05) and ok["ci_low"] > 0
    assert swapped["estimate"] == pytest.approx(-0.96, abs=0.05) and swapped["ci_high"] < 0


def test_distractor_trend_is_a_positive_rank_correlation():
    """Steps growing with k give rho = +1 in every seed (PASS); shrinking, rho = -1 (FAIL)."""
    ok = judged_one(runs_table(paper_world()), "distractors_slow_learning")
    assert ok["estimate"] == pytest.approx(1.0) and ok["verdict"] == "PASS"
    reversed_ = judged_one(runs_table(edited(**REFUTED["distractors_slow_learning"])), "distractors_slow_learning")
    assert reversed_["estimate"] == pytest.approx(-1.0) and reversed_["verdict"] == "FAIL"


def test_a_task_that_never_learns_counts_as_the_step_budget():
    """Censoring: a task that never reaches the loss threshold keeps its seeds, at the step budget (a
    lower bound on its steps): double-noisy at 4000 steps against constant's 100 is 40x slower."""
    claims = judged(runs_table(edited(**{"run_all|double_noisy[noise=0.2]": {"steps": None}})))
    row = claims.loc["double_noisy[noise=0.2]_slower"]
    assert row["n_seeds"] == 5 and row["verdict"] == "PASS"
    assert row["estimate"] == pytest.approx(40, rel=0.1)
    # the trend over k: the slowest k never gets there and still ranks slowest
    never = judged(runs_table(edited(**{"distractors|distractors[k=100]": {"steps": None}})))
    assert never.loc["distractors_slow_learning", "estimate"] == pytest.approx(1.0)


def test_a_reference_that_never_learns_is_no_evidence():
    """When constant never reaches the loss threshold its count is the budget, not a measurement: every
    'slower than constant' claim FAILs on its precondition, with the reason."""
    claims = judged(runs_table(edited(**{"run_all|constant": {"steps": None}})))
    for task in ("sum[spread=1]", "double[offset=1]", "double_noisy[noise=0.2]"):
        row = claims.loc[f"{task}_slower"]
        assert row["verdict"] == "FAIL" and not row["precondition_met"]
        assert row["reason"].startswith("precondition not met: the reference task constant")


def test_convergence_band_is_neither():
    """A final MSE of 0.0125 (between 'converges' at 0.01 and 'does not converge' at 0.1) fails both."""
    claims = judged(
        runs_table(edited(**{"run_all|" + ss(0.1, 0): {"mse": 0.0125}, "run_all|sum[spread=1]": {"mse": 0.04}}))
    )
    assert claims.loc["scale0.1_no_convergence", "verdict"] == "FAIL"
    assert claims.loc["sum[spread=1]_converges", "verdict"] == "FAIL"


def test_untrained_control_makes_no_convergence_fail_on_its_precondition():
    """x = y + 10 'does not converge' holds vacuously when nothing trains: with the control task constant
    not converged, the row is FAIL with the reason although its MSE is far above 0.1."""
    claims = judged(runs_table(edited(**{"run_all|constant": {"mse": 0.9}})))
    row = claims.loc["shift10_no_convergence"]
    assert row["verdict"] == "FAIL" and not row["precondition_met"] and row["ci_low"] > 0.1
    assert row["reason"].startswith("precondition not met: control task constant converged")


def untrained_world() -> dict[tuple[str, str], dict]:
    """An untrained network: every loss stays high, no task reaches the loss threshold, epoch-1 losses
    above var y, gradients are the random weights' (small on every input)."""
    world = paper_world()
    for key, t in world.items():
        world[key] = task(0.9, None, peak=1.5, grads=tuple(0.01 for _ in t["grads"]))
    return world


def test_untrained_synthetic_run_passes_no_claim():
    """With nothing learned, no claim PASSes: the vacuous ones ('does not converge', 'barely used',
    'a big spike') FAIL on their precondition, with the reason."""
    claims = judged(runs_table(untrained_world()))
    assert not (claims["verdict"] == "PASS").any(), claims[claims["verdict"] == "PASS"].index.tolist()
    with_pre = claims[claims["precondition"] != ""]
    assert not with_pre["precondition_met"].any()
    assert with_pre["reason"].str.startswith("precondition not met").all()
    vacuous = {
        "shift10_no_convergence",
        "bad_feature_barely_used",
        "hard_better_features_learned",
        "scale10_early_spike",
    }
    assert vacuous <= set(with_pre.index)


def test_claims_not_in_the_config_stay_as_not_run():
    """Without the continuity task and the distractors family the table keeps every row: those claims
    are INCONCLUSIVE, 'not run: ... not in the config'."""
    runs = runs_table(paper_world())
    runs = runs[(runs["condition"] != "continuity") & (runs["family"] != "distractors")]
    claims = judged(runs)
    assert list(claims.index) == CLAIM_IDS
    missing = ["continuity_no_convergence", "continuity_converges_later", "distractors_slow_learning"]
    for claim in missing:
        assert claims.loc[claim, "verdict"] == "INCONCLUSIVE"
        assert claims.loc[claim, "reason"].startswith("not run:") and "not in the config" in claims.loc[claim, "reason"]
    assert (claims.drop(index=missing)["verdict"] == "PASS").all()


def test_too_few_grid_points_stay_as_not_run():
    """Two distractor counts cannot show a trend, and a scale grid without a scale outside [0.5, 5]
    cannot show which is best: both rows stay, not run."""
    runs = runs_table(paper_world())
    few = runs[~runs["condition"].isin(["distractors[k=10]", "distractors[k=100]"])]
    assert judged(few).loc["distractors_slow_learning", "reason"].startswith("not run:")
    inside = runs[~((runs["family"] == "scale_shift") & runs["condition"].isin([ss(s, 0) for s in (0.01, 0.1, 10)]))]
    assert judged(inside).loc["best_scale_range", "reason"].startswith("not run:")


def test_untrained_run_passes_no_claim(untrained_runs):
    """An untrained network (learning rate 0, trained in process) makes no claim PASS: the ones it would
    pass vacuously FAIL on their precondition."""
    claims = judged(untrained_runs)
    assert len(claims) == len(CLAIM_IDS) and claims.index.is_unique
    assert not (claims["verdict"] == "PASS").any(), claims[claims["verdict"] == "PASS"].index.tolist()
    with_pre = claims[claims["precondition"] != ""]
    assert not with_pre["precondition_met"].any()
    assert with_pre["reason"].str.startswith("precondition not met").all()


def test_trained_run_meets_preconditions(trained_runs):
    """The preconditions do not fail everything: a (briefly) trained run meets them and passes claims."""
    claims = judged(trained_runs)
    assert claims["precondition_met"].sum() >= 10
    assert (claims["verdict"] == "PASS").sum() >= 5
