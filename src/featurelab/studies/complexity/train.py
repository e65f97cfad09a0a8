"""The complexity study (Lampinen, Chan & Hermann 2024): easy and hard features are learned equally
well, but the easy one dominates the learned representation's variance.

A run = one (feature pair, seed): generate three splits, train the MLP, and after every epoch record
per-feature loss/accuracy and how much of the penultimate layer's variance each feature explains.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from featurelab.io import MetricRows
from featurelab.seeding import numpy_rng
from featurelab.studies.complexity import STUDY
from featurelab.studies.complexity.data import make_dataset

if TYPE_CHECKING:
    import torch

    from featurelab.studies.complexity.model import MLP

PAIR_SEPARATOR = "-vs-"
SPLITS = ("train", "rep_fit", "test")

#: Long-format schema of ``metrics.parquet`` (one row per run, epoch, split, feature and metric).
METRIC_COLUMNS = ("study", "condition", "seed", "epoch", "split", "feature_index", "feature", "metric", "value")


#: Rows per forward pass when evaluating a whole split.
EVAL_CHUNK = 1024


def pair_name(pair: list[str] | tuple[str, ...]) -> str:
    """The condition wildcard of a feature pair, e.g. ``linear-vs-xor_xor_xor``."""
    return PAIR_SEPARATOR.join(pair)


def pair_names(pairs: list[list[str]]) -> list[str]:
    """The condition names of the configured feature pairs, in config order."""
    return [pair_name(pair) for pair in pairs]


def parse_pair(condition: str) -> list[str]:
    return condition.split(PAIR_SEPARATOR)


def make_splits(pair: list[str], seed: int, dataset_cfg: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The train, representation-fit and test splits of one run, each from its own random stream:
    ``<split>_inputs`` uint8 (n_<split>, len(pair) * units_per_feature) and ``<split>_labels`` uint8
    (n_<split>, len(pair)) for each split of :data:`SPLITS`, ``n_<split>`` from ``dataset_cfg``
    (:func:`~featurelab.studies.complexity.data.make_dataset`)."""
    arrays: dict[str, np.ndarray] = {}
    for split in SPLITS:
        rng = numpy_rng(STUDY, pair_name(pair), seed, "dataset", split)
        x, y = make_dataset(
            pair,
            int(dataset_cfg[f"n_{split}"]),
            rng,
            units_per_feature=int(dataset_cfg["units_per_feature"]),
            linear_copies=int(dataset_cfg["linear_copies"]),
        )
        arrays[f"{split}_inputs"], arrays[f"{split}_labels"] = x, y
    return arrays


#: How close to a threshold an accuracy counts as meeting it, in the stopping rule and in the claims'
#: "learned" precondition (which uses the same test). Accuracies are k/n in float32, so a value that
#: sits on a threshold (990/1000 against 0.99) would otherwise pass or fail by its last bits. 1e-5
#: is far above float32 rounding (~1e-7 relative) and below one example of accuracy up to 10^5 test
#: examples, so it moves no real count across a threshold.
VERDICT_TOLERANCE = 1e-5

#: The early-stopping rules of ``training.early_stopping.rule``.
STOPPING_RULES = ("loss_patience", "all_features_learned")


