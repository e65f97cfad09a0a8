"""Benchmark: the default hierarchy sweep (depths 1-5 x widths 2-10 x 5 instances), notebook's approach vs pipeline.

    .venv/bin/python benchmarks/hierarchy_benchmark.py --pairs 3

Interleaved fresh processes (``benchmarks/sidebyside.py``), one thread each, on the default config's sizes
(config.yaml ``hierarchy``: depths 1-5, widths 2-10 where width <= features, 5 seeds/instances, batch 1024,
Adam 1e-3 constant) except the step count: ``--steps`` (default 150) instead of 10,000 on both sides. Each side
has a fixed cost (start-up, final evaluations, the agreement check, the pipeline's table writes: ~5-6 CPU-s
each) and a cost per step of the whole sweep (notebook ~0.34 CPU-s, pipeline ~0.035 CPU-s, measured with
``/usr/bin/time`` at 20 and 100 steps under load): the notebook side would need ~55 min at 10,000 steps, and
three pairs at 150 steps take about three and a half minutes. The reported ratio is the whole-process ratio at
``--steps``; it rises towards the per-step ratio (~10x) as ``--steps`` grows.

* **notebook** - notebook 004's approach, written here in plain torch: one model per (depth, n_hidden) for
  the 33 configurations, each with ``n_instances = 5``; ``W`` by ``nn.init.xavier_normal_`` on the whole
  (5, n_hidden, n_features) tensor, ``b = 0``; ``torch.optim.Adam`` with the learning rate set every step
  (``constant_lr``); every step a fresh batch of 1024 x 5 samples from the notebook's ``generate_batch``
  with ``early_stopping=True`` (a Python loop over levels and sibling pairs, two ``torch.rand`` coins per
  pair, children multiplied by the parent, the root column shaved off); the forward pass
  ``ReLU(W^T W x + b)`` by einsum; ``calculate_loss`` (mean over batch and features, summed over instances);
  ``loss.item()`` every 100 steps (the progress bar); after training, the loss on 500 fresh samples.
* **pipeline** - what the workflow's 5 ``hierarchy_train`` jobs run (one per seed, every depth), here in one
  process: ``gc.freeze`` and :func:`featurelab.devices.configure_torch` (as ``scripting.run`` and
  ``TorchJob``), then per seed :func:`featurelab.studies.hierarchy.train.train_seed` on the default config
  (every (depth, width) as one instance of a padded, masked ``BatchedTMS``; the ``patterns`` estimator: each
  depth's 2^(d+1) - 1 distinct patterns weighted by multinomial counts of a 1024-sample batch; exact
  expected loss every ``log_every`` steps and at the end; loss on 10,000 fresh samples) and ``write_table``
  of its metrics and weights. Not counted: each of the workflow's 5 jobs is its own process and pays a
  start-up (importing torch, pyarrow and the study modules and configuring torch: ~2-3 CPU-s), which this
  side pays once.

Agreement. The two sides train with different estimators by design (sampled batches vs pattern counts: the
same distribution of every loss and gradient, different random draws), so their trained weights are not
comparable to float tolerance. What is deterministic is compared instead, for every (depth, n_hidden):
the per-instance loss and the gradients of ``W`` and ``b`` of the *same* weights on the *same* batch. The
weights are fixed check weights (``W`` normal with the notebook's Xavier std, ``b`` normal with std 0.1, from
a NumPy seed per configuration), the batch is 1024 x 5 samples from the notebook's generator under a fixed
torch seed. The notebook side evaluates them as its training step does (einsum forward, ``calculate_loss``,
autograd); the pipeline side as ``train_seed`` does: the batch reduced to pattern counts per instance, and
every width of the depth in one padded ``BatchedTMS`` whose ``loss(patterns, counts / 1024)`` is
backpropagated. So the check covers the pattern estimator (count-weighted patterns = the mean over the
expanded batch) and the width batching (padding, mask). Tolerance ``rtol 1e-4, atol 1e-6``: the sides sum
1024 float32 rows in different orders (the pattern side sums 2^(d+1) - 1 weighted rows), ~1e-6 relative;
measured: the largest relative difference 1.1e-5, 8 % of the tolerance. Scaling the
pipeline side's check weights by 1 + 1e-4 fails the check (tried once), as would a mis-assigned pattern count.

Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sidebyside  # noqa: E402
from featurelab.studies.hierarchy import STUDY  # noqa: E402

N_INSTANCES = 5  # the notebook's N_INSTANCES; the pipeline's 5 seeds
CHECK_BATCH = 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, default=150, help="optimizer steps per model on both sides")


def study_config() -> dict:
    import yaml

    return yaml.safe_load((sidebyside.REPO / "config.yaml").read_text())[STUDY]


def configurations(cfg: dict) -> list[tuple[int, int, int]]:
    """(depth, n_features, n_hidden) of the notebook's loop: widths above the feature count skipped."""
    out = []
    for depth in cfg["tree"]["depths"]:
        nf = 2 ** (int(depth) + 1) - 2
        out += [(int(depth), nf, int(h)) for h in cfg["model"]["n_hidden"] if int(h) <= nf]
    return out


