"""The notebook's one-hidden-layer ReLU MLP, batched over instances.

``BatchedMLP`` holds ``I`` independent networks ``Linear(d_i, H) -> ReLU -> Linear(H, 1)`` as
parameters with a leading instance dimension, so one optimizer step trains many tasks (one width group of
a seed's tasks, :mod:`featurelab.studies.learnability.plan`). Instances may have different input sizes
``d_i``: inputs are zero-padded to ``max d_i`` and the padded weight columns start at zero. Their gradient
is then exactly zero, so Adam never moves them (its update is ``m / (sqrt(v) + eps)`` with ``m = v = 0``),
and each instance is *exactly* the unbatched network of its own size
(``tests/studies/learnability/test_model.py`` checks this against ``torch.nn``).

Initialisation matches ``torch.nn.Linear``: weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
the instance's own fan-in, each instance drawn from its own generator (so a task's initial weights do not
depend on which other tasks share its batch).

Shapes: I = instances (the batched tasks), B = batch, N = samples, D = ``max d_i`` (padded inputs), H =
hidden units.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from featurelab.init import in_out_linear_default


class BatchedMLP(torch.nn.Module):
    """``I`` independent ``d_i -> hidden -> 1`` ReLU MLPs; ``forward(x)`` maps ``(I, B, D)`` to ``(I, B)``."""

    def __init__(self, input_dims: Sequence[int], hidden: int, generators: Sequence[torch.Generator]) -> None:
        super().__init__()
        if len(input_dims) != len(generators):
            raise ValueError("one generator per instance is needed")
        self.input_dims = [int(d) for d in input_dims]
        n, d_max = len(self.input_dims), max(self.input_dims)
        w1 = torch.zeros(n, d_max, hidden)
        b1 = torch.zeros(n, hidden)
        w2 = torch.zeros(n, hidden, 1)
        b2 = torch.zeros(n, 1)
        for i, (d, gen) in enumerate(zip(self.input_dims, generators)):
            w1[i, :d], b1[i] = in_out_linear_default(d, hidden, gen)
            w2[i], b2[i] = in_out_linear_default(hidden, 1, gen)
        self.w1, self.b1 = torch.nn.Parameter(w1), torch.nn.Parameter(b1)
        self.w2, self.b2 = torch.nn.Parameter(w2), torch.nn.Parameter(b2)

    @property
    def n_instances(self) -> int:
        return self.w1.shape[0]

    @property
    def max_input_dim(self) -> int:
        return self.w1.shape[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (I, B, D), zero-padded past each instance's ``d_i`` -> predictions (I, B)."""
        h = torch.relu(torch.baddbmm(self.b1[:, None, :], x, self.w1))
        return torch.baddbmm(self.b2[:, None, :], h, self.w2)[..., 0]

    def instance_state(self, i: int) -> dict[str, torch.Tensor]:
        """Instance ``i`` as an ``nn.Sequential(Linear, ReLU, Linear)`` state dict (padding removed)."""
        d = self.input_dims[i]
        return {
            "0.weight": self.w1[i, :d].T.detach().clone(),
            "0.bias": self.b1[i].detach().clone(),
            "2.weight": self.w2[i].T.detach().clone(),
            "2.bias": self.b2[i].detach().clone(),
        }


def per_instance_mse(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(I, B)`` predictions and targets -> ``(I,)`` mean squared errors (the notebook's ``F.mse_loss``)."""
    return ((pred - y) ** 2).mean(dim=1)


def input_gradients(model: BatchedMLP, x: torch.Tensor) -> torch.Tensor:
    """``d yhat / d x_j`` for every instance, sample and input: ``(I, N, D)``.

    Each prediction depends only on its own instance's input row, so the gradient of the sum of all
    predictions with respect to ``x`` is every per-sample input gradient at once.
    """
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(model(x).sum(), x)
    return grad
