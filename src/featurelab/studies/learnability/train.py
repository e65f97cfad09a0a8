"""The learnability study (notebook 002): which input features a small MLP picks up, and how fast.

A run = one (task family, seed). Every task of the family (a grid of scales and shifts, a list of
distractor counts, ...) is one instance of a :class:`~featurelab.studies.learnability.model.BatchedMLP`, so one
optimizer step trains them all. Training follows the notebook's regime by default: fresh samples at
every step, batch size 1, Adam 1e-3, ``epochs x 800`` steps. Recorded per task:

- ``train_loss``: mean training loss over each ``eval_every``-step window (step = end of the window);
- ``eval_mse``: MSE on a fixed held-out set of ``n_eval`` fresh samples, before training and every
  ``eval_every`` steps;
- ``final_eval_mse`` (step = -1), and the per-step training losses, from which the analyze rule
  (:func:`threshold_columns`) derives ``steps_to_threshold`` (first step at which the running mean of the
  last ``running_window`` training losses is below ``loss_threshold``; the step budget when never),
  ``threshold_reached`` (1/0), ``peak_running_loss_epoch1`` (largest running loss in the first epoch, the
  notebook's "spike") and ``final_running_loss``;
- input-gradient attribution (step = -1, ``input`` = index): ``attribution_mean`` / ``attribution_sd``
  of d yhat / d x_i over ``n_attribution`` fresh inputs of the task's own distribution.

Shapes: I = instances (the family's tasks), T = training steps.

Only torch, NumPy and pyarrow are imported by training (start-up is a real share of these jobs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from featurelab.io import MetricRows
from featurelab.seeding import numpy_rng
from featurelab.studies.learnability.data import (
    Streams,
    expand_tasks,
    input_dim,
    input_names,
    sample,
    task_name,
    task_params_json,
)

STUDY = "learnability"

#: Long-format schema of a run's ``metrics.parquet`` (and of the aggregated ``runs.parquet``).
METRIC_COLUMNS = (
    "study",
    "family",
    "condition",
    "generator",
    "params",
    "seed",
    "step",
    "input",
    "input_name",
    "metric",
    "value",
)
FINAL_METRICS = (
    "final_eval_mse",
    "steps_to_threshold",
    "threshold_reached",
    "peak_running_loss_epoch1",
    "final_running_loss",
)
#: Cap on one chunk of pre-generated training data (elements), so 1000-input tasks fit in memory.
MAX_CHUNK_ELEMENTS = 1 << 23


def family_tasks(family_cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    return expand_tasks(list(family_cfg["tasks"]))


def task_streams(condition: str, seed: int, purpose: str) -> Streams:
    return Streams(lambda stream: numpy_rng(STUDY, condition, seed, purpose, stream))


def padded_samples(
    tasks: list[dict[str, Any]], streams: list[Streams], n: int, d_max: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` fresh samples of every task, zero-padded to ``d_max`` inputs: ``(I, n, d_max)``, ``(I, n)``."""
    x = np.zeros((len(tasks), n, d_max), dtype=np.float32)
    y = np.zeros((len(tasks), n), dtype=np.float32)
    for i, (task, s) in enumerate(zip(tasks, streams)):
        xi, y[i] = sample(task, n, s)
        x[i, :, : xi.shape[1]] = xi
    return x, y