def generate_batch(torch, batch_size: int, n_instances: int, depth: int):
    """The notebook's ``generate_batch`` (``early_stopping=True``), loop for loop: (batch, instances, F)."""
    n_nodes = 2 ** (depth + 1) - 1
    feat = torch.zeros((batch_size, n_instances, n_nodes))
    shape = (batch_size, n_instances)
    for level in range(depth + 1):
        if level == 0:
            feat[:, :, 0] = torch.ones(shape)
            continue
        start = 2**level - 1
        for i in range(2 ** (level - 1)):
            one = (torch.rand(shape) > 0.5).to(torch.int)
            two = (torch.rand(shape) > 0.5).to(torch.int)
            feat[:, :, start + 2 * i] = ((one - two) == 1).to(torch.int)
            feat[:, :, start + 2 * i + 1] = ((two - one) == 1).to(torch.int)
            parent = (start + 2 * i - 1) // 2
            feat[:, :, start + 2 * i] *= feat[:, :, parent]
            feat[:, :, start + 2 * i + 1] *= feat[:, :, parent]
    return feat[:, :, 1:]


def check_inputs(torch, depth: int, nf: int, h: int):
    """The agreement check's weights of one configuration and its batch (see the docstring)."""
    rng = np.random.default_rng(1000 * depth + h)
    std = math.sqrt(2.0 / (nf * (h + N_INSTANCES)))  # xavier_normal_ of (5, h, nf)
    W = torch.as_tensor(rng.normal(0.0, std, (N_INSTANCES, h, nf)), dtype=torch.float32)
    b = torch.as_tensor(rng.normal(0.0, 0.1, (N_INSTANCES, nf)), dtype=torch.float32)
    torch.manual_seed(depth)
    return W, b, generate_batch(torch, CHECK_BATCH, N_INSTANCES, depth)


def notebook_forward(torch, W, b, x):
    hidden = torch.einsum("bif,ihf->bih", x, W)
    return torch.relu(torch.einsum("bih,ihf->bif", hidden, W) + b)


def notebook_loss_per_instance(out, x):
    return ((x - out) ** 2).mean(dim=(0, 2))  # importance 1; einops 'batch instances features -> instances' mean


