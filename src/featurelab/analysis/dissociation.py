"""Evaluations of the dissociation study, batched over networks and noise levels.

- :func:`input_noise_errors` - test error of several networks on ``x + sigma * E`` for many sigma, one
  noise draw ``E`` shared by every sigma and network (as the notebook: one key for all scales).
  Linearity of the first layer gives ``(x + sigma E) W1^T = x W1^T + sigma E W1^T``: two matmuls per
  distinct ``W1`` serve every sigma, and networks that share ``W1`` (all but the null-space-perturbed one)
  share them too. The rest is one batched matmul per network over a chunk of sigmas.
- :func:`parameter_noise_errors` - test error of ``W + sigma * Z`` for every weight matrix, one draw ``Z``
  per layer shared by every sigma and every network (networks with more hidden neurons use a larger
  draw whose leading block is the smaller networks' draw).
- :func:`transfer_errors` - a 10-fold cross-validated softmax probe on the second hidden layer that
  predicts the rotation (0/90/180/270 degrees) of test images, for several sample budgets; the folds
  are trained at once as one batched probe.
- ``*_reference`` - plain per-network, per-sigma loops with the same draws, for tests and the benchmark.

Torch only at import (no pandas): these run inside per-seed jobs.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch

from featurelab.models.dissociation import Weights, forward, hidden

#: Bytes of working memory a chunk of noise levels may take, by device type. On a CPU the sweep is bound
#: by the second layer's matrix products, and small chunks that stay in cache are fastest (measured: 8-16
#: MB chunks 1.3x faster than 256 MB ones); a GPU wants large batches to fill the device.
CHUNK_BYTES = {"cpu": 16 * 2**20, "cuda": 1024 * 2**20}


def _chunks(n_levels: int, per_level_floats: int, device: torch.device | str = "cpu") -> list[slice]:
    budget = CHUNK_BYTES.get(torch.device(device).type, CHUNK_BYTES["cpu"])
    size = max(1, min(n_levels, budget // max(1, 4 * per_level_floats)))
    return [slice(i, min(n_levels, i + size)) for i in range(0, n_levels, size)]


@torch.no_grad()
def input_noise_errors(models: Mapping[str, Weights], x: torch.Tensor, y: torch.Tensor, sigmas: torch.Tensor,
                       noise: torch.Tensor) -> dict[str, torch.Tensor]:
    """{name: test error per sigma} on ``x + sigma * noise`` (noise: one (n, d) draw for every sigma)."""
    out: dict[str, torch.Tensor] = {}
    first_layer: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    for name, (w1, w2, w3) in models.items():
        key = id(w1)
        if key not in first_layer:
            first_layer[key] = (x @ w1.T, noise @ w1.T)
        clean, noisy = first_layer[key]
        errors = []
        for sl in _chunks(len(sigmas), x.shape[0] * (w1.shape[0] + w2.shape[0]), x.device):
            s = sigmas[sl].view(-1, 1, 1)
            h1 = torch.relu_(clean + s * noisy)                      # (S, n, H1)
            logits = torch.relu(h1 @ w2.T) @ w3.T                    # (S, n, classes)
            errors.append((logits.argmax(-1) != y).float().mean(-1))
        out[name] = torch.cat(errors)
    return out


@torch.no_grad()
def parameter_noise_errors(models: Mapping[str, Weights], x: torch.Tensor, y: torch.Tensor, sigmas: torch.Tensor,
                           draws: Weights) -> dict[str, torch.Tensor]:
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
            h1 = torch.relu_(a + s * clean_x_z1)                     # (S, n, H1)
            hidden2 = torch.relu_(h1 @ (w2t + s * z2t))              # (S, n, H2)
            logits = hidden2 @ (w3t + s * z3t)                       # (S, n, classes)
            errors.append((logits.argmax(-1) != y).float().mean(-1))
        out[name] = torch.cat(errors)
    return out


@torch.no_grad()
def input_noise_errors_reference(models: Mapping[str, Weights], x, y, sigmas, noise) -> dict[str, torch.Tensor]:
    """The same numbers as :func:`input_noise_errors`, one forward pass per network and sigma."""
    return {name: torch.stack([(forward(w, x + float(s) * noise).argmax(-1) != y).float().mean() for s in sigmas])
            for name, w in models.items()}


@torch.no_grad()
def parameter_noise_errors_reference(models: Mapping[str, Weights], x, y, sigmas, draws) -> dict[str, torch.Tensor]:
    z1, z2, z3 = draws
    out = {}
    for name, (w1, w2, w3) in models.items():
        h2 = w2.shape[0]
        errs = []
        for s in sigmas:
            s = float(s)
            noisy = (w1 + s * z1, w2 + s * z2[:h2], w3 + s * z3[:, :h2])
            errs.append((forward(noisy, x).argmax(-1) != y).float().mean())
        out[name] = torch.stack(errs)
    return out


@torch.no_grad()
def exactness(reference: Weights, manipulated: Weights, x: torch.Tensor) -> dict[str, float]:
    """How exactly a manipulation preserves the function on ``x``: max |delta logit|, the max |logit| it
    is relative to, and the fraction of identical argmax predictions."""
    a, b = forward(reference, x), forward(manipulated, x)
    max_abs = float((a - b).abs().max())
    scale = float(a.abs().max())
    return {"max_abs_dlogit": max_abs, "max_abs_logit": scale, "rel_dlogit": max_abs / max(scale, 1e-30),
            "argmax_agreement": float((a.argmax(-1) == b.argmax(-1)).float().mean())}


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


def fold_ids(n: int, n_folds: int) -> np.ndarray:
    """Contiguous folds of sizes differing by at most one (the data are already shuffled)."""
    return np.repeat(np.arange(n_folds), np.diff(np.linspace(0, n, n_folds + 1).round().astype(int)))


def crossval_probe_error(features: torch.Tensor, labels: torch.Tensor, n_folds: int, steps: int, l2: float,
                         n_classes: int = 4) -> float:
    """Cross-validated error of a softmax-regression probe (weights + bias) on ``features``.

    All folds train at once: one weight tensor (folds, features + 1, classes) and a mask of each fold's
    training rows. Full-batch gradient descent from zero for ``steps`` steps with step size 1/L, where L
    bounds the curvature of the mean cross-entropy (0.5 x largest eigenvalue of X^T X / n_train, plus l2).
    Every held-out example is predicted by the probe that did not see it; the error is over all of them.
    :func:`crossval_probe_error_reference` is the same probe in the primal form, one fold at a time.
    """
    n = features.shape[0]
    x = torch.cat([features, torch.ones(n, 1, dtype=features.dtype, device=features.device)], dim=1)
    folds = torch.as_tensor(fold_ids(n, n_folds), device=x.device)
    train_mask = (folds[None, :] != torch.arange(n_folds, device=x.device)[:, None]).to(x.dtype)  # (F, n)
    n_train = train_mask.sum(1).view(-1, 1, 1)
    onehot = torch.nn.functional.one_hot(labels, n_classes).to(x.dtype)
    mask = train_mask.T.repeat_interleave(n_classes, dim=1)                          # (n, F * C)
    target = onehot.repeat(1, n_folds)                                               # (n, F * C)
    scale = (1.0 / n_train.view(-1)).repeat_interleave(n_classes)                    # (F * C,)
    d = x.shape[1]
    if n <= d:
        # Gradient descent from zero keeps every fold's weights in the span of the rows of x: W = x^T A,
        # so logits = K A with the Gram matrix K = x x^T, and W <- W - lr (x^T R s + l2 W) becomes
        # A <- A (1 - lr l2) - lr R s: the same iterates at n x n instead of 2 n x d per step. The folds'
        # coefficients sit side by side, (n, F * C): one GEMM with F * C columns per step.
        gram = x @ x.T
        top = float(torch.linalg.eigvalsh(gram.double())[-1])  # >= the top eigenvalue of any subset's Gram
        lr = 1.0 / (0.5 * top / float(n_train.min()) + l2)
        a = torch.zeros(n, n_folds * n_classes, dtype=x.dtype, device=x.device)
        for _ in range(steps):
            p = torch.softmax((gram @ a).view(n, n_folds, n_classes), dim=-1).view(n, -1)
            a = a * (1.0 - lr * l2) - lr * ((p - target) * mask) * scale
        w = x.T @ a
    else:  # more samples than features: the primal form is the cheaper one
        top = float(torch.linalg.eigvalsh((x.T @ x).double())[-1])
        lr = 1.0 / (0.5 * top / float(n_train.min()) + l2)
        w = torch.zeros(d, n_folds * n_classes, dtype=x.dtype, device=x.device)
        for _ in range(steps):
            p = torch.softmax((x @ w).view(n, n_folds, n_classes), dim=-1).view(n, -1)
            w = w * (1.0 - lr * l2) - lr * (x.T @ ((p - target) * mask)) * scale
    logits = (x @ w).view(n, n_folds, n_classes)
    held_out = logits[torch.arange(n, device=x.device), folds]                      # each row's own fold
    return float((held_out.argmax(-1) != labels).float().mean())


@torch.no_grad()
def transfer_errors(models: Mapping[str, Weights], images: torch.Tensor, labels: torch.Tensor,
                    budgets: Sequence[int], n_folds: int, steps: int, l2: float) -> dict[str, list[float]]:
    """{name: cross-validated rotation error for each sample budget (the first ``b`` rotated images)}."""
    out = {}
    for name, w in models.items():
        feats = hidden(w, images)
        out[name] = [crossval_probe_error(feats[:b], labels[:b], n_folds, steps, l2) for b in budgets]
    return out


def crossval_probe_error_reference(features: torch.Tensor, labels: torch.Tensor, n_folds: int, steps: int, l2: float,
                                   n_classes: int = 4) -> float:
    """:func:`crossval_probe_error` written plainly: per fold, gradient descent on the weights (primal)."""
    n = features.shape[0]
    x = torch.cat([features, torch.ones(n, 1, dtype=features.dtype, device=features.device)], dim=1)
    folds = torch.as_tensor(fold_ids(n, n_folds), device=x.device)
    onehot = torch.nn.functional.one_hot(labels, n_classes).to(x.dtype)
    top = torch.linalg.matrix_norm(x.double(), ord=2).item() ** 2
    n_train_min = min(int((folds != f).sum()) for f in range(n_folds))
    lr = 1.0 / (0.5 * top / n_train_min + l2)
    predictions = torch.empty(n, dtype=torch.long, device=x.device)
    for f in range(n_folds):
        tr, te = folds != f, folds == f
        w = torch.zeros(x.shape[1], n_classes, dtype=x.dtype, device=x.device)
        for _ in range(steps):
            p = torch.softmax(x[tr] @ w, dim=-1)
            w = w - lr * (x[tr].T @ (p - onehot[tr]) / int(tr.sum()) + l2 * w)
        predictions[te] = (x[te] @ w).argmax(-1)
    return float((predictions != labels).float().mean())
