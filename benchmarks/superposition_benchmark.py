"""Speed of the superposition study: both training phases of one seed, seeds batched vs one by one, and
the vectorised importance against the notebook's loop over the 49 features.

    PYTHONPATH=src python benchmarks/superposition_benchmark.py results/mnist/mnist.npz [--seeds 2] [--threads 1]

Numbers depend on the machine and its load: report them with both.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mnist", help="results/mnist/mnist.npz written by rule mnist_prepare")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    from pathlib import Path

    import yaml

    from featurelab.devices import configure_torch, resolve_device
    from featurelab.io import load_arrays
    from featurelab.studies.superposition import analysis as A
    from featurelab.studies.superposition.train import train as S

    configure_torch(args.threads)
    device = resolve_device(args.device)
    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yaml").read_text())["superposition"]
    data = S.select_examples(load_arrays(args.mnist), 0, 0)
    seeds = list(range(args.seeds))
    print(
        f"data: {data['x_train'].shape[0]} train / {data['x_test'].shape[0]} test images; device {device}, "
        f"{args.threads} thread(s)"
    )

    t = time.perf_counter()
    _, state = S.train_classifier(data, seeds[:1], cfg["classifier"], device)
    t_clf = time.perf_counter() - t
    h = S.hidden_activations(state, data["x_train"], device)
    hv = S.hidden_activations(state, data["x_test"], device)
    t = time.perf_counter()
    _, snaps = S.train_autoencoder(h, hv, seeds[:1], cfg["autoencoder"], device)
    t_ae = time.perf_counter() - t
    print(f"one seed: classifier {t_clf:.1f} s, autoencoder {t_ae:.1f} s, both {t_clf + t_ae:.1f} s")

    t = time.perf_counter()
    _, state_b = S.train_classifier(data, seeds, cfg["classifier"], device)
    hb = S.hidden_activations(state_b, data["x_train"], device)
    hbv = S.hidden_activations(state_b, data["x_test"], device)
    S.train_autoencoder(hb, hbv, seeds, cfg["autoencoder"], device)
    print(
        f"{len(seeds)} seeds batched in one process: {time.perf_counter() - t:.1f} s "
        f"(vs {len(seeds) * (t_clf + t_ae):.1f} s one by one)"
    )

    p = {k: snaps[k][0, -1].astype(np.float64) for k in ("w_enc", "b_enc", "w_dec", "b_dec")}  # as the analysis
    x = h[0][:10000]
    t = time.perf_counter()
    A.importance(x, p)
    t_vec = time.perf_counter() - t
    t = time.perf_counter()
    base = A.reconstruction_loss(x, p)
    for i in range(x.shape[1]):  # the notebook's loop: one pass over the data per feature
        xp = x.copy()
        xp[:, i] = 0
        np.mean((A.reconstruct(xp, p) - x) ** 2) - base
    t_loop = time.perf_counter() - t
    print(f"importance of 49 features on {x.shape[0]} examples: vectorised {t_vec:.2f} s, loop {t_loop:.2f} s")


if __name__ == "__main__":
    main()
