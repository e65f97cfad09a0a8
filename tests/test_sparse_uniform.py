"""The sparse uniform input sampler of the TMS models: the distribution (fraction on, values uniform given on), exactness of
the integer construction, the NumPy source against NumPy's own words, and the stream's state round trip."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from scipy import stats

from featurelab.sparse_uniform import GRID, NumpyBits, SparseUniform, TorchBits, thresholds

P = [1.0, 0.3, 0.05]


@pytest.mark.parametrize("bits", [NumpyBits, TorchBits])
def test_fraction_on_is_p_and_values_are_uniform_given_on(bits):
    """Fixed seed, 1,000,000 entries per instance. Fraction on: within 4 binomial standard errors of p (a
    wrong construction, e.g. p(1 - p) or 1 - p, is off by hundreds). Values on: the Kolmogorov-Smirnov test
    against U[0, 1) must not reject at the 0.1 % level (a loose bound, fixed seed: the outcome is
    deterministic; a mean or variance that is off by 1 % fails it at these sample sizes)."""
    x = SparseUniform(P, 50, seed=7, bits=bits).draw(20_000)
    assert x.shape == (3, 20_000, 50) and x.dtype == torch.float32
    assert x.min() >= 0 and x.max() < 1
    entries = 20_000 * 50
    for i, p in enumerate(P):
        on = x[i][x[i] > 0].double().numpy()
        assert abs(on.size / entries - p) <= 4 * np.sqrt(p * (1 - p) / entries) + 1e-12, (i, on.size / entries)
        assert stats.kstest(on, "uniform").pvalue > 1e-3, i
    assert (x[1:] == 0).float().mean() > 0.5  # exact zeros, not tiny values


def test_integer_construction_is_exact():
    """All 2^24 integers through the draw's arithmetic, for K near 2^24 (where rounding could reach 1) and
    a small K: exactly K entries are on, and their values are j / K for j = 0 .. K - 1, all below 1."""

    class AllIntegers:
        low = 0

        def __init__(self, seed: int, device: torch.device) -> None:
            pass

        def fill(self, out: torch.Tensor) -> torch.Tensor:
            return out.copy_(torch.arange(GRID, dtype=torch.float32).expand(out.shape))

    p = [1.0, (GRID - 3) / GRID, 0.05]
    x = SparseUniform(p, GRID, seed=0, bits=AllIntegers).draw(1)[:, 0]
    for i, k in enumerate(thresholds(p).astype(np.int64)):
        values = x[i][GRID - k :].double()
        assert int((x[i] > 0).sum()) == k - 1  # j = 0 is on with value 0
        assert torch.all(x[i][: GRID - k] == 0)
        assert torch.equal(values, (torch.arange(k, dtype=torch.float64) / k).float().double())
        assert values.max() < 1


def test_numpy_source_is_numpys_sfc64_words():
    """The CPU draw reproduces, in NumPy arithmetic, the construction from SFC64's 64-bit words: the top 24
    bits of each 32-bit half (low half first) as a signed integer s, on iff s - (2^23 - K) >= 0."""
    x = SparseUniform(P, 7, seed=11).draw(5).numpy()  # 105 entries: an odd count uses half a word
    words = np.random.SFC64(11).random_raw(53).view(np.uint32)[:105].reshape(3, 5, 7)
    top = (words >> 8).astype(np.int64)
    signed = np.where(top >= 1 << 23, top - (1 << 24), top)
    k = thresholds(P)[:, None, None]
    j = signed - ((1 << 23) - k)
    expected = np.where(j >= 0, j / k, 0.0).astype(np.float32)
    assert np.array_equal(x, expected)


@pytest.mark.parametrize("bits", [NumpyBits, TorchBits])
def test_state_round_trip_through_a_weights_only_checkpoint(bits):
    sampler = SparseUniform(P, 40, seed=3, bits=bits)
    sampler.draw(16)
    buffer = io.BytesIO()
    torch.save({"batches": sampler.state()}, buffer)
    expected = sampler.draw(16).clone()
    sampler.draw(16)
    buffer.seek(0)
    sampler.set_state(torch.load(buffer, weights_only=True)["batches"])
    assert torch.equal(sampler.draw(16), expected)


def test_same_seed_same_bits_other_seed_other_stream_and_buffer_reuse():
    a, b, c = (SparseUniform(P, 40, seed=s) for s in (5, 5, 6))
    first = a.draw(16)
    assert torch.equal(first.clone(), b.draw(16)) and not torch.equal(first, c.draw(16))
    second = a.draw(16)
    assert second.data_ptr() == first.data_ptr()  # one buffer, overwritten by the next draw
    assert a.draw(8).shape == (3, 8, 40)


def test_thresholds_refuse_probabilities_outside_the_grid():
    with pytest.raises(ValueError, match="feature probabilities"):
        thresholds([0.5, 0.0])
    with pytest.raises(ValueError, match="NumpyBits draws on the CPU"):
        NumpyBits(0, torch.device("meta"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_the_draw_stays_on_the_device():
    sampler = SparseUniform(P, 50, seed=1, device="cuda")
    assert isinstance(sampler.bits, TorchBits)
    x = sampler.draw(4096)
    assert x.is_cuda and 0 <= float(x.min()) and float(x.max()) < 1
    np.testing.assert_allclose((x > 0).float().mean(dim=(1, 2)).cpu().numpy(), P, rtol=0.05)