def running_mean(losses: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean of the last ``window`` values along axis 0 (shorter at the start): ``(T, I)``."""
    csum = np.cumsum(np.asarray(losses, dtype=np.float64), axis=0)
    t = np.arange(1, len(losses) + 1)[:, None]
    lagged = np.zeros_like(csum)
    lagged[window:] = csum[:-window]
    return (csum - lagged) / np.minimum(t, window)


def steps_to_threshold(losses: np.ndarray, window: int, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Per instance: the first number of completed steps at which the running mean of a full window of
    training losses is below ``threshold``; the step budget ``T`` where it never is. Returns
    ``(steps, reached)``."""
    run = running_mean(losses, window)
    run[: min(window, len(run)) - 1] = np.inf  # only full windows count
    below = run < threshold
    reached = below.any(axis=0)
    steps = np.where(reached, below.argmax(axis=0) + 1, len(losses))
    return steps, reached


def n_steps(family_cfg: Mapping[str, Any], training_cfg: Mapping[str, Any]) -> int:
    return int(family_cfg["epochs"]) * int(training_cfg["steps_per_epoch"])


def train_family(
    family: str,
    family_cfg: Mapping[str, Any],
    seed: int,
    model_cfg: Mapping[str, Any],
    training_cfg: Mapping[str, Any],
    device: str,
) -> tuple[dict[str, list], dict[str, Any], dict[str, np.ndarray]]:
    """Train every task of ``family`` for one seed as one batched model.

    Returns the metric columns (curves, final held-out MSE, attribution), the final state (tasks and each
    instance as an ``nn.Sequential`` state dict) and the per-step training losses ``(T, I)`` from
    which :func:`threshold_columns` derives steps-to-threshold in a separate, cheap rule.
    """
    import torch

    from featurelab.optim import Adam
    from featurelab.seeding import torch_generator
    from featurelab.studies.learnability.model import BatchedMLP, input_gradients, per_instance_mse
    from featurelab.training import RunId, train_loop

    tasks = family_tasks(family_cfg)
    names = [task_name(t) for t in tasks]
    dims = [input_dim(t) for t in tasks]
    n_inst, d_max = len(tasks), max(dims)
    batch = int(training_cfg["batch_size"])
    total = n_steps(family_cfg, training_cfg)
    per_epoch = int(training_cfg["steps_per_epoch"])
    eval_every = int(training_cfg["eval_every"])

    model = BatchedMLP(
        dims, int(model_cfg["hidden"]), [torch_generator(STUDY, name, seed, "init") for name in names]
    ).to(device)
    optimizer = Adam(model.parameters(), lr=float(training_cfg["learning_rate"]))
    train_streams = [task_streams(name, seed, "train") for name in names]
    ex, ey = padded_samples(tasks, [task_streams(n, seed, "eval") for n in names], int(training_cfg["n_eval"]), d_max)
    eval_x, eval_y = torch.from_numpy(ex).to(device), torch.from_numpy(ey).to(device)

    # Training data is generated a chunk of steps at a time (vectorized), then sliced per step.
    chunk = max(1, min(per_epoch, MAX_CHUNK_ELEMENTS // max(1, n_inst * batch * d_max)))
    data: dict[str, Any] = {"start": -1}
    losses = torch.zeros(total, n_inst, device=device)

    def compute_loss(step: int) -> torch.Tensor:
        k = step - data["start"]
        if data["start"] < 0 or k >= chunk:
            n = min(chunk, total - step)
            x, y = padded_samples(tasks, train_streams, n * batch, d_max)
            # (I, n*B, D) -> (n, I, B, D): step s uses samples s*B .. (s+1)*B - 1 of each task's stream.
            data["x"] = torch.from_numpy(x.reshape(n_inst, n, batch, d_max).transpose(1, 0, 2, 3).copy()).to(device)
            data["y"] = torch.from_numpy(y.reshape(n_inst, n, batch).transpose(1, 0, 2).copy()).to(device)
            data["start"], k = step, 0
        loss = per_instance_mse(model(data["x"][k]), data["y"][k])
        losses[step] = loss.detach()
        return loss  # (I,): train_loop backpropagates the sum, so each instance gets its own gradient

    log = MetricRows(METRIC_COLUMNS, study=STUDY, family=family, seed=seed)
    generators, params = [t["generator"] for t in tasks], [task_params_json(t) for t in tasks]

    def add(i: int, step: int, metric: str, value: float, input_index: int = -1, input_name: str = "") -> None:
        """One row of task ``i``."""
        log.add(
            condition=names[i],
            generator=generators[i],
            params=params[i],
            step=int(step),
            input=int(input_index),
            input_name=input_name,
            metric=metric,
            value=float(value),
        )

    last_eval: dict[str, np.ndarray] = {}

    @torch.no_grad()
    def evaluate(step: int) -> bool:
        mse = per_instance_mse(model(eval_x), eval_y).cpu().numpy()
        last_eval["mse"] = mse
        window_loss = losses[max(0, step - eval_every) : step].mean(0).cpu().numpy() if step else None
        for i in range(n_inst):
            add(i, step, "eval_mse", mse[i])
            if window_loss is not None:
                add(i, step, "train_loss", window_loss[i])
        return False

    train_loop(optimizer, compute_loss, total, RunId(STUDY, family, seed), eval_every=eval_every, evaluate=evaluate)
    if total % eval_every:  # the budget is not a multiple of eval_every: evaluate at the end as well
        evaluate(total)

    for i in range(n_inst):
        add(i, -1, "final_eval_mse", last_eval["mse"][i])

    ax, _ = padded_samples(
        tasks, [task_streams(n, seed, "attribution") for n in names], int(training_cfg["n_attribution"]), d_max
    )
    grads = input_gradients(model, torch.from_numpy(ax).to(device)).cpu().numpy().astype(np.float64)
    for i, task in enumerate(tasks):
        for j, label in enumerate(input_names(task)):
            add(i, -1, "attribution_mean", grads[i, :, j].mean(), j, label)
            add(i, -1, "attribution_sd", grads[i, :, j].std(ddof=1) if grads.shape[1] > 1 else 0.0, j, label)

    state = {
        "tasks": tasks,
        "input_dims": dims,
        "instances": {name: model.instance_state(i) for i, name in enumerate(names)},
    }
    per_step = {"losses": losses.cpu().numpy(), "conditions": np.array(names), "steps_per_epoch": np.array(per_epoch)}
    return log.columns, _to_cpu(state), per_step


def threshold_columns(
    run_columns: Mapping[str, list], per_step: Mapping[str, np.ndarray], analysis_cfg: Mapping[str, Any]
) -> dict[str, list]:
    """Final metrics read off the per-step training losses, as extra rows for a run's metric columns:
    ``steps_to_threshold``, ``threshold_reached``, ``peak_running_loss_epoch1``, ``final_running_loss``
    (four rows per task). ``per_step`` is :func:`train_family`'s: ``losses`` (T, I), ``conditions`` (I,)
    (the task names, in instance order) and ``steps_per_epoch`` (a 0-d array)."""
    losses = np.asarray(per_step["losses"], dtype=np.float64)
    conditions = [str(c) for c in per_step["conditions"]]
    window = int(analysis_cfg["running_window"])
    steps, reached = steps_to_threshold(losses, window, float(analysis_cfg["loss_threshold"]))
    run = running_mean(losses, window)
    first_epoch = run[: min(int(per_step["steps_per_epoch"]), len(run))]
    # task identity columns, taken from the run's own rows
    first_row = {}
    for k, cond in enumerate(run_columns["condition"]):
        first_row.setdefault(cond, k)
    out: dict[str, list] = {c: [] for c in METRIC_COLUMNS}
    for i, cond in enumerate(conditions):
        k = first_row[cond]
        for metric, value in (
            ("steps_to_threshold", steps[i]),
            ("threshold_reached", float(reached[i])),
            ("peak_running_loss_epoch1", first_epoch[:, i].max()),
            ("final_running_loss", run[-1, i]),
        ):
            for col in ("study", "family", "condition", "generator", "params", "seed"):
                out[col].append(run_columns[col][k])
            out["step"].append(-1)
            out["input"].append(-1)
            out["input_name"].append("")
            out["metric"].append(metric)
            out["value"].append(float(value))
    return out


def _to_cpu(obj: Any) -> Any:
    if hasattr(obj, "detach"):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    return obj


def train_job(smk: Any) -> None:
    """Train every task of one family for one seed as one batched model.

    Imports only torch, NumPy and pyarrow (no pandas, scikit-learn or matplotlib): start-up is a real share
    of a job this short.

    The job of rule ``learnability_train``.
    """
    from featurelab.io import save_arrays, save_torch, table_from_columns, write_table
    from featurelab.scripting import TorchJob

    job = TorchJob(smk)
    family, seed = smk.wildcards.family, int(smk.wildcards.seed)
    columns, state, per_step = train_family(
        family, smk.params.family, seed, smk.params.model, smk.params.training, job.device
    )
    record = job.provenance(
        {
            "family": dict(smk.params.family),
            "model": dict(smk.params.model),
            "training": dict(smk.params.training),
            "family_name": family,
            "seed": seed,
        }
    )
    save_torch({"state": state, "provenance": record}, smk.output.model)
    write_table(table_from_columns(columns), smk.output.metrics, record)
    save_arrays(smk.output.losses, record, **per_step)
    job.done(f"trained family {family} seed {seed} ({len(state['tasks'])} tasks)")


IDENTITY = ["condition", "study", "family", "generator", "params", "seed"]


def analyze_job(smk: Any) -> None:
    """Every run's metrics in one table, plus the rows read off its per-step losses
    (steps to the loss threshold, epoch-1 peak, final running loss). NumPy and pyarrow only.

    The job of rule ``learnability_analyze``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from featurelab.io import load_arrays, read_provenance, table_from_columns, write_table
    from featurelab.provenance import provenance

    tables, runs = [], []
    for metrics_path, losses_path in zip(smk.input.metrics, smk.input.losses):
        metrics = pq.read_table(metrics_path).replace_schema_metadata(None)
        extra = threshold_columns(metrics.select(IDENTITY).to_pydict(), load_arrays(losses_path), smk.params.analysis)
        tables += [metrics, table_from_columns(extra).cast(metrics.schema)]
        p = read_provenance(metrics_path)
        runs.append(
            {"family": p["config"]["family_name"], "seed": p["config"]["seed"], "config_hash": p["config_hash"]}
        )
    record = provenance({"analysis": dict(smk.params.analysis), "runs": runs}, rule=smk.rule)
    write_table(pa.concat_tables(tables), smk.output[0], record)
