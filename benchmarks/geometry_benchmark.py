"""Benchmark: one seed's training job of the geometry study against the TMS colab's ``Model`` / ``optimize``.

    .venv/bin/python benchmarks/geometry_benchmark.py --pairs 3

There is no notebook of this repository's own for this study; the reference is the paper's colab
(``toy_models.ipynb``: ``Model``, ``generate_batch``, ``optimize``), as docs/geometry.md and
``featurelab.studies.geometry.train`` describe it. Both sides train the default config's sweep (n = 400
features, m = 30 hidden, 8 sparsities as 8 instances of one model, batch 256 (the colab's default: 1,024),
AdamW lr 1e-3, weight decay 0.01, constant schedule), one seed, for ``--steps`` steps (default 700 of the
config's 10,000, so that three pairs fit in 4 minutes; a step costs the same at every step, so the ratio is
the per-step ratio of the full run up to the evaluations, which the pipeline runs at step 0, every
``log_every`` = 1,000 steps and after the last: 2 here, 11 in the full run, each ~0.1 s).

* **notebook** (the colab's approach, plain torch, in this file): ``Model`` with ``W`` (instances, n, m)
  initialised by ``nn.init.xavier_normal_`` and ``b_final`` zeros; per step ``optimize`` sets the
  learning rate of the param group, ``zero_grad(set_to_none=True)``, draws the batch (B, instances, n)
  as ``generate_batch`` does (a value tensor and a mask tensor, ``torch.where(mask <= p, value, 0)``),
  runs the two ``einsum``s + bias + ReLU, the loss ``einops.reduce(importance * (|x| - out)^2, 'b i f ->
  i', 'mean').sum()`` (importance 1), autograd's backward and ``torch.optim.AdamW(lr=1e-3)``'s step; the
  colab's ``loss.item()`` every ``print_freq`` = 100 steps.
* **pipeline**: ``train_sweep`` of ``featurelab.studies.geometry.train``, the function the
  ``geometry_train`` job calls, on the default config's sections (read from config.yaml) with
  ``training.steps`` = ``--steps``: the batched bmm model with its hand-written backward, one uniform per
  input entry, featurelab's AdamW, the loss on the 4,096-sample evaluation set at step 0 and every
  ``log_every`` steps (work the colab does not do).

Same start and same data on both sides: after the colab's ``xavier_normal_`` (same std, the colab's 3-D
call; checked) the notebook side copies in the pipeline's initial draw (transposed to the colab's layout),
and its batches are the pipeline's: it makes the colab's two draws per step, but the mask comes from the
pipeline's one uniform u per entry (on iff u > 1 - p) and the drawn values are overwritten by the
pipeline's (u - (1 - p)) / p in its float32 arithmetic (one element-wise pass more than the colab).

Checked for agreement: the per-instance loss on the pipeline's fixed evaluation set (4,096 inputs) of the
initial weights and of the trained ones after ``--steps`` steps, 16 numbers; the pipeline side reports the
values its ``train_sweep`` logged, the notebook side computes them on its weights the same way (two
evaluations, ~0.1 s each, which the colab does not do). Tolerance ``rtol`` 1e-4 (``atol`` 0): the sides
compute the same float32 steps in a different order (einsum against bmm, autograd against the
hand-written backward, mean against a scaled sum of squares), ~1e-7 relative per step; Adam divides each
gradient by its running RMS, so these differences do not shrink with the gradient, and features at the
ReLU's edge amplify them: after 1,000 steps the weights differ by up to 5e-3 (of entries up to 0.44),
the loss by 2.0e-5 relative at most (measured). The weights are therefore not compared, the loss is. A real
difference fails: weight decay 0.02 instead of 0.01 on the notebook side moved the loss by 4.2e-4 relative.

Why the ratio is below 2x (measured at 1 thread, under load, per step of the default shape 8 x 256 x 400,
m = 30): the colab is already batched over the sweep (its ``n_instances``): there is no Python loop per
instance, feature or example to remove. Both sides must do the same five batched matrix products per step
(forward x W^T 2.8 ms and h W 2.2 ms, the backward's three of the same shapes ~8 ms) and draw at least one
uniform per input entry (5.4 ms), ~18 ms of the pipeline's ~26 ms step; the rest is a few element-wise
passes over the (8, 256, 400) activations (0.6 ms each) and AdamW on 99,200 numbers. What the pipeline
saves is the colab's second uniform draw (5.4 ms), autograd's and einsum's extra element-wise passes and
copies (the hand-written backward), and ``torch.optim``'s per-step overhead: one run of 1,000 steps took
49.5 CPU-s for the notebook side and 29.3 for the pipeline (1.7x). Going faster on 2 CPU cores would need
fewer matrix products or fewer random numbers than the model and its inputs require.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sidebyside  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
#: The colab's ``optimize(print_freq=100)``: ``loss.item()`` (a sync) for the progress bar.
PRINT_FREQ = 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, default=700, help="training steps (default 700 of the config's 10,000)")
    parser.add_argument("--seed", type=int, default=0, help="the seed whose initial weights and batches are used")


def setup(args: argparse.Namespace):
    """torch at 1 thread (as the jobs run) and the default config's geometry sections, steps replaced."""
    import torch
    import yaml

    from featurelab.devices import configure_torch

    configure_torch(1)
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())["geometry"]
    cfg["training"] = {**cfg["training"], "steps": int(args.steps)}
    return torch, cfg


