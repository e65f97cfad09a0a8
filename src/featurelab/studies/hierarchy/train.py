"""The hierarchy study (reference notebook 004): superposition of tree-structured features.

A run = one (tree depth, seed): train the TMS model x' = ReLU(W^T W x + b) on the tree's features for
*every* configured hidden width at once (one batched model with a width dimension; widths above the
number of features are skipped, as in the notebook), then measure each width's loss on fresh samples
and its exact expected loss. The notebook's 5 "instances" are 5 seeds here (5 jobs per depth); its
initialisation, whose scale depends on that instance count, is kept by ``hierarchy.model.init:
notebook`` with ``init_instances: 5`` whatever the number of seeds.

Companion experiment (condition ``tms``): the classic TMS sparsity sweep (20 features, 5 hidden,
importance 0.7^i), one run per seed, batched over sparsities.

Training jobs import only torch, NumPy and pyarrow (start-up is a real share of these short jobs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from featurelab.io import MetricRows
from featurelab.seeding import numpy_rng, torch_generator
from featurelab.studies.hierarchy.data import (
    check_branching_factor,
    feature_levels,
    n_features,
    pattern_counts,
    sample_tree,
    tree_patterns,
)

STUDY = "hierarchy"
TMS_CONDITION = "tms"

#: Long-format schema of a depth run's ``metrics.parquet``.
METRIC_COLUMNS = ("study", "condition", "depth", "seed", "n_features", "n_hidden", "step", "metric", "value")
#: Long-format schema of ``weights.parquet`` (``param`` W has hidden >= 0; b has hidden = -1).
WEIGHT_COLUMNS = ("study", "condition", "depth", "seed", "n_hidden", "param", "hidden", "feature", "level", "value")
#: The TMS sweep's tables.
TMS_METRIC_COLUMNS = ("study", "condition", "seed", "sparsity", "n_hidden", "step", "metric", "value")
TMS_WEIGHT_COLUMNS = (*TMS_METRIC_COLUMNS[:5], "param", "hidden", "feature", "importance", "value")

#: The figures and the aggregated tables each reads (results/hierarchy/<table>.parquet).
FIGURE_TABLES: dict[str, tuple[str, ...]] = {
    "loss_heatmap": ("summary",),
    "loss_vs_width": ("summary", "finals"),
    "width_needed": ("width_needed", "finals"),
    "tms_sparsity": ("tms_features", "tms_gram"),
    "feature_directions_2d": ("directions",),
}


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


def depth_batches(depth: int, seed: int, tree: Mapping[str, Any], training: Mapping[str, Any], device: str):
    """``batch(step) -> (x, row_weights)`` for the configured estimator.

    ``patterns``: the P distinct patterns with weights count/batch from a multinomial draw of the batch -
    distributed exactly as the mean over a batch of i.i.d. samples (the same estimator, P << batch rows).
    ``samples``: a fresh batch of i.i.d. samples each step, as the notebook does (for checks/benchmarks).
    """
    import torch

    mode, steps, batch = tree["sampling"], int(training["steps"]), int(training["batch_size"])
    rng = numpy_rng(STUDY, depth_condition(depth), seed, "batches", training["estimator"])
    if training["estimator"] == "patterns":
        patterns, probs = tree_patterns(depth, mode)
        x = torch.as_tensor(patterns, device=device)
        weights = torch.as_tensor(pattern_counts(steps, batch, probs, rng) / batch, dtype=torch.float32, device=device)
        return lambda step: (x, weights[step])
    return lambda step: (torch.as_tensor(sample_tree(batch, depth, mode, rng), device=device), None)


def train_depth(
    depth: int,
    seed: int,
    tree: Mapping[str, Any],
    model_cfg: Mapping[str, Any],
    training: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    device: str,
) -> tuple[dict[str, list], dict[str, list]]:
    """Train every width of one (depth, seed) as one batched model; return (metric columns, weight columns).

    ``model_cfg`` is the config's ``hierarchy.model``: ``n_hidden`` (the widths), ``init`` and
    ``init_instances`` (see :mod:`featurelab.studies.hierarchy.model`; the notebook's init is the default).
    """
    import torch

    from featurelab.optim import Adam
    from featurelab.studies.hierarchy.model import BatchedTMS
    from featurelab.training import RunId

    check_branching_factor(tree["branching_factor"])
    condition, nf = depth_condition(depth), n_features(depth)
    widths = widths_for(depth, list(model_cfg["n_hidden"]))
    if not widths:
        raise ValueError(f"config key 'hierarchy.model.n_hidden': no width <= {nf} features for depth {depth}")
    model = BatchedTMS(
        widths,
        nf,
        generator=torch_generator(STUDY, condition, seed, "init"),
        init=model_cfg["init"],
        init_instances=int(model_cfg["init_instances"]),
    ).to(device)
    optimizer = Adam(model.parameters(), lr=float(training["learning_rate"]))
    batch = depth_batches(depth, seed, tree, training, device)
    patterns, probs = tree_patterns(depth, tree["sampling"])
    x_all = torch.as_tensor(patterns, device=device)
    p_all = torch.as_tensor(probs, dtype=torch.float32, device=device)
    metrics = MetricRows(METRIC_COLUMNS, study=STUDY, condition=condition, depth=depth, seed=seed, n_features=nf)

    def add(step: int, metric: str, values: torch.Tensor) -> None:
        """One row per width of a batched measurement."""
        vals = [float(v) for v in values.detach().cpu().tolist()][: len(widths)]
        metrics.extend(n_hidden=list(widths[: len(vals)]), step=step, metric=metric, value=vals)

    @torch.no_grad()
    def evaluate(step: int) -> bool:
        add(step, "loss_exact", model.loss(x_all, p_all))  # the expected loss, exactly (sum over patterns)
        return False

    def compute_loss(step: int) -> torch.Tensor:
        x, w = batch(step)
        return model.loss(x, w)

    steps = _train(optimizer, compute_loss, evaluate, training, RunId(STUDY, condition, seed))
    with torch.no_grad():  # the notebook's measure: the loss on fresh samples
        rng = numpy_rng(STUDY, condition, seed, "evaluation")
        fresh = torch.as_tensor(sample_tree(int(evaluation["n_samples"]), depth, tree["sampling"], rng), device=device)
        add(steps, "loss_fresh", model.loss(fresh))
    return metrics.columns, weight_columns(model, widths, depth, seed)


def weight_columns(model, widths: list[int], depth: int, seed: int) -> dict[str, list]:
    condition, levels = depth_condition(depth), feature_levels(depth)
    instances = [(i, (STUDY, condition, depth, seed), h) for i, h in enumerate(widths)]
    return _weight_rows(model, WEIGHT_COLUMNS, instances, lambda f: int(levels[f]))


def _weight_rows(
    model, columns: tuple[str, ...], instances: list[tuple[int, tuple, int]], per_feature: Callable[[int], Any]
) -> dict[str, list]:
    """Long-format rows of a batched TMS model's bias (kind ``b``, row -1) and weight rows (kind ``W``).

    ``instances`` lists (index in the batch, leading column values, n_hidden); each row is the leading
    values, n_hidden, kind, row, feature, ``per_feature(feature)`` (level or importance) and the value.
    """
    rows = MetricRows(columns)
    W = model.masked_weight().detach().cpu().numpy()
    b = model.b.detach().cpu().numpy()
    for i, leading, h in instances:
        for r in range(-1, h):
            values = b[i] if r < 0 else W[i, r]
            for f, v in enumerate(values.tolist()):
                rows.add(**dict(zip(columns, (*leading, h, "b" if r < 0 else "W", r, f, per_feature(f), float(v)))))
    return rows.columns


def train_tms(seed: int, tms: Mapping[str, Any], device: str) -> tuple[dict[str, list], dict[str, list]]:
    """The classic TMS sparsity sweep for one seed: one instance per sparsity, trained together."""
    import torch

    from featurelab.optim import Adam
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
    prob = torch.tensor([1.0 - s for s in sparsities], device=device)[None, :, None]
    gen = torch_generator(STUDY, TMS_CONDITION, seed, "batches", device=device)
    shape = (int(training["batch_size"]), len(sparsities), nf)
    metrics = MetricRows(TMS_METRIC_COLUMNS, study=STUDY, condition=TMS_CONDITION, seed=seed, n_hidden=nh)

    def draw(generator) -> torch.Tensor:
        # a feature is on with probability p and then U[0, 1): one uniform u gives both, since u < p has
        # probability p and u / p given u < p is U[0, 1) - half the random numbers of two draws
        u = torch.rand(shape, generator=generator, device=device)
        return torch.where(u < prob, u / prob, torch.zeros((), device=device))

    def compute_loss(step: int) -> torch.Tensor:
        return model.loss(draw(gen))

    eval_gen = torch_generator(STUDY, TMS_CONDITION, seed, "evaluation", device=device)
    x_eval = draw(eval_gen)

    @torch.no_grad()
    def evaluate(step: int) -> bool:
        vals = [float(v) for v in model.loss(x_eval).cpu().tolist()][: len(sparsities)]
        metrics.extend(sparsity=sparsities[: len(vals)], step=step, metric="loss", value=vals)
        return False

    _train(optimizer, compute_loss, evaluate, training, RunId(STUDY, TMS_CONDITION, seed))
    imp = importance.numpy()
    instances = [(i, (STUDY, TMS_CONDITION, seed, s), nh) for i, s in enumerate(sparsities)]
    return metrics.columns, _weight_rows(model, TMS_WEIGHT_COLUMNS, instances, lambda f: float(imp[f]))


def train_job(smk: Any) -> None:
    """Train every n_hidden of one (tree depth, seed) as one batched TMS model.

    The job of rule ``hierarchy_train``.
    """
    from featurelab.io import table_from_columns, write_table
    from featurelab.scripting import TorchJob

    job = TorchJob(smk)
    depth, seed = int(smk.wildcards.depth), int(smk.wildcards.seed)
    p = smk.params
    metrics, weights = train_depth(depth, seed, p.tree, p.model, p.training, p.evaluation, job.device)
    record = job.provenance(
        {
            "tree": dict(p.tree),
            "model": dict(p.model),
            "training": dict(p.training),
            "evaluation": dict(p.evaluation),
            "depth": depth,
            "seed": seed,
        }
    )
    write_table(table_from_columns(metrics), smk.output.metrics, record)
    write_table(table_from_columns(weights), smk.output.weights, record)
    job.done(f"trained depth {depth} seed {seed}")


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
