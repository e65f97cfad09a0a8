"""One training loop for every study: steps, learning-rate schedule, divergence check, evaluation hooks.

Studies differ in where a batch comes from (a shuffled fixed dataset, fresh samples each step) and what
they measure, so both are passed in as callables; the loop owns what must be the same everywhere:
the order of operations, the NaN check that names the run and step, and early stopping.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import Callable, Protocol

import torch


@dataclass(frozen=True)
class RunId:
    """Names a run in error messages and provenance."""

    study: str
    condition: str
    seed: int

    def __str__(self) -> str:
        return f"study {self.study!r}, condition {self.condition!r}, seed {self.seed}"


log = logging.getLogger("featurelab")


def seconds_since_process_start() -> float | None:
    """Wall time since this process was started (Linux /proc; None elsewhere).

    Logged at the first optimizer step, because start-up (interpreter, imports, data loading) is a real
    share of a short training job and the benchmark reports it.
    """
    try:
        start_ticks = int(open(f"/proc/{os.getpid()}/stat").read().rsplit(")", 1)[1].split()[19])
        uptime = float(open("/proc/uptime").read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


class DivergenceError(RuntimeError):
    """Training produced a non-finite loss."""


class Optimizer(Protocol):
    lr: float

    def zero_grad(self) -> None: ...
    def step(self) -> None: ...


def check_finite(loss: torch.Tensor, run: RunId, step: int) -> None:
    value = float(loss.detach().sum())  # one host sync; negligible next to a step
    if not math.isfinite(value):
        raise DivergenceError(
            f"training diverged: {run}: loss is {value} at step {step}. "
            "Lower the learning rate or check the inputs for non-finite values."
        )


def train_loop(optimizer: Optimizer, compute_loss: Callable[[int], torch.Tensor], n_steps: int, run: RunId, *,
               eval_every: int = 0, evaluate: Callable[[int], bool | None] | None = None,
               lr_at: Callable[[int], float] | None = None, start_step: int = 0) -> int:
    """Run optimizer steps ``start_step .. n_steps - 1``; return the number of steps taken in total.

    ``compute_loss(step)`` returns the (scalar, or per-model vector summed for the backward pass) loss
    of the batch for that step. ``evaluate(step)`` is called before the first step (step 0) and after
    every ``eval_every`` steps, with the number of completed steps; returning True stops training
    early. ``lr_at(step)`` sets the learning rate before each step.
    """
    if evaluate is not None and start_step == 0 and evaluate(0):
        return 0
    for step in range(start_step, n_steps):
        if lr_at is not None:
            optimizer.lr = lr_at(step)
        optimizer.zero_grad()
        loss = compute_loss(step)
        check_finite(loss, run, step)
        loss.sum().backward()
        optimizer.step()
        if step == start_step:
            since_start = seconds_since_process_start()
            if since_start is not None:
                log.info("%s: first optimizer step %.2f s after process start", run, since_start)
        done = step + 1
        if evaluate is not None and eval_every and done % eval_every == 0 and evaluate(done):
            return done
    return n_steps


def epoch_batches(n_examples: int, batch_size: int, generator: torch.Generator, device: str | torch.device
                  ) -> Callable[[int], torch.Tensor]:
    """Index batches that reshuffle at each epoch: ``batch_indices(step)`` for step = 0, 1, 2, ...

    Like the notebook's ``train_epoch``, the last batch of an epoch is short when ``batch_size`` does not
    divide ``n_examples``. Permutations are drawn on the CPU generator so they are the same on any device.
    """
    per_epoch = math.ceil(n_examples / batch_size)
    cache: dict[int, torch.Tensor] = {}

    def batch_indices(step: int) -> torch.Tensor:
        epoch, k = divmod(step, per_epoch)
        if epoch not in cache:
            cache.clear()
            cache[epoch] = torch.randperm(n_examples, generator=generator).to(device)
        return cache[epoch][k * batch_size:(k + 1) * batch_size]

    batch_indices.steps_per_epoch = per_epoch  # type: ignore[attr-defined]
    return batch_indices
