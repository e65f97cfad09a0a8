"""Evaluations of the dissociation study, batched over networks and noise levels.

- :func:`input_noise_sweep` - test error of several networks on ``x + sigma * E`` for many sigma, one
  noise draw ``E`` shared by every sigma and network (as the notebook: one key for all scales), and how
  far each network's logits are from a reference network's on the same noisy inputs (:func:`agreement`).
  Linearity of the first layer gives ``(x + sigma E) W1^T = x W1^T + sigma E W1^T``: two matmuls per
  distinct ``W1`` serve every sigma, and networks that share ``W1`` (all but the null-space-perturbed one)
  share them too. The rest is one batched matmul per network over a chunk of sigmas.
- :func:`parameter_noise_errors` - test error of ``W + sigma * Z`` for every weight matrix, one draw ``Z``
  per layer shared by every sigma and every network (networks with more hidden neurons use a larger
  draw whose leading block is the smaller networks' draw).
- :func:`transfer_errors` - a 10-fold cross-validated softmax probe on the second hidden layer that
  predicts the rotation (0/90/180/270 degrees) of test images, for several sample budgets; the folds
  are trained at once as one batched probe. Two probes (:data:`PROBES`): ``repo``, the paper's code
  (fixed learning rate, so it sees the activations' scale), and ``lipschitz`` (step 1/L, scale-invariant).
Plain per-network, per-sigma (per-fold) loops with the same draws, which check these batched forms, are
in ``tests/studies/dissociation/reference.py`` (the tests and the benchmark use them).

Why :func:`agreement` and not equal error curves: a function-preserving manipulation changes the order of
float32 operations, so a test image whose two top logits are within rounding of each other can flip its
prediction (one image at sigma = 1.19 did on one machine). Comparing logits relative to their size, and
measuring the margin of any prediction that does flip, gives a verdict that the last bits cannot change.

Shapes: n = images, d = 784 pixels, H1 and H2 = hidden widths, classes = 10 logits (as in
:mod:`~featurelab.studies.dissociation.model`), S = noise levels (sigmas), F = probe folds, C = probe
classes.

Torch only at import (no pandas): these run inside per-seed jobs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from featurelab.studies.dissociation.model import Weights, forward, hidden

#: Bytes of working memory a chunk of noise levels may take, by device type. On a CPU the sweep is bound
#: by the second layer's matrix products, and small chunks that stay in cache are fastest (8-16 MB
#: chunks beat 256 MB ones); a GPU wants large batches to fill the device.
CHUNK_BYTES = {"cpu": 16 * 2**20, "cuda": 1024 * 2**20}


def _chunks(n_levels: int, per_level_floats: int, device: torch.device | str = "cpu") -> list[slice]:
    budget = CHUNK_BYTES.get(torch.device(device).type, CHUNK_BYTES["cpu"])
    size = max(1, min(n_levels, budget // max(1, 4 * per_level_floats)))
    return [slice(i, min(n_levels, i + size)) for i in range(0, n_levels, size)]


def agreement(reference: torch.Tensor, other: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """How far ``other`` logits (..., n, classes) are from ``reference`` logits, per leading index:
    ``rel_dlogit`` = max |delta logit| / max |reference logit| over the n images, and ``flip_margin`` = the
    largest reference margin (its top logit minus its logit of ``other``'s top class), relative to the
    same max |logit|, among the images whose predicted class differs (0 when none does). Both have the
    leading shape (...), e.g. (S,) for a chunk of sigmas.

    A prediction can only change where that margin is at most twice the largest logit change, so a
    near-zero ``flip_margin`` says every flip is a near-tie decided by rounding, not by the network."""
    scale = reference.abs().amax(dim=(-2, -1)).clamp_min(1e-30)
    rel = (other - reference).abs().amax(dim=(-2, -1)) / scale
    a, b = reference.argmax(-1), other.argmax(-1)
    margin = reference.gather(-1, a.unsqueeze(-1)) - reference.gather(-1, b.unsqueeze(-1))
    margin = torch.where(a != b, margin.squeeze(-1), torch.zeros_like(margin.squeeze(-1))).amax(-1)
    return rel, margin / scale


@torch.no_grad()
def input_noise_sweep(
    models: Mapping[str, Weights],
    x: torch.Tensor,
    y: torch.Tensor,
    sigmas: torch.Tensor,
    noise: torch.Tensor,
    reference: str | None = None,
) -> dict[str, dict[str, torch.Tensor]]:
    """{name: {metric: value per sigma}} on ``x + sigma * noise`` (noise: one (n, d) draw for every sigma).

    Metrics: ``test_error``; with ``reference`` (a key of ``models``), also ``rel_dlogit`` and
    ``flip_margin`` of each network's logits against the reference network's on the same noisy inputs
    (:func:`agreement`; 0 for the reference itself)."""
    out: dict[str, dict[str, torch.Tensor]] = {}
    first_layer: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    ref_chunks: list[torch.Tensor] = []
    ref_all: torch.Tensor | None = None
    order = list(models) if reference is None else [reference, *(k for k in models if k != reference)]
    for name in order:
        w1, w2, w3 = models[name]
        key = id(w1)
        if key not in first_layer:
            first_layer[key] = (x @ w1.T, noise @ w1.T)
        clean, noisy = first_layer[key]
        metrics: dict[str, list[torch.Tensor]] = {"test_error": [], "rel_dlogit": [], "flip_margin": []}
        for sl in _chunks(len(sigmas), x.shape[0] * (w1.shape[0] + w2.shape[0]), x.device):
            s = sigmas[sl].view(-1, 1, 1)
            h1 = torch.relu_(clean + s * noisy)  # (S, n, H1)
            logits = torch.relu(h1 @ w2.T) @ w3.T  # (S, n, classes)
            metrics["test_error"].append((logits.argmax(-1) != y).float().mean(-1))
            if reference is None:
                continue
            if name == reference:
                ref_chunks.append(logits)
            # the reference's logits of the same sigmas (other networks may chunk the sigmas differently)
            rel, margin = agreement(logits if ref_all is None else ref_all[sl], logits)
            metrics["rel_dlogit"].append(rel)
            metrics["flip_margin"].append(margin)
        if name == reference:
            ref_all = torch.cat(ref_chunks)
        out[name] = {k: torch.cat(v) for k, v in metrics.items() if v}
    return {name: out[name] for name in models}


def input_noise_errors(
    models: Mapping[str, Weights], x: torch.Tensor, y: torch.Tensor, sigmas: torch.Tensor, noise: torch.Tensor
) -> dict[str, torch.Tensor]:
    """{name: test error per sigma, (S,)} on ``x + sigma * noise`` with ``x``, ``noise`` (n, d), ``y``
    (n,) and ``sigmas`` (S,) (:func:`input_noise_sweep`'s error only)."""
    return {name: m["test_error"] for name, m in input_noise_sweep(models, x, y, sigmas, noise).items()}


@torch.no_grad()
def parameter_noise_errors(
    models: Mapping[str, Weights], x: torch.Tensor, y: torch.Tensor, sigmas: torch.Tensor, draws: Weights
) -> dict[str, torch.Tensor]:
    """{name: test error per sigma} of the networks ``W_l + sigma * Z_l``; ``draws`` = (Z1, Z2, Z3) with
    Z2 (H2max, H1) and Z3 (classes, H2max) at least as large as any network's layer; a network with H2
    hidden neurons uses ``Z2[:H2]`` and ``Z3[:, :H2]``."""
    z1, z2_all, z3_all = draws
    clean_x_z1 = x @ z1.T
    # transposed once, so that each chunk's noisy weights are built directly in (in, out) layout and the
    # batched products need no strided copies
    z2t_all, z3t_all = z2_all.T.contiguous(), z3_all.T.contiguous()
    first_layer: dict[int, torch.Tensor] = {}
    out = {}
    for name, (w1, w2, w3) in models.items():
        h2 = w2.shape[0]
        z2t, z3t = z2t_all[:, :h2], z3t_all[:h2]
        if id(w1) not in first_layer:
            first_layer[id(w1)] = x @ w1.T
        a = first_layer[id(w1)]
        w2t, w3t = w2.T.contiguous(), w3.T.contiguous()
        errors = []
        for sl in _chunks(len(sigmas), x.shape[0] * (w1.shape[0] + h2) + w2.numel(), x.device):
            s = sigmas[sl].view(-1, 1, 1)
            h1 = torch.relu_(a + s * clean_x_z1)  # (S, n, H1)
            hidden2 = torch.relu_(h1 @ (w2t + s * z2t))  # (S, n, H2)
            logits = hidden2 @ (w3t + s * z3t)  # (S, n, classes)
            errors.append((logits.argmax(-1) != y).float().mean(-1))
        out[name] = torch.cat(errors)
    return out


@torch.no_grad()
def exactness(reference: Weights, manipulated: Weights, x: torch.Tensor) -> dict[str, float]:
    """How exactly a manipulation preserves the function on ``x`` (n, d): max |delta logit|, the max
    |logit| it is relative to, their ratio, the fraction of identical argmax predictions, and the
    relative margin of the worst prediction that differs (:func:`agreement`)."""
    a, b = forward(reference, x), forward(manipulated, x)
    max_abs = float((a - b).abs().max())
    scale = float(a.abs().max())
    _, margin = agreement(a, b)
    return {
        "max_abs_dlogit": max_abs,
        "max_abs_logit": scale,
        "rel_dlogit": max_abs / max(scale, 1e-30),
        "argmax_agreement": float((a.argmax(-1) == b.argmax(-1)).float().mean()),
        "flip_margin": float(margin),
    }


# ----------------------------------------------------------------------------------------- transfer


def rotated_dataset(images: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Quarters of ``images`` (n, 784) rotated by 0/90/180/270 degrees, labels 0-3, shuffled together.

    As the notebook: the first quarter is kept, the second rotated once, ... (``n`` truncated to a
    multiple of 4), then one permutation of the whole set.
    """
    n = len(images) - len(images) % 4
    quarter = n // 4
    sq = images[:n].reshape(4, quarter, 28, 28)
    rotated = np.concatenate([np.rot90(sq[k], k=k, axes=(1, 2)) for k in range(4)]).reshape(n, -1)
    labels = np.repeat(np.arange(4, dtype=np.int64), quarter)
    perm = rng.permutation(n)
    return np.ascontiguousarray(rotated[perm]), labels[perm]


#: The probes :func:`probe_error` knows (``transfer.probe`` in the config).
PROBES = ("repo", "lipschitz")
#: Added to the probabilities inside the log of the repo probe's loss, as the paper's code does: it also
#: scales each example's gradient by p_y / (p_y + 1e-10), so an example whose true class has underflowed to
#: p_y ~ 0 (large activations, large steps) stops contributing.
REPO_LOG_EPS = 1e-10


def fold_ids(n: int, n_folds: int) -> np.ndarray:
    """Fold id (n,) of every row, 0 .. n_folds - 1: contiguous folds of sizes differing by at most one (the
    data are already shuffled); the lipschitz probe's split."""
    return np.repeat(np.arange(n_folds), np.diff(np.linspace(0, n, n_folds + 1).round().astype(int)))


def repo_fold_ids(n: int, n_folds: int) -> np.ndarray:
    """Fold id (n,) int64 of every row by the paper's code's split (``crossval.kfold_op``):
    ``size = n // n_folds`` and fold f holds out rows ``[f * size, (f + 1) * size)``, trained on all the
    others; the ``n - n_folds * size`` rows at the end are in every training set and never held out
    (id -1). Same as :func:`fold_ids` when n_folds divides n."""
    size = n // n_folds
    ids = np.full(n, -1, dtype=np.int64)
    ids[: size * n_folds] = np.repeat(np.arange(n_folds), size)
    return ids


def _probe(
    features: torch.Tensor,
    labels: torch.Tensor,
    fold: np.ndarray,
    n_folds: int,
    steps: int,
    l2: float,
    learning_rate: float | None,
    log_eps: float | None,
    n_classes: int,
) -> float:
    """Cross-validated error of softmax regression (weights + bias) trained by full-batch gradient descent
    from zero on each fold's training rows, all folds at once.

    ``learning_rate`` None: step 1/L, where L bounds the curvature of the mean cross-entropy (0.5 x largest
    eigenvalue of X^T X / n_train, plus l2). ``log_eps``: the loss is -mean log(p_y + log_eps) instead of
    -mean log p_y (the gradient of each example is scaled by p_y / (p_y + log_eps)). Rows with ``fold``
    -1 train every fold and are never held out; the error is over the held-out rows, each predicted by
    the probe that did not see it.
    """
    n = features.shape[0]
    x = torch.cat([features, torch.ones(n, 1, dtype=features.dtype, device=features.device)], dim=1)
    folds = torch.as_tensor(fold, device=x.device)
    train_mask = (folds[None, :] != torch.arange(n_folds, device=x.device)[:, None]).to(x.dtype)  # (F, n)
    n_train = train_mask.sum(1).view(-1, 1, 1)
    onehot = torch.nn.functional.one_hot(labels, n_classes).to(x.dtype)
    mask = train_mask.T.repeat_interleave(n_classes, dim=1)  # (n, F * C)
    scale = (1.0 / n_train.view(-1)).repeat_interleave(n_classes)  # (F * C,)
    d = x.shape[1]

    def residual(logits: torch.Tensor) -> torch.Tensor:
        """d loss / d logits of every row and fold (before the mask and the 1/n_train), (n, F * C)."""
        p = torch.softmax(logits.view(n, n_folds, n_classes), dim=-1)
        r = p - onehot[:, None, :]
        if log_eps is not None:
            p_true = (p * onehot[:, None, :]).sum(-1, keepdim=True)
            r = r * (p_true / (p_true + log_eps))
        return r.reshape(n, -1)

    def step_size(top: float) -> float:
        return float(learning_rate) if learning_rate is not None else 1.0 / (0.5 * top / float(n_train.min()) + l2)

    if n <= d:
        # Gradient descent from zero keeps every fold's weights in the span of the rows of x: W = x^T A,
        # so logits = K A with the Gram matrix K = x x^T, and W <- W - lr (x^T R s + l2 W) becomes
        # A <- A (1 - lr l2) - lr R s: the same iterates at n x n instead of 2 n x d per step. The folds'
        # coefficients sit side by side, (n, F * C): one GEMM with F * C columns per step.
        gram = x @ x.T
        lr = step_size(float(torch.linalg.eigvalsh(gram.double())[-1]) if learning_rate is None else 0.0)
        a = torch.zeros(n, n_folds * n_classes, dtype=x.dtype, device=x.device)
        for _ in range(steps):
            a = a * (1.0 - lr * l2) - lr * (residual(gram @ a) * mask) * scale
        w = x.T @ a
    else:  # more samples than features: the primal form is the cheaper one
        lr = step_size(float(torch.linalg.eigvalsh((x.T @ x).double())[-1]) if learning_rate is None else 0.0)
        w = torch.zeros(d, n_folds * n_classes, dtype=x.dtype, device=x.device)
        for _ in range(steps):
            w = w * (1.0 - lr * l2) - lr * (x.T @ (residual(x @ w) * mask)) * scale
    logits = (x @ w).view(n, n_folds, n_classes)
    tested = folds >= 0
    rows = torch.arange(n, device=x.device)[tested]
    held_out = logits[rows, folds[tested]]  # each row's own fold
    return float((held_out.argmax(-1) != labels[tested]).float().mean())


def crossval_probe_error(
    features: torch.Tensor, labels: torch.Tensor, n_folds: int, steps: int, l2: float, n_classes: int = 4
) -> float:
    """The ``lipschitz`` probe of ``labels`` (n,) int64 in [0, n_classes) from ``features`` (n, H2):
    softmax regression (weights + bias), ``steps`` steps of size 1/L from zero, folds of :func:`fold_ids`.
    A step of 1/L makes the probe's iterates invariant to a common scale of the activations (L scales
    with it), so it cannot see a scaled network's larger activations.
    :func:`crossval_probe_error_reference` is the same probe in the primal form, one fold at a time."""
    return _probe(features, labels, fold_ids(features.shape[0], n_folds), n_folds, steps, l2, None, None, n_classes)


def repo_probe_error(
    features: torch.Tensor, labels: torch.Tensor, n_folds: int, steps: int, learning_rate: float, n_classes: int = 4
) -> float:
    """The ``repo`` probe of ``labels`` (n,) int64 in [0, n_classes) from ``features`` (n, H2), as the
    paper's code (``logistic.crossval_softmax_predict`` with ``solve_softmax``): softmax regression with
    weights and intercept from zero, ``steps`` full-batch gradient-descent steps of the fixed
    ``learning_rate`` (the code: 0.2 for 200) on the mean of -log(softmax + 1e-10), raw (unstandardised)
    activations, no l2, folds of :func:`repo_fold_ids`.
    A fixed step sees the activations' scale: x20 larger activations take x400 larger steps in logit space.
    :func:`repo_probe_error_reference` is the same probe by autograd, one fold at a time."""
    return _probe(
        features,
        labels,
        repo_fold_ids(features.shape[0], n_folds),
        n_folds,
        steps,
        0.0,
        learning_rate,
        REPO_LOG_EPS,
        n_classes,
    )


def probe_error(features: torch.Tensor, labels: torch.Tensor, n_folds: int, probe: Mapping[str, Any]) -> float:
    """Cross-validated error of predicting ``labels`` (n,) from ``features`` (n, H2) by the probe named by
    ``probe["name"]`` (one of :data:`PROBES`) with its settings (:func:`probe_settings`)."""
    if probe["name"] == "repo":
        return repo_probe_error(features, labels, n_folds, int(probe["steps"]), float(probe["learning_rate"]))
    if probe["name"] == "lipschitz":
        return crossval_probe_error(features, labels, n_folds, int(probe["steps"]), float(probe["l2"]))
    raise ValueError(f"unknown transfer probe {probe['name']!r}; expected one of {PROBES}")


def probe_settings(transfer_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The probe a ``transfer`` config section selects, as one flat record (name + its own settings):
    what :func:`probe_error` takes and what the transfer table's provenance records."""
    name = transfer_cfg["probe"]
    if name not in PROBES:
        raise ValueError(f"config key 'dissociation.transfer.probe': {name!r} is not one of {PROBES}")
    return {"name": name, **dict(transfer_cfg[name]), "folds": int(transfer_cfg["folds"])}


@torch.no_grad()
def transfer_errors(
    models: Mapping[str, Weights],
    images: torch.Tensor,
    labels: torch.Tensor,
    budgets: Sequence[int],
    n_folds: int,
    probe: Mapping[str, Any],
) -> dict[str, list[float]]:
    """{name: cross-validated rotation error for each sample budget (the first ``b`` rotated images)}, from
    ``images`` (n, d) and rotation ``labels`` (n,) int64 in 0-3 (:func:`rotated_dataset`, already shuffled);
    each list has ``len(budgets)`` entries."""
    out = {}
    for name, w in models.items():
        feats = hidden(w, images)
        out[name] = [probe_error(feats[:b], labels[:b], n_folds, probe) for b in budgets]
    return out
