"""Benchmark: one (feature pair, seed) run of the default complexity config, notebook's approach vs pipeline.

    .venv/bin/python benchmarks/complexity_benchmark.py --pairs 3

Interleaved fresh processes (``benchmarks/sidebyside.py``), one thread each, at the default config's real
sizes (config.yaml ``complexity``: 8192/1024/1024 examples, MLP 256-128-64-64, Adam 1e-3, batch 1024,
100 epochs): one run takes about 15-25 s on the notebook side and 7-10 s on the pipeline side on this
2-core machine, so three pairs fit in about two minutes and nothing needs reducing.

* **notebook** - notebook 000's approach, written here in plain torch/numpy/scikit-learn: the notebook's
  per-example rejection sampler in a Python loop (``np.random.seed(123/1234/12345 + seed)``, the k-th
  example of a random order resampled until its label is ``k mod 2``) for the three splits; an MLP of
  ``nn.Linear`` layers, truncated-normal fan-avg init, ``torch.optim.Adam``; the notebook's loop
  ``for epoch in range(0, 101): evaluate; train`` (so one more training epoch than is evaluated); each
  evaluation runs every split through one whole-split forward pass *and a backward pass whose gradients
  it discards* (the notebook's ``apply_model`` is one jitted ``value_and_grad`` for evaluation and
  training alike), then fits a scikit-learn ``LinearRegression`` per feature on the rep-fit split and
  scores it on the test split (``.score``: the mean of per-unit R^2); the total variance is
  ``np.sum(np.var(reps, 0))``.
* **pipeline** - what the workflow's ``complexity_dataset`` and ``complexity_train`` jobs run, in one
  process: :func:`featurelab.devices.configure_torch` (as ``TorchJob``), ``gc.freeze`` (as
  ``scripting.run``), ``make_splits`` -> ``save_arrays`` -> ``load_arrays`` -> ``train_run`` ->
  ``write_table`` of the metrics (vectorized balanced sampling, ``featurelab.optim.Adam``, evaluation
  under ``inference_mode`` in cache-sized chunks, closed-form float64 R^2, 100 training epochs). The
  dataset job's own process start (NumPy only, about 0.1 s) is not counted.

Agreement (checked for every pair before any time is printed): per epoch 0..100, each feature's test
accuracy, train and test loss, R^2 (unweighted: what the notebook's ``.score`` returns) and the test
representation's total variance. For the numbers to be the same, the notebook side trains on the
*pipeline's* splits (``make_splits``) and draws its init and its per-epoch ``torch.randperm`` from the
pipeline's generators (``torch_generator(study, pair, seed, 'init' | 'shuffle')``), with the notebook's
distributions. Its own rejection sampler still runs (its cost is part of the notebook's work) but its data
are not trained on: a rejection sampler consumes a data-dependent number of random draws, so no shared
seed makes it produce the pipeline's vectorized draw (same distribution, different examples; see
``featurelab.studies.complexity.data``). With the same data, init and batch order both sides take
bit-identical optimizer steps (``featurelab.optim.Adam`` is bit-identical to ``torch.optim.Adam``,
tested); what differs is evaluation arithmetic: the pipeline evaluates the 8192-row train split in 1024-row
chunks (a different matmul blocking: ~1e-7 relative in the logits), the notebook's R^2 comes from
scikit-learn in float64 on float32 activations and its total variance is a float32 ``np.var``. Hence
``rtol 1e-4, atol 1e-5``: a thousand times float32 rounding, and below the 1/1024 of one test example's
accuracy, so a single flipped prediction fails the check. Measured (10 epochs): losses and accuracies bit-identical,
R^2 within 1e-7, total variance within 2e-5 of ~90 (at most 1 % of the tolerance); scaling the notebook
side's init by 1 + 1e-4 fails the check on every array (tried once).

Where the time goes (docs/complexity.md, "Speed: where the time goes"): ~4 s of each job is arithmetic
(about 0.36 TFLOP at ~90 GFLOP/s on one core) that both sides must do; the pipeline removes the notebook's
rejection-sampling loop, the backward pass in every evaluation, the extra epoch, scikit-learn's import and
fits, and per-job overheads. Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sidebyside  # noqa: E402
from featurelab.studies.complexity import STUDY  # noqa: E402


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pair", default="linear-vs-xor_xor_xor", help="feature pair (a condition name)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--epochs", type=int, default=None, help="training epochs (default: config.yaml's; fewer only to develop)"
    )


def study_config(args: argparse.Namespace) -> dict:
    import yaml

    cfg = yaml.safe_load((sidebyside.REPO / "config.yaml").read_text())[STUDY]
    if args.epochs is not None:
        cfg["training"]["epochs"] = int(args.epochs)
    return cfg


def notebook_dataset(features: list[str], units: int, copies: int, n: int, seed: int) -> dict[str, np.ndarray]:
    """The notebook's generator, loop for loop: global NumPy seed, per-example rejection sampling."""
    ops = {"and": np.logical_and, "or": np.logical_or, "xor": np.logical_xor}
    np.random.seed(seed)
    inputs = np.random.binomial(1, 0.5, (n, len(features) * units))
    outputs = []
    for i, kind in enumerate(features):
        block = inputs[:, i * units : (i + 1) * units]
        if kind == "linear":
            block[:, :copies] = block[:, :1]
            out = block[:, :1]
        else:
            out = np.zeros_like(block[:, :1])
            top, left, right = (ops[o] for o in kind.split("_"))

            def label(x, top=top, left=left, right=right):
                return top(left(x[0], x[1]), right(x[2], x[3]))

            for k, idx in enumerate(np.random.permutation(n)):
                while label(block[idx]) != k % 2:
                    block[idx] = np.random.binomial(1, 0.5, units)
                out[idx] = label(block[idx])
        outputs.append(out)
    return {"inputs": inputs, "labels": np.concatenate(outputs, -1)}


