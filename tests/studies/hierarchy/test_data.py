"""The hierarchy study's tree generator: shape, sampler invariants and marginals, and the pattern estimator
(the exact distribution the sampler draws from)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from featurelab.studies.hierarchy.data import (
    check_branching_factor,
    expected_marginals,
    feature_levels,
    feature_parents,
    n_features,
    pattern_counts,
    sample_tree,
    tree_patterns,
)
from featurelab.studies.hierarchy.model import BatchedTMS


def test_tree_shape_levels_parents():
    assert [n_features(d) for d in (1, 2, 3, 6)] == [2, 6, 14, 126]
    assert feature_levels(2).tolist() == [1, 1, 2, 2, 2, 2]
    # heap: node p's children are 2p+1, 2p+2; feature i = node i+1; level-1 parents are the root (-1)
    assert feature_parents(2).tolist() == [-1, -1, 0, 0, 1, 1]
    with pytest.raises(ValueError, match="branching_factor"):
        check_branching_factor(3)


@pytest.mark.parametrize("mode", ["exclusive", "one_child"])
def test_sampler_invariants_and_marginals(mode):
    depth, n = 4, 40_000
    x = sample_tree(n, depth, mode, np.random.default_rng(1)).astype(bool)
    assert x.shape == (n, n_features(depth))
    parents = feature_parents(depth)
    child = parents >= 0
    assert not (x[:, child] & ~x[:, parents[child]]).any(), "a child is active without its parent"
    assert not (x[:, 0::2] & x[:, 1::2]).any(), "two siblings are active together"
    if mode == "one_child":
        # exactly one child of every active parent (and one of the root's children)
        pair_on = x[:, 0::2] | x[:, 1::2]
        pair_parent = np.concatenate([np.ones((n, 1), bool), x[:, : pair_on.shape[1] - 1]], axis=1)
        assert (pair_on == pair_parent).all()
    p = expected_marginals(depth, mode)
    z = np.abs(x.mean(0) - p) / np.sqrt(p * (1 - p) / n)
    assert z.max() < 5
    assert np.allclose(expected_marginals(3, "exclusive")[[0, 2, 6]], [1 / 4, 1 / 16, 1 / 64])


@pytest.mark.parametrize("mode", ["exclusive", "one_child"])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_patterns_are_the_sampler_distribution(mode, depth):
    patterns, probs = tree_patterns(depth, mode)
    assert probs.sum() == pytest.approx(1.0)
    assert len(patterns) == (2 ** (depth + 1) - 1 if mode == "exclusive" else 2**depth)
    assert len(np.unique(patterns, axis=0)) == len(patterns)
    np.testing.assert_allclose(patterns.T @ probs, expected_marginals(depth, mode), rtol=0, atol=1e-15)
    n = 50_000
    x = sample_tree(n, depth, mode, np.random.default_rng(2))
    rows, counts = np.unique(x, axis=0, return_counts=True)
    assert len(rows) == len(patterns)  # every sampled row is a pattern, and every pattern occurs
    lookup = {r.tobytes(): p for r, p in zip(patterns, probs)}
    for r, c in zip(rows, counts):
        p = lookup[r.tobytes()]
        assert abs(c / n - p) < 5 * np.sqrt(p * (1 - p) / n) + 1e-12


def test_pattern_weighted_loss_equals_expanded_batch_loss():
    """The pattern estimator is the batch mean: weights = counts / B give the same loss and gradient."""
    depth = 3
    patterns, probs = tree_patterns(depth, "exclusive")
    counts = pattern_counts(1, 256, probs, np.random.default_rng(0))[0]
    assert counts.sum() == 256
    expanded = torch.as_tensor(np.repeat(patterns, counts, axis=0))
    model = BatchedTMS([2, 4, 6], n_features(depth), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.b.normal_(0, 0.1, generator=torch.Generator().manual_seed(1))
    loss_full = model.loss(expanded)
    grad_full = torch.autograd.grad(loss_full.sum(), model.W)[0]
    weights = torch.as_tensor(counts / 256, dtype=torch.float32)
    loss_pat = model.loss(torch.as_tensor(patterns), weights)
    grad_pat = torch.autograd.grad(loss_pat.sum(), model.W)[0]
    torch.testing.assert_close(loss_pat, loss_full, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(grad_pat, grad_full, rtol=1e-4, atol=1e-7)
