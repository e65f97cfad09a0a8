"""The hierarchy study's claims on synthetic tables whose truth is known from their construction: every
claim PASSes where the effect is built in and FAILs where it is refuted, an untrained (or input-ignoring)
model passes no claim about trained models, a condition missing from the config leaves its row
INCONCLUSIVE, and the last bits of the inputs change no verdict. Pure pandas, no training."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from featurelab.studies.hierarchy import claims as hc
from featurelab.studies.hierarchy.analysis import constant_output_loss, tms_constant_output_loss
from featurelab.studies.hierarchy.data import n_features
from tests.helpers import assert_claims_table, perturbed, study_section

SEEDS = (0, 1, 2, 3, 4)
DEPTHS = (1, 2, 3, 4)
#: Width needed per depth where the effect is there: 2, 3, 4, 5 dimensions for 2, 6, 14, 30 features (a
#: least-squares log-log slope of 0.34; the axes swapped give 2.9).
SLOW_WIDTHS = {1: 2, 2: 3, 3: 4, 4: 5}
N_HIDDEN, NORM = 5, 0.5
TMS_FEATURES = 20
GENERATOR_SAMPLES = 4_000  # the rarest node of depth 4 (4^-4) expected ~16 times: the z-test has power
TRAINED_CLAIMS = [
    "depth1_solved",
    "loss_nonincreasing_in_width",
    "width_grows_slowly",
    "tms_dense_features_represented",
    "tms_sparse_features_represented",
]
GENERATOR_CLAIMS = ["generator_marginals", "siblings_exclusive", "child_implies_parent"]


#: The default config's section of the study.
SECTION = study_section("hierarchy")


def params(**claims_cfg) -> dict:
    """What the claims rule passes: the default config's sections (the TMS sweep's two keys), with the
    synthetic tables' depths."""
    claims = {**SECTION["claims"], "generator_samples": GENERATOR_SAMPLES, **claims_cfg}
    tms = {"n_hidden": N_HIDDEN, "represented_norm": NORM}
    tree = {**SECTION["tree"], "depths": list(DEPTHS)}
    return {"claims": claims, "tree": tree, "analysis": SECTION["analysis"], "tms": tms}


def unsolved_loss(depth: int, width: int, needed: int) -> float:
    """A stuck model's loss: above the 1e-5 threshold, falling with width, well under the baseline."""
    return min(5e-5 * (needed - width + 1), 0.1 * constant_output_loss(depth, "exclusive"))


def tree_runs(
    needed: Callable[[int, int], int] = lambda depth, seed: SLOW_WIDTHS[depth],
    loss: Callable[[int, int, int], float] | None = None,
    initial: Callable[[int], float] = lambda depth: 2 * constant_output_loss(depth, "exclusive"),
    depths: tuple[int, ...] = DEPTHS,
    widths: Callable[[int], list[int]] | None = None,
    noise: float = 0.01,
) -> pd.DataFrame:
    """The runs table: per (depth, seed, n_hidden) a step-0 expected loss (``initial``) and final losses.
    By default seed s solves depth d (loss ~1e-15, float rounding) from width ``needed(d, s)`` on and is
    stuck below it (:func:`unsolved_loss`); ``loss(depth, width, seed)`` overrides the final loss. Widths
    tested: 2 ... one past the largest width needed at that depth."""
    rng = np.random.default_rng(0)
    rows = []
    for depth in depths:
        tested = widths(depth) if widths else range(2, max(needed(depth, s) for s in SEEDS) + 2)
        for seed in SEEDS:
            for h in tested:
                w = needed(depth, seed)
                value = 1e-15 if h >= w else unsolved_loss(depth, h, w)
                value = loss(depth, h, seed) if loss else value
                final = value * (1 + noise * rng.standard_normal())
                base = dict(study="hierarchy", condition=f"depth{depth}", depth=depth, seed=seed)
                base.update(n_features=n_features(depth), n_hidden=h)
                rows.append({**base, "step": 0, "metric": "loss_exact", "value": initial(depth)})
                rows.append({**base, "step": 100, "metric": "loss_exact", "value": final})
                rows.append({**base, "step": 100, "metric": "loss_fresh", "value": final})
    return pd.DataFrame(rows)


