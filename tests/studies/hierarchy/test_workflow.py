"""The real workflow for figures/hierarchy/all on the tiny config: outputs, schemas, and what a TMS edit
reruns."""

from __future__ import annotations

import pytest

from tests.helpers import assert_claims_table, scheduled_rules, snakemake, write_yaml

pytestmark = pytest.mark.e2e

#: The studies of the session's shared tiny tree this module copies.
TINY_STUDIES = ["hierarchy"]


def test_workflow_tiny(tiny_trees, tmp_path):
    """Outputs of a complete tiny run (a copy of the session's shared tree), then: nothing to do, and a TMS
    setting reruns the TMS branch only."""
    import pandas as pd

    from featurelab.claims import CLAIM_COLUMNS
    from featurelab.io import read_provenance
    from featurelab.manifest import read_manifest
    from featurelab.studies.hierarchy.figures import FIGURES
    from featurelab.studies.hierarchy.train import METRIC_COLUMNS

    workdir, configfile, config = tiny_trees.workdir(tmp_path / "work", TINY_STUDIES, figures_all=False)
    rows = read_manifest(workdir / "figures/hierarchy/all")
    assert sorted(r["path"] for r in rows) == sorted(  # the study's figures and the forest plot of its claims
        f"figures/hierarchy/{f}.{e}" for f in [*FIGURES, "claims"] for e in ("pdf", "png")
    )
    for r in rows:
        assert (workdir / r["path"]).stat().st_size > 1000 and r["study"] == "hierarchy"
    res = workdir / "results/hierarchy"
    runs = pd.read_parquet(res / "runs.parquet")
    assert tuple(runs.columns) == METRIC_COLUMNS
    assert set(runs["depth"]) == {1, 2, 3} and set(runs["seed"]) == {0, 1}
    assert set(runs["metric"]) == {"loss_exact", "loss_fresh"}
    summary = pd.read_parquet(res / "summary.parquet")
    assert {"mean", "ci_low", "ci_high", "min", "max", "n"} <= set(summary.columns)
    assert not ((summary["depth"] == 1) & (summary["n_hidden"] > 2)).any()  # n_hidden > n_features is blank
    widths = pd.read_parquet(res / "width_needed.parquet")
    assert list(widths["depth"]) == [1, 2, 3]
    feats = pd.read_parquet(res / "tms/features.parquet")
    assert {"norm", "interference", "bias", "importance", "final_loss"} <= set(feats.columns)
    claims = pd.read_parquet(res / "claims.parquet")
    assert tuple(claims.columns) == CLAIM_COLUMNS
    assert list(claims["claim"]) == [
        "generator_marginals",
        "siblings_exclusive",
        "child_implies_parent",
        "depth1_solved",
        "loss_nonincreasing_in_width",
        "width_grows_slowly",
        "tms_dense_features_represented",
        "tms_sparse_features_represented",
    ]
    assert_claims_table(claims)  # every verdict follows from its interval, side, threshold and precondition
    assert read_provenance(res / "summary.parquet")["config"]["tree"]["sampling"] == "exclusive"
    # a rerun has nothing to do; a changed TMS setting reruns only the TMS branch
    dry = snakemake(workdir, "figures/hierarchy/all", "-n", configfile=configfile)
    assert "Nothing to be done" in dry.stdout + dry.stderr
    config["hierarchy"]["tms"]["sparsities"] = [0.0, 0.5]
    edited = write_yaml(tmp_path / "edited.yaml", config)
    jobs = scheduled_rules(snakemake(workdir, "figures/hierarchy/all", "-n", configfile=edited).stdout)
    assert jobs.get("hierarchy_train_tms") == 2 and "hierarchy_train" not in jobs, jobs
