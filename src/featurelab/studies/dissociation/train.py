"""The dissociation study (Braun, Grant & Saxe, ICML 2025): manipulations that leave an MNIST MLP's
function unchanged but change its hidden representation are invisible to input-noise robustness, yet
visible to parameter-noise robustness and to transfer.

Per seed: train the MLP (:func:`train_run`); build every manipulated network (:func:`build_variants`)
and measure how exactly each preserves the function, its test error under input noise and under
parameter noise (:func:`evaluate_run`); and the cross-validated rotation-probe error of its second hidden
layer against sample budget (:func:`transfer_run`). Every random draw comes from a generator seeded by
(study, purpose, seed), so a seed's numbers do not depend on which other jobs run.

Shapes: n = images, H1 and H2 = hidden widths (as in :mod:`~featurelab.studies.dissociation.model`).
``data`` is :func:`featurelab.mnist.prepare`'s arrays (``x_*`` float32 (n, 784), ``y_*`` int64 (n,)) and
a trained ``state`` holds ``w1`` (H1, 784), ``w2`` (H2, H1), ``w3`` (10, H2).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from featurelab.io import MetricRows
from featurelab.studies.dissociation import STUDY

if TYPE_CHECKING:
    import torch

#: Long-format schema of every per-seed table (training, evaluation and transfer).
RESULT_COLUMNS = ("study", "condition", "model", "seed", "evaluation", "x_name", "x", "metric", "value")
N_CLASSES = 10
#: Legend names, in drawing order.
MODELS = ("trained", "scaled", "duplicated", "nuisance", "null-space perturbed")


@dataclass(frozen=True)
class Variant:
    """One network of a seed: ``condition`` names it uniquely (e.g. ``duplicated_m1.2``), ``model`` is
    its legend name, ``evaluations`` the curves it enters (as in the notebook)."""

    condition: str
    model: str
    kind: str
    param: float
    evaluations: tuple[str, ...]


def variants(cfg: Mapping[str, Any]) -> list[Variant]:
    """The networks of one seed. Which curve uses which variant follows the notebook: duplication by
    m = 2 and 1,024 nuisance neurons in the noise panels, m = 1.2 and 128 nuisance neurons for transfer;
    the null-space perturbation only under input noise (the notebook computed no other curve for it)."""
    m = cfg["manipulations"]
    noise, transfer = ("input_noise", "parameter_noise"), ("transfer",)
    out = [
        Variant("trained", "trained", "trained", 0.0, noise + transfer),
        Variant(f"scaled_c{_fmt(m['scale_factor'])}", "scaled", "scale", float(m["scale_factor"]), noise + transfer),
    ]
    dup_noise, dup_transfer = float(m["duplicate_multiplier"]["noise"]), float(m["duplicate_multiplier"]["transfer"])
    nui_noise, nui_transfer = int(m["nuisance_units"]["noise"]), int(m["nuisance_units"]["transfer"])
    for value, kind, model, prefix, used in (
        (dup_noise, "duplicate", "duplicated", "duplicated_m", noise),
        (dup_transfer, "duplicate", "duplicated", "duplicated_m", transfer),
        (nui_noise, "nuisance", "nuisance", "nuisance_n", noise),
        (nui_transfer, "nuisance", "nuisance", "nuisance_n", transfer),
    ):
        condition = f"{prefix}{_fmt(value)}"
        existing = next((v for v in out if v.condition == condition), None)
        if existing is not None:  # the same network serves both panels
            out[out.index(existing)] = Variant(condition, model, kind, value, existing.evaluations + used)
        else:
            out.append(Variant(condition, model, kind, value, used))
    out.append(
        Variant(
            f"null_space_s{_fmt(m['null_space_sigma'])}",
            "null-space perturbed",
            "null_space",
            float(m["null_space_sigma"]),
            ("input_noise",),
        )
    )
    return out


def _fmt(value: float) -> str:
    return f"{float(value):g}"


def log_grid(spec: Mapping[str, Any]) -> np.ndarray:
    return np.logspace(math.log10(float(spec["min"])), math.log10(float(spec["max"])), int(spec["n"]))


def _add_rows(
    rows: MetricRows, variant: Variant | str, evaluation: str, x_name: str, xs: Any, metric: str, values: Any
) -> None:
    """Rows of one network's curve (or single value) into ``rows``; a single x is shared by all values."""
    condition, model = (variant.condition, variant.model) if isinstance(variant, Variant) else (variant, variant)
    xs, values = np.atleast_1d(np.asarray(xs, np.float64)), np.atleast_1d(np.asarray(values, np.float64))
    if xs.size == 1 and values.size > 1:
        xs = np.repeat(xs, values.size)
    n = min(xs.size, values.size)
    rows.extend(
        condition=condition,
        model=model,
        evaluation=evaluation,
        x_name=x_name,
        x=xs.tolist()[:n],
        metric=metric,
        value=values.tolist()[:n],
    )


