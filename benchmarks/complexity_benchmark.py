"""Benchmark: one (feature pair, seed) job of the default complexity config, pipeline vs notebook port.

    .venv/bin/python benchmarks/complexity_benchmark.py [--pair linear-vs-xor_xor_xor] [--seed 0] [--repeats 3]

Both sides run on this machine, in fresh processes, one after the other, on the default config's
settings (read from config.yaml):

* **pipeline**: the real Snakemake jobs ``complexity_dataset`` and ``complexity_train`` for one run, in a
  scratch directory. Their times come from the jobs' ``benchmark:`` files (a job's process from start to
  exit, start-up included); the time from process start to the first optimizer step comes from the
  training log.
* **reference**: a notebook-faithful port in one process per seed, as the notebook runs: per-example
  rejection sampling in a Python loop, ``torch.optim.Adam``, a scikit-learn ``LinearRegression`` per
  feature after every epoch, and the notebook's loop structure: evaluation through the same
  value-and-gradient function as training (a backward pass per split whose gradients are discarded),
  and ``for epoch in range(0, 101): evaluate; train`` (so one more training epoch than is evaluated).
  Same float32 model, same single thread as the pipeline job, so the ratio measures wasted work only.

Prints both times, their ratio and the start-up time for each repeat (the two sides interleaved), then the
medians over the repeats. Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

REFERENCE = r"""
import sys, time
t_start = time.perf_counter()
import numpy as np, torch
from sklearn import linear_model

pair, seed, cfg = sys.argv[1].split("-vs-"), int(sys.argv[2]), eval(sys.argv[3])
torch.set_num_threads(1)
OPS = {"and": np.logical_and, "or": np.logical_or, "xor": np.logical_xor}

def make_dataset(features, units, n, seed):  # the notebook's generator, loop for loop
    np.random.seed(seed)
    inputs = np.random.binomial(1, 0.5, (n, len(features) * units))
    outputs = []
    for i, kind in enumerate(features):
        block = inputs[:, i * units:(i + 1) * units]
        if kind == "linear":
            block[:, :4] = block[:, :1]
            out = block[:, :1]
        else:
            out = np.zeros_like(block[:, :1])
            top, left, right = (OPS[o] for o in kind.split("_"))
            label = lambda x: top(left(x[0], x[1]), right(x[2], x[3]))
            for k, idx in enumerate(np.random.permutation(n)):
                while label(block[idx]) != k % 2:
                    block[idx] = np.random.binomial(1, 0.5, units)
                out[idx] = label(block[idx])
        outputs.append(out)
    return {"inputs": torch.tensor(inputs, dtype=torch.float32),
            "labels": torch.tensor(np.concatenate(outputs, -1), dtype=torch.float32)}

d = cfg["dataset"]
train = make_dataset(pair, d["units_per_feature"], d["n_train"], 123 + seed)
rep = make_dataset(pair, d["units_per_feature"], d["n_rep_fit"], 1234 + seed)
test = make_dataset(pair, d["units_per_feature"], d["n_test"], 12345 + seed)

torch.manual_seed(seed)
widths = [train["inputs"].shape[1], *cfg["model"]["hidden_widths"], len(pair)]
layers = []
for a, b in zip(widths[:-1], widths[1:]):
    lin = torch.nn.Linear(a, b)
    std = (2.0 / (a + b)) ** 0.5 / 0.87962566103423978
    torch.nn.init.trunc_normal_(lin.weight, std=std, a=-2 * std, b=2 * std)
    torch.nn.init.zeros_(lin.bias)
    layers.append(lin)

def forward(x):
    for lin in layers[:-1]:
        x = torch.nn.functional.leaky_relu(lin(x), 0.01)
    return layers[-1](x), x

params = [p for lin in layers for p in lin.parameters()]
opt = torch.optim.Adam(params, lr=cfg["training"]["learning_rate"])
first_step = None
bce = torch.nn.functional.binary_cross_entropy_with_logits
batch = cfg["training"]["batch_size"]
for epoch in range(cfg["training"]["epochs"] + 1):  # the notebook: range(0, 101), evaluate then train
    # The notebook's apply_model is one jitted value_and_grad for evaluation and training alike, so each
    # evaluation also runs a backward pass whose gradients it discards; do the same.
    outs = {}
    for k, v in (("train", train), ("rep", rep), ("test", test)):
        logits, reps = forward(v["inputs"])
        per_feature = bce(logits, v["labels"], reduction="none").mean(0)
        opt.zero_grad()
        per_feature.mean().backward()
        acc = ((logits > 0).float() == v["labels"]).float().mean(0)
        outs[k] = (logits.detach(), reps.detach())
    opt.zero_grad()
    reps_fit, reps_test = outs["rep"][1].numpy(), outs["test"][1].numpy()
    total_variance = np.sum(np.var(reps_test, axis=0))
    scores = []
    for f in range(len(pair)):
        regr = linear_model.LinearRegression().fit(rep["labels"][:, f:f + 1].numpy(), reps_fit)
        scores.append(regr.score(test["labels"][:, f:f + 1].numpy(), reps_test))
    order = torch.randperm(train["inputs"].shape[0])
    for start in range(0, len(order), batch):
        idx = order[start:start + batch]
        opt.zero_grad()
        bce(forward(train["inputs"][idx])[0], train["labels"][idx]).backward()
        opt.step()
        if first_step is None:
            first_step = time.perf_counter() - t_start
