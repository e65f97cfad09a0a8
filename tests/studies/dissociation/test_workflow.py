"""The real workflow for figures/dissociation/all on the tiny config: figures, manifest, tables, claims,
the transfer probe in the provenance, and nothing to do after a complete run."""

from __future__ import annotations

import pytest

from featurelab.io import read_frame, read_provenance
from featurelab.manifest import read_manifest
from featurelab.studies.dissociation import train as sd
from tests.helpers import assert_claims_table, snakemake

pytestmark = pytest.mark.e2e

#: The studies of the session's shared tiny tree this module copies.
TINY_STUDIES = ["dissociation"]


def test_workflow_tiny(tiny_trees, tmp_path):
    """Outputs of a complete tiny run (a copy of the session's shared tree)."""
    workdir, configfile, _ = tiny_trees.workdir(tmp_path / "work", TINY_STUDIES, figures_all=False)
    for name in ("input_noise", "parameter_noise", "transfer", "claims"):
        for ext in ("pdf", "png"):
            assert (workdir / "figures" / "dissociation" / f"{name}.{ext}").stat().st_size > 1000
    rows = read_manifest(workdir / "figures" / "dissociation" / "all")
    assert len(rows) == 8 and {r["study"] for r in rows} == {"dissociation"}
    assert all(len(r["sha256"]) == 64 for r in rows)

    runs = read_frame(workdir / "results" / "dissociation" / "runs.parquet")
    assert list(runs.columns) == list(sd.RESULT_COLUMNS)
    assert set(runs["evaluation"]) == {"training", "exactness", "input_noise", "parameter_noise", "transfer"}
    assert sorted(runs["seed"].unique()) == [0, 1]
    assert set(runs["model"]) == set(sd.MODELS)
    summary = read_frame(workdir / "results" / "dissociation" / "summary.parquet")
    assert {"mean", "sd", "n", "ci_low", "ci_high", "condition", "x", "metric"} <= set(summary.columns)
    claims = read_frame(workdir / "results" / "dissociation" / "claims.parquet")
    assert_claims_table(claims)
    assert len(claims) == 15 and set(claims["claim"]) == {
        "function_preserved",
        "same_input_noise_curve",
        "null_space_keeps_accuracy",
        "null_space_less_input_robust",
        "less_parameter_robust",
        "hurts_transfer",
    }
    # exactness holds at any scale: the checks' worst seed is within their float tolerance even on the tiny
    # config (whether a row PASSES also depends on its precondition; with two seeds nothing is required to)
    exact = claims[claims["kind"] == "check"]
    assert len(exact) == 10 and (exact["interval"] == "exact").all()
    assert (exact["estimate"] <= exact["threshold"]).all()
    transfer_claims = claims[claims["claim"] == "hurts_transfer"]
    assert transfer_claims["statement"].str.contains("paper's probe: GD lr 0.2, 20 steps", regex=False).all()
    probe = read_provenance(workdir / "results" / "dissociation" / "seed0" / "transfer.parquet")["config"]
    assert probe["transfer_probe"] == {"name": "repo", "learning_rate": 0.2, "steps": 20, "folds": 5}
    summary_probe = read_provenance(workdir / "results" / "dissociation" / "summary.parquet")["config"]
    assert summary_probe["transfer_probe"] == probe["transfer_probe"]
    prov = read_provenance(workdir / "results" / "dissociation" / "seed0" / "evaluation.parquet")
    assert prov["config"]["seed"] == 0 and "manipulations" in prov["config"]
    # a second run has nothing to do
    again = snakemake(workdir, "figures/dissociation/all", "-n", configfile=configfile)
    assert "Nothing to be done" in again.stdout + again.stderr
