"""The learnability study (notebook 002): which input features a small MLP picks up, and how fast.

A run = one (task family, seed); one job trains all runs of a seed (:func:`train_seed`). Every
distinct task of all families (a grid of scales and shifts, a list of distractor counts, ...) is one
instance of a few padded :class:`~featurelab.studies.learnability.model.BatchedMLP` groups, so one
optimizer step trains them all, for the largest budget any family gives the task; a family with a
shorter budget reads its numbers off that run at its own budget (:mod:`featurelab.studies.learnability.plan`
says why that is the same run). Training follows the notebook's regime by default: fresh samples at
every step, batch size 1, Adam 1e-3, ``epochs x 800`` steps. Recorded per family and task:

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

Shapes: I = instances (the distinct tasks; a family's tasks in its own outputs), T = training steps.

Only torch, NumPy and pyarrow are imported by training (start-up is a real share of these jobs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from featurelab.io import MetricRows
from featurelab.seeding import numpy_rng
from featurelab.studies.learnability import STUDY
from featurelab.studies.learnability.data import Streams, input_names, sample, task_name, task_params_json
from featurelab.studies.learnability.plan import FamilyView, SeedPlan, plan_seed

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


#: One family's results: metric columns, final state (tasks, each instance as an ``nn.Sequential`` state
#: dict) and per-step training losses ``{"losses": (T, I), "conditions": (I,), "steps_per_epoch": ()}``.
FamilyRun = tuple[dict[str, list], dict[str, Any], dict[str, np.ndarray]]


def stream_states(streams: Streams) -> dict[str, dict]:
    return {name: rng.bit_generator.state for name, rng in streams.rng.items()}


def set_stream_states(streams: Streams, states: Mapping[str, dict]) -> None:
    for name, rng in streams.rng.items():
        rng.bit_generator.state = states[name]


class GroupSamples:
    """Training data of one batched group, ``batch`` fresh samples per instance and step, generated a
    chunk of steps at a time (vectorized) and sliced per step.

    Each task's streams are consumed row by row, so chunking changes no number. ``state_dict()`` holds
    the streams' state before the current chunk was drawn: a resumed run draws that chunk again and
    continues bit-identically.
    """

    def __init__(
        self, tasks: list[dict[str, Any]], streams: list[Streams], batch: int, width: int, budget: int,
        per_epoch: int, device: Any,
    ) -> None:  # fmt: skip
        self.tasks, self.streams, self.batch, self.width = tasks, streams, batch, width
        self.budget, self.device = budget, device
        self.chunk = max(1, min(per_epoch, MAX_CHUNK_ELEMENTS // max(1, len(tasks) * batch * width)))
        self.start, self.before = -1, None

    def at(self, step: int) -> tuple[Any, Any]:
        """Inputs ``(I, B, D)`` and targets ``(I, B)`` of ``step``: samples ``step*B .. (step+1)*B - 1`` of
        each task's stream."""
        if self.start < 0 or not 0 <= step - self.start < self.chunk:
            self._draw(step)
        k = step - self.start
        return self.x[k], self.y[k]

    def _draw(self, step: int) -> None:
        import torch

        self.before = [stream_states(s) for s in self.streams]
        n, n_inst = min(self.chunk, self.budget - step), len(self.tasks)
        x, y = padded_samples(self.tasks, self.streams, n * self.batch, self.width)
        # (I, n*B, D) -> (n, I, B, D)
        x = x.reshape(n_inst, n, self.batch, self.width).transpose(1, 0, 2, 3)
        self.x = torch.from_numpy(x.copy()).to(self.device)
        self.y = torch.from_numpy(y.reshape(n_inst, n, self.batch).transpose(1, 0, 2).copy()).to(self.device)
        self.start = step

    def state_dict(self) -> dict[str, Any]:
        return {"start": self.start, "streams": self.before}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if int(state["start"]) < 0:
            return
        for streams, saved in zip(self.streams, state["streams"]):
            set_stream_states(streams, saved)
        self._draw(int(state["start"]))


