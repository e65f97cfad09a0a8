"""The superposition study's batched classifier and autoencoder against per-instance torch.nn references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from featurelab.studies.superposition.model import Autoencoder, Classifier


def gens(*seeds):
    return [torch.Generator().manual_seed(s) for s in seeds]


def test_classifier_matches_nn_linear_per_instance():
    model = Classifier(gens(0, 1), n_inputs=12, n_hidden=5, n_classes=3)
    x = torch.rand(2, 8, 12)
    logits, h = model(x)
    for k in range(2):
        fc1, fc2 = torch.nn.Linear(12, 5), torch.nn.Linear(5, 3)
        with torch.no_grad():
            fc1.weight.copy_(model.w1[k])
            fc1.bias.copy_(model.b1[k])
            fc2.weight.copy_(model.w2[k])
            fc2.bias.copy_(model.b2[k])
        ref_h = torch.relu(torch.tanh(fc1(x[k])))
        assert torch.allclose(h[k], ref_h, atol=1e-6)
        assert torch.allclose(logits[k], fc2(ref_h), atol=1e-6)
    assert float(model.w1.detach().abs().max()) <= 1 / np.sqrt(12)  # nn.Linear's init range


@pytest.mark.parametrize("tied", [False, True])
def test_autoencoder_forward(tied):
    model = Autoencoder(gens(3, 4), n_features=6, n_code=2, tied=tied)
    h = torch.rand(2, 5, 6)
    recon, code = model(h)
    for k in range(2):
        w_dec = model.w_enc[k].T if tied else model.w_dec_free[k]
        c = torch.tanh(h[k] @ model.w_enc[k].T + model.b_enc[k])
        assert torch.allclose(code[k], c, atol=1e-6)
        assert torch.allclose(recon[k], torch.relu(torch.tanh(c @ w_dec.T + model.b_dec[k])), atol=1e-6)
    assert (recon >= 0).all() and (recon < 1).all()
    assert sum(p.numel() for p in model.parameters()) == 2 * (12 + 2 + 6 + (0 if tied else 12))
