"""dissociation - Braun, Grant & Saxe (ICML 2025), "Not all solutions are created equal" (reference
notebook 003).

Manipulations that leave an MNIST MLP's function unchanged (scaled, duplicated or nuisance neurons, a
null-space perturbation) change its hidden representation: invisible to input-noise robustness,
visible to parameter-noise robustness and to transfer (a probe on the second hidden layer).
"""

from __future__ import annotations

#: The study's name in random-stream names, tables and error messages.
STUDY = "dissociation"


def config_errors(config: dict) -> list[str]:
    """What the schema cannot check of this study's section: one message per problem, naming the key."""
    ds, errors = config["dissociation"], []
    for grid in ("input_noise", "parameter_noise"):
        spec = ds["evaluation"][grid]
        if spec["min"] >= spec["max"]:
            errors.append(
                f"config key 'dissociation.evaluation.{grid}': min {spec['min']} must be below max {spec['max']}"
            )
    if "dissociation" in config.get("studies", []) and "mnist" not in config:
        errors.append("config key 'mnist': the dissociation study needs the top-level 'mnist' section")
    return errors
