"""Adam and SGD with torch.optim's exact update rules, minus ~2 s of start-up.

Constructing any ``torch.optim`` optimizer imports ``torch._dynamo`` (its methods are wrapped in
``torch._disable_dynamo``), which costs 0.9-2 s per process; torch offers no switch to skip it. The
pipeline starts one process per (condition, seed), so that import would be a large share of a short
job. These ~60 lines implement the same arithmetic (``tests/test_optim.py`` checks them against
``torch.optim.Adam``/``SGD`` bit for bit on CPU) and support what the studies need: a settable learning
rate for schedules, and ``state_dict`` for checkpoints.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch


class Adam:
    """Adam (Kingma & Ba 2015) as in ``torch.optim.Adam(foreach=False)``, no weight decay or amsgrad."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.betas, self.eps = float(lr), betas, float(eps)
        self.step_count = 0
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        self.step_count += 1
        step = float(self.step_count)
        step_size = self.lr / (1 - beta1**step)
        bias_correction2_sqrt = math.sqrt(1 - beta2**step)
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        params = [self.params[i] for i in live]
        grads = [p.grad for p in params]
        exp_avg = [self.exp_avg[i] for i in live]
        exp_avg_sq = [self.exp_avg_sq[i] for i in live]
        # torch._foreach_* ops apply the per-tensor kernels of torch.optim.Adam(foreach=False) in one call
        # per operation instead of one per parameter: the same numbers, less dispatch overhead.
        torch._foreach_lerp_(exp_avg, grads, 1 - beta1)
        torch._foreach_mul_(exp_avg_sq, beta2)
        torch._foreach_addcmul_(exp_avg_sq, grads, grads, value=1 - beta2)
        denom = torch._foreach_sqrt(exp_avg_sq)
        torch._foreach_div_(denom, bias_correction2_sqrt)
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(params, exp_avg, denom, value=-step_size)

    def state_dict(self) -> dict:
        return {"step_count": self.step_count, "lr": self.lr, "exp_avg": self.exp_avg, "exp_avg_sq": self.exp_avg_sq}

    def load_state_dict(self, state: dict) -> None:
        self.step_count, self.lr = int(state["step_count"]), float(state["lr"])
        for dst, src in zip(self.exp_avg + self.exp_avg_sq, state["exp_avg"] + state["exp_avg_sq"]):
            dst.copy_(src)


class SGD:
    """Plain stochastic gradient descent as in ``torch.optim.SGD`` (no momentum)."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.lr = float(lr)
        self.step_count = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.step_count += 1
        for p in self.params:
            if p.grad is not None:
                p.add_(p.grad, alpha=-self.lr)

    def state_dict(self) -> dict:
        return {"step_count": self.step_count, "lr": self.lr}

    def load_state_dict(self, state: dict) -> None:
        self.step_count, self.lr = int(state["step_count"]), float(state["lr"])


def make_optimizer(name: str, params: Iterable[torch.Tensor], lr: float) -> Adam | SGD:
    if name == "adam":
        return Adam(params, lr=lr)
    if name == "sgd":
        return SGD(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r} (expected 'adam' or 'sgd')")


def learning_rate(schedule: str, base_lr: float, step: int, total_steps: int, final_lr: float = 0.0) -> float:
    """Learning rate at ``step`` (0-based) of ``total_steps`` for a constant, linear or cosine schedule."""
    if schedule == "constant":
        return base_lr
    frac = step / max(1, total_steps)
    if schedule == "linear":
        return base_lr + (final_lr - base_lr) * frac
    if schedule == "cosine":
        return final_lr + 0.5 * (base_lr - final_lr) * (1 + math.cos(math.pi * frac))
    raise ValueError(f"unknown learning-rate schedule {schedule!r} (expected constant, linear or cosine)")
