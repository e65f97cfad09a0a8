"""The superposition study's config: the default is valid, bad values are named by their key."""

from __future__ import annotations

import pytest

from featurelab.config import ConfigError
from tests.helpers import check_config, default_config, mutated_config


def test_default_config_is_valid():
    check_config(default_config())


@pytest.mark.parametrize(
    "path, value, message",
    [
        (["superposition", "autoencoder", "code_dim"], 3, "superposition.autoencoder.code_dim"),
        (["superposition", "autoencoder", "record_epochs"], [-1], "superposition.autoencoder.record_epochs[0]"),
        (["superposition", "classifier", "learning_rate"], 0, "superposition.classifier.learning_rate"),
        (["superposition", "analysis", "split"], "valid", "superposition.analysis.split"),
        (["superposition", "claims", "min_test_accuracy"], 1.5, "superposition.claims.min_test_accuracy"),
        (["superposition", "autoencoder", "tide"], True, "superposition.autoencoder"),
        (["superposition", "seeds"], [], "superposition.seeds"),
    ],
)
def test_schema_rejects_bad_values(path, value, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_config(mutated_config(path, value))


def test_record_epochs_beyond_training_are_rejected():
    config = mutated_config(["superposition", "autoencoder", "record_epochs"], [0, 25])
    with pytest.raises(ConfigError, match=r"superposition.autoencoder.record_epochs': \[25\] exceed"):
        check_config(config)
