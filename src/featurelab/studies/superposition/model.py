"""Models of the superposition study (Elhage et al. 2022 on MNIST, reference notebook 001).

Both models are *batched over instances* (a leading dimension ``I``): every parameter has shape
``(I, ...)`` and one optimizer step updates all instances at once (ARENA's ``n_instances`` pattern), so
several seeds can share one process. Instance ``k`` is initialised exactly as a stand-alone
``torch.nn.Linear`` would be (uniform in +-1/sqrt(fan_in)), each instance from its own generator.

- :class:`Classifier` (phase 1): 784 -> 49 -> 10, hidden = ReLU(tanh(fc1 x)), logits = fc2 hidden.
- :class:`Autoencoder` (phase 2): 49 -> 2 -> 49, code = tanh(W_enc h + b_enc),
  reconstruction = ReLU(tanh(W_dec code + b_dec)); with ``tied=True`` W_dec = W_enc^T as in the TMS
  paper's x' = ReLU(W^T W x + b).

Shapes: I = instances (seeds), B = batch (or a chunk of examples being evaluated).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from featurelab.init import stacked_linear_default


def batched_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``x`` (I, B, n_in) @ weight^T (I, n_in, n_out) + bias (I, 1, n_out)."""
    return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))


def relu_tanh(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The notebook's ReLU(tanh(.)) layer, batched: ``x`` (I, B, n_in) -> (I, B, n_out) in [0, 1). The
    classifier's hidden layer and the autoencoder's decoder (the "features" must stay in its range)."""
    return torch.relu(torch.tanh(batched_linear(x, weight, bias)))


class Classifier(nn.Module):
    """Phase 1: the notebook's ``lin_model`` for ``I`` instances at once."""

    def __init__(
        self, generators: Sequence[torch.Generator], n_inputs: int = 784, n_hidden: int = 49, n_classes: int = 10
    ) -> None:
        super().__init__()
        w1, b1 = stacked_linear_default(n_hidden, n_inputs, generators)
        w2, b2 = stacked_linear_default(n_classes, n_hidden, generators)
        self.w1, self.b1 = nn.Parameter(w1), nn.Parameter(b1)
        self.w2, self.b2 = nn.Parameter(w2), nn.Parameter(b2)

    @property
    def n_instances(self) -> int:
        return self.w1.shape[0]

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The 49 hidden activations ReLU(tanh(W1 x + b1)) in [0, 1): (I, B, 784) -> (I, B, 49)."""
        return relu_tanh(x, self.w1, self.b1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (I, B, n_inputs) -> logits (I, B, n_classes) and the hidden activations (I, B, n_hidden),
        which phase 2 reconstructs."""
        h = self.hidden(x)
        return batched_linear(h, self.w2, self.b2), h


class Autoencoder(nn.Module):
    """Phase 2: the notebook's ``ae_model`` (49 -> 2 -> 49) for ``I`` instances, optionally tied."""

    def __init__(
        self, generators: Sequence[torch.Generator], n_features: int = 49, n_code: int = 2, tied: bool = False
    ) -> None:
        super().__init__()
        w_enc, b_enc = stacked_linear_default(n_code, n_features, generators)
        w_dec, b_dec = stacked_linear_default(n_features, n_code, generators)  # drawn even when tied: same streams
        self.tied = bool(tied)
        self.w_enc, self.b_enc = nn.Parameter(w_enc), nn.Parameter(b_enc)
        self.b_dec = nn.Parameter(b_dec)
        if not self.tied:
            self.w_dec_free = nn.Parameter(w_dec)

    @property
    def w_dec(self) -> torch.Tensor:
        """(I, n_features, n_code); the transpose of the encoder when tied."""
        return self.w_enc.transpose(1, 2) if self.tied else self.w_dec_free

    def encode(self, h: torch.Tensor) -> torch.Tensor:
        """``h`` (I, B, n_features) -> code tanh(W_enc h + b_enc), (I, B, n_code) in (-1, 1)."""
        return torch.tanh(batched_linear(h, self.w_enc, self.b_enc))

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """``code`` (I, B, n_code) -> reconstruction (I, B, n_features) in [0, 1), the range of ``h``."""
        return relu_tanh(code, self.w_dec, self.b_dec)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``h`` (I, B, n_features) -> reconstruction (I, B, n_features) and code (I, B, n_code)."""
        code = self.encode(h)
        return self.decode(code), code

    def snapshot(self) -> dict[str, torch.Tensor]:
        """Detached CPU copies of (w_enc, b_enc, w_dec, b_dec), each with the instance dimension first."""
        return {
            k: v.detach().cpu().clone()
            for k, v in (("w_enc", self.w_enc), ("b_enc", self.b_enc), ("w_dec", self.w_dec), ("b_dec", self.b_dec))
        }
