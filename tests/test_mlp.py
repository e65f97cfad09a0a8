"""The complexity MLP's hand-written backward pass against autograd."""

import pytest
import torch

from featurelab.models.mlp import MLP, bce_loss_with_gradients


def _batch(n_inputs: int, n_features: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 2, (64, n_inputs), generator=g).double()
    y = torch.randint(0, 2, (64, n_features), generator=g).double()
    return x, y


@pytest.mark.parametrize("slope", [0.01, 0.2])
def test_hand_written_gradients_equal_autograd(slope: float) -> None:
    model = MLP(32, [16, 8, 8, 3], negative_slope=slope, generator=torch.Generator().manual_seed(1)).double()
    with torch.no_grad():  # non-zero biases, so the bias gradients and the activation signs are exercised
        for layer in model.layers:
            layer.bias.normal_(0, 0.3, generator=torch.Generator().manual_seed(2))
    x, y = _batch(32, 3, seed=3)

    logits, _ = model(x)
    expected_loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
    expected_loss.backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)

    loss = bce_loss_with_gradients(model, x, y)
    assert not loss.requires_grad
    torch.testing.assert_close(loss, expected_loss.detach(), rtol=1e-12, atol=0)
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, expected[name], rtol=1e-10, atol=1e-14, msg=name)


def test_hand_written_backward_needs_a_positive_slope() -> None:
    model = MLP(4, [4, 1], negative_slope=0.0)
    with pytest.raises(ValueError, match="slope"):
        bce_loss_with_gradients(model, torch.zeros(2, 4), torch.zeros(2, 1))
