"""The toy-models-of-superposition model x' = ReLU(W^T W x + b), batched over instances.

One :class:`BatchedTMS` holds ``I`` independent models (an instance dimension leads every parameter),
so one optimizer step trains a whole sweep. Instances may have different hidden widths: ``W`` is
padded to the largest width and a fixed 0/1 row mask multiplies it in the forward pass, so padded rows
get exactly zero gradient, exactly zero Adam updates, and stay exactly zero (tested).

With the pattern trick (:mod:`featurelab.studies.hierarchy.data`), the inputs are the P distinct patterns,
shared by all instances, and each row carries a weight (its count in the step's batch / batch size).

Shapes: I = instances, H = the largest hidden width (``W`` is padded to it), F = features, rows = input
rows (samples or patterns).

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
        n_inst, h_max = len(widths), max(widths)
        mask = (torch.arange(h_max)[None, :] < torch.tensor(widths)[:, None]).float()[:, :, None]  # (I, H, 1)
        std = torch.tensor([init_std(init, w, self.n_features, init_instances) for w in widths])[:, None, None]
        w = torch.randn((n_inst, h_max, self.n_features), generator=generator) * std * mask  # on the CPU: any device
        self.W = nn.Parameter(w)
        self.b = nn.Parameter(torch.zeros((n_inst, self.n_features)))
        self.register_buffer("mask", mask)
        imp = torch.ones(self.n_features) if importance is None else torch.as_tensor(importance, dtype=torch.float32)
        self.register_buffer("importance", imp.broadcast_to((n_inst, self.n_features)).clone())

    def masked_weight(self) -> torch.Tensor:
        """``W`` (I, H, F) with each instance's padded rows zeroed: used in the forward pass so that those
        rows get exactly zero gradient."""
        return self.W * self.mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (rows, F) shared by all instances, or (rows, I, F); returns (rows, I, F)."""
        w = self.masked_weight()
        if x.dim() == 2:
            h = torch.einsum("rf,ihf->rih", x, w)
        else:
            h = torch.einsum("rif,ihf->rih", x, w)
        return torch.relu(torch.einsum("rih,ihf->rif", h, w) + self.b)

    def loss(self, x: torch.Tensor, row_weights: torch.Tensor | None = None) -> torch.Tensor:
        """Importance-weighted squared error per instance: (I,).

        Mean over features; over rows a plain mean, or ``sum_r row_weights[r] * err_r`` with weights that
        sum to 1 (pattern counts / batch size) - the same number as the mean over the expanded batch.
        """
        out = self(x)
        target = x if x.dim() == 3 else x[:, None, :]
        err = (self.importance * (target - out) ** 2).mean(-1)  # (rows, I)
        if row_weights is None:
            return err.mean(0)
        return row_weights @ err