def tms_features(
    represented: dict[float, int] | None = None, trained: bool = True, sparsities=(0.0, 0.9, 0.999)
) -> pd.DataFrame:
    """The TMS features table: per (seed, sparsity) the ``represented[sparsity]`` most important features
    at norm ~1, the rest at ~0.05; final loss 5 % (trained) or 100 % (not) of the input-ignoring loss."""
    represented = represented or {0.0: N_HIDDEN, 0.9: 9, 0.999: 13}
    rng = np.random.default_rng(1)
    importance = 0.7 ** np.arange(TMS_FEATURES)
    rows = []
    for seed in SEEDS:
        for s in sparsities:
            baseline = tms_constant_output_loss(importance, s)
            final = baseline * (0.05 if trained else 1.0) * (1 + 0.01 * rng.standard_normal())
            for f in range(TMS_FEATURES):
                norm = (1.0 if f < represented[s] else 0.05) * (1 + 0.01 * rng.standard_normal())
                rows.append(
                    dict(seed=seed, sparsity=s, feature=f, importance=importance[f], norm=norm, interference=0.0)
                    | dict(bias=0.0, final_loss=final, initial_loss=2 * baseline)
                )
    return pd.DataFrame(rows)


def judged(runs: pd.DataFrame | None = None, features: pd.DataFrame | None = None, **claims_cfg) -> pd.DataFrame:
    """The claims table of ``evaluate`` (indexed by claim) on the given tables, the paper's case by default."""
    tables = {
        "runs": tree_runs() if runs is None else runs,
        "tms_features": tms_features() if features is None else features,
    }
    table = hc.evaluate(tables, params(**claims_cfg))
    assert_claims_table(table)
    return table.set_index("claim")


def verdict(table: pd.DataFrame, claim: str) -> str:
    return table.loc[claim, "verdict"]


@pytest.fixture(scope="module")
def paper() -> pd.DataFrame:
    return judged()


# ------------------------------------------------------------------------------------------------ the table


def test_every_claim_passes_where_the_effect_is_built_in(paper):
    assert list(paper.index) == [*GENERATOR_CLAIMS, *TRAINED_CLAIMS]
    assert (paper["verdict"] == "PASS").all(), paper[["verdict", "estimate", "ci_low", "ci_high", "reason"]]
    assert (paper.loc[GENERATOR_CLAIMS, "kind"] == "check").all()
    assert (paper.loc[TRAINED_CLAIMS, "kind"] == "claim").all()
    assert (paper.loc[GENERATOR_CLAIMS, "interval"] == "exact").all()
    assert paper["n_seeds"].eq(len(SEEDS)).all()
    for claim in ["loss_nonincreasing_in_width", "width_grows_slowly", *TRAINED_CLAIMS[3:]]:
        assert paper.loc[claim, "precondition"], f"{claim} has no precondition"


# ------------------------------------------------------------------------------------------- the generator


def _broken(kind: str):
    """A sampler with one known bug: two siblings on together, a child on without its parent, or the
    other sampling mode's law (2^-l instead of 4^-l)."""
    good = hc.sample_tree

    def sampler(n, depth, mode, rng):
        if kind == "law":
            return good(n, depth, "one_child" if mode == "exclusive" else "exclusive", rng)
        x = good(n, depth, mode, rng)
        if kind == "siblings":
            x[:20, 0] = x[:20, 1] = 1.0  # the two level-1 features
        else:  # the last leaf on in 3 samples where its parent (feature (n_features - 1) // 2 - 1) is off
            parent = (x.shape[1] - 1) // 2 - 1
            x[np.flatnonzero(x[:, parent] == 0)[:3], -1] = 1.0
        return x

    return sampler


@pytest.mark.parametrize(
    "bug, fails",
    [("siblings", "siblings_exclusive"), ("orphans", "child_implies_parent"), ("law", "generator_marginals")],
)
def test_generator_checks_fail_on_a_broken_sampler(monkeypatch, paper, bug, fails):
    """The real sampler passes all three checks (the paper fixture); a sampler with one bug fails the
    check of that bug, and only of that bug."""
    monkeypatch.setattr(hc, "sample_tree", _broken(bug))
    table = judged()
    assert verdict(table, fails) == "FAIL", table.loc[fails]
    others = [c for c in GENERATOR_CLAIMS if c != fails]
    assert (table.loc[others, "verdict"] == "PASS").all(), table.loc[others]
    assert table.loc[fails, "precondition_met"]


def test_generator_checks_need_enough_samples():
    """With 20 samples the rarest node (4^-4) is expected 0.08 times: the z-test and the structural
    checks have nothing to test and would pass vacuously; their preconditions FAIL them."""
    table = judged(generator_samples=20)
    assert (table.loc[GENERATOR_CLAIMS, "verdict"] == "FAIL").all()
    assert not table.loc[GENERATOR_CLAIMS, "precondition_met"].any()
    assert table.loc["generator_marginals", "reason"].startswith("precondition not met")


