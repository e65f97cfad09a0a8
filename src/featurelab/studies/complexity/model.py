"""The multilayer perceptron of the complexity study (Lampinen et al. 2024, reference notebook 000).

Shapes: B = rows of one forward pass (a training batch or an evaluation chunk).
"""

from __future__ import annotations

import torch
from torch import nn

from featurelab.init import variance_scaling_


class MLP(nn.Module):
    """Leaky-ReLU MLP returning both the logits and the last hidden layer (the "representation").

    ``widths`` lists every layer's size, input excluded and output included, e.g. [256, 128, 64, 64, 2].
    """

    def __init__(
        self, n_inputs: int, widths: list[int], negative_slope: float = 0.01, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        sizes = [n_inputs, *widths]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.negative_slope = negative_slope
        for layer in self.layers:
            variance_scaling_(layer.weight, generator=generator)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (B, n_inputs) -> logits (B, widths[-1]) and the last hidden layer (B, widths[-2]), whose
        variance the study splits between the features (the input itself when ``widths`` has one entry)."""
        for layer in self.layers[:-1]:
            # In place: saves one activation-sized allocation per layer; autograd supports it for a
            # positive slope (the backward pass reads the sign of the output).
            x = nn.functional.leaky_relu(layer(x), self.negative_slope, inplace=self.negative_slope > 0)
        return self.layers[-1](x), x
