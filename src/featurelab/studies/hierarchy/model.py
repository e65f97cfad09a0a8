"""The toy-models-of-superposition model x' = ReLU(W^T W x + b), batched over instances.

One :class:`BatchedTMS` holds ``I`` independent models (an instance dimension leads every parameter),
so one optimizer step trains a whole sweep. Instances may have different hidden widths and different
numbers of features (every width of every tree depth in one model): ``W`` is padded to the largest width
and feature count and a fixed 0/1 mask multiplies it in the forward pass, so padded entries get exactly
zero gradient, exactly zero Adam updates, and stay exactly zero (tested); a padded feature has importance
0 and is left out of its instance's mean over features, so it adds nothing to the loss.

With the pattern trick (:mod:`featurelab.studies.hierarchy.data`), the inputs are the P distinct patterns,
shared by all instances, and each row carries a weight (its count in the step's batch / batch size).

Shapes: I = instances, H = the largest hidden width and F the largest feature count (``W`` is padded to
both), rows = input rows (samples or patterns).

Initialisation (``init``, :data:`INIT_MODES`): W ~ N(0, std^2), b = 0, with

* ``notebook`` - the reference notebook's (ARENA ``Model``): ``nn.init.xavier_normal_`` on the whole
  (n_instances, n_hidden, n_features) tensor. torch reads dim 1 as fan-in and dim 0 as fan-out, each
  times the receptive field (the n_features of dim 2): std = sqrt(2 / (n_features * (n_hidden +
  n_instances))), where n_instances is the notebook's instance count (``init_instances``, 5), not the
  number of seeds or widths trained here - the scale the notebook's results were obtained with.
* ``per_instance`` - Xavier-normal of one (n_hidden, n_features) matrix: std = sqrt(2 / (n_hidden +
  n_features)), 1.9-7.8x larger for the hierarchy shapes (what a per-model Xavier init would give).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from featurelab.init import xavier_normal_std

INIT_MODES = ("notebook", "per_instance")


def init_std(init: str, n_hidden: int, n_features: int, init_instances: int = 5) -> float:
    """Standard deviation of W's entries for a model of width ``n_hidden`` (see the module docstring)."""
    if init == "notebook":
        if int(init_instances) < 1:
            raise ValueError(f"config key 'hierarchy.model.init_instances': must be >= 1, got {init_instances!r}")
        return xavier_normal_std((int(init_instances), n_hidden, n_features))  # the notebook's 3-D call
    if init == "per_instance":
        return xavier_normal_std((n_hidden, n_features))
    raise ValueError(f"config key 'hierarchy.model.init': expected one of {INIT_MODES}, got {init!r}")


