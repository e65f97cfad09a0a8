"""Reliability of the real workflow on a lean tiny config (all five studies, no figures):

- bit for bit: ``--cores 1`` and ``--cores 2`` runs in two directories give identical data in every
  parquet table and every npz array, and identical provenance records (but for the code's commit/dirty
  flag, which only differs if the clone is committed to while the suite runs); the ``--cores 2`` reference
  is the session's shared tiny tree (built on 2 cores) plus complexity's lean runs, built on 2 cores here;
  (the ``--cores 1`` run goes on in the background while the module's other runs use the second core);
- under load: ``--cores 8`` on the 2-core machine gives the same results (the same run is also the
  interruption test below, to keep the suite short);
- provenance: every parquet output carries config sub-tree, its hash, version, commit/dirty flag and the
  library versions; ``figures/all`` lists commit, version and config hash;
- interruption: SIGKILL of the whole process group while training jobs run, then the documented command
  again (the default profile has ``rerun-incomplete``), completes with identical results; no truncated
  file is taken as complete, and a killed training job resumes from its checkpoint.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from featurelab.io import NPZ_PROVENANCE, read_provenance
from featurelab.provenance import TRACKED_LIBRARIES
from tests.helpers import REPO, STUDIES, finish, snakemake, start_snakemake, tiny, write_yaml

pytestmark = pytest.mark.e2e

#: The studies of the session's shared tiny tree this module copies.
TINY_STUDIES = STUDIES

#: Every table of every study without drawing figures (figures are checked by the studies' e2e tests).
TARGETS = [f"results/{s}/claims.parquet" for s in STUDIES] + ["results/learnability/summary.parquet"]


def lean_config() -> dict:
    """tests/configs/tiny.yaml with complexity on one pair, trained a little longer (40 epochs of 16 steps,
    a checkpoint every 20 steps) so that a kill can land in the middle of a training job. The other
    studies keep the tiny config's sections, so that the session's shared tiny tree is their reference."""
    config = tiny()
    config["checkpoint"] = {"every_steps": 20}
    config["complexity"]["training"].update({"batch_size": 16, "epochs": 40})
    config["complexity"]["feature_pairs"] = [["linear", "xor_xor_xor"]]
    config["complexity"]["claims"] = {"reference_pair": ["linear", "xor_xor_xor"]}
    return config


# ------------------------------------------------------------------------------------- fingerprints


def table_fingerprint(path: Path) -> tuple[str, dict]:
    """(sha256 of the table's data: column names, types and every value, exactly; its provenance record).

    Values are hashed through their Python repr, which is exact for floats (shortest round-trip form) and
    tells -0.0 from 0.0; the metadata is returned separately (it has no timestamps to ignore).
    """
    table = pq.read_table(path)
    digest = hashlib.sha256(str(table.schema.remove_metadata()).encode())
    for name, column in zip(table.column_names, table.columns):
        digest.update(name.encode() + repr(column.to_pylist()).encode())
    return digest.hexdigest(), without_code_state(read_provenance(path))


def without_code_state(record: dict) -> dict:
    """The provenance record minus the commit/dirty flag of the code: both runs use the same code, but a
    commit made while the suite runs (on a developer's clone) would otherwise look like a difference."""
    return {k: v for k, v in record.items() if k not in ("git_commit", "git_dirty")}


def array_fingerprint(path: Path) -> dict[str, object]:
    with np.load(path, allow_pickle=False) as data:
        out: dict[str, object] = {
            k: hashlib.sha256(f"{data[k].dtype}{data[k].shape}".encode() + data[k].tobytes()).hexdigest()
            for k in data.files
            if k != NPZ_PROVENANCE
        }
    out[NPZ_PROVENANCE] = without_code_state(read_provenance(path))
    return out


def fingerprints(workdir: Path) -> dict[str, object]:
    """Every parquet table's data hash + provenance, every npz array's hash, keyed by relative path."""
    out: dict[str, object] = {}
    for path in sorted((workdir / "results").rglob("*")):
        rel = path.relative_to(workdir).as_posix()
        if path.suffix == ".parquet":
            out[rel] = table_fingerprint(path)
        elif path.suffix == ".npz":
            out[rel] = array_fingerprint(path)
    return out


def assert_identical(a: dict, b: dict, only: str = "") -> None:
    a = {k: v for k, v in a.items() if k.startswith(only)}
    b = {k: v for k, v in b.items() if k.startswith(only)}
    assert sorted(a) == sorted(b)
    differing = [k for k in a if a[k] != b[k]]
    assert not differing, f"outputs differ between runs: {differing}"


# ------------------------------------------------------------------------------------- runs


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    return write_yaml(tmp_path_factory.mktemp("config") / "lean.yaml", lean_config())


@pytest.fixture(scope="module")
def run_cores2(tiny_trees, tmp_path_factory, config_file) -> Path:
    """The uninterrupted ``--cores 2`` run of TARGETS on the lean config: a copy of the session's tiny tree
    (every study built on 2 cores; the lean config changes only complexity, whose tiny outputs are
    removed), completed on 2 cores here (complexity's lean runs; nothing else is out of date)."""
    work, _, _ = tiny_trees.workdir(tmp_path_factory.mktemp("cores2") / "work", STUDIES, figures_all=False)
    shutil.rmtree(work / "results" / "complexity")
    snakemake(work, *TARGETS, configfile=config_file)
    return work


#: The studies compared across --cores 1 and --cores 2: the two with the heaviest torch work (every study
#: is compared across --cores 2 and --cores 8 by the SIGKILL test; this keeps the suite short).
CORES1_STUDIES = ["complexity", "dissociation"]


@pytest.fixture(scope="module")
def cores1_run(tmp_path_factory, config_file):
    """The ``--cores 1`` run of CORES1_STUDIES' claims on the lean config, started in the background by the
    module's first test: a one-core run leaves the second core of a 2-core machine free, and the module's
    other runs use it meanwhile. Yields (its workdir, the process); the last test collects it."""
    work = tmp_path_factory.mktemp("cores1") / "work"
    proc = start_snakemake(
        work, *[f"results/{s}/claims.parquet" for s in CORES1_STUDIES], "--cores", "1", configfile=config_file
    )
    yield work, proc
    proc.stop()  # when the module stopped before the last test collected it


@pytest.mark.usefixtures("cores1_run")
def test_every_parquet_output_carries_provenance(run_cores2):
    tables = sorted((run_cores2 / "results").rglob("*.parquet"))
    assert {p.relative_to(run_cores2).parts[1] for p in tables} == set(STUDIES)
    for path in tables:
        record = read_provenance(path)
        assert record, f"{path} has no provenance record"
        assert record["featurelab_version"], path
        assert len(record["git_commit"]) == 40 or record["git_commit"] == "unknown", path
        assert record["git_dirty"] in ("clean", "dirty", "unknown"), path
        assert record["config"], f"{path}: empty config sub-tree"
        assert len(record["config_hash"]) == 16, path
        assert set(record["libraries"]) == set(TRACKED_LIBRARIES), path
        assert all(record["libraries"].values()), path
    for path in (run_cores2 / "results").rglob("*.npz"):  # arrays carry the same record
        assert read_provenance(path).get("git_commit"), f"{path} has no provenance record"


def test_figure_manifest_lists_commit_version_and_config_hash(tiny_trees, tmp_path):
    """figures/all of a (complexity-only) tiny run: one row per figure with commit, dirty flag, version,
    hash."""
    work, _, _ = tiny_trees.workdir(tmp_path / "work", ["complexity"])
    lines = (work / "figures" / "all").read_text().splitlines()
    header = lines[0].split("\t")
    assert {"git_commit", "git_dirty", "featurelab_version", "config_hash", "sha256", "source"} <= set(header)
    rows = [dict(zip(header, line.split("\t"))) for line in lines[1:]]
    assert len(rows) == 8  # three figures and the claims figure, PDF + PNG each
    source = read_provenance(work / rows[0]["source"])
    for row in rows:
        assert row["git_commit"] == source["git_commit"] and row["featurelab_version"] == source["featurelab_version"]
        assert row["git_dirty"] == source["git_dirty"] and len(row["config_hash"]) == 16


# ------------------------------------------------------------------------------------- interruption


def checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoint files (not a writer's temporary file, which starts with a dot)."""
    return [p for p in folder.rglob("*.ckpt") if not p.name.startswith(".")]


@pytest.mark.usefixtures("cores1_run")
def test_sigkill_mid_training_with_8_cores_then_rerun_gives_identical_results(tmp_path, run_cores2, config_file):
    """Under load and interrupted: ``--cores 8`` on the 2-core machine (more jobs at once than cores),
    SIGKILLed (the whole process group: Snakemake and every job) while a training job is running, then
    rerun with the documented recovery; every table and array equals the uninterrupted ``--cores 2`` run."""
    work = tmp_path / "cores8"
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(work),
        "--configfile",
        str(config_file),
        "--cores",
        "8",
        *TARGETS,
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True
    )  # its own process group: kill it and every job at once
    results = work / "results" / "complexity"
    deadline = time.monotonic() + 300
    try:
        while not checkpoints(results):  # a training job is running and has written a checkpoint
            assert proc.poll() is None, "the workflow finished before it could be interrupted"
            assert time.monotonic() < deadline, "no training job started"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert checkpoints(results), "the kill did not land in the middle of a training job"
    # Snakemake's incomplete-file markers name the jobs that were running: they will be redone.
    assert list((work / ".snakemake" / "incomplete").rglob("*")), "no incomplete marker left by the kill"

    # Snakemake cannot tell a killed run's lock from a live one's, so a plain rerun is refused (never runs
    # on top of another instance) ...
    refused = snakemake(work, *TARGETS, "--cores", "8", configfile=config_file, check=False)
    assert refused.returncode != 0 and "Directory cannot be locked" in refused.stderr, refused.stderr[-2000:]
    # ... and the documented recovery is `snakemake --unlock`, then the same command (profiles/default
    # has rerun-incomplete and keep-going).
    snakemake(work, "--unlock", configfile=config_file)
    snakemake(work, *TARGETS, "--cores", "8", configfile=config_file)

    logs = "".join(p.read_text() for p in (work / "results" / "logs" / "complexity").rglob("*.log"))
    assert "resuming from checkpoint" in logs, "a killed training job started over instead of resuming"
    assert not list(work.rglob("*.ckpt")), "checkpoints are removed once their job finishes"
    stray = [p for p in (work / "results").rglob(".*") if p.is_file()]
    assert not stray, f"temporary files of killed writers were left among the results: {stray}"
    assert_identical(fingerprints(run_cores2), fingerprints(work))


def test_reruns_are_bit_for_bit_identical_across_cores(run_cores2, cores1_run):
    """--cores 1 against --cores 2 for CORES1_STUDIES (and the MNIST arrays they read)."""
    work, proc = cores1_run
    finish(proc)
    reference = fingerprints(run_cores2)
    assert sum(k.endswith(".parquet") for k in reference) >= 40 and sum(k.endswith(".npz") for k in reference) >= 8
    rerun = fingerprints(work)
    for prefix in [f"results/{s}/" for s in [*CORES1_STUDIES, "mnist"]]:
        assert_identical(reference, rerun, only=prefix)
