"""What every benchmark script measures the same way: a process's wall and CPU seconds, and the lines the
workflow's jobs log about their own time. Standard library only (it also runs on a GPU machine's bare
Python, for ``gpu_jobs.py``).
"""

from __future__ import annotations

import re
import resource
import subprocess
import time
from collections.abc import Sequence
from typing import Any

#: A job's CPU and wall seconds at its end (``featurelab.scripting.run``: "rule X: finished, C CPU-s, W s wall").
FINISHED = re.compile(r"rule (\S+): finished, ([0-9.]+) CPU-s, ([0-9.]+) s wall")
#: A job's start-up, process start to its study function (``featurelab.scripting.run``); a torch job logs a
#: second one once torch is configured, and the last one of a log counts.
STARTUP = re.compile(r"rule (\S+): start-up ([0-9.]+) CPU-s")


def run_timed(argv: Sequence[str], **kwargs: Any) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run ``argv`` to its end (``subprocess.run(argv, **kwargs)``, output captured as text unless given):
    the process, its wall seconds, and the CPU seconds (user + sys) of it and every descendant it waited
    for (``RUSAGE_CHILDREN``; a Snakemake run's jobs included). Not thread-safe: the CPU count is the
    difference of this process's children's totals before and after."""
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(list(argv), **kwargs)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return proc, wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
