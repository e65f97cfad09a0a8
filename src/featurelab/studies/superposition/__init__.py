"""superposition - Toy Models of Superposition (Elhage et al. 2022) on MNIST (reference notebook 001).

A classifier's 49 hidden activations (ReLU(tanh(.))) are the features; an autoencoder compresses them
to 2-D, and the study asks which features survive and how they are arranged.
"""

from __future__ import annotations

#: The study's name in random-stream names, tables and error messages.
STUDY = "superposition"


def config_errors(config: dict) -> list[str]:
    """What the schema cannot check of this study's section: one message per problem, naming the key."""
    ae = config["superposition"]["autoencoder"]
    late = [e for e in ae["record_epochs"] if e > ae["epochs"]]
    if late:
        return [
            f"config key 'superposition.autoencoder.record_epochs': {late} exceed "
            f"superposition.autoencoder.epochs = {ae['epochs']}"
        ]
    return []
