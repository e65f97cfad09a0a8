"""The toy-models-of-superposition model x' = ReLU(W^T W x + b), batched over instances.

One :class:`BatchedTMS` holds ``I`` independent models (an instance dimension leads every parameter),
so one optimizer step trains a whole sweep. Instances may have different hidden widths: ``W`` is
padded to the largest width and a fixed 0/1 row mask multiplies it in the forward pass, so padded rows
get exactly zero gradient, exactly zero Adam updates, and stay exactly zero (tested).

With the pattern trick (:mod:`featurelab.data.hierarchy`), the inputs are the P distinct patterns,
shared by all instances, and each row carries a weight (its count in the step's batch / batch size).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn


class BatchedTMS(nn.Module):
    """``I`` TMS models with ``n_features`` features and per-instance hidden widths ``widths``."""

    def __init__(self, widths: Sequence[int], n_features: int, generator: torch.Generator | None = None,
                 importance: torch.Tensor | None = None) -> None:
        super().__init__()
        widths = [int(w) for w in widths]
        if not widths or min(widths) < 1:
            raise ValueError(f"hidden widths must be positive integers, got {widths}")
        self.widths, self.n_features = widths, int(n_features)
        n_inst, h_max = len(widths), max(widths)
        mask = (torch.arange(h_max)[None, :] < torch.tensor(widths)[:, None]).float()[:, :, None]  # (I, H, 1)
        # Xavier-normal *per instance*: std = sqrt(2 / (n_hidden + n_features)). The notebook applies
        # nn.init.xavier_normal_ to the whole (instances, hidden, features) tensor, whose fan computation
        # counts the instance dimension as fan-out; what it means is a per-model xavier init.
        std = torch.tensor([math.sqrt(2.0 / (w + self.n_features)) for w in widths])[:, None, None]
        w = torch.randn((n_inst, h_max, self.n_features), generator=generator) * std * mask  # on the CPU: any device
        self.W = nn.Parameter(w)
        self.b = nn.Parameter(torch.zeros((n_inst, self.n_features)))
        self.register_buffer("mask", mask)
        imp = torch.ones(self.n_features) if importance is None else torch.as_tensor(importance, dtype=torch.float32)
        self.register_buffer("importance", imp.broadcast_to((n_inst, self.n_features)).clone())

    def masked_weight(self) -> torch.Tensor:
        return self.W * self.mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (rows, F) shared by all instances, or (rows, I, F); returns (rows, I, F)."""
        w = self.masked_weight()
        if x.dim() == 2:
            h = torch.einsum("rf,ihf->rih", x, w)
        else:
            h = torch.einsum("rif,ihf->rih", x, w)
        return torch.relu(torch.einsum("rih,ihf->rif", h, w) + self.b)

    def loss(self, x: torch.Tensor, row_weights: torch.Tensor | None = None) -> torch.Tensor:
        """Importance-weighted squared error per instance: (I,).

        Mean over features; over rows a plain mean, or ``sum_r row_weights[r] * err_r`` with weights that
        sum to 1 (pattern counts / batch size) - the same number as the mean over the expanded batch.
        """
        out = self(x)
        target = x if x.dim() == 3 else x[:, None, :]
        err = (self.importance * (target - out) ** 2).mean(-1)  # (rows, I)
        if row_weights is None:
            return err.mean(0)
        return row_weights @ err
