"""The hierarchy study's config: the schema and the study's semantic checks name the bad key."""

from __future__ import annotations

import pytest

from tests.helpers import SCHEMA, default_config, mutated_config


@pytest.mark.parametrize(
    "path,value,fragment",
    [
        (("tree", "branching_factor"), 3, "hierarchy.tree.branching_factor"),
        (("tree", "sampling"), "random", "hierarchy.tree.sampling"),
        (("tree", "depths"), [0, 1], "hierarchy.tree.depths[0]"),
        (("tms", "sparsities"), [0.0, 1.0], "hierarchy.tms.sparsities[1]"),
        (("training", "lr_schedule"), "step", "hierarchy.training.lr_schedule"),
        (("analysis", "statistic"), "max", "hierarchy.analysis.statistic"),
        (("model", "init"), "xavier", "hierarchy.model.init"),
        (("model", "init_instances"), 0, "hierarchy.model.init_instances"),
        (("training", "typo_key"), 1, "hierarchy.training"),
    ],
)
def test_schema_rejects_bad_values(path, value, fragment):
    from featurelab.config import schema_errors

    assert schema_errors(default_config(), SCHEMA) == []
    errors = schema_errors(mutated_config(["hierarchy", *path], value), SCHEMA)
    assert errors and any(fragment in e for e in errors), errors


def test_semantic_errors_name_the_key():
    from featurelab.config import semantic_errors

    bad = mutated_config(["hierarchy", "analysis", "directions_depth"], 9)
    assert any("hierarchy.analysis.directions_depth" in e for e in semantic_errors(bad))
    bad = mutated_config(["hierarchy", "model", "n_hidden"], [3, 4])
    assert any("hierarchy.model.n_hidden" in e for e in semantic_errors(bad))