print(f"REFERENCE first_step_after_imports={first_step:.2f} final_r2={scores}")
"""


def pipeline_job(pair: str, seed: int, workdir: Path) -> dict[str, float]:
    """Run the real dataset + train jobs for one run; return the train job's benchmark-file time (its
    process from start to exit) and its start-up to first optimizer step (from the training log)."""
    overlay = workdir / "bench.yaml"
    overlay.write_text(yaml.safe_dump({"studies": ["complexity"], "device": "cpu"}))
    target = f"results/complexity/{pair}/seed{seed}/metrics.parquet"
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(REPO / "Snakefile"),
            "-d",
            str(workdir),
            "--configfile",
            str(overlay),
            "--cores",
            "1",
            target,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    bench = workdir / "results" / "benchmarks" / "complexity" / "train" / f"{pair}_seed{seed}.tsv"
    with open(bench) as fh:
        train_s = float(next(csv.DictReader(fh, delimiter="\t"))["s"])
    log = (workdir / "results" / "logs" / "complexity" / "train" / f"{pair}_seed{seed}.log").read_text()
    startup = float(re.search(r"first optimizer step ([\d.]+) s after process start", log).group(1))
    return {"train_job_s": train_s, "startup_s": startup, "snakemake_wall_s": wall}


def dataset_job_seconds(pair: str, seed: int, cfg: dict) -> float:
    """The dataset job's work in a fresh process (start-up included), as Snakemake runs it."""
    code = (
        "import sys; from featurelab.studies.complexity.train import make_splits, parse_pair; "
        "from featurelab.io import save_arrays; import tempfile, os; "
        f"a = make_splits(parse_pair({pair!r}), {seed}, {cfg['dataset']!r}); "
        "save_arrays(os.path.join(tempfile.mkdtemp(), 'd.npz'), {}, **a)"
    )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def reference_job(pair: str, seed: int, cfg: dict) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", REFERENCE, pair, str(seed), repr(cfg)], check=True, capture_output=True, text=True
    )
    return time.perf_counter() - start, proc.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pair", default="linear-vs-xor_xor_xor")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())["complexity"]

    pipeline_times, reference_times = [], []
    for repeat in range(args.repeats):  # interleaved, so both sides see the same machine load
        with tempfile.TemporaryDirectory() as tmp:
            pipe = pipeline_job(args.pair, args.seed, Path(tmp))
        pipe["dataset_job_s"] = dataset_job_seconds(args.pair, args.seed, cfg)
        pipeline_s = pipe["train_job_s"] + pipe["dataset_job_s"]
        ref_s, ref_out = reference_job(args.pair, args.seed, cfg)
        pipeline_times.append(pipeline_s)
        reference_times.append(ref_s)
        print(f"[{repeat + 1}/{args.repeats}] {args.pair} seed {args.seed}, {cfg['training']['epochs']} epochs")
        print(
            f"  pipeline  : {pipeline_s:6.2f} s  (dataset job {pipe['dataset_job_s']:.2f} s + train job "
            f"{pipe['train_job_s']:.2f} s; start-up to first optimizer step {pipe['startup_s']:.2f} s; "
            f"whole snakemake invocation {pipe['snakemake_wall_s']:.2f} s)"
        )
        print(f"  reference : {ref_s:6.2f} s  ({ref_out})")
        print(f"  speed-up  : {ref_s / pipeline_s:6.2f}x")
    pipeline_median, reference_median = statistics.median(pipeline_times), statistics.median(reference_times)
    print(
        f"median over {args.repeats} repeats: pipeline {pipeline_median:.2f} s, reference {reference_median:.2f} s, "
        f"speed-up {reference_median / pipeline_median:.2f}x (target >= 2x; start-up target < 3.5 s)"
    )


if __name__ == "__main__":
    main()
