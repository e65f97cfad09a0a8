"""The multilayer perceptron of the complexity study (Lampinen et al. 2024, reference notebook 000)."""

from __future__ import annotations

import math

import torch
from torch import nn

# Standard deviation of a unit normal truncated to [-2, 2]; dividing by it makes the truncated draw
# have the requested variance (as in JAX/Flax ``variance_scaling(..., 'truncated_normal')``).
_TRUNCATED_NORMAL_STD = 0.87962566103423978


def variance_scaling_(weight: torch.Tensor, scale: float = 1.0, generator: torch.Generator | None = None) -> None:
    """Flax's ``variance_scaling(scale, 'fan_avg', 'truncated_normal')`` for a torch (out, in) weight."""
    fan_out, fan_in = weight.shape
    std = math.sqrt(scale / ((fan_in + fan_out) / 2)) / _TRUNCATED_NORMAL_STD
    with torch.no_grad():
        weight.copy_(torch.nn.init.trunc_normal_(torch.empty_like(weight), 0.0, 1.0, -2.0, 2.0, generator=generator) * std)


class MLP(nn.Module):
    """Leaky-ReLU MLP returning both the logits and the last hidden layer (the "representation").

    ``widths`` lists every layer's size, input excluded and output included, e.g. [256, 128, 64, 64, 2].
    """

    def __init__(self, n_inputs: int, widths: list[int], negative_slope: float = 0.01,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        sizes = [n_inputs, *widths]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.negative_slope = negative_slope
        for layer in self.layers:
            variance_scaling_(layer.weight, generator=generator)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for layer in self.layers[:-1]:
            # In place: saves one activation-sized allocation per layer; autograd supports it for a
            # positive slope (the backward pass reads the sign of the output).
            x = nn.functional.leaky_relu(layer(x), self.negative_slope, inplace=self.negative_slope > 0)
        return self.layers[-1](x), x


def bce_loss_with_gradients(model: MLP, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean sigmoid-BCE of ``model`` on a batch; writes every parameter's ``.grad`` by hand-written backprop.

    Why not autograd: on a 2-core CPU this study's 800 steps are bound by ~0.25 TFLOP of small matrix
    products, and autograd adds a graph, a bias-broadcast copy per layer and a gradient-accumulation
    copy per parameter around them (about 20% of a step, measured with ``torch.profiler``). The backward
    pass of an MLP is short enough to write out: the same matrix products, written once, plus
    ``aten::leaky_relu_backward`` (the kernel autograd itself calls). ``tests/test_mlp.py`` checks the
    gradients against autograd. Returns the loss, detached (the caller's divergence check reads it).
    """
    layers = model.layers
    slope = model.negative_slope
    if slope <= 0:
        raise ValueError("the hand-written backward reads the activation sign from the output: slope must be > 0")
    with torch.no_grad():
        activations = [inputs]
        x = inputs
        for layer in layers[:-1]:
            x = torch.addmm(layer.bias, x, layer.weight.t())
            nn.functional.leaky_relu_(x, slope)
            activations.append(x)
        logits = torch.addmm(layers[-1].bias, x, layers[-1].weight.t())
        loss = nn.functional.binary_cross_entropy_with_logits(logits, labels)
        # d(mean BCE)/d(logits) = (sigmoid(z) - y) / (batch * features)
        grad = torch.sigmoid(logits).sub_(labels).div_(logits.numel())
        for i in range(len(layers) - 1, -1, -1):
            layer = layers[i]
            layer.weight.grad = grad.t() @ activations[i]
            layer.bias.grad = grad.sum(0)
            if i > 0:
                grad = torch.ops.aten.leaky_relu_backward(grad @ layer.weight, activations[i], slope, True)
    return loss