class BatchedTMS(nn.Module):
    """``I`` TMS models with ``n_features`` features and per-instance hidden widths ``widths``.

    ``init`` / ``init_instances``: how W is drawn (:func:`init_std`); every instance gets the std of its
    own width, so a batched model draws each width as a separate model would.
    """

    def __init__(
        self,
        widths: Sequence[int],
        n_features: int,
        generator: torch.Generator | None = None,
        importance: torch.Tensor | None = None,
        init: str = "per_instance",
        init_instances: int = 5,
    ) -> None:
        super().__init__()
        widths = [int(w) for w in widths]
        if not widths or min(widths) < 1:
            raise ValueError(f"hidden widths must be positive integers, got {widths}")
        self.widths, self.n_features = widths, int(n_features)
        self.feature_counts = [self.n_features] * len(widths)
        mask = _mask(widths, self.feature_counts)
        std = torch.tensor([init_std(init, w, self.n_features, init_instances) for w in widths])[:, None, None]
        w = torch.randn(mask.shape, generator=generator) * std * mask  # on the CPU: any device
        self.W = nn.Parameter(w)
        self.b = nn.Parameter(torch.zeros((len(widths), self.n_features)))
        self.register_buffer("mask", mask)
        imp = torch.ones(self.n_features) if importance is None else torch.as_tensor(importance, dtype=torch.float32)
        self.register_buffer("importance", imp.broadcast_to((len(widths), self.n_features)).clone())
        self.register_buffer("feature_count", torch.full((len(widths),), float(self.n_features)))

    @classmethod
    def stacked(cls, parts: Sequence[BatchedTMS]) -> BatchedTMS:
        """One model holding every instance of ``parts`` (models with different feature counts, e.g. one per
        tree depth), each instance's weights and importances copied, zero-padded to the largest width and
        feature count: trained together, each instance follows the path it would follow in its own part."""
        widths = [w for part in parts for w in part.widths]
        counts = [c for part in parts for c in part.feature_counts]
        out = cls(widths, max(counts), generator=torch.Generator().manual_seed(0))  # W is overwritten below
        out.feature_counts = counts
        mask = _mask(widths, counts)
        padded, bias, importance = torch.zeros(mask.shape), torch.zeros(mask.shape[::2]), torch.zeros(mask.shape[::2])
        i = 0
        for part in parts:
            n, (h, f) = len(part.widths), part.W.shape[1:]
            padded[i : i + n, :h, :f] = part.masked_weight().detach()
            bias[i : i + n, :f] = part.b.detach()
            importance[i : i + n, :f] = part.importance
            i += n
        with torch.no_grad():
            out.W.copy_(padded)
            out.b.copy_(bias)
        out.mask.copy_(mask)
        out.importance.copy_(importance)
        out.feature_count.copy_(torch.tensor(counts, dtype=torch.float32))
        return out

    def masked_weight(self) -> torch.Tensor:
        """``W`` (I, H, F) with each instance's padded rows zeroed: used in the forward pass so that those
        rows get exactly zero gradient."""
        return self.W * self.mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (rows, F) shared by all instances, or (I, rows, F); returns (I, rows, F).

        Instances lead, so both products are batched matrix products on contiguous blocks (no copies).
        """
        w = self.masked_weight()
        if x.dim() == 2:
            x = x.expand(w.shape[0], *x.shape)
        h = torch.bmm(x, w.transpose(1, 2))  # (I, rows, H)
        return torch.relu(torch.baddbmm(self.b[:, None, :], h, w))

    def loss(self, x: torch.Tensor, row_weights: torch.Tensor | None = None) -> torch.Tensor:
        """Importance-weighted squared error per instance: (I,).

        Mean over the instance's own features; over rows a plain mean, or ``sum_r row_weights[r] * err_r``
        with weights that sum to 1 (pattern counts / batch size) - the same number as the mean over the
        expanded batch. ``row_weights`` is (rows,) shared by all instances or (I, rows). Computed by the
        TMS kernel with its hand-written backward (:func:`featurelab.tms.relu_output_loss`).
        """
        from featurelab.tms import relu_output_loss

        if x.dim() == 2:
            x = x.expand(len(self.widths), *x.shape)
        weight = (self.importance / self.feature_count[:, None])[:, None, :]  # (I, 1, F)
        scale = 1.0
        if row_weights is None:
            scale = 1.0 / x.shape[1]
        elif row_weights.dim() == 2:  # (I, rows): each instance its own weights (e.g. its depth's patterns)
            weight = weight * row_weights[:, :, None]
        else:
            weight = weight * row_weights[None, :, None]
        return relu_output_loss(self.masked_weight(), self.b, x, scale, weight)


def _mask(widths: Sequence[int], feature_counts: Sequence[int]) -> torch.Tensor:
    """0/1 mask (I, H, F) of each instance's real entries of the padded ``W``."""
    rows = torch.arange(max(widths))[None, :] < torch.tensor(widths)[:, None]  # (I, H)
    cols = torch.arange(max(feature_counts))[None, :] < torch.tensor(feature_counts)[:, None]  # (I, F)
    return (rows[:, :, None] & cols[:, None, :]).float()
