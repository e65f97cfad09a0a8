"""Editing featurelab code reruns exactly the jobs whose code reaches the edit, and what depends on them.

A copy of the workflow's source (Snakefile, workflow/, scripts/, src/, config.yaml, profiles/) runs on a
copy of the session's tiny tree, complete for two studies (complexity and hierarchy: no MNIST); each test
edits one module of the copied source, asks for a dry run, and restores the file. The real repository is
never edited. Every study rule runs one of three generic scripts (scripts/step.py, figure.py, claims.py)
and carries the hash of the code its ``step`` entry reaches, so these edits land in the study packages and
the shared modules those entries use. "What depends on them" is what Snakemake itself schedules for ``--forcerun <rules>``, so the
expected sets are not written out by hand.
"""

from __future__ import annotations

import ast
import contextlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import REPO, finish, scheduled_rules, snakemake, start_snakemake

pytestmark = pytest.mark.e2e

#: The studies of the session's shared tiny tree this module copies.
TINY_STUDIES = ["complexity", "hierarchy"]
SOURCE = ["Snakefile", "config.yaml", "workflow", "scripts", "src", "profiles"]


def copy_source(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in SOURCE:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dest / name)
    return dest


@dataclass(frozen=True)
class Built:
    clone: Path  # the copy of the source that tests edit
    pristine: Path  # a second copy, never edited: what --forcerun is asked of, beside the edited run
    workdir: Path  # a complete tiny run of figures/all for TINY_STUDIES
    configfile: Path


@pytest.fixture(scope="module")
def built(tiny_trees, tmp_path_factory) -> Built:
    root = tmp_path_factory.mktemp("code_rerun")
    workdir, configfile, _ = tiny_trees.workdir(root / "work", TINY_STUDIES)
    return Built(copy_source(root / "clone"), copy_source(root / "pristine"), workdir, configfile)


def run(built: Built, *args: str) -> subprocess.CompletedProcess:
    """The edited copy's workflow (its Snakefile puts the copy's src/ first on sys.path) in the workdir."""
    return snakemake(built.workdir, *args, configfile=built.configfile, snakefile=built.clone / "Snakefile")


def dry_run(built: Built, *args: str) -> dict[str, int]:
    return scheduled_rules(run(built, "figures/all", "-n", *args).stdout)


@contextlib.contextmanager
def edited(built, module: str, edit):
    """``edit(text) -> text`` applied to src/featurelab/<module> of the copy, restored afterwards."""
    path = built.clone / "src" / "featurelab" / module
    original = path.read_bytes()
    path.write_text(edit(original.decode()))
    try:
        yield
    finally:
        path.write_bytes(original)


def append(line: str):
    return lambda text: text.rstrip("\n") + f"\n\n{line}\n"


def in_function(name: str, statement: str):
    """Insert ``statement`` as the first statement (after the docstring) of top-level function ``name``."""

    def edit(text: str) -> str:
        node = next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == name)
        first = node.body[1] if ast.get_docstring(node) is not None and len(node.body) > 1 else node.body[0]
        lines = text.splitlines(keepends=True)
        lines.insert(first.lineno - 1, " " * first.col_offset + statement + "\n")
        return "".join(lines)

    return edit


def rerun_after(built: Built, module: str, edit, *rules: str) -> tuple[dict[str, int], dict[str, int]]:
    """(What a dry run schedules with ``edit`` applied to ``module``; what Snakemake schedules when
    ``rules`` must rerun, i.e. their jobs and everything downstream, on the unedited source), the two dry
    runs side by side."""
    force = start_snakemake(
        built.workdir,
        "figures/all",
        "-n",
        "--forcerun",
        *rules,
        configfile=built.configfile,
        snakefile=built.pristine / "Snakefile",
    )
    try:
        with edited(built, module, edit):
            jobs = dry_run(built)
    finally:
        forced = scheduled_rules(finish(force).stdout)
    return jobs, forced


def test_nothing_to_do_after_the_build(built):
    assert dry_run(built) == {}


def test_editing_a_claims_function_reruns_only_the_claims_and_what_follows(built):
    """An edit inside complexity's ``evaluate_claims`` (reached by the claims rule's entry,
    ``complexity.claims:evaluate``) reruns only the claims job, and the manifests after it."""
    jobs, forced = rerun_after(
        built, "studies/complexity/claims.py", in_function("evaluate_claims", "_edited = None"), "complexity_claims"
    )
    assert jobs == forced == {"complexity_claims": 1, "claims_figure": 1, "complexity_all": 1, "figures_all": 1}


