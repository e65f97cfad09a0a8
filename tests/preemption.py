"""Helpers of the preemption tests (tests/test_checkpoint.py locally, tests/test_slurm.py under SLURM): a
config whose complexity training runs long enough to be interrupted, finding a running training job's
Python process, and comparing two runs' training outputs exactly.

A preemption test starts from a copy of the session's tiny tree: the config below changes only
complexity's ``training`` section (and the checkpoint interval, which is not a parameter of any rule),
so the copied datasets stay up to date and only the training jobs asked for run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pyarrow.parquet as pq
import torch

from tests.helpers import tiny

PAIR = "linear-vs-xor_xor_xor"
#: 256 training examples in batches of 16 for 40 epochs: 640 optimizer steps (a few seconds), a checkpoint
#: every 20, so that a signal sent once the first checkpoint exists lands in the middle of training.
N_STEPS = 640
EVERY_STEPS = 20


def preempt_config() -> dict:
    """tests/configs/tiny.yaml, complexity only, trained for :data:`N_STEPS` steps with a checkpoint every
    :data:`EVERY_STEPS`."""
    config = tiny()
    config["studies"] = ["complexity"]
    config["checkpoint"] = {"every_steps": EVERY_STEPS}
    config["complexity"]["training"].update({"batch_size": 16, "epochs": 40})
    return config


def run_dir(seed: int) -> str:
    return f"results/complexity/{PAIR}/seed{seed}"


def train_targets(seeds: Iterable[int]) -> list[str]:
    return [f"{run_dir(s)}/metrics.parquet" for s in seeds]


def train_log(workdir: Path, seed: int) -> Path:
    return workdir / "results" / "logs" / "complexity" / "train" / f"seed{seed}.log"


def checkpoint_file(workdir: Path, seed: int) -> Path:
    return workdir / run_dir(seed) / "metrics.parquet.ckpt"


def wait_until(ready: Callable[[], bool], timeout: float, what: str, alive: Callable[[], bool]) -> None:
    """Poll ``ready`` every 20 ms; fail naming ``what`` when ``timeout`` passes or ``alive`` turns False."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert alive(), f"the run ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within {timeout:.0f} s"
        time.sleep(0.02)


def training_process(workdir: Path, seed: int) -> tuple[int, dict[str, str]]:
    """(PID, environment) of the Python process that runs the training job of ``seed`` in ``workdir``: the
    process with that job's log file open (the shell Snakemake starts it from has the script's name on its
    command line too, but not the log)."""
    log = str(train_log(workdir, seed).resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if "python" not in (entry / "cmdline").read_text():
                continue
            if any(os.readlink(fd) == log for fd in (entry / "fd").iterdir()):
                environ = (entry / "environ").read_bytes().decode(errors="replace").split("\0")
                return int(entry.name), dict(v.split("=", 1) for v in environ if "=" in v)
        except OSError:  # gone meanwhile, or not ours to read
            continue
    raise AssertionError(f"no process has {log} open")


def assert_same_training_outputs(a: Path, b: Path, seeds: Iterable[int]) -> None:
    """Every training output of ``seeds`` is the same in runs ``a`` and ``b``: the metrics table's data and
    provenance, and every tensor and the provenance of the model file (its zip container may differ in
    bytes)."""
    for seed in seeds:
        ta, tb = (pq.read_table(w / run_dir(seed) / "metrics.parquet") for w in (a, b))
        assert ta.equals(tb) and ta.schema.metadata == tb.schema.metadata, f"seed {seed}: metrics differ"
        ma, mb = (torch.load(w / run_dir(seed) / "model.pt", map_location="cpu") for w in (a, b))
        assert ma["provenance"] == mb["provenance"], seed
        sa, sb = ma["state_dict"], mb["state_dict"]
        assert sa.keys() == sb.keys() and sa, seed
        for key in sa:
            assert torch.equal(sa[key], sb[key]), f"seed {seed}: model tensor {key} differs"
