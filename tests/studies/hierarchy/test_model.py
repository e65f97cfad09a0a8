"""The hierarchy study's batched TMS model: known answers, both inits against torch's, padding, and batched
training against one width at a time."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from featurelab.optim import Adam
from featurelab.studies.hierarchy.data import n_features, pattern_counts, sample_tree, tree_patterns
from featurelab.studies.hierarchy.model import BatchedTMS


@torch.no_grad()
def test_known_answer_perfect_reconstruction():
    """Two exclusive features in 2 dimensions: W = I, b = 0 reconstructs every pattern exactly."""
    model = BatchedTMS([2], 2)
    model.W.copy_(torch.eye(2)[None])
    patterns, probs = tree_patterns(1, "exclusive")
    assert float(model.loss(torch.as_tensor(patterns), torch.as_tensor(probs, dtype=torch.float32))) == 0.0
    # and a model that outputs nothing loses the features' mean square, 1/4 each: loss = 1/4
    model.W.zero_()
    assert float(model.loss(torch.as_tensor(patterns), torch.as_tensor(probs, dtype=torch.float32))) == 0.25


def test_per_instance_init_is_xavier_of_one_model():
    model = BatchedTMS([4, 40], 200, generator=torch.Generator().manual_seed(0), init="per_instance")
    W = model.W.detach()
    assert W[0, :4].std().item() == pytest.approx((2 / (4 + 200)) ** 0.5, rel=0.1)
    assert W[1, :40].std().item() == pytest.approx((2 / (40 + 200)) ** 0.5, rel=0.05)
    assert (W[0, 4:] == 0).all()


@pytest.mark.parametrize("n_hidden,nf", [(2, 6), (4, 30), (10, 62)])
def test_notebook_init_is_torch_xavier_on_the_3d_tensor(n_hidden, nf):
    """The notebook: nn.init.xavier_normal_(t.empty((n_instances, n_hidden, n_features))), 5 instances."""
    from torch import nn

    from featurelab.studies.hierarchy.model import init_std

    t = torch.empty((5, n_hidden, nf))
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(t)  # torch's own fans: dim 1, dim 0, x dim 2
    assert init_std("notebook", n_hidden, nf, 5) == pytest.approx((2.0 / (fan_in + fan_out)) ** 0.5, rel=1e-12)
    assert init_std("notebook", n_hidden, nf, 5) == pytest.approx((2 / (nf * (n_hidden + 5))) ** 0.5, rel=1e-12)
    # and empirically: torch's xavier_normal_ draws (many copies of) that tensor with the same std as ours
    reference = torch.cat(
        [
            nn.init.xavier_normal_(torch.empty((5, n_hidden, nf)), generator=torch.Generator().manual_seed(k))
            for k in range(400)
        ]
    )
    model = BatchedTMS(
        [n_hidden] * 400, nf, generator=torch.Generator().manual_seed(1), init="notebook", init_instances=5
    )
    ours = model.W.detach()
    assert ours.std().item() == pytest.approx(reference.std().item(), rel=0.03)
    assert ours.std().item() == pytest.approx(init_std("notebook", n_hidden, nf, 5), rel=0.03)
    # the instance count is the notebook's, not the number of instances in the batch
    assert init_std("notebook", n_hidden, nf, 5) != init_std("notebook", n_hidden, nf, 400)
    per_instance = init_std("per_instance", n_hidden, nf)  # wider by sqrt(nf (n_hidden + 5) / (n_hidden + nf))
    assert 1.9 <= per_instance / init_std("notebook", n_hidden, nf, 5) <= 7.9


def test_init_rejects_unknown_mode():
    with pytest.raises(ValueError, match="hierarchy.model.init"):
        BatchedTMS([2], 6, init="xavier")


def _train(model, batches, steps, lr=1e-2):
    opt = Adam(model.parameters(), lr=lr)
    for step in range(steps):
        opt.zero_grad()
        x, w = batches(step)
        model.loss(x, w).sum().backward()
        opt.step()
    return model


def test_padded_rows_stay_exactly_zero():
    depth = 3
    patterns, probs = tree_patterns(depth, "exclusive")
    weights = torch.as_tensor(pattern_counts(200, 512, probs, np.random.default_rng(0)) / 512, dtype=torch.float32)
    x = torch.as_tensor(patterns)
    model = BatchedTMS([2, 5, 9], n_features(depth), generator=torch.Generator().manual_seed(3))
    _train(model, lambda s: (x, weights[s]), 200)
    W = model.W.detach()
    assert (W[0, 2:] == 0).all() and (W[1, 5:] == 0).all()
    assert (W[2] != 0).any() and (W[0, :2] != 0).all()


def test_batched_matches_unbatched_reference():
    """Training widths together = training each width alone (same init, same data), for a few steps."""
    depth, widths, steps = 3, [2, 4, 7], 25
    nf = n_features(depth)
    rng = np.random.default_rng(5)
    data = [torch.as_tensor(sample_tree(128, depth, "exclusive", rng)) for _ in range(steps)]
    batched = BatchedTMS(widths, nf, generator=torch.Generator().manual_seed(11))
    init = batched.W.detach().clone()
    _train(batched, lambda s: (data[s], None), steps)
    for i, h in enumerate(widths):
        single = BatchedTMS([h], nf)
        with torch.no_grad():
            single.W.copy_(init[i : i + 1, :h])
        _train(single, lambda s: (data[s], None), steps)
        torch.testing.assert_close(batched.W.detach()[i, :h], single.W.detach()[0], rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(batched.b.detach()[i], single.b.detach()[0], rtol=1e-4, atol=1e-6)