def test_editing_one_step_of_a_module_reruns_only_that_steps_jobs(built):
    """hierarchy/analysis.py holds two steps (the sweep's aggregation and the TMS sweep's): an edit inside
    ``tms_geometry``, which only the TMS step reaches, reruns that step and what follows it, not the other."""
    jobs, forced = rerun_after(
        built, "studies/hierarchy/analysis.py", in_function("tms_geometry", "_edited = None"), "hierarchy_aggregate_tms"
    )
    assert jobs == forced
    assert "hierarchy_aggregate" not in jobs and jobs["hierarchy_aggregate_tms"] == 1


def test_editing_a_modules_top_level_reruns_every_job_that_imports_it(built):
    """complexity/analysis.py's top level runs in every job that imports the module: its own step (the
    aggregation), and the claims and figures, which use ``final_values`` from it; not training, not the
    other study."""
    jobs, forced = rerun_after(
        built,
        "studies/complexity/analysis.py",
        append("_EDITED = True"),
        "complexity_aggregate",
        "complexity_claims",
        "complexity_figure",
    )
    assert jobs == forced
    assert "complexity_train" not in jobs and not any(rule.startswith("hierarchy") for rule in jobs)


def test_editing_the_shared_claims_job_reruns_every_studys_claims_only(built):
    """``featurelab.claims_report.claims_job`` runs every claims rule (through scripts/claims.py): an edit
    inside it reruns each study's claims job, their claims figures and the manifests, nothing upstream."""
    jobs, forced = rerun_after(
        built, "claims_report.py", in_function("claims_job", "_edited = None"), "complexity_claims", "hierarchy_claims"
    )
    assert jobs == forced
    assert jobs["complexity_claims"] == jobs["hierarchy_claims"] == 1 and jobs["claims_figure"] == 2
    assert set(jobs) == {
        "complexity_claims",
        "hierarchy_claims",
        "claims_figure",
        "complexity_all",
        "hierarchy_all",
        "figures_all",
    }


def test_editing_training_reruns_every_training_job_and_their_descendants(built):
    training = ["complexity_train", "hierarchy_train", "hierarchy_train_tms"]
    jobs, forced = rerun_after(built, "training.py", append("_EDITED = True"), *training)
    assert jobs == forced
    assert all(jobs.get(rule) for rule in training)
    assert "complexity_dataset" not in jobs  # made by the same study module, but not by its training code


def test_editing_the_plotting_module_reruns_only_figures_and_manifests(built):
    with edited(built, "plotting.py", append("_EDITED = True")):
        summary = run(built, "--summary").stdout
    jobs, forced = rerun_after(
        built, "plotting.py", append("_EDITED = True"), "complexity_figure", "hierarchy_figure", "claims_figure"
    )
    assert jobs == forced
    assert set(jobs) <= {
        "complexity_figure",
        "hierarchy_figure",
        "claims_figure",
        "complexity_all",
        "hierarchy_all",
        "figures_all",
    }
    # what the README gives to see why: --summary marks exactly the figure files "params changed"
    rows = [line.split("\t") for line in summary.splitlines() if line.count("\t") >= 5]
    assert rows[0][:6] == ["output_file", "date", "rule", "log-file(s)", "status", "plan"]
    changed = {row[0] for row in rows[1:] if row[4] == "params changed"}
    assert changed and all(path.startswith("figures/") and path.endswith((".pdf", ".png")) for path in changed)


def test_comment_docstring_and_blank_line_edits_rerun_nothing(built):
    def cosmetic(text: str) -> str:
        tree = ast.parse(text)
        doc = ast.get_docstring(tree, clean=False)
        assert doc and f'"""{doc}"""' in text
        text = text.replace(f'"""{doc}"""', f'"""{doc}\n\nA longer module docstring."""', 1)
        return "# a new comment\n" + text.replace("\n\n\n", "\n\n\n\n", 1) + "\n# trailing comment\n"

    with (
        edited(built, "training.py", cosmetic),
        edited(built, "studies/complexity/claims.py", cosmetic),
        edited(built, "plotting.py", cosmetic),
    ):
        assert dry_run(built) == {}
