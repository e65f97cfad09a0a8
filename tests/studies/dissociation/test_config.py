"""The dissociation study's config: the schema and the study's semantic checks name the bad key."""

from __future__ import annotations

import pytest

from featurelab.config import ConfigError, schema_errors, validate_config
from tests.helpers import SCHEMA, default_config, mutated_config


@pytest.mark.parametrize(
    "path, value, message",
    [
        (("model", "hidden_widths"), [64, 64, 64], "hidden_widths"),
        (("manipulations", "duplicate_multiplier", "noise"), 0.5, "noise"),
        (("manipulations", "scale_factor"), -2, "scale_factor"),
        (("evaluation", "input_noise", "n"), 1, "n"),
        (("plot", "band"), "iqr", "band"),
        (("transfer", "sample_fractions"), [0.0, 1.0], "sample_fractions"),
        (("training", "momentum"), 0.9, "unknown keys"),
        (("transfer", "probe"), "sgd", "probe"),
        (("transfer", "repo", "learning_rate"), 0, "learning_rate"),
    ],
)
def test_schema_rejects_bad_values(path, value, message):
    errors = schema_errors(mutated_config(["dissociation", *path], value), SCHEMA)
    assert any("dissociation" in e and message in e for e in errors), errors


def test_semantic_error_for_inverted_grid():
    cfg = default_config()
    cfg["dissociation"]["evaluation"]["parameter_noise"].update(min=1.0, max=1e-4)
    with pytest.raises(ConfigError, match="dissociation.evaluation.parameter_noise"):
        validate_config(cfg, SCHEMA)
