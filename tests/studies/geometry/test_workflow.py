"""The geometry rules end to end on the tiny config: outputs, manifest, what a config edit reruns, and a
bad config stopping before any job."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from featurelab.studies.geometry.claims import PAPER_FRACTIONS, PAPER_PLATEAUS
from tests.helpers import assert_claims_table, scheduled_rules, snakemake

pytestmark = pytest.mark.e2e

#: The studies of the session's shared tiny tree this module copies.
TINY_STUDIES = ["geometry"]


@pytest.fixture(scope="module")
def tiny_run(tiny_trees, tmp_path_factory):
    """A complete tiny run with only geometry configured (a copy of the session's shared tree)."""
    workdir, configfile, _ = tiny_trees.workdir(tmp_path_factory.mktemp("geometry") / "work", TINY_STUDIES)
    return workdir, configfile


def test_the_study_writes_every_output(tiny_run):
    workdir, configfile = tiny_run
    claims = pd.read_parquet(workdir / "results" / "geometry" / "claims.parquet")
    assert_claims_table(claims)  # every verdict follows from its interval, side and threshold
    assert claims["claim"].tolist() == [
        *(f"plateau_{text.replace('/', '_')}" for text in PAPER_PLATEAUS),
        *(f"pileup_{text.replace('/', '_')}" for text in PAPER_FRACTIONS),
        "dims_per_feature_fall",
    ]
    assert (workdir / "results" / "geometry" / "claims.md").read_text().startswith("# geometry:")
    for name in ("dimensionality", "training_loss", "claims"):
        for ext in ("pdf", "png"):
            assert (workdir / "figures" / "geometry" / f"{name}.{ext}").stat().st_size > 1000
    manifest = pd.read_csv(workdir / "figures" / "geometry" / "all", sep="\t")
    assert len(manifest) == 6 and set(manifest["source"]) <= {
        f"results/geometry/{t}.parquet" for t in ("features", "instances", "curves", "claims")
    }
    assert (workdir / "results" / "logs" / "geometry" / "train" / "seed0.log").exists()
    assert "Nothing to be done" in snakemake(workdir, "-n", "figures/all", configfile=configfile).stdout


def test_a_config_edit_reruns_only_what_reads_it(tiny_run, tmp_path):
    workdir, configfile = tiny_run

    def dry_run(edit) -> dict[str, int]:
        config = yaml.safe_load(configfile.read_text())
        edit(config["geometry"])
        other = tmp_path / "other.yaml"
        other.write_text(yaml.safe_dump(config))
        return scheduled_rules(snakemake(workdir, "-n", "figures/all", configfile=other).stdout)

    assert dry_run(lambda g: g["claims"].update(min_enrichment=2.5)) == {
        "geometry_claims": 1,
        "claims_figure": 1,
        "geometry_all": 1,
        "figures_all": 1,
    }
    # the figures' bins follow the tolerance
    assert dry_run(lambda g: g["claims"].update(tolerance=0.005)) == {
        "geometry_claims": 1,
        "claims_figure": 1,
        "geometry_figure": 2,
        "geometry_all": 1,
        "figures_all": 1,
    }
    # a new seed trains only that seed
    counts = dry_run(lambda g: g.update(seeds=[*g["seeds"], max(g["seeds"]) + 1]))
    assert counts["geometry_train"] == 1 and counts["geometry_aggregate"] == 1


def test_a_bad_config_stops_before_any_job_naming_the_key(tiny_run, tmp_path):
    workdir, configfile = tiny_run
    for edit, key in (
        (lambda g: g["claims"].update(tolerance=0.05), "geometry.claims.tolerance"),
        (lambda g: g["model"].update(n_hiden=3), "geometry.model"),
    ):
        config = yaml.safe_load(configfile.read_text())
        edit(config["geometry"])
        bad = tmp_path / "bad.yaml"
        bad.write_text(yaml.safe_dump(config))
        proc = snakemake(workdir, "-n", "figures/all", configfile=bad, check=False)
        assert proc.returncode != 0 and f"config key '{key}" in proc.stdout + proc.stderr
