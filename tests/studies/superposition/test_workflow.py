"""The real workflow for figures/superposition/all on the tiny config: figures, manifest, parquet schemas,
claims, and that a claims edit reruns only the claims."""

from __future__ import annotations

import copy
import hashlib

import pandas as pd
import pytest

from featurelab.io import read_provenance
from tests.helpers import assert_claims_table, default_config, scheduled_rules, snakemake, write_yaml

pytestmark = pytest.mark.e2e

#: The studies of the session's shared tiny tree this module copies.
TINY_STUDIES = ["superposition"]

FIGURES = ["feature_arrows", "feature_geometry", "wdec_wenc", "training_curves"]


@pytest.fixture(scope="module")
def tiny_run(tiny_trees, tmp_path_factory):
    """A complete tiny run of figures/superposition/all (a copy of the session's shared tree)."""
    return tiny_trees.workdir(tmp_path_factory.mktemp("superposition") / "work", TINY_STUDIES, figures_all=False)


def test_figures_manifest_and_tables(tiny_run):
    workdir, configfile, config = tiny_run
    manifest = pd.read_csv(workdir / "figures" / "superposition" / "all", sep="\t")
    figures = [*FIGURES, "claims"]
    assert set(manifest["path"]) == {f"figures/superposition/{n}.{e}" for n in figures for e in ("pdf", "png")}
    for row in manifest.itertuples():
        data = (workdir / row.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row.sha256
        assert data[:4] == (b"%PDF" if row.path.endswith(".pdf") else b"\x89PNG")
        claims_figure = row.path.startswith("figures/superposition/claims.")
        source = "claims" if claims_figure else "summary"
        assert row.source == f"results/superposition/{source}.parquet"
    res = workdir / "results" / "superposition"
    sp = config["superposition"]
    training = pd.read_parquet(res / "training.parquet")
    assert list(training.columns) == ["study", "phase", "seed", "epoch", "split", "metric", "value"]
    assert sorted(training["seed"].unique()) == sp["seeds"]
    ae = training[training["phase"] == "autoencoder"]
    assert sorted(ae["epoch"].unique()) == list(range(sp["autoencoder"]["epochs"] + 1))
    features = pd.read_parquet(res / "features.parquet")
    assert list(features.columns) == ["study", "seed", "epoch", "feature", "importance_rank", "metric", "value"]
    assert sorted(features["epoch"].unique()) == sp["autoencoder"]["record_epochs"]
    per = features[features["feature"] >= 0]
    assert per.groupby(["seed", "epoch", "metric"]).size().eq(49).all()
    summary = pd.read_parquet(res / "summary.parquet")
    assert list(summary.columns) == "kind phase split epoch importance_rank metric mean sd n ci_low ci_high".split()
    wtw = pd.read_parquet(res / "wdec_wenc_summary.parquet")
    assert len(wtw) == 49 * 49
    claims = pd.read_parquet(res / "claims.parquet")
    assert list(claims["claim"]) == [
        "classifier_accurate",
        "reconstruction_improves",
        "importance_tracks_w_norm",
        "importance_tracks_w_norm_vs_init",
        "about_two_features",
    ]
    assert claims["n_seeds"].between(1, len(sp["seeds"])).all()
    record = read_provenance(res / "summary.parquet")
    assert {"git_commit", "config", "config_hash"} <= set(record)


def test_bit_identical_rerun_and_claims_edit(tiny_run, tmp_path):
    workdir, configfile, config = tiny_run
    target = workdir / "results/superposition/seed0/features.parquet"
    before = target.read_bytes()
    out = snakemake(workdir, "figures/superposition/all", "-n", configfile=configfile)
    assert scheduled_rules(out.stdout) == {}
    other = copy.deepcopy(config)  # the module's tiny run keeps its own config
    other["superposition"].setdefault("claims", {})["min_spearman"] = 0.5
    edited = write_yaml(tmp_path / "edited.yaml", other)
    out = snakemake(workdir, "figures/superposition/all", "-n", configfile=edited)
    assert scheduled_rules(out.stdout) == {"superposition_claims": 1, "claims_figure": 1, "superposition_all": 1}
    # same config + seed = bit-identical parquet (the analysis job rerun from the same inputs)
    snakemake(workdir, "results/superposition/seed0/features.parquet", "-f", configfile=configfile)
    assert target.read_bytes() == before


def test_claims_table_agrees_with_its_intervals_and_is_reproduced(tiny_run):
    from featurelab.studies.superposition.claims import evaluate

    workdir, _, config = tiny_run
    res = workdir / "results" / "superposition"
    claims = pd.read_parquet(res / "claims.parquet")
    assert_claims_table(claims)  # every verdict the one its interval, side, threshold and precondition give
    pre = claims.set_index("claim")["precondition"]
    assert pre["classifier_accurate"] == "" and (pre.drop("classifier_accurate") != "").all()
    undecided = (claims["verdict"] == "INCONCLUSIVE") | ~claims["precondition_met"]
    assert (claims.loc[undecided, "reason"] != "").all()  # an INCONCLUSIVE or unmet precondition says why
    tables = {name: pd.read_parquet(res / f"{name}.parquet") for name in ("training", "features")}
    params = {
        "claims": merged_claims(config),
        "importance_mass": config["superposition"]["analysis"]["importance_mass"],
    }
    pd.testing.assert_frame_equal(evaluate(tables, params), claims)


def merged_claims(config: dict) -> dict:
    """The claims settings the tiny run used: the default's, overridden by the tiny config's."""
    return {**default_config()["superposition"]["claims"], **config["superposition"].get("claims", {})}
