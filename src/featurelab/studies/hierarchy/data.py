"""Tree-structured binary features (reference notebook 004) and the classic TMS sparse features.

A binary tree of depth ``d`` is stored heap-style: node 0 is the root, the children of node ``p`` are
``2p + 1`` and ``2p + 2``. The root is always on and is dropped, so a sample has
``2^(d+1) - 2`` features; feature ``i`` is node ``i + 1``. Feature values are exactly 0 or 1 (the
notebook draws no magnitudes), so a depth-``d`` tree has only a handful of distinct *patterns*:

* ``exclusive`` (the notebook's ``early_stopping=True``, the mode it actually ran): every sibling pair
  of an active parent is left-only 1/4, right-only 1/4, neither 1/2. The active set is a path from the
  root that stops somewhere, so a pattern is fixed by its deepest active node (or by none at all):
  ``2^(d+1) - 1`` patterns. A level-l node is active with probability 4^-l.
* ``one_child``: exactly one child of every active parent is active (each with probability 1/2). The
  active set is a full root-to-leaf path: ``2^d`` patterns, each with probability 2^-d.

:func:`tree_patterns` lists the patterns and their probabilities; a batch of ``B`` i.i.d. samples is
then equivalent to multinomial pattern counts (:func:`pattern_counts`), which the batched trainer uses
as row weights - the same estimator of the loss, with far fewer rows.

Shapes: F = features = 2^(d+1) - 2, P = distinct patterns, B = batch (samples of one step).

NumPy only (no torch): generators run in any job and in the tests cheaply.
"""

from __future__ import annotations

import numpy as np

SAMPLING_MODES = ("exclusive", "one_child")


def check_branching_factor(branching_factor: int) -> None:
    if int(branching_factor) != 2:
        raise ValueError(
            f"config key 'hierarchy.tree.branching_factor': only binary trees (2) are implemented, "
            f"got {branching_factor!r}; the notebook's sampler hard-codes sibling *pairs*"
        )


def _check_mode(mode: str) -> None:
    if mode not in SAMPLING_MODES:
        raise ValueError(f"config key 'hierarchy.tree.sampling': expected one of {SAMPLING_MODES}, got {mode!r}")


def n_features(depth: int) -> int:
    """Features of a binary tree of ``depth`` once the always-on root is dropped: 2^(d+1) - 2."""
    if depth < 1:
        raise ValueError(f"tree depth must be >= 1, got {depth}")
    return 2 ** (depth + 1) - 2


def feature_levels(depth: int) -> np.ndarray:
    """Tree level (1 .. depth) of every feature, int64 (F,); feature ``i`` is heap node ``i + 1``."""
    nodes = np.arange(1, n_features(depth) + 1)
    return np.floor(np.log2(nodes + 1)).astype(np.int64)


def feature_parents(depth: int) -> np.ndarray:
    """Feature index of every feature's parent, int64 (F,); -1 for level-1 features (their parent is the
    root)."""
    nodes = np.arange(1, n_features(depth) + 1)
    return (nodes - 1) // 2 - 1


def expected_marginals(depth: int, mode: str) -> np.ndarray:
    """P(feature active), float64 (F,): 4^-l in ``exclusive`` mode, 2^-l in ``one_child`` mode."""
    _check_mode(mode)
    base = 4.0 if mode == "exclusive" else 2.0
    return base ** -feature_levels(depth).astype(np.float64)


def sample_tree(n: int, depth: int, mode: str, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of the tree's features, float32 (n, 2^(d+1) - 2), vectorized over samples and nodes.

    One vectorized draw per *level* (d iterations, each over all samples and sibling pairs at once).
    """
    _check_mode(mode)
    out = np.zeros((n, n_features(depth)), dtype=np.float32)
    parent = np.ones((n, 1), dtype=bool)  # the root
    for level in range(1, depth + 1):
        pairs = 2 ** (level - 1)
        if mode == "exclusive":
            # the notebook: left = (a - b == 1), right = (b - a == 1) for two fair coins a, b
            coins = rng.random((2, n, pairs)) < 0.5
            left, right = coins[0] & ~coins[1], coins[1] & ~coins[0]
        else:
            left = rng.random((n, pairs)) < 0.5
            right = ~left
        # children of the pairs' parents, interleaved left/right in heap order
        children = np.empty((n, 2 * pairs), dtype=bool)
        children[:, 0::2] = left & parent
        children[:, 1::2] = right & parent
        start = 2**level - 2  # feature index of the level's first node (heap node 2^l - 1)
        out[:, start : start + 2 * pairs] = children
        parent = children  # level l has 2^l nodes = the number of sibling pairs at level l + 1
    return out


def tree_patterns(depth: int, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """The distinct feature patterns of the tree and their probabilities: float32 (P, F), float64 (P,)."""
    _check_mode(mode)
    nf = n_features(depth)
    levels = feature_levels(depth)
    parents = feature_parents(depth)

    def path(feature: int) -> np.ndarray:
        row = np.zeros(nf, dtype=np.float32)
        while feature >= 0:
            row[feature] = 1.0
            feature = parents[feature]
        return row

    if mode == "exclusive":
        rows = [np.zeros(nf, dtype=np.float32)]  # nothing below the root: probability 1/2
        probs = [0.5]
        for f in range(nf):
            rows.append(path(f))
            # the path reaches f (4^-l) and, above the leaves, stops there (both children off: 1/2)
            probs.append(4.0 ** -levels[f] * (1.0 if levels[f] == depth else 0.5))
    else:
        leaves = np.flatnonzero(levels == depth)
        rows = [path(int(f)) for f in leaves]
        probs = [2.0**-depth] * len(leaves)
    return np.stack(rows), np.asarray(probs, dtype=np.float64)


def pattern_counts(n_steps: int, batch_size: int, probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """How often each pattern occurs in each step's batch of ``batch_size`` i.i.d. samples: (n_steps, P)."""
    return rng.multinomial(batch_size, probs, size=n_steps)