class EarlyStopping:
    """When a run stops before its epoch budget (``training.early_stopping``).

    * ``loss_patience``: stop once the test loss has not improved by ``min_delta`` for ``patience``
      epochs. Under SGD the test loss sits on a plateau for hundreds of epochs before the hard feature
      is learned, so this rule can stop a run that has learned only the easy feature.
    * ``all_features_learned``: stop once every feature's test accuracy has been >= ``learned_accuracy``
      for ``hold_epochs`` consecutive evaluations. It cannot stop on a plateau: while any feature is
      below the bar the run continues, up to ``epochs``.

    Disabled (``enabled: false``, the notebook's regime) it never stops a run. The counters are part of
    the checkpointed state, so a resumed run stops at the same epoch.
    """

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        self.enabled = bool(cfg["enabled"])
        self.rule = str(cfg.get("rule", "loss_patience"))
        if self.rule not in STOPPING_RULES:
            raise ValueError(f"config key 'early_stopping.rule': {self.rule!r} is not one of {list(STOPPING_RULES)}")
        if self.enabled and self.rule == "loss_patience":
            self.patience, self.min_delta = int(cfg["patience"]), float(cfg["min_delta"])
        if self.enabled and self.rule == "all_features_learned":
            self.learned_accuracy, self.hold_epochs = float(cfg["learned_accuracy"]), int(cfg["hold_epochs"])
        self.best_loss, self.best_epoch, self.learned_for = float("inf"), 0, 0

    def update(self, epoch: int, test_loss: float, test_accuracy: list[float]) -> bool:
        """Record one evaluation; True when training should stop now."""
        if not self.enabled:
            return False
        if self.rule == "loss_patience":
            if test_loss < self.best_loss - self.min_delta:
                self.best_loss, self.best_epoch = test_loss, epoch
            return epoch - self.best_epoch >= self.patience
        learned = all(a >= self.learned_accuracy - VERDICT_TOLERANCE for a in test_accuracy)
        self.learned_for = self.learned_for + 1 if learned else 0
        return self.learned_for >= self.hold_epochs

    def state_dict(self) -> dict[str, float]:
        return {"best_loss": self.best_loss, "best_epoch": self.best_epoch, "learned_for": self.learned_for}

    def load_state_dict(self, saved: Mapping[str, float]) -> None:
        self.best_loss, self.best_epoch = float(saved["best_loss"]), int(saved["best_epoch"])
        self.learned_for = int(saved["learned_for"])


class PairMetrics(MetricRows):
    """A run's metric rows: one per feature of the pair, or one ``feature = 'all'`` row for a value of the
    whole network (the mean loss, the representation's total variance)."""

    def __init__(self, pair: list[str], seed: int) -> None:
        super().__init__(METRIC_COLUMNS, study=STUDY, condition=pair_name(pair), seed=seed)
        self.pair = list(pair)

    def metric(self, epoch: int, split: str, metric: str, values: Any, per_feature: bool = True) -> None:
        """One row per feature of ``values`` (or one ``'all'`` row when not ``per_feature``)."""
        values = np.atleast_1d(np.asarray(values, dtype=np.float64)).tolist()
        index = list(range(len(self.pair)))[: len(values)] if per_feature else [-1]
        self.extend(
            epoch=epoch,
            split=split,
            feature_index=index,
            feature=[self.pair[i] if i >= 0 else "all" for i in index],
            metric=metric,
            value=values[: len(index)],
        )

    def split(self, epoch: int, split: str, per_feature_loss: torch.Tensor, accuracy: torch.Tensor) -> None:
        """A split's loss (the mean and each feature's) and each feature's accuracy."""
        self.metric(epoch, split, "loss", float(per_feature_loss.mean()), per_feature=False)
        self.metric(epoch, split, "loss", per_feature_loss.cpu())
        self.metric(epoch, split, "accuracy", accuracy.cpu())