def evaluation_loss(torch, W: np.ndarray, b: np.ndarray, cfg, seed: int) -> np.ndarray:
    """Per-instance loss of weights ``W`` (I, m, n), ``b`` (I, n) on the fixed evaluation set, computed as
    the pipeline's ``train_sweep`` logs it (``evaluation.n_samples`` inputs of the evaluation stream, in
    chunks of the batch size, accumulated in float64)."""
    from featurelab.seeding import torch_generator
    from featurelab.studies.geometry.train import CONDITION, STUDY, SweepModel, feature_probabilities, sample_features

    p = torch.as_tensor(feature_probabilities(cfg["sweep"]), dtype=torch.float32)
    gen = torch_generator(STUDY, CONDITION, seed, "evaluation")
    model = SweepModel(torch.as_tensor(W), torch.as_tensor(b))
    batch, n, left = (
        int(cfg["training"]["batch_size"]),
        int(cfg["model"]["n_features"]),
        int(cfg["evaluation"]["n_samples"]),
    )
    total = torch.zeros(len(p), dtype=torch.float64)
    with torch.no_grad():
        while left > 0:
            rows = min(left, batch)
            total += model.loss(sample_features(p, rows, n, gen), cfg["training"]["feature_reduction"]).double() * rows
            left -= rows
    return (total / int(cfg["evaluation"]["n_samples"])).numpy()


# ------------------------------------------------------------------------------------------ notebook