def group_inputs(plan: SeedPlan, group: range, seed: int, purpose: str, n: int, device: Any) -> tuple[Any, Any]:
    """``n`` samples of every instance of ``group`` from its ``purpose`` stream, padded to the group's
    width: ``(I, n, D)``, ``(I, n)``."""
    import torch

    instances = [plan.instances[i] for i in group]
    streams = [task_streams(inst.name, seed, purpose) for inst in instances]
    x, y = padded_samples([inst.task for inst in instances], streams, n, instances[-1].width)
    return torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)


def hook_every(plan: SeedPlan, eval_every: int) -> int:
    """How often the loop calls the evaluate hook: often enough to land on every evaluation and on every
    family's budget (where a snapshot is taken)."""
    return math.gcd(eval_every, *plan.budgets)


def diverged_tasks(losses: np.ndarray, plan: SeedPlan) -> str:
    """The tasks (and their families) whose training loss first became non-finite, for the error."""
    finite = np.isfinite(losses)
    if finite.all():
        return ""
    step = int((~finite.all(axis=1)).argmax())
    bad = {i for i in range(len(plan.instances)) if not finite[step, i]}
    families = [f for f, view in plan.families.items() if bad & set(view.instances)]
    names = ", ".join(plan.instances[i].name for i in sorted(bad))
    return f"Non-finite training loss at step {step} in task(s) {names} (families {', '.join(families)})."


class SeedRun:
    """One seed's training state, whose methods are :func:`featurelab.training.train_loop`'s callables.

    Every distinct task is an instance of one of a few padded :class:`BatchedMLP` groups, all stepped by
    one Adam, so one optimizer step trains every task; a group past its budget (the largest of its
    instances) is left out of the step. ``evaluate`` records the held-out MSE of every instance every
    ``eval_every`` steps and, when the loop passes a family's budget, that MSE and a snapshot of every
    group's parameters, from which the family's final held-out MSE, attribution and saved networks are
    read. ``state`` / ``restore`` carry all of it (and the data streams) through a checkpoint.
    """

    def __init__(
        self, plan: SeedPlan, seed: int, model_cfg: Mapping[str, Any], training_cfg: Mapping[str, Any],
        device: Any,
    ) -> None:  # fmt: skip
        import torch

        from featurelab.optim import Adam
        from featurelab.seeding import torch_generator
        from featurelab.studies.learnability.model import BatchedMLP

        self.plan, self.device = plan, device
        self.eval_every = int(training_cfg["eval_every"])
        self.budgets = [plan.group_budget(g) for g in range(len(plan.groups))]
        names = [inst.name for inst in plan.instances]
        self.models = [
            BatchedMLP(
                [plan.instances[i].width for i in group],
                int(model_cfg["hidden"]),
                [torch_generator(STUDY, names[i], seed, "init") for i in group],
            ).to(device)
            for group in plan.groups
        ]
        self.optimizer = Adam(
            [p for model in self.models for p in model.parameters()], lr=float(training_cfg["learning_rate"])
        )
        self.samples = [
            GroupSamples(
                [plan.instances[i].task for i in group],
                [task_streams(names[i], seed, "train") for i in group],
                int(training_cfg["batch_size"]),
                plan.instances[group[-1]].width,
                budget,
                int(training_cfg["steps_per_epoch"]),
                device,
            )
            for group, budget in zip(plan.groups, self.budgets)
        ]
        n_eval = int(training_cfg["n_eval"])
        self.held_out = [group_inputs(plan, group, seed, "eval", n_eval, device) for group in plan.groups]
        self.losses = torch.zeros(plan.total, len(names), device=device)
        self.evals: dict[int, Any] = {}  # step -> held-out MSE of every instance (I,)
        self.snapshots: dict[int, list[dict[str, Any]]] = {}  # family budget -> every group's parameters
        self.snapshot_steps = set(plan.budgets)

    def compute_loss(self, step: int) -> Any:
        """Per-instance training losses of ``step`` (I_active,); train_loop backpropagates their sum."""
        import torch

        from featurelab.studies.learnability.model import per_instance_mse

        parts = []
        for group, model, data, budget in zip(self.plan.groups, self.models, self.samples, self.budgets):
            if step < budget:
                x, y = data.at(step)
                loss = per_instance_mse(model(x), y)
                self.losses[step, group.start : group.stop] = loss.detach()
                parts.append(loss)
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def evaluate(self, step: int) -> bool:
        import torch

        from featurelab.studies.learnability.model import per_instance_mse

        with torch.no_grad():
            if step % self.eval_every == 0 or step in self.snapshot_steps:
                self.evals[step] = torch.cat(
                    [per_instance_mse(m(x), y) for m, (x, y) in zip(self.models, self.held_out)]
                )
            if step in self.snapshot_steps:
                self.snapshots[step] = [{k: v.clone() for k, v in m.state_dict().items()} for m in self.models]
        return False

    def state(self) -> dict[str, Any]:
        return {
            "models": [m.state_dict() for m in self.models],
            "optimizer": self.optimizer.state_dict(),
            "samples": [s.state_dict() for s in self.samples],
            "losses": self.losses,
            "evals": dict(self.evals),
            "snapshots": dict(self.snapshots),
        }

    def restore(self, saved: Mapping[str, Any]) -> None:
        for model, params in zip(self.models, saved["models"]):
            model.load_state_dict(params)
        self.optimizer.load_state_dict(saved["optimizer"])
        for data, data_state in zip(self.samples, saved["samples"]):
            data.load_state_dict(data_state)
        self.losses.copy_(saved["losses"])
        self.evals.update({int(k): v.to(self.device) for k, v in saved["evals"].items()})
        for step, groups in saved["snapshots"].items():
            self.snapshots[int(step)] = [{k: v.to(self.device) for k, v in g.items()} for g in groups]


