"""The SLURM path, for real: a single-node SLURM on localhost (tests/slurm_local.py), the tiny complexity
config submitted with `--profile profiles/slurm`, every job proven to have gone through sbatch (the
job-completion log), the training jobs as one job array, and the data equal to a local run's; a training
array task preempted with SIGTERM resumes in the plugin's retry, bit-identical. Plus the GPU request,
checked by a dry run, and the profile's list of array rules, checked against the rule files.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from tests import preemption, slurm_local
from tests.helpers import REPO, finish, snakemake, start_snakemake, write_yaml

COMPLEXITY_ONLY = ("--config", "studies=[complexity]")
PROFILE = REPO / "profiles" / "slurm"
#: Status checks with squeue (the test cluster keeps no accounting database for sacct), early and often.
STATUS_CHECKS = (
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--seconds-between-status-checks",
    "2",
    "--slurm-keep-successful-logs",
)

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


def _jobs_in(cluster: Path, workdir: Path) -> list[dict]:
    """The job-completion records of the jobs that ran in ``workdir``."""
    return [j for j in slurm_local.completed_jobs(cluster) if Path(j["WorkDir"]) == workdir]


def _slurm_id(job: dict) -> str:
    """The id the plugin names a job's log by: ``<array job id>_<task id>`` for an array task."""
    return f"{job['ArrayJobId']}_{job['ArrayTaskId']}" if "ArrayJobId" in job else job["JobId"]


def _slurm_logs(workdir: Path) -> dict[str, str]:
    """SLURM id -> the plugin's log folder (rule_<rule> or group_<group>) of every job's log."""
    root = workdir / ".snakemake" / "slurm_logs"
    return {p.stem: p.relative_to(root).parts[0] for p in root.rglob("*.log")}


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
    proc = snakemake(on_slurm, "figures/all", *COMPLEXITY_ONLY, "--profile", str(PROFILE), *STATUS_CHECKS)

    # every job went through sbatch: one job-completion record per job (an array task is a job), all
    # COMPLETED, and the plugin's per-job logs (named by SLURM id) name the rule each one ran
    jobs = _jobs_in(cluster, on_slurm)
    assert jobs and {j["JobState"] for j in jobs} == {"COMPLETED"}, jobs
    logs = _slurm_logs(on_slurm)
    assert sorted(logs) == sorted(_slurm_id(j) for j in jobs)
    kinds = sorted(logs.values())
    # 2 training jobs (one per seed, each holding both pairs); the tiny steps grouped: datasets, summary
    assert kinds.count("rule_complexity_train") == 2, kinds
    assert "group_complexity_datasets_complexity_dataset" in kinds, kinds
    assert any(k.startswith("group_complexity_summary") for k in kinds), kinds
    assert len(kinds) == 4, kinds
    # the training jobs went out as one job array of 2 tasks (one sbatch), everything else as plain jobs
    train = [j for j in jobs if logs[_slurm_id(j)] == "rule_complexity_train"]
    assert len({j.get("ArrayJobId") for j in train}) == 1 and None not in {j.get("ArrayJobId") for j in train}
    assert sorted(j["ArrayTaskId"] for j in train) == ["1", "2"], train
    assert not any("ArrayJobId" in j for j in jobs if j not in train), jobs
    out = proc.stdout + proc.stderr
    assert out.count("Submitted array job with Snakemake IDs") == 1
    assert f"SLURM job ID {train[0]['ArrayJobId']}. The individual task IDs are 1-2" in out

    # same data as the local run, table by table (provenance metadata aside)
    local_tables, slurm_tables = _tables(local), _tables(on_slurm)
    # 4 runs' metrics, the runs table, the summary and the claims
    assert sorted(local_tables) == sorted(slurm_tables) and len(local_tables) >= 7
    for name, table in local_tables.items():
        assert slurm_tables[name].equals(table), name
    assert (local / "results/complexity/claims.md").read_text() == (
        on_slurm / "results/complexity/claims.md"
    ).read_text()
    for figure in ("variance_curves", "accuracy_curves", "final_variance"):
        assert (on_slurm / f"figures/complexity/{figure}.pdf").stat().st_size > 0


