"""Every initialisation the studies' models use, in one place (each the distribution its notebook's
framework draws, from a CPU generator so that a model starts the same on every device)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch


def xavier_normal_std(shape: Sequence[int]) -> float:
    """The standard deviation ``torch.nn.init.xavier_normal_`` gives a tensor of ``shape``: sqrt(2 / (fan_in +
    fan_out)), fan_in = shape[1] * r, fan_out = shape[0] * r, r = the product of the remaining dims. The TMS
    notebooks call it on the whole (instances, ...) tensor, so their scale depends on the instance count."""
    receptive = math.prod(shape[2:])
    return math.sqrt(2.0 / (receptive * (shape[1] + shape[0])))


def torch_linear_default(n_out: int, n_in: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``nn.Linear(n_in, n_out)``'s default init drawn from ``generator``: weight ``(n_out, n_in)`` then bias
    ``(n_out,)``, both U(-1/sqrt(n_in), 1/sqrt(n_in)). Drawn on the CPU generator, so a model starts the
    same on every device; the notebooks' (PyTorch and equinox) models use this distribution."""
    bound = 1.0 / math.sqrt(n_in)
    weight = (torch.rand(n_out, n_in, generator=generator) * 2 - 1) * bound
    bias = (torch.rand(n_out, generator=generator) * 2 - 1) * bound
    return weight, bias


# Standard deviation of a unit normal truncated to [-2, 2]; dividing by it makes the truncated draw
# have the requested variance (as in JAX/Flax ``variance_scaling(..., 'truncated_normal')``).
_TRUNCATED_NORMAL_STD = 0.87962566103423978


def variance_scaling_(weight: torch.Tensor, scale: float = 1.0, generator: torch.Generator | None = None) -> None:
    """Flax's ``variance_scaling(scale, 'fan_avg', 'truncated_normal')`` for a torch (out, in) weight."""
    fan_out, fan_in = weight.shape
    std = math.sqrt(scale / ((fan_in + fan_out) / 2)) / _TRUNCATED_NORMAL_STD
    with torch.no_grad():
        weight.copy_(
            torch.nn.init.trunc_normal_(torch.empty_like(weight), 0.0, 1.0, -2.0, 2.0, generator=generator) * std
        )


def uniform_fan_in_weights(sizes: Sequence[int], generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Bias-free weights of ``sizes`` (e.g. [784, 1024, 1024, 10]): ``len(sizes) - 1`` float32 matrices,
    layer k ``(sizes[k + 1], sizes[k])`` in nn.Linear's (out, in) order, drawn U(-1/sqrt(fan_in),
    1/sqrt(fan_in)), the default of torch.nn.Linear and equinox.nn.Linear (the notebook's model); drawn on
    the CPU generator so the initial network is the same on every device."""
    out = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        w = torch.rand(fan_out, fan_in, generator=generator, dtype=torch.float32) * (2 * bound) - bound
        out.append(w)
    return tuple(out)


def stacked_linear_default(
    n_out: int, n_in: int, generators: Sequence[torch.Generator]
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(I, n_out, n_in)`` weights and ``(I, n_out)`` biases, instance k drawn from ``generators[k]``
    with ``nn.Linear``'s default distribution U(-1/sqrt(n_in), 1/sqrt(n_in)) for both."""
    weights, biases = zip(*(torch_linear_default(n_out, n_in, gen) for gen in generators))
    return torch.stack(weights), torch.stack(biases)


def in_out_linear_default(fan_in: int, fan_out: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``nn.Linear(fan_in, fan_out)``'s default init as (weight ``(fan_in, fan_out)``, bias ``(fan_out,)``)."""
    weight, bias = torch_linear_default(fan_out, fan_in, generator)  # nn.Linear's (out, in) order
    return weight.T.contiguous(), bias