def train_seed(
    families_cfg: Mapping[str, Mapping[str, Any]],
    seed: int,
    model_cfg: Mapping[str, Any],
    training_cfg: Mapping[str, Any],
    device: str,
    *,
    checkpoint_to: str | None = None,
    checkpoint_every: int = 0,
) -> dict[str, FamilyRun]:
    """Train every distinct task of ``families_cfg`` once for one seed, for the largest budget any family
    gives it (:class:`SeedRun`), and read each family's numbers off that run at the family's own budget
    (:mod:`featurelab.studies.learnability.plan` says why that is the family's own run).

    With ``checkpoint_to``, the run saves its state there every ``checkpoint_every`` steps (and on
    SIGTERM) and resumes from it when restarted, bit-identically. A non-finite loss raises
    :class:`~featurelab.training.DivergenceError` naming the run, the step, the task(s) and their families.
    Returns each family's :data:`FamilyRun`, in the order of ``families_cfg``.
    """
    from featurelab.training import Checkpoint, DivergenceError, RunId, state_key, train_loop

    plan = plan_seed(families_cfg, training_cfg)
    run = SeedRun(plan, seed, model_cfg, training_cfg, device)
    checkpoint = None
    if checkpoint_to is not None:
        key = state_key(STUDY, seed, families_cfg, dict(model_cfg), dict(training_cfg))
        checkpoint = Checkpoint(checkpoint_to, checkpoint_every, run.state, run.restore, key=key)
    try:
        train_loop(
            run.optimizer, run.compute_loss, plan.total, RunId(STUDY, "+".join(plan.families), seed),
            eval_every=hook_every(plan, run.eval_every), evaluate=run.evaluate, checkpoint=checkpoint,
        )  # fmt: skip
    except DivergenceError as error:
        raise DivergenceError(f"{error} {diverged_tasks(run.losses.cpu().numpy(), plan)}") from None

    frozen = {step: [_frozen(m, p) for m, p in zip(run.models, snaps)] for step, snaps in run.snapshots.items()}
    attribution = attributions(plan, frozen, seed, int(training_cfg["n_attribution"]), device)
    curves = Curves(run.losses, {s: v.cpu().numpy() for s, v in run.evals.items()}, run.eval_every)
    per_epoch = int(training_cfg["steps_per_epoch"])
    return {
        family: family_run(view, plan, frozen[view.budget], curves, attribution[view.budget], seed, per_epoch)
        for family, view in plan.families.items()
    }


