"""The geometry study's claims: each claim PASSes on tables built to show the paper's effect and FAILs on
tables built to refute it; an unmet precondition is FAIL whatever the numbers (synthetic, and a real
one-step run); a fraction not in the config stays as "not run"; D = 1 is no claim; verdicts do not follow
the last bits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from featurelab.stats import spearman
from featurelab.studies.geometry import claims
from tests.helpers import assert_claims_table, study_section, tiny

SEEDS = (0, 1, 2, 3, 4)
#: 1/(1-S) of the synthetic sweep (the default's eight values).
SWEEP = (1.0, 1.53, 2.35, 3.61, 5.54, 8.50, 13.0, 20.0)
N_FEATURES, N_HIDDEN, PER_INSTANCE = 400, 30, 40
STICKY_IDS = [f"sticky_{text.replace('/', '_')}" for text in claims.PAPER_FRACTIONS]


def claims_params(section: dict) -> dict:
    return {"claims": section["claims"], "analysis": section["analysis"]}


def default_params(**changes) -> dict:
    section = study_section("geometry")
    section["claims"].update(changes)
    return claims_params(section)


def synthetic_tables(
    rng: np.random.Generator,
    pile: float | None = None,
    pile_share: float = 0.5,
    falling: bool = True,
    effective: float = 40.0,
    seeds=SEEDS,
) -> dict[str, pd.DataFrame]:
    """A sweep whose represented features have D_i spread evenly over [0.3, 1] (about 3 % of them in any
    +-0.01 window: no pile-up), except, with ``pile``, a share around ``pile_share`` (seed-to-seed noise
    0.03) sitting at D = ``pile`` (+-0.002); m/||W||_F^2 falls with sparsity (noise 2 %) when ``falling``,
    else is flat at 1/2 with the same noise (a curve in random order); ``effective`` features' worth of
    variance per instance (the trained bar at the default config is 15)."""
    feats, insts = [], []
    for s in seeds:
        share = pile_share + rng.normal(0, 0.03)
        for i, inv in enumerate(SWEEP):
            d = rng.uniform(0.3, 1.0, PER_INSTANCE)
            if pile is not None:
                at = rng.random(PER_INSTANCE) < share
                d[at] = pile + rng.uniform(-0.002, 0.002, at.sum())
            n_off = N_FEATURES - PER_INSTANCE
            feats.append(
                pd.DataFrame(
                    {
                        "seed": s,
                        "instance": i,
                        "inverse_density": inv,
                        "feature": range(N_FEATURES),
                        "norm": np.r_[np.ones(PER_INSTANCE), np.zeros(n_off)],
                        "dimensionality": np.r_[d, np.full(n_off, np.nan)],
                        "represented": np.r_[np.ones(PER_INSTANCE, bool), np.zeros(n_off, bool)],
                    }
                )
            )
            dims = (inv**-0.6 if falling else 0.5) * (1 + rng.normal(0, 0.02))
            insts.append(
                {
                    "seed": s,
                    "instance": i,
                    "inverse_density": inv,
                    "n_features": N_FEATURES,
                    "n_hidden": N_HIDDEN,
                    "dims_per_feature": dims,
                    "effective_features": effective,
                }
            )
    return {"features": pd.concat(feats, ignore_index=True), "instances": pd.DataFrame(insts)}


def verdicts(tables: dict, params: dict | None = None) -> pd.DataFrame:
    table = claims.evaluate(tables, params or default_params())
    assert_claims_table(table)
    return table.set_index("claim")


def test_the_table_is_the_papers_five_lines_and_the_fall():
    table = verdicts(synthetic_tables(np.random.default_rng(0), pile=0.5))
    assert list(table.index) == [*STICKY_IDS, "dims_per_feature_fall"]
    assert (table["kind"] == "claim").all() and (table["interval"] == "t").all()
    assert table.loc["sticky_1_2", "condition"] == "1/2 (digon: antipodal pair)"
    assert "distinct lines" in table.loc["sticky_3_8", "source"]


@pytest.mark.parametrize("text", claims.PAPER_FRACTIONS)
def test_a_sticky_fraction_passes_on_a_pile_up_and_fails_on_an_even_spread(text):
    value = float(claims.parse_fraction(text))
    row = f"sticky_{text.replace('/', '_')}"
    piled = verdicts(synthetic_tables(np.random.default_rng(1), pile=value))
    assert piled.loc[row, "verdict"] == "PASS", piled.loc[row, "reason"]
    others = [r for r in STICKY_IDS if r != row]
    assert (piled.loc[others, "verdict"] == "FAIL").all()
    even = verdicts(synthetic_tables(np.random.default_rng(2)))
    assert (even.loc[STICKY_IDS, "verdict"] == "FAIL").all(), even.loc[STICKY_IDS, "estimate"]
    assert even.loc[row, "estimate"] == pytest.approx(0.02 / (1 - 0.365), abs=0.01)  # the window in the span


def test_the_share_counts_represented_features_in_the_span_only():
    """Per seed: D_i 0.2 (below the span), 0.5, 0.505, 0.7 represented and 0.5 not: 2 of the 3 in the span."""
    features = pd.DataFrame(
        {
            "seed": [0] * 5 + [1],
            "dimensionality": [0.2, 0.5, 0.505, 0.7, 0.5, 0.3],
            "represented": [True, True, True, True, False, True],
        }
    )
    share = claims.sticky_share(features, 0.5, floor=0.365, tolerance=0.01)
    assert share[0] == pytest.approx(2 / 3) and np.isnan(share[1])
    assert claims.sticky_share(features, 0.5, floor=0.365, tolerance=0.004)[0] == pytest.approx(1 / 3)
    assert claims.features_in_span(features, 0.365).tolist() == [3, 0]


def test_a_share_on_its_threshold_is_inconclusive():
    tables = synthetic_tables(np.random.default_rng(3), pile=0.5, pile_share=0.07)  # 0.07 + 0.93 x 0.03 = 0.1
    row = verdicts(tables).loc["sticky_1_2"]
    assert row["verdict"] == "INCONCLUSIVE" and row["seeds_needed"] > 5


def test_dims_per_feature_fall_passes_on_a_falling_curve_and_fails_on_a_flat_one():
    falling = verdicts(synthetic_tables(np.random.default_rng(4), pile=0.5)).loc["dims_per_feature_fall"]
    assert falling["verdict"] == "PASS" and falling["estimate"] < -0.9
    flat = verdicts(synthetic_tables(np.random.default_rng(5), pile=0.5, falling=False))
    assert flat.loc["dims_per_feature_fall", "verdict"] == "FAIL", flat.loc["dims_per_feature_fall", "seed_values"]


def test_the_statistic_is_the_shared_spearman_per_seed():
    tables = synthetic_tables(np.random.default_rng(6), falling=False)
    inst = tables["instances"].query("seed == 3")
    expected = spearman(inst["inverse_density"].to_numpy(), inst["dims_per_feature"].to_numpy())
    assert claims.sweep_spearman(tables["instances"])[3] == pytest.approx(expected)


def test_no_claim_can_pass_on_an_untrained_model():
    """The paper's effects are in the numbers, but no instance explains the bar's variance: every row FAILs
    on its precondition."""
    table = verdicts(synthetic_tables(np.random.default_rng(7), pile=0.5, effective=-50.0))
    assert (table["verdict"] == "FAIL").all() and not table["precondition_met"].any()
    assert table["reason"].str.startswith("precondition not met: model trained").all()


def test_one_trained_seed_too_few_fails_the_precondition():
    tables = synthetic_tables(np.random.default_rng(8), pile=0.5)
    inst = tables["instances"]
    inst.loc[inst["seed"].isin([0, 1]) & (inst["instance"] == 0), "effective_features"] = 10.0  # below 15
    table = verdicts(tables)  # 3 of 5 seeds trained, ceil(0.8 * 5) = 4 needed
    assert (table["verdict"] == "FAIL").all() and "seed(s) 0, 1" in table.loc["sticky_1_2", "reason"]
    fine = verdicts(tables, default_params(min_fraction_of_seeds=0.6))  # 3 of 5 suffice: judged on them
    assert fine.loc["sticky_1_2", "verdict"] == "PASS" and fine.loc["sticky_1_2", "n_seeds"] == 3


def test_too_few_represented_features_fails_only_the_sticky_rows():
    tables = synthetic_tables(np.random.default_rng(9), pile=0.5)
    floor = claims.span_floor(default_params()["analysis"]["fractions"], 0.01)
    in_span = claims.features_in_span(tables["features"], floor)
    table = verdicts(tables, default_params(min_features=int(in_span.max()) + 1))
    assert (table.loc[STICKY_IDS, "verdict"] == "FAIL").all()
    assert not table.loc[STICKY_IDS, "precondition_met"].any()
    assert table.loc["dims_per_feature_fall", "verdict"] == "PASS"


def test_a_fraction_not_in_the_config_stays_as_not_run():
    params = default_params()
    params["analysis"]["fractions"] = ["1/2", "3/8"]
    table = verdicts(synthetic_tables(np.random.default_rng(10), pile=0.5), params)
    assert list(table.index) == [*STICKY_IDS, "dims_per_feature_fall"]
    for row in ("sticky_3_4", "sticky_2_3", "sticky_2_5"):
        assert table.loc[row, "verdict"] == "INCONCLUSIVE"
        assert (
            table.loc[row, "reason"].startswith("not run: fraction") and "not in the config" in table.loc[row, "reason"]
        )
    assert table.loc["sticky_1_2", "verdict"] == "PASS"


def test_d_equal_one_is_no_claim_even_when_configured():
    """The paper draws no line at 1 and says why; a 1 in the fractions is a reference line of the figure."""
    assert "1" in study_section("geometry")["analysis"]["fractions"]
    tables = synthetic_tables(np.random.default_rng(11), pile=1.0 - 0.003)
    table = verdicts(tables)
    assert not any(claim.startswith("sticky_1") and claim != "sticky_1_2" for claim in table.index)
    assert (table.loc[STICKY_IDS, "verdict"] == "FAIL").all()


def test_one_seed_is_inconclusive():
    table = verdicts(synthetic_tables(np.random.default_rng(12), pile=0.5, seeds=(0,)))
    assert (table["verdict"] == "INCONCLUSIVE").all() and table["reason"].str.startswith("one seed").all()


def test_claims_cannot_pass_on_a_really_untrained_model(run_pipeline):
    """The real thing: a sweep trained for a single step (W still at its small initial scale)."""
    section = study_section("geometry", tiny())
    section["training"]["steps"] = 1
    section["training"]["log_every"] = 1
    tables = run_pipeline(section)
    # the dense instance of every seed is far below the bar (its initial loss E[x^2] is 4x the baseline)
    assert not claims.seed_trained(tables["instances"], section["claims"]["trained_min_effective_fraction"]).any()
    assert (tables["instances"].query("instance == 0")["effective_features"] < 0).all()
    table = claims.evaluate(tables, claims_params(section))
    assert_claims_table(table)
    assert (table["verdict"] == "FAIL").all() and not table["precondition_met"].any()


def test_verdicts_do_not_flip_with_the_last_bits(run_pipeline):
    """Every number the claims read, moved by 1e-9 relative: the same verdicts, preconditions and seeds."""
    section = study_section("geometry", tiny())
    tables = run_pipeline(section)
    params = claims_params(section)
    before = claims.evaluate(tables, params)
    assert_claims_table(before)
    for sign in (1.0, -1.0):
        moved = {k: v.copy() for k, v in tables.items()}
        moved["features"]["dimensionality"] *= 1 + sign * 1e-9
        for col in ("effective_features", "dims_per_feature", "inverse_density"):
            moved["instances"][col] *= 1 + sign * 1e-9
        after = claims.evaluate(moved, params)
        for col in ("verdict", "precondition_met", "n_seeds"):
            assert after[col].tolist() == before[col].tolist(), col
