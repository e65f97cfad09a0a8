"""featurelab imported as a Snakemake module by another workflow (``module`` / ``use rule * from``).

The end-to-end test builds ``figures/complexity/all`` through a tiny outer workflow in a temporary folder
(tests/outer_workflow.py): with the caller's working directory elsewhere, every rule renamed, and the
caller's config holding only what it changes, the tables equal those of the session's tiny tree, built by
this repository's own Snakefile. The unit tests pin the two pieces that make that work: the caller's
config merged over the embedded default as a ``--configfile`` is, and the study of a renamed rule.
"""

from __future__ import annotations

import copy
import subprocess
from types import SimpleNamespace

import pytest

from featurelab.config import merged_over, with_embedded_default
from featurelab.devices import job_study, torch_threads
from featurelab.io import read_provenance
from tests.helpers import REPO, default_config, merged_config, tiny
from tests.outer_workflow import TABLES, featurelab_config, outer_run, table_data

#: The studies of the session's shared tiny tree the end-to-end test compares with.
TINY_STUDIES = ["complexity"]
DEFAULT = REPO / "config.yaml"


def test_a_callers_config_is_merged_over_the_default_as_snakemake_merges_a_configfile():
    """``with_embedded_default`` gives what Snakemake gives ``--configfile tiny.yaml`` (its update_config),
    and changes neither the caller's dict nor the default."""
    caller = featurelab_config()
    before = copy.deepcopy(caller)
    merged = with_embedded_default(caller, DEFAULT, loaded_configfiles=["elsewhere/config.yaml"])
    assert merged == merged_config(default_config(), caller)
    assert caller == before and merged is not caller
    assert merged["studies"] == ["complexity"]  # a list replaces the default's, as in Snakemake
    assert merged["complexity"]["claims"] == default_config()["complexity"]["claims"]  # tiny.yaml has none
    assert merged["complexity"]["model"]["hidden_widths"] == tiny()["complexity"]["model"]["hidden_widths"]


def test_a_config_snakemake_loaded_over_the_default_is_kept_as_it_is():
    """In a run of this workflow (or a module imported without ``config:``) Snakemake loaded the default
    itself and merged --configfile/--config over it: nothing is merged again, the dict is the same object
    (``--replace-workflow-config`` keeps its meaning)."""
    config = {"studies": ["complexity"]}
    assert with_embedded_default(config, DEFAULT, loaded_configfiles=[str(DEFAULT)]) is config


def test_merged_over_merges_mappings_and_replaces_everything_else():
    default = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    assert merged_over(default, {"a": {"c": [3]}, "e": {"f": 2}}) == {"a": {"b": 1, "c": [3]}, "d": 1, "e": {"f": 2}}
    assert merged_over(default, {"a": 5}) == {"a": 5, "d": 1}
    assert default == {"a": {"b": 1, "c": [1, 2]}, "d": 1}


def test_a_renamed_rule_keeps_its_studys_thread_count():
    """``use rule * ... as featurelab_*`` renames complexity_train to featurelab_complexity_train: its
    torch thread count still comes from ``complexity.resources.threads`` (the study is read off the rule's
    ``step`` entry, not its name)."""
    params = SimpleNamespace(step={"entry": "complexity.train:train_job", "code": "0" * 16})
    config = {"complexity": {"resources": {"threads": 3}}}
    job = SimpleNamespace(rule="featurelab_complexity_train", threads=1, params=params, config=config)
    assert job_study(job) == "complexity"
    assert torch_threads(job) == 3


@pytest.mark.e2e
def test_an_outer_workflow_builds_a_study_through_the_module(tiny_trees, tmp_path_factory):
    run = outer_run(tiny_trees, tmp_path_factory)
    out = run.workdir
    # the rules ran under the caller's names, in the caller's working directory
    assert "rule featurelab_complexity_train:" in run.log
    assert "rule outer_all:" in run.log
    for name in ("variance_curves", "accuracy_curves", "final_variance", "claims"):
        for ext in ("pdf", "png"):
            assert (out / "figures" / "complexity" / f"{name}.{ext}").stat().st_size > 0
    # the same numbers as this repository's own Snakefile on the same config
    for table in TABLES:
        assert table_data(out / table) == table_data(run.reference / table), table
    for metrics in sorted(run.reference.glob("results/complexity/*/seed*/metrics.parquet")):
        rel = metrics.relative_to(run.reference)
        assert table_data(out / rel) == table_data(metrics), rel
    # the manifest names tables relative to the caller's working directory, and they exist there
    rows = [line.split("\t") for line in (out / "figures" / "complexity" / "all").read_text().splitlines()]
    source = rows[0].index("source")
    assert len(rows) == 1 + 8 and all((out / row[source]).is_file() for row in rows[1:])
    # the workflow's own caches live under the caller's .snakemake/
    assert (out / ".snakemake" / "featurelab" / "code_closure.json").is_file()
    # the jobs imported featurelab from this repository's src/ (the run had no PYTHONPATH): their
    # provenance names this repository's commit, not that of another installed copy
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:
        metrics = next((out / "results" / "complexity").glob("*/seed0/metrics.parquet"))
        assert read_provenance(metrics)["git_commit"] == head.stdout.strip()