def _frozen(model: Any, params: Mapping[str, Any]) -> Any:
    """A copy of a batched group holding the parameters of a snapshot."""
    import copy

    out = copy.deepcopy(model)
    out.load_state_dict(params)
    return out


def attributions(
    plan: SeedPlan, frozen: Mapping[int, list[Any]], seed: int, n: int, device: Any
) -> dict[int, dict[int, np.ndarray]]:
    """budget -> instance -> ``d yhat / d x_j`` of its network at that budget, on ``n`` fresh inputs of the
    task's attribution stream: ``(n, d_i)`` float64; only the instances of families with that budget."""
    from featurelab.studies.learnability.model import input_gradients

    inputs: dict[int, Any] = {}
    out: dict[int, dict[int, np.ndarray]] = {}
    for budget in plan.budgets:
        wanted = {i for view in plan.families.values() if view.budget == budget for i in view.instances}
        out[budget] = {}
        for g, group in enumerate(plan.groups):
            if not wanted & set(group):
                continue
            if g not in inputs:
                inputs[g] = group_inputs(plan, group, seed, "attribution", n, device)[0]
            grads = input_gradients(frozen[budget][g], inputs[g]).cpu().numpy().astype(np.float64)
            for local, i in enumerate(group):
                if i in wanted:
                    out[budget][i] = grads[local, :, : plan.instances[i].width]
    return out


class Curves:
    """The run's per-step training losses ``(T, I)`` and held-out MSE by step, read per family."""

    def __init__(self, losses: Any, evals: dict[int, np.ndarray], eval_every: int) -> None:
        self.losses, self.evals, self.eval_every = losses, evals, eval_every

    def steps(self, budget: int) -> list[int]:
        """Where a family of ``budget`` steps has curve rows: every ``eval_every`` steps and at its budget."""
        steps = list(range(0, budget + 1, self.eval_every))
        return steps if budget % self.eval_every == 0 else [*steps, budget]

    def window(self, step: int, instances: list[int]) -> np.ndarray:
        """Mean training loss of the ``eval_every`` steps before ``step`` of each of ``instances``. Taken over
        the family's own columns, as a family trained alone takes it (the same float32 reduction)."""
        return self.losses[max(0, step - self.eval_every) : step, instances].mean(0).cpu().numpy()


