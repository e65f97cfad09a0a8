"""The hierarchy study (reference notebook 004): superposition of tree-structured features.

A run = one seed: train the TMS model x' = ReLU(W^T W x + b) on the tree's features for *every*
configured tree depth and hidden width at once (one batched model with an instance per (depth, width);
widths above a depth's number of features are skipped, as in the notebook), then measure each
instance's loss on fresh samples and its exact expected loss. The notebook's 5 "instances" are 5 seeds
here (5 training jobs); its
initialisation, whose scale depends on that instance count, is kept by ``hierarchy.model.init:
notebook`` with ``init_instances: 5`` whatever the number of seeds.

Companion experiment (condition ``tms``): the classic TMS sparsity sweep (20 features, 5 hidden,
importance 0.7^i), one run per seed, batched over sparsities.

Training jobs import only torch, NumPy and pyarrow (start-up is a real share of these short jobs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from featurelab.io import MetricRows
from featurelab.seeding import derive_seed, numpy_rng, torch_generator
from featurelab.studies.hierarchy import STUDY
from featurelab.studies.hierarchy.data import (
    check_branching_factor,
    feature_levels,
    n_features,
    pattern_counts,
    sample_tree,
    tree_patterns,
)

TMS_CONDITION = "tms"

#: Long-format schema of a depth run's ``metrics.parquet``.
METRIC_COLUMNS = ("study", "condition", "depth", "seed", "n_features", "n_hidden", "step", "metric", "value")
#: Long-format schema of ``weights.parquet`` (``param`` W has hidden >= 0; b has hidden = -1).
WEIGHT_COLUMNS = ("study", "condition", "depth", "seed", "n_hidden", "param", "hidden", "feature", "level", "value")
#: The TMS sweep's tables.
TMS_METRIC_COLUMNS = ("study", "condition", "seed", "sparsity", "n_hidden", "step", "metric", "value")
TMS_WEIGHT_COLUMNS = (*TMS_METRIC_COLUMNS[:5], "param", "hidden", "feature", "importance", "value")


def depth_condition(depth: int) -> str:
    return f"depth{int(depth)}"


def widths_for(depth: int, n_hidden: list[int]) -> list[int]:
    """The configured widths that a depth trains: those not above its number of features."""
    return sorted(int(h) for h in n_hidden if int(h) <= n_features(depth))


def make_lr(training: Mapping[str, Any]):
    from featurelab.optim import learning_rate

    steps, lr, schedule = int(training["steps"]), float(training["learning_rate"]), training["lr_schedule"]
    return lambda step: learning_rate(schedule, lr, step, steps)


def _train(optimizer: Any, compute_loss: Callable, evaluate: Callable, training: Mapping[str, Any], run: Any) -> int:
    """``training.steps`` optimizer steps, evaluated every ``log_every`` steps and after the last one; returns
    the step count."""
    from featurelab.training import train_loop

    steps, every = int(training["steps"]), int(training["log_every"])
    train_loop(optimizer, compute_loss, steps, run, eval_every=every, evaluate=evaluate, lr_at=make_lr(training))
    if steps % every:
        evaluate(steps)
    return steps


@dataclass(frozen=True)
class TreeInstances:
    """Which instance of a seed's batched model is which (tree depth, width): instances are grouped by depth,
    in config order, each depth's widths ascending."""

    depths: list[int]
    widths: dict[int, list[int]]

    @property
    def spans(self) -> dict[int, slice]:
        """Each depth's instances as a slice of the instance dimension."""
        out, start = {}, 0
        for depth in self.depths:
            out[depth] = slice(start, start + len(self.widths[depth]))
            start += len(self.widths[depth])
        return out

    def column(self, per_depth: Callable[[int], Any]) -> list:
        """One value per instance, from a function of its depth."""
        return [per_depth(depth) for depth in self.depths for _ in self.widths[depth]]


def tree_instances(depths: list[int], n_hidden: list[int]) -> TreeInstances:
    """The (depth, width) instances a seed trains; a depth with no width <= its feature count is an error."""
    widths = {}
    for depth in sorted({int(d) for d in depths}):
        widths[depth] = widths_for(depth, n_hidden)
        if not widths[depth]:
            raise ValueError(
                f"config key 'hierarchy.model.n_hidden': no width <= {n_features(depth)} features for depth {depth}"
            )
    return TreeInstances(list(widths), widths)