def notebook(args: argparse.Namespace) -> dict[str, np.ndarray]:
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)  # the notebook draws from torch's global generator, unseeded
    cfg = study_config()
    lr, batch_size, log_freq = float(cfg["training"]["learning_rate"]), int(cfg["training"]["batch_size"]), 100
    finals = []
    for depth, nf, h in configurations(cfg):
        W = torch.nn.Parameter(torch.nn.init.xavier_normal_(torch.empty((N_INSTANCES, h, nf))))
        b = torch.nn.Parameter(torch.zeros((N_INSTANCES, nf)))
        optimizer = torch.optim.Adam([W, b], lr=lr)
        for step in range(args.steps):
            for group in optimizer.param_groups:
                group["lr"] = lr * 1.0  # constant_lr
            optimizer.zero_grad()
            batch = generate_batch(torch, batch_size, N_INSTANCES, depth)
            loss = notebook_loss_per_instance(notebook_forward(torch, W, b, batch), batch).sum()
            loss.backward()
            optimizer.step()
            if step % log_freq == 0 or step + 1 == args.steps:
                shown = loss.item() / N_INSTANCES  # noqa: F841 (the progress bar's postfix)
        batch = generate_batch(torch, 500, N_INSTANCES, depth)
        finals.append(float(notebook_loss_per_instance(notebook_forward(torch, W, b, batch), batch).sum()))
    assert all(np.isfinite(finals))

    out = {}
    for depth, nf, h in configurations(cfg):
        W, b, x = check_inputs(torch, depth, nf, h)
        W.requires_grad_(True)
        b.requires_grad_(True)
        losses = notebook_loss_per_instance(notebook_forward(torch, W, b, x), x)
        losses.sum().backward()
        out[f"depth{depth}_h{h}_loss"] = losses.detach().numpy()
        out[f"depth{depth}_h{h}_grad_W"] = W.grad.numpy()
        out[f"depth{depth}_h{h}_grad_b"] = b.grad.numpy()
    return out


def pipeline(args: argparse.Namespace) -> dict[str, np.ndarray]:
    import torch

    from featurelab.devices import configure_torch
    from featurelab.io import table_from_columns, write_table
    from featurelab.studies.hierarchy.data import tree_patterns
    from featurelab.studies.hierarchy.model import BatchedTMS
    from featurelab.studies.hierarchy.train import train_seed, widths_for

    gc.freeze()  # scripting.run, before the study function
    configure_torch(1)  # TorchJob, at the config's hierarchy training threads (1)
    cfg = study_config()
    training = {**cfg["training"], "steps": int(args.steps)}
    with tempfile.TemporaryDirectory(prefix="hierarchy-bench-") as tmp:
        for seed in cfg["seeds"]:
            metrics, weights = train_seed(int(seed), cfg["tree"], cfg["model"], training, cfg["evaluation"], "cpu")
            write_table(table_from_columns(metrics), Path(tmp) / f"m{seed}.parquet", {"benchmark": 1})
            write_table(table_from_columns(weights), Path(tmp) / f"w{seed}.parquet", {"benchmark": 1})

    out = {}
    for depth in cfg["tree"]["depths"]:
        depth = int(depth)
        widths = widths_for(depth, list(cfg["model"]["n_hidden"]))
        patterns, _ = tree_patterns(depth, cfg["tree"]["sampling"])
        x_p = torch.as_tensor(patterns)
        checks = {h: check_inputs(torch, depth, patterns.shape[1], h) for h in widths}
        x = checks[widths[0]][2]  # the same batch for every width of a depth
        # each sample is exactly one pattern: its index by matching rows
        index = (x[:, :, None, :] == x_p[None, None]).all(-1).to(torch.int64).argmax(-1)  # (batch, instances)
        results = {h: ([], [], []) for h in widths}
        for i in range(N_INSTANCES):
            counts = torch.bincount(index[:, i], minlength=len(patterns)).to(torch.float32)
            model = BatchedTMS(widths, patterns.shape[1])
            with torch.no_grad():
                for j, h in enumerate(widths):
                    model.W[j].zero_()
                    model.W[j, :h] = checks[h][0][i]
                    model.b[j] = checks[h][1][i]
            losses = model.loss(x_p, counts / x.shape[0])  # (widths,), as train_seed's compute_loss
            losses.sum().backward()
            for j, h in enumerate(widths):
                results[h][0].append(float(losses[j]))
                results[h][1].append(model.W.grad[j, :h].numpy().copy())
                results[h][2].append(model.b.grad[j].numpy().copy())
        for h, (loss, grad_w, grad_b) in results.items():
            out[f"depth{depth}_h{h}_loss"] = np.asarray(loss, dtype=np.float32)
            out[f"depth{depth}_h{h}_grad_W"] = np.stack(grad_w)
            out[f"depth{depth}_h{h}_grad_b"] = np.stack(grad_b)
    return out


if __name__ == "__main__":
    sidebyside.main(__doc__, notebook, pipeline, add_arguments=add_arguments, rtol=1e-4, atol=1e-6)
