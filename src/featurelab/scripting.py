"""Glue for the thin ``scripts/*.py`` that Snakemake's ``script:`` directive runs.

Each script ends with ``run(main, snakemake)``, ``main`` the function that does its work on Snakemake's
``snakemake`` object (the study function its rule names, or one of the script's own). This sets up logging to
the rule's ``log:`` file and turns any failure into one line on stderr that names the rule, the
wildcards and the problem (the full traceback goes to the log file), then exits non-zero so Snakemake
deletes the job's outputs. Writers are atomic (:mod:`featurelab.io`), so nothing half-written survives.
An exception that carries an ``exit_status`` is a stop, not a failure (a training job preempted by
SIGTERM after writing its checkpoint, :class:`featurelab.training.Preempted`): the job exits with that
status and one line, without a traceback, and Snakemake's retry resumes it.

A job is a short process that imports torch (about 10^5 long-lived objects) and exits. ``run`` moves the
objects alive before and after ``main`` into the collector's permanent generation (:func:`gc.freeze`):
collections during the job then skip them, and so does the interpreter's final collection at exit,
which otherwise costs 0.4-0.6 s of every job with torch loaded (measured; ``os._exit`` would save a bit
more but skip the ``atexit`` handlers that flush the log).
"""

from __future__ import annotations

import gc
import logging
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

log = logging.getLogger("featurelab")


def run(main: Callable[[Any], None], smk: Any) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if smk.log:
        handlers.append(logging.FileHandler(smk.log[0], mode="w"))
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", handlers=handlers, force=True
    )
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting is chatty at INFO
    where = f"rule {smk.rule}" + (f" ({dict(smk.wildcards.items())})" if len(smk.wildcards) else "")
    # What a job pays before its study function runs (interpreter, Snakemake's script preamble, the study
    # module's imports): benchmarks/workflow_benchmark.py sums these lines per job kind.
    log.info("rule %s: start-up %s (process start to the study function)", smk.rule, process_usage())
    gc.freeze()
    try:
        main(smk)
        gc.freeze()
        log.info("rule %s: finished, %s", smk.rule, process_usage())
    except Exception as exc:  # report every failure the same way; the traceback is kept in the log
        status = getattr(exc, "exit_status", None)
        if isinstance(status, int) and status not in (0, 1):  # a stop (preemption), already logged
            print(f"featurelab: {where} stopped: {exc} (exit status {status})", file=sys.stderr)
            sys.exit(status)
        if smk.log:
            with open(smk.log[0], "a") as fh:
                traceback.print_exc(file=fh)
        print(f"featurelab error in {where}: {type(exc).__name__}: {exc}", file=sys.stderr)
        if smk.log:
            print(f"(full traceback in {smk.log[0]})", file=sys.stderr)
        sys.exit(1)


def process_usage() -> str:
    """This process's CPU seconds (user + sys), wall seconds since it started and peak RSS, as the log
    lines that benchmarks/workflow_benchmark.py and gpu_jobs.py read: ``1.23 CPU-s, 2.34 s wall, peak RSS
    316 MB``. The training rules have no Snakemake ``benchmark:`` file (Snakemake refuses one on a rule
    marked for its output cache), so their logs' last line is where their CPU time and memory are."""
    import resource

    import psutil  # Snakemake's own dependency, already imported by the script preamble

    usage = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.time() - psutil.Process().create_time()
    # ru_maxrss is in KiB on Linux
    return f"{usage.ru_utime + usage.ru_stime:.2f} CPU-s, {wall:.2f} s wall, peak RSS {usage.ru_maxrss / 1024:.0f} MB"


class TorchJob:
    """The start and end every torch job shares, so each script keeps only what it trains.

    Starting one configures torch (deterministic kernels, the study's configured thread count; see
    :func:`featurelab.devices.torch_threads`) and resolves ``params.device``; :meth:`provenance` records
    the rule, the resolved device and the torch thread count actually used (not Snakemake's granted
    threads, which ``--cores`` caps) next to the config sub-tree the script passes (plus the requested
    device); :meth:`done` logs the job's time after start-up.
    """

    def __init__(self, smk: Any) -> None:
        from featurelab.devices import configure_torch, resolve_device, torch_threads

        self.smk, self._started = smk, time.perf_counter()
        self.threads = torch_threads(smk)
        configure_torch(self.threads)
        self.device = resolve_device(smk.params.device)
        log.info("rule %s: start-up %s (process start to torch configured)", smk.rule, process_usage())

    def provenance(self, config: dict[str, Any]) -> dict[str, Any]:
        from featurelab.provenance import provenance

        return provenance(
            {**config, "device": self.smk.params.device},
            rule=self.smk.rule,
            resolved_device=self.device,
            threads=self.threads,
        )

    def done(self, what: str) -> None:
        """Log the job's time after start-up (its CPU time and peak RSS follow in :func:`run`'s last line)."""
        log.info("%s on %s in %.1f s", what, self.device, time.perf_counter() - self._started)
