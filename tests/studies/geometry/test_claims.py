"""The geometry study's claims: they pass on a trained sweep and name what is missing, cannot pass on an
untrained model (synthetic, or really trained for one step), the represented-features precondition, and
verdicts that the last bits cannot change."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from featurelab.studies.geometry import claims
from tests.helpers import study_section, tiny


def claims_params(section: dict) -> dict:
    return {"claims": section["claims"], "analysis": section["analysis"]}


def synthetic_tables(trained: bool, seeds=(0, 1, 2)) -> dict[str, pd.DataFrame]:
    """A sweep whose features all sit at 1/2 (digons) and whose dims per feature fall; ``trained`` sets the
    effective features above or below the precondition's bar."""
    feats, insts = [], []
    for s in seeds:
        for i, inv in enumerate([1.0, 2.0, 4.0, 8.0]):
            n_rep = 30 * (i + 1)
            feats.append(
                pd.DataFrame(
                    {
                        "seed": s,
                        "instance": i,
                        "inverse_density": inv,
                        "feature": range(400),
                        "norm": [1.0] * n_rep + [0.0] * (400 - n_rep),
                        "dimensionality": [0.5] * n_rep + [np.nan] * (400 - n_rep),
                        "represented": [True] * n_rep + [False] * (400 - n_rep),
                    }
                )
            )
            insts.append(
                {
                    "seed": s,
                    "instance": i,
                    "inverse_density": inv,
                    "n_features": 400,
                    "n_hidden": 30,
                    "dims_per_feature": 30 / (30 * (i + 1)),
                    "effective_features": 40.0 if trained else -50.0,
                }
            )
    return {"features": pd.concat(feats, ignore_index=True), "instances": pd.DataFrame(insts)}


def test_claims_pass_on_a_trained_sweep_and_name_what_is_missing():
    section = study_section("geometry")
    table = claims.evaluate(synthetic_tables(trained=True), claims_params(section))
    verdict = dict(zip(table["claim"], table["passed"]))
    assert verdict["sticky_1_2"] and verdict["dims_per_feature_fall"]
    assert not verdict["sticky_2_5"] and not verdict["sticky_1"]
    row = table.set_index("claim").loc["sticky_2_5"]
    assert row["precondition_met"] and "share >= 0.1 in 0 of 3 seeds" in row["reason"]
    assert table.set_index("claim").loc["dims_per_feature_fall", "measured"] == pytest.approx(-1.0)
    assert table["condition"].str.contains("digon").any()


def test_claims_cannot_pass_on_an_untrained_model():
    section = study_section("geometry")
    table = claims.evaluate(synthetic_tables(trained=False), claims_params(section))
    assert not table["passed"].any() and not table["precondition_met"].any()
    assert table["reason"].str.startswith("precondition not met").all()


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
    assert not table["passed"].any() and not table["precondition_met"].any()


def test_too_few_represented_features_is_a_failed_precondition():
    tables = synthetic_tables(trained=True)
    tables["features"]["represented"] = tables["features"]["instance"] == 0  # 30 per seed ...
    section = study_section("geometry")
    section["claims"]["min_features"] = 31  # ... one short
    table = claims.evaluate(tables, claims_params(section)).set_index("claim")
    assert not table.loc["sticky_1_2", "precondition_met"]
    assert "too few represented features" in table.loc["sticky_1_2", "reason"]
    assert table.loc["dims_per_feature_fall", "passed"]  # not its precondition


def test_spearman():
    assert claims.spearman(np.arange(5.0), -(np.arange(5.0) ** 3)) == pytest.approx(-1.0)
    assert np.isnan(claims.spearman(np.arange(3.0), np.ones(3)))


def test_verdicts_do_not_flip_with_the_last_bits(run_pipeline):
    """Every number the claims read, moved by 1e-9 relative: the same verdicts, preconditions and counts."""
    section = study_section("geometry", tiny())
    tables = run_pipeline(section)
    params = claims_params(section)
    before = claims.evaluate(tables, params)
    for sign in (1.0, -1.0):
        moved = {k: v.copy() for k, v in tables.items()}
        moved["features"]["dimensionality"] *= 1 + sign * 1e-9
        for col in ("effective_features", "dims_per_feature", "inverse_density"):
            moved["instances"][col] *= 1 + sign * 1e-9
        after = claims.evaluate(moved, params)
        for col in ("passed", "precondition_met", "seeds_passing"):
            assert after[col].tolist() == before[col].tolist(), col
