"""The real workflow on the tiny config: outputs, manifest, schemas, and what an edit reruns."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest
import yaml

from featurelab.io import read_provenance
from tests.helpers import assert_claims_table, scheduled_rules, snakemake

pytestmark = pytest.mark.e2e

#: The studies of the session's shared tiny tree this module copies.
TINY_STUDIES = ["complexity"]

FIGURES = ["variance_curves", "accuracy_curves", "final_variance"]
RUN_COLUMNS = ["study", "condition", "seed", "epoch", "split", "feature_index", "feature", "metric", "value"]
SUMMARY_COLUMNS = "condition epoch split feature_index feature metric mean sd n ci_low ci_high".split()


@pytest.fixture(scope="module")
def tiny_run(tiny_trees, tmp_path_factory):
    """A complete tiny run of the complexity study (``figures/all`` with only complexity configured; a copy
    of the session's shared tree, shared by the tests below, which run in order)."""
    workdir, configfile, _ = tiny_trees.workdir(tmp_path_factory.mktemp("complexity") / "work", TINY_STUDIES)
    return workdir, configfile


def test_figures_and_manifest(tiny_run):
    workdir, _ = tiny_run
    manifest = pd.read_csv(workdir / "figures" / "all", sep="\t")
    expected = {f"figures/complexity/{name}.{ext}" for name in [*FIGURES, "claims"] for ext in ("pdf", "png")}
    assert set(manifest["path"]) == expected
    for row in manifest.itertuples():
        data = (workdir / row.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row.sha256
        assert data[:4] == (b"%PDF" if row.path.endswith(".pdf") else b"\x89PNG")
        table = "claims" if row.path.startswith("figures/complexity/claims.") else "summary"
        assert row.source == f"results/complexity/{table}.parquet"
        assert len(row.config_hash) == 16
    assert (manifest["study"] == "complexity").all()


def test_parquet_schemas_and_provenance(tiny_run):
    workdir, _ = tiny_run
    results = workdir / "results" / "complexity"
    runs = pd.read_parquet(results / "runs.parquet")
    assert list(runs.columns) == RUN_COLUMNS
    assert set(runs["metric"]) >= {
        "loss",
        "accuracy",
        "total_variance",
        "r2_weighted",
        "r2_unweighted",
        "r2_weighted_normalized",
        "r2_unweighted_normalized",
    }
    assert sorted(runs["seed"].unique()) == [0, 1]
    assert sorted(runs["epoch"].unique()) == [0, 1, 2, 3]  # epoch 0 is before any update
    assert list(pd.read_parquet(results / "summary.parquet").columns) == SUMMARY_COLUMNS
    claims = pd.read_parquet(results / "claims.parquet")
    assert_claims_table(claims)  # every verdict follows from its interval, side and threshold
    assert set(claims["claim"]) == {
        "both_features_learned",
        "easy_feature_dominates_variance",
        "easy_feature_learned_first",
        "paper_anchor_easy_variance_at_least",
        "paper_anchor_easy_variance_at_most",
        "paper_anchor_hard_variance",
    }
    assert sorted(claims.loc[claims["claim"] == "both_features_learned", "condition"]) == [
        "linear-vs-and_and_and",
        "linear-vs-xor_xor_xor",
    ]
    assert (claims.loc[claims["verdict"] == "INCONCLUSIVE", "reason"] != "").all()
    assert (results / "claims.md").read_text().count("|") > 10
    record = read_provenance(results / "runs.parquet")
    assert record["featurelab_version"] and record["libraries"]["torch"].startswith("2.13.0")
    assert {"git_commit", "git_dirty", "config", "config_hash"} <= set(record)


def test_nothing_to_do_after_a_complete_run(tiny_run):
    workdir, configfile = tiny_run
    out = snakemake(workdir, "figures/all", "-n", configfile=configfile)
    assert scheduled_rules(out.stdout) == {}, out.stdout[-2000:]


def edited(configfile, tmp_path, edit) -> object:
    config = yaml.safe_load(configfile.read_text())
    edit(config)
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_claims_threshold_edit_reruns_only_claims(tiny_run, tmp_path):
    workdir, configfile = tiny_run
    changed = edited(
        configfile, tmp_path, lambda c: c["complexity"].setdefault("claims", {}).update({"min_variance_gap": 0.3})
    )
    out = snakemake(workdir, "figures/all", "-n", configfile=changed)
    assert scheduled_rules(out.stdout) == {
        "complexity_claims": 1,
        "claims_figure": 1,
        "complexity_all": 1,
        "figures_all": 1,
    }


def test_figure_setting_edit_reruns_only_figures(tiny_run, tmp_path):
    workdir, configfile = tiny_run
    changed = edited(configfile, tmp_path, lambda c: c["figures"].update({"dpi": 72}))
    out = snakemake(workdir, "figures/all", "-n", configfile=changed)
    assert scheduled_rules(out.stdout) == {
        "complexity_figure": 3,
        "claims_figure": 1,
        "complexity_all": 1,
        "figures_all": 1,
    }


def test_epoch_edit_retrains_but_keeps_datasets(tiny_run, tmp_path):
    workdir, configfile = tiny_run
    changed = edited(configfile, tmp_path, lambda c: c["complexity"]["training"].update({"epochs": 4}))
    out = snakemake(workdir, "figures/all", "-n", configfile=changed)
    jobs = scheduled_rules(out.stdout)
    assert "complexity_dataset" not in jobs
    assert jobs["complexity_train"] == 2 and jobs["complexity_aggregate"] == 1  # one per seed


def test_single_figure_builds_by_path(tiny_run):
    workdir, configfile = tiny_run
    target = workdir / "figures" / "complexity" / "accuracy_curves.png"
    target.unlink()
    snakemake(workdir, "figures/complexity/accuracy_curves.png", configfile=configfile)
    assert target.exists()


def test_bad_config_stops_before_any_job(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"complexity": {"feature_pairs": [["linear", "xor_nand_or"]]}}))
    proc = snakemake(tmp_path, "figures/all", configfile=bad, check=False)
    assert proc.returncode != 0
    assert "config key 'complexity.feature_pairs[0][1]': 'xor_nand_or'" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_command_line_override_is_validated_too(tmp_path):
    proc = snakemake(tmp_path, "figures/all", "-n", "--config", "device=tpu", check=False)
    assert proc.returncode != 0
    assert "config key 'device': 'tpu' is not one of ['auto', 'cpu', 'cuda']" in proc.stdout + proc.stderr


def test_command_line_override_reruns_only_what_it_touches(tiny_run):
    """--config key=value overrides (top-level keys; Snakemake passes nested values as strings)."""
    workdir, configfile = tiny_run
    same = snakemake(workdir, "figures/all", "-n", "--config", "device=cpu", configfile=configfile)
    assert scheduled_rules(same.stdout) == {}
    other = snakemake(workdir, "figures/all", "-n", "--config", "device=auto", configfile=configfile)
    jobs = scheduled_rules(other.stdout)
    assert jobs["complexity_train"] == 2 and "complexity_dataset" not in jobs  # one per seed
