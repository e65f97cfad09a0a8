"""hierarchy - superposition of tree-structured features (reference notebook 004).

The TMS model x' = ReLU(W^T W x + b) trained on the features of a binary tree (a child is active only
with its parent): the loss over tree depth x hidden width, the width each depth needs, and the 2-D
feature directions; with the classic TMS sparsity sweep as a companion (condition ``tms``).
"""

from __future__ import annotations

#: The study's name in random-stream names, tables and error messages.
STUDY = "hierarchy"


def config_errors(config: dict) -> list[str]:
    """What the schema cannot check of this study's section: one message per problem, naming the key."""
    hi, errors = config["hierarchy"], []
    depths = list(hi["tree"]["depths"])
    if hi["analysis"]["directions_depth"] not in depths:
        errors.append(
            f"config key 'hierarchy.analysis.directions_depth': {hi['analysis']['directions_depth']} "
            f"is not one of hierarchy.tree.depths {depths}"
        )
    if 2 not in hi["model"]["n_hidden"]:
        errors.append(
            "config key 'hierarchy.model.n_hidden': must include 2 (figure (e) draws the 2-D "
            f"feature directions), got {list(hi['model']['n_hidden'])}"
        )
    if any(min(hi["model"]["n_hidden"]) > 2 ** (d + 1) - 2 for d in depths):
        errors.append(
            "config key 'hierarchy.model.n_hidden': every depth needs at least one width <= its "
            "number of features 2^(depth+1) - 2"
        )
    return errors
