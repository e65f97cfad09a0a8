"""Deterministic random streams derived from what a result *is*, not from the order jobs run in.

Every random draw in the pipeline comes from a generator seeded by (study, condition, seed, purpose).
Hashing the names (rather than adding offsets such as the notebooks' ``123 + seed``) keeps streams for
different splits, conditions and purposes independent, and makes a job's result independent of which
other jobs exist or in which order Snakemake runs them.
"""

from __future__ import annotations

import hashlib

import numpy as np


def derive_seed(*parts: object) -> int:
    """A 63-bit integer seed from any sequence of names/numbers (stable across Python versions)."""
    text = "\x1f".join(str(p) for p in parts)
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def numpy_rng(*parts: object) -> np.random.Generator:
    """A NumPy generator whose stream is fixed by ``parts``."""
    return np.random.default_rng(derive_seed(*parts))


def torch_generator(*parts: object, device: str = "cpu"):
    """A torch generator whose stream is fixed by ``parts`` (imports torch lazily)."""
    import torch

    gen = torch.Generator(device=device)
    gen.manual_seed(derive_seed(*parts))
    return gen