def notebook(args: argparse.Namespace) -> dict[str, np.ndarray]:
    import torch
    from sklearn import linear_model

    from featurelab.seeding import torch_generator
    from featurelab.studies.complexity.train import make_splits, parse_pair

    torch.set_num_threads(1)
    cfg = study_config(args)
    pair, seed, d = parse_pair(args.pair), args.seed, cfg["dataset"]
    units, copies = int(d["units_per_feature"]), int(d["linear_copies"])
    # The notebook's three splits (its cost is the notebook's); trained on instead: the pipeline's (docstring).
    for offset, split in ((123, "train"), (1234, "rep_fit"), (12345, "test")):
        notebook_dataset(pair, units, copies, int(d[f"n_{split}"]), offset + seed)
    shared = make_splits(pair, seed, d)
    data = {
        split: {
            "inputs": torch.tensor(shared[f"{split}_inputs"], dtype=torch.float32),
            "labels": torch.tensor(shared[f"{split}_labels"], dtype=torch.float32),
        }
        for split in ("train", "rep_fit", "test")
    }

    init = torch_generator(STUDY, args.pair, seed, "init")
    widths = [data["train"]["inputs"].shape[1], *cfg["model"]["hidden_widths"], len(pair)]
    layers = [torch.nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:])]
    for lin in layers:  # Flax variance_scaling(1, fan_avg, truncated_normal), the notebook's default init
        a, b = lin.in_features, lin.out_features
        std = (2.0 / (a + b)) ** 0.5 / 0.87962566103423978
        with torch.no_grad():
            lin.weight.copy_(torch.nn.init.trunc_normal_(torch.empty(b, a), 0.0, 1.0, -2.0, 2.0, generator=init) * std)
            torch.nn.init.zeros_(lin.bias)
    slope = float(cfg["model"]["leaky_relu_slope"])

    def forward(x):
        for lin in layers[:-1]:
            x = torch.nn.functional.leaky_relu(lin(x), slope)
        return layers[-1](x), x

    params = [p for lin in layers for p in lin.parameters()]
    opt = torch.optim.Adam(params, lr=float(cfg["training"]["learning_rate"]))
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    batch, shuffle = int(cfg["training"]["batch_size"]), torch_generator(STUDY, args.pair, seed, "shuffle")
    curves: dict[str, list] = {k: [] for k in ("test_accuracy", "train_loss", "test_loss", "r2", "total_variance")}
    for _epoch in range(int(cfg["training"]["epochs"]) + 1):  # the notebook: range(0, 101), evaluate then train
        outs = {}
        for split, v in data.items():
            logits, reps = forward(v["inputs"])
            per_feature = bce(logits, v["labels"], reduction="none").mean(0)
            opt.zero_grad()
            per_feature.mean().backward()  # the notebook's value_and_grad: gradients computed, discarded
            acc = ((logits > 0).float() == v["labels"]).float().mean(0)
            outs[split] = (per_feature.detach().numpy(), acc.numpy(), reps.detach().numpy())
        opt.zero_grad()
        reps_fit, reps_test = outs["rep_fit"][2], outs["test"][2]
        scores = []
        for f in range(len(pair)):
            regr = linear_model.LinearRegression().fit(data["rep_fit"]["labels"][:, f : f + 1].numpy(), reps_fit)
            scores.append(regr.score(data["test"]["labels"][:, f : f + 1].numpy(), reps_test))
        curves["test_accuracy"].append(outs["test"][1])
        curves["train_loss"].append(outs["train"][0])
        curves["test_loss"].append(outs["test"][0])
        curves["r2"].append(scores)
        curves["total_variance"].append(np.sum(np.var(reps_test, axis=0)))
        order = torch.randperm(data["train"]["inputs"].shape[0], generator=shuffle)
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            opt.zero_grad()
            bce(forward(data["train"]["inputs"][idx])[0], data["train"]["labels"][idx]).backward()
            opt.step()
    return {k: np.asarray(v, dtype=np.float64) for k, v in curves.items()}