# -------------------------------------------------------------------------------------------- training


class MLPTraining:
    """Everything one seed's training changes: the MLP's weights, SGD, the shuffled batches, the metric rows
    and the running sum of the epoch's training loss (kept on the device, read once per epoch).
    :meth:`loss` and :meth:`evaluate` are what the training loop calls; :meth:`state` and :meth:`restore`
    are what a checkpoint saves and puts back, so a resumed run continues bit-identically."""

    def __init__(
        self,
        seed: int,
        data: Mapping[str, np.ndarray],
        model_cfg: Mapping[str, Any],
        training_cfg: Mapping[str, Any],
        device: str,
    ) -> None:
        import torch

        from featurelab.init import uniform_fan_in_weights
        from featurelab.optim import SGD
        from featurelab.seeding import torch_generator
        from featurelab.training import EpochBatches

        self.device = device
        self.x, self.y, self.x_test, self.y_test = (
            torch.as_tensor(data[k], device=device) for k in ("x_train", "y_train", "x_test", "y_test")
        )
        sizes = [self.x.shape[1], *model_cfg["hidden_widths"], N_CLASSES]
        init = uniform_fan_in_weights(sizes, torch_generator(STUDY, "init", seed))
        self.weights = [torch.nn.Parameter(w.to(device)) for w in init]
        self.optimizer = SGD(self.weights, lr=float(training_cfg["learning_rate"]))
        self.batches = EpochBatches(
            self.x.shape[0], int(training_cfg["batch_size"]), torch_generator(STUDY, "shuffle", seed), device
        )
        self.n_steps = int(training_cfg["epochs"]) * self.batches.steps_per_epoch
        self.rows = MetricRows(RESULT_COLUMNS, study=STUDY, seed=seed)
        self.loss_sum, self.n_seen = torch.zeros((), device=device), 0

    def loss(self, step: int) -> torch.Tensor:
        """Cross-entropy of ``step``'s batch, added to the epoch's running sum."""
        from torch.nn.functional import cross_entropy

        from featurelab.studies.dissociation.model import forward

        idx = self.batches(step)
        loss = cross_entropy(forward(tuple(self.weights), self.x[idx]), self.y[idx])
        self.loss_sum += loss.detach() * len(idx)
        self.n_seen += len(idx)
        return loss

    def evaluate(self, step: int) -> bool:
        """The test error, and the epoch's mean training loss (none at epoch 0); never stops training."""
        import torch

        from featurelab.studies.dissociation.model import forward

        with torch.no_grad():
            epoch = step // self.batches.steps_per_epoch
            error = float((forward(tuple(self.weights), self.x_test).argmax(-1) != self.y_test).float().mean())
            _add_rows(self.rows, "trained", "training", "epoch", epoch, "test_error", error)
            if self.n_seen:
                mean_loss = float(self.loss_sum) / self.n_seen
                _add_rows(self.rows, "trained", "training", "epoch", epoch, "train_loss", mean_loss)
                self.loss_sum.zero_()
                self.n_seen = 0
        return False

    def state(self) -> dict:
        return {
            "weights": [w.detach() for w in self.weights],
            "optimizer": self.optimizer.state_dict(),
            "batches": self.batches.state_dict(),
            "rows": self.rows.columns,
            "running": {"loss": self.loss_sum, "n": self.n_seen},
        }

    def restore(self, saved: dict) -> None:
        import torch

        with torch.no_grad():
            for w, v in zip(self.weights, saved["weights"]):
                w.copy_(v)
        self.optimizer.load_state_dict(saved["optimizer"])
        self.batches.load_state_dict(saved["batches"])
        self.rows.columns = saved["rows"]
        self.loss_sum, self.n_seen = saved["running"]["loss"].to(self.device), saved["running"]["n"]


