"""The geometry study's claims: each claim PASSes on tables built to show the paper's effect and FAILs on
tables built to refute it; an unmet precondition is FAIL whatever the numbers (synthetic, and a real
one-step run); a fraction not in the config stays as "not run"; D = 1 is no claim; verdicts do not follow
the last bits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from featurelab.stats import spearman
from featurelab.studies.geometry import claims
from featurelab.studies.geometry.analysis import band_length, local_pool, local_span, plateau_ratio
from tests.helpers import assert_claims_table, study_section, tiny

SEEDS = (0, 1, 2, 3, 4)
#: 1/(1-S) of the synthetic sweep (the default's eleven values).
SWEEP = (1.0, 1.3707, 1.6048, 1.8789, 2.1998, 3.0153, 3.5302, 4.1331, 4.839, 7.7657, 20.0)
N_FEATURES, N_HIDDEN, PER_INSTANCE = 400, 30, 40
PLATEAU_IDS = [f"plateau_{text.replace('/', '_')}" for text in claims.PAPER_PLATEAUS]
PILEUP_IDS = [f"pileup_{text.replace('/', '_')}" for text in claims.PAPER_FRACTIONS]


def claims_params(section: dict) -> dict:
    return {"claims": section["claims"], "analysis": section["analysis"]}


def default_params(**changes) -> dict:
    section = study_section("geometry")
    section["claims"].update(changes)
    return claims_params(section)


def sticky_curve(inverse: float) -> float:
    """m/||W||_F^2 with the paper's plateaus: 1 up to 1/(1-S) = 1.6, a drop to 1/2, flat to 4, then a
    power-law fall to about 0.14 at 20."""
    if inverse <= 1.6:
        return 1.0
    if inverse <= 2.2:
        return float(np.exp(np.interp(np.log(inverse), np.log([1.6, 2.2]), np.log([1.0, 0.5]))))
    if inverse <= 4.0:
        return 0.5
    return 0.5 * (inverse / 4.0) ** -0.8


def curve(inverse: float, shape: str) -> float:
    """``sticky`` (above), ``steady`` (a power law from 1 to 0.136 with no plateau) or ``flat`` (1/2)."""
    return {"sticky": sticky_curve(inverse), "steady": inverse**-0.666, "flat": 0.5}[shape]


def synthetic_tables(
    rng: np.random.Generator,
    pile: float | None = None,
    pile_share: float = 0.5,
    shape: str = "sticky",
    effective: float = 40.0,
    seeds=SEEDS,
) -> dict[str, pd.DataFrame]:
    """A sweep whose represented features have D_i spread evenly over [0.3, 1] (no pile-up: the share in a
    window is the window's share of the local range), except, with ``pile``, a share around ``pile_share``
    (seed-to-seed noise 0.03) sitting at D = ``pile`` (+-0.002); m/||W||_F^2 follows :func:`curve` (noise
    0.5 %); ``effective`` features' worth of variance per instance (the trained bar at the default is 15)."""
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
            dims = curve(inv, shape) * (1 + rng.normal(0, 0.005 if shape != "flat" else 0.02))
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


def test_the_table_is_the_papers_plateaus_lines_and_the_fall():
    table = verdicts(synthetic_tables(np.random.default_rng(0), pile=0.5))
    assert list(table.index) == [*PLATEAU_IDS, *PILEUP_IDS, "dims_per_feature_fall"]
    assert list(table.index) == ["plateau_1", "plateau_1_2", *PILEUP_IDS, "dims_per_feature_fall"]
    assert (table["kind"] == "claim").all() and (table["interval"] == "t").all()
    assert table.loc["pileup_1_2", "condition"] == "1/2 (digon: antipodal pair)"
    assert "distinct lines" in table.loc["pileup_3_8", "source"]
    assert "'sticky' at 1 and 1/2" in table.loc["plateau_1_2", "source"]


def test_a_steady_power_law_has_no_plateau_ratio_above_one():
    """Two end points and the whole curve of a power law stay in any band equally long: ratio 1."""
    inverse = np.array(SWEEP)
    for value in (1.0, 0.5, 0.3):
        assert plateau_ratio(inverse, inverse**-0.666, value, 0.1) == pytest.approx(1.0)


def test_the_band_length_is_the_interpolated_curves_time_in_the_band():
    """ln y linear in u between samples: from ln 1 to ln 0.25 over u in [0, 2], the band [ln 0.4, ln 0.6]
    is crossed over 2 (ln 0.6 - ln 0.4) / (ln 1 - ln 0.25); a flat segment inside counts whole."""
    low, high = np.log(0.4), np.log(0.6)
    assert band_length([0.0, 2.0], np.log([1.0, 0.25]), low, high) == pytest.approx(2 * (high - low) / np.log(4.0))
    assert band_length([0.0, 1.0, 3.0], np.log([0.5, 0.5, 0.1]), low, high) == pytest.approx(
        1.0 + 2 * (np.log(0.5) - low) / np.log(5.0)
    )


@pytest.mark.parametrize("row", PLATEAU_IDS)
def test_a_plateau_passes_on_a_sticky_curve_and_fails_on_a_steady_fall(row):
    sticky = verdicts(synthetic_tables(np.random.default_rng(1), pile=0.5))
    assert sticky.loc[row, "verdict"] == "PASS", sticky.loc[row, ["estimate", "reason"]].tolist()
    steady = verdicts(synthetic_tables(np.random.default_rng(2), pile=0.5, shape="steady"))
    assert steady.loc[row, "verdict"] == "FAIL" and steady.loc[row, "estimate"] == pytest.approx(1.0, abs=0.1)


def test_a_curve_that_never_leaves_the_band_fails_the_plateau_precondition():
    """Flat at 1/2 from the densest point on: the steady fall and the curve never cross 1's band, and 1/2's
    never leaves it; a ratio would compare nothing."""
    flat = verdicts(synthetic_tables(np.random.default_rng(3), pile=0.5, shape="flat"))
    assert (flat.loc[PLATEAU_IDS, "verdict"] == "FAIL").all()
    assert not flat.loc[PLATEAU_IDS, "precondition_met"].any()


@pytest.mark.parametrize("text", claims.PAPER_FRACTIONS)
def test_a_pile_up_passes_where_features_pile_and_fails_on_an_even_spread(text):
    value = float(claims.parse_fraction(text))
    row = f"pileup_{text.replace('/', '_')}"
    piled = verdicts(synthetic_tables(np.random.default_rng(4), pile=value))
    assert piled.loc[row, "verdict"] == "PASS", piled.loc[row, "reason"]
    even = verdicts(synthetic_tables(np.random.default_rng(5)))
    assert (even.loc[PILEUP_IDS, "verdict"] == "FAIL").all(), even.loc[PILEUP_IDS, "estimate"]
    assert even.loc[row, "estimate"] == pytest.approx(1.0, abs=0.35)  # the smooth spread's own share


def test_a_narrow_smooth_bump_is_no_pile_up():
    """D_i normal around 1/2 with sd 0.025 (a smooth cluster, not features at the line): the window holds
    about 1.6x the smooth spread's share, below the threshold of 2 (claims.min_enrichment)."""
    rng = np.random.default_rng(6)
    tables = synthetic_tables(rng)
    feats = tables["features"]
    on = feats["represented"]
    feats.loc[on, "dimensionality"] = rng.normal(0.5, 0.025, on.sum())
    row = verdicts(tables).loc["pileup_1_2"]
    assert row["verdict"] == "FAIL" and 1.2 < row["estimate"] < 2.0, row["estimate"]


def test_the_pool_is_the_local_range_less_the_other_lines():
    """Window 0.05 around 2/5: D_i 0.36 (beyond), 0.38 (at 3/8, another line), 0.39, 0.40, 0.44 and a 0.40
    that is not represented: a pool of 3, one of them at 2/5."""
    features = pd.DataFrame(
        {
            "seed": [0] * 6,
            "dimensionality": [0.34, 0.38, 0.39, 0.40, 0.44, 0.40],
            "represented": [True, True, True, True, True, False],
        }
    )
    pool = local_pool(features, 0.4, 0.05, [0.5, 0.4, 0.375], 0.01)
    assert sorted(pool["dimensionality"]) == [0.39, 0.40, 0.44]
    assert local_span(0.4, 0.05, [0.5, 0.4, 0.375], 0.01) == pytest.approx(0.1 - 0.02)


def test_a_share_on_its_threshold_is_inconclusive():
    """A pile at 1/2 holding 0.2 of the features on top of the even spread: about 2x the smooth share."""
    tables = synthetic_tables(np.random.default_rng(7), pile=0.5, pile_share=0.018)
    row = verdicts(tables).loc["pileup_1_2"]
    assert row["verdict"] == "INCONCLUSIVE" and row["seeds_needed"] > 5, row[["estimate", "seed_values"]].tolist()


def test_dims_per_feature_fall_passes_on_a_falling_curve_and_fails_on_a_flat_one():
    falling = verdicts(synthetic_tables(np.random.default_rng(8), pile=0.5)).loc["dims_per_feature_fall"]
    assert falling["verdict"] == "PASS" and falling["estimate"] < -0.9
    flat = verdicts(synthetic_tables(np.random.default_rng(9), pile=0.5, shape="flat"))
    assert flat.loc["dims_per_feature_fall", "verdict"] == "FAIL", flat.loc["dims_per_feature_fall", "seed_values"]


def test_the_statistic_is_the_shared_spearman_per_seed():
    tables = synthetic_tables(np.random.default_rng(10), shape="flat")
    inst = tables["instances"].query("seed == 3")
    expected = spearman(inst["inverse_density"].to_numpy(), inst["dims_per_feature"].to_numpy())
    assert claims.sweep_spearman(tables["instances"])[3] == pytest.approx(expected)


def test_no_claim_can_pass_on_an_untrained_model():
    """The paper's effects are in the numbers, but no instance explains the bar's variance: every row FAILs
    on its precondition."""
    table = verdicts(synthetic_tables(np.random.default_rng(11), pile=0.5, effective=-50.0))
    assert (table["verdict"] == "FAIL").all() and not table["precondition_met"].any()
    assert table["reason"].str.startswith("precondition not met: model trained").all()


def test_one_trained_seed_too_few_fails_the_precondition():
    tables = synthetic_tables(np.random.default_rng(12), pile=0.5)
    inst = tables["instances"]
    inst.loc[inst["seed"].isin([0, 1]) & (inst["instance"] == 0), "effective_features"] = 10.0  # below 15
    table = verdicts(tables)  # 3 of 5 seeds trained, ceil(0.8 * 5) = 4 needed
    assert (table["verdict"] == "FAIL").all() and "seed(s) 0, 1" in table.loc["pileup_1_2", "reason"]
    fine = verdicts(tables, default_params(min_fraction_of_seeds=0.6))  # 3 of 5 suffice: judged on them
    assert fine.loc["pileup_1_2", "verdict"] == "PASS" and fine.loc["pileup_1_2", "n_seeds"] == 3


def test_too_few_features_in_the_local_range_fails_only_the_pile_up_rows():
    tables = synthetic_tables(np.random.default_rng(13), pile=0.5)
    pools = claims.pileup_counts(tables, 0.5, default_params())["pool"]
    table = verdicts(tables, default_params(min_features=int(pools.max()) + 1))
    assert table.loc["pileup_1_2", "verdict"] == "FAIL" and not table.loc["pileup_1_2", "precondition_met"]
    assert (table.loc[[*PLATEAU_IDS, "dims_per_feature_fall"], "verdict"] == "PASS").all()


def test_a_fraction_not_in_the_config_stays_as_not_run():
    params = default_params()
    params["analysis"]["fractions"] = ["1/2", "3/8"]
    table = verdicts(synthetic_tables(np.random.default_rng(14), pile=0.5), params)
    assert list(table.index) == [*PLATEAU_IDS, *PILEUP_IDS, "dims_per_feature_fall"]
    for row in ("pileup_3_4", "pileup_2_3", "pileup_2_5"):
        assert table.loc[row, "verdict"] == "INCONCLUSIVE"
        assert (
            table.loc[row, "reason"].startswith("not run: fraction") and "not in the config" in table.loc[row, "reason"]
        )
    assert table.loc["pileup_1_2", "verdict"] == "PASS"


def test_d_equal_one_is_no_claim_even_when_configured():
    """The paper draws no line at 1 and says why; a 1 in the fractions is a reference line of the figure.
    (The curve's plateau at 1 is the paper's claim and a row; features at D = 1 are not.)"""
    assert "1" in study_section("geometry")["analysis"]["fractions"]
    table = verdicts(synthetic_tables(np.random.default_rng(15), pile=1.0 - 0.003))
    assert not any(claim.startswith("pileup_1") and claim != "pileup_1_2" for claim in table.index)
    assert (table.loc[PILEUP_IDS, "verdict"] == "FAIL").all()


def test_one_seed_is_inconclusive():
    table = verdicts(synthetic_tables(np.random.default_rng(16), pile=0.5, seeds=(0,)))
    assert (table["verdict"] == "INCONCLUSIVE").all() and table["reason"].str.startswith("one seed").all()


def test_the_chance_a_smooth_spread_reaches_the_threshold_is_binomial():
    assert claims.chance_of_enrichment(0.2, 2.0, 10) == pytest.approx(stats.binom.sf(3, 10, 0.2))


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