def pipeline(args: argparse.Namespace) -> dict[str, np.ndarray]:
    from featurelab.devices import configure_torch
    from featurelab.io import load_arrays, save_arrays, table_from_columns, write_table
    from featurelab.studies.complexity.train import make_splits, parse_pair, train_run

    gc.freeze()  # scripting.run, before the study function
    configure_torch(1)  # TorchJob, at the config's complexity.resources.threads: 1
    cfg = study_config(args)
    pair, seed = parse_pair(args.pair), args.seed
    with tempfile.TemporaryDirectory(prefix="complexity-bench-") as tmp:
        dataset = Path(tmp) / "dataset.npz"
        save_arrays(dataset, {"benchmark": True}, **make_splits(pair, seed, cfg["dataset"]))  # complexity_dataset
        columns, _ = train_run(pair, seed, load_arrays(dataset), cfg["model"], cfg["training"], "cpu")
        write_table(table_from_columns(columns), Path(tmp) / "metrics.parquet", {"benchmark": True})
    return curves_from_columns(columns, len(pair))


def curves_from_columns(columns: dict[str, list], n_features: int) -> dict[str, np.ndarray]:
    """The notebook side's arrays (epoch x feature) from the pipeline's long-format metric columns."""
    epochs = int(max(columns["epoch"])) + 1
    wanted = {
        ("test", "accuracy"): "test_accuracy",
        ("train", "loss"): "train_loss",
        ("test", "loss"): "test_loss",
        ("test", "r2_unweighted"): "r2",
    }
    out = {name: np.full((epochs, n_features), np.nan) for name in wanted.values()}
    out["total_variance"] = np.full(epochs, np.nan)
    for epoch, split, index, metric, value in zip(
        columns["epoch"], columns["split"], columns["feature_index"], columns["metric"], columns["value"]
    ):
        if (split, metric) in wanted and index >= 0:
            out[wanted[split, metric]][epoch, index] = value
        elif split == "test" and metric == "total_variance":
            out["total_variance"][epoch] = value
    return out


if __name__ == "__main__":
    sidebyside.main(__doc__, notebook, pipeline, add_arguments=add_arguments, rtol=1e-4, atol=1e-5)
