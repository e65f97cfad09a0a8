"""A tiny outer workflow that imports featurelab as a Snakemake module, built once per session, for
tests/test_module.py and tests/test_cache.py.

The outer workflow lives in a temporary folder (its working directory is not this repository), has a
config of its own with featurelab's under the key ``featurelab`` (the tiny config, complexity only: it
lists only what it changes, as a ``--configfile`` does), imports ``workflow/Snakefile`` by its absolute
path with every rule renamed ``featurelab_*``, and builds ``figures/complexity/all``. It runs with
Snakemake's between-workflow output cache on (``--cache``, ``SNAKEMAKE_OUTPUT_CACHE`` a temporary folder),
so that the cache test's clone finds the trained models there.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from tests.helpers import REPO, tiny, write_yaml

#: The caller's Snakefile: its own config, the module, every rule under a prefix, and a target rule of its
#: own after the import (a `default_target` defined before `use rule` would lose to featurelab's).
OUTER_SNAKEFILE = """\
configfile: "config.yaml"


module featurelab:
    snakefile:
        {snakefile!r}
    config:
        config["featurelab"]


use rule * from featurelab as featurelab_*


rule outer_all:
    default_target: True
    input:
        "figures/complexity/all",
        rules.featurelab_complexity_aggregate.output.summary,
"""

#: The complexity tables the session's shared tiny tree also holds (data compared exactly).
TABLES = ["results/complexity/runs.parquet", "results/complexity/summary.parquet", "results/complexity/claims.parquet"]


def featurelab_config() -> dict:
    """The featurelab config the outer workflow passes: tests/configs/tiny.yaml, complexity only."""
    config = tiny()
    config["studies"] = ["complexity"]
    return config


def job_env(cache: Path) -> dict[str, str]:
    """The environment of an outer or cache-test run: the cache folder, no GPU, and no PYTHONPATH (the
    workflow puts its own src/ on the path of every job; a caller sets nothing)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, "SNAKEMAKE_OUTPUT_CACHE": str(cache), "PYTHONHASHSEED": "0", "CUDA_VISIBLE_DEVICES": ""}


def table_data(path: Path) -> str:
    """sha256 of a parquet table's data (column names, types, every value's exact repr), not its metadata
    (the provenance names the rule, which the module renames)."""
    table = pq.read_table(path)
    digest = hashlib.sha256(str(table.schema.remove_metadata()).encode())
    for name, column in zip(table.column_names, table.columns):
        digest.update(name.encode() + repr(column.to_pylist()).encode())
    return digest.hexdigest()


_CACHE_LINE = re.compile(r"Output file (\S+) will be (obtained from|written to) global between-workflow cache")


def cache_plan(dry_run_stdout: str) -> dict[str, str]:
    """Output path -> "hit" or "miss", from the lines a dry run with ``--cache`` prints for each cached job
    (Snakemake names the job's first output file)."""
    return {m[1]: "hit" if m[2] == "obtained from" else "miss" for m in _CACHE_LINE.finditer(dry_run_stdout)}


@dataclass(frozen=True)
class OuterRun:
    workdir: Path  # the outer workflow's folder, also its working directory
    cache: Path  # SNAKEMAKE_OUTPUT_CACHE of the run
    reference: Path  # a copy of the session's tiny tree (complexity complete), built without the module
    log: str  # the run's stdout + stderr


_RUN: OuterRun | None = None


def outer_run(tiny_trees, tmp_path_factory) -> OuterRun:
    """The outer workflow built once per session (the first test that asks builds it)."""
    global _RUN
    if _RUN is None:
        root = tmp_path_factory.mktemp("outer")
        # the shared tree first: its background build and this run would otherwise share the 2 cores
        reference, _, _ = tiny_trees.workdir(root / "reference", ["complexity"], figures_all=False)
        workdir, cache = root / "outer", root / "cache"
        workdir.mkdir()
        cache.mkdir()
        (workdir / "Snakefile").write_text(OUTER_SNAKEFILE.format(snakefile=str(REPO / "workflow" / "Snakefile")))
        write_yaml(workdir / "config.yaml", {"featurelab": featurelab_config(), "outer_setting": "the caller's own"})
        proc = subprocess.run(
            [sys.executable, "-m", "snakemake", "--cores", "2", "--cache"],
            cwd=workdir,
            env=job_env(cache),
            capture_output=True,
            text=True,
            timeout=900,
        )
        log = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"the outer workflow failed ({proc.returncode}):\n{log[-8000:]}"
        _RUN = OuterRun(workdir, cache, reference, log)
    return _RUN