def train_run(seed: int, data: Mapping[str, np.ndarray], model_cfg: Mapping[str, Any], training_cfg: Mapping[str, Any],
              device: str, *, checkpoint_to: str | None = None, checkpoint_every: int = 0
              ) -> tuple[dict[str, list], dict[str, Any]]:  # fmt: skip
    """Train the bias-free MLP with softmax cross-entropy and SGD whose learning rate decays linearly from
    ``learning_rate`` to ``final_learning_rate`` over all steps; record the epoch's mean training loss and
    the test error after every epoch (epoch 0 = at initialisation). Returns (metric columns, weights).
    With ``checkpoint_to``, the run saves its state there every ``checkpoint_every`` steps and resumes
    from it when restarted (bit-identical results)."""
    from featurelab.optim import learning_rate
    from featurelab.training import Checkpoint, RunId, state_key, train_loop

    run = MLPTraining(seed, data, model_cfg, training_cfg, device)
    checkpoint = None
    if checkpoint_to is not None:
        key = state_key(STUDY, seed, dict(model_cfg), dict(training_cfg), dict(data))
        checkpoint = Checkpoint(checkpoint_to, checkpoint_every, run.state, run.restore, key=key)
    lr0, lr1 = float(training_cfg["learning_rate"]), float(training_cfg["final_learning_rate"])
    train_loop(
        run.optimizer,
        run.loss,
        run.n_steps,
        RunId(STUDY, "trained", seed),
        eval_every=run.batches.steps_per_epoch,
        evaluate=run.evaluate,
        lr_at=lambda step: learning_rate("linear", lr0, step, run.n_steps, final_lr=lr1),
        checkpoint=checkpoint,
    )
    return run.rows.columns, {f"w{i + 1}": w.detach().cpu() for i, w in enumerate(run.weights)}


# ------------------------------------------------------------------------------------------ variants


def build_variants(
    trained, cfg: Mapping[str, Any], seed: int, x_eval, device: str, evaluations: tuple[str, ...] | None = None
) -> dict[Variant, Any]:
    """Every network of one seed (trained + manipulations), as weight tuples on ``device``; only those
    entering one of ``evaluations`` when given. Each manipulation's draws depend only on (seed, variant).

    ``x_eval`` (n, 784) are the evaluation images whose null space the null-space perturbation uses.
    """
    import torch

    from featurelab.seeding import torch_generator
    from featurelab.studies.dissociation import model as md

    out = {}
    basis = None
    for v in variants(cfg):
        if evaluations is not None and not set(v.evaluations) & set(evaluations):
            continue
        if v.kind == "trained":
            out[v] = trained
        elif v.kind == "scale":
            out[v] = md.scale_neurons(trained, v.param)
        elif v.kind == "duplicate":
            out[v] = md.duplicate_neurons(trained, v.param)
        elif v.kind == "nuisance":
            gen = torch_generator(STUDY, v.condition, seed, "nuisance")
            h1 = torch.relu(torch.as_tensor(np.asarray(x_eval), device=device) @ trained[0].T)
            out[v] = md.add_nuisance_neurons(
                trained, int(v.param), gen, float(cfg["manipulations"]["nuisance_incoming_std"]), active_on=h1
            )
        elif v.kind == "null_space":
            if basis is None:
                basis = torch.as_tensor(md.null_basis(np.asarray(x_eval)))
            out[v] = md.null_space_perturb(
                trained, basis, v.param, torch_generator(STUDY, v.condition, seed, "null_space")
            )
    return out


def non_vacuity(variant: Variant, trained, manipulated, x) -> dict[str, float]:
    """What shows that a manipulation did something, for the claims' preconditions: the fraction of the
    images ``x`` on which the nuisance neurons are active (dead ones on every input would make the
    manipulation vacuous; see :func:`featurelab.studies.dissociation.model.add_nuisance_neurons`), and how far the
    null-space perturbation moved ``W1`` (0 when the images have no null space)."""
    import torch

    from featurelab.studies.dissociation.model import hidden

    if variant.kind == "nuisance":
        extra = hidden(manipulated, x)[:, trained[1].shape[0] :]
        return {"nuisance_active_fraction": float((extra > 0).any(dim=1).float().mean())}
    if variant.kind == "null_space":
        return {"max_abs_dw1": float(torch.abs(manipulated[0] - trained[0]).max())}
    return {}


