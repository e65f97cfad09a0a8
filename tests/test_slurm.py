"""The SLURM path, for real: a single-node SLURM on localhost (tests/slurm_local.py), the tiny complexity
config submitted with `--profile profiles/slurm`, every job proven to have gone through sbatch (the
job-completion log), and the data equal to a local run's. Plus the GPU request, checked by a dry run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests import slurm_local
from tests.helpers import REPO, snakemake

COMPLEXITY_ONLY = ("--config", "studies=[complexity]")

#: The studies of the session's shared tiny tree this module copies.
TINY_STUDIES = ["complexity"]


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root (installs slurm-wlm and munge with apt-get, starts munged/slurmctld/slurmd)"
    if slurm_local.missing_commands() and shutil.which("apt-get") is None:
        return "SLURM is not installed and there is no apt-get to install it"
    if slurm_local.SLURM_CONF.exists():
        return f"{slurm_local.SLURM_CONF} exists: will not start a test cluster beside a configured SLURM"
    return None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    slurm_local.install()
    where = tmp_path_factory.mktemp("slurm")
    try:
        slurm_local.start(where)
        yield where
    finally:
        slurm_local.stop(where)


def _tables(workdir: Path) -> dict[str, object]:
    return {
        str(p.relative_to(workdir)): pq.read_table(p).replace_schema_metadata(None)
        for p in sorted((workdir / "results" / "complexity").rglob("*.parquet"))
    }


@pytest.mark.slurm
@pytest.mark.e2e
def test_tiny_complexity_through_sbatch_equals_local_run(cluster, tiny_trees, tmp_path):
    """The local run is a copy of the session's shared tiny tree, on the same complexity config."""
    on_slurm = tmp_path / "slurm"
    local, _, _ = tiny_trees.workdir(tmp_path / "local", TINY_STUDIES, figures_all=False)
    proc = snakemake(
        on_slurm,
        "figures/all",
        *COMPLEXITY_ONLY,
        "--profile",
        str(REPO / "profiles" / "slurm"),
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "1",
        "--seconds-between-status-checks",
        "2",
        "--slurm-keep-successful-logs",
    )

    # every job went through sbatch: one job-completion record per submission, all COMPLETED, and the
    # plugin's per-job logs (named by SLURM job id) name the rule each one ran
    jobs = slurm_local.completed_jobs(cluster)
    assert jobs and {j["JobState"] for j in jobs} == {"COMPLETED"}, jobs
    logs = {
        p.stem: p.parent.relative_to(on_slurm / ".snakemake" / "slurm_logs").parts[0]
        for p in (on_slurm / ".snakemake" / "slurm_logs").rglob("*.log")
    }
    assert sorted(logs) == sorted(j["JobId"] for j in jobs if Path(j["WorkDir"]) == on_slurm)
    kinds = sorted(logs.values())
    # 4 training jobs (2 pairs x 2 seeds), one each; the tiny steps grouped: datasets, analyses, summary
    assert kinds.count("rule_complexity_train") == 4, kinds
    assert {"group_complexity_datasets_complexity_dataset", "group_complexity_analyses_complexity_analyze"} <= set(
        kinds
    )
    assert any(k.startswith("group_complexity_summary") for k in kinds), kinds
    assert len(kinds) == 7, kinds
    assert "has been submitted with SLURM jobid" in proc.stdout + proc.stderr

    # same data as the local run, table by table (provenance metadata aside)
    local_tables, slurm_tables = _tables(local), _tables(on_slurm)
    assert sorted(local_tables) == sorted(slurm_tables) and len(local_tables) >= 10
    for name, table in local_tables.items():
        assert slurm_tables[name].equals(table), name
    assert (local / "results/complexity/claims.md").read_text() == (
        on_slurm / "results/complexity/claims.md"
    ).read_text()
    for figure in ("variance_curves", "accuracy_curves", "final_variance"):
        assert (on_slurm / f"figures/complexity/{figure}.pdf").stat().st_size > 0


def _train_resources(stdout: str) -> list[str]:
    blocks = stdout.split("rule complexity_train:")[1:]
    return [next(line for line in b.splitlines() if "resources:" in line) for b in blocks]


@pytest.mark.parametrize("device, gpus", [("cuda", True), ("cpu", False)])
def test_training_jobs_request_a_gpu_only_for_cuda(tmp_path, device, gpus):
    """No GPU needed: a dry run with the slurm profile shows what the training jobs would ask sbatch for."""
    proc = snakemake(
        tmp_path,
        "--config",
        "studies=[complexity]",
        f"device={device}",
        "--profile",
        str(REPO / "profiles" / "slurm"),
        "-n",
        "figures/all",
    )
    train = _train_resources(proc.stdout)
    assert len(train) == 4
    for line in train:
        assert ("gpu=1" in line) is gpus, line
        assert "mem_mb=2000" in line and "runtime=20" in line and "cpus_per_task=1" in line, line
    other = [line for line in proc.stdout.splitlines() if "resources:" in line and line not in train]
    assert other and not any("gpu=" in line for line in other)
