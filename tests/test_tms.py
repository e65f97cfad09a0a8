"""The TMS loss kernel's hand-written backward against autograd, with and without weights (feature
importances, per-row weights): the same loss and gradients to float64 rounding, and gradcheck."""

from __future__ import annotations

import pytest
import torch

from featurelab.tms import relu_output_loss


def _autograd_loss(W, b, x, scale, weight):
    out = torch.relu(torch.bmm(torch.bmm(x, W.transpose(1, 2)), W) + b[:, None, :])
    err = (out - x) ** 2
    return (err if weight is None else err * weight).sum(dim=(1, 2)) * scale


@pytest.mark.parametrize("weighting", ["none", "features", "rows_and_features"])
def test_hand_written_backward_equals_autograd(weighting):
    g = torch.Generator().manual_seed(4)
    I, m, n, B = 3, 4, 9, 17
    W = torch.randn((I, m, n), generator=g, dtype=torch.float64) * 0.5
    b = torch.randn((I, n), generator=g, dtype=torch.float64) * 0.3
    x = torch.rand((I, B, n), generator=g, dtype=torch.float64) * (torch.rand((I, B, n), generator=g) < 0.4)
    weight = {
        "none": None,
        "features": torch.rand((I, 1, n), generator=g, dtype=torch.float64),
        "rows_and_features": torch.rand((I, B, 1), generator=g, dtype=torch.float64)
        * torch.rand((I, 1, n), generator=g, dtype=torch.float64),
    }[weighting]
    per_instance = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    results = []
    for loss_fn in (relu_output_loss, _autograd_loss):
        Wg, bg = W.clone().requires_grad_(), b.clone().requires_grad_()
        loss = loss_fn(Wg, bg, x, 1.0 / B, weight)
        (loss * per_instance).sum().backward()
        results.append((loss.detach(), Wg.grad, bg.grad))
    for fast, ref in zip(*results):
        torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-13)
    assert torch.autograd.gradcheck(
        lambda W_, b_: relu_output_loss(W_, b_, x, 1.0 / B, weight),
        (W.clone().requires_grad_(), b.clone().requires_grad_()),
    )
