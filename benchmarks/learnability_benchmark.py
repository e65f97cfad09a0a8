"""Benchmark: one learnability training job (one task family, one seed), the notebook's approach vs the pipeline.

    .venv/bin/python benchmarks/learnability_benchmark.py --pairs 3

Size: the job of family ``scale_shift`` (``--family``; 40 tasks, the study's largest job: 320,000 of the
592,000 task-steps of one seed) for seed 0, with ``--epochs 1``: 800 of its 10 x 800 steps, so that
three pairs fit in 4 minutes (``--epochs 10`` is the config's full job). Both sides' training
time is linear in the steps and their start-up is not, so the ratio at the full 10 epochs is higher than
the one printed here. Other families: ``--family run_all`` (10 tasks), ``simplicity`` (3), ``distractors``
(7), ``features`` (6): fewer tasks share one batched step, so their ratios are lower.

Both sides train every task of the family on the default config's settings (config.yaml: 8 hidden ReLU
units, MSE, Adam 1e-3, batch size 1, ``epochs x 800`` steps, held-out MSE every ``eval_every`` steps,
input-gradient attribution at the end), on one torch thread, in a fresh process each (``benchmarks/sidebyside.py``):

* **notebook** (notebook 002's ``run_exp``, one task after another, in plain torch/numpy): per task one
  ``nn.Sequential(Linear(d, 8), ReLU, Linear(8, 1))`` and its own ``torch.optim.Adam``; every step draws
  ONE fresh example in Python (the notebook's ``Dataset.__getitem__``: ``y ~ N(0, 1)``, then the task's
  ``get_x(y)``), makes a batch of 1 (``DataLoader(train)``), ``F.mse_loss``, backward, step, and reads the
  loss (``self.log('train_loss', loss)``); no Lightning ``Trainer``, whose per-step overhead the notebook
  also paid, so this side is faster than the notebook as run. The notebook has no ``validation_step`` (Lightning skips its val
  loader), so the held-out MSE the pipeline records every ``eval_every`` steps is done here the cheapest
  way a notebook would: one forward of the task's held-out set per evaluation. Attribution is the
  notebook's cell 135 per task: ``x.requires_grad = True; (model(x) - y).sum().backward(); x.grad`` on
  fresh inputs of the task's own distribution.
* **pipeline**: :func:`featurelab.studies.learnability.train.train_family`, what the job of rule
  ``learnability_train`` runs: the whole family as one ``BatchedMLP`` (one optimizer step trains every
  task), its training data drawn vectorised a chunk of steps at a time.

Agreement: both sides consume the same random streams (each task's ``y`` / ``noise`` / ``mask`` NumPy
generators, which the pipeline reads row by row, so drawing one example per step gives the same rows as
its chunks) and start from the same weights (each task's ``init`` generator, drawn in ``nn.Linear``'s
distribution). They must then compute the same per-step training losses (T, tasks), held-out MSE curve,
window-mean training-loss curve, final held-out MSE and attribution mean / sd of every input. The only
difference is in the evaluation's reductions: the held-out MSE is a float32 mean over 1,000 examples
summed in another order (``F.mse_loss`` per task vs a mean over the batched (tasks, examples) array), the
window means likewise, the attribution a float64 mean of float32 gradients from another matmul kernel; the
training itself (per-step losses) came out bit-identical. So the tolerance is float32 rounding of those
means: rtol 1e-5, atol 1e-6 (the largest differences seen were 5e-7 on an MSE of about 6, 3e-8 on an
attribution). It fails for a real difference: a learning rate 0.1% higher on the notebook side moves the
losses by up to 0.05 and the attribution by 8e-4.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sidebyside  # noqa: E402
from featurelab.studies.learnability import STUDY  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--family", default="scale_shift", help="task family of config.yaml (default scale_shift)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--epochs", type=int, default=1, help="epochs of 800 steps (default 1; 0 = the family's epochs in config.yaml)"
    )


def settings(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The family's, model's and training's config sub-trees of config.yaml, with ``--epochs`` applied."""
    import yaml

    cfg = yaml.safe_load((REPO / "config.yaml").read_text())[STUDY]
    family = dict(cfg["families"][args.family])
    if args.epochs:
        family["epochs"] = args.epochs
    return family, cfg["model"], cfg["training"]