def family_run(
    view: FamilyView, plan: SeedPlan, frozen: list[Any], curves: Curves, grads: Mapping[int, np.ndarray],
    seed: int, per_epoch: int,
) -> FamilyRun:  # fmt: skip
    """One family's results, read off the seed's run at the family's budget."""
    log = MetricRows(METRIC_COLUMNS, study=STUDY, family=view.name, seed=seed)
    conditions = [task_name(t) for t in view.tasks]
    identity = [(c, t["generator"], task_params_json(t)) for c, t in zip(conditions, view.tasks)]

    def add(j: int, step: int, metric: str, value: float, input_index: int = -1, input_name: str = "") -> None:
        """One row of the family's task ``j``."""
        condition, generator, params = identity[j]
        log.add(
            condition=condition,
            generator=generator,
            params=params,
            step=int(step),
            input=int(input_index),
            input_name=input_name,
            metric=metric,
            value=float(value),
        )

    for step in curves.steps(view.budget):
        window = curves.window(step, view.instances) if step else None
        for j, i in enumerate(view.instances):
            add(j, step, "eval_mse", curves.evals[step][i])
            if window is not None:
                add(j, step, "train_loss", window[j])
    for j, i in enumerate(view.instances):
        add(j, -1, "final_eval_mse", curves.evals[view.budget][i])
    for j, (task, i) in enumerate(zip(view.tasks, view.instances)):
        g = grads[i]
        for k, label in enumerate(input_names(task)):
            add(j, -1, "attribution_mean", g[:, k].mean(), k, label)
            add(j, -1, "attribution_sd", g[:, k].std(ddof=1) if g.shape[0] > 1 else 0.0, k, label)

    state = {
        "tasks": view.tasks,
        "input_dims": [plan.instances[i].width for i in view.instances],
        "instances": {c: instance_state(plan, frozen, i) for c, i in zip(conditions, view.instances)},
    }
    per_step = {
        "losses": curves.losses[: view.budget, view.instances].cpu().numpy(),
        "conditions": np.array(conditions),
        "steps_per_epoch": np.array(per_epoch),
    }
    return log.columns, _to_cpu(state), per_step


def instance_state(plan: SeedPlan, frozen: list[Any], i: int) -> dict[str, Any]:
    """Instance ``i``'s network in a snapshot, as an ``nn.Sequential`` state dict."""
    g = next(g for g, group in enumerate(plan.groups) if i in group)
    return frozen[g].instance_state(i - plan.groups[g].start)


def train_family(
    family: str,
    family_cfg: Mapping[str, Any],
    seed: int,
    model_cfg: Mapping[str, Any],
    training_cfg: Mapping[str, Any],
    device: str,
) -> FamilyRun:
    """One family trained on its own for one seed (what :func:`train_seed` does for a config of one
    family): the metric columns (curves, final held-out MSE, attribution), the final state (tasks and
    each instance as an ``nn.Sequential`` state dict) and the per-step training losses ``(T, I)`` from
    which :func:`threshold_columns` derives steps-to-threshold in a separate, cheap rule.
    """
    return train_seed({family: family_cfg}, seed, model_cfg, training_cfg, device)[family]


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
    """Train every distinct task of all families for one seed in one process, and write each family's
    run (model, metrics, per-step losses) as if it had been trained alone.

    One job per seed rather than per (family, seed): the shared tasks train once, and the per-step
    overhead of batch-size-1 training and torch's start-up are paid once. Imports only torch, NumPy and
    pyarrow (no pandas, scikit-learn or matplotlib): start-up is a real share of a job this short.

    The job of rule ``learnability_train``.
    """
    from featurelab.io import save_arrays, save_torch, table_from_columns, write_table
    from featurelab.scripting import TorchJob
    from featurelab.training import checkpoint_every, checkpoint_path

    job = TorchJob(smk)
    seed, families = int(smk.wildcards.seed), smk.params.families

    def output(family: str, kind: str) -> str:
        """The family's ``kind`` file: the rule names its outputs ``<kind>_<family>`` (``outputs_per``)."""
        return getattr(smk.output, f"{kind}_{family}")

    runs = train_seed(
        families,
        seed,
        smk.params.model,
        smk.params.training,
        job.device,
        checkpoint_to=checkpoint_path(output(next(iter(families)), "metrics")),
        checkpoint_every=checkpoint_every(smk.config),
    )
    for family, (columns, state, per_step) in runs.items():
        record = job.provenance(
            {
                "family": dict(families[family]),
                "model": dict(smk.params.model),
                "training": dict(smk.params.training),
                "family_name": family,
                "seed": seed,
            }
        )
        save_torch({"state": state, "provenance": record}, output(family, "model"))
        write_table(table_from_columns(columns), output(family, "metrics"), record)
        save_arrays(output(family, "losses"), record, **per_step)
    job.done(f"trained seed {seed}: {len(runs)} families")


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