def padded_rows(blocks: Mapping[int, np.ndarray], instances: TreeInstances) -> np.ndarray:
    """Per-depth rows ``(rows_d, F_d)`` as one zero-padded ``(I, rows, F)`` float32 array, each depth's rows
    given to every instance of that depth."""
    n_rows, n_cols = max(len(b) for b in blocks.values()), max(b.shape[1] for b in blocks.values())
    out = np.zeros((instances.spans[instances.depths[-1]].stop, n_rows, n_cols), dtype=np.float32)
    for depth, span in instances.spans.items():
        block = blocks[depth]
        out[span, : len(block), : block.shape[1]] = block[None]
    return out


def depth_batches(
    seed: int, instances: TreeInstances, tree: Mapping[str, Any], training: Mapping[str, Any], device: str
):
    """``batch(step) -> (x, row_weights)`` for the configured estimator, every depth's draws from that depth's
    own random stream (what a depth trained alone would draw).

    ``patterns``: the P distinct patterns with weights count/batch from a multinomial draw of the batch -
    distributed exactly as the mean over a batch of i.i.d. samples (the same estimator, P << batch rows).
    Padded pattern rows have weight 0; the weights are kept per depth and spread to instances per step.
    ``samples``: a fresh batch of i.i.d. samples each step, as the notebook does (for checks/benchmarks).
    """
    import torch

    mode, steps, batch = tree["sampling"], int(training["steps"]), int(training["batch_size"])
    rngs = {d: numpy_rng(STUDY, depth_condition(d), seed, "batches", training["estimator"]) for d in instances.depths}
    if training["estimator"] == "patterns":
        tables = {d: tree_patterns(d, mode) for d in instances.depths}
        x = torch.as_tensor(padded_rows({d: rows for d, (rows, _) in tables.items()}, instances), device=device)
        weights = np.zeros((steps, len(instances.depths), x.shape[1]), dtype=np.float32)  # (steps, depths, rows)
        for k, depth in enumerate(instances.depths):
            counts = pattern_counts(steps, batch, tables[depth][1], rngs[depth])
            weights[:, k, : counts.shape[1]] = counts / batch
        w = torch.as_tensor(weights, device=device)
        depth_of = torch.as_tensor(instances.column(instances.depths.index), device=device)
        return lambda step: (x, w[step][depth_of])

    def fresh(step: int):
        draws = {d: sample_tree(batch, d, mode, rngs[d]) for d in instances.depths}
        return torch.as_tensor(padded_rows(draws, instances), device=device), None

    return fresh


def exact_inputs(instances: TreeInstances, mode: str, device: str):
    """Every depth's distinct patterns (I, rows, F) and their probabilities (I, rows), zero-padded: the
    expected loss, exactly, is the probability-weighted loss over them."""
    import torch

    tables = {d: tree_patterns(d, mode) for d in instances.depths}
    patterns = {d: rows for d, (rows, _) in tables.items()}
    probs = {d: p[:, None] for d, (_, p) in tables.items()}
    x = torch.as_tensor(padded_rows(patterns, instances), device=device)
    p = torch.as_tensor(padded_rows(probs, instances)[..., 0], device=device)
    return x, p


