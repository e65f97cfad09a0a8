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
    study = job_study(smk)
    config = getattr(smk, "config", None) or {}
    resources = (config.get(study) or {}).get("resources") or {}
    threads = int(resources.get("threads", granted))
    if threads != granted:
        logging.getLogger("featurelab").warning(
            "config key '%s.resources.threads' is %d but Snakemake granted %d (--cores); using %d torch threads "
            "so that the results do not depend on --cores",
            study,
            threads,
            granted,
            threads,
        )
    return threads


def job_study(smk) -> str:
    """The study a job belongs to: the package its ``params.step`` entry names (``complexity.train:train_job``
    -> ``complexity``), else the first word of its rule's name. Not the rule's name first: a workflow that
    imports this one as a module may rename its rules (``use rule * from featurelab as featurelab_*``)."""
    step = getattr(getattr(smk, "params", None), "step", None)
    if isinstance(step, dict) and "entry" in step:
        return str(step["entry"]).split(".", 1)[0]
    return str(smk.rule).split("_", 1)[0]


def configure_torch(threads: int) -> None:
    """Deterministic kernels and a fixed thread count, so results do not depend on the machine's load.

    cuBLAS needs its workspace configured *before* CUDA initialises for deterministic results.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import torch

    enable_deterministic_kernels(torch)
    reuse_freed_memory()
    torch.set_num_threads(max(1, int(threads)))
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = False
    # TF32 would make CUDA results differ from CPU ones in the third decimal; keep full fp32.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def enable_deterministic_kernels(torch) -> None:
    """``torch.use_deterministic_algorithms(True)`` without its 1.1-1.4 s import of ``torch._inductor``.

    torch 2.13's ``use_deterministic_algorithms`` imports ``torch._inductor.config`` (and with it
    ``torch._dynamo``) only to set Inductor's own flag, which matters for ``torch.compile``; featurelab
    never compiles. The flag every ATen kernel checks is ``torch._C._set_deterministic_algorithms``,
    so that is set directly; the public call is kept for a torch without it, or when Inductor is loaded
    anyway (then its flag must agree). ``tests/test_devices.py`` checks both the flag and the import.
    """
    import sys

    set_flag = getattr(torch._C, "_set_deterministic_algorithms", None)
    if set_flag is None or "torch._inductor.config" in sys.modules:
        torch.use_deterministic_algorithms(True)
    else:
        set_flag(True, warn_only=False)


#: glibc ``mallopt`` parameters (malloc.h). Allocations below 32 MiB (glibc's largest allowed mmap
#: threshold on 64-bit) come from the heap, and up to 64 MiB of free heap top is kept for reuse.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_BYTES, _TRIM_THRESHOLD_BYTES = 32 << 20, 64 << 20


def reuse_freed_memory() -> bool:
    """Let glibc recycle freed activation buffers instead of returning them to the kernel.

    A training step allocates and frees the same megabyte-sized activations and gradients hundreds of
    times. With glibc's defaults each is a fresh ``mmap`` (or the heap top is trimmed after it is
    freed), so every step re-faults and re-zeroes those pages: 250,000 page faults and about 0.5 s of a
    6 s complexity run (measured with ``/usr/bin/time``). Raising the mmap and trim thresholds keeps
    freed memory in the heap for the next step (45,000 faults); memory is reused, not accumulated, so the
    peak grows by at most the 64 MiB of free heap kept. PyTorch's CPU tuning guide gets the same effect by
    swapping in jemalloc or tcmalloc; this needs no extra dependency. A no-op (returns False) off glibc.
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter is linked against
    except (OSError, AttributeError):
        return False
    mmap_set = bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES))
    return bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES)) and mmap_set


def cuda_visible_cheaply() -> bool:
    """Whether this machine has an NVIDIA GPU, *without importing torch* (used when building the DAG)."""
    return os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/nvidia0")
