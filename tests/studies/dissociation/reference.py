"""Reference forms of the dissociation study's batched measurements: one network, one sigma, one fold at a
time, with the same draws. The tests check the batched forms in
:mod:`featurelab.studies.dissociation.evaluate` against these, and benchmarks/dissociation_benchmark.py
times the two side by side; the workflow never runs them."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from featurelab.studies.dissociation.evaluate import REPO_LOG_EPS, fold_ids, repo_fold_ids
from featurelab.studies.dissociation.model import Weights, forward


@torch.no_grad()
def input_noise_errors_reference(models: Mapping[str, Weights], x, y, sigmas, noise) -> dict[str, torch.Tensor]:
    """The same numbers as :func:`input_noise_errors`, one forward pass per network and sigma."""
    return {
        name: torch.stack([(forward(w, x + float(s) * noise).argmax(-1) != y).float().mean() for s in sigmas])
        for name, w in models.items()
    }


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


def crossval_probe_error_reference(
    features: torch.Tensor, labels: torch.Tensor, n_folds: int, steps: int, l2: float, n_classes: int = 4
) -> float:
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


def repo_probe_error_reference(
    features: torch.Tensor, labels: torch.Tensor, n_folds: int, steps: int, learning_rate: float, n_classes: int = 4
) -> float:
    """:func:`repo_probe_error` written as the paper's code: per fold, autograd of
    -mean(sum(y * log(softmax(x beta + b) + 1e-10))) and plain steps on beta and the intercept."""
    folds = repo_fold_ids(features.shape[0], n_folds)
    onehot = torch.nn.functional.one_hot(labels, n_classes).to(features.dtype)
    wrong, tested = 0, 0
    for f in range(n_folds):
        tr, te = torch.as_tensor(folds != f), torch.as_tensor(folds == f)
        beta = torch.zeros(features.shape[1], n_classes, dtype=features.dtype, requires_grad=True)
        intercept = torch.zeros(1, n_classes, dtype=features.dtype, requires_grad=True)
        for _ in range(steps):
            probs = torch.softmax(features[tr] @ beta + intercept, dim=1)
            loss = -torch.mean(torch.sum(onehot[tr] * torch.log(probs + REPO_LOG_EPS), dim=1))
            g_beta, g_intercept = torch.autograd.grad(loss, (beta, intercept))
            with torch.no_grad():
                beta -= learning_rate * g_beta
                intercept -= learning_rate * g_intercept
        with torch.no_grad():
            pred = (features[te] @ beta + intercept).argmax(-1)
        wrong += int((pred != labels[te]).sum())
        tested += int(te.sum())
    return wrong / tested
