"""Adam, AdamW and SGD with torch.optim's exact update rules, minus ~2 s of start-up.

Constructing any ``torch.optim`` optimizer imports ``torch._dynamo`` (its methods are wrapped in
``torch._disable_dynamo``), which costs 0.9-2 s per process; torch offers no switch to skip it. The
pipeline starts one process per (condition, seed), so that import would be a large share of a short
job. This module implements the same arithmetic (``tests/test_optim.py`` checks it against
``torch.optim.Adam``/``AdamW``/``SGD`` bit for bit on CPU) and supports what the studies need: a settable
learning rate for schedules, and ``state_dict`` for checkpoints.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch


class Adam:
    """Adam (Kingma & Ba 2015) as in ``torch.optim.Adam(foreach=False)``, no weight decay or amsgrad.

    The moments of all parameters live in two flat buffers (``exp_avg`` / ``exp_avg_sq`` are views into
    them), so a step is six element-wise operations on one vector plus one ``_foreach`` update of the
    parameters, instead of seven small kernels per parameter: the same arithmetic element by element
    (hence bit-identical to torch.optim), a fifth of the dispatch overhead, which is what a step of
    these small models costs.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = [p for p in params if p.requires_grad]
        if len({(p.device, p.dtype) for p in self.params}) > 1:
            raise ValueError("Adam: all parameters must share one device and dtype")
        self.lr, self.betas, self.eps = float(lr), betas, float(eps)
        self.step_count = 0
        self._numels = [p.numel() for p in self.params]
        like = self.params[0] if self.params else torch.empty(0)
        self._m = torch.zeros(sum(self._numels), dtype=like.dtype, device=like.device)
        self._v = torch.zeros_like(self._m)
        self.exp_avg = self._views(self._m)
        self.exp_avg_sq = self._views(self._v)

    def _views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        return [chunk.view_as(p) for chunk, p in zip(flat.split(self._numels), self.params)]

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
        if any(p.grad is None for p in self.params):  # torch.optim skips those: no flat update possible
            self._step_each(step_size, bias_correction2_sqrt)
            return
        grad = torch.cat([p.grad.reshape(-1) for p in self.params])
        self._m.lerp_(grad, 1 - beta1)
        self._v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = (self._v.sqrt() / bias_correction2_sqrt).add_(self.eps)
        torch._foreach_addcdiv_(self.params, self.exp_avg, self._views(denom), value=-step_size)

    def _step_each(self, step_size: float, bias_correction2_sqrt: float) -> None:
        beta1, beta2 = self.betas
        for p, m, v in zip(self.params, self.exp_avg, self.exp_avg_sq):
            if p.grad is None:
                continue
            m.lerp_(p.grad, 1 - beta1)
            v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
            p.addcdiv_(m, (v.sqrt() / bias_correction2_sqrt).add_(self.eps), value=-step_size)

    def state_dict(self) -> dict:
        return {"step_count": self.step_count, "lr": self.lr, "exp_avg": self.exp_avg, "exp_avg_sq": self.exp_avg_sq}

    def load_state_dict(self, state: dict) -> None:
        self.step_count, self.lr = int(state["step_count"]), float(state["lr"])
        for dst, src in zip(self.exp_avg + self.exp_avg_sq, state["exp_avg"] + state["exp_avg_sq"]):
            dst.copy_(src)


class AdamW(Adam):
    """``torch.optim.AdamW(foreach=False)``'s arithmetic: decoupled weight decay p <- p (1 - lr wd), then the
    Adam step. Only parameters with a gradient decay, as in torch.optim, which skips the others entirely."""

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float = 1e-3,
        weight_decay: float = 0.01,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps)
        self.weight_decay = float(weight_decay)

    @torch.no_grad()
    def step(self) -> None:
        if self.weight_decay:
            torch._foreach_mul_([p for p in self.params if p.grad is not None], 1 - self.lr * self.weight_decay)
        super().step()


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