def forward_in_chunks(model: MLP, inputs: torch.Tensor, keep_reps: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Whole-split forward pass in chunks of :data:`EVAL_CHUNK` rows: the same numbers as one pass, but
    cache-sized activations instead of an 8192 x 256 allocation per layer (faster on a CPU). The
    representation is concatenated only where it is used (not for the train split)."""
    import torch

    chunks = [model(chunk) for chunk in inputs.split(EVAL_CHUNK)]
    if len(chunks) == 1:
        return chunks[0][0], chunks[0][1] if keep_reps else None
    return torch.cat([c[0] for c in chunks]), torch.cat([c[1] for c in chunks]) if keep_reps else None


def split_metrics(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature loss and accuracy of a split's logits against its labels."""
    from torch.nn.functional import binary_cross_entropy_with_logits

    per_feature = binary_cross_entropy_with_logits(logits, labels, reduction="none").mean(0)
    return per_feature, ((logits > 0).float() == labels).float().mean(0)


class PairTraining:
    """Everything one (pair, seed) run changes as it trains: the MLP, its optimizer, the shuffled batches,
    the metric rows and the early-stopping counters. :meth:`loss` and :meth:`evaluate` are what the
    training loop calls; :meth:`state` and :meth:`restore` are what a checkpoint saves and puts back, so
    a resumed run continues bit-identically."""

    def __init__(
        self,
        pair: list[str],
        seed: int,
        data: Mapping[str, np.ndarray],
        model_cfg: Mapping[str, Any],
        training_cfg: Mapping[str, Any],
        device: str,
    ) -> None:
        import torch

        from featurelab.optim import make_optimizer
        from featurelab.seeding import torch_generator
        from featurelab.studies.complexity.model import MLP
        from featurelab.training import EpochBatches

        condition = pair_name(pair)
        self.tensors = {k: torch.as_tensor(v, dtype=torch.float32, device=device) for k, v in data.items()}
        self.model = MLP(
            self.tensors["train_inputs"].shape[1],
            [*model_cfg["hidden_widths"], len(pair)],
            negative_slope=float(model_cfg["leaky_relu_slope"]),
            generator=torch_generator(STUDY, condition, seed, "init"),
        ).to(device)
        lr = float(training_cfg["learning_rate"])
        self.optimizer = make_optimizer(training_cfg["optimizer"], self.model.parameters(), lr)
        self.batches = EpochBatches(
            self.tensors["train_inputs"].shape[0],
            int(training_cfg["batch_size"]),
            torch_generator(STUDY, condition, seed, "shuffle"),
            device,
        )
        self.n_steps = int(training_cfg["epochs"]) * self.batches.steps_per_epoch
        self.metrics = PairMetrics(pair, seed)
        self.stopping = EarlyStopping(training_cfg["early_stopping"])

    def loss(self, step: int) -> torch.Tensor:
        """The loss of ``step``'s batch: mean over examples and features, as the notebook."""
        from torch.nn.functional import binary_cross_entropy_with_logits

        idx = self.batches(step)
        logits, _ = self.model(self.tensors["train_inputs"].index_select(0, idx))
        return binary_cross_entropy_with_logits(logits, self.tensors["train_labels"].index_select(0, idx))

    def evaluate(self, step: int) -> bool:
        """Test loss, accuracy and variance explained every epoch; the train split only at the run's last
        evaluation (no table, figure or claim reads its curve, and it is 80 % of the examples a per-epoch
        evaluation would forward). True when early stopping ends the run here."""
        import torch

        with torch.inference_mode():
            epoch = step // self.batches.steps_per_epoch
            test_logits, test_reps = forward_in_chunks(self.model, self.tensors["test_inputs"], keep_reps=True)
            test_loss, test_accuracy = split_metrics(test_logits, self.tensors["test_labels"])
            stop = self.stopping.update(epoch, float(test_loss.mean()), test_accuracy.cpu().tolist())
            if stop or step >= self.n_steps:
                train_logits = forward_in_chunks(self.model, self.tensors["train_inputs"], keep_reps=False)[0]
                self.metrics.split(epoch, "train", *split_metrics(train_logits, self.tensors["train_labels"]))
            self.metrics.split(epoch, "test", test_loss, test_accuracy)
            self._record_variance(epoch, test_reps)
        return stop

    def _record_variance(self, epoch: int, test_reps: torch.Tensor) -> None:
        """The test representation's total variance and how much of it each feature explains, the fit made
        on the separate rep_fit split (so that the fit does not see the examples it is scored on)."""
        from featurelab.studies.complexity.variance import total_variance, variance_explained

        rep_fit_reps = forward_in_chunks(self.model, self.tensors["rep_fit_inputs"], keep_reps=True)[1]
        r2_w, r2_u = variance_explained(
            self.tensors["rep_fit_labels"], rep_fit_reps, self.tensors["test_labels"], test_reps
        )
        self.metrics.metric(epoch, "test", "total_variance", total_variance(test_reps).cpu(), per_feature=False)
        self.metrics.metric(epoch, "test", "r2_weighted", r2_w.cpu())
        self.metrics.metric(epoch, "test", "r2_unweighted", r2_u.cpu())

    def state(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "batches": self.batches.state_dict(),
            "log": self.metrics.columns,
            "stopping": self.stopping.state_dict(),
        }

    def restore(self, saved: dict) -> None:
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.batches.load_state_dict(saved["batches"])
        self.metrics.columns = saved["log"]
        self.stopping.load_state_dict(saved["stopping"])


def train_run(
    pair: list[str],
    seed: int,
    data: Mapping[str, np.ndarray],
    model_cfg: Mapping[str, Any],
    training_cfg: Mapping[str, Any],
    device: str,
    checkpoint_to: str | None = None,
    checkpoint_every: int = 0,
) -> tuple[dict[str, list], dict[str, Any]]:
    """Train one (pair, seed); return the metric columns and the final model state.

    Evaluation happens at epoch 0 (before any update) and after every epoch, as in the notebook.
    With ``early_stopping.enabled`` (the paper's SGD regime) training stops early by the rule
    ``early_stopping.rule`` (:class:`EarlyStopping`), never after ``epochs``. With ``checkpoint_to``, the
    run saves its state there every ``checkpoint_every`` steps and resumes from it when restarted
    (bit-identical results).
    """
    from featurelab.training import Checkpoint, RunId, state_key, train_loop

    run = PairTraining(pair, seed, data, model_cfg, training_cfg, device)
    checkpoint = None
    if checkpoint_to is not None:
        key = state_key(STUDY, pair, seed, dict(model_cfg), dict(training_cfg), dict(data))
        checkpoint = Checkpoint(checkpoint_to, checkpoint_every, run.state, run.restore, key=key)
    train_loop(
        run.optimizer,
        run.loss,
        run.n_steps,
        RunId(STUDY, pair_name(pair), seed),
        eval_every=run.batches.steps_per_epoch,
        evaluate=run.evaluate,
        checkpoint=checkpoint,
    )
    return run.metrics.columns, {k: v.detach().cpu() for k, v in run.model.state_dict().items()}


def dataset_job(smk: Any) -> None:
    """Write the three binary-feature splits of every pair for one seed (one file per pair).

    The job of rule ``complexity_dataset``.
    """
    from featurelab.io import save_arrays
    from featurelab.provenance import provenance

    seed = int(smk.wildcards.seed)
    for name in smk.params.pairs:
        pair, path = parse_pair(name), getattr(smk.output, f"dataset_{name}")
        config = {"dataset": dict(smk.params.dataset), "pair": pair, "seed": seed}
        save_arrays(path, provenance(config, rule=smk.rule), **make_splits(pair, seed, smk.params.dataset))


def train_job(smk: Any) -> None:
    """Train every pair of one seed, one after another, and record per-epoch metrics.

    One process per seed, not per (pair, seed): torch's start-up is a real share of a run this short. Each
    pair's outputs are written when it finishes and each pair checkpoints on its own, so a preempted job
    resumes the pair it was in. Imports only torch, NumPy and pyarrow (no pandas, scikit-learn or
    matplotlib).

    The job of rule ``complexity_train``.
    """
    from featurelab.io import load_arrays, save_torch, table_from_columns, write_table
    from featurelab.scripting import TorchJob
    from featurelab.training import checkpoint_every, checkpoint_path

    job = TorchJob(smk)
    seed = int(smk.wildcards.seed)
    for name, dataset in zip(smk.params.pairs, smk.input, strict=True):  # the datasets, in pair order
        pair = parse_pair(name)
        model_path, metrics_path = getattr(smk.output, f"model_{name}"), getattr(smk.output, f"metrics_{name}")
        columns, state = train_run(
            pair,
            seed,
            load_arrays(dataset),
            smk.params.model,
            smk.params.training,
            job.device,
            checkpoint_to=checkpoint_path(metrics_path),
            checkpoint_every=checkpoint_every(smk.config),
        )
        record = job.provenance(
            {"model": dict(smk.params.model), "training": dict(smk.params.training), "pair": pair, "seed": seed}
        )
        save_torch({"state_dict": state, "provenance": record}, model_path)
        write_table(table_from_columns(columns), metrics_path, record)
    job.done(f"trained {len(smk.params.pairs)} pairs, seed {seed}")
