"""Initialisations shared by several studies' models."""

from __future__ import annotations

import math

import torch


def torch_linear_default(n_out: int, n_in: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``nn.Linear(n_in, n_out)``'s default init drawn from ``generator``: weight ``(n_out, n_in)`` then bias
    ``(n_out,)``, both U(-1/sqrt(n_in), 1/sqrt(n_in)). Drawn on the CPU generator, so a model starts the
    same on every device; the notebooks' (PyTorch and equinox) models use this distribution."""
    bound = 1.0 / math.sqrt(n_in)
    weight = (torch.rand(n_out, n_in, generator=generator) * 2 - 1) * bound
    bias = (torch.rand(n_out, generator=generator) * 2 - 1) * bound
    return weight, bias