# ----------------------------------------------------------------------------------------------- notebook


def get_example(task: dict[str, Any], rng: dict[str, np.random.Generator]) -> tuple[np.ndarray, np.float32]:
    """One example, as the notebook's ``__getitem__``: ``y = randn(1)``, ``x = get_x(y)``; each random
    variable from the task's own stream (the pipeline's), so both sides see the same examples."""
    g = task["generator"]
    y = rng["y"].standard_normal()
    if g == "constant":  # ConstantDataset
        x = [y]
    elif g == "scale_shift":  # ScaleShiftDataset: (y + shift) * scale
        x = [(y + task["shift"]) * task["scale"]]
    elif g == "sum":  # SumDataset(15): x1 = randn * spread, x2 = y - x1
        x1 = rng["noise"].standard_normal() * task["spread"]
        x = [x1, y - x1]
    elif g == "distractors":  # DistractorDataset: randn(k), x[0] = y
        x = [y, *rng["noise"].standard_normal(int(task["k"]) - 1)]
    elif g == "double":  # DoubleFeatureDataset: y, -y - 1
        x = [y, -y - task["offset"]]
    elif g == "double_mistakes":  # DoubleFeatureMistakeDataset; the noise is drawn every time, as the pipeline does
        mistake = rng["mask"].random() < task["rate"]
        n = rng["noise"].standard_normal()
        x = [y, n if mistake else -y - task["offset"]]
    elif g == "double_noisy":  # DoubleFeatureNoiseDataset: y + randn / 5, y
        x = [y + rng["noise"].standard_normal() * task["noise"], y]
    elif g == "sum_distractor":  # SumDistractorDataset: y + randn / 5, x2 = randn, y - x2
        n1, n2 = rng["noise"].standard_normal(2)
        x = [y + n1 * task["noise"], n2, y - n2]
    elif g == "continuity":  # ContinuityDataset
        n1, n2 = rng["noise"].standard_normal(2)
        first = y < 0
        x = [float(first), y if first else n1, n2 if first else y]
    else:
        raise ValueError(f"unknown generator {g!r}")
    return np.asarray(x, dtype=np.float32), np.float32(y)