def load_weights(state: Mapping[str, Any], device: str):
    return tuple(state[f"w{i}"].to(device) for i in (1, 2, 3))


def evaluate_run(
    seed: int, state: Mapping[str, Any], data: Mapping[str, np.ndarray], cfg: Mapping[str, Any], device: str
) -> dict[str, list]:
    """Exactness of every manipulation on the test images ``data["x_test"]`` (n, 784), and every network's
    test error (against ``data["y_test"]`` (n,)) under input noise and under parameter noise (batched
    over networks and noise levels); ``state``: the trained ``w1``, ``w2``, ``w3``."""
    import torch

    from featurelab.seeding import torch_generator
    from featurelab.studies.dissociation import evaluate as ad

    x = torch.as_tensor(data["x_test"], device=device)
    y = torch.as_tensor(data["y_test"], device=device)
    trained = load_weights(state, device)
    nets = build_variants(trained, cfg, seed, data["x_test"], device)
    rows = MetricRows(RESULT_COLUMNS, study=STUDY, seed=seed)
    for v, w in nets.items():
        for metric, value in ad.exactness(trained, w, x).items():
            _add_rows(rows, v, "exactness", "none", 0.0, metric, value)
        _add_rows(
            rows, v, "exactness", "none", 0.0, "clean_error", float((ad.forward(w, x).argmax(-1) != y).float().mean())
        )
        for metric, value in non_vacuity(v, trained, w, x).items():
            _add_rows(rows, v, "exactness", "none", 0.0, metric, value)

    ev = cfg["evaluation"]
    sig_in = log_grid(ev["input_noise"])
    noise = torch.randn(x.shape, generator=torch_generator(STUDY, "input_noise", seed)).to(device)
    chosen = {v.condition: nets[v] for v in nets if "input_noise" in v.evaluations}
    sweep = ad.input_noise_sweep(
        chosen, x, y, torch.as_tensor(sig_in, dtype=torch.float32, device=device), noise, reference="trained"
    )
    for v in nets:
        for metric, values in sweep.get(v.condition, {}).items():
            _add_rows(rows, v, "input_noise", "noise_scale", sig_in, metric, values.cpu().numpy())

    sig_p = log_grid(ev["parameter_noise"])
    chosen = {v.condition: nets[v] for v in nets if "parameter_noise" in v.evaluations}
    h1 = trained[0].shape[0]
    h2_max = max(w[1].shape[0] for w in chosen.values())
    gen = torch_generator(STUDY, "parameter_noise", seed)
    draws = (
        torch.randn(trained[0].shape, generator=gen).to(device),
        torch.randn(h2_max, h1, generator=gen).to(device),
        torch.randn(trained[2].shape[0], h2_max, generator=gen).to(device),
    )
    errors = ad.parameter_noise_errors(chosen, x, y, torch.as_tensor(sig_p, dtype=torch.float32, device=device), draws)
    for v in nets:
        if v.condition in errors:
            _add_rows(rows, v, "parameter_noise", "noise_scale", sig_p, "test_error", errors[v.condition].cpu().numpy())
    return rows.columns


def transfer_budgets(n_rotated: int, fractions) -> list[int]:
    return [int(f * n_rotated) for f in fractions]


