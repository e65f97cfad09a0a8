"""learnability - which input features a small MLP picks up, and how fast (reference notebook 002).

Families of regression tasks (scale and shift of the target, simple vs complex functions, distractor
inputs, feature types), each task an instance of one batched MLP; the notebook's comments are tested as
claims, with input-gradient attribution.
"""

from __future__ import annotations

#: The study's name in random-stream names, tables and error messages.
STUDY = "learnability"


def config_errors(config: dict) -> list[str]:
    """What the schema cannot check of this study's section: one message per problem, naming the key."""
    lc, errors = config["learnability"]["claims"], []
    lo, hi = lc["best_scale_range"]
    if lo > hi:
        errors.append(f"config key 'learnability.claims.best_scale_range': {[lo, hi]} must be [low, high]")
    if lc["not_converged_mse"] <= lc["converged_mse"]:
        errors.append(
            f"config key 'learnability.claims.not_converged_mse': {lc['not_converged_mse']} must be above "
            f"learnability.claims.converged_mse = {lc['converged_mse']} (the band between them is neither)"
        )
    if lc["much_slower_factor"] < lc["slower_factor"]:
        errors.append(
            f"config key 'learnability.claims.much_slower_factor': {lc['much_slower_factor']} must be at "
            f"least learnability.claims.slower_factor = {lc['slower_factor']}"
        )
    return errors


def task_generators(families: dict) -> set[str]:
    """The task generators the configured families use: a figure whose registry entry ``needs`` one that is
    not among them has no data (the scale x shift heatmap needs a scale_shift task, the distractor panel a
    distractors task)."""
    return {task["generator"] for family in families.values() for task in family["tasks"]}
