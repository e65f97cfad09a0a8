"""Benchmark: one seed's training job of the geometry study against the TMS colab's ``Model`` / ``optimize``.

    .venv/bin/python benchmarks/geometry_benchmark.py --pairs 3
    .venv/bin/python benchmarks/geometry_benchmark.py --draws    # the ways to draw a step's inputs
    .venv/bin/python benchmarks/geometry_benchmark.py --pieces   # the pieces of the pipeline's step

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
  ``training.steps`` = ``--steps``: the batched bmm model with its hand-written backward, one random
  integer per input entry (``featurelab.sparse_uniform``: NumPy's SFC64 words), featurelab's AdamW, the loss on the 4,096-sample evaluation set at step 0 and every
  ``log_every`` steps (work the colab does not do).

Same start and same data on both sides: after the colab's ``xavier_normal_`` (same std, the colab's 3-D
call; checked) the notebook side copies in the pipeline's initial draw (transposed to the colab's layout),
and its batches are the pipeline's: it draws the colab's value tensor with torch's generator, takes the
pipeline's draw in place of the colab's mask draw (cheaper than torch's, so the ratio is a little
conservative), overwrites its values with the pipeline's (one copy more than the colab) and masks where the
pipeline's value is 0 (an entry is on exactly where it is positive).

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

Where the time goes (1 thread, the default shape 8 x 256 x 400, m = 30; CPU ms, medians of interleaved
rounds, on the 2-core machine shared with other jobs, load average 1.4). ``--pieces``: the five batched
matrix products 0.8-0.9 ms each, ~4.2 ms (x W^T in the untransposed layout: 1.5 ms instead of 0.8); the
draw 1.8 ms, of which SFC64's words 0.85; the loss's element-wise passes ~0.15 ms each (clamp, residual,
sum of squares, mask); AdamW 0.4 ms; the whole step 9.6 ms (7.6 at best). ``--draws``, one step's inputs, each source through
the sampler's construction: the sampler (SFC64's words) 2.0 ns per entry, PCG64's or PCG64DXSM's words 2.3, Philox's 3.8, NumPy's float32 uniform 3.3 (PCG64) to
4.1 (SFC64), torch's CPU generator 4.8 (float construction) to 5.1 (integer construction). The colab is
already batched over the sweep (its ``n_instances``), so both sides do the same five matrix products; the
pipeline saves the colab's second draw and torch's slower generator for the first, autograd's and einsum's
extra element-wise passes and copies (the hand-written backward), and ``torch.optim``'s per-step
overhead. ``--pairs 3`` at 700 steps: notebook 19.9 s (18.5-20.6 s), pipeline 7.7 s (7.0-8.0 s), speed-up
2.64x (2.50-2.68x). With the matrix products about half of the step and the random words a tenth, the
rest is a few element-wise passes and AdamW: going faster on the CPU would need fewer matrix products,
fewer random bits or fused kernels.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
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
    parser.add_argument("--draws", action="store_true", help="micro-benchmark: the ways to draw one step's batch")
    parser.add_argument("--pieces", action="store_true", help="micro-benchmark: the pieces of one training step")


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
    from featurelab.studies.geometry.train import SweepModel, feature_probabilities, input_sampler

    p = feature_probabilities(cfg["sweep"])
    model = SweepModel(torch.as_tensor(W), torch.as_tensor(b))
    batch, n, left = (
        int(cfg["training"]["batch_size"]),
        int(cfg["model"]["n_features"]),
        int(cfg["evaluation"]["n_samples"]),
    )
    inputs = input_sampler(p, n, seed, "evaluation", "cpu")
    total = torch.zeros(len(p), dtype=torch.float64)
    with torch.no_grad():
        while left > 0:
            rows = min(left, batch)
            total += model.loss(inputs.draw(rows), cfg["training"]["feature_reduction"]).double() * rows
            left -= rows
    return (total / int(cfg["evaluation"]["n_samples"])).numpy()


# ------------------------------------------------------------------------------------------ notebook


def notebook(args: argparse.Namespace) -> dict[str, np.ndarray]:
    torch, cfg = setup(args)
    from torch import nn
    from torch.nn import functional as F

    from featurelab.seeding import torch_generator
    from featurelab.studies.geometry import STUDY
    from featurelab.studies.geometry.train import CONDITION, feature_probabilities, init_std, input_sampler

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
    batches = input_sampler(probability.numpy(), n, args.seed, "batches", "cpu")
    spare = torch.Generator().manual_seed(0)

    def generate_batch(n_batch: int) -> torch.Tensor:
        # The colab: feat = rand(b, i, f); batch = where(rand(b, i, f) <= p, feat, 0): two draws. The value
        # draw is made here with torch's generator; so that the batch is the pipeline's, the pipeline's draw
        # (cheaper than torch's) stands in for the mask draw, its values overwrite ``feat`` and its zeros
        # are the mask (an entry is on exactly where the pipeline's value is positive).
        feat = torch.rand((n_batch, n_inst, n), generator=spare)
        x = batches.draw(n_batch).transpose(0, 1)  # the pipeline's (I, b, f) batch in the colab's layout
        return torch.where(x > 0, feat.copy_(x), torch.zeros(()))

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


# ------------------------------------------------------------------------------------------ micro-benchmarks


def cpu_ms(fns: dict[str, Callable[[], object]], rounds: int = 9, reps: int = 40) -> dict[str, list[float]]:
    """CPU milliseconds per call of each function: ``rounds`` rounds, the functions interleaved in each (so
    that a change of the machine's load falls on all of them), ``reps`` calls per function and round."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.process_time()
            for _ in range(reps):
                fn()
            times[name].append((time.process_time() - start) / reps * 1e3)
    return times


def report(times: dict[str, list[float]], per: int | None = None) -> None:
    print(
        f"CPU ms per call, median (min-max) of {len(next(iter(times.values())))} rounds; load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    for name, values in times.items():
        extra = f"  {np.median(values) * 1e6 / per:5.2f} ns per entry" if per else ""
        print(f"  {name:58s} {np.median(values):6.3f} ({min(values):.3f}-{max(values):.3f}){extra}")


class _RawWords:
    """A NumPy bit generator's ``random_raw`` words through the sampler's bit operations (NumpyBits with
    another generator)."""

    low = -(1 << 23)

    def __init__(self, bit_generator) -> None:
        self.bit_generator = bit_generator

    def fill(self, out):
        import torch

        words = self.bit_generator.random_raw((out.numel() + 1) // 2)
        halves = torch.from_numpy(words.view(np.int32)[: out.numel()]).view(out.shape)
        return out.copy_(halves.bitwise_right_shift_(8))


class _Float32Uniform:
    """NumPy's ``Generator.random(out=, dtype=float32)`` (a 24-bit integer times 2^-24) scaled back to the
    integer, through the sampler's arithmetic."""

    low = 0

    def __init__(self, bit_generator) -> None:
        self.generator = np.random.Generator(bit_generator)

    def fill(self, out):
        self.generator.random(out=out.numpy().reshape(-1), dtype=np.float32)
        return out.mul_(1 << 24)


def draws(args: argparse.Namespace) -> None:
    """One step's batch (the default shape, 1 thread) drawn every way considered: the sampler's source
    (SFC64 words), the same with NumPy's other bit generators, NumPy's float32 uniform, torch's CPU
    generator through the same integer construction (``TorchBits``) and as the one-uniform float
    construction (``rand``, then (u - (1 - p)) / p and the clamp)."""
    torch, cfg = setup(args)
    from featurelab.sparse_uniform import SparseUniform, TorchBits
    from featurelab.studies.geometry.train import feature_probabilities

    p, n, batch = (
        feature_probabilities(cfg["sweep"]),
        int(cfg["model"]["n_features"]),
        int(cfg["training"]["batch_size"]),
    )
    gen = torch.Generator().manual_seed(0)
    inv = torch.as_tensor(1.0 / p, dtype=torch.float32)[:, None, None]

    def torch_rand_float() -> torch.Tensor:
        u = torch.rand((len(p), batch, n), generator=gen)
        return u.mul_(inv).add_(1.0 - inv).clamp_min_(0.0)

    samplers = {
        "sampler: SFC64 random_raw, 2 entries per word": SparseUniform(p, n, 1),
        "PCG64 random_raw, 2 entries per word": SparseUniform(p, n, 1, bits=lambda s, d: _RawWords(np.random.PCG64(s))),
        "PCG64DXSM random_raw, 2 entries per word": SparseUniform(
            p, n, 1, bits=lambda s, d: _RawWords(np.random.PCG64DXSM(s))
        ),
        "Philox random_raw, 2 entries per word": SparseUniform(
            p, n, 1, bits=lambda s, d: _RawWords(np.random.Philox(s))
        ),
        "PCG64 Generator.random(out=, float32)": SparseUniform(
            p, n, 1, bits=lambda s, d: _Float32Uniform(np.random.PCG64(s))
        ),
        "SFC64 Generator.random(out=, float32)": SparseUniform(
            p, n, 1, bits=lambda s, d: _Float32Uniform(np.random.SFC64(s))
        ),
        "torch CPU generator, random_(0, 2^24) (TorchBits)": SparseUniform(p, n, 1, bits=TorchBits),
    }
    fns: dict[str, Callable[[], object]] = {name: (lambda s=s: s.draw(batch)) for name, s in samplers.items()}
    fns["torch CPU generator, rand + float construction"] = torch_rand_float
    words = samplers["sampler: SFC64 random_raw, 2 entries per word"].bits.bit_generator
    fns["  of which SFC64 random_raw alone"] = lambda: words.random_raw(len(p) * batch * n // 2)
    report(cpu_ms(fns), per=len(p) * batch * n)


def pieces(args: argparse.Namespace) -> None:
    """The pieces of one training step of the pipeline (the default shape, 1 thread): the draw, the five
    batched matrix products (and x W^T in the untransposed layout, for comparison), the forward's
    element-wise passes, the backward, AdamW, and the whole step."""
    torch, cfg = setup(args)
    from featurelab.optim import AdamW
    from featurelab.studies.geometry.train import SweepModel, feature_probabilities, input_sampler
    from featurelab.tms import _relu_backward_

    p, n, m = feature_probabilities(cfg["sweep"]), int(cfg["model"]["n_features"]), int(cfg["model"]["n_hidden"])
    batch = int(cfg["training"]["batch_size"])
    model = SweepModel.initialised(len(p), m, n, "colab", torch.Generator().manual_seed(0))
    optimizer = AdamW(model.parameters())
    inputs = input_sampler(p, n, args.seed, "batches", "cpu")
    x, W, b = inputs.draw(batch).clone(), model.W.detach(), model.b.detach()
    hT = torch.bmm(W, x.transpose(1, 2))
    out = torch.baddbmm(b[:, None, :], hT.transpose(1, 2), W).clamp_min_(0.0)
    resid = out - x
    flat = resid.view(len(p), 1, -1)

    def forward_backward() -> None:
        model.loss(x).sum().backward()
        optimizer.zero_grad()

    model.loss(x).sum().backward()
    grads = [q.grad.clone() for q in model.parameters()]

    def adamw() -> None:
        for q, g in zip(model.parameters(), grads):
            q.grad = g
        optimizer.step()

    def step() -> None:
        optimizer.zero_grad()
        model.loss(inputs.draw(batch)).sum().backward()
        optimizer.step()

    report(
        cpu_ms(
            {
                "draw (SparseUniform.draw)": lambda: inputs.draw(batch),
                "matmul h^T = W x^T (the forward's and backward's layout)": lambda: torch.bmm(W, x.transpose(1, 2)),
                "matmul h = x W^T (for comparison)": lambda: torch.bmm(x, W.transpose(1, 2)),
                "matmul out = b + h W": lambda: torch.baddbmm(b[:, None, :], hT.transpose(1, 2), W),
                "matmul h^T dpre (gW's first of two)": lambda: torch.bmm(hT, resid),
                "element-wise: clamp": lambda: out.clamp_min(0.0),
                "element-wise: resid = out - x": lambda: torch.sub(out, x),
                "element-wise: sum of squares (bmm)": lambda: torch.bmm(flat, flat.transpose(1, 2)),
                "element-wise: mask (ReLU backward, in place)": lambda: _relu_backward_(resid, out),
                "forward + backward (model.loss)": forward_backward,
                "AdamW step": adamw,
                "whole step (draw, loss, backward, AdamW)": step,
            }
        )
    )


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
    micro = argparse.ArgumentParser(add_help=False)
    add_arguments(micro)
    known, _ = micro.parse_known_args()
    if known.draws or known.pieces:
        (draws if known.draws else pieces)(known)
    else:
        sidebyside.main(__doc__, notebook, pipeline, add_arguments=add_arguments, rtol=1e-4, atol=0.0)