# ------------------------------------------------------------------------------------------ the tree runs


def test_depth1_fails_when_no_seed_solves_it():
    stuck = tree_runs(loss=lambda depth, h, seed: 2e-3 if depth == 1 else (1e-15 if h >= SLOW_WIDTHS[depth] else 1e-3))
    table = judged(stuck)
    assert verdict(table, "depth1_solved") == "FAIL"
    assert table.loc["depth1_solved", "ci_low"] > 1e-5


def test_depth1_at_the_float_floor_passes(paper):
    """Solved losses (~1e-15) sit at the floor 1e-12: the bound is far below the 1e-5 threshold."""
    assert paper.loc["depth1_solved", "ci_high"] == pytest.approx(hc.LOSS_FLOOR)


def test_loss_that_rises_with_width_fails():
    """At depth 4 every seed's loss doubles from width 4 to 5 (stuck at both): the curve of the minimum
    over seeds rises by ~100 % there, in every leave-one-seed-out curve too: refuted."""

    def rising(depth, h, seed):
        needed = SLOW_WIDTHS[depth] + (depth == 4)
        value = 1e-15 if h >= needed else unsolved_loss(depth, h, needed)
        return 2 * unsolved_loss(depth, 4, needed) if (depth, h) == (4, 5) else value

    table = judged(tree_runs(loss=rising))
    row = table.loc["loss_nonincreasing_in_width"]
    assert row["verdict"] == "FAIL", row
    assert row["ci_low"] > 0.05 and row["estimate"] == pytest.approx(1.0, abs=0.1)


def test_monotone_loss_passes_with_rounding_among_solved_widths(paper):
    """The paper case's solved widths scatter at ~1e-15 (rises of ~1e-9 relative to the 1e-6 floor)."""
    row = paper.loc["loss_nonincreasing_in_width"]
    assert row["interval"] == "jackknife" and row["ci_high"] < 1e-6


def test_width_slope_is_log_width_against_log_features(paper):
    """Widths 2, 3, 4, 5 for 2, 6, 14, 30 features: slope 0.34 (<= 0.5, PASS); the axes swapped would read
    2.9 and FAIL. The expected slope is computed here from the construction, not by the claim's code."""
    x, y = np.log([n_features(d) for d in DEPTHS]), np.log([SLOW_WIDTHS[d] for d in DEPTHS])
    expected = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    row = paper.loc["width_grows_slowly"]
    assert row["estimate"] == pytest.approx(expected, rel=1e-9) and 0.3 < expected < 0.4
    assert row["verdict"] == "PASS"


def test_width_proportional_to_features_fails():
    """Width needed = number of features (slope 1; one seed needs one more width at depth 4): refuted."""
    needed = {d: n_features(d) for d in DEPTHS}
    runs = tree_runs(needed=lambda depth, seed: needed[depth] + (seed == 3 and depth == 4))
    row = judged(runs).loc["width_grows_slowly"]
    assert row["verdict"] == "FAIL", row
    assert row["ci_low"] > 0.9


def test_width_slope_counts_only_seeds_that_solved_every_depth():
    """A seed that leaves depth 4 unsolved is no evidence (a slope over its solved depths reads too low);
    with two such seeds of five fewer than 0.8 meet the precondition: FAIL with the reason."""
    one = tree_runs(
        needed=lambda depth, seed: 99 if (depth, seed) == (4, 0) else SLOW_WIDTHS[depth],
        widths=lambda d: list(range(2, 9)),
    )
    row = judged(one).loc["width_grows_slowly"]
    assert row["verdict"] == "PASS" and row["n_seeds"] == 4
    two = tree_runs(
        needed=lambda depth, seed: 99 if depth == 4 and seed < 2 else SLOW_WIDTHS[depth],
        widths=lambda d: list(range(2, 9)),
    )
    row = judged(two).loc["width_grows_slowly"]
    assert row["verdict"] == "FAIL" and not row["precondition_met"]
    assert row["reason"].startswith("precondition not met") and "seed(s) 0, 1" in row["reason"]


# ------------------------------------------------------------------------------------- the TMS sparsity sweep


