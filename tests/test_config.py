"""The config schema: every kind of bad value stops the run with one message naming key and value."""

from __future__ import annotations

import pytest
import yaml

from featurelab.config import ConfigError, validate_config
from tests.helpers import REPO, SCHEMA, TINY_CONFIG, check_config, default_config, merged_config, mutated_config


def test_default_config_is_valid():
    check_config(default_config())


@pytest.mark.parametrize("overlay", [REPO / "config" / "full.yaml", TINY_CONFIG])
def test_overlay_configs_merged_over_default_are_valid(overlay):
    """--configfile X is merged over the embedded default, as Snakemake does."""
    check_config(merged_config(default_config(), yaml.safe_load(overlay.read_text())))


@pytest.mark.parametrize(
    "path, value, expected",
    [
        (["complexity", "dataset", "n_train"], "many", "'complexity.dataset.n_train': 'many' is not of type 'integer'"),
        (["complexity", "training", "learning_rate"], "fast", "'complexity.training.learning_rate': 'fast'"),
        (
            ["complexity", "feature_pairs"],
            [["linear", "xor_nand_or"]],
            "'complexity.feature_pairs[0][1]': 'xor_nand_or'",
        ),
        (["complexity", "training", "epochs"], 0, "'complexity.training.epochs': 0 is less than the minimum of 1"),
        (["complexity", "training", "epochs"], -5, "'complexity.training.epochs': -5"),
        (["complexity", "training", "optimizer"], "adamw", "'complexity.training.optimizer': 'adamw'"),
        (["complexity", "seeds"], [], "'complexity.seeds': [] should be non-empty"),
        (["complexity", "seeds"], [0, 0], "'complexity.seeds'"),
        (["device"], "tpu", "'device': 'tpu'"),
    ],
)
def test_bad_values_are_named(path, value, expected):
    with pytest.raises(ConfigError) as err:
        check_config(mutated_config(path, value))
    message = str(err.value)
    assert expected in message
    assert "\n" not in message, "one line, not a jsonschema dump"


@pytest.mark.parametrize("path", [["complexity", "model", "widths"], ["complexity", "epochs"], ["devices"]])
def test_unknown_keys_are_rejected(path):
    with pytest.raises(ConfigError, match=f"'{path[-1]}' was unexpected"):
        check_config(mutated_config(path, 3))


def test_missing_required_section_is_named():
    config = default_config()
    del config["complexity"]["claims"]
    with pytest.raises(ConfigError, match="'claims' is a required property"):
        check_config(config)


def test_reference_pair_must_be_configured():
    config = mutated_config(["complexity", "claims", "reference_pair"], ["linear", "xor_or_and"])
    with pytest.raises(ConfigError, match="complexity.claims.reference_pair"):
        check_config(config)


def test_defaults_are_filled_in():
    config = default_config()
    del config["device"]
    validate_config(config, SCHEMA)
    assert config["device"] == "auto"
