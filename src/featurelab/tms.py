"""The loss of the toy models of superposition, x' = ReLU(W^T W x + b), batched over instances, with a
hand-written backward: the kernel both TMS studies (geometry's sweep, hierarchy's TMS companion) train
through, because at their sizes element-wise passes are a large share of a step and autograd makes more
of them.

Shapes: I = instances, m = hidden, n = features, B = rows of the batch. Inputs lead with instances, so
every product is a batched matrix product on contiguous blocks.
"""

from __future__ import annotations

import torch


class ReluOutputLoss(torch.autograd.Function):
    """Per-instance (weighted) squared error of ReLU(W^T W x + b) with a hand-written backward.

    Autograd keeps and revisits more (instances, batch, n) temporaries, and at these sizes element-wise
    passes are a large share of a step. The forward computes the residual once and zeroes it where the ReLU
    is off (that is d loss / d pre-activation up to a scale) in place, with the ReLU's own backward kernel
    (one pass; a boolean mask and ``masked_fill_`` take two passes, the second slow on a mask of mixed
    values); the backward is three batched matrix products: faster than autograd and with less peak memory
    (the side-by-side speed is measured by benchmarks/geometry_benchmark.py). Tested against autograd and
    with gradcheck.

    The hidden activations are computed transposed, h^T = W x^T of shape (I, m, B), and so is the
    backward's d h^T = W dpre^T: with m = 30 the product as (m, n) x (n, B) takes about 60 % of the time of
    x W^T, (B, n) x (n, m), on the CPU (measured by the benchmark's ``--pieces``).
    """

    @staticmethod
    def forward(
        ctx, W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, scale: float, weight: torch.Tensor | None
    ) -> torch.Tensor:
        hT = torch.bmm(W, x.transpose(1, 2))  # (I, m, B)
        out = torch.baddbmm(b[:, None, :], hT.transpose(1, 2), W).clamp_min_(0.0)  # (I, B, n)
        resid = torch.sub(out, x)
        weighted = resid if weight is None else resid * weight
        flat, flat_weighted = resid.view(resid.shape[0], 1, -1), weighted.view(resid.shape[0], 1, -1)
        loss = torch.bmm(flat, flat_weighted.transpose(1, 2)).view(-1) * scale  # sum of (weighted) squares
        dpre = _relu_backward_(weighted, out)  # no gradient where the ReLU is off
        ctx.save_for_backward(W, x, hT, dpre)
        ctx.scale = scale
        return loss

    @staticmethod
    def backward(ctx, grad_loss: torch.Tensor):
        W, x, hT, dpre = ctx.saved_tensors
        coef = (grad_loss * (2.0 * ctx.scale))[:, None, None]
        dhT = torch.bmm(W, dpre.transpose(1, 2))  # (I, m, B)
        gW = torch.bmm(hT, dpre).baddbmm_(dhT, x).mul_(coef)
        gb = dpre.sum(dim=1).mul_(coef[:, :, 0])
        return gW, gb, None, None, None


def _relu_backward_(grad: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``grad`` where ``out`` > 0, else 0, written into ``grad``: the kernel of ReLU's own backward, which
    reads both tensors once (in place is safe: each element is read before it is written)."""
    return torch.ops.aten.threshold_backward.grad_input(grad, out, 0.0, grad_input=grad)


def relu_output_loss(
    W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, scale: float, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-instance ``scale * sum_{rows, features} weight * (ReLU(W^T W x + b) - x)^2``: (I,).

    ``W`` (I, m, n), ``b`` (I, n), ``x`` (I, B, n); ``weight`` broadcastable to (I, B, n) (feature
    importances, row weights) or None for 1. The backward is hand-written (:class:`ReluOutputLoss`).
    """
    return ReluOutputLoss.apply(W, b, x, scale, weight)