def train_seed(
    seed: int,
    tree: Mapping[str, Any],
    model_cfg: Mapping[str, Any],
    training: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    device: str,
) -> tuple[dict[str, list], dict[str, list]]:
    """Train every width of every tree depth of one seed as one batched model; return (metric columns, weight
    columns).

    One model, not one per depth, because a step of these small models costs about the same whatever their
    size: the per-step overhead is paid once per seed. Instances share nothing but the batched kernels
    (the loss is a sum of per-instance losses and Adam is element-wise), and each depth draws its initial
    weights and batches from its own random streams, so every (depth, width) trains as it would alone (to
    float rounding; tested). ``model_cfg`` is the config's ``hierarchy.model``: ``n_hidden`` (the widths),
    ``init`` and ``init_instances`` (see :mod:`featurelab.studies.hierarchy.model`).
    """
    import torch

    from featurelab.optim import Adam
    from featurelab.studies.hierarchy.model import BatchedTMS
    from featurelab.training import RunId

    check_branching_factor(tree["branching_factor"])
    instances = tree_instances(list(tree["depths"]), list(model_cfg["n_hidden"]))
    parts = [
        BatchedTMS(
            instances.widths[depth],
            n_features(depth),
            generator=torch_generator(STUDY, depth_condition(depth), seed, "init"),
            init=model_cfg["init"],
            init_instances=int(model_cfg["init_instances"]),
        )
        for depth in instances.depths
    ]
    model = BatchedTMS.stacked(parts).to(device)
    optimizer = Adam(model.parameters(), lr=float(training["learning_rate"]))
    batch = depth_batches(seed, instances, tree, training, device)
    x_all, p_all = exact_inputs(instances, tree["sampling"], device)
    metrics = MetricRows(METRIC_COLUMNS, study=STUDY, seed=seed)
    identity = dict(
        condition=instances.column(depth_condition),
        depth=instances.column(int),
        n_features=instances.column(n_features),
        n_hidden=[w for d in instances.depths for w in instances.widths[d]],
    )

    def add(step: int, metric: str, values: torch.Tensor) -> None:
        """One row per instance of a batched measurement."""
        metrics.extend(**identity, step=step, metric=metric, value=[float(v) for v in values.detach().cpu().tolist()])

    @torch.no_grad()
    def evaluate(step: int) -> bool:
        add(step, "loss_exact", model.loss(x_all, p_all))  # the expected loss, exactly (sum over patterns)
        return False

    def compute_loss(step: int) -> torch.Tensor:
        x, w = batch(step)
        return model.loss(x, w)

    depths = ",".join(str(d) for d in instances.depths)
    steps = _train(optimizer, compute_loss, evaluate, training, RunId(STUDY, f"depths {depths}", seed))
    with torch.no_grad():  # the notebook's measure: the loss on fresh samples, each depth's own stream
        n = int(evaluation["n_samples"])
        fresh = {
            d: sample_tree(n, d, tree["sampling"], numpy_rng(STUDY, depth_condition(d), seed, "evaluation"))
            for d in instances.depths
        }
        add(steps, "loss_fresh", model.loss(torch.as_tensor(padded_rows(fresh, instances), device=device)))
    return metrics.columns, weight_columns(model, instances, seed)


def weight_columns(model, instances: TreeInstances, seed: int) -> dict[str, list]:
    """Long-format weight rows of every (depth, width) instance, each feature with its tree level."""
    rows = []
    for depth, span in instances.spans.items():
        leading, levels = (STUDY, depth_condition(depth), depth, seed), feature_levels(depth).tolist()
        rows += [(i, leading, h, levels) for i, h in zip(range(span.start, span.stop), instances.widths[depth])]
    return _weight_rows(model, WEIGHT_COLUMNS, rows)


def _weight_rows(model, columns: tuple[str, ...], instances: list[tuple[int, tuple, int, list]]) -> dict[str, list]:
    """Long-format rows of a batched TMS model's bias (kind ``b``, row -1) and weight rows (kind ``W``).

    ``instances`` lists (index in the batch, leading column values, n_hidden, one value per real feature:
    its level or importance); each row is the leading values, n_hidden, kind, row, feature, that feature's
    value and the weight. Padded rows and features are left out.
    """
    rows = MetricRows(columns)
    W = model.masked_weight().detach().cpu().numpy()
    b = model.b.detach().cpu().numpy()
    for i, leading, h, per_feature in instances:
        for r in range(-1, h):
            values = b[i] if r < 0 else W[i, r]
            for f, (v, extra) in enumerate(zip(values.tolist(), per_feature)):
                rows.add(**dict(zip(columns, (*leading, h, "b" if r < 0 else "W", r, f, extra, float(v)))))
    return rows.columns


