"""The geometry study's config: the shipped sections are valid, the schema and the study's semantic checks
name the bad key, and the fraction labels."""

from __future__ import annotations

import re

import numpy as np
import pytest

from featurelab.config import load_yaml
from featurelab.studies import geometry
from featurelab.studies.geometry import train
from tests.helpers import REPO, study_section, tiny


def schema_errors(section: dict) -> list[str]:
    from featurelab.config import schema_errors as errors

    return errors(section, REPO / "workflow" / "schemas" / "geometry.schema.yaml")


@pytest.mark.parametrize("section", [study_section("geometry"), study_section("geometry", tiny())])
def test_shipped_sections_are_valid(section):
    assert schema_errors(section) == []
    assert geometry.config_errors({"geometry": section}) == []


def test_full_scale_section_is_valid():
    section = study_section("geometry", load_yaml(REPO / "config" / "full.yaml"))
    assert schema_errors(section) == [] and geometry.config_errors({"geometry": section}) == []
    assert section["model"] == {"n_features": 400, "n_hidden": 30, "init": "colab"}


@pytest.mark.parametrize(
    "path, value, message",
    [
        (("model", "n_hiddn"), 30, "model.*unknown keys"),
        (("training", "steps"), 0, "training.steps"),
        (("sweep", "inverse_density_min"), 0.5, "sweep.inverse_density_min"),
        (("sweep", "inverse_densities"), [0.5, 2.0], r"sweep.inverse_densities\[0\]"),
        (("analysis", "fractions"), ["1/2", "half"], r"analysis.fractions\[1\]"),
        (("model", "init"), "xavier", "model.init"),
    ],
)
def test_schema_rejects_bad_values_naming_the_key(path, value, message):
    section = study_section("geometry")
    section[path[0]][path[1]] = value
    errors = schema_errors(section)
    assert errors and any(re.search(message, e) for e in errors), errors


@pytest.mark.parametrize(
    "path, value, key",
    [
        (("model", "n_hidden"), 400, "geometry.model.n_hidden"),
        (("sweep", "inverse_density_max"), 0.9, "geometry.sweep.inverse_density_max"),
        (("sweep", "inverse_densities"), [1.0, 3.0, 2.0], "geometry.sweep.inverse_densities"),
        (("training", "log_every"), 20000, "geometry.training.log_every"),
        (("analysis", "fractions"), ["1/2", "3/0"], "geometry.analysis.fractions[1]"),
        (("analysis", "fractions"), ["1/2", "3/2"], "geometry.analysis.fractions[1]"),
        (("analysis", "fractions"), ["1/2", "2/4"], "geometry.analysis.fractions"),
        (("claims", "tolerance"), 0.02, "geometry.claims.tolerance"),
    ],
)
def test_semantic_checks_name_the_key(path, value, key):
    section = study_section("geometry")
    section[path[0]][path[1]] = value
    errors = geometry.config_errors({"geometry": section})
    assert len(errors) == 1 and errors[0].startswith(f"config key '{key}'"), errors
    assert geometry.config_errors({}) == []


def test_fraction_labels_follow_the_paper():
    assert geometry.fraction_label("1/2") == "1/2 (digon: antipodal pair)"
    assert geometry.fraction_label("3/8") == "3/8 (square antiprism)"
    assert geometry.fraction_label("2/7") == "2/7"
    np.testing.assert_allclose(
        1 / train.feature_probabilities({"n_instances": 3, "inverse_density_min": 1, "inverse_density_max": 100}),
        [1, 10, 100],
    )


def test_a_listed_sweep_replaces_the_grid_and_an_empty_list_selects_it():
    grid = {"n_instances": 3, "inverse_density_min": 1, "inverse_density_max": 100}
    np.testing.assert_allclose(train.inverse_densities({**grid, "inverse_densities": [1.5, 4.0]}), [1.5, 4.0])
    np.testing.assert_allclose(train.inverse_densities({**grid, "inverse_densities": []}), [1, 10, 100])
    with pytest.raises(ValueError, match="geometry.sweep.inverse_densities"):
        train.inverse_densities({**grid, "inverse_densities": [2.0, 2.0]})


def test_the_default_sweep_samples_both_drops_from_the_colab_grid():
    """Where m/||W||_F^2 drops (1/(1-S) ~ 1.5-2.4 and 3.6-5.6) the default has at least 3 and 2 instances,
    each a point of the colab's 20-point grid (to its 4 decimals)."""
    sweep = study_section("geometry")["sweep"]
    listed = train.inverse_densities(sweep)
    grid = train.inverse_densities({**sweep, "inverse_densities": []})
    assert ((listed >= 1.5) & (listed <= 2.4)).sum() >= 3 and ((listed >= 3.6) & (listed <= 5.6)).sum() >= 2
    assert np.abs(listed[:, None] - grid[None, :]).min(axis=1).max() < 1e-4
