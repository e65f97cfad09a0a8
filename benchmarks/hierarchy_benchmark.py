"""Benchmark: the hierarchy sweep as the pipeline trains it vs one model per configuration (the notebook).

Three ways to train the same sweep (depths x n_hidden x seeds, batch 1024, Adam), timed on the same
machine in one run, each for ``--steps`` steps and extrapolated linearly to ``--full-steps``:

* ``loop``     - the notebook: one model per (depth, n_hidden) with the seeds as its 5 instances, a
                 fresh batch of 1024 samples per instance per step (vectorized generator - faster than
                 the notebook's per-node loop, so the baseline is if anything flattered).
* ``widths``   - one model per (depth, seed) with all widths batched (padded + masked), fresh samples.
* ``patterns`` - the pipeline: as ``widths``, but the batch is the tree's distinct patterns weighted by
                 multinomial counts (the same estimator, far fewer rows).

Per-process start-up (``import torch`` ~2.6 s on this machine) is not included: the pipeline pays it
once per (depth, seed) job, the notebook once in total; see docs/hierarchy.md for end-to-end times.

    PYTHONPATH=src python benchmarks/hierarchy_benchmark.py --steps 200
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from featurelab.devices import configure_torch, resolve_device
from featurelab.optim import Adam
from featurelab.studies.hierarchy.data import n_features, pattern_counts, sample_tree, tree_patterns
from featurelab.studies.hierarchy.model import BatchedTMS


def _run(model, batch, steps: int, lr: float = 1e-3) -> float:
    opt = Adam(model.parameters(), lr=lr)
    start = time.perf_counter()
    for step in range(steps):
        opt.zero_grad()
        x, w = batch(step)
        model.loss(x, w).sum().backward()
        opt.step()
    if next(model.parameters()).is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start


def loop(depths, widths, seeds, steps, batch_size, device) -> float:
    total = 0.0
    for d in depths:
        nf = n_features(d)
        for h in [w for w in widths if w <= nf]:
            rng = np.random.default_rng(0)
            model = BatchedTMS([h] * seeds, nf, generator=torch.Generator().manual_seed(0)).to(device)

            def batch(step, d=d, rng=rng, nf=nf):
                x = sample_tree(batch_size * seeds, d, "exclusive", rng).reshape(batch_size, seeds, nf)
                return torch.as_tensor(x, device=device), None

            total += _run(model, batch, steps)
    return total


def batched(depths, widths, seeds, steps, batch_size, device, estimator) -> float:
    total = 0.0
    for d in depths:
        nf = n_features(d)
        ws = [w for w in widths if w <= nf]
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            model = BatchedTMS(ws, nf, generator=torch.Generator().manual_seed(seed)).to(device)
            if estimator == "patterns":
                patterns, probs = tree_patterns(d, "exclusive")
                x = torch.as_tensor(patterns, device=device)
                weights = torch.as_tensor(
                    pattern_counts(steps, batch_size, probs, rng) / batch_size, dtype=torch.float32, device=device
                )
                batch = lambda step, x=x, weights=weights: (x, weights[step])  # noqa: E731
            else:
                batch = lambda step, d=d, rng=rng: (
                    torch.as_tensor(
                        sample_tree(batch_size, d, "exclusive", rng),  # noqa: E731
                        device=device,
                    ),
                    None,
                )
            total += _run(model, batch, steps)
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--depths", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--widths", type=int, nargs="+", default=list(range(2, 11)))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=200, help="steps timed per model")
    ap.add_argument("--full-steps", type=int, default=10_000, help="steps to extrapolate to")
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args()
    configure_torch(args.threads)
    device = resolve_device(args.device)
    scale = args.full_steps / args.steps
    common = (args.depths, args.widths, args.seeds, args.steps, args.batch_size, device)
    results = {
        "device": device,
        "threads": args.threads,
        "steps_timed": args.steps,
        "extrapolated_to": args.full_steps,
        "n_configurations": sum(len([w for w in args.widths if w <= n_features(d)]) for d in args.depths),
        "seeds": args.seeds,
    }
    for name, fn in (
        ("loop", lambda: loop(*common)),
        ("widths", lambda: batched(*common, "samples")),
        ("patterns", lambda: batched(*common, "patterns")),
    ):
        results[f"{name}_s"] = round(fn() * scale, 1)
        print(f"{name:9s} {results[f'{name}_s']:8.1f} s for the sweep at {args.full_steps} steps", flush=True)
    results["speedup_widths"] = round(results["loop_s"] / results["widths_s"], 1)
    results["speedup_patterns"] = round(results["loop_s"] / results["patterns_s"], 1)
    print(json.dumps(results))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
