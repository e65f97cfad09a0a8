"""The dissociation study's manipulations preserve the network's function exactly (scaling, duplication,
nuisance neurons; null-space perturbation on its own images only)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from featurelab.studies.dissociation import model as md


def assert_same_function(a, b, x):
    la, lb = md.forward(a, x), md.forward(b, x)
    assert torch.allclose(la, lb, rtol=1e-5, atol=1e-5 * float(la.abs().max())), float((la - lb).abs().max())
    assert torch.equal(la.argmax(-1), lb.argmax(-1))


# ------------------------------------------------------------------------------------ manipulations


def test_scaling_preserves_function_and_scales_hidden(net, mnist_test):
    x, _ = mnist_test
    scaled = md.scale_neurons(net, 20.0)
    assert_same_function(net, scaled, x)
    torch.testing.assert_close(md.hidden(scaled, x), 20 * md.hidden(net, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("multiplier, width", [(2.0, 80), (1.2, 48), (1.5, 60), (3.0, 120)])
def test_duplication_preserves_function(net, mnist_test, multiplier, width):
    x, _ = mnist_test
    dup = md.duplicate_neurons(net, multiplier)
    assert dup[1].shape == (width, 48) and dup[2].shape == (10, width)
    assert_same_function(net, dup, x)


def test_duplicate_indices_known_answer():
    index, mult = md.duplicate_indices(5, 1.2)
    assert index.tolist() == [0, 1, 2, 3, 4, 0] and mult.tolist() == [2, 1, 1, 1, 1]
    index, mult = md.duplicate_indices(3, 2)
    assert index.tolist() == [0, 0, 1, 1, 2, 2] and mult.tolist() == [2, 2, 2]
    with pytest.raises(ValueError):
        md.duplicate_indices(3, 0.5)


def test_nuisance_neurons_preserve_function_and_are_active(net, mnist_test):
    x, _ = mnist_test
    h1 = torch.relu(x @ net[0].T)
    for seed in range(6):  # whatever the draw's sign, the shared neurons end up active
        nui = md.add_nuisance_neurons(net, 16, torch.Generator().manual_seed(seed), active_on=h1)
        assert nui[1].shape == (56, 48) and nui[2].shape == (10, 56)
        assert torch.equal(nui[1][40:], nui[1][40:41].expand(16, -1))  # one shared incoming vector
        assert torch.count_nonzero(nui[2][:, 40:]) == 0
        assert_same_function(net, nui, x)
        assert float(md.hidden(nui, x)[:, 40:].mean()) > 0


def test_null_space_perturbation_preserves_function_only_on_its_images(net, mnist_test):
    x, _ = mnist_test
    basis = md.null_basis(x.numpy())
    rank = np.linalg.matrix_rank(x.numpy().astype(np.float64))
    assert basis.shape == (784 - rank, 784)
    np.testing.assert_allclose(basis @ basis.T, np.eye(len(basis)), atol=1e-10)
    assert np.abs(x.numpy().astype(np.float64) @ basis.T).max() < 1e-9
    pert = md.null_space_perturb(net, torch.as_tensor(basis), 0.1, torch.Generator().manual_seed(1))
    assert float((pert[0] - net[0]).abs().max()) > 1e-2  # the weights really move
    assert_same_function(net, pert, x)
    noisy = x + 0.5 * torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    assert float((md.forward(pert, noisy) - md.forward(net, noisy)).abs().max()) > 1e-2