@pytest.mark.slurm
@pytest.mark.e2e
@pytest.mark.skipif(
    os.environ.get("FEATURELAB_LONG_TESTS") != "1",
    reason="about 75 s more under SLURM, past the suite's 15-minute budget on 2 cores: set FEATURELAB_LONG_TESTS=1 "
    "(the same preemption is tested locally in tests/test_checkpoint.py)",
)
def test_preempted_training_array_task_resumes_in_the_retry(cluster, tiny_trees, tmp_path):
    """Two training jobs (one pair x 2 seeds, long enough to interrupt) go out as one array. Once the
    array's first task has a checkpoint, every process of that task gets SIGTERM, as a cluster sends it
    at preemption or at the time limit (`scancel --full`; the first task runs its job in the batch step
    itself, tasks 2.. under srun). The task saves the step in progress and fails, the plugin's retry
    (profile `retries`) resumes from that step, and both models equal an uninterrupted local run's
    (beside it, on the other core).

    The other task waits, after its own job, for the first task's outputs (plugin issue #447: every task's
    outer Snakemake checks the first job's outputs, for up to `latency-wait`): it completes once the
    retry has written them, or fails and is retried itself when that takes longer (a loaded machine)."""
    config = write_yaml(tmp_path / "preempt.yaml", preemption.preempt_config())
    targets = preemption.train_targets([0, 1])
    reference, _, _ = tiny_trees.workdir(tmp_path / "local", ["complexity"], figures_all=False)
    work, _, _ = tiny_trees.workdir(tmp_path / "slurm", ["complexity"], figures_all=False)
    local = start_snakemake(reference, *targets, "--cores", "1", configfile=config)
    run = start_snakemake(work, *targets, "--profile", str(PROFILE), *STATUS_CHECKS, configfile=config)
    envs: dict[int, dict[str, str]] = {}

    def first_task_has_a_checkpoint() -> bool:
        for seed in (0, 1):
            if seed not in envs and preemption.checkpoint_file(work, seed).exists():
                envs[seed] = preemption.training_process(work, seed)[1]
        return any(env["SLURM_ARRAY_TASK_ID"] == "1" for env in envs.values())

    try:
        preemption.wait_until(first_task_has_a_checkpoint, 300, "checkpoint of the first array task", run.running)
        seed = next(s for s, env in envs.items() if env["SLURM_ARRAY_TASK_ID"] == "1")
        task = f"{envs[seed]['SLURM_ARRAY_JOB_ID']}_1"
        subprocess.run(["scancel", "--full", "--signal=TERM", task], check=True, timeout=30)
        done = finish(run)
    finally:
        run.stop()
        finish(local)

    jobs = {_slurm_id(j): j for j in _jobs_in(cluster, work)}
    logs = _slurm_logs(work)
    assert set(logs) == set(jobs) and set(logs.values()) == {"rule_complexity_train"}, logs
    # one array of two; its first task FAILED (stopped after its checkpoint); every retry a plain job
    array = {k: j for k, j in jobs.items() if "ArrayJobId" in j}
    assert sorted(j["ArrayTaskId"] for j in array.values()) == ["1", "2"] and jobs[task]["JobState"] == "FAILED"
    retries = [j for j in jobs.values() if "ArrayJobId" not in j]
    assert 1 <= len(retries) <= 2 and {j["JobState"] for j in retries} == {"COMPLETED"}, jobs
    first = (work / ".snakemake" / "slurm_logs" / "rule_complexity_train" / f"{task}.log").read_text()
    stopped = re.search(r"preempted at step (\d+); checkpoint written to (\S+) ", first)
    assert stopped and "(exit status 75)" in first, first[-3000:]
    step = int(stopped.group(1))
    assert preemption.EVERY_STEPS <= step < preemption.N_STEPS
    assert stopped.group(2) == f"{preemption.run_dir(seed)}/metrics.parquet.ckpt"
    assert "Trying to restart job" in done.stdout + done.stderr
    log = preemption.train_log(work, seed).read_text()  # the retry's log
    assert f"resuming from checkpoint {stopped.group(2)} at step {step} of {preemption.N_STEPS}" in log
    assert not list(work.rglob("*.ckpt"))
    preemption.assert_same_training_outputs(reference, work, [0, 1])


def test_profile_submits_every_per_seed_torch_rule_as_an_array():
    """`slurm-array-jobs` in profiles/slurm names exactly the ungrouped rules that ask for training
    resources (training, and dissociation's per-seed evaluation and transfer); a grouped rule there would
    only be submitted singly, with a warning."""
    listed = yaml.safe_load((PROFILE / "config.yaml").read_text())["slurm-array-jobs"].split(",")
    torch_rules, grouped = set(), set()
    for rules in (REPO / "workflow" / "rules").glob("*.smk"):
        for name, body in re.findall(r"^rule (\w+):\n(.*?)(?=^\S|\Z)", rules.read_text(), re.M | re.S):
            if "training_resources(" in body:
                torch_rules.add(name)
            if re.search(r"^    group:", body, re.M):
                grouped.add(name)
    assert len(torch_rules) >= 8 and not torch_rules & grouped
    assert sorted(listed) == sorted(torch_rules)


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
        str(PROFILE),
        "-n",
        "figures/all",
    )
    train = _train_resources(proc.stdout)
    assert len(train) == 2  # one per seed of the tiny config
    for line in train:
        assert ("gpu=1" in line) is gpus, line
        assert "mem_mb=2000" in line and "runtime=20" in line and "cpus_per_task=1" in line, line
    other = [line for line in proc.stdout.splitlines() if "resources:" in line and line not in train]
    assert other and not any("gpu=" in line for line in other)