def transfer_run(
    seed: int, state: Mapping[str, Any], data: Mapping[str, np.ndarray], cfg: Mapping[str, Any], device: str
) -> dict[str, list]:
    """Cross-validated rotation-probe error on the second hidden layer (H2 activations per image) of the
    test images ``data["x_test"]`` (n, 784), rotated and shuffled (``rotated_dataset``), for each sample
    budget, by the probe ``transfer.probe`` names
    (:func:`featurelab.studies.dissociation.evaluate.probe_settings`); ``state``: the trained weights."""
    import torch

    from featurelab.seeding import numpy_rng
    from featurelab.studies.dissociation import evaluate as ad

    tcfg = cfg["transfer"]
    images, labels = ad.rotated_dataset(data["x_test"], numpy_rng(STUDY, "rotation", seed))
    budgets = transfer_budgets(len(images), tcfg["sample_fractions"])
    if min(budgets) < 2 * int(tcfg["folds"]):
        raise ValueError(
            f"config key 'dissociation.transfer.sample_fractions': the smallest budget has "
            f"{min(budgets)} images, fewer than 2 x folds ({tcfg['folds']}); raise it or mnist.n_test"
        )
    trained = load_weights(state, device)
    nets = build_variants(trained, cfg, seed, data["x_test"], device, evaluations=("transfer",))
    chosen = {v.condition: nets[v] for v in nets if "transfer" in v.evaluations}
    errs = ad.transfer_errors(
        chosen,
        torch.as_tensor(images, device=device),
        torch.as_tensor(labels, device=device),
        budgets,
        int(tcfg["folds"]),
        ad.probe_settings(tcfg),
    )
    rows = MetricRows(RESULT_COLUMNS, study=STUDY, seed=seed)
    for v in nets:
        if v.condition in errs:
            _add_rows(rows, v, "transfer", "sample_budget", budgets, "transfer_error", errs[v.condition])
    return rows.columns


def transfer_record(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """What the transfer table's provenance adds to its config: the probe that made it (name + settings)."""
    from featurelab.studies.dissociation.evaluate import probe_settings

    return {"transfer_probe": probe_settings(cfg["transfer"])}


def run_seed_job(
    smk: Any,
    job: Callable[..., dict[str, list]],
    sections: tuple[str, ...],
    what: str,
    record: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None,
) -> None:
    """Body of the per-seed jobs that read a trained network and write one table (evaluate, transfer):
    load the state on the CPU, run ``job(seed, state, mnist, cfg, device)`` with the config ``sections``
    the rule passes as params, and write the columns with their provenance (plus ``record(cfg)``)."""
    import torch

    from featurelab.io import load_arrays, table_from_columns, write_table
    from featurelab.scripting import TorchJob

    torch_job = TorchJob(smk)
    seed = int(smk.wildcards.seed)
    state = torch.load(smk.input.model, map_location="cpu", weights_only=True)["state_dict"]
    cfg = {name: dict(getattr(smk.params, name)) for name in sections}
    columns = job(seed, state, load_arrays(smk.input.mnist), cfg, torch_job.device)
    extra = record(cfg) if record is not None else {}
    write_table(table_from_columns(columns), smk.output[0], torch_job.provenance({**cfg, **extra, "seed": seed}))
    torch_job.done(f"{what} of seed {seed}")


def train_job(smk: Any) -> None:
    """Train one seed's MLP on MNIST and record per-epoch metrics.

    The job of rule ``dissociation_train``.
    """
    from featurelab.io import load_arrays, save_torch, table_from_columns, write_table
    from featurelab.scripting import TorchJob
    from featurelab.training import checkpoint_every, checkpoint_path

    job = TorchJob(smk)
    seed = int(smk.wildcards.seed)
    columns, state = train_run(
        seed,
        load_arrays(smk.input.mnist),
        smk.params.model,
        smk.params.training,
        job.device,
        checkpoint_to=checkpoint_path(smk.output.metrics),
        checkpoint_every=checkpoint_every(smk.config),
    )
    record = job.provenance({"model": dict(smk.params.model), "training": dict(smk.params.training), "seed": seed})
    save_torch({"state_dict": state, "provenance": record}, smk.output.model)
    write_table(table_from_columns(columns), smk.output.metrics, record)
    job.done(f"trained seed {seed}")


def evaluate_job(smk: Any) -> None:
    """Manipulate one seed's network; exactness, input- and parameter-noise curves.

    The job of rule ``dissociation_evaluate``.
    """

    run_seed_job(smk, evaluate_run, ("manipulations", "evaluation"), "evaluation")


def transfer_job(smk: Any) -> None:
    """Rotation-probe transfer error of one seed's networks against sample budget.

    The job of rule ``dissociation_transfer``.
    """

    run_seed_job(smk, transfer_run, ("manipulations", "transfer"), "transfer", record=transfer_record)