def train_tms(seed: int, tms: Mapping[str, Any], device: str) -> tuple[dict[str, list], dict[str, list]]:
    """The classic TMS sparsity sweep for one seed: one instance per sparsity, trained together.

    Inputs come from :class:`featurelab.sparse_uniform.SparseUniform` (one random integer per entry gives
    whether a feature is on and its value; the geometry study draws the same way)."""
    import torch

    from featurelab.optim import Adam
    from featurelab.sparse_uniform import SparseUniform
    from featurelab.studies.hierarchy.model import BatchedTMS
    from featurelab.training import RunId

    training = tms["training"]
    nf, nh, sparsities = int(tms["n_features"]), int(tms["n_hidden"]), [float(s) for s in tms["sparsities"]]
    importance = float(tms["importance_decay"]) ** torch.arange(nf, dtype=torch.float32)
    # per-instance Xavier: the notebook has no TMS sweep (so no init of its own to follow here)
    model = BatchedTMS(
        [nh] * len(sparsities),
        nf,
        generator=torch_generator(STUDY, TMS_CONDITION, seed, "init"),
        importance=importance,
        init="per_instance",
    ).to(device)
    optimizer = Adam(model.parameters(), lr=float(training["learning_rate"]))
    p = [1.0 - s for s in sparsities]
    batches = SparseUniform(p, nf, derive_seed(STUDY, TMS_CONDITION, seed, "batches"), device)
    batch_size = int(training["batch_size"])
    metrics = MetricRows(TMS_METRIC_COLUMNS, study=STUDY, condition=TMS_CONDITION, seed=seed, n_hidden=nh)

    def compute_loss(step: int) -> torch.Tensor:
        return model.loss(batches.draw(batch_size))

    evaluation = SparseUniform(p, nf, derive_seed(STUDY, TMS_CONDITION, seed, "evaluation"), device)
    x_eval = evaluation.draw(batch_size).clone()  # the sampler's buffer is reused by its next draw

    @torch.no_grad()
    def evaluate(step: int) -> bool:
        vals = [float(v) for v in model.loss(x_eval).cpu().tolist()][: len(sparsities)]
        metrics.extend(sparsity=sparsities[: len(vals)], step=step, metric="loss", value=vals)
        return False

    _train(optimizer, compute_loss, evaluate, training, RunId(STUDY, TMS_CONDITION, seed))
    imp = importance.tolist()
    instances = [(i, (STUDY, TMS_CONDITION, seed, s), nh, imp) for i, s in enumerate(sparsities)]
    return metrics.columns, _weight_rows(model, TMS_WEIGHT_COLUMNS, instances)


def train_job(smk: Any) -> None:
    """Train every n_hidden of every tree depth of one seed as one batched TMS model.

    The job of rule ``hierarchy_train``.
    """
    from featurelab.io import table_from_columns, write_table
    from featurelab.scripting import TorchJob

    job = TorchJob(smk)
    seed = int(smk.wildcards.seed)
    p = smk.params
    metrics, weights = train_seed(seed, p.tree, p.model, p.training, p.evaluation, job.device)
    record = job.provenance(
        {
            "tree": dict(p.tree),
            "model": dict(p.model),
            "training": dict(p.training),
            "evaluation": dict(p.evaluation),
            "seed": seed,
        }
    )
    write_table(table_from_columns(metrics), smk.output.metrics, record)
    write_table(table_from_columns(weights), smk.output.weights, record)
    job.done(f"trained depths {list(p.tree['depths'])} seed {seed}")


def train_tms_job(smk: Any) -> None:
    """The classic TMS sparsity sweep for one seed, batched over sparsities.

    The job of rule ``hierarchy_train_tms``.
    """
    from featurelab.io import table_from_columns, write_table
    from featurelab.scripting import TorchJob

    job = TorchJob(smk)
    seed = int(smk.wildcards.seed)
    tms = dict(smk.params.tms)
    metrics, weights = train_tms(seed, tms, job.device)
    record = job.provenance({"tms": tms, "seed": seed})
    write_table(table_from_columns(metrics), smk.output.metrics, record)
    write_table(table_from_columns(weights), smk.output.weights, record)
    job.done(f"trained the TMS sweep, seed {seed},")
