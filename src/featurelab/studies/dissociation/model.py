"""The bias-free ReLU MLP of Braun, Grant & Saxe (ICML 2025) and its function-preserving manipulations.

A network is a tuple of weight matrices ``(W1, W2, W3)`` in the ``(out, in)`` convention of
``torch.nn.Linear``: ``logits = relu(relu(x W1^T) W2^T) W3^T`` (784 -> 1024 -> 1024 -> 10, no biases).
Keeping networks as plain tensors lets one evaluation batch many networks and noise levels at once.

Shapes: n = images, d = 784 pixels, H1 and H2 = the hidden widths (H2 grows when neurons are duplicated
or added), classes = 10; ``W1`` (H1, d), ``W2`` (H2, H1), ``W3`` (classes, H2).

Every manipulation below acts on the second hidden layer (rows of ``W2``, columns of ``W3``) or, for the
null-space one, on ``W1``, and leaves the network's function unchanged:

- :func:`scale_neurons` - incoming weights x c, outgoing / c (ReLU is positively homogeneous; Dinh et al. 2017).
- :func:`duplicate_neurons` - each neuron copied so that the layer has ``m`` times as many, outgoing
  weights divided by each neuron's multiplicity; fractional ``m`` copies the first ``frac(m) * H2``
  neurons once more (Simsek et al. 2021).
- :func:`add_nuisance_neurons` - extra "zero-type" neurons that all share one random incoming weight
  vector and have zero outgoing weights (Simsek et al. 2021).
- :func:`null_space_perturb` - noise added to ``W1`` inside the null space of a set of images: the
  first layer's pre-activations of those images are unchanged.
"""

from __future__ import annotations

import numpy as np
import torch

Weights = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def hidden(weights: Weights, x: torch.Tensor) -> torch.Tensor:
    """Second hidden layer's post-activations (the representation the transfer probe reads): ``x`` (n, d)
    -> (n, H2)."""
    w1, w2, _ = weights
    return torch.relu(torch.relu(x @ w1.T) @ w2.T)


def forward(weights: Weights, x: torch.Tensor) -> torch.Tensor:
    """Logits of the network: ``x`` (n, d) -> (n, classes)."""
    return hidden(weights, x) @ weights[2].T


def scale_neurons(weights: Weights, factor: float) -> Weights:
    w1, w2, w3 = weights
    if factor <= 0:
        raise ValueError(f"scale factor must be positive (ReLU is only positively homogeneous), got {factor}")
    return w1, w2 * factor, w3 / factor


def duplicate_indices(n_hidden: int, multiplier: float) -> tuple[np.ndarray, np.ndarray]:
    """(source neuron of every new neuron, multiplicity of every source neuron) for a duplication by
    ``multiplier`` >= 1: ``floor(m)`` copies of every neuron, one more of the first ``frac(m) * n_hidden``."""
    if multiplier < 1:
        raise ValueError(f"duplication multiplier must be >= 1, got {multiplier}")
    whole = int(np.floor(multiplier))
    extra = int(round((multiplier - whole) * n_hidden))
    index = np.concatenate([np.repeat(np.arange(n_hidden), whole), np.arange(extra)])
    multiplicity = np.bincount(index, minlength=n_hidden)
    return index, multiplicity


def duplicate_neurons(weights: Weights, multiplier: float) -> Weights:
    w1, w2, w3 = weights
    index, multiplicity = duplicate_indices(w2.shape[0], multiplier)
    idx = torch.as_tensor(index, device=w2.device)
    mult = torch.as_tensor(multiplicity, dtype=w3.dtype, device=w3.device)
    return w1, w2[idx], (w3 / mult)[:, idx]


def add_nuisance_neurons(
    weights: Weights,
    n_units: int,
    generator: torch.Generator,
    incoming_std: float = 1.0,
    active_on: torch.Tensor | None = None,
) -> Weights:
    """Append ``n_units`` neurons that share one random incoming weight vector (entries N(0, std^2), the
    notebook's unit normal) and have zero outgoing weights: ``W2`` (H2, H1) -> (H2 + n_units, H1) and
    ``W3`` (classes, H2) -> (classes, H2 + n_units); ``W1`` is returned as it is.

    First-layer activations are non-negative and alike across images, so ``h1 . z`` has the same sign for
    nearly every image: with the notebook's draw, about half of the seeds get nuisance neurons that are
    dead on every input - a vacuous manipulation that changes nothing observable. Given ``active_on``
    (first-layer activations (n, H1) of real inputs), the sign of ``z`` is chosen so that the neurons are
    active on average over those inputs (``z`` and ``-z`` are equally likely draws, so the distribution of
    the vector's entries is unchanged); this is what a zero-type neuron is meant to be.
    """
    w1, w2, w3 = weights
    shared = torch.randn(1, w2.shape[1], generator=generator, dtype=w2.dtype).to(w2.device) * incoming_std
    if active_on is not None and float((active_on @ shared.T).mean()) < 0:
        shared = -shared
    new_w2 = torch.cat([w2, shared.expand(n_units, -1)], dim=0)
    new_w3 = torch.cat([w3, torch.zeros(w3.shape[0], n_units, dtype=w3.dtype, device=w3.device)], dim=1)
    return w1, new_w2, new_w3


def null_basis(images: np.ndarray) -> np.ndarray:
    """Orthonormal basis (k, d) of the null space of ``images`` (n, d): directions v with images @ v = 0.

    Computed in float64 with the tolerance of ``numpy.linalg.matrix_rank`` (max singular value x
    max(n, d) x eps); when n < d the d - n directions beyond the rows' span are included.
    """
    x = np.asarray(images, dtype=np.float64)
    _, s, vt = np.linalg.svd(x, full_matrices=True)
    tol = s.max() * max(x.shape) * np.finfo(np.float64).eps if s.size else 0.0
    rank = int((s > tol).sum())
    return vt[rank:]


def null_space_perturb(weights: Weights, basis: torch.Tensor, sigma: float, generator: torch.Generator) -> Weights:
    """``W1 + sigma * C @ basis`` with C ~ N(0, 1) of shape (H1, k): every row of W1 moves only inside
    the null space, so ``images @ W1^T`` is unchanged for the images that define ``basis``."""
    w1, w2, w3 = weights
    coeffs = torch.randn(w1.shape[0], basis.shape[0], generator=generator, dtype=torch.float64)
    noise = (coeffs @ basis.to("cpu", torch.float64)) * sigma
    return w1 + noise.to(w1.device, w1.dtype), w2, w3
