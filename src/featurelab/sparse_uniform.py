"""Sparse uniform features, the inputs of the toy models of superposition: every step a fresh (instances,
batch, n) batch.

Feature j of instance i is U[0, 1) with probability p_i, else exactly 0 (the TMS colab's ``generate_batch``).
At the geometry study's default shape a step needs 819,200 such numbers, and drawing them is a large share
of the step, so the draw is built for speed while staying exact:

* **One random integer per entry gives both the on/off and the value.** With k uniform on {0, ..., 2^24 - 1}
  and K = round(p 2^24): the entry is on iff j = k - (2^24 - K) >= 0, which has probability K / 2^24 (p to
  within 2^-25), and its value is j / K, uniform on the K points {0, 1/K, ..., (K - 1)/K} (a resolution of
  at least 1/K >= 2^-24, float32's own for U[0, 1)). Every number on the way is an integer below 2^24, so
  exact in float32, and the one rounding, the division, is correctly rounded: j / K <= 1 - 1/K rounds to
  at most 1 - 2^-24, so a value is never 1 and an entry is on exactly when its integer says so (tested
  over all 2^24 integers for K near 2^24 and a small K).
* **On the CPU the integers come from NumPy** (:class:`NumpyBits`): its ``SFC64`` bit generator's
  ``random_raw`` fills 64-bit words, each giving two entries (the top 24 bits of each 32-bit half), at about
  1 ns per entry, a quarter of what torch's CPU generator (a Mersenne Twister) takes per float32 uniform;
  the rest is five element-wise passes in torch (shift, convert, subtract, divide, clamp), in place. The
  side-by-side of the alternatives is ``benchmarks/geometry_benchmark.py --draws``.
* **On an accelerator they come from torch's generator on that device** (:class:`TorchBits`,
  ``random_(0, 2^24)``): a CPU draw would add a host-to-device copy of the batch to every step. The
  construction is the same, but the random stream is another, so a run on a GPU sees other batches than
  the same seed on the CPU (each is reproducible on its own device).

The batch is written into one buffer that the next draw overwrites: training uses each batch once, within
its step. Imports torch and NumPy only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import torch

#: Integers per unit interval: float32's 24-bit grid.
GRID = 1 << 24


def thresholds(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """K = round(p 2^24) per instance: an entry is on with probability K / 2^24 (p to within 2^-25)."""
    k = np.rint(np.asarray(p, dtype=np.float64) * GRID)
    if np.any(k < 1) or np.any(k > GRID):
        raise ValueError(f"feature probabilities must lie in [2^-24, 1], got {np.asarray(p).tolist()}")
    return k


class Bits(Protocol):
    """Fills a float32 tensor with independent integers uniform on ``{low, ..., low + 2^24 - 1}``; made by
    ``Source(seed, device)``."""

    low: int

    def fill(self, out: torch.Tensor) -> torch.Tensor: ...
    def state(self) -> Any: ...
    def set_state(self, state: Any) -> None: ...


class NumpyBits:
    """NumPy's SFC64 through ``random_raw``: two entries per 64-bit word (the CPU source).

    Each 32-bit half, read as a signed integer and shifted right by 8 (in place, in torch), is its top 24
    bits in two's complement: a bijection onto {-2^23, ..., 2^23 - 1}, hence uniform there (``low`` = -2^23).
    SFC64 rather than NumPy's default PCG64: ``random_raw`` is the cost of the draw and SFC64's is the
    lowest (measured by the benchmark's ``--draws``); both pass the standard statistical test batteries.
    """

    low = -(1 << 23)

    def __init__(self, seed: int, device: torch.device | None = None) -> None:
        if device is not None and torch.device(device).type != "cpu":
            raise ValueError(f"NumpyBits draws on the CPU, not on {device}")
        self.bit_generator = np.random.SFC64(seed)

    def fill(self, out: torch.Tensor) -> torch.Tensor:
        count = out.numel()
        words = self.bit_generator.random_raw((count + 1) // 2)  # a fresh array: random_raw has no out=
        halves = torch.from_numpy(words.view(np.int32)[:count]).view(out.shape)
        return out.copy_(halves.bitwise_right_shift_(8))

    def state(self) -> dict[str, Any]:
        """The bit generator's state as plain ints and strings (checkpoints load with ``weights_only``)."""
        state = self.bit_generator.state
        return {**state, "state": {"state": [int(w) for w in state["state"]["state"]]}}

    def set_state(self, state: dict[str, Any]) -> None:
        words = np.array(state["state"]["state"], dtype=np.uint64)
        self.bit_generator.state = {**state, "state": {"state": words}}


class TorchBits:
    """torch's generator on the batch's device, ``random_(0, 2^24)`` into the buffer (the accelerator source:
    no host-to-device copy per step). Works on the CPU too, where it is slower than :class:`NumpyBits`."""

    low = 0

    def __init__(self, seed: int, device: torch.device | str = "cpu") -> None:
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)

    def fill(self, out: torch.Tensor) -> torch.Tensor:
        return out.random_(0, GRID, generator=self.generator)

    def state(self) -> torch.Tensor:
        return self.generator.get_state()

    def set_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state)


class SparseUniform:
    """Draws (I, batch, n) inputs: entry (i, ., j) is on with probability p_i (K_i / 2^24), then U[0, 1).

    ``seed`` fixes the stream (the training job passes ``featurelab.seeding.derive_seed`` of the run and
    purpose); ``bits`` (a :class:`Bits` class, called with the seed and device) overrides the source that
    the device picks (:class:`NumpyBits` on the CPU, else :class:`TorchBits`): tests draw with either.
    """

    def __init__(
        self,
        p: Sequence[float] | np.ndarray,
        n_features: int,
        seed: int,
        device: str | torch.device = "cpu",
        bits: Callable[[int, torch.device], Bits] | None = None,
    ) -> None:
        self.device, self.n_features = torch.device(device), int(n_features)
        if bits is None:
            bits = NumpyBits if self.device.type == "cpu" else TorchBits
        self.bits = bits(seed, self.device)
        k = thresholds(p)
        self._count = self._column(k)
        self._offset = self._column(self.bits.low + GRID - k)  # integer - offset = j; on iff j >= 0
        self._buffer = torch.empty(0, device=self.device)

    def _column(self, values: np.ndarray) -> torch.Tensor:
        """(I, 1, 1) float32 on the device: integers below 2^24, so exact."""
        return torch.as_tensor(values, dtype=torch.float32, device=self.device)[:, None, None]

    @property
    def n_instances(self) -> int:
        return self._count.shape[0]

    def draw(self, batch: int) -> torch.Tensor:
        """The next batch, in a buffer that the next call overwrites: j / K where j >= 0, else 0."""
        shape = (self.n_instances, int(batch), self.n_features)
        if self._buffer.shape != shape:
            self._buffer = torch.empty(shape, dtype=torch.float32, device=self.device)
        return self.bits.fill(self._buffer).sub_(self._offset).div_(self._count).clamp_min_(0.0)

    def state(self) -> Any:
        """The stream's position: plain values or a tensor, as a checkpoint stores it."""
        return self.bits.state()

    def set_state(self, state: Any) -> None:
        self.bits.set_state(state)