@pytest.mark.parametrize(
    "claim, counts",
    [
        ("tms_dense_features_represented", {0.0: 8, 0.9: 9, 0.999: 13}),
        ("tms_sparse_features_represented", {0.0: N_HIDDEN, 0.9: 4, 0.999: 4}),
    ],
)
def test_tms_counts_fail_when_refuted(paper, claim, counts):
    """Dense: 8 of 20 features represented in 5 dimensions; sparse: 4. Each refutes its claim; the
    paper's counts (5 dense, 13 sparse) pass it."""
    assert verdict(paper, claim) == "PASS"
    row = judged(features=tms_features(counts)).loc[claim]
    assert row["verdict"] == "FAIL", row


# ------------------------------------------------------------------------------ untrained and vacuous models


def test_untrained_run_passes_no_claim_about_trained_models():
    """Final loss = the init's (2x the input-ignoring loss, nothing solved, random norms): every claim
    about trained models FAILs; those with a precondition fail on it, with the reason."""
    runs = tree_runs(loss=lambda depth, h, seed: 2 * constant_output_loss(depth, "exclusive"))
    table = judged(runs, tms_features({0.0: 3, 0.9: 12, 0.999: 12}, trained=False))
    assert (table.loc[TRAINED_CLAIMS, "verdict"] == "FAIL").all(), table.loc[TRAINED_CLAIMS, ["verdict", "reason"]]
    for claim in TRAINED_CLAIMS[1:]:
        assert not table.loc[claim, "precondition_met"]
        assert table.loc[claim, "reason"].startswith("precondition not met"), table.loc[claim, "reason"]
    assert (table.loc[GENERATOR_CLAIMS, "verdict"] == "PASS").all()  # they do not depend on the runs


def test_input_ignoring_model_would_pass_vacuously_without_the_precondition():
    """The bias-only model (W = 0, b = E[x]): its loss is the baseline at every width (flat, so "loss does
    not rise with width" holds) and no TMS feature is represented ("dense: at most n_hidden" holds). The
    precondition FAILs both; with it switched off (fraction 10) both would PASS."""
    runs = tree_runs(loss=lambda depth, h, seed: constant_output_loss(depth, "exclusive"), noise=0.0)
    features = tms_features({0.0: 0, 0.9: 0, 0.999: 0})
    features["final_loss"] = [tms_constant_output_loss(0.7 ** np.arange(TMS_FEATURES), s) for s in features["sparsity"]]
    vacuous = ["loss_nonincreasing_in_width", "tms_dense_features_represented"]
    table = judged(runs, features)
    assert (table.loc[TRAINED_CLAIMS, "verdict"] == "FAIL").all()
    assert not table.loc[vacuous, "precondition_met"].any()
    assert (judged(runs, features, trained_loss_fraction=10.0).loc[vacuous, "verdict"] == "PASS").all()


# ------------------------------------------------------------------------------------ conditions not run


def test_claims_whose_condition_is_not_in_the_config_stay_inconclusive():
    """No depth 1, one width per depth, one depth, no dense sparsity: every row stays, INCONCLUSIVE
    "not run: ... not in the config"."""
    one_width = tree_runs(depths=(2, 3), widths=lambda d: [SLOW_WIDTHS[d]])
    one_depth = tree_runs(depths=(3,))
    no_dense = tms_features(sparsities=(0.9, 0.999))
    for runs, features, not_run in (
        (one_width, tms_features(), ["depth1_solved", "loss_nonincreasing_in_width"]),
        (one_depth, no_dense, ["depth1_solved", "width_grows_slowly", "tms_dense_features_represented"]),
    ):
        table = judged(runs, features)
        assert list(table.index) == [*GENERATOR_CLAIMS, *TRAINED_CLAIMS]
        for claim in not_run:
            assert verdict(table, claim) == "INCONCLUSIVE", table.loc[claim]
            assert table.loc[claim, "reason"].startswith("not run:"), table.loc[claim, "reason"]
            assert "config" in table.loc[claim, "reason"]


# ------------------------------------------------------------------------------------------ rounding


def test_verdicts_do_not_change_with_the_last_bits(paper):
    """Inputs perturbed at the 1e-6 relative level (and solved losses moved by up to 1e-12 absolute, as
    rounding with another thread count does) leave every verdict and precondition unchanged."""
    runs, features = tree_runs(), tms_features()
    for k in range(3):
        rng = np.random.default_rng(k)
        r = perturbed(runs, ["value"], rng)
        r["value"] = r["value"] + rng.uniform(0, 1e-12, len(r))
        f = perturbed(features, ["norm", "final_loss", "initial_loss", "importance"], rng)
        again = judged(r, f)
        columns = ["verdict", "precondition_met", "n_seeds"]
        assert again[columns].equals(paper[columns]), (paper[columns], again[columns])
