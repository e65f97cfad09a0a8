"""complexity - Lampinen, Chan & Hermann (2024), "Learned feature representations are biased by
complexity, learning order, position, and more" (reference notebook 000).

An easy (linear) and a hard (xor-of-xor) binary feature, trained together, are learned equally well,
but the easy one explains most of the penultimate layer's variance. A run = one (feature pair, seed).
"""

from __future__ import annotations

#: The study's name in random-stream names, tables and error messages.
STUDY = "complexity"


def config_errors(config: dict) -> list[str]:
    """What the schema cannot check of this study's section: one message per problem, naming the key."""
    cx = config["complexity"]
    pairs = [list(p) for p in cx["feature_pairs"]]
    ref = list(cx["claims"]["reference_pair"])
    if ref not in pairs:
        return [f"config key 'complexity.claims.reference_pair': {ref} is not one of complexity.feature_pairs {pairs}"]
    return []
