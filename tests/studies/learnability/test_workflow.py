"""The real workflow for figures/learnability/all on the tiny config: one training job per seed writing
every family's run, figures, manifest, tables, and what a loss-threshold edit reruns."""

from __future__ import annotations

import pytest

from tests.helpers import assert_claims_table, scheduled_rules, snakemake, tiny_study_config, write_yaml

pytestmark = pytest.mark.e2e

#: The studies of the session's shared tiny tree this module copies.
TINY_STUDIES = ["learnability"]


def test_workflow_tiny_end_to_end(tiny_trees, tmp_path):
    """Outputs of a complete tiny run (a copy of the session's shared tree), and what a loss-threshold edit
    reruns."""
    import pyarrow.parquet as pq

    from featurelab.claims import CLAIM_COLUMNS
    from featurelab.io import read_provenance
    from featurelab.manifest import read_manifest
    from featurelab.studies.learnability.train import METRIC_COLUMNS

    workdir, _, config = tiny_trees.workdir(tmp_path / "work", TINY_STUDIES, figures_all=False)
    # the study's figures and the forest plot of its claims table
    names = ["learning_curves", "attribution_bars", "scale_shift_heatmap", "distractor_steps", "claims"]
    for name in names:
        for ext in ("pdf", "png"):
            assert (workdir / "figures" / "learnability" / f"{name}.{ext}").stat().st_size > 1000
    rows = read_manifest(workdir / "figures" / "learnability" / "all")
    assert sorted(r["path"] for r in rows) == sorted(
        f"figures/learnability/{n}.{e}" for n in names for e in ("pdf", "png")
    )
    assert all(len(r["sha256"]) == 64 and r["study"] == "learnability" for r in rows)
    runs = workdir / "results" / "learnability" / "runs.parquet"
    assert tuple(pq.read_schema(runs).names) == METRIC_COLUMNS
    summary = pq.read_table(workdir / "results" / "learnability" / "summary.parquet").to_pandas()
    assert {"mean", "sd", "n", "ci_low", "ci_high"} <= set(summary.columns) and summary["n"].max() == 2
    claims = pq.read_table(workdir / "results" / "learnability" / "claims.parquet").to_pandas()
    assert list(claims.columns) == list(CLAIM_COLUMNS)
    assert_claims_table(claims)  # every verdict follows from its interval, side, threshold and precondition
    # no row vanishes: the tasks the tiny config leaves out stay in the table, not run
    assert len(claims) == 36 and claims["claim"].is_unique
    not_run = claims[claims["reason"].str.startswith("not run:")]
    assert "double_noisy[noise=0.2]_slower" in set(not_run["claim"]) and (not_run["verdict"] == "INCONCLUSIVE").all()
    assert read_provenance(runs)["git_commit"]
    # editing the loss threshold reruns the cheap analysis, never training
    config["learnability"]["analysis"]["loss_threshold"] = 0.1
    edited = write_yaml(tmp_path / "edited.yaml", config)  # in the tiny config's key order: part of params
    jobs = scheduled_rules(snakemake(workdir, "-n", "figures/learnability/all", configfile=edited).stdout)
    assert jobs.get("learnability_analyze") == 1 and "learnability_train" not in jobs


def test_one_training_job_per_seed_writes_every_family(tmp_path):
    """The dry run plans one learnability_train job per seed (2 in the tiny config), each writing the model,
    metrics and per-step losses of all five families for its seed."""
    import re

    configfile, config = tiny_study_config(tmp_path, "learnability")
    proc = snakemake(tmp_path / "work", "-n", "figures/learnability/all", configfile=configfile)
    seeds, families = config["learnability"]["seeds"], list(config["learnability"]["families"])
    assert scheduled_rules(proc.stdout)["learnability_train"] == len(seeds) == 2
    blocks = re.findall(r"rule learnability_train:\n\s+output: (.+)\n(?:.*\n)*?\s+wildcards: seed=(\d+)", proc.stdout)
    assert sorted(int(seed) for _, seed in blocks) == seeds
    for outputs, seed in blocks:
        assert sorted(outputs.split(", ")) == sorted(
            f"results/learnability/{f}/seed{seed}/{name}"
            for f in families
            for name in ("model.pt", "metrics.parquet", "losses.npz")
        )
