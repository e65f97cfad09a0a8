"""The learnability study's config: bad values are named by their key; the default and tiny configs are
valid."""

from __future__ import annotations

import pytest

from featurelab.config import ConfigError, validate_config
from tests.helpers import SCHEMA, default_config, merged_config, mutated_config, tiny


@pytest.mark.parametrize(
    "path, value, message",
    [
        (("training", "batch_size"), 0, "learnability.training.batch_size"),
        (("training", "learning_rate"), -1e-3, "learnability.training.learning_rate"),
        (("families", "run_all", "epochs"), 0, "learnability.families.run_all.epochs"),
        (("families", "run_all", "tasks"), [{"generator": "nope"}], "learnability.families.run_all.tasks[0]"),
        (
            ("families", "run_all", "tasks"),
            [{"generator": "distractors", "k": 0}],
            "learnability.families.run_all.tasks[0]",
        ),
        (
            ("families", "run_all", "tasks"),
            [{"generator": "sum", "scale": 2}],
            "learnability.families.run_all.tasks[0]",
        ),
        (("families", "Bad-Name"), {"epochs": 1, "tasks": [{"generator": "constant"}]}, "learnability.families"),
        (("claims", "min_fraction_of_seeds"), 1.5, "learnability.claims.min_fraction_of_seeds"),
        (("model", "width"), 8, "learnability.model"),
        (("claims", "best_scale_range"), [5, 0.5], "learnability.claims.best_scale_range"),
        (("claims", "not_converged_mse"), 0.01, "learnability.claims.not_converged_mse"),
        (("claims", "slower_factor"), 1.0, "learnability.claims.slower_factor"),
        (("claims", "much_slower_factor"), 1.2, "learnability.claims.much_slower_factor"),
    ],
)
def test_schema_rejects_bad_values(path, value, message):
    config = mutated_config(["learnability", *path], value)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        validate_config(config, SCHEMA)


def test_default_and_tiny_configs_validate():
    validate_config(default_config(), SCHEMA)
    validate_config(merged_config(default_config(), tiny()), SCHEMA)  # as --configfile merges it