def examples(task: dict[str, Any], rng: dict[str, np.random.Generator], n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` examples drawn one at a time (a held-out or attribution set)."""
    xs, ys = zip(*(get_example(task, rng) for _ in range(n)))
    return np.stack(xs), np.array(ys, dtype=np.float32)


def notebook(args: argparse.Namespace) -> dict[str, np.ndarray]:
    import torch
    import torch.nn.functional as F

    from featurelab.seeding import derive_seed
    from featurelab.studies.learnability.data import expand_tasks, input_dim, task_name  # the config's tasks

    torch.set_num_threads(1)
    family, model_cfg, training = settings(args)
    hidden, lr = int(model_cfg["hidden"]), float(training["learning_rate"])
    total = int(family["epochs"]) * int(training["steps_per_epoch"])
    eval_every = int(training["eval_every"])

    def streams(name: str, purpose: str) -> dict[str, np.random.Generator]:
        return {
            s: np.random.default_rng(derive_seed(STUDY, name, args.seed, purpose, s)) for s in ("y", "noise", "mask")
        }

    def run_exp(task: dict[str, Any]) -> dict[str, Any]:
        """The notebook's ``run_exp`` for one task: its own model, optimizer and data, trained alone."""
        name = task_name(task)
        gen = torch.Generator().manual_seed(derive_seed(STUDY, name, args.seed, "init"))
        model = torch.nn.Sequential(
            torch.nn.Linear(input_dim(task), hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
        )
        with torch.no_grad():  # nn.Linear's default distribution, drawn from the task's init stream
            for layer in (model[0], model[2]):
                bound = 1.0 / layer.in_features**0.5
                layer.weight.copy_((torch.rand(layer.out_features, layer.in_features, generator=gen) * 2 - 1) * bound)
                layer.bias.copy_((torch.rand(layer.out_features, generator=gen) * 2 - 1) * bound)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        train_rng = streams(name, "train")
        ex, ey = examples(task, streams(name, "eval"), int(training["n_eval"]))
        eval_x, eval_y = torch.from_numpy(ex), torch.from_numpy(ey)[:, None]

        def evaluate() -> float:
            with torch.no_grad():
                return float(F.mse_loss(model(eval_x), eval_y))

        losses, curve = np.zeros(total, dtype=np.float32), [evaluate()]
        for step in range(total):
            x, y = get_example(task, train_rng)  # __getitem__
            x, y = torch.from_numpy(x)[None], torch.tensor([[y]])  # DataLoader(train): a batch of one
            loss = F.mse_loss(model(x), y)  # training_step
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses[step] = loss.item()  # self.log('train_loss', loss)
            if (step + 1) % eval_every == 0:
                curve.append(evaluate())
        if total % eval_every:
            curve.append(evaluate())
        ends = [min(total, k * eval_every) for k in range(1, len(curve))]
        ax, ay = examples(task, streams(name, "attribution"), int(training["n_attribution"]))
        x = torch.from_numpy(ax).requires_grad_(True)  # notebook cell 135
        err = model(x) - torch.from_numpy(ay)[:, None]
        err.sum().backward()
        grad = x.grad.numpy().astype(np.float64)
        return {
            "losses": losses,
            "eval_mse": curve,
            "train_loss": [losses[max(0, e - eval_every) : e].mean() for e in ends],
            "final_eval_mse": [curve[-1]],
            "attr_mean": list(grad.mean(0)),
            "attr_sd": list(grad.std(0, ddof=1)),
        }

    out: dict[str, list] = {
        k: [] for k in ("losses", "eval_mse", "train_loss", "final_eval_mse", "attr_mean", "attr_sd")
    }
    for task in expand_tasks(list(family["tasks"])):  # one run_exp after another
        run = run_exp(task)
        for key in ("losses", "eval_mse", "train_loss"):
            out[key].append(run[key])
        for key in ("final_eval_mse", "attr_mean", "attr_sd"):
            out[key].extend(run[key])
    result = {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}
    result["losses"] = result["losses"].T  # (T, tasks), as the pipeline saves them
    return result


# ----------------------------------------------------------------------------------------------- pipeline


def pipeline(args: argparse.Namespace) -> dict[str, np.ndarray]:
    from featurelab.devices import configure_torch
    from featurelab.studies.learnability.data import expand_tasks, input_dim, task_name
    from featurelab.studies.learnability.train import train_family

    configure_torch(1)
    family, model_cfg, training = settings(args)
    columns, _, per_step = train_family(args.family, family, args.seed, model_cfg, training, "cpu")
    names = [task_name(t) for t in expand_tasks(list(family["tasks"]))]
    dims = {task_name(t): input_dim(t) for t in expand_tasks(list(family["tasks"]))}
    rows = list(zip(columns["condition"], columns["metric"], columns["step"], columns["input"], columns["value"]))

    def metric(name: str, metric_name: str) -> list[float]:
        picked = [(step, inp, value) for c, m, step, inp, value in rows if c == name and m == metric_name]
        return [value for _, _, value in sorted(picked)]

    out: dict[str, list] = {k: [] for k in ("eval_mse", "train_loss", "final_eval_mse", "attr_mean", "attr_sd")}
    for name in names:
        out["eval_mse"].append(metric(name, "eval_mse"))
        out["train_loss"].append(metric(name, "train_loss"))
        out["final_eval_mse"].extend(metric(name, "final_eval_mse"))
        for key, m in (("attr_mean", "attribution_mean"), ("attr_sd", "attribution_sd")):
            values = metric(name, m)
            assert len(values) == dims[name]
            out[key].extend(values)
    result = {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}
    result["losses"] = np.asarray(per_step["losses"], dtype=np.float64)
    return result


if __name__ == "__main__":
    sidebyside.main(__doc__, notebook, pipeline, add_arguments=add_arguments, rtol=1e-5, atol=1e-6)
