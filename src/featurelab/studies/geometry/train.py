"""The torch side of the geometry study: sparse uniform features, the batched ReLU output model, training.

One run = one seed: every sparsity of the sweep is an *instance* of one batched model (the TMS colab's
``n_instances``), so one optimizer step trains the whole sweep. Instances share nothing but the batched
kernels: the loss is a sum of per-instance losses and AdamW is element-wise, so each instance trains as it
would alone (tested against one-instance training on the same initial weights and data).

Faithful to the TMS colab's ``Model``/``optimize`` (Elhage et al. 2022):

* x' = ReLU(W^T W x + b), W of shape (m, n) per instance (the colab stores its transpose), b = 0 at start;
* each feature U[0, 1) with probability p = 1 - S, else 0, a fresh batch every step (:mod:`featurelab.sparse_uniform`: one
  random integer per entry, NumPy's generator on the CPU, torch's on an accelerator);
* loss = importance-weighted squared error, mean over batch and features per instance (the colab's
  ``einops.reduce(error, 'b i f -> i', 'mean')``), summed over instances for the backward pass. Importance
  is 1 for every feature in this experiment, so it is left out. ``training.feature_reduction: sum`` sums
  over features instead (the paper's written loss); under AdamW the two differ only through epsilon;
* ``torch.optim.AdamW`` with torch's defaults (betas 0.9/0.999, eps 1e-8, weight decay 0.01), lr 1e-3,
  constant schedule, batch 1024 (the colab's ``optimize`` defaults);
* W initialised as the colab's ``nn.init.xavier_normal_`` on the whole (instances, n, m) tensor:
  std = sqrt(2 / (m (n + I))) with I instances (``model.init: colab``); ``per_instance`` uses the Xavier std
  of one (m, n) matrix, sqrt(2 / (n + m)), which does not depend on the sweep's size.

Importing this module and training load torch and NumPy only (a test checks): pandas and matplotlib would
add seconds to the start of every job. (Writing the loss table does load pandas: pyarrow imports it for any
``pa.array`` when it is installed.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from featurelab.init import xavier_normal_std
from featurelab.optim import AdamW
from featurelab.seeding import derive_seed, torch_generator
from featurelab.sparse_uniform import SparseUniform
from featurelab.studies.geometry import STUDY
from featurelab.tms import relu_output_loss

#: The run's condition in random-stream names and error messages (one sweep per seed).
CONDITION = "sweep"
#: Long-format schema of a run's ``losses.parquet``.
LOSS_COLUMNS = ("study", "seed", "instance", "sparsity", "inverse_density", "step", "metric", "value")
INIT_MODES = ("colab", "per_instance")
REDUCTIONS = ("mean", "sum")


def inverse_densities(sweep: Mapping[str, Any]) -> np.ndarray:
    """1/(1 - S) per instance: ``sweep.inverse_densities`` as listed when the list is not empty, else
    ``n_instances`` values log-spaced from ``inverse_density_min`` to ``inverse_density_max`` (min 1, max 20
    is the colab's ``20 ** linspace(0, 1, n_instances)``).

    A list places the instances where the structure forms (the drops of m/||W||_F^2) without paying for the
    whole grid; an empty list (what a config file can write over a list) selects the grid."""
    if sweep.get("inverse_densities"):
        listed = np.asarray(sweep["inverse_densities"], dtype=np.float64)
        if listed.ndim != 1 or listed.size < 1 or (listed < 1).any() or (np.diff(listed) <= 0).any():
            raise ValueError(
                "config key 'geometry.sweep.inverse_densities': need an increasing list of values >= 1, "
                f"got {list(sweep['inverse_densities'])}"
            )
        return listed
    lo, hi, k = float(sweep["inverse_density_min"]), float(sweep["inverse_density_max"]), int(sweep["n_instances"])
    if lo < 1 or hi < lo or k < 1:
        raise ValueError(
            f"config key 'geometry.sweep': need 1 <= inverse_density_min <= inverse_density_max and "
            f"n_instances >= 1, got {dict(sweep)}"
        )
    return np.exp(np.linspace(math.log(lo), math.log(hi), k)) if k > 1 else np.array([lo])


def feature_probabilities(sweep: Mapping[str, Any]) -> np.ndarray:
    """p = 1 - S per instance: the reciprocals of :func:`inverse_densities`."""
    return 1.0 / inverse_densities(sweep)


def baseline_loss(p: np.ndarray, n_features: int, reduction: str) -> np.ndarray:
    """The loss of the best model that ignores its input (W = 0, b_i = E[x_i] = p/2): Var(x_i) = p/3 - p^2/4
    per feature, times n for a sum over features. The "trained" precondition is measured against it."""
    var = p / 3.0 - p**2 / 4.0
    return var * (n_features if reduction == "sum" else 1)


def init_std(init: str, n_hidden: int, n_features: int, n_instances: int) -> float:
    """Standard deviation of W's entries (see the module docstring)."""
    if init == "colab":
        return xavier_normal_std((n_instances, n_features, n_hidden))  # the colab's 3-D call
    if init == "per_instance":
        return xavier_normal_std((n_hidden, n_features))
    raise ValueError(f"config key 'geometry.model.init': expected one of {INIT_MODES}, got {init!r}")


class SweepModel(nn.Module):
    """``I`` ReLU output models x' = ReLU(W^T W x + b), W: (I, m, n), b: (I, n), inputs (I, batch, n)."""

    def __init__(self, W: torch.Tensor, b: torch.Tensor | None = None) -> None:
        super().__init__()
        if W.dim() != 3:
            raise ValueError(f"W must have shape (instances, n_hidden, n_features), got {tuple(W.shape)}")
        self.W = nn.Parameter(W.clone())
        self.b = nn.Parameter(torch.zeros(W.shape[0], W.shape[2], dtype=W.dtype) if b is None else b.clone())

    @classmethod
    def initialised(
        cls, n_instances: int, n_hidden: int, n_features: int, init: str, generator: torch.Generator
    ) -> SweepModel:
        std = init_std(init, n_hidden, n_features, n_instances)
        # drawn on the CPU generator, so the initial weights are the same whatever the device
        return cls(torch.randn((n_instances, n_hidden, n_features), generator=generator) * std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.bmm(x, self.W.transpose(1, 2))  # (I, B, m)
        return torch.relu(torch.baddbmm(self.b[:, None, :], h, self.W))  # (I, B, n)

    def loss(self, x: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        """Squared error per instance, (I,): mean over the batch; mean (colab) or sum over features."""
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"config key 'geometry.training.feature_reduction': expected one of {REDUCTIONS}, got {reduction!r}"
            )
        scale = 1.0 / (x.shape[1] * (x.shape[2] if reduction == "mean" else 1))
        return relu_output_loss(self.W, self.b, x, scale)

    def loss_autograd(self, x: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        """The same loss through autograd (the reference the tests compare :meth:`loss` with)."""
        err = (self(x) - x).square()
        return err.mean(dim=(1, 2)) if reduction == "mean" else err.sum(dim=2).mean(dim=1)


def input_sampler(p: np.ndarray, n_features: int, seed: int, purpose: str, device: str) -> SparseUniform:
    """The run's sparse-input stream for ``purpose`` ("batches", "evaluation"), seeded from what it is."""
    return SparseUniform(p, n_features, derive_seed(STUDY, CONDITION, seed, purpose), device)


def make_lr(training: Mapping[str, Any]) -> Callable[[int], float]:
    from featurelab.optim import learning_rate

    steps, lr, schedule = int(training["steps"]), float(training["learning_rate"]), training["lr_schedule"]
    return lambda step: learning_rate(schedule, lr, step, steps)


def fit(
    model: SweepModel,
    optimizer: AdamW,
    batch: Callable[[int], torch.Tensor],
    training: Mapping[str, Any],
    seed: int,
    evaluate: Callable[[int], bool | None] | None = None,
    checkpoint=None,
) -> int:
    """The training loop (featurelab.training.train_loop) on ``batch(step)`` inputs; returns the steps taken."""
    from featurelab.training import RunId, train_loop

    reduction = training["feature_reduction"]
    return train_loop(
        optimizer,
        lambda step: model.loss(batch(step), reduction),
        int(training["steps"]),
        RunId(STUDY, CONDITION, seed),
        eval_every=int(training["log_every"]),
        evaluate=evaluate,
        lr_at=make_lr(training),
        checkpoint=checkpoint,
    )


def train_sweep(seed: int, model_cfg: Mapping[str, Any], sweep: Mapping[str, Any], training: Mapping[str, Any],
                evaluation: Mapping[str, Any], device: str, checkpoint_to: str | None = None, checkpoint_every: int = 0
                ) -> tuple[dict[str, list], dict[str, np.ndarray]]:  # fmt: skip
    """Train one seed's sweep; return (loss-curve columns, arrays W, b, p, sparsity, baseline).

    The loss curve is measured on one fixed evaluation set of ``evaluation.n_samples`` inputs per instance
    (regenerated from the same generator state each time, in chunks of the batch size, so it costs no
    memory), before the first step and every ``training.log_every`` steps.
    """
    from featurelab.training import Checkpoint, state_key

    n, m = int(model_cfg["n_features"]), int(model_cfg["n_hidden"])
    p_np = feature_probabilities(sweep)
    n_inst, reduction = len(p_np), training["feature_reduction"]
    model = SweepModel.initialised(n_inst, m, n, model_cfg["init"], torch_generator(STUDY, CONDITION, seed, "init")).to(
        device
    )
    optimizer = AdamW(
        model.parameters(), lr=float(training["learning_rate"]), weight_decay=float(training["weight_decay"])
    )
    batches = input_sampler(p_np, n, seed, "batches", device)
    batch_size = int(training["batch_size"])
    eval_inputs = input_sampler(p_np, n, seed, "evaluation", device)
    eval_start = eval_inputs.state()
    columns: dict[str, list] = {c: [] for c in LOSS_COLUMNS}

    @torch.no_grad()
    def evaluate(step: int) -> bool:
        eval_inputs.set_state(eval_start)
        total, left = torch.zeros(n_inst, device=device, dtype=torch.float64), int(evaluation["n_samples"])
        while left > 0:
            rows = min(left, batch_size)
            total += model.loss(eval_inputs.draw(rows), reduction).double() * rows
            left -= rows
        for i, value in enumerate((total / int(evaluation["n_samples"])).cpu().tolist()):
            for k, v in zip(
                LOSS_COLUMNS, (STUDY, seed, i, 1.0 - float(p_np[i]), 1.0 / float(p_np[i]), step, "loss", float(value))
            ):
                columns[k].append(v)
        return False

    checkpoint = None
    if checkpoint_to is not None:

        def state() -> dict:
            return {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "batches": batches.state(),
                "columns": {k: list(v) for k, v in columns.items()},
            }

        def restore(saved: dict) -> None:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            batches.set_state(saved["batches"])
            for k in columns:
                columns[k][:] = saved["columns"][k]

        key = state_key(STUDY, seed, dict(model_cfg), dict(sweep), dict(training), dict(evaluation))
        checkpoint = Checkpoint(checkpoint_to, checkpoint_every, state, restore, key=key)
    steps = fit(
        model,
        optimizer,
        lambda step: batches.draw(batch_size),
        training,
        seed,
        evaluate=evaluate,
        checkpoint=checkpoint,
    )
    if steps % int(training["log_every"]):
        evaluate(steps)
    arrays = {
        "W": model.W.detach().cpu().numpy(),
        "b": model.b.detach().cpu().numpy(),
        "feature_probability": p_np,
        "sparsity": 1.0 - p_np,
        "baseline_loss": baseline_loss(p_np, n, reduction),
    }
    return columns, arrays


def train_job(smk: Any) -> None:
    """Rule geometry_train: one seed's sweep -> ``output.weights`` (npz) and ``output.losses`` (parquet)."""
    from featurelab.io import save_arrays, table_from_columns, write_table
    from featurelab.scripting import TorchJob
    from featurelab.training import checkpoint_every, checkpoint_path

    job = TorchJob(smk)
    seed = int(smk.wildcards.seed)
    p = smk.params
    cfg = {
        "model": dict(p.model),
        "sweep": dict(p.sweep),
        "training": dict(p.training),
        "evaluation": dict(p.evaluation),
    }
    columns, arrays = train_sweep(
        seed,
        cfg["model"],
        cfg["sweep"],
        cfg["training"],
        cfg["evaluation"],
        job.device,
        checkpoint_to=str(checkpoint_path(smk.output.weights)),
        checkpoint_every=checkpoint_every(getattr(smk, "config", None)),
    )
    record = job.provenance({**cfg, "seed": seed})
    write_table(table_from_columns(columns), smk.output.losses, record)
    save_arrays(smk.output.weights, record, seed=np.array(seed), **arrays)
    job.done(f"trained the geometry sweep ({len(arrays['sparsity'])} sparsities), seed {seed},")
