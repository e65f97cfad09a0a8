"""Batched vs one-model-per-run training for the learnability study (batch size 1, the notebook's regime).

    PYTHONPATH=src python benchmarks/learnability_benchmark.py [--steps 400] [--threads 1] [--device cpu]

For each task family of the default config, times ``--steps`` optimizer steps of (a) the whole family as
one BatchedMLP (what the pipeline does) and (b) one ``torch.nn`` MLP + Adam per task, stepped one after
another (what a per-run loop costs), both on pre-generated data so only training is timed. Prints
milliseconds per step of the whole family and the speed-up, and the projected time of the default study.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import yaml

from featurelab.devices import configure_torch
from featurelab.init import in_out_linear_default
from featurelab.optim import Adam
from featurelab.seeding import torch_generator
from featurelab.studies.learnability.data import input_dim, task_name
from featurelab.studies.learnability.model import BatchedMLP, per_instance_mse
from featurelab.studies.learnability.train import STUDY, family_tasks, padded_samples, task_streams

ROOT = Path(__file__).resolve().parents[1]


def batched(tasks, x, y, hidden, device):
    names = [task_name(t) for t in tasks]
    model = BatchedMLP([input_dim(t) for t in tasks], hidden, [torch_generator(STUDY, n, 0, "init") for n in names]).to(
        device
    )
    opt = Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    for s in range(x.shape[0]):
        opt.zero_grad()
        loss = per_instance_mse(model(x[s]), y[s])
        loss.sum().backward()
        opt.step()
    float(loss.detach().sum())
    return time.perf_counter() - start


def per_run(tasks, x, y, hidden, device):
    nets, opts = [], []
    for t in tasks:
        d = input_dim(t)
        net = torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)).to(device)
        with torch.no_grad():
            w, b = in_out_linear_default(d, hidden, torch_generator(STUDY, task_name(t), 0, "init"))
            net[0].weight.copy_(w.T)
            net[0].bias.copy_(b)
        nets.append(net)
        opts.append(Adam(net.parameters(), lr=1e-3))
    dims = [input_dim(t) for t in tasks]
    start = time.perf_counter()
    for i, (net, opt) in enumerate(zip(nets, opts)):
        xi, yi = x[:, i, :, : dims[i]].contiguous(), y[:, i, :, None].contiguous()
        for s in range(x.shape[0]):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(net(xi[s]), yi[s])
            loss.backward()
            opt.step()
    float(loss.detach())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    configure_torch(args.threads)
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())["learnability"]
    hidden, batch, per_epoch = cfg["model"]["hidden"], cfg["training"]["batch_size"], cfg["training"]["steps_per_epoch"]
    print(f"device {args.device}, {args.threads} thread(s), {args.steps} steps, batch size {batch}")
    print(
        f"{'family':<12} {'tasks':>5} {'batched ms/step':>16} {'per-run ms/step':>16} {'speed-up':>9} "
        f"{'budget':>7} {'batched s':>10} {'per-run s':>10}"
    )
    totals = [0.0, 0.0]
    for family, fcfg in cfg["families"].items():
        tasks = family_tasks(fcfg)
        d_max = max(input_dim(t) for t in tasks)
        xs, ys = padded_samples(
            tasks, [task_streams(task_name(t), 0, "bench") for t in tasks], args.steps * batch, d_max
        )
        x = torch.from_numpy(xs.reshape(len(tasks), args.steps, batch, d_max).transpose(1, 0, 2, 3).copy()).to(
            args.device
        )
        y = torch.from_numpy(ys.reshape(len(tasks), args.steps, batch).transpose(1, 0, 2).copy()).to(args.device)
        tb = batched(tasks, x, y, hidden, args.device) / args.steps
        tp = per_run(tasks, x, y, hidden, args.device) / args.steps
        budget = fcfg["epochs"] * per_epoch
        totals[0] += tb * budget * len(cfg["seeds"])
        totals[1] += tp * budget * len(cfg["seeds"])
        print(
            f"{family:<12} {len(tasks):>5} {tb * 1e3:>16.3f} {tp * 1e3:>16.3f} {tp / tb:>8.1f}x {budget:>7} "
            f"{tb * budget:>10.1f} {tp * budget:>10.1f}"
        )
    print(
        f"projected training time of the default study ({len(cfg['seeds'])} seeds, optimizer steps only): "
        f"batched {totals[0]:.0f} s, per-run {totals[1]:.0f} s"
    )


if __name__ == "__main__":
    main()
