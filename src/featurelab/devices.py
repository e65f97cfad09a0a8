"""Resolving ``device: auto|cpu|cuda`` and making torch deterministic on it."""

from __future__ import annotations

import os


def resolve_device(requested: str) -> str:
    """``auto`` becomes ``cuda`` when a GPU is usable, else ``cpu``; ``cuda`` without one is an error."""
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config key 'device' is 'cuda' but torch sees no CUDA device on this machine")
    if requested not in ("cpu", "cuda"):
        raise ValueError(f"config key 'device': expected auto, cpu or cuda, got {requested!r}")
    return requested


def torch_threads(smk) -> int:
    """The intra-op thread count of a training job: the study's configured ``resources.threads``.

    Not ``snakemake.threads``: Snakemake lowers a job's threads to ``--cores`` when that is smaller, and
    torch's CPU reductions and matrix products add in a different order with a different number of
    threads (the last bits of a sum change). Using the configured number keeps results identical
    whatever ``--cores`` is (at the price of oversubscribing when ``--cores`` is below it).
    """
    import logging

    granted = int(smk.threads)
    study = str(smk.rule).split("_", 1)[0]
    config = getattr(smk, "config", None) or {}
    resources = (config.get(study) or {}).get("resources") or {}
    threads = int(resources.get("threads", granted))
    if threads != granted:
        logging.getLogger("featurelab").warning(
            "config key '%s.resources.threads' is %d but Snakemake granted %d (--cores); using %d torch threads "
            "so that the results do not depend on --cores", study, threads, granted, threads)
    return threads


def configure_torch(threads: int) -> None:
    """Deterministic kernels and a fixed thread count, so results do not depend on the machine's load.

    cuBLAS needs its workspace configured *before* CUDA initialises for deterministic results.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import torch

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(max(1, int(threads)))
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = False
    # TF32 would make CUDA results differ from CPU ones in the third decimal; keep full fp32.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def cuda_visible_cheaply() -> bool:
    """Whether this machine has an NVIDIA GPU, *without importing torch* (used when building the DAG)."""
    return os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/nvidia0")