def notebook(args: argparse.Namespace) -> dict[str, np.ndarray]:
    torch, cfg = setup(args)
    from torch import nn
    from torch.nn import functional as F

    from featurelab.seeding import torch_generator
    from featurelab.studies.geometry.train import CONDITION, STUDY, feature_probabilities, init_std

    n, m = int(cfg["model"]["n_features"]), int(cfg["model"]["n_hidden"])
    probability = torch.as_tensor(feature_probabilities(cfg["sweep"]), dtype=torch.float32)
    n_inst = len(probability)
    training = cfg["training"]
    if (
        cfg["model"]["init"] != "colab"
        or training["feature_reduction"] != "mean"
        or training["lr_schedule"] != "constant"
    ):
        raise SystemExit("the colab's model: run with the default model.init, feature_reduction and lr_schedule")

    class Model(nn.Module):  # the colab's Model (importance 1)
        def __init__(self) -> None:
            super().__init__()
            self.W = nn.Parameter(torch.empty((n_inst, n, m)))
            nn.init.xavier_normal_(self.W)
            self.b_final = nn.Parameter(torch.zeros((n_inst, n)))
            self.feature_probability = probability[:, None]

        def forward(self, features: torch.Tensor) -> torch.Tensor:
            hidden = torch.einsum("...if,ifh->...ih", features, self.W)
            out = torch.einsum("...ih,ifh->...if", hidden, self.W)
            return F.relu(out + self.b_final)

    model = Model()
    std = float(model.W.detach().std())
    if abs(std / init_std("colab", m, n, n_inst) - 1) > 0.05:
        raise SystemExit(
            f"xavier_normal_ gave std {std:.4g}, the pipeline's init {init_std('colab', m, n, n_inst):.4g}"
        )
    init = torch.randn((n_inst, m, n), generator=torch_generator(STUDY, CONDITION, args.seed, "init"))
    with torch.no_grad():  # the pipeline's initial draw, in the colab's (instances, n, m) layout
        model.W.copy_((init * init_std("colab", m, n, n_inst)).transpose(1, 2))

    W0, b0 = model.W.detach().transpose(1, 2).numpy().copy(), model.b_final.detach().numpy().copy()
    gen = torch_generator(STUDY, CONDITION, args.seed, "batches")
    inv = (1.0 / probability)[None, :, None]  # the colab's (b, i, f) layout
    offset = (1.0 - 1.0 / probability)[None, :, None]

    spare = torch.Generator().manual_seed(0)

    def generate_batch(n_batch: int) -> torch.Tensor:
        # The colab: feat = rand(b, i, f); batch = where(rand(b, i, f) <= p, feat, 0): two draws. Both are
        # made here, but so that the batch is the pipeline's, the mask comes from the pipeline's one uniform
        # u (I, b, f) per entry (on iff u > 1 - p) and the value drawn into ``feat`` is overwritten by the
        # pipeline's (u - (1 - p)) / p, in its float32 arithmetic (positive exactly where the entry is on).
        feat = torch.rand((n_batch, n_inst, n), generator=spare)
        u = torch.rand((n_inst, n_batch, n), generator=gen).transpose(0, 1)
        torch.addcmul(offset, u, inv, out=feat)
        return torch.where(feat > 0, feat, torch.zeros(()))

    steps, n_batch, lr = int(training["steps"]), int(training["batch_size"]), float(training["learning_rate"])
    opt = torch.optim.AdamW(list(model.parameters()), lr=lr, weight_decay=float(training["weight_decay"]))
    for step in range(steps):  # optimize()
        step_lr = lr * 1.0  # lr_scale = constant_lr
        for group in opt.param_groups:
            group["lr"] = step_lr
        opt.zero_grad(set_to_none=True)
        batch = generate_batch(n_batch)
        out = model(batch)
        error = (batch.abs() - out) ** 2
        loss = error.mean(dim=(0, 2)).sum()  # einops.reduce(error, 'b i f -> i', 'mean').sum()
        loss.backward()
        opt.step()
        if step % PRINT_FREQ == 0 or step + 1 == steps:
            loss.item() / n_inst  # the progress bar's postfix
    W = model.W.detach().transpose(1, 2).contiguous().numpy()  # the pipeline's (instances, m, n) layout
    b = model.b_final.detach().numpy()
    return {  # the pipeline's two evaluations (it logs them): before the first step and after the last
        "loss_initial": evaluation_loss(torch, W0, b0, cfg, args.seed),
        "loss_final": evaluation_loss(torch, W, b, cfg, args.seed),
    }


# ------------------------------------------------------------------------------------------ pipeline


def pipeline(args: argparse.Namespace) -> dict[str, np.ndarray]:
    torch, cfg = setup(args)
    from featurelab.studies.geometry.train import train_sweep

    columns, _ = train_sweep(  # the geometry_train job's call
        args.seed, cfg["model"], cfg["sweep"], cfg["training"], cfg["evaluation"], "cpu"
    )
    logged = {(step, i): v for step, i, v in zip(columns["step"], columns["instance"], columns["value"])}
    n_inst = max(columns["instance"]) + 1
    return {
        "loss_initial": np.array([logged[0, i] for i in range(n_inst)]),
        "loss_final": np.array([logged[args.steps, i] for i in range(n_inst)]),
    }


if __name__ == "__main__":
    sidebyside.main(__doc__, notebook, pipeline, add_arguments=add_arguments, rtol=1e-4, atol=0.0)
