"""Claims as regions: the grid of a robustness section, its checks (each bad knob named before any job), the
module rule files, the tidy table, and a tiny sweep end to end (two values of one knob, one of them the
default's: its point is the main run's, trained once)."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from featurelab.config import ConfigError, validate_config
from featurelab.robustness import grid_points, point_name, region_table, write_module_files
from tests.helpers import REPO, default_config, merged_config, scheduled_rules, snakemake, tiny, write_yaml

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
#: The studies of the session's shared tiny tree the end-to-end test copies.
TINY_STUDIES = ["hierarchy"]


def tiny_with(robustness: dict) -> dict:
    """The tiny config, validated (defaults filled in as the workflow fills them), with a robustness section."""
    config = merged_config(default_config(), tiny())
    validate_config(config, SCHEMA)
    config["robustness"] = copy.deepcopy(robustness)
    return config


def test_the_grid_is_the_product_of_the_knobs_and_the_default_point_is_found():
    steps = tiny()["hierarchy"]["training"]["steps"]
    config = tiny_with(
        {
            "hierarchy": {
                "knobs": {"hierarchy.training.steps": [steps, 50], "hierarchy.training.learning_rate": [0.01, 0.1]}
            }
        }
    )
    points = grid_points(config, SCHEMA)["hierarchy"]
    assert [p.name for p in points] == [
        f"training.steps={steps},training.learning_rate=0.01",
        f"training.steps={steps},training.learning_rate=0.1",
        "training.steps=50,training.learning_rate=0.01",
        "training.steps=50,training.learning_rate=0.1",
    ]
    assert [p.is_default for p in points] == [True, False, False, False]  # tiny's learning rate is 0.01
    assert points[0].claims_path == "results/hierarchy/claims.parquet"
    assert points[3].claims_path.startswith("results/robustness/hierarchy/points/training.steps=50,")
    assert points[3].config["hierarchy"]["training"]["learning_rate"] == 0.1
    assert points[3].config["studies"] == ["hierarchy"] and "robustness" not in points[3].config
    assert config["hierarchy"]["training"]["steps"] == steps  # the main config is not changed


def test_a_base_overlay_is_shared_by_every_point():
    config = tiny_with(
        {"hierarchy": {"knobs": {"hierarchy.training.steps": [50]}, "base": {"hierarchy": {"seeds": [3]}}}}
    )
    (point,) = grid_points(config, SCHEMA)["hierarchy"]
    assert point.config["hierarchy"]["seeds"] == [3] and not point.is_default


@pytest.mark.parametrize(
    "robustness, message",
    [
        ({"hierarchy": {"knobs": {"hierarchy.training.stepz": [1]}}}, "knob 'hierarchy.training.stepz' is not a key"),
        ({"hierarchy": {"knobs": {"complexity.training.epochs": [1]}}}, "is not read by study hierarchy"),
        ({"hierarchy": {"knobs": {"hierarchy.training.steps": [0]}}}, "grid point training.steps=0: config key 'hierarchy.training.steps'"),
        ({"hierarchy": {"knobs": {"hierarchy.training.steps": [5]}, "base": {"geometry": {}}}}, "robustness.hierarchy.base.geometry"),
    ],
)  # fmt: skip
def test_a_bad_knob_is_named(robustness, message):
    with pytest.raises(ConfigError, match="robustness.hierarchy") as error:
        grid_points(tiny_with(robustness), SCHEMA)
    assert message in str(error.value)


def test_the_schema_rejects_three_knobs_and_an_unknown_study():
    bad = merged_config(default_config(), tiny())
    bad["robustness"] = {"hierarchy": {"knobs": {"a": [1], "b": [1], "c": [1]}}}
    with pytest.raises(ConfigError, match="robustness.hierarchy.knobs"):
        validate_config(bad, SCHEMA)
    bad["robustness"] = {"hierarchi": {"knobs": {"a": [1]}}}
    with pytest.raises(ConfigError, match="robustness"):
        validate_config(bad, SCHEMA)


def test_a_point_name_is_a_plain_folder_name():
    assert point_name("complexity", [("complexity.feature_pairs", [["linear", "xor_xor_xor"]])]) == (
        "feature_pairs=linear+xor_xor_xor"
    )


def test_module_files_are_written_for_the_non_default_points_only(tmp_path):
    config = tiny_with(
        {"hierarchy": {"knobs": {"hierarchy.training.steps": [tiny()["hierarchy"]["training"]["steps"], 50]}}}
    )
    points = grid_points(config, SCHEMA)["hierarchy"]
    (path,) = write_module_files(points, "/repo/workflow/Snakefile", tmp_path)
    text = open(path).read()
    assert "module robustness_hierarchy_1:" in text and "use rule * from robustness_hierarchy_1 as" in text
    assert "prefix:\n        'results/robustness/hierarchy/points/training.steps=50'" in text
    mtime = (tmp_path / "robustness_hierarchy_1.smk").stat().st_mtime_ns
    write_module_files(points, "/repo/workflow/Snakefile", tmp_path)
    assert (tmp_path / "robustness_hierarchy_1.smk").stat().st_mtime_ns == mtime  # unchanged text, same file


def test_the_region_table_has_a_row_per_point_and_claim_with_the_knobs_as_columns():
    claims = pd.DataFrame({"claim": ["a", "b"], "verdict": ["PASS", "FAIL"]})
    rows = [
        {"point": "x=1", "default_point": True, "knobs": {"s.x": 1}},
        {"point": "x=2", "default_point": False, "knobs": {"s.x": 2}},
    ]
    table = region_table([claims, claims], rows, "s")
    assert table[["point", "s.x", "claim"]].values.tolist() == [
        ["x=1", 1, "a"],
        ["x=1", 1, "b"],
        ["x=2", 2, "a"],
        ["x=2", 2, "b"],
    ]
    assert table["default_point"].tolist() == [True, True, False, False]


@pytest.mark.e2e
def test_a_tiny_sweep_judges_every_claim_at_every_point_and_trains_the_default_once(tiny_trees, tmp_path):
    workdir, _, config = tiny_trees.workdir(tmp_path / "work", TINY_STUDIES)
    steps = config["hierarchy"]["training"]["steps"]
    config["robustness"] = {"hierarchy": {"knobs": {"hierarchy.training.steps": [steps, steps // 2]}}}
    configfile = write_yaml(tmp_path / "sweep.yaml", config)
    planned = scheduled_rules(snakemake(workdir, "-n", "robustness/all", configfile=configfile).stdout)
    assert "hierarchy_train" not in planned  # the default point is the tree's own run: not trained again
    assert planned["robustness_hierarchy_1_hierarchy_train"] == len(config["hierarchy"]["seeds"])
    snakemake(workdir, "robustness/all", configfile=configfile)
    table = pd.read_parquet(workdir / "results" / "robustness" / "hierarchy" / "claims.parquet")
    own = pd.read_parquet(workdir / "results" / "hierarchy" / "claims.parquet")
    assert len(table) == 2 * len(own) and table["hierarchy.training.steps"].tolist() == [steps] * len(own) + [
        steps // 2
    ] * len(own)
    pd.testing.assert_frame_equal(table[table["default_point"]][own.columns].reset_index(drop=True), own)
    assert set(table["verdict"]) <= {"PASS", "FAIL", "INCONCLUSIVE"}
    points = workdir / "results" / "robustness" / "hierarchy" / "points"
    assert [p.name for p in points.iterdir()] == [f"training.steps={steps // 2}"]
    for ext in ("pdf", "png"):
        assert (workdir / "figures" / "robustness" / "hierarchy" / f"regions.{ext}").stat().st_size > 1000
    assert "Nothing to be done" in snakemake(workdir, "-n", "robustness/all", configfile=configfile).stdout


@pytest.mark.e2e
def test_a_bad_knob_stops_the_workflow_before_any_job(tmp_path):
    config = tiny()
    config["robustness"] = {"hierarchy": {"knobs": {"hierarchy.training.stepz": [1, 2]}}}
    configfile = write_yaml(tmp_path / "bad.yaml", config)
    run = snakemake(tmp_path, "-n", "robustness/all", configfile=configfile, check=False)
    assert run.returncode != 0
    assert "knob 'hierarchy.training.stepz' is not a key of the config" in run.stdout + run.stderr
