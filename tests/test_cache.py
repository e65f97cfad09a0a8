"""Snakemake's between-workflow output cache (``--cache`` with ``SNAKEMAKE_OUTPUT_CACHE``) shares trained
models between clones and configs, and only where the models would be the same.

The outer workflow of tests/outer_workflow.py (this repository imported as a module, rules renamed) fills
a cache folder on the tiny config (complexity: 2 pairs x 2 seeds). A second clone (a copy of the workflow's
source, as tests/test_code_rerun_e2e.py makes) in a fresh working directory with the same cache folder
then trains nothing: every dataset and model comes from the cache, and its tables equal the first run's.
Dry runs with ``--cache`` (Snakemake says per job whether its output "will be obtained from" or "written
to" the cache) check the key: a config that changes only the analysis, or adds a seed, reuses every model
it can; a change of the training config or of the training code reuses none.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from featurelab.jobenv import output_cache_on
from tests.helpers import REPO, Run, finish, write_yaml
from tests.outer_workflow import TABLES, cache_plan, featurelab_config, job_env, outer_run, table_data
from tests.test_code_rerun_e2e import append, copy_source

#: The studies of the session's shared tiny tree (the outer run compares with it).
TINY_STUDIES = ["complexity"]
RUNS = [f"linear-vs-{hard}/seed{seed}" for hard in ("xor_xor_xor", "and_and_and") for seed in (0, 1)]
MODELS = {f"results/complexity/{run}/model.pt" for run in RUNS}
DATASETS = {f"results/complexity/{run}/dataset.npz" for run in RUNS}
#: A dry run names a cached job by its first output; a job holds every pair of its seed, the first pair's
#: files name it.
JOB_MODELS = {path for path in MODELS if "xor_xor_xor" in path}
JOB_DATASETS = {path for path in DATASETS if "xor_xor_xor" in path}


def start_in(clone: Path, workdir: Path, cache: Path, config: dict, *args: str) -> Run:
    """Start the clone's workflow in ``workdir`` on ``config`` (merged over the default as a --configfile)
    with the cache folder ``cache`` and ``--cache`` on, without waiting."""
    configfile = write_yaml(workdir.parent / f"{workdir.name}.yaml", config)
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(clone / "Snakefile"), "-d", str(workdir)]
    return Run([*cmd, "--cores", "2", *args, "--cache", f"--configfile={configfile}"], job_env(cache))


def log_of(run: Run) -> str:
    done = finish(run)
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def second_clone(tiny_trees, tmp_path_factory):
    """(the outer run, the second clone, its working directory, that run's output)."""
    first = outer_run(tiny_trees, tmp_path_factory)
    root = tmp_path_factory.mktemp("cache")
    clone, workdir = copy_source(root / "clone"), root / "work"
    log = log_of(start_in(clone, workdir, first.cache, featurelab_config(), "results/complexity/claims.parquet"))
    return first, clone, workdir, log


@pytest.mark.e2e
def test_a_second_clone_trains_nothing_and_gets_the_same_tables(second_clone):
    first, _, workdir, log = second_clone
    assert "to cache." not in log  # Snakemake's "Moving output file ... to cache.": nothing new was made
    for path in sorted(MODELS | DATASETS):
        assert f"Symlinking output file {path} from cache." in log
        assert (workdir / path).resolve().parent == first.cache.resolve()
    for log_file in (workdir / "results/logs/complexity/train").iterdir():
        assert log_file.stat().st_size == 0, f"{log_file.name}: a training job ran"  # Snakemake only touched it
    for table in TABLES:
        assert table_data(workdir / table) == table_data(first.workdir / table), table


@pytest.mark.e2e
def test_the_cache_key_covers_training_config_and_code_but_not_the_analysis(second_clone, tmp_path):
    """Dry runs in fresh working directories. The key is what trains the model: its config sub-trees
    (model, training, dataset), the code its step reaches, the wildcards (a new seed is a new entry);
    not the claims or figure settings, nor the list of seeds or pairs."""
    first, clone, _, _ = second_clone
    analysis_only = featurelab_config()
    analysis_only["figures"] = {"dpi": 50}
    analysis_only["complexity"]["seeds"] = [0, 1, 2]
    analysis_only["complexity"]["claims"] = {"min_variance_gap": 0.2, "learned_accuracy": 0.9}
    lr = featurelab_config()
    lr["complexity"]["training"]["learning_rate"] = 0.02
    target = "results/complexity/claims.parquet"
    # the two config changes side by side, on this repository's source (the key does not depend on the clone)
    runs = {
        name: start_in(REPO, tmp_path / name, first.cache, config, target, "-n")
        for name, config in (("analysis_only", analysis_only), ("learning_rate", lr))
    }
    plans = {name: cache_plan(log_of(run)) for name, run in runs.items()}
    seed2 = {p.replace("seed1", "seed2") for p in JOB_MODELS | JOB_DATASETS if "seed1" in p}
    jobs = JOB_MODELS | JOB_DATASETS
    assert plans["analysis_only"] == {**dict.fromkeys(jobs, "hit"), **dict.fromkeys(seed2, "miss")}
    assert plans["learning_rate"] == {**dict.fromkeys(JOB_MODELS, "miss"), **dict.fromkeys(JOB_DATASETS, "hit")}
    # an edit of the training code (in the clone: its own src/) misses for every model, not for the datasets
    training = clone / "src" / "featurelab" / "training.py"
    original = training.read_bytes()
    training.write_text(append("_EDITED = True")(original.decode()))
    try:
        edited = log_of(start_in(clone, tmp_path / "code_edit", first.cache, featurelab_config(), target, "-n"))
    finally:
        training.write_bytes(original)
    assert cache_plan(edited) == {**dict.fromkeys(JOB_MODELS, "miss"), **dict.fromkeys(JOB_DATASETS, "hit")}


def test_cache_without_its_folder_stops_with_one_line_saying_what_to_set(tmp_path):
    """Snakemake 9.27.1 only warns when --cache has no $SNAKEMAKE_OUTPUT_CACHE and then fails with a
    traceback at the first cached job; the workflow stops before any job, saying what to set."""
    assert output_cache_on(False, {}) is False  # no --cache: nothing is asked of the environment
    assert output_cache_on(True, {"SNAKEMAKE_OUTPUT_CACHE": str(tmp_path)}) is True
    with pytest.raises(ValueError, match=r"--cache needs \$SNAKEMAKE_OUTPUT_CACHE set"):
        output_cache_on(True, {})
    with pytest.raises(ValueError, match="not a folder: create it first"):
        output_cache_on(True, {"SNAKEMAKE_OUTPUT_CACHE": str(tmp_path / "missing")})
